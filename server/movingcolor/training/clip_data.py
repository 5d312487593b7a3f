"""Training footage from real video: frames with a true object mask for every frame.

A clip folder holds the frames (JPG or PNG, in ``frames/`` or in the folder itself) and a
``mask/`` folder with one mask per frame under the frame's name (``frames/00007.jpg`` and
``mask/00007.png``), the layout of the DAVIS clips. Folder names may use ``~`` and
environment variables (``${MOVINGCOLOR_CLIPS}/davis480/cows``), so a configuration written
on one machine runs on another.

A draw takes consecutive frames of one folder, forwards or backwards, resized by a random
factor so that the object's edge and motion are seen at several scales, and cropped to a
window that holds part of the mask's edge in its first frame. Frames and masks are resized by
area averaging, the way a camera sensor integrates light: the resized mask is then the
object's coverage of each pixel, the soft true alpha that matches the resized frame's edge.

Frames are read once per process and kept (every training step draws clips): at native size,
display-encoded float32, as the regional clips of ``data.py`` are.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MovingColorError
from ..frames.image_io import read_pixels
from ..frames.matte import matte_from_pixels
from ..frames.sequence import require_text_path

FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png")
MASK_EXTENSIONS = (".png", ".tif", ".tiff")
LAYOUT = (
    "a clip folder holds its frames (JPG or PNG, in frames/ or in the folder itself) and mask/ "
    "with one mask per frame under the frame's name (frames/00007.jpg, mask/00007.png)"
)
#: Smallest and largest resize factor of native footage (larger where the crop needs more pixels).
SCALES = (0.35, 1.0)
#: Random windows tried for one that holds part of the mask's edge before taking the centre.
WINDOW_TRIES = 10
#: Area averaging's float rounding error on values in 0..1 is far below this.
ROUNDING = 1e-5


@dataclass(frozen=True)
class ClipFrames:
    """A clip at native size: ``frames`` ``(N, H, W, 3)`` display-encoded, ``masks`` ``(N, H, W)``
    in 0..1, both float32."""

    frames: np.ndarray
    masks: np.ndarray


def clip_folder(text: str | os.PathLike, frames: int = 1) -> Path:
    """The folder ``text`` names (``~`` and environment variables expanded), checked to hold at
    least ``frames`` frames with masks."""
    literal = Path(os.path.expanduser(str(text)))
    # The variables as os.path.expandvars finds them ($NAME, ${NAME}); a folder whose own name holds
    # a "$" is taken as it is.
    as_named = literal.is_dir()
    for match in () if as_named else re.finditer(r"\$(\w+|\{[^}]*\})", str(text)):
        name = match.group(1).strip("{}")
        # An empty variable made "${MOVINGCOLOR_CLIPS}/davis480/cows" the root's /davis480/cows, and
        # the error named that folder alone.
        if not os.environ.get(name):
            state = "empty" if name in os.environ else "not set"
            also = " (the folder holding the clips)" if name == "MOVINGCOLOR_CLIPS" else ""
            raise MovingColorError(
                f"clip folder {str(text)!r}: ${name} is {state}; set it to the folder it stands for{also}"
            )
    path = literal if as_named else Path(os.path.expandvars(str(literal)))
    count = len(frame_pairs(path))
    if count < frames:
        raise MovingColorError(
            f"clip folder {path} holds {count} frames with masks; training clips take {frames}"
        )
    return path


@functools.cache
def frame_pairs(folder: Path) -> tuple[tuple[Path, Path], ...]:
    """Each frame of ``folder`` that has a mask, with its mask, in frame order."""
    if not folder.is_dir():
        raise MovingColorError(f"clip folder {folder} does not exist; {LAYOUT}")
    masks = {path.stem: path for path in _files(folder / "mask", MASK_EXTENSIONS)}
    source = folder / "frames" if (folder / "frames").is_dir() else folder
    pairs = [(path, masks[path.stem]) for path in _files(source, FRAME_EXTENSIONS) if path.stem in masks]
    if not pairs:
        raise MovingColorError(f"clip folder {folder} holds no frames with masks; {LAYOUT}")
    for pair in pairs:
        for path in pair:
            require_text_path(path, "clip frame", MovingColorError)
    return tuple(sorted(pairs, key=lambda pair: _frame_order(pair[0])))


def _files(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return [path for path in folder.iterdir() if path.suffix.lower() in extensions and path.is_file()]


def _frame_order(path: Path) -> tuple[int, str]:
    """Numbered frames by number (``9`` before ``10``), others by name."""
    return (int(path.stem), "") if path.stem.isdigit() else (-1, path.stem)


@functools.cache
def read_clip(folder: Path) -> ClipFrames:
    """Every frame of ``folder`` that has a mask, with its mask, at native size."""
    frames, masks = [], []
    for frame_path, mask_path in frame_pairs(folder):
        pixels = read_pixels(frame_path)
        if pixels.shape[2] < 3:  # grey, or grey and alpha
            pixels = np.repeat(pixels[..., :1], 3, axis=2)
        mask = matte_from_pixels(read_pixels(mask_path))
        first = frames[0].shape[:2] if frames else pixels.shape[:2]
        if pixels.shape[:2] != first or mask.shape != first:
            raise MovingColorError(
                f"{frame_path} and {mask_path}: every frame and mask of a clip folder must have "
                f"the first frame's size, {first[1]}x{first[0]}"
            )
        frames.append(np.ascontiguousarray(pixels[..., :3], dtype=np.float32))
        masks.append(mask)
    stacked = np.stack(masks)
    inside = stacked >= 0.5
    if not inside.any() or inside.all():
        # Every draw would hold no edge, and the clip's share of the batches trains nothing.
        largest = float(stacked.max())
        why = (
            f"no mask reaches half (the largest value is {largest:.4g}): a label image of 0 and 1 "
            f"(objects at 1/255) must be made 0 and 255 first"
            if not inside.any()
            else "every pixel of every mask is the object"
        )
        raise MovingColorError(f"clip folder {folder}: {why}; its masks must mark an object's edge")
    return ClipFrames(np.stack(frames), stacked)


def draw_footage(
    rng: np.random.Generator, folders: tuple[Path, ...], frames: int, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """``frames`` consecutive frames of a random folder of ``folders`` at a random scale, cropped
    to ``height`` x ``width``: the plate ``(T, H, W, 3)`` and the true alpha ``(T, H, W)``."""
    clip = read_clip(folders[int(rng.integers(len(folders)))])
    start = int(rng.integers(len(clip.frames) - frames + 1))
    order = np.arange(start, start + frames)
    if rng.random() < 0.5:
        order = order[::-1]  # footage played backwards is footage too: motion both ways
    native_height, native_width = clip.frames.shape[1:3]
    least = max(SCALES[0], height / native_height, width / native_width)
    factor = rng.uniform(least, max(SCALES[1], least))
    window = (min(native_height, round(height / factor)), min(native_width, round(width / factor)))
    top, left = _window(rng, clip.masks[order[0]], *window)
    rows, cols = slice(top, top + window[0]), slice(left, left + window[1])
    plate = area_resize(clip.frames[order, rows, cols], height, width)
    alpha = area_resize(clip.masks[order, rows, cols, None], height, width)[..., 0]
    # Float sums leave a covered pixel a rounding error short of 1: the truth there is exactly 1.
    alpha = np.where(alpha > 1.0 - ROUNDING, 1.0, np.where(alpha < ROUNDING, 0.0, alpha))
    return np.clip(plate, 0.0, 1.0), alpha.astype(np.float32)


def _window(rng: np.random.Generator, mask: np.ndarray, height: int, width: int) -> tuple[int, int]:
    """The top-left corner of a random ``height`` x ``width`` window of ``mask`` that holds part
    of its edge (the band is where the network learns anything); the centre when none is found."""
    for _ in range(WINDOW_TRIES):
        top = int(rng.integers(mask.shape[0] - height + 1))
        left = int(rng.integers(mask.shape[1] - width + 1))
        inside = mask[top : top + height, left : left + width] >= 0.5
        if inside.any() and not inside.all():
            return top, left
    return (mask.shape[0] - height) // 2, (mask.shape[1] - width) // 2


def area_resize(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """``images`` ``(T, h, w, C)`` resized to ``height`` x ``width`` by area averaging: each new
    pixel is the mean of the old ones over its footprint, each weighted by the area it covers."""
    count, _, old_width, channels = images.shape
    rows = _area_weights(images.shape[1], height)
    cols = _area_weights(old_width, width)
    tall = np.matmul(rows, images.reshape(count, -1, old_width * channels).astype(np.float32))
    return np.matmul(cols, tall.reshape(count, height, old_width, channels))


def _area_weights(source: int, target: int) -> np.ndarray:
    """``(target, source)``: the share of each target pixel's footprint that each source pixel
    covers (rows sum to 1)."""
    footprint = source / target
    edges = np.arange(target + 1) * footprint
    starts = np.arange(source)
    overlap = np.minimum(edges[1:, None], starts + 1) - np.maximum(edges[:-1, None], starts)
    return (np.clip(overlap, 0.0, None) / footprint).astype(np.float32)
