"""A trained run as a shippable model folder (weights, config, model card)."""

from __future__ import annotations

import csv
import datetime
import os
from pathlib import Path

from ..model.checkpoint import save_checkpoint
from .trainer import Trainer


def _validation(run: Path, step: int | None) -> dict:
    """The validation of the exported weights: of ``step`` (the best validated), else the last."""
    path = run / "validation.csv"
    if not path.exists():
        return {}
    rows = list(csv.DictReader(path.open()))
    if step is not None:
        rows = [row for row in rows if row.get("step") == str(step)]
    return rows[-1] if rows else {}


def _wall_seconds(run: Path) -> float:
    """Training time summed over segments (each segment's clock restarts at zero)."""
    path = run / "losses.csv"
    if not path.exists():
        return 0.0
    total, previous = 0.0, 0.0
    for row in csv.DictReader(path.open()):
        seconds = float(row["seconds"])
        total += seconds - previous if seconds >= previous else seconds
        previous = seconds
    return total


def export_model(trainer: Trainer, folder: Path, name: str, hardware: str, extra: str = "") -> Path:
    c = trainer.config
    heads = trainer.network.config  # the heads' settings as run: the config's, or its init model's
    trained_slope = heads.edge_contrast
    network = trainer.network_for_export()
    validation = _validation(trainer.run, trainer.exported_step)
    mode = {
        "regional": "regional (the blend head: grade inside a soft sprite alpha, coarse flickering matte)",
        "paper": "paper (the colour head: whole frame graded, band removed)",
        "composite": "composite (the colour head: regional clips, only the host's composite known)",
        "mixed": f"mixed (regional 3 : {'composite' if heads.color_start == 'composite' else 'paper'} 1)",
    }[c.mode]
    rate = f"{c.learning_rate:g}" + (
        f", cosine decay to {c.final_learning_rate:g}" if c.final_learning_rate >= 0 else ", constant"
    )
    validated = "\n".join(f"- {k}: {v}" for k, v in validation.items()) or "- none recorded"
    lines = [
        f"# {name}",
        "",
        f"The MovingColor network, `{c.network}` configuration, trained by `movingcolor train`.",
        "Architecture and deviations from the paper: docs/model.md.",
        "",
        "## Training",
        "",
        f"- Mode: {mode}",
        f"- Starting matte of the blend head: {heads.matte_start}"
        + (
            " (the guided engine's refinement; the network learns its change)"
            if heads.matte_start == "guided"
            else ""
        ),
        f"- Initialised from: {c.init or 'random weights'}"
        + "".join(
            f"; its {restarted} (its last layer restarted at zero)" for restarted in trainer.restarted_heads
        ),
        *(
            [
                f"- Edge curve: trained through slope {trained_slope:g}, runs with"
                f" slope {network.config.edge_contrast:g} (the blend head's matte steepened about 0.5)"
            ]
            if network.config.edge_contrast != trained_slope
            else []
        ),
        "- Data: generated clips from still photographs (scikit-image's sample photos and the photos",
        "  under /usr/share/backgrounds when installed) and procedural textures, animated with camera",
        "  pan/zoom and moving soft-edged sprites; random grades (the paper's eight adjustments with",
        "  probability 0.2 each, or a random ASC CDL) applied through OpenColorIO.",
        *(
            [f"- Fast motion: {c.fast_fraction:.0%} of the clips' sprites move about four times as fast"]
            if c.fast_fraction
            else []
        ),
        *(
            [f"- Creative LUTs: {c.lut_fraction:.0%} of the clips graded by a random LUT file instead"]
            if c.lut_fraction
            else []
        ),
        *(
            [
                f"- Real footage: {c.clip_fraction:.0%} of the regional clips cut from real video with a"
                f" true object mask ({', '.join(Path(os.path.expandvars(f)).name for f in c.clip_folders)}):"
                " random clip, start, direction and scale, the mask resized by area averaging as the true"
                " alpha, mattes re-drawn per frame with errors over the full range"
            ]
            if c.clip_fraction and c.clip_folders
            else []
        ),
        *(
            ["- Matte errors: over the full range (nearly right, the usual few pixels, beyond the band)"]
            if c.matte_errors == "full"
            else []
        ),
        f"- Steps: {trainer.exported_step or trainer.step} (of {trainer.step} trained) of batch {c.batch};"
        f" clips of {c.frames} frames ({c.local} predicted)"
        f" at {c.width}x{c.height}; learning rate {rate}",
        f"- Losses: band L1 on alpha (x{c.alpha_weight}) and composite (x{c.rgb_weight}),"
        f" temporal change (x{c.temporal_weight}), texture (gradients + FFT, x{c.texture_weight}),"
        f" T-PatchGAN (x{c.gan_weight})",
        f"- Wall time: {_wall_seconds(trainer.run) / 60:.1f} minutes on {hardware} ({trainer.device})",
        f"- Seed: {c.seed}; exported {datetime.date.today().isoformat()}",
        "",
        "## Validation (held-out generated clips, band, display encoding)",
        "",
        validated,
        extra,
    ]
    card = "\n".join(lines) + "\n"
    return save_checkpoint(
        network,
        folder,
        name,
        card,
        metadata={"training": {"config": c.to_dict(), "steps": trainer.exported_step or trainer.step}},
    )
