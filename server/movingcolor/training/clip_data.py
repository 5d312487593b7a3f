"""Training footage from real video: frames with a true object mask for every frame.

A clip folder holds the frames (JPG or PNG, in ``frames/`` or in the folder itself) and a
``mask/`` folder with one mask per frame under the frame's name (``frames/00007.jpg`` and
``mask/00007.png``), the layout of the DAVIS clips. Folder names may use ``~`` and
environment variables (``${MOVINGCOLOR_CLIPS}/davis480/cows``), so a configuration written
on one machine runs on another.

Frames are ordered by their trailing frame number (``shot.9.png`` before ``shot.10.png``). A
draw takes consecutive frames of one folder (within a run of consecutive frame numbers that all
have masks: a frame without one, which a warning names, or a missing number ends a run), forwards
or backwards, resized by a random
factor so that the object's edge and motion are seen at several scales, and cropped to a
window that holds part of the mask's edge in its first frame. Frames and masks are resized by
area averaging, the way a camera sensor integrates light: the resized mask is then the
object's coverage of each pixel, the soft true alpha that matches the resized frame's edge.

Frames are read once per process and kept (every training step draws clips): at native size,
display-encoded float32, as the regional clips of ``data.py`` are.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MovingColorError
from ..frames.image_io import read_pixels
from ..frames.matte import matte_from_pixels
from ..frames.sequence import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, _split_number, require_text_path

log = logging.getLogger("movingcolor")

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
    in 0..1, both float32; ``runs``, the lengths of its runs of consecutive frames, in order (a
    window is drawn within one run)."""

    frames: np.ndarray
    masks: np.ndarray
    runs: tuple[int, ...]


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
    runs = frame_runs(path)
    count, longest = sum(len(run) for run in runs), max(len(run) for run in runs)
    if longest < frames:
        broken = (
            f", at most {longest} of them consecutive (a frame without a mask or a missing frame number "
            f"breaks a run)"
            if longest < count
            else ""
        )
        raise MovingColorError(
            f"clip folder {path} holds {count} frames with masks{broken}; training clips take {frames}"
        )
    return path


def frame_pairs(folder: Path) -> tuple[tuple[Path, Path], ...]:
    """Each frame of ``folder`` that has a mask, with its mask, in frame order."""
    return tuple(pair for run in frame_runs(folder) for pair in run)


@functools.cache
def frame_runs(folder: Path) -> tuple[tuple[tuple[Path, Path], ...], ...]:
    """The frames of ``folder`` that have a mask, with their masks, in frame order, split into
    runs of consecutive frames: a frame without a mask (named in a warning) or a missing frame
    number ends a run, so that a training window never joins frames that are not neighbours in
    time."""
    if not folder.is_dir():
        raise MovingColorError(f"clip folder {folder} does not exist; {LAYOUT}")
    masks = {path.stem: path for path in _files(folder / "mask", MASK_EXTENSIONS)}
    source = folder / "frames" if (folder / "frames").is_dir() else folder
    frames = sorted(_files(source, FRAME_EXTENSIONS), key=_frame_order)
    runs: list[list[tuple[Path, Path]]] = [[]]
    unmasked, gaps = [], []
    for index, path in enumerate(frames):
        if index and not _follows(frames[index - 1], path):
            if _same_name(frames[index - 1], path):
                gaps.append(frames[index - 1])
            runs.append([])
        if path.stem in masks:
            runs[-1].append((path, masks[path.stem]))
        else:
            unmasked.append(path)
            runs.append([])
    found = tuple(tuple(run) for run in runs if run)
    if not found:
        raise MovingColorError(f"clip folder {folder} holds no frames with masks; {_unread(folder, source)}")
    if unmasked:
        log.warning(
            "clip folder %s: frames without a mask in mask/ are left out (%s); training windows are "
            "drawn only within runs of consecutive frames with masks",
            folder,
            _listed(unmasked),
        )
    if gaps:
        log.warning(
            "clip folder %s: frame numbers are missing (%s); training windows are drawn only within "
            "runs of consecutive frames",
            folder,
            ", ".join(f"after {path.stem}" for path in gaps[:5]) + (", ..." if len(gaps) > 5 else ""),
        )
    for run in found:
        for pair in run:
            for path in pair:
                require_text_path(path, "clip frame", MovingColorError)
    return found


def _files(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return [path for path in folder.iterdir() if path.suffix.lower() in extensions and path.is_file()]


def _frame_order(path: Path) -> tuple[int, str, int, str]:
    """Numbered frames by their trailing frame number, as the fuse sequence reader reads it
    (``shot.9`` before ``shot.10``, ``9999`` before ``10000``), others by name."""
    split = _split_number(path.stem)
    if split is None:
        return (1, path.stem, 0, path.stem)
    return (0, split[0], int(split[1]), path.stem)


def _same_name(previous: Path, path: Path) -> bool:
    """Whether two numbered frames are of one name (``shot.0004``, ``shot.0009``)."""
    before, after = _split_number(previous.stem), _split_number(path.stem)
    return before is not None and after is not None and before[0] == after[0]


def _follows(previous: Path, path: Path) -> bool:
    """Whether frame ``path`` comes straight after ``previous``: the next number of the same name;
    frames without numbers follow one another in name order (nothing says otherwise)."""
    before, after = _split_number(previous.stem), _split_number(path.stem)
    if before is None or after is None:
        return before is None and after is None
    return before[0] == after[0] and int(after[1]) == int(before[1]) + 1


def _unread(folder: Path, source: Path) -> str:
    """What a clip folder without a frame-and-mask pair holds that training does not read (EXR
    frames, a movie), and what it reads; else the layout it expects."""
    formats = (
        f"training reads frames as {', '.join(FRAME_EXTENSIONS)} and masks as {', '.join(MASK_EXTENSIONS)}"
    )
    other = Counter(
        path.suffix.lower()
        for place, read in ((source, FRAME_EXTENSIONS), (folder / "mask", MASK_EXTENSIONS))
        for path in _files(place, IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)
        if path.suffix.lower() not in read
    )
    if not other:
        return LAYOUT
    found = ", ".join(f"{count} {suffix} file{'s' * (count > 1)}" for suffix, count in sorted(other.items()))
    return (
        f"it holds {found}, which training does not read: {formats} (convert them, e.g. with oiiotool "
        f"or ffmpeg, to PNG); {LAYOUT}"
    )


def _listed(paths: list[Path], shown: int = 5) -> str:
    names = ", ".join(path.name for path in paths[:shown])
    return names + (f" and {len(paths) - shown} more, {len(paths)} in all" if len(paths) > shown else "")


@functools.cache
def read_clip(folder: Path) -> ClipFrames:
    """Every frame of ``folder`` that has a mask, with its mask, at native size."""
    frames, masks = [], []
    runs = frame_runs(folder)
    for frame_path, mask_path in (pair for run in runs for pair in run):
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
    return ClipFrames(np.stack(frames), stacked, tuple(len(run) for run in runs))


def draw_footage(
    rng: np.random.Generator, folders: tuple[Path, ...], frames: int, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """``frames`` consecutive frames of a random folder of ``folders`` at a random scale, cropped
    to ``height`` x ``width``: the plate ``(T, H, W, 3)`` and the true alpha ``(T, H, W)``."""
    clip = read_clip(folders[int(rng.integers(len(folders)))])
    # Windows lie within one run of consecutive frames; a clip of one run draws as it always did.
    starts = _window_starts(clip.runs, frames)
    start = int(starts[int(rng.integers(len(starts)))])
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


def _window_starts(runs: tuple[int, ...], frames: int) -> np.ndarray:
    """The first frames of every window of ``frames`` consecutive frames that lies within one of
    ``runs`` (their lengths, in order)."""
    ends = np.cumsum(runs)
    return np.concatenate(
        [np.arange(end - length, end - frames + 1) for end, length in zip(ends, runs, strict=True)]
    ).astype(int)


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
