"""A shot whose fused frames are handed to the caller instead of written (the service sends them
back over the network)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..engines import Engine
from ..spec import ShotSpec
from .frame_plan import FramePlan
from .headers import FrameHeaders
from .plan import ShotPlan
from .runner import fused_frames
from .sources import ShotSources


class ShotStream:
    """A shot's fused frames in frame order.

    Everything is validated on construction, as ``run_shot`` validates before its first
    write; ``spec.out`` may be empty. Iterating yields ``(frame number, pixels, header)``:
    pixels in the output colourspace, ``header`` what ``run_shot`` records in the frame's
    file. ``frames``: the frames planned before the first image arrived (a streamed shot's);
    without it they are planned from the sources and the spec's range.
    """

    def __init__(
        self,
        spec: ShotSpec,
        sources: ShotSources | None = None,
        engine: Engine | None = None,
        frames: FramePlan | None = None,
    ):
        if sources is None:
            self.plan = ShotPlan.files(spec, engine)
        else:
            self.plan = ShotPlan.stream(spec, sources, engine, frames)
        self._headers = FrameHeaders(self.plan)
        self.range = self.plan.range
        self.engine = self.plan.engine

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, dict]]:
        for number, head, fused in fused_frames(self.plan):
            yield number, fused, self._headers.header(number, head)

    def close(self) -> None:
        self.plan.close()
