"""Bring a fused sequence back: into the media pool, onto a result video track at the clip's record frame."""

from __future__ import annotations

import logging

from movingcolor.frames.sequence import SequencePattern
from movingcolor_hosts import FusedSequence, HostBridgeError

from .logs import LOGGER
from .project_color import RenderColor

log = logging.getLogger(LOGGER)

#: The name of the tracks fused clips are placed on; the clip under the playhead is never taken
#: from one (a second run fuses the plate again, not the previous result).
RESULT_TRACK = "MovingColor"


def _printf(out: str) -> str:
    """``shot.####.exr`` as Resolve's media import wants sequences: ``shot.%04d.exr``."""
    pattern = SequencePattern.parse(out)
    return str(pattern.directory / f"{pattern.prefix}%0{pattern.padding}d{pattern.suffix}")


def _append(media_pool, timeline, clip, frames: int, track: int, record_first: int):
    """Put all ``frames`` of ``clip`` on ``track`` at ``record_first``; the timeline item, or None.

    Resolve versions read AppendToTimeline's ``endFrame`` differently (19.1 as the last frame,
    18.6 and 20 or later as one past it), so the placed item's length is checked, and a wrong one
    is removed and placed again the other way."""
    for end_frame in (frames, frames - 1):
        placed = media_pool.AppendToTimeline(
            [
                {
                    "mediaPoolItem": clip,
                    "startFrame": 0,
                    "endFrame": end_frame,
                    "trackIndex": track,
                    "recordFrame": record_first,
                    "mediaType": 1,
                }
            ]
        )
        placed = list(placed or [])
        if len(placed) == 1 and placed[0].GetDuration() == frames and placed[0].GetStart() == record_first:
            return placed[0]
        if placed:
            timeline.DeleteClips(placed)
    return None


def tag_color(clip, color: RenderColor) -> None:
    """On a colour-managed timeline, give the fused clip the colour space its frames are in (the
    render's), so that the timeline reads it as it is and not as the project's default input colour
    space; when Resolve refuses the name, the log says what to set by hand."""
    if not color.managed or not color.space:
        return
    tagged = not color.gamma or clip.SetClipProperty("Input Gamma", color.gamma)
    tagged = clip.SetClipProperty("Input Color Space", color.space) and tagged
    if not tagged:
        log.warning(
            "%s: Resolve did not take %s as the fused clip's input colour space; set it by hand (Media "
            "Pool, right-click the clip), or the timeline converts it from the default input colour space",
            clip.GetName(),
            color,
        )


def _free_result_track(timeline, first: int, end: int) -> int | None:
    """The top video track when it is a result track (``RESULT_TRACK``) with nothing from record frame
    ``first`` to ``end`` (exclusive), else None: the clips of a batch (a ``--track`` run) go on one
    result track, not a track each, and a clip fused again goes on a new one above its earlier take."""
    top = timeline.GetTrackCount("video")
    if top < 1 or timeline.GetTrackName("video", top) != RESULT_TRACK:
        return None
    # A track switched off (an editor comparing with the plate) would hide the clip; a locked one
    # refuses it.
    if not timeline.GetIsTrackEnabled("video", top):
        return None
    locked = getattr(timeline, "GetIsTrackLocked", None)
    if locked is not None and locked("video", top):
        return None
    items = timeline.GetItemListInTrack("video", top)
    if items is None:  # not read: taken as holding something there
        return None
    for item in items:
        if item.GetStart() < end and first < item.GetEnd():
            return None
    return top


def place_above(
    project, timeline, result: FusedSequence, record_first: int, color: RenderColor | None = None
) -> int:
    """Import the fused sequence (tagged with ``color``, the colour space it was rendered and fused
    in) and put it at ``record_first`` on the top result track where that is free there, else on a
    new video track; the track."""
    media_pool = project.GetMediaPool()
    imported = media_pool.ImportMedia(
        [{"FilePath": _printf(result.out), "StartIndex": result.first, "EndIndex": result.last}]
    )
    if not imported:
        raise HostBridgeError(
            f"Resolve did not import the fused frames {result.out}; they are complete on disk: import "
            f"them by hand"
        )
    if color is not None:
        tag_color(imported[0], color)
    frames = len(result.frames)
    track = _free_result_track(timeline, record_first, record_first + frames)
    if track is None or _append(media_pool, timeline, imported[0], frames, track, record_first) is None:
        # No result track free there, or Resolve would not place the clip on it: a new track.
        if not timeline.AddTrack("video"):
            raise HostBridgeError(
                "Resolve did not add a video track for the fused frames; add one and run again"
            )
        track = timeline.GetTrackCount("video")
        timeline.SetTrackName("video", track, RESULT_TRACK)
        if _append(media_pool, timeline, imported[0], frames, track, record_first) is not None:
            return track
        timeline.DeleteTrack("video", track)
        raise HostBridgeError(
            f"Resolve did not place the fused clip at record frame {record_first}; it is in the media "
            f"pool ({imported[0].GetName()}): place it on a track above the clip at that frame"
        )
    return track
