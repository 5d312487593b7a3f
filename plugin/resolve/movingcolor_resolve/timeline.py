"""The timeline side: which clips to fuse, which track each is on, whether a track covers a clip."""

from __future__ import annotations

import re
from pathlib import Path

from movingcolor.frames.overlap import files_named
from movingcolor_hosts import HostBridgeError, MissingInputError

from .placement import RESULT_TRACK
from .settings import ResolveSettings


def current(resolve):
    """The current project and timeline; HostBridgeError when Resolve or a timeline is not there."""
    if resolve is None:
        raise HostBridgeError(
            "DaVinci Resolve is not reachable: start it, and allow scripts (Preferences > System > "
            "General > External scripting using: Local) for a command line"
        )
    project = resolve.GetProjectManager().GetCurrentProject()
    timeline = project.GetCurrentTimeline() if project else None
    if timeline is None:
        raise HostBridgeError("no timeline is open: open the timeline that holds the clips to fuse")
    return project, timeline


def _not_plates(timeline, settings: ResolveSettings | None) -> set[int]:
    """Video tracks that hold no plate: the matte's and the graded version's (as ``settings`` name
    them) and those fused clips were placed on."""
    tracks = {settings.matte_track(), settings.graded_track} - {None, 0} if settings else set()
    for track in range(1, timeline.GetTrackCount("video") + 1):
        if timeline.GetTrackName("video", track) == RESULT_TRACK:
            tracks.add(track)
    return tracks


def current_items(resolve, settings: ResolveSettings | None = None) -> list:
    """The video item under the playhead. Resolve names the top one; when that is the matte, the
    graded version or a fused clip, the plate is the clip at its place on a track below."""
    _, timeline = current(resolve)
    item = timeline.GetCurrentVideoItem()
    if item is None:
        raise MissingInputError("no clip under the playhead: move the playhead onto the clip to fuse")
    skipped = _not_plates(timeline, settings)
    if track_of(timeline, item) not in skipped:
        return [item]
    # The plate under the playhead, not under the top clip's start: one matte or graded clip may
    # span several plates cut back to back.
    frame = playhead_frame(timeline)
    if frame is None or not item.GetStart() <= frame < item.GetEnd():
        frame = item.GetStart()
    for track in range(timeline.GetTrackCount("video"), 0, -1):
        if track in skipped:
            continue
        for other in timeline.GetItemListInTrack("video", track) or []:
            if other.GetStart() <= frame < other.GetEnd():
                return [other]
    raise MissingInputError(
        f"no plate under the playhead: {item.GetName()} is on a matte, graded or {RESULT_TRACK} track "
        f"and no other track has a clip there"
    )


def playhead_frame(timeline) -> int | None:
    """The record frame under the playhead, as items' GetStart counts frames (the timeline's start
    timecode included), from its timecode at the timeline's rate; drop-frame timecode (``;``)
    skips its numbers. None where the timecode cannot be read."""
    timecode = str(timeline.GetCurrentTimecode() or "")
    parts = re.split("[:;.]", timecode)
    try:
        rate = float(timeline.GetSetting("timelineFrameRate") or 0)
        hours, minutes, seconds, frames = (int(part) for part in parts)
    except ValueError:
        return None
    if rate <= 0:
        return None
    nominal = round(rate)
    frame = ((hours * 60 + minutes) * 60 + seconds) * nominal + frames
    if ";" in timecode or "." in timecode:
        # Drop frame: two numbers a minute (four at 59.94) are skipped, except every tenth minute.
        dropped = 2 * round(nominal / 30)
        total_minutes = hours * 60 + minutes
        frame -= dropped * (total_minutes - total_minutes // 10)
    return frame


def track_items(resolve, track: int) -> list:
    """Every item on video track ``track``."""
    _, timeline = current(resolve)
    if not 1 <= track <= timeline.GetTrackCount("video"):
        raise MissingInputError(
            f"video track {track} does not exist; the timeline has {timeline.GetTrackCount('video')}"
        )
    items = timeline.GetItemListInTrack("video", track) or []
    if not items:
        raise MissingInputError(f"video track {track} holds no clips")
    return list(items)


def _key(item) -> tuple:
    # Resolve hands out a new wrapper object on every call: items are told apart by their unique id
    # (Resolve 18 on), else by name and place, which one clip used on two tracks at once shares.
    unique = getattr(item, "GetUniqueId", None)
    if unique is not None and unique():
        return (unique(),)
    return item.GetName(), item.GetStart(), item.GetEnd()


def track_of(timeline, item) -> int:
    for track in range(1, timeline.GetTrackCount("video") + 1):
        if any(_key(other) == _key(item) for other in timeline.GetItemListInTrack("video", track) or []):
            return track
    raise MissingInputError(f"{item.GetName()} is not on a video track of the current timeline")


def covered(timeline, track: int, first: int, last: int, role: str) -> None:
    if not 1 <= track <= timeline.GetTrackCount("video"):
        raise MissingInputError(
            f"the {role} track {track} does not exist; the timeline has "
            f"{timeline.GetTrackCount('video')} video tracks: check the {role} setting"
        )
    frames = set()
    for other in timeline.GetItemListInTrack("video", track) or []:
        frames.update(range(max(first, other.GetStart()), min(last + 1, other.GetEnd())))
    if len(frames) != last - first + 1:
        raise MissingInputError(
            f"the {role} track {track} does not cover record frames {first}-{last} of the clip; put the "
            f"{role} clip there, or check the {role} setting"
        )


def media_files(timeline, track: int, first: int, last: int) -> list[Path]:
    """Every file of the media under record frames ``first``-``last`` on video ``track``: the files
    a fusion of those frames reads, which its output must never replace."""
    files: list[Path] = []
    for other in timeline.GetItemListInTrack("video", track) or []:
        if other.GetEnd() <= first or other.GetStart() > last:
            continue
        media = other.GetMediaPoolItem()
        path = media.GetClipProperty("File Path") if media is not None else ""
        if path:
            files += clip_files(path)
    return files


def offline_files(timeline, track: int, first: int, last: int) -> list[Path]:
    """The files of the media under record frames ``first``-``last`` on video ``track`` that are not
    there (an unmounted share, a deleted frame): Resolve renders those frames as its red "Media
    Offline" slate. Of a sequence, the frames the items show alone (a trimmed clip leaves the rest)."""
    missing: list[Path] = []
    for other in timeline.GetItemListInTrack("video", track) or []:
        start, end = other.GetStart(), other.GetEnd()
        if end <= first or start > last:
            continue
        media = other.GetMediaPoolItem()
        path = media.GetClipProperty("File Path") if media is not None else ""
        if not path:  # a generator, a title, a compound clip: no file of its own
            continue
        files = clip_files(path)
        if len(files) > 1:
            # Index 0 is the sequence's first frame, where the item's left offset counts from.
            offset = other.GetLeftOffset()
            files = files[offset + max(first, start) - start : offset + min(last + 1, end) - start]
        missing += [file for file in files if not file.exists()]
    return missing


def require_online(timeline, track: int, first: int, last: int, role: str) -> None:
    """Refuse media under record frames ``first``-``last`` on ``track`` whose files are not there:
    rendered as "Media Offline" slates, they were fused and imported as the shot."""
    missing = offline_files(timeline, track, first, last)
    if missing:
        shown = ", ".join(str(path) for path in missing[:3]) + (", ..." if len(missing) > 3 else "")
        count = f"{len(missing)} of its files {'is' if len(missing) == 1 else 'are'}"
        raise MissingInputError(
            f"the {role} clip's media is offline: {count} missing ({shown}), which Resolve renders as "
            f"Media Offline frames; relink the clip in the Media Pool (or restore the files), then fuse again"
        )


#: How Resolve names an image sequence's frames in a clip's file path: ``plate.[1001-1100].exr``.
_FRAME_RANGE = re.compile(r"\[(-?\d+)-(-?\d+)\]")


def clip_files(path: str) -> list[Path]:
    """The files of a clip's "File Path": a sequence's frames, which Resolve names by their range
    (``/shots/plate.[1001-1100].exr``, each number as wide as the files'); else the file it names
    (a movie, a still, a file whose name holds brackets of its own)."""
    named = Path(path)
    ranges = list(_FRAME_RANGE.finditer(named.name))
    if not ranges or named.exists():
        return files_named(path)
    found = ranges[-1]
    first, last = int(found.group(1)), int(found.group(2))
    width = len(found.group(1).lstrip("-"))
    head, tail = named.name[: found.start()], named.name[found.end() :]
    return [named.with_name(f"{head}{frame:0{width}d}{tail}") for frame in range(first, last + 1)]
