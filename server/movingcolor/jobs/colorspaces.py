"""A shot's colourspaces: what each source is in, where the grade applies, what the output is in.

Chosen once per shot from the settings and what the sources declare (never guessed
silently: each choice is logged with its reason).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..color.config import ColorConfig
from ..color.grade import parse_grade
from ..frames.source import FrameSource
from ..spec import ShotSpec

log = logging.getLogger("movingcolor")


@dataclass
class ShotColorspaces:
    """The colourspaces of one shot, and the grade's processors when a grade is applied."""

    config: ColorConfig
    plate: str
    working: str  # scene-linear: the classical engines blend here
    display: str  # the bounded encoding the network sees
    output: str
    grade_space: str
    #: The graded or edited source's colourspace (None when a grade is applied).
    other: str | None = None
    #: The grade from the plate to the working space and to the output space (grade mode).
    grade_to_working: object = None
    grade_to_output: object = None
    #: What the output headers and the report record: the grade, or which plate stood in for it.
    grade_label: str = ""
    #: Each role's colourspace, for the report.
    by_role: dict[str, str] = field(default_factory=dict)


def choose_colorspaces(
    config: ColorConfig, spec: ShotSpec, mode: str, plate: FrameSource, other: FrameSource | None
) -> ShotColorspaces:
    chosen = config.choose(spec.plate_colorspace, plate.declared_colorspace, plate.is_float, "plate")
    plate_cs = chosen.name
    spaces = ShotColorspaces(
        config=config,
        plate=plate_cs,
        working=config.scene_linear,
        display=config.srgb_encoded,
        output=config.resolve(spec.out_colorspace) if spec.out_colorspace else plate_cs,
        grade_space=config.resolve(spec.grade_colorspace) if spec.grade_colorspace else plate_cs,
    )
    log.info("plate colourspace: %s (%s)", plate_cs, chosen.reason)
    spaces.by_role = {"plate": plate_cs, "working": spaces.working, "output": spaces.output}
    if mode == "grade":
        grade = parse_grade(spec.grade, config)
        spaces.grade_label = f"{grade.kind}: {grade.label}"
        spaces.grade_to_working = grade.processor(config, plate_cs, spaces.working, spaces.grade_space)
        spaces.grade_to_output = grade.processor(config, plate_cs, spaces.output, spaces.grade_space)
        spaces.by_role["grade"] = grade.colorspace or spaces.grade_space
        log.info("grade %s applied in %s", spaces.grade_label, spaces.by_role["grade"])
    else:
        chosen_other = config.choose(spec.graded_colorspace, other.declared_colorspace, other.is_float, mode)
        spaces.other = chosen_other.name
        spaces.by_role[mode] = chosen_other.name
        spaces.grade_label = f"{mode} plate"
        log.info("%s colourspace: %s (%s)", mode, chosen_other.name, chosen_other.reason)
    return spaces
