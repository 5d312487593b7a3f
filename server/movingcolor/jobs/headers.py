"""What each fused frame records about how it was made (its EXR header, or the wire's attributes)."""

from __future__ import annotations

import functools

from .. import __version__
from ..errors import MovingColorError
from ..frames.image_io import CHROMATICITIES, TypedAttribute
from ..frames.output_pattern import FINGERPRINT_KEY, FRAME_KEY, PLATE_KEY
from .plan import ShotPlan
from .resume import shot_fingerprint

#: The header attribute of a fused frame that records its grade file's content.
GRADE_DIGEST_KEY = "movingcolor:grade_digest"


class FrameHeaders:
    """The header of each fused frame of a planned shot; the fingerprint is worked out once."""

    def __init__(self, plan: ShotPlan):
        self.plan = plan

    @functools.cached_property
    def fingerprint(self) -> str:
        return shot_fingerprint(self.plan)

    @functools.cached_property
    def plate(self) -> str:
        return self.plan.sources.plate.origin()

    def header(self, number: int, head: str) -> dict:
        """Frame ``number``'s header; ``head`` says how its band was decided (blend or color)."""
        plan = self.plan
        out_cs = plan.colorspaces.output
        return {
            **self._carried(number),
            "movingcolor:head": head,
            # The config's name for the colourspace, which MovingColor reads back first.
            "movingcolor:colorspace": out_cs,
            "movingcolor:ocio_config": plan.config.source,
            FRAME_KEY: number,
            "movingcolor:engine": plan.engine.name,
            "movingcolor:model": plan.engine.model,
            "movingcolor:version": __version__,
            "movingcolor:band": str(plan.band_width),
            "movingcolor:grade": plan.colorspaces.grade_label,
            # The grade file's content as the plan read it (a CDL republished in place is another
            # grade; its label names the file alone).
            **({GRADE_DIGEST_KEY: plan.colorspaces.grade_digest} if plan.colorspaces.grade_digest else {}),
            **({PLATE_KEY: self.plate} if self.plate else {}),
            FINGERPRINT_KEY: self.fingerprint,
            "Software": f"MovingColor {__version__}",
            **self._interop(out_cs),
        }

    def _interop(self, colorspace: str) -> dict[str, str]:
        """What other tools read the colourspace by: its interop ID where the config gives one.
        A name alone is not written there: OpenImageIO turns a name its own config knows into that
        config's interop ID, and a show's "linear" holding ACEScg became Rec.709's (lin_rec709_scene)."""
        interop = self.plan.config.interop_id(colorspace)
        return {"oiio:ColorSpace": interop} if interop else {}

    def _carried(self, number: int) -> dict[str, TypedAttribute]:
        """What frame ``number`` keeps of its plate file's header (``image_io.CONFORM_ATTRIBUTES``, read
        from the file or, for a streamed plate, from the file sent; a video's rate, pixel aspect and
        each frame's timecode): the chromaticities only where the output's colourspace is the plate's."""
        plan = self.plan
        try:
            carried = plan.sources.plate.carried_attributes(number)
        except MovingColorError:  # the plate frame itself was read: a header read again that fails is no loss
            return {}
        # Only a plate whose colourspace is known (given, or named by its file) vouches that its
        # primaries are those of an output in the same space.
        if plan.colorspaces.output != plan.colorspaces.plate or not plan.colorspaces.plate_named:
            carried.pop(CHROMATICITIES, None)
        return carried
