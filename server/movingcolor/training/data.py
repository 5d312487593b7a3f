"""Training clips made from still photographs, with a random grade and random mattes.

Sources, all offline: the colour photographs that scikit-image ships, every photo
under ``/usr/share/backgrounds`` (Debian's ``mate-backgrounds`` and
``plasma-workspace-wallpapers`` hold real photographs), and procedural textures.
Photos are animated with a smooth camera move (pan and zoom); sprites cut from
other photos by soft blob alphas (anti-aliased edge, hair, holes, motion blur)
move over them with their own velocity, acceleration, zoom and rotation.

Two modes, one per head:

* ``regional`` (the blend head; what users have): the grade applies inside the
  sprite's true soft alpha; the input matte is a coarse, flickering version of it;
  targets are the true alpha and the true composite.
* ``paper`` (the colour head; the paper's): the whole frame is graded, a band
  around a moving free-form shape is removed, the target is the graded frame.
* ``composite`` (the colour head of a model that refines the host's composite,
  ``color_start = "composite"``): regional clips where only the hard composite
  through the coarse matte is known, not the grade; the target is the true composite.

A share of regional clips (``fast_fraction``) moves its sprite about four times as fast,
always motion-blurred: fast objects are where a matte lags most and a network trained on
slow motion only does worst.

Grades: the paper's eight adjustments, or a random ASC CDL; for a share of clips
(``lut_fraction``), a random creative LUT file (``random_lut``): local colour pushes and
split tints that no global adjustment makes.

A share of regional clips (``clip_fraction``) is real footage instead (``clip_data``): real
frames and motion, and a real object's edge from its true mask. Their mattes are re-drawn per
frame from the true alpha (``masks.redrawn``) with an error drawn over the full range: nearly
right, the usual few pixels, or off by more than the band. ``matte_errors = "full"`` draws the
photo clips' mattes over that range too, instead of the coarse matte's 1-6 px.

Everything is drawn from ``numpy.random.default_rng([seed, step])``, so the batch
of a given step is the same whether training ran straight through or resumed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..color.config import ColorConfig
from ..engines.guided_filter import guided_mattes
from ..engines.steady_matte import steadied_mattes
from ..errors import MovingColorError
from ..masks.band import BandWidth, edge_band
from ..masks.redrawn import PolygonRoto, RoughMatte
from ..model.channels import stack_inputs
from ..synthetic.shapes import PATH_SPEED, coarse_matte, smooth_path, soft_blob
from .clip_data import clip_folder, draw_footage
from .config import MATTE_ERRORS
from .random_grade import grade_function, random_grade

PHOTO_FOLDERS = (Path("/usr/share/backgrounds"), Path("/usr/share/wallpapers"))
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
MAX_PHOTO_SIDE = 1024
FAST_SPEED = 4 * PATH_SPEED  # a fast sprite's velocity spread (see smooth_path)
#: The full range of matte errors: shares of mattes nearly right (under a pixel: a careful roto)
#: and of mattes off by more than the band (the true edge lies outside it); the rest are off by
#: the usual few pixels of a key or a hurried roto. Few are beyond the band: there the band holds
#: none of the true edge, the loss of every band pixel is near 1, and a larger share drowns the
#: other clips' gradients (a first run with 15% had a band L1 of 0.45 on those clips against 0.05).
NEARLY_RIGHT_SHARE = 0.2
BEYOND_BAND_SHARE = 0.05
NEARLY_RIGHT_MATTES = (
    PolygonRoto(spacing=(4.0, 8.0), jitter=0.5),
    RoughMatte(grow=(0.0, 1.0), shift=0.5, blur=0.5),
)
USUAL_MATTES = (PolygonRoto(), RoughMatte())


@dataclass
class Batch:
    """Float32 arrays; ``B`` clips of ``T`` frames (the first ``local`` are predicted)."""

    inputs: np.ndarray  # (B, T, 11 or 12, H, W): model.channels (display-encoded); A: the starting matte
    target_alpha: np.ndarray  # (B, T, 1, H, W) true alpha (regional), else zeros
    target_rgb: np.ndarray  # (B, T, 3, H, W) the right answer's colours
    band: np.ndarray  # (B, T, 1, H, W)
    matte: np.ndarray  # (B, T, 1, H, W) the coarse input matte (the hard composite's)
    band_pixels: np.ndarray  # (B, T) each band's width in pixels
    local: int
    mode: str
    grades: list[str]


def _to_float(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[2] < 3:  # grey, or grey + alpha
        image = np.repeat(image[..., :1], 3, axis=2)
    image = image[..., :3].astype(np.float32)
    return image / 255.0 if image.max() > 1.5 else image


def _shrink(image: np.ndarray) -> np.ndarray:
    factor = MAX_PHOTO_SIDE / max(image.shape[:2])
    return ndimage.zoom(image, (factor, factor, 1), order=1) if factor < 1 else image


@functools.lru_cache(maxsize=1)
def photo_library() -> tuple[np.ndarray, ...]:
    """Every available colour photo, display-encoded, long side at most 1024 px."""
    photos = []
    try:
        from skimage import data

        for name in (
            "astronaut",
            "coffee",
            "chelsea",
            "rocket",
            "hubble_deep_field",
            "immunohistochemistry",
            "retina",
            "colorwheel",
            "stereo_motorcycle",
            "cat",
        ):
            try:
                image = getattr(data, name)()
                photos.append(_shrink(_to_float(image[0] if isinstance(image, tuple) else image)))
            except Exception:  # an image that needs a download is simply not used
                continue
    except ImportError:
        pass
    from ..frames.image_io import read_pixels

    for folder in PHOTO_FOLDERS:
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.suffix.lower() in PHOTO_EXTENSIONS and path.stat().st_size > 50_000:
                    try:
                        photos.append(_shrink(_to_float(read_pixels(path))))
                    except Exception:
                        continue
    return tuple(p for p in photos if min(p.shape[:2]) >= 128)


def _procedural(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    from ..synthetic.scene import _texture

    palette = rng.uniform(0.05, 0.95, (2, 3))
    return _texture(rng, height, width, palette).astype(np.float32)


def _source(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    photos = photo_library()
    if photos and rng.random() < 0.85:
        return photos[int(rng.integers(len(photos)))]
    return _procedural(rng, 2 * height, 2 * width)


def _camera(rng, image: np.ndarray, frames: int, height: int, width: int) -> np.ndarray:
    """``frames`` crops of ``image`` under a smooth pan and zoom, resampled to ``height×width``."""
    ih, iw = image.shape[:2]
    base = min(ih / height, iw / width) * rng.uniform(0.5, 0.9)
    zoom = rng.uniform(-0.01, 0.01)
    start = np.array([rng.uniform(0, max(ih - base * height, 1)), rng.uniform(0, max(iw - base * width, 1))])
    drift = rng.normal(0, 0.01 * base * max(height, width), 2)
    out = []
    for t in range(frames):
        scale = base * np.exp(zoom * t)
        corner = np.clip(start + drift * t, 0, [max(ih - scale * height, 0), max(iw - scale * width, 0)])
        rows = corner[0] + scale * np.arange(height)
        cols = corner[1] + scale * np.arange(width)
        grid = np.meshgrid(np.clip(rows, 0, ih - 1), np.clip(cols, 0, iw - 1), indexing="ij")
        out.append(np.stack([ndimage.map_coordinates(image[..., c], grid, order=1) for c in range(3)], -1))
    return np.stack(out).astype(np.float32)


def _sprite_alphas(
    rng, frames: int, height: int, width: int, motion_blur: int, speed: float = PATH_SPEED
) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = rng.uniform(0.15, 0.35) * min(height, width)
    path = smooth_path(rng, frames, width, height, margin=radius * 0.6, speed=speed)
    aspect = rng.uniform(0.7, 1.6)
    hair = bool(rng.random() < 0.5)
    holes = tuple(
        (rng.uniform(-0.5, 0.5), rng.uniform(-0.4, 0.4), rng.uniform(0.08, 0.2))
        for _ in range(int(rng.integers(0, 3)))
    )
    alphas = []
    for t in range(frames):
        samples = []
        for k in range(motion_blur):
            # Sub-frame positions across the shutter, between this frame and the next.
            u = k / motion_blur
            nxt = min(t + 1, frames - 1)
            cx = (1 - u) * path.x[t] + u * path.x[nxt]
            cy = (1 - u) * path.y[t] + u * path.y[nxt]
            samples.append(
                soft_blob(
                    xx, yy, cx, cy, radius * path.scale[t], t * 0.2, aspect, path.rotation[t], hair, holes
                )
            )
        alphas.append(np.mean(samples, axis=0))
    return np.stack(alphas).astype(np.float32)


def _band_width(rng) -> BandWidth:
    """A random relative band width: the paper's 5-25 % of the object's size."""
    return BandWidth(float(rng.uniform(5, 25)), relative=True)


def _band(matte: np.ndarray, width: BandWidth) -> tuple[np.ndarray, list[float]]:
    """Bands of ``width`` around each frame's matte, and their widths in pixels."""
    band = np.stack([edge_band(m, width) for m in matte]).astype(np.float32)
    return band, [width.pixels(m > 0.5) for m in matte]


def full_range_mattes(rng, alpha: np.ndarray, width: BandWidth) -> np.ndarray:
    """Mattes ``(T, H, W)`` (0 or 1) re-drawn per frame from the true ``alpha``, their error drawn
    over the full range for a band of ``width``: nearly right, the usual few pixels, or grown
    past the band's reach, so that the band around the matte misses the true edge."""
    inside = alpha >= 0.5
    tier = rng.random()
    if tier < NEARLY_RIGHT_SHARE:
        kind = NEARLY_RIGHT_MATTES[int(rng.integers(len(NEARLY_RIGHT_MATTES)))]
    elif tier < NEARLY_RIGHT_SHARE + BEYOND_BAND_SHARE:
        # The grown matte's edge moves by up to this much more: its shift, blur and resampling.
        wobble = RoughMatte().reach - RoughMatte().grow[1]
        distance = _beyond_band_distance(inside, width, wobble) * rng.uniform(1.1, 1.5)
        kind = RoughMatte(grow=(distance, 1.2 * distance), shrink_share=0.0)
    else:
        kind = USUAL_MATTES[int(rng.integers(len(USUAL_MATTES)))]
    return np.stack([kind.draw(frame, rng) for frame in inside]).astype(np.float32)


def _beyond_band_distance(inside: np.ndarray, width: BandWidth, margin: float) -> float:
    """The least distance that each frame's ``inside`` ``(T, H, W)`` grown by leaves the true edge
    ``margin`` pixels beyond the band around the grown matte. A relative band widens as its matte
    grows, so the distance is found by iteration, which ends: no band is wider than the frame allows."""
    frames = [frame for frame in inside if frame.any()]
    outside = [ndimage.distance_transform_edt(~frame) for frame in frames]
    distance = 0.0
    for _ in range(100):
        reach = margin + max(
            (width.pixels(frame | (away <= distance)) for frame, away in zip(frames, outside, strict=True)),
            default=0.0,
        )
        if reach <= distance + 0.05:
            break
        distance = reach
    return distance


def regional_clip(
    rng,
    frames: int,
    height: int,
    width: int,
    config: ColorConfig,
    matte_start: str,
    composite_only: bool = False,
    fast_fraction: float = 0.0,
    lut_fraction: float = 0.0,
    matte_errors: str = "coarse",
    steady_matte: bool = False,
):
    """A regional clip of photos and sprites; ``composite_only``: as the colour head sees it,
    with the host's whole composite where the graded plate would be (``composite`` mode)."""
    background = _camera(rng, _source(rng, height, width), frames, height, width)
    sprite = _camera(rng, _source(rng, height, width), frames, height, width)
    # Drawn only when asked for, so runs without fast clips keep their random sequence.
    if fast_fraction and rng.random() < fast_fraction:
        motion_blur, speed = int(rng.choice([3, 5])), FAST_SPEED
    else:
        motion_blur, speed = int(rng.choice([1, 1, 3, 5])), PATH_SPEED
    alpha = _sprite_alphas(rng, frames, height, width, motion_blur, speed)
    plate = alpha[..., None] * sprite + (1 - alpha[..., None]) * background
    return compose_regional(
        rng, plate, alpha, config, matte_start, composite_only, lut_fraction, matte_errors, steady_matte
    )


def real_clip(
    rng,
    folders: tuple[Path, ...],
    frames: int,
    height: int,
    width: int,
    config: ColorConfig,
    matte_start: str,
    composite_only: bool = False,
    lut_fraction: float = 0.0,
    steady_matte: bool = False,
):
    """A regional clip of real footage from ``folders`` (``clip_data``), its mattes' errors
    drawn over the full range."""
    plate, alpha = draw_footage(rng, folders, frames, height, width)
    return compose_regional(
        rng, plate, alpha, config, matte_start, composite_only, lut_fraction, "full", steady_matte
    )


def compose_regional(
    rng,
    plate: np.ndarray,
    alpha: np.ndarray,
    config: ColorConfig,
    matte_start: str,
    composite_only: bool = False,
    lut_fraction: float = 0.0,
    matte_errors: str = "coarse",
    steady_matte: bool = False,
):
    """A regional clip from its ``plate`` ``(T, H, W, 3)`` and true ``alpha`` ``(T, H, W)``: a
    random grade, the input matte and its band, the network's inputs and the targets.
    ``steady_matte``: the matte steadied over the clip as the engine steadies a window's
    (``engines.steady_matte``); the band stays the matte's as drawn."""
    spec = random_grade(rng, lut_fraction)
    graded = grade_function(spec, config)(plate)
    if matte_errors == "full":
        # The band's width first: the errors that reach past it are measured against it.
        band_width = _band_width(rng)
        matte = full_range_mattes(rng, alpha, band_width)
    else:
        error, shift = int(rng.integers(1, 7)), int(rng.integers(0, 4))
        matte = np.stack([coarse_matte(a, rng, error, shift) for a in alpha])
        band_width = _band_width(rng)
    band, band_pixels = _band(matte, band_width)
    if steady_matte:
        matte = np.stack(steadied_mattes(matte, np.clip(plate, 0.0, 1.0), band > 0.5, band_pixels))
    edited = matte[..., None] * graded + (1 - matte[..., None]) * plate
    truth = alpha[..., None] * graded + (1 - alpha[..., None]) * plate
    start = guided_mattes(plate, matte, band_pixels) if matte_start == "guided" else matte
    known = edited if composite_only else graded
    inputs = stack_inputs(plate, edited * (1 - band[..., None]), band[..., None], known, start[..., None])
    return inputs, alpha, truth, band, spec, matte, band_pixels


def paper_clip(rng, frames: int, height: int, width: int, config: ColorConfig, lut_fraction: float = 0.0):
    plate = _camera(rng, _source(rng, height, width), frames, height, width)
    spec = random_grade(rng, lut_fraction)
    graded = grade_function(spec, config)(plate)
    shape = np.stack([a > 0.5 for a in _sprite_alphas(rng, frames, height, width, 1)]).astype(np.float32)
    band, band_pixels = _band(shape, _band_width(rng))
    hidden = graded * (1 - band[..., None])
    # No leak: where the grade is not known the graded channels carry the visible composite only.
    inputs = stack_inputs(plate, hidden, band[..., None], hidden, shape[..., None])
    return inputs, np.zeros_like(shape), graded, band, spec, shape, band_pixels


def _regional_or_real(
    rng,
    frames: int,
    height: int,
    width: int,
    config: ColorConfig,
    matte_start: str,
    composite_only: bool = False,
    *,
    folders: tuple[Path, ...],
    clip_fraction: float,
    fast_fraction: float,
    lut_fraction: float,
    matte_errors: str,
    steady_matte: bool = False,
):
    """A regional clip: of real footage for a share ``clip_fraction``, else of photos and sprites."""
    # Drawn only when asked for, so runs without real footage keep their random sequence.
    clip = (frames, height, width, config, matte_start, composite_only)
    if clip_fraction and rng.random() < clip_fraction:
        return real_clip(rng, folders, *clip, lut_fraction, steady_matte)
    return regional_clip(rng, *clip, fast_fraction, lut_fraction, matte_errors, steady_matte)


def make_batch(
    seed: int,
    step: int,
    mode: str,
    batch: int,
    frames: int,
    local: int,
    height: int,
    width: int,
    config: ColorConfig | None = None,
    matte_start: str = "coarse",
    color_start: str = "plate",
    fast_fraction: float = 0.0,
    lut_fraction: float = 0.0,
    clip_folders: tuple[str, ...] = (),
    clip_fraction: float = 0.0,
    matte_errors: str = "coarse",
    coarse_matte_input: bool = False,
    steady_matte: bool = False,
) -> Batch:
    """The batch for ``step``: a pure function of ``(seed, step)`` (and of the clip folders'
    contents).

    ``matte_start`` is what channel A carries in regional clips, as the network's
    configuration says: the coarse matte, or the guided engine's refinement of it.
    In mixed batches the colour head's quarter is paper clips, or composite clips for a
    colour head that starts from the composite (``color_start``). ``fast_fraction``: the
    share of regional and composite clips whose sprite moves fast; ``lut_fraction``: the share
    of clips graded by a random creative LUT file; ``clip_fraction``: the share of regional and
    composite clips of real footage from ``clip_folders``; ``matte_errors``: the range the
    photo clips' matte errors are drawn from, ``coarse`` or ``full``; ``coarse_matte_input``:
    the inputs end with the coarse matte (``model.channels.COARSE_MATTE``); ``steady_matte``:
    regional clips' mattes steadied over time as the engine steadies them before the network.
    """
    if matte_errors not in MATTE_ERRORS:
        raise MovingColorError(f"matte_errors must be one of {MATTE_ERRORS}, not {matte_errors!r}")
    if clip_fraction and not clip_folders:
        raise MovingColorError("clip_fraction above 0 needs clip_folders: folders of frames with masks")
    # Checked before any clip is drawn, so a wrong folder stops the first step, not a later one.
    folders = tuple(clip_folder(folder, frames) for folder in clip_folders) if clip_fraction else ()
    rng = np.random.default_rng([seed, step])
    config = config or ColorConfig()
    if mode == "mixed":
        colour_mode = "composite" if color_start == "composite" else "paper"
        mode = "regional" if rng.random() < 0.75 else colour_mode
    regional = functools.partial(
        _regional_or_real,
        folders=folders,
        clip_fraction=clip_fraction,
        fast_fraction=fast_fraction,
        lut_fraction=lut_fraction,
        matte_errors=matte_errors,
        steady_matte=steady_matte,
    )
    make = {
        "regional": functools.partial(regional, matte_start=matte_start),
        "paper": functools.partial(paper_clip, lut_fraction=lut_fraction),
        "composite": functools.partial(regional, matte_start="coarse", composite_only=True),
    }[mode]
    clips = [make(rng, frames, height, width, config) for _ in range(batch)]
    stack = lambda i: np.stack([c[i] for c in clips]).astype(np.float32)  # noqa: E731
    inputs = stack(0).transpose(0, 1, 4, 2, 3)  # (B, T, 11, H, W)
    if coarse_matte_input:
        inputs = np.concatenate([inputs, stack(5)[:, :, None]], axis=2)  # (B, T, 12, H, W)
    return Batch(
        inputs=np.ascontiguousarray(inputs),
        target_alpha=stack(1)[:, :, None],
        target_rgb=np.ascontiguousarray(stack(2).transpose(0, 1, 4, 2, 3)),
        band=stack(3)[:, :, None],
        matte=stack(5)[:, :, None],
        band_pixels=stack(6),
        local=local,
        mode=mode,
        grades=[c[4] for c in clips],
    )
