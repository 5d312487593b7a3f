"""A coarse matte steadied over time: each frame's matte averaged in its band with its
neighbours' mattes, carried there along the plate's optical flow, where the carried plate agrees
with the frame's.

A per-frame key or a roto redrawn in a hurry chatters: its edge is a few pixels inside the object
on one frame and a few outside on the next, where the object's own edge moves smoothly. Those
errors are independent from frame to frame, so carried along the motion and averaged they mostly
cancel, and the network starts from a matte whose edge is nearer the object's. Where the flow is
wrong (occlusion, a fast or thin part), the carried plate does not match the frame's and that
neighbour's vote is dropped.

A wrong flow can also pass the colour check where the plate is smooth, and its votes then cut a
notch into the edge or leave specks of matte beside it, errors farther from the object than the
matte given ever was, which the network was never taught to undo. So the matte may move only near
its own edge (within a quarter of the band), and a pixel of a binary matte changes only where the
average smoothed over about a pixel changes it too: a flip that one pixel's flow error makes alone
is dropped, while a thin part the matte has is kept. Figures: docs/model.md, "The matte steadied
over time".
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from ..color.converted_on_demand import ConvertedOnDemand
from ..lru_cache import LruCache
from ..masks.band import occupied_tiles, overlap_box, tile_reach
from ..optional import server_extra

#: Neighbours each side whose mattes vote (within the frames given).
RADIUS = 4
#: A neighbour's vote falls with its distance in frames as a Gaussian of this sigma.
TIME_SIGMA = 3.0
#: ... and with the colour difference between the carried plate and the frame's (display encoding,
#: 0..1, summed over RGB) as a Gaussian of this sigma: below it the flow is taken as right.
COLOUR_SIGMA = 0.08
#: The matte moves at most this fraction of the band's width from its own 0.5 contour: a matte
#: is a few pixels off, and a vote that moves it farther is a wrong flow's.
REACH = 0.25
#: A binary matte's pixel changes only where the average, smoothed as a Gaussian of this sigma in
#: pixels, changes it too.
FLIP_SIGMA = 1.0
#: Optical flow is computed with the frame's long side at most this many pixels (the mattes are
#: carried and averaged at full resolution): on the held-out real clips at 854x480 the steadied
#: rough mattes scored as with the flow at full size, at half the time.
FLOW_SIDE = 640
#: The smallest side the flow is computed on (DIS's patches need room): a smaller frame's matte is
#: left as given.
MIN_FLOW_SIDE = 16
#: Pixels per row of the sample maps handed to OpenCV (which takes under 32767 a side).
SAMPLE_ROW = 1024


def _cv2():
    return server_extra(
        "cv2", "steadying the matte along the optical flow", "OpenCV", "opencv-python-headless"
    )


def steadied_mattes(
    mattes,
    plates,
    bands,
    band_pixels: Sequence[float],
    radius: int = RADIUS,
    keys: Sequence[Hashable | None] | None = None,
    flows: LruCache | None = None,
) -> list[np.ndarray]:
    """Each frame's matte ``(H, W)`` float32 with its band replaced by the average of its own and
    its neighbours' mattes (up to ``radius`` frames each side) carried along the flow, moving no
    farther from its own 0.5 contour than ``REACH`` times the frame's ``band_pixels`` (the band's
    width); a binary matte stays binary (the average cut at half, where smoothed it agrees).
    Outside the band it is the matte given; a frame without a band keeps its matte and gives no
    votes.

    ``mattes`` ``(T, H, W)`` in 0..1, ``plates`` ``(T, H, W, 3)`` display-encoded (arrays, or
    frames converted on demand), ``bands`` ``(T, H, W)`` bool: consecutive frames (arrays or frame
    stacks).

    ``keys`` name the frames (None where one has no name) and ``flows`` keeps the reduced plates
    and the flows between named frames for the next call: a host scrubbing one frame on shares all
    but one of a window's frames and flows with the window before.
    """
    count = len(mattes)
    mattes = [np.asarray(matte, np.float32) for matte in mattes]
    if count < 2 or radius < 1 or min(_flow_size(*mattes[0].shape)) < MIN_FLOW_SIDE:
        return mattes
    bands = [np.asarray(band) for band in bands]
    # A frame without a band (its matte empty or full: the object gone, or the roto off for a
    # frame) keeps its matte and has no say in its neighbours': a roto that is off is no evidence.
    edged = [bool(band.any()) for band in bands]
    union = np.logical_or.reduce(bands)
    rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
    if not len(rows):
        return mattes
    box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
    flow = _Flow([plates[t] for t in range(count)], box, keys, flows)
    # The box a pixel wider than the smoothing reaches, so the band's pixels see their neighbours.
    margin = int(np.ceil(3 * FLIP_SIGMA))
    height, width = mattes[0].shape
    outer = (
        slice(max(0, box[0].start - margin), min(height, box[0].stop + margin)),
        slice(max(0, box[1].start - margin), min(width, box[1].stop + margin)),
    )
    steadied = []
    for t in range(count):
        if not edged[t]:
            steadied.append(mattes[t])
            continue
        inside = np.nonzero(bands[t])
        own = mattes[t][inside]
        total, weights = own.copy(), np.ones_like(own)
        for s, carry, vote in flow.towards(t, radius, inside):
            if not edged[s]:
                continue
            total += vote * carry(mattes[s])
            weights += vote
        local = (inside[0] - outer[0].start, inside[1] - outer[1].start)
        region = mattes[t][outer]
        reach = max(1.0, REACH * float(band_pixels[t]))
        average = np.where(_near_contour(mattes[t], bands[t], reach), total / weights, own)
        if np.all((own == 0.0) | (own == 1.0)):
            average = _agreed_flips(region, local, own, average)
        result = mattes[t].copy()
        result[inside] = average
        steadied.append(result)
    return steadied


def _near_contour(matte: np.ndarray, band: np.ndarray, reach: float) -> np.ndarray:
    """Whether each of ``band``'s pixels (in C order, as ``matte[band]`` lists them) lies within
    ``reach`` pixels of a pixel across ``matte``'s 0.5 contour.

    Measured on the band's tiles alone, each with a margin wider than the reach: a pixel whose
    nearest pixel across the contour is within the reach finds it inside its tile's margin, so the
    cost follows the band, not the box around it (at 4096x2160 the box's distance transforms were
    40% of a window's steadying). A band so wide that its tiles' windows cover more than their box
    is measured over the box once."""
    near = np.zeros(matte.shape, bool)
    margin = int(np.ceil(reach)) + 1
    tiles = occupied_tiles(band)
    windows = [tile_reach(tile, margin, matte.shape) for tile in tiles]
    box = overlap_box(windows)
    if box is not None:
        # A wide band's windows overlap more than they save (at 4K a 100% band's were about 140
        # times their tiles: 15 s a frame): the box's distances once; it holds every tile's window.
        near[box] = _within(matte, box, reach)
        return near[band]
    for (top, left, bottom, right), window in zip(tiles, windows, strict=True):
        y, x = window[0].start, window[1].start
        within = _within(matte, window, reach)
        near[top:bottom, left:right] = within[top - y : bottom - y, left - x : right - x]
    return near[band]


def _within(matte: np.ndarray, window: tuple[slice, slice], reach: float) -> np.ndarray:
    """Whether each pixel of ``matte``'s ``window`` lies within ``reach`` of a pixel of the window
    across the 0.5 contour."""
    cv2 = _cv2()
    inside = (matte[window] >= 0.5).astype(np.uint8)
    # OpenCV measures to the nearest zero; each side's distance is the other side's zeros.
    distance = np.maximum(
        cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE),
        cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE),
    )
    return distance <= reach


def _agreed_flips(region: np.ndarray, local, own: np.ndarray, average: np.ndarray) -> np.ndarray:
    """The binary matte's values at its band's pixels ``local`` (of ``region``, the matte around
    the band), ``own`` as given: flipped where ``average`` crosses half, and so does ``average``
    smoothed (the matte around it as given)."""
    cv2 = _cv2()
    field = region.copy()
    field[local] = average
    smoothed = cv2.GaussianBlur(field, (0, 0), FLIP_SIGMA, borderType=cv2.BORDER_REPLICATE)[local]
    given = own >= 0.5
    flip = ((average >= 0.5) != given) & ((smoothed >= 0.5) != given)
    return np.where(flip, 1.0 - own, own).astype(np.float32)


def _flow_scale(height: int, width: int) -> float:
    """The scale the flow is computed at, from the plate's."""
    return min(1.0, FLOW_SIDE / max(height, width))


def _flow_size(height: int, width: int) -> tuple[int, int]:
    """The ``(width, height)`` the flow is computed at."""
    scale = _flow_scale(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def display_reduced(plate, size: tuple[int, int]) -> np.ndarray:
    """``plate`` display-encoded, reduced to ``size`` ``(width, height)`` by area. A frame converted
    on demand is reduced in its source's encoding, then converted: at a high-contrast edge a little
    different from the converted frame reduced, and a whole frame's conversion never made."""
    cv2 = _cv2()
    if isinstance(plate, ConvertedOnDemand):
        source = np.asarray(plate.source, np.float32)
        return plate.converted(cv2.resize(source, size, interpolation=cv2.INTER_AREA))
    return cv2.resize(np.asarray(plate, np.float32), size, interpolation=cv2.INTER_AREA)


class _Flow:
    """The optical flow between consecutive frames, computed on the frames reduced to
    ``FLOW_SIDE``, chained frame to frame over the ``box`` (where the bands are) to carry any
    frame's full-resolution image to another frame's pixels there.

    A plate converted on demand is reduced before it is converted, so the flow never converts a
    whole frame (at 4096x2160, a window of six frames converted whole held 0.4 GiB more).

    With ``keys`` and a ``cache``, the reduced plates and the flows between named frames are taken
    from it where an earlier window left them, and left there for the next."""

    def __init__(
        self,
        plates: list,
        box: tuple[slice, slice],
        keys: Sequence[Hashable | None] | None = None,
        cache: LruCache | None = None,
    ):
        cv2 = self.cv2 = _cv2()
        height, width = plates[0].shape[:2]
        self.scale = scale = _flow_scale(height, width)
        low = _flow_size(height, width)
        names = list(keys) if keys is not None and cache is not None else [None] * len(plates)

        def kept(key: tuple | None, make):
            value = None if key is None else cache.get(key)
            if value is None:
                value = make()
                if key is not None:
                    value.flags.writeable = False  # shared with later windows
                    cache.put(key, value, value.nbytes)
            return value

        def reduced(t: int) -> np.ndarray:
            if scale < 1.0:
                return display_reduced(plates[t], low)
            # A copy where it is kept: the caller's plate may be a buffer it reuses.
            return (np.asarray if names[t] is None else np.array)(plates[t], np.float32)

        self.small = [
            kept(None if names[t] is None else ("reduced", names[t], low), lambda t=t: reduced(t))
            for t in range(len(plates))
        ]
        gray: dict[int, np.ndarray] = {}

        def grey(t: int) -> np.ndarray:
            if t not in gray:
                gray[t] = np.clip(self.small[t].mean(axis=2) * 255.0 + 0.5, 0, 255).astype(np.uint8)
            return gray[t]

        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

        def hop(start: int, end: int) -> np.ndarray:
            named = names[start] is not None and names[end] is not None
            key = ("flow", names[start], names[end], low) if named else None
            return kept(key, lambda: dis.calc(grey(start), grey(end), None))

        #: ``hops[1][s]`` leads from frame s - 1 to s, ``hops[-1][s]`` from s + 1 to s.
        self.hops = {
            1: [None] + [hop(t, t + 1) for t in range(len(plates) - 1)],
            -1: [hop(t + 1, t) for t in range(len(plates) - 1)],
        }
        rows, cols = box
        # The box on the low grid, a pixel wider each side for resampling back.
        self.low_box = (
            slice(max(0, int(rows.start * scale) - 1), min(low[1], int(np.ceil(rows.stop * scale)) + 1)),
            slice(max(0, int(cols.start * scale) - 1), min(low[0], int(np.ceil(cols.stop * scale)) + 1)),
        )
        self.low_y, self.low_x = np.meshgrid(
            np.arange(self.low_box[0].start, self.low_box[0].stop, dtype=np.float32),
            np.arange(self.low_box[1].start, self.low_box[1].stop, dtype=np.float32),
            indexing="ij",
        )
        self.low_size = low
        self.full_size = (width, height)

    def _remap(self, image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        cv2 = self.cv2
        return cv2.remap(image, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def towards(self, t: int, radius: int, pixels: tuple[np.ndarray, np.ndarray]):
        """For each neighbour ``s`` of frame ``t`` (up to ``radius`` each side): ``s``, a function
        that samples a full-resolution image of frame ``s`` where frame ``t``'s ``pixels`` (rows,
        columns) are carried to, and their votes for it (by distance in frames and by how well the
        carried plate matches)."""
        count = len(self.small)
        own = self.small[t][self.low_box]
        # The pixels laid out as rows of ``SAMPLE_ROW`` for OpenCV's resampling (under 32767 a side),
        # the last row padded.
        count_pixels = len(pixels[0])
        rows = -(-count_pixels // SAMPLE_ROW)
        full_y, full_x = np.zeros((2, rows, SAMPLE_ROW), np.float32)
        full_y.reshape(-1)[:count_pixels], full_x.reshape(-1)[:count_pixels] = pixels
        # The pixels' centres on the low box's grid.
        (width, height), (low_width, low_height) = self.full_size, self.low_size
        on_low_y = (full_y + 0.5) * (low_height / height) - 0.5 - self.low_box[0].start
        on_low_x = (full_x + 0.5) * (low_width / width) - 0.5 - self.low_box[1].start
        for step in (1, -1):
            chained = np.zeros((*own.shape[:2], 2), np.float32)
            for s in range(t + step, t + step * (radius + 1), step):
                if not 0 <= s < count:
                    break
                hop = self.hops[step][s]
                x, y = self.low_x + chained[..., 0], self.low_y + chained[..., 1]
                chained += self._remap(hop, x, y)
                x, y = self.low_x + chained[..., 0], self.low_y + chained[..., 1]
                carried = self._remap(self.small[s], x, y)
                colour = np.sum((carried - own) ** 2, axis=2)
                vote = np.exp(-colour / (2.0 * COLOUR_SIGMA**2) - (s - t) ** 2 / (2.0 * TIME_SIGMA**2))
                # Flow and votes at the pixels, in one resampling.
                at = self._remap(
                    np.dstack([chained / np.float32(self.scale), vote.astype(np.float32)]), on_low_x, on_low_y
                )
                x, y = full_x + at[..., 0], full_y + at[..., 1]
                yield (
                    s,
                    lambda image, x=x, y=y: self._remap(image, x, y).reshape(-1)[:count_pixels],
                    at[..., 2].reshape(-1)[:count_pixels],
                )
