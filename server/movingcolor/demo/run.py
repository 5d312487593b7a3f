"""``movingcolor demo``: write the procedural shot, fuse it, make a contact sheet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..color.config import ColorConfig
from ..frames.image_io import read_pixels, write_image
from ..jobs import ShotReport, ShotSpec, run_shot
from ..synthetic import generate_shot

DEMO_GRADE = "slope=1.3,1.05,0.75;offset=0.02,0,-0.02;power=1.0;sat=1.25"
FIRST_FRAME = 1001


@dataclass
class DemoResult:
    folder: Path
    contact_sheet: Path
    hard: ShotReport
    fused: ShotReport


def write_demo_inputs(
    folder: Path, frames: int = 16, seed: int = 7, width: int = 320, height: int = 180
) -> tuple[str, str]:
    """Write the shot as a scene-linear EXR plate and a PNG matte; returns their patterns."""
    config = ColorConfig()
    shot = generate_shot(width=width, height=height, frames=frames, seed=seed)
    (folder / "plate").mkdir(parents=True, exist_ok=True)
    (folder / "matte").mkdir(parents=True, exist_ok=True)
    for index in range(frames):
        number = FIRST_FRAME + index
        linear = config.convert(shot.plate[index], config.srgb_encoded, config.scene_linear)
        write_image(
            folder / "plate" / f"plate.{number:04d}.exr",
            linear,
            attributes={"oiio:ColorSpace": config.scene_linear},
        )
        write_image(
            folder / "matte" / f"matte.{number:04d}.png", shot.matte[index][..., None], channels=("Y",)
        )
    return str(folder / "plate" / "plate.####.exr"), str(folder / "matte" / "matte.####.png")


def contact_sheet(rows: list[list[Path]], path: Path, config: ColorConfig, colorspace: str) -> None:
    """A PNG grid: one row per frame, one column per version, shown sRGB-encoded."""
    gap = 4
    images = [
        [config.convert(read_pixels(p)[:, :, :3], colorspace, config.srgb_encoded) for p in row]
        for row in rows
    ]
    height, width = images[0][0].shape[:2]
    sheet = np.ones((len(rows) * (height + gap) - gap, len(rows[0]) * (width + gap) - gap, 3), np.float32)
    for r, row in enumerate(images):
        for c, image in enumerate(row):
            sheet[
                r * (height + gap) : r * (height + gap) + height,
                c * (width + gap) : c * (width + gap) + width,
            ] = image
    write_image(path, np.clip(sheet, 0.0, 1.0))


def run_demo(
    folder: Path, engine: str = "guided", frames: int = 16, progress: Callable | None = None
) -> DemoResult:
    folder = Path(folder)
    plate, matte = write_demo_inputs(folder, frames)
    common = dict(plate=plate, matte=matte, grade=DEMO_GRADE, band="10")
    hard = run_shot(ShotSpec(out=str(folder / "hard" / "hard.####.exr"), engine="hard", **common))
    fused = run_shot(
        ShotSpec(out=str(folder / engine / f"{engine}.####.exr"), engine=engine, **common), progress
    )
    config = ColorConfig()
    picks = [FIRST_FRAME, FIRST_FRAME + frames // 2, FIRST_FRAME + frames - 1]
    rows = [
        [
            Path(plate.replace("####", f"{n:04d}")),
            Path(hard.written[n - FIRST_FRAME]),
            Path(fused.written[n - FIRST_FRAME]),
        ]
        for n in picks
    ]
    sheet = folder / "contact_sheet.png"
    contact_sheet(rows, sheet, config, fused.colorspaces["output"])
    return DemoResult(folder, sheet, hard, fused)
