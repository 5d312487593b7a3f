"""The demo's generated shot written as files, with the grade and band that suit it: the input of
``movingcolor demo`` and of the benchmarks, and the shot a server warms up on
(``service/warm_up.py``)."""

from __future__ import annotations

from pathlib import Path

from ..color.config import ColorConfig
from ..errors import OutputError
from ..frames.image_io import write_image
from ..synthetic import ProceduralShot, generate_shot

DEMO_GRADE = "slope=1.3,1.05,0.75;offset=0.02,0,-0.02;power=1.0;sat=1.25"
DEMO_BAND = "10"
FIRST_FRAME = 1001


def write_shot_files(folder: Path, shot: ProceduralShot) -> tuple[str, str]:
    """Write ``shot`` in ``folder`` as a scene-linear EXR plate and a PNG matte, frames from
    :data:`FIRST_FRAME`; returns their patterns."""
    config = ColorConfig()
    for part in ("plate", "matte"):
        try:
            (folder / part).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(
                f"cannot create {folder / part} ({error.strerror or error}); give a folder you can write"
            ) from error
    for index in range(len(shot.plate)):
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


def write_demo_inputs(
    folder: Path, frames: int = 16, seed: int = 7, width: int = 320, height: int = 180
) -> tuple[str, str]:
    """Write the demo's shot as a scene-linear EXR plate and a PNG matte; returns their patterns."""
    return write_shot_files(folder, generate_shot(width=width, height=height, frames=frames, seed=seed))
