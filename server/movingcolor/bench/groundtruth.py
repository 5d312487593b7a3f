"""The ground-truth set: generated clips where the right answer is known.

Each clip is a procedural scene (``synthetic``) with a true soft alpha, a grade,
and a coarse, flickering matte. The truth is the alpha-composite, in scene-linear
light, of the graded and the original plate by the *true* alpha; every engine
only sees the coarse matte. Clips are written once per content hash into a cache
folder (never into the repository) as a scene-linear EXR plate, a PNG matte and
an EXR truth, so runs after the first only read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cache_folder import cache_folder
from ..color.config import ColorConfig, apply_processor
from ..color.grade import parse_grade
from ..frames.image_io import write_image
from ..synthetic import SceneSpec, generate_scene

FIRST_FRAME = 1
GENERATOR_VERSION = 1

# Named looks, the regional grades colorists reach for.
LOOKS = {
    "sky bluer": "slope=0.85,0.97,1.25;offset=0,0,0.01;sat=1.15",
    "face warmer": "warmth=0.45;exposure=0.3",
    "jacket desaturated": "saturation=-0.75;contrast=0.1",
    "random": "brightness=0.08;contrast=0.4;saturation=0.6;hue=0.06;gamma=1.3",
}


@dataclass(frozen=True)
class GroundTruthClip:
    name: str
    scene: SceneSpec
    look: str
    band: str = "10%"

    @property
    def grade(self) -> str:
        return LOOKS[self.look]

    def key(self) -> str:
        text = json.dumps([GENERATOR_VERSION, dataclasses.asdict(self.scene), self.grade], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def clip_set(quick: bool = False) -> list[GroundTruthClip]:
    if quick:
        return [
            GroundTruthClip("hair 432x240", SceneSpec(432, 240, 8, seed=11), "face warmer"),
            GroundTruthClip(
                "holes+blur 432x240", SceneSpec(432, 240, 8, seed=12, holes=2, motion_blur=5), "sky bluer"
            ),
        ]
    return [
        GroundTruthClip("hair 432x240", SceneSpec(432, 240, 16, seed=11), "face warmer"),
        GroundTruthClip(
            "holes+blur 432x240", SceneSpec(432, 240, 16, seed=12, holes=2, motion_blur=5), "sky bluer"
        ),
        GroundTruthClip(
            "fast 432x240", SceneSpec(432, 240, 16, seed=13, speed=0.9, motion_blur=5), "jacket desaturated"
        ),
        GroundTruthClip("random look 432x240", SceneSpec(432, 240, 16, seed=14, holes=1), "random"),
        GroundTruthClip(
            "hair 960x540", SceneSpec(960, 540, 12, seed=15, matte_error=5, matte_shift=3), "face warmer"
        ),
        GroundTruthClip(
            "hair 1920x1080", SceneSpec(1920, 1080, 8, seed=16, matte_error=8, matte_shift=4), "sky bluer"
        ),
    ]


@dataclass
class MaterialisedClip:
    clip: GroundTruthClip
    folder: Path
    plate: str  # sequence patterns
    matte: str
    truth: str
    frames: int


def default_cache() -> Path:
    return cache_folder("groundtruth")


def materialise(clip: GroundTruthClip, cache: Path | None = None) -> MaterialisedClip:
    """Write ``clip`` into the cache (once) and return its sequence patterns."""
    folder = (cache or default_cache()) / clip.key()
    result = MaterialisedClip(
        clip,
        folder,
        str(folder / "plate.####.exr"),
        str(folder / "matte.####.png"),
        str(folder / "truth.####.exr"),
        clip.scene.frames,
    )
    if (folder / "complete").exists():
        return result
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    config = ColorConfig()
    linear = config.scene_linear
    shot = generate_scene(clip.scene)
    grade = _linear_grade(clip.grade, config)
    attributes = {"oiio:ColorSpace": linear}
    for index in range(clip.scene.frames):
        number = FIRST_FRAME + index
        plate = config.convert(shot.plate[index], config.srgb_encoded, linear)
        alpha = shot.alpha[index][..., None]
        truth = alpha * apply_processor(grade, plate) + (1.0 - alpha) * plate
        write_image(staging / f"plate.{number:04d}.exr", plate, pixel_type="float", attributes=attributes)
        write_image(staging / f"truth.{number:04d}.exr", truth, pixel_type="float", attributes=attributes)
        write_image(staging / f"alpha.{number:04d}.exr", alpha, channels=("A",), pixel_type="float")
        write_image(staging / f"matte.{number:04d}.png", shot.matte[index][..., None], channels=("Y",))
    (staging / "clip.json").write_text(json.dumps(dataclasses.asdict(clip), indent=2))
    (staging / "complete").write_text("")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(staging, folder)
    return result


def _linear_grade(spec: str, config: ColorConfig):
    linear = config.scene_linear
    return parse_grade(spec, config).processor(config, linear, linear, linear)


def host_composite(clip: MaterialisedClip, folder: Path) -> str:
    """What a host hands over when only its composite is known (``--edited``): the graded
    plate cut in through the coarse matte, hard-edged, in scene-linear light. Returns the
    sequence pattern of the frames written into ``folder``."""
    from ..frames.image_io import read_pixels
    from ..frames.matte import matte_from_pixels

    config = ColorConfig()
    grade = _linear_grade(clip.clip.grade, config)
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(FIRST_FRAME, FIRST_FRAME + clip.frames):
        plate = read_pixels(Path(clip.plate.replace("####", f"{number:04d}")))
        matte = matte_from_pixels(read_pixels(Path(clip.matte.replace("####", f"{number:04d}"))))[..., None]
        edited = matte * apply_processor(grade, plate) + (1.0 - matte) * plate
        write_image(
            folder / f"edited.{number:04d}.exr",
            edited,
            pixel_type="float",
            attributes={"oiio:ColorSpace": config.scene_linear},
        )
    return str(folder / "edited.####.exr")


def truth_is_consistent(clip: MaterialisedClip, frame: int) -> float:
    """Largest deviation of the stored truth from a recomposite with the stored alpha."""
    from ..frames.image_io import read_pixels

    grade = _linear_grade(clip.clip.grade, ColorConfig())
    plate = read_pixels(Path(clip.plate.replace("####", f"{frame:04d}")))
    alpha = read_pixels(clip.folder / f"alpha.{frame:04d}.exr")
    truth = read_pixels(Path(clip.truth.replace("####", f"{frame:04d}")))
    expected = alpha * apply_processor(grade, plate) + (1.0 - alpha) * plate
    return float(np.abs(truth - expected).max())
