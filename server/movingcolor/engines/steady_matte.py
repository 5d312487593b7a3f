"""A coarse matte steadied over time: each frame's matte averaged in its band with its
neighbours' mattes, carried there along the plate's optical flow, where the carried plate agrees
with the frame's.

A per-frame key or a roto redrawn in a hurry chatters: its edge is a few pixels inside the object
on one frame and a few outside on the next, where the object's own edge moves smoothly. Those
errors are independent from frame to frame, so carried along the motion and averaged they mostly
cancel, and the network starts from a matte whose edge is nearer the object's. Where the flow is
wrong (occlusion, a fast or thin part), the carried plate does not match the frame's and that
neighbour's vote is dropped.

On the held-out real clips with rough mattes the network's band error fell 9% and its temporal
error 24-30% (at 854x480 and 1080p) with the matte steadied over a window's six frames; polygon
rotos, which chatter by about as much as the flow errs, lost 4-6% (docs/model.md, "The matte
steadied over time").
"""

from __future__ import annotations

import numpy as np

from ..errors import MissingDependencyError

#: Neighbours each side whose mattes vote (within the frames given).
RADIUS = 4
#: A neighbour's vote falls with its distance in frames as a Gaussian of this sigma.
TIME_SIGMA = 3.0
#: ... and with the colour difference between the carried plate and the frame's (display encoding,
#: 0..1, summed over RGB) as a Gaussian of this sigma: below it the flow is taken as right.
COLOUR_SIGMA = 0.08
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
    try:
        import cv2
    except ImportError as error:
        raise MissingDependencyError(
            "the movingcolor engine steadies the matte along OpenCV's optical flow: "
            "pip install 'movingcolor[server]' (or opencv-python-headless)"
        ) from error
    return cv2


def steadied_mattes(mattes, plates, bands, radius: int = RADIUS) -> list[np.ndarray]:
    """Each frame's matte ``(H, W)`` float32 with its band replaced by the average of its own and
    its neighbours' mattes (up to ``radius`` frames each side) carried along the flow; a binary
    matte stays binary (the average cut at half). Outside the band it is the matte given.

    ``mattes`` ``(T, H, W)`` in 0..1, ``plates`` ``(T, H, W, 3)`` display-encoded, ``bands``
    ``(T, H, W)`` bool: consecutive frames (arrays or frame stacks).
    """
    count = len(mattes)
    mattes = [np.asarray(matte, np.float32) for matte in mattes]
    if count < 2 or radius < 1 or min(_flow_size(*mattes[0].shape)) < MIN_FLOW_SIDE:
        return mattes
    union = np.logical_or.reduce([np.asarray(band) for band in bands])
    rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
    if not len(rows):
        return mattes
    box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
    flow = _Flow([plates[t] for t in range(count)], box)
    steadied = []
    for t in range(count):
        inside = np.nonzero(bands[t])
        own = mattes[t][inside]
        total, weights = own.copy(), np.ones_like(own)
        for s, carry, vote in flow.towards(t, radius, inside):
            total += vote * carry(mattes[s])
            weights += vote
        average = total / weights
        if np.all((own == 0.0) | (own == 1.0)):
            average = (average >= 0.5).astype(np.float32)
        result = mattes[t].copy()
        result[inside] = average
        steadied.append(result)
    return steadied


def _flow_scale(height: int, width: int) -> float:
    """The scale the flow is computed at, from the plate's."""
    return min(1.0, FLOW_SIDE / max(height, width))


def _flow_size(height: int, width: int) -> tuple[int, int]:
    """The ``(width, height)`` the flow is computed at."""
    scale = _flow_scale(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


class _Flow:
    """The optical flow between consecutive frames, computed on the frames reduced to
    ``FLOW_SIDE``, chained frame to frame over the ``box`` (where the bands are) to carry any
    frame's full-resolution image to another frame's pixels there.

    Each plate is read whole (a frame converted on demand converts every tile: at 4096x2160 about
    0.4 GiB more at the peak for a window of six frames)."""

    def __init__(self, plates: list, box: tuple[slice, slice]):
        cv2 = self.cv2 = _cv2()
        height, width = plates[0].shape[:2]
        self.scale = scale = _flow_scale(height, width)
        low = _flow_size(height, width)
        self.small = [np.asarray(p, np.float32) for p in plates]
        if scale < 1.0:
            self.small = [cv2.resize(p, low, interpolation=cv2.INTER_AREA) for p in self.small]
        gray = [np.clip(p.mean(axis=2) * 255.0 + 0.5, 0, 255).astype(np.uint8) for p in self.small]
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        #: ``hops[1][s]`` leads from frame s - 1 to s, ``hops[-1][s]`` from s + 1 to s.
        self.hops = {
            1: [None] + [dis.calc(gray[t], gray[t + 1], None) for t in range(len(plates) - 1)],
            -1: [dis.calc(gray[t + 1], gray[t], None) for t in range(len(plates) - 1)],
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
