"""Fuse timeline items: render, send to the server, import the result above the item."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from movingcolor.errors import MovingColorError
from movingcolor.frames.sequence import SequencePattern
from movingcolor_client import JobCancelledError
from movingcolor_hosts import (
    FusionResult,
    HostBridgeError,
    MissingInputError,
    RenderedInputs,
    fuse_rendered,
    scratch_folder,
)

from .logs import LOGGER, bridge_logger
from .render import render_track
from .settings import ResolveSettings

log = logging.getLogger(LOGGER)


@dataclass
class FusedItem:
    """One item's outcome: where the fused frames are and the track they were placed on, or the error."""

    item: str
    record_first: int
    record_last: int
    out: str = ""
    track: int = 0
    error: str = ""
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def cancelled(self) -> bool:
        return self.exit_code == JobCancelledError.exit_code


def _current(resolve):
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


def current_items(resolve, settings: ResolveSettings | None = None) -> list:
    """The video item under the playhead. Resolve names the top one; when that is the matte or the
    graded version (tracks named by ``settings``), the plate is the clip at its place below."""
    _, timeline = _current(resolve)
    item = timeline.GetCurrentVideoItem()
    if item is None:
        raise MissingInputError("no clip under the playhead: move the playhead onto the clip to fuse")
    helpers = {settings.matte_track(), settings.graded_track} - {None, 0} if settings else set()
    if _track_of(timeline, item) not in helpers:
        return [item]
    for track in range(timeline.GetTrackCount("video"), 0, -1):
        if track in helpers:
            continue
        for other in timeline.GetItemListInTrack("video", track) or []:
            if other.GetStart() <= item.GetStart() < other.GetEnd():
                return [other]
    raise MissingInputError(
        f"no plate under the playhead: {item.GetName()} is on the matte or graded track and no other "
        f"track has a clip there"
    )


def track_items(resolve, track: int) -> list:
    """Every item on video track ``track``."""
    _, timeline = _current(resolve)
    if not 1 <= track <= timeline.GetTrackCount("video"):
        raise MissingInputError(
            f"video track {track} does not exist; the timeline has {timeline.GetTrackCount('video')}"
        )
    items = timeline.GetItemListInTrack("video", track) or []
    if not items:
        raise MissingInputError(f"video track {track} holds no clips")
    return list(items)


def _key(item) -> tuple:
    # Resolve hands out a new wrapper object on every call: items are told apart by name and place.
    return item.GetName(), item.GetStart(), item.GetEnd()


def _track_of(timeline, item) -> int:
    for track in range(1, timeline.GetTrackCount("video") + 1):
        if any(_key(other) == _key(item) for other in timeline.GetItemListInTrack("video", track) or []):
            return track
    raise MissingInputError(f"{item.GetName()} is not on a video track of the current timeline")


def _covered(timeline, track: int, first: int, last: int, role: str) -> None:
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


def _safe(name: str) -> str:
    """A clip name as a folder or file name: no frame range ("[1001-1100]"), extension or odd signs."""
    stem = Path(re.sub(r"\[[^\]]*\]", "", name)).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "clip"


def _printf(out: str) -> str:
    """``shot.####.exr`` as Resolve's media import wants sequences: ``shot.%04d.exr``."""
    pattern = SequencePattern.parse(out)
    return str(pattern.directory / f"{pattern.prefix}%0{pattern.padding}d{pattern.suffix}")


def _place(project, timeline, result: FusionResult, record_first: int) -> int:
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


def fuse_item(
    resolve, item, settings: ResolveSettings, cancelled: Callable[[], bool] | None = None
) -> FusedItem:
    """Fuse one timeline item; raises a MovingColorError naming the problem and the fix."""
    project, timeline = _current(resolve)
    settings.validate()
    first, last = item.GetStart(), item.GetEnd() - 1
    plate_track = _track_of(timeline, item)
    matte_track = settings.matte_track()
    tracks = {"plate": plate_track}
    if matte_track:
        tracks["matte"] = matte_track
    if settings.graded_track:
        tracks["graded"] = settings.graded_track
    for role, track in tracks.items():
        _covered(timeline, track, first, last, role)
    fields = {"timeline": _safe(timeline.GetName()), "item": _safe(item.GetName()), "track": plate_track}
    out = Path(settings.fuse.out.format(start=first, **fields)).expanduser()
    fuse = dataclasses.replace(settings.fuse, out=str(out))
    fuse.labels = settings.fuse.labels
    fuse.validate()
    out_folder = out.parent
    log.info("%s: record frames %d-%d on video track %d", item.GetName(), first, last, plate_track)
    with scratch_folder(out_folder, prefix=".movingcolor-inputs-") as scratch:
        rendered = {
            role: render_track(
                project,
                timeline,
                track,
                first,
                last,
                scratch / role,
                role,
                alpha=(role == "plate" and not matte_track),
                codec=settings.render_codec,
                cancelled=cancelled,
            )  # fmt: skip
            for role, track in tracks.items()
        }
        inputs = RenderedInputs(rendered["plate"], rendered.get("matte", "alpha"), rendered.get("graded"))

        def progress(done: int, total: int, frame: int) -> None:
            log.info("%s: fused frame %d (%d of %d)", item.GetName(), frame, done, total)

        result = fuse_rendered(fuse, inputs, progress, cancelled)
    track = _place(project, timeline, result, first)
    log.info(
        "%s: %d fused frames on video track %d from %s", item.GetName(), len(result.frames), track, fuse.out
    )
    return FusedItem(item.GetName(), first, last, out=fuse.out, track=track)


def fuse_items(
    resolve, items: list, settings: ResolveSettings, cancelled: Callable[[], bool] | None = None
) -> list[FusedItem]:
    """Fuse each item in turn; a failure is logged with its fix and the next item goes on (a cancel
    stops them all). Progress and errors go to the console and ``settings.log_file``."""
    bridge_logger(settings.log_file)
    reports = []
    for item in items:
        try:
            reports.append(fuse_item(resolve, item, settings, cancelled))
        except MovingColorError as error:
            log.error("%s: %s", item.GetName(), error)
            first, last = item.GetStart(), item.GetEnd() - 1
            reports.append(
                FusedItem(item.GetName(), first, last, error=str(error), exit_code=error.exit_code)
            )
            if isinstance(error, JobCancelledError):
                break  # a cancel stops the batch, not just this item
    return reports
