"""Bring a fused sequence back: into the media pool, onto a new video track at the clip's record frame."""

from __future__ import annotations

from movingcolor.frames.sequence import SequencePattern
from movingcolor_hosts import FusionResult, HostBridgeError


def _printf(out: str) -> str:
    """``shot.####.exr`` as Resolve's media import wants sequences: ``shot.%04d.exr``."""
    pattern = SequencePattern.parse(out)
    return str(pattern.directory / f"{pattern.prefix}%0{pattern.padding}d{pattern.suffix}")


def place_above(project, timeline, result: FusionResult, record_first: int) -> int:
    """Import the fused sequence and put it on a new video track at ``record_first``; the track."""
    media = project.GetMediaPool()
    imported = media.ImportMedia(
        [{"FilePath": _printf(result.out), "StartIndex": result.first, "EndIndex": result.last}]
    )
    if not imported:
        raise HostBridgeError(
            f"Resolve did not import the fused frames {result.out}; they are complete on disk: import "
            f"them by hand"
        )
    if not timeline.AddTrack("video"):
        raise HostBridgeError("Resolve did not add a video track for the fused frames; add one and run again")
    track = timeline.GetTrackCount("video")
    placed = media.AppendToTimeline(
        [
            {
                "mediaPoolItem": imported[0],
                "startFrame": 0,
                "endFrame": len(result.frames) - 1,
                "trackIndex": track,
                "recordFrame": record_first,
                "mediaType": 1,
            }
        ]
    )
    if not placed:
        raise HostBridgeError(
            f"Resolve did not place the fused clip on video track {track}; it is in the media pool: "
            f"place it at record frame {record_first}"
        )
    return track
