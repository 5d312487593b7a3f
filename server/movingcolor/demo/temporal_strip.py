"""The temporal strip: one row of pixels across the edge, one line per frame, stacked
down the picture. A seam that stays put draws straight lines; flicker draws ragged ones,
which no still frame can show."""

from __future__ import annotations

import numpy as np

from .edge_track import EdgeTrack, first_crossing
from .grid import LABEL_WIDTH, labelled_grid
from .labels import text_cell

HALF_WIDTH = 16  # pixels each side of the edge: the matte's error and the band fit well inside
INSIDE = 4  # the strip's last pixels, deep enough inside the object to be fully graded
ZOOM = 10  # each sampled pixel this many pixels wide
LINE_HEIGHT = 16  # each frame's line this many pixels tall
FOOTER_HEIGHT = 40


def edge_strip(frames: np.ndarray, track: EdgeTrack, half_width: int = HALF_WIDTH) -> np.ndarray:
    """``(T, 2 * half_width, 3)``: from each frame of ``frames`` (``(T, H, W, 3)``), the
    pixels of ``track.row`` centred on that frame's edge position, sampled linearly
    between pixels so a true edge that moves by fractions of a pixel stays straight."""
    count, _, width, channels = frames.shape
    if len(track.x) != count:
        raise ValueError(f"an edge track of {len(track.x)} frames for {count} frames")
    offsets = np.arange(-half_width, half_width, dtype=np.float64) + 0.5
    strip = np.empty((count, 2 * half_width, channels), np.float32)
    columns = np.arange(width, dtype=np.float64)
    for t in range(count):
        line = frames[t, track.row]
        for c in range(channels):
            strip[t, :, c] = np.interp(track.x[t] + offsets, columns, line[:, c])
    return strip


def seam_positions(strip: np.ndarray, plate_strip: np.ndarray) -> np.ndarray:
    """``(T,)``: in each line, where the grade (the change from the plate) first reaches
    half the strength it has inside the object, in pixels from the strip's left end."""
    amount = np.abs(strip - plate_strip).sum(axis=-1)  # (T, w)
    inside = amount[:, -INSIDE:].mean(axis=1, keepdims=True)
    return np.array([first_crossing(line) for line in amount / np.maximum(inside, 1e-6)])


def seam_motion(strip: np.ndarray, plate_strip: np.ndarray) -> float:
    """How far the seam moves from one frame to the next, on average, in pixels, with the
    object's edge held still: 0 for a steady seam, the matte's chatter for a hard one.
    NaN for fewer than two lines with a seam."""
    moves = np.abs(np.diff(seam_positions(strip, plate_strip)))
    moves = moves[np.isfinite(moves)]
    return float(moves.mean()) if moves.size else float("nan")


def enlarge(strip: np.ndarray, zoom: int = ZOOM, line_height: int = LINE_HEIGHT) -> np.ndarray:
    """Each sample a ``line_height`` x ``zoom`` block, so frames read as lines."""
    return np.repeat(np.repeat(strip, line_height, axis=0), zoom, axis=1)


def temporal_strip_picture(
    strips: dict[str, np.ndarray], plate: str, first_frame: int, title: str = ""
) -> np.ndarray:
    """The strips of several versions (``label: (T, w, 3)``, display-encoded) side by side,
    each over how far its seam moves per frame (``plate``: the label of the ungraded plate,
    the reference)."""
    cells = [enlarge(strip) for strip in strips.values()]
    width = cells[0].shape[1]
    count = next(iter(strips.values())).shape[0]
    footer = []
    for label, strip in strips.items():
        text = seam_motion_text(seam_motion(strip, strips[plate]), label == plate, count)
        footer.append(text_cell(text, width, FOOTER_HEIGHT, size=20))
    row_labels = [_time_label(first_frame, count), "seam moves\nper frame"]
    return labelled_grid([cells, footer], list(strips), row_labels, title=title)


def seam_motion_text(motion: float, reference: bool, count: int) -> str:
    """A version's footer: how far its seam moves per frame; a single frame has no motion to show
    (it read "no seam", over a seam in plain view)."""
    if reference:
        return "reference"
    if np.isfinite(motion):
        return f"{motion:.1f} px"
    return "one frame" if count < 2 else "no seam"


#: The height the three-line caption between the frame numbers needs to be read (at size 14).
CAPTION_HEIGHT = 54


def _time_label(first_frame: int, count: int) -> np.ndarray:
    """The row's label: the first and last frame numbers level with their lines, the caption
    between them where there is room for it (it ran into them at six frames)."""
    if count < 2:
        return text_cell(f"frame {first_frame}", LABEL_WIDTH, count * LINE_HEIGHT, size=12, align="right")
    end = max(2 * LINE_HEIGHT, 24)
    middle = count * LINE_HEIGHT - 2 * end
    parts = [text_cell(f"frame {first_frame}", LABEL_WIDTH, end, size=16, align="right")]
    if middle >= CAPTION_HEIGHT:
        caption = "time runs\ndown, one\nline a frame"
        parts.append(text_cell(caption, LABEL_WIDTH, middle, size=14, align="right"))
    elif middle > 0:
        parts.append(text_cell("", LABEL_WIDTH, middle))
    parts.append(text_cell(f"frame {first_frame + count - 1}", LABEL_WIDTH, end, size=16, align="right"))
    return np.concatenate(parts, axis=0)[: count * LINE_HEIGHT]
