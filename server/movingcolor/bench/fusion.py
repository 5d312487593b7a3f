"""``movingcolor bench``: every engine on the ground-truth set and the real clips.

Each engine runs through the real shot runner (``run_shot``) exactly as a user's
``movingcolor fuse`` would; outputs are compared in the sRGB-encoded display
space (see ``metrics`` for every formula). Results go into BENCHMARKS.md and
figures into ``docs/benchmarks/``.
"""

from __future__ import annotations

import logging
import math
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..color.config import ColorConfig
from ..engines.base import Engine
from ..engines.registry import create_engine
from ..errors import MissingDependencyError
from ..frames.image_io import read_pixels
from ..frames.matte import matte_from_pixels
from ..frames.sequence import SequencePattern
from ..jobs import ShotSpec, run_shot
from ..masks.band import BandWidth, edge_band
from . import metrics
from .groundtruth import FIRST_FRAME, MaterialisedClip, clip_set, host_composite, materialise
from .report import machine_lines, replace_section, reproduce_command

log = logging.getLogger("movingcolor")

CLASSICAL = ("hard", "feather", "guided")
REAL_FRAMES = 20
REAL_GRADE = "slope=1.15,1.05,0.9;offset=0.02;power=0.95;sat=1.2"
# Real clips: (name, folder, mode, argument). bear's edit is a real host composite.
REAL_CLIPS = (
    ("bear (CDL)", "bear", "grade", REAL_GRADE),
    ("bear (host edit)", "bear", "edited", "edit_high_brightness"),
    ("tennis (CDL)", "tennis", "grade", REAL_GRADE),
    ("bmx-trees (CDL)", "bmx-trees", "grade", "saturation=-0.7;warmth=0.3"),
)


def default_engines() -> list[str]:
    """The classical engines, color-matcher when installed, and every installed model."""
    engines = list(CLASSICAL)
    try:
        import color_matcher  # noqa: F401

        engines.append("color-matcher")
    except ImportError:
        log.warning("color-matcher is not installed (pip install 'movingcolor[dev]'): baseline skipped")
    try:
        from ..model.registry import model_folders

        engines += [f"movingcolor:{name}" for name in model_folders()]
    except ImportError:
        pass
    return engines


def _with_colour_heads(engines: list[str]) -> list[str]:
    """The engines, and each model's colour head as one more."""
    return engines + [f"{e}:color" for e in engines if e.startswith("movingcolor:") and e.count(":") == 1]


def make_engine(label: str, device: str = "auto") -> Engine:
    if label == "color-matcher":
        from .baselines import ColorMatcherEngine

        return ColorMatcherEngine()
    if label.startswith("movingcolor:"):
        # "movingcolor:MODEL" chooses its head as a user's run would; "movingcolor:MODEL:color"
        # always uses the colour head, which scores it where the grade would be recovered.
        _, model, *head = label.split(":")
        return create_engine("movingcolor", model=model, device=device, head=head[0] if head else "auto")
    return create_engine(label)


@dataclass
class Row:
    dataset: str
    clip: str
    engine: str
    values: dict[str, float] = field(default_factory=dict)


class _Runner:
    def __init__(self, folder: Path, device: str):
        self.folder = folder
        self.device = device
        self.config = ColorConfig()
        self.count = 0

    def display(self, path: str | Path, colorspace: str | None = None) -> np.ndarray:
        pixels = read_pixels(Path(path))[..., :3]
        source = colorspace or self.config.scene_linear
        return np.clip(self.config.convert(pixels, source, self.config.srgb_encoded), 0, 1)

    def fuse(self, label: str, **spec) -> tuple[np.ndarray, float]:
        """Run one engine on one shot; returns its frames (display, ``(T, H, W, 3)``) and s/frame."""
        self.count += 1
        out = self.folder / f"run{self.count}" / "f.####.exr"
        report = run_shot(
            ShotSpec(out=str(out), engine=label.split(":")[0], exr_type="float", **spec),
            engine=make_engine(label, self.device),
        )
        frames = np.stack([self.display(p, report.colorspaces["output"]) for p in report.written])
        return frames, report.seconds / len(report.written)


def _bands(matte_pattern: str, frames: list[int], band: str) -> np.ndarray:
    width = BandWidth.parse(band)
    pattern = SequencePattern.parse(matte_pattern)
    return np.stack([edge_band(matte_from_pixels(read_pixels(pattern.path(n))), width) for n in frames])


def _no_reference(outputs, plates, bands, flows) -> dict[str, float]:
    pc_psnr, pc_ssim = metrics.patch_consistency(outputs, bands)
    return {
        "TD band ×100": 100
        * statistics.mean(
            metrics.texture_difference(o, p, b) for o, p, b in zip(outputs, plates, bands, strict=True)
        ),
        "E_warp band ×10³": 1000 * metrics.flow_warping_error(outputs, flows, bands),
        "PC-PSNR band": pc_psnr,
        "PC-SSIM band": pc_ssim,
    }


def evaluate_clip(
    runner: _Runner,
    clip: MaterialisedClip,
    engines: list[str],
    band: str | None = None,
    edited: str | None = None,
) -> list[Row]:
    """Every engine on one clip: given its grade, or given only the host's composite
    ``edited`` (a sequence pattern) when set."""
    band = band or clip.clip.band
    given = {"edited": edited} if edited else {"grade": clip.clip.grade}
    numbers = list(range(FIRST_FRAME, FIRST_FRAME + clip.frames))
    truth = np.stack([runner.display(clip.truth.replace("####", f"{n:04d}")) for n in numbers])
    plates = np.stack([runner.display(clip.plate.replace("####", f"{n:04d}")) for n in numbers])
    bands = _bands(clip.matte, numbers, band)
    flows = metrics.input_flows(plates)
    rows = []
    for label in ["truth", *engines]:
        if label == "truth":
            outputs, seconds = truth, float("nan")
        else:
            outputs, seconds = runner.fuse(label, plate=clip.plate, matte=clip.matte, band=band, **given)
        values = {
            "PSNR": statistics.mean(metrics.psnr(o, t) for o, t in zip(outputs, truth, strict=True)),
            "PSNR band": statistics.mean(
                metrics.psnr(o, t, b) for o, t, b in zip(outputs, truth, bands, strict=True)
            ),
            "SSIM band": statistics.mean(
                metrics.ssim(o, t, b) for o, t, b in zip(outputs, truth, bands, strict=True)
            ),
            "ΔE00": statistics.mean(metrics.delta_e2000(o, t) for o, t in zip(outputs, truth, strict=True)),
            "ΔE00 band": statistics.mean(
                metrics.delta_e2000(o, t, b) for o, t, b in zip(outputs, truth, bands, strict=True)
            ),
            **_no_reference(outputs, plates, bands, flows),
            "E_warp error band ×10³": 1000 * metrics.flow_warping_error(outputs - truth, flows, bands),
            "s/frame": seconds,
        }
        rows.append(Row("ground truth", clip.clip.name, label, values))
    return rows


def evaluate_real(
    runner: _Runner, clips_root: Path, engines: list[str], frames: int = REAL_FRAMES
) -> list[Row]:
    rows = []
    for name, folder, mode, argument in REAL_CLIPS:
        root = clips_root / folder
        if not (root / "frames").is_dir() or not (root / "mask").is_dir():
            continue
        spec = {
            "plate": str(root / "frames"),
            "matte": str(root / "mask"),
            "frames": f"0-{frames - 1}",
            "band": "10%",
        }
        spec[mode] = str(root / argument) if mode == "edited" else argument
        plates = np.stack([read_pixels(p)[..., :3] for p in sorted((root / "frames").iterdir())[:frames]])
        bands = _bands(str(root / "mask" / "#####.png"), list(range(frames)), "10%")
        flows = metrics.input_flows(plates)
        hard = None
        for label in engines:
            outputs, seconds = runner.fuse(label, **spec)
            if label == "hard":
                hard = outputs
            values = {**_no_reference(outputs, plates, bands, flows), "s/frame": seconds}
            if hard is not None:
                outside = ~bands
                values["PSNR outside band vs hard"] = statistics.mean(
                    metrics.psnr(o, h, m) for o, h, m in zip(outputs, hard, outside, strict=True)
                )
            rows.append(Row("real", name, label, values))
    return rows


def _cell(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "∞"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"


def table(rows: list[Row], mean_label: str, means_only: bool = False) -> list[str]:
    """One Markdown table: per-clip rows (unless ``means_only``), then each engine's mean over clips."""
    columns = list(dict.fromkeys(k for r in rows for k in r.values))
    lines = ["| clip | engine | " + " | ".join(columns) + " |", "|---|---|" + "---:|" * len(columns)]
    for r in [] if means_only else rows:
        lines.append(
            f"| {r.clip} | {r.engine} | " + " | ".join(_cell(r.values.get(c)) for c in columns) + " |"
        )
    for engine in dict.fromkeys(r.engine for r in rows):
        mine = [r for r in rows if r.engine == engine]
        means = []
        for c in columns:
            finite = [r.values[c] for r in mine if c in r.values and math.isfinite(r.values[c])]
            means.append(_cell(statistics.mean(finite)) if finite else _cell(float("nan")))
        lines.append(f"| **{mean_label}** | **{engine}** | " + " | ".join(means) + " |")
    return lines


def _means_section(rows: list[Row], dataset: str, title: str, text: str = "") -> list[str]:
    """A subsection of each engine's means over the clips of ``dataset`` (none if it has no rows)."""
    mine = [r for r in rows if r.dataset == dataset]
    if not mine:
        return []
    return [
        "",
        f"### {title} (means over the clips)",
        "",
        *([text, ""] if text else []),
        *table(mine, "mean", means_only=True),
    ]


def run_benchmark(
    out: Path,
    quick: bool = False,
    engines: list[str] | None = None,
    clips_root: Path | None = None,
    figures: Path | None = None,
    device: str = "auto",
    cache: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    for module, package in (
        ("skimage", "scikit-image"),
        ("cv2", "opencv-python-headless"),
        ("matplotlib", "matplotlib"),
    ):
        try:
            __import__(module)
        except ImportError as error:
            raise MissingDependencyError(
                f"the benchmark needs {package}: pip install 'movingcolor[dev]'"
            ) from error
    # What the section says reproduces it: this run's own choices, not only --quick.
    command = reproduce_command(
        "movingcolor bench",
        {"quick": quick, "engines": ",".join(engines) if engines else None, "device": device, "out": out},
        {"device": "auto", "out": Path("BENCHMARKS.md")},
    )
    engines = engines or default_engines()
    say = progress or (lambda message: log.info("%s", message))
    rows: list[Row] = []
    logger = logging.getLogger("movingcolor")
    level = logger.level
    with tempfile.TemporaryDirectory(prefix="movingcolor-bench-") as scratch:
        runner = _Runner(Path(scratch), device)
        clips = [materialise(c, cache) for c in clip_set(quick)]
        logger.setLevel(max(level, logging.WARNING))  # run_shot's per-shot logs would drown the progress
        try:
            for clip in clips:
                say(f"ground truth: {clip.clip.name}")
                rows += evaluate_clip(runner, clip, engines)
            for clip in clips:
                say(f"ground truth, host composite only: {clip.clip.name}")
                composite = host_composite(clip, Path(scratch) / "edited" / clip.clip.key())
                for row in evaluate_clip(runner, clip, _with_colour_heads(engines), edited=composite):
                    row.dataset = "ground truth edited"
                    rows.append(row)
            if not quick:
                # The paper evaluates several edge ratios; 20% is the second reference point.
                for clip in clips:
                    say(f"ground truth at a 20% band: {clip.clip.name}")
                    for row in evaluate_clip(runner, clip, engines, band="20%"):
                        row.dataset = "ground truth 20%"
                        rows.append(row)
            if clips_root is not None and clips_root.is_dir():
                say("real clips")
                rows += evaluate_real(runner, clips_root, engines, 8 if quick else REAL_FRAMES)
            if figures is not None:
                from .figures import write_figures

                say("figures")
                write_figures(runner, clips, engines, figures, quick)
                if clips_root is not None and clips_root.is_dir():
                    from .figures import write_before_after

                    shown = [e for e in engines if e == "guided" or e.startswith("movingcolor")]
                    write_before_after(runner, clips_root, shown, figures / "bear_before_after.png")
        finally:
            logger.setLevel(level)
    section = [
        "## Fusion quality" + (" (quick)" if quick else ""),
        "",
        f"Reproduce with `{command}`. Every engine runs through `movingcolor fuse`'s own code on the "
        "same inputs; metrics are computed on sRGB-encoded frames (formulas and sources: "
        "`server/movingcolor/bench/metrics.py`). Higher is better for PSNR, SSIM and PC; lower for "
        "ΔE00, TD, E_warp and E_warp error. TD is against the plate, so a grade's own contrast change "
        "counts too: the *truth* row gives each clip's floor; likewise for E_warp, which an engine that "
        "blurs over time can push below the truth's, while E_warp error (the E_warp of output minus "
        "truth) counts only change the truth does not have. The ground-truth set is generated "
        "(`server/movingcolor/bench/groundtruth.py`): soft object alpha with anti-aliasing, hair, holes "
        "and motion blur, camera and object motion, a coarse matte that grows, shrinks and shifts per frame.",
        "",
        *machine_lines(
            (
                ("numpy", "numpy"),
                ("OpenColorIO", "opencolorio"),
                ("scikit-image", "scikit-image"),
                ("OpenCV", "opencv-python-headless"),
            )
        ),
        "",
        "### Ground truth",
        "",
        *table([r for r in rows if r.dataset == "ground truth"], "mean"),
    ]
    section += _means_section(rows, "ground truth 20%", "Ground truth, band 20% of object size")
    section += _means_section(
        rows,
        "ground truth edited",
        "Ground truth, host composite only (`--edited`)",
        "The same clips, but each engine is given only the host's hard-edged composite of the "
        "graded plate through the coarse matte, not the grade. Engines recover the grade from it "
        "(a colour fit inside the matte); `movingcolor:MODEL` uses its blend head where that fit "
        "is good, its colour head otherwise; `movingcolor:MODEL:color` always uses the colour head.",
    )
    real = [r for r in rows if r.dataset == "real"]
    if real:
        section += [
            "",
            "### Real clips (no reference: stability, texture, fidelity outside the band)",
            "",
            f"DAVIS clips at 432×240, first {8 if quick else REAL_FRAMES} frames, "
            "tight object masks as mattes, 10% band.",
            "",
            *table(real, "mean"),
        ]
    if figures is not None:
        relative = figures.relative_to(out.parent) if figures.is_relative_to(out.parent) else figures
        section += [
            "",
            "### Figures",
            "",
            f"![band ΔE vs band width]({relative}/band_width.png) "
            f"![band ΔE vs resolution]({relative}/resolution.png) "
            f"![band ΔE by grade]({relative}/grade_type.png)",
            "",
            f"Stills (truth and each engine, cropped around the band): ![stills]({relative}/stills.png)",
            "",
            f"Temporal profiles (one pixel row through the band, stacked over time; flicker shows as ragged "
            f"lines): ![profiles]({relative}/profiles.png)",
        ]
    replace_section(out, "\n".join(section) + "\n")
    return rows
