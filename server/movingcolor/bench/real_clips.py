"""Real clips with true object masks (DAVIS), read at their size or resized, for ground truth.

The clips live outside the repository (``../shared/data/clips``, see its README): never
copy them in. ``davis480/<clip>/`` holds ten DAVIS-2016 clips at 854x480 (JPG frames,
``mask/`` PNGs); ``bear``, ``bmx-trees`` and ``tennis`` sit at the top at 432x240.

``HELD_OUT_CLIPS`` are kept out of training, so that a model's score on them says how it
does on footage it has never seen; the benchmark reports them on their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MovingColorError
from ..frames.image_io import read_pixels, write_image
from ..frames.matte import matte_from_pixels
from .frame_size import parse_frame_size

#: Native-size DAVIS clips, in the clips folder.
DAVIS_FOLDER = "davis480"
#: Clips of ``davis480`` that training must not read: scored as unseen footage.
HELD_OUT_CLIPS = ("dog", "kite-surf", "parkour")
#: The environment variable that names the clips' folder (as training configurations do).
CLIPS_VARIABLE = "MOVINGCOLOR_CLIPS"
#: A size written for the footage as it is.
NATIVE = "native"


@dataclass(frozen=True)
class RealClip:
    """A clip's frames and true masks, file by file, in frame order."""

    name: str
    frames: tuple[Path, ...]
    masks: tuple[Path, ...]

    @property
    def held_out(self) -> bool:
        return self.name in HELD_OUT_CLIPS

    @property
    def numbers(self) -> list[int]:
        """Each frame's number, from its file name (``00007.jpg`` is frame 7)."""
        return [int(path.stem) for path in self.frames]


def default_clips_root() -> Path:
    """Where the real clips are looked for unless a folder is given: ``MOVINGCOLOR_CLIPS`` (the
    variable training configurations name them by), else ``../shared/data/clips`` beside a checkout
    of the repository (an installed package has no such neighbour)."""
    named = os.environ.get(CLIPS_VARIABLE)
    return Path(named) if named else Path(__file__).resolve().parents[4] / "shared" / "data" / "clips"


def missing_reason(root: Path, option: str = "--root") -> str | None:
    """Why the real clips cannot be used from ``root``; None when they can. ``option``: what the
    command that was run calls the clips' folder."""
    if not (root / DAVIS_FOLDER).is_dir():
        return (
            f"real clips not found at {root / DAVIS_FOLDER}: they live outside the repository "
            f"(../shared/data/clips beside a checkout); pass the folder that holds davis480/ with "
            f"{option}, or set {CLIPS_VARIABLE}"
        )
    return None


def davis_clips(root: Path) -> list[str]:
    """Every clip of ``root/davis480`` that has frames and masks."""
    folder = root / DAVIS_FOLDER
    return sorted(p.name for p in folder.iterdir() if (p / "frames").is_dir() and (p / "mask").is_dir())


def find_clip(root: Path, name: str) -> RealClip:
    """Clip ``name`` of ``root/davis480``, else of ``root`` itself (``bear``); every frame
    that has a mask of the same number."""
    for folder in (root / DAVIS_FOLDER / name, root / name):
        if (folder / "frames").is_dir() and (folder / "mask").is_dir():
            masks = {path.stem: path for path in (folder / "mask").iterdir() if path.suffix == ".png"}
            frames = sorted(
                (p for p in (folder / "frames").iterdir() if p.stem in masks and p.stem.isdigit()),
                key=lambda path: int(path.stem),
            )
            return RealClip(name, tuple(frames), tuple(masks[p.stem] for p in frames))
    known = ", ".join(davis_clips(root)) if (root / DAVIS_FOLDER).is_dir() else "none"
    raise MovingColorError(
        f"clip {name!r} has no frames/ and mask/ under {root / DAVIS_FOLDER} or {root}; known clips: {known}"
    )


@dataclass(frozen=True)
class Size:
    """The size footage is scored at: ``native``, or ``WxH`` (frames and masks resized to it)."""

    label: str
    width: int = 0
    height: int = 0

    @classmethod
    def parse(cls, text: str) -> Size:
        text = text.strip().lower()
        if text == NATIVE:
            return cls(NATIVE)
        try:
            width, height = parse_frame_size(text)
        except MovingColorError:
            raise MovingColorError(f"size {text!r}: write native or WIDTHxHEIGHT, e.g. 1920x1080") from None
        return cls(f"{width}x{height}", width, height)

    def of(self, native: tuple[int, int]) -> tuple[int, int]:
        """``(width, height)`` for footage of ``native`` ``(width, height)``."""
        return native if self.label == NATIVE else (self.width, self.height)


@dataclass
class Footage:
    """A clip's first frames at one size: what the engines read, and what the scores need."""

    clip: RealClip
    size: Size
    #: Frame numbers, and the plate as a sequence the product reads (``frames`` takes them).
    numbers: list[int]
    plate: str
    #: The plate's files, in frame order.
    files: list[Path]
    #: The plate as read, encoded values ``(T, H, W, 3)``, and the true masks ``(T, H, W)`` bool.
    pixels: np.ndarray
    masks: np.ndarray
    #: How much larger than the clip's native frames these are (1 at native size).
    factor: float

    @property
    def frames(self) -> str:
        return f"{self.numbers[0]}-{self.numbers[-1]}"


def read_mask(path: Path) -> np.ndarray:
    return matte_from_pixels(read_pixels(path)) >= 0.5


def load_footage(clip: RealClip, frames: int, size: Size, folder: Path) -> Footage:
    """The first ``frames`` frames of ``clip`` at ``size``. At native size the engines read the
    clip's own files; resized frames are written into ``folder`` as 16-bit TIFFs (integer
    files, so read as sRGB-encoded like the originals)."""
    if len(clip.frames) < frames:
        raise MovingColorError(f"clip {clip.name!r} has {len(clip.frames)} frames; ask for at most that many")
    paths, mask_paths = clip.frames[:frames], clip.masks[:frames]
    numbers = clip.numbers[:frames]
    pixels = np.stack([read_pixels(p)[..., :3] for p in paths])
    masks = np.stack([read_mask(p) for p in mask_paths])
    native = (pixels.shape[2], pixels.shape[1])
    width, height = size.of(native)
    if (width, height) == native:
        return Footage(clip, size, numbers, str(paths[0].parent), list(paths), pixels, masks, 1.0)
    pixels = np.stack([resize(p, width, height) for p in pixels])
    # The mask is resized like the frame (same filter, same pixel centres), then cut at half.
    masks = np.stack([resize(m[..., None].astype(np.float32), width, height)[..., 0] >= 0.5 for m in masks])
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"plate.{number:05d}.tif" for number in numbers]
    for path, frame in zip(files, pixels, strict=True):
        write_image(path, frame)
    pixels = np.stack([read_pixels(path)[..., :3] for path in files])  # as the engines will read them
    factor = float(np.sqrt(width / native[0] * height / native[1]))
    return Footage(clip, size, numbers, str(folder / "plate.#####.tif"), files, pixels, masks, factor)


def resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """``pixels`` ``(H, W, C)`` resized to ``width`` x ``height`` by OpenImageIO's default filter."""
    import OpenImageIO as oiio

    source = oiio.ImageBuf(np.ascontiguousarray(pixels, dtype=np.float32))
    channels = pixels.shape[2]
    resized = oiio.ImageBufAlgo.resize(source, roi=oiio.ROI(0, width, 0, height, 0, 1, 0, channels))
    if resized.has_error:
        raise MovingColorError(f"cannot resize to {width}x{height}: {resized.geterror()}")
    return np.asarray(resized.get_pixels(oiio.FLOAT), dtype=np.float32).reshape(height, width, channels)
