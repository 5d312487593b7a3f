"""Benchmark figures (PNG, matplotlib): band ΔE along the paper's Figure 6 axes (band
width, resolution, grade type), side-by-side stills and temporal profiles."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np

from ..frames.image_io import read_pixels, write_image
from . import metrics
from .groundtruth import FIRST_FRAME, MaterialisedClip

BAND_WIDTHS = (5, 10, 15, 20, 25)


def _band_delta_e(runner, clip: MaterialisedClip, label: str, band: str) -> float:
    from .fusion import _bands

    numbers = list(range(FIRST_FRAME, FIRST_FRAME + clip.frames))
    truth = [runner.display(clip.truth.replace("####", f"{n:04d}")) for n in numbers]
    bands = _bands(clip.matte, numbers, band)
    outputs, _ = runner.fuse(label, plate=clip.plate, matte=clip.matte, grade=clip.clip.grade, band=band)
    return statistics.mean(
        metrics.delta_e2000(o, t, b) for o, t, b in zip(outputs, truth, bands, strict=True)
    )


def _lines(
    path: Path, x_values, series: dict[str, list[float]], xlabel: str, title: str, bars: bool = False
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.6), dpi=100)
    positions = np.arange(len(x_values))
    for index, (label, values) in enumerate(series.items()):
        if bars:
            width = 0.8 / len(series)
            axes.bar(positions + index * width, values, width, label=label)
        else:
            axes.plot(positions, values, marker="o", label=label)
    axes.set_xticks(positions + (0.4 - 0.4 / len(series) if bars else 0), [str(x) for x in x_values])
    axes.set_xlabel(xlabel)
    axes.set_ylabel("band ΔE00 (lower is better)")
    axes.set_title(title)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _crop_box(band: np.ndarray, margin: int = 8, fraction: float = 1 / 8) -> tuple[slice, slice]:
    rows, cols = np.nonzero(band)
    if len(rows) == 0:
        return slice(None), slice(None)
    # A window around the band's densest horizontal stretch: the seam, magnified.
    centre_row = int(np.median(rows))
    centre_col = int(cols[np.argmin(np.abs(rows - centre_row))])
    half = max(24, int(band.shape[0] * fraction))
    top, left = max(0, centre_row - half - margin), max(0, centre_col - half - margin)
    return slice(top, top + 2 * (half + margin)), slice(left, left + 2 * (half + margin))


def write_figures(
    runner, clips: list[MaterialisedClip], engines: list[str], folder: Path, quick: bool
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    first = clips[0]
    widths = BAND_WIDTHS[::2] if quick else BAND_WIDTHS
    _lines(
        folder / "band_width.png",
        [f"{w}%" for w in widths],
        {e: [_band_delta_e(runner, first, e, f"{w}%") for w in widths] for e in engines},
        "band width (% of object size)",
        f"band width: {first.clip.name}",
    )
    by_size = [c for c in clips if c.clip.look == first.clip.look or c.clip.name.startswith("hair")]
    by_size = sorted({c.clip.scene.width: c for c in by_size}.values(), key=lambda c: c.clip.scene.width)
    _lines(
        folder / "resolution.png",
        [f"{c.clip.scene.width}x{c.clip.scene.height}" for c in by_size],
        {e: [_band_delta_e(runner, c, e, c.clip.band) for c in by_size] for e in engines},
        "resolution",
        "resolution (10% band)",
    )
    small = {}
    for clip in clips:
        if clip.clip.scene.width == first.clip.scene.width:
            small.setdefault(clip.clip.look, clip)
    _lines(
        folder / "grade_type.png",
        list(small),
        {e: [_band_delta_e(runner, c, e, c.clip.band) for c in small.values()] for e in engines},
        "grade",
        "grade type (10% band)",
        bars=True,
    )
    # Stills and temporal profiles of the first clip.
    from .fusion import _bands

    numbers = list(range(FIRST_FRAME, FIRST_FRAME + first.frames))
    truth = np.stack([runner.display(first.truth.replace("####", f"{n:04d}")) for n in numbers])
    bands = _bands(first.matte, numbers, first.clip.band)
    versions = {"truth": truth}
    for label in engines:
        versions[label], _ = runner.fuse(label, plate=first.plate, matte=first.matte, grade=first.clip.grade)
    middle = len(numbers) // 2
    rows, cols = _crop_box(bands[middle])
    gap = 4
    # Magnified ×3 (nearest neighbour) so the seam and its pixels are visible at a glance.
    crops = [np.kron(v[middle][rows, cols], np.ones((3, 3, 1), np.float32)) for v in versions.values()]
    write_image(folder / "stills.png", _strip(crops, gap))
    row = int(np.median(np.nonzero(bands[middle])[0]))
    profiles = [np.repeat(v[:, row, :, :], 3, axis=0) for v in versions.values()]  # (3T, W, 3) each
    sheet = np.ones((len(profiles) * (profiles[0].shape[0] + gap) - gap, profiles[0].shape[1], 3), np.float32)
    for index, profile in enumerate(profiles):
        top = index * (profile.shape[0] + gap)
        sheet[top : top + profile.shape[0]] = profile
    write_image(folder / "profiles.png", sheet)
    (folder / "README.md").write_text(
        "Figures written by `movingcolor bench`. stills.png and profiles.png show, in order: "
        + ", ".join(versions)
        + ".\n"
    )


def _strip(images: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Images of one height side by side on white."""
    height = images[0].shape[0]
    strip = np.ones((height, sum(i.shape[1] for i in images) + gap * (len(images) - 1), 3), np.float32)
    left = 0
    for image in images:
        strip[:, left : left + image.shape[1]] = image
        left += image.shape[1] + gap
    return strip


def write_before_after(runner, clips_root: Path, engines: list[str], path: Path, frames: int = 12) -> bool:
    """The real clip ``bear`` with its real hard-edged edit (the bear brightened through its
    mask): plate, the edit as the host made it, then each engine's fusion of it. Top row
    whole frames, bottom row the seam magnified ×3. False when the clip is absent."""
    from .fusion import _bands

    root = clips_root / "bear"
    if not all((root / part).is_dir() for part in ("frames", "mask", "edit_high_brightness")):
        return False
    spec = {
        "plate": str(root / "frames"),
        "matte": str(root / "mask"),
        "edited": str(root / "edit_high_brightness"),
        "frames": f"0-{frames - 1}",
        "band": "10%",
    }
    middle = frames // 2
    versions = [
        np.clip(read_pixels(sorted((root / folder).iterdir())[middle])[..., :3], 0, 1)
        for folder in ("frames", "edit_high_brightness")
    ]
    versions += [runner.fuse(label, **spec)[0][middle] for label in engines]
    band = _bands(str(root / "mask" / "#####.png"), [middle], "10%")[0]
    rows, cols = _crop_box(band, fraction=1 / 4)
    crops = [np.kron(v[rows, cols], np.ones((3, 3, 1), np.float32)) for v in versions]
    top, bottom = _strip(versions), _strip(crops)
    width = max(top.shape[1], bottom.shape[1])
    pad = lambda image: np.pad(image, ((0, 0), (0, width - image.shape[1]), (0, 0)), constant_values=1.0)  # noqa: E731
    write_image(path, np.concatenate([pad(top), np.ones((4, width, 3), np.float32), pad(bottom)]))
    with (path.parent / "README.md").open("a") as notes:
        notes.write(
            f"{path.name}: the real clip bear, frame {middle}, 10% band; top whole frames, bottom the seam "
            f"×3: plate, the host's hard-edged edit, {', '.join(engines)}.\n"
        )
    return True
