"""A shot whose fused frames are handed to the caller instead of written (the service sends them
back over the network)."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import numpy as np

from ..engines import Engine
from ..spec import ShotSpec
from .frame_plan import FramePlan
from .headers import FrameHeaders
from .plan import ShotPlan
from .prepare import FramePreparer, KeptFrames
from .runner import fused_frames
from .sources import ShotSources


class ShotStream:
    """A shot's fused frames in frame order.

    Everything is validated on construction, as ``run_shot`` validates before its first
    write; ``spec.out`` may be empty. Iterating yields ``(frame number, pixels, header)``:
    pixels in the output colourspace, ``header`` what ``run_shot`` records in the frame's
    file. ``frames``: the frames planned before the first image arrived (a streamed shot's);
    without it they are planned from the sources and the spec's range. ``output_format``: a
    streamed shot's file type going back (``.exr``; None for raw samples), which sets the
    default output colourspace as the output file's name does for files. ``kept_frames``: where
    frames read only for context are kept between streams (:class:`~.prepare.FramePreparer`).
    """

    def __init__(
        self,
        spec: ShotSpec,
        sources: ShotSources | None = None,
        engine: Engine | None = None,
        frames: FramePlan | None = None,
        output_format: str | None = None,
        kept_frames: KeptFrames | None = None,
    ):
        if sources is None:
            self.plan = ShotPlan.files(spec, engine)
        else:
            self.plan = ShotPlan.stream(spec, sources, engine, frames, output_format)
        self._headers = FrameHeaders(self.plan)
        self._fused: Generator | None = None
        self._kept_frames = kept_frames
        self.range = self.plan.range
        self.engine = self.plan.engine

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, dict]]:
        self._fused = fused_frames(self.plan, FramePreparer(self.plan, kept=self._kept_frames))
        for number, head, fused in self._fused:
            yield number, fused, self._headers.header(number, head)

    def close(self) -> None:
        # The runner first (it may be reading a frame ahead), then the sources it reads.
        if self._fused is not None:
            self._fused.close()
        self.plan.close()
