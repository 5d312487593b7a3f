"""The real-footage benchmark's BENCHMARKS.md section and JSON: means by size, split, matte
and clip, each with its ratio to ``hard`` over the same shots, and the contact sheets."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Sequence

from .real_clips import HELD_OUT_CLIPS
from .report import machine_lines

SECTION = "## Real footage (DAVIS, true masks)"
_PACKAGES = (
    ("numpy", "numpy"),
    ("OpenColorIO", "opencolorio"),
    ("OpenImageIO", "OpenImageIO"),
    ("scikit-image", "scikit-image"),
    ("OpenCV", "opencv-python-headless"),
    ("torch", "torch"),
)
_HEADER = "band ΔE00 | ÷ hard | temporal error ×10³ | ÷ hard"


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.mean(finite) if finite else math.nan


def engine_means(
    shots: list, keep: Callable[[object], bool] = lambda shot: True
) -> dict[str, dict[str, float]]:
    """Per engine, over the shots ``keep`` selects: mean band ΔE00, mean temporal error, mean
    seconds per frame, each ratio to hard's mean over the same shots, and the number of shots."""
    chosen = [s for s in shots if keep(s)]
    means: dict[str, dict[str, float]] = {}
    for engine in dict.fromkeys(s.engine for s in chosen):
        mine = [s for s in chosen if s.engine == engine]
        means[engine] = {
            "band_delta_e": _mean([s.band_delta_e for s in mine]),
            "temporal_error": _mean([s.temporal_error for s in mine]),
            "seconds_per_frame": _mean([s.seconds_per_frame for s in mine]),
            "shots": len(mine),
        }
    hard = means.get("hard")
    for values in means.values():
        for key in ("band_delta_e", "temporal_error"):
            base = hard[key] if hard else math.nan
            values[f"{key}_vs_hard"] = values[key] / base if base and math.isfinite(base) else math.nan
    return means


def _number(value: float, digits: int = 3) -> str:
    if not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}" if abs(value) < 10 else f"{value:.2f}"


def _cells(values: dict[str, float]) -> str:
    return " | ".join(
        [
            _number(values["band_delta_e"]),
            _number(values["band_delta_e_vs_hard"], 2),
            _number(values["temporal_error"]),
            _number(values["temporal_error_vs_hard"], 2),
        ]
    )


def _splits(clips: list[str]) -> list[tuple[str, Callable[[object], bool]]]:
    """(label, selection) for all clips, the training split and the held-out clips (those present)."""
    seen = [c for c in clips if c not in HELD_OUT_CLIPS]
    held = [c for c in clips if c in HELD_OUT_CLIPS]
    splits: list[tuple[str, Callable[[object], bool]]] = [(f"all ({len(clips)})", lambda s: True)]
    if seen and held:
        splits.append((f"training split: {', '.join(seen)}", lambda s: not s.held_out))
    if held:
        splits.append((f"held out: {', '.join(held)}", lambda s: s.held_out))
    return splits


def _by_size(shots: list) -> list[str]:
    lines = [
        f"| size | clips | engine | {_HEADER} | s/frame |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for size in dict.fromkeys(s.size for s in shots):
        clips = list(dict.fromkeys(s.clip for s in shots if s.size == size))
        for label, keep in _splits(clips):
            means = engine_means(shots, lambda s, keep=keep, size=size: s.size == size and keep(s))
            for engine, values in means.items():
                lines.append(
                    f"| {size} | {label} | {engine} | {_cells(values)} | "
                    f"{_number(values['seconds_per_frame'])} |"
                )
    return lines


def _by(shots: list, field: str, title: str) -> list[str]:
    lines = [f"| size | {title} | engine | {_HEADER} |", "|---|---|---|---:|---:|---:|---:|"]
    for size in dict.fromkeys(s.size for s in shots):
        for value in dict.fromkeys(getattr(s, field) for s in shots if s.size == size):
            means = engine_means(
                shots, lambda s, size=size, value=value: s.size == size and getattr(s, field) == value
            )
            shown = f"{value} (held out)" if field == "clip" and value in HELD_OUT_CLIPS else value
            for engine, values in means.items():
                lines.append(f"| {size} | {shown} | {engine} | {_cells(values)} |")
    return lines


def _sheet_caption(sheet: dict) -> str:
    """One line on a contact sheet (a ``ContactSheet.record``): what it shows, and where."""
    window = sheet["window"]
    zoom = f", shown ×{sheet['zoom']}" if sheet["zoom"] > 1 else ""
    return (
        f"- [{sheet['clip']} at {sheet['size']}]({sheet['path']}) ({sheet['frame']}): "
        f"{sheet['matte']} matte, {sheet['grade']} grade; rows frames "
        f"{', '.join(map(str, sheet['frames']))}; a {window['side']}x{window['side']} px window at "
        f"x {window['left']}, y {window['top']}{zoom}; columns {' | '.join(sheet['columns'])}; "
        f"below, ΔE00 against the truth, 0 black to {sheet['error_scale']:g} or more white"
    )


def _sheets(sheets: Sequence[dict]) -> list[str]:
    if not sheets:
        return []
    scale = sheets[0]["error_scale"]
    return [
        "",
        "### Contact sheets",
        "",
        "One shot per clip and size, the same window of every frame around the edge (where the "
        "scoring band is densest in the middle frame). Top block: the pictures, one row per frame, "
        "columns the truth then each engine. Bottom block, in the same places: each engine's error "
        f"map, per-pixel CIEDE2000 against the truth, linear from 0 (black) to {scale:g} or more "
        "(white); under the truth, the scoring band (blue).",
        "",
        *map(_sheet_caption, sheets),
    ]


def _band_text(band: str) -> str:
    """``--band`` as a reader says it: "10%", or "12 px" for a width in pixels."""
    return band if band.endswith("%") else f"{band.removesuffix('px')} px"


def section(shots: list, command: str, settings: dict, json_path: str, sheets: Sequence[dict] = ()) -> str:
    """The markdown section, from its ``## `` title; ``sheets``: the contact sheets' records
    (``ContactSheet.record``), their paths relative to the markdown file."""
    mattes = settings["mattes"]
    rough, polygon = mattes["rough"], mattes["polygon"]
    grades = "; ".join(f"{name} `{grade}`" for name, grade in settings["grades"].items())
    lines = [
        SECTION,
        "",
        f"Reproduce with `{command}`. Real DAVIS clips (`../shared/data/clips/davis480`, 854x480) "
        f"with their true object masks M, the first {settings['frames']} frames of each, at "
        f"{' and '.join(settings['clips'])} (a size other than native: frames resized by "
        "OpenImageIO, masks resized the same way and cut at half). The truth is the plate graded "
        "through M in scene-linear light, what `movingcolor fuse --engine hard` makes from M. "
        "Engines never see M: each gets a matte re-drawn from M for every frame by a seeded "
        "generator (`server/movingcolor/masks/redrawn.py`), *rough* (M grown or shrunk by "
        f"{rough['grow'][0]:g}-{rough['grow'][1]:g} px, shifted by up to {rough['shift']:g} px, "
        f"blurred σ {rough['blur']:g} px and cut at half) or *polygon* (a roto through points every "
        f"{polygon['spacing'][0]:g}-{polygon['spacing'][1]:g} px along M's contour, each moved by up "
        f"to {polygon['jitter']:g} px, filled), distances scaled with the frame; the grade "
        f"({grades}); and a {_band_text(settings['band'])} band; each runs through `movingcolor fuse`'s "
        "own code. "
        "Scored on sRGB-encoded frames in the band: per frame the product's edge band of the given "
        "matte united with the same band around M. Band ΔE00: mean CIEDE2000 there; temporal error: "
        "E_warp of output minus truth there (×10³, change the truth does not have; "
        "`server/movingcolor/bench/metrics.py`). Lower is better for both. Truth through a binary "
        "mask makes every soft edge pay a little, so compare the ratios to hard (an engine's mean "
        "over the same shots divided by hard's). Means are over clips, both mattes and both grades. "
        f"Held-out clips ({', '.join(HELD_OUT_CLIPS)}; `HELD_OUT_CLIPS`) are kept out of training. "
        f"Every shot's figures: [{json_path}]({json_path}).",
        "",
        *machine_lines(_PACKAGES),
        f"- Run: {len(shots)} shots in {settings['seconds'] / 60:.1f} min",
        "",
        "### Means by size",
        "",
        *_by_size(shots),
        "",
        "### Means by matte",
        "",
        *_by(shots, "matte", "matte"),
        "",
        "### Per clip (means over mattes and grades)",
        "",
        *_by(shots, "clip", "clip"),
        *_sheets(sheets),
    ]
    return "\n".join(lines) + "\n"


def results_json(shots: list, command: str, settings: dict, sheets: Sequence[dict] = ()) -> dict:
    """Every shot's figures, the means the section shows, how they were made, the contact sheets."""
    means = {}
    for size in dict.fromkeys(s.size for s in shots):
        clips = list(dict.fromkeys(s.clip for s in shots if s.size == size))
        means[size] = {
            label: engine_means(shots, lambda s, keep=keep, size=size: s.size == size and keep(s))
            for label, keep in _splits(clips)
        }
    return {
        "section": SECTION.removeprefix("## "),
        "command": command,
        "machine": machine_lines(_PACKAGES),
        "settings": settings,
        "means": _finite(means),
        "shots": _finite([dataclasses.asdict(s) for s in shots]),
        "sheets": list(sheets),
    }


def _finite(value):
    """``value`` with NaN as None: JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
