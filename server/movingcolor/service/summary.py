"""A shot's report as the wire's ``ShotSummary``: one conversion for FuseShot, FuseWindow and RunJob."""

from __future__ import annotations

from ..spec import ShotReport
from ..v1 import fusion_pb2


def summary_message(report: ShotReport, frame_count: int | None = None) -> fusion_pb2.ShotSummary:
    """``frame_count``: the frames sent back, for a streamed shot (whose report lists no files)."""
    return fusion_pb2.ShotSummary(
        frames=report.frames,
        engine=report.engine,
        model=report.model,
        band=report.band,
        colorspaces=report.colorspaces,
        grade=report.grade,
        config=report.config,
        seconds=report.seconds,
        written=report.written,
        frame_count=len(report.written) if frame_count is None else frame_count,
        warnings=report.warnings,
    )
