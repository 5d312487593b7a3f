"""Resuming a shot: what its frames are made from (the fingerprint), and which are already written.

A rerun leaves alone every output frame that exists, reads back whole and carries
the fingerprint the current inputs and settings give (see ``fingerprint``).
"""

from __future__ import annotations

from dataclasses import asdict

from ..errors import MovingColorError
from ..frames.image_io import read_header, read_pixels
from ..frames.output_pattern import written_for
from ..frames.overlap import absolute_spelling
from . import fingerprint
from .plan import ShotPlan

#: Settings that select frames or say where they go, not what any frame's pixels are.
_NOT_PIXELS = ("frames", "handles", "force", "out", "device")


def shot_fingerprint(plan: ShotPlan) -> str:
    """What every output frame of the planned shot is made from."""
    settings = {key: value for key, value in asdict(plan.spec).items() if key not in _NOT_PIXELS}
    if plan.colorspaces.grade_canonical:
        # A CDL written with spaces or with commas, one number or three alike, is one grade.
        settings["grade"] = plan.colorspaces.grade_canonical
    engine = plan.engine
    spaces = plan.colorspaces
    # Every conversion a frame goes through, each source's space to each space a frame is made in:
    # a colourspace defined by a LUT file edited in place (a show LUT the plate or the graded plate
    # is read through) changes its processor's identity, not the config's.
    conversions = [
        spaces.config.converter(source, target)
        for source in dict.fromkeys(s for s in (spaces.plate, spaces.other, spaces.working) if s)
        for target in (spaces.working, spaces.display, spaces.output)
    ]
    # The band as the tool records it: "12" and "12px" are one band, and redo nothing.
    settings.update(
        engine=engine.name,
        model=engine.model,
        colorspaces=plan.colorspaces.by_role,
        band=str(plan.band_width),
        # OpenColorIO's own identities: of the config as resolved (its content and the context
        # variables it reads, such as $SHOT) and of the grade's processors (their LUTs' contents).
        # A config from $OCIO, a look whose $SHOT names another LUT, or a LUT edited in place
        # would otherwise keep old frames.
        ocio=[spaces.config.config.getCacheID()]
        + [
            processor.getCacheID()
            for processor in (spaces.grade_to_working, spaces.grade_to_output, *conversions)
            if processor is not None
        ],
    )
    # Each role's input by its absolute spelling (a relative path and the absolute one a farm's job
    # writes name one shot); a stream has no file to name.
    roles = (("plate", plan.sources.plate), ("matte", plan.sources.matte))
    roles += (("graded", plan.sources.other), ("edited", plan.sources.other))
    for role, source in roles:
        if settings.get(role) not in (None, "alpha") and source is not None and source.origin():
            settings[role] = absolute_spelling(settings[role])
    sources = plan.sources.present
    inputs = sorted({source.stored_in(n) for source in sources for n in plan.frames.clip})
    weights = getattr(engine, "weights", None)
    return fingerprint.fingerprint(settings, inputs, [weights] if weights else [])


def finished_frames(plan: ShotPlan, shot_fingerprint: str) -> frozenset[int]:
    """Frames of the render range whose output exists, reads back whole and carries
    ``shot_fingerprint``: a rerun leaves them alone."""
    if plan.spec.force or plan.pattern is None:
        return frozenset()
    done = set()
    for number in plan.range:
        path = plan.pattern.path(number)
        if not path.exists():
            continue
        try:
            header = read_header(path)
            if not written_for(header.attributes, shot_fingerprint, number):
                continue
            read_pixels(path)  # truncated or corrupt frames are redone
        except MovingColorError:
            continue
        done.add(number)
    return frozenset(done)
