"""Fuse timeline items: render, send to the server, import the result above the item."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from movingcolor.errors import MovingColorError
from movingcolor.frames.frame_range import describe_frames
from movingcolor.frames.overlap import check_outputs_spare_inputs
from movingcolor.frames.sequence import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, SequencePattern
from movingcolor_client import (
    AuthenticationError,
    JobCancelledError,
    ServerUnavailableError,
    SocketPermissionError,
)
from movingcolor_hosts import (
    RenderedInputs,
    SettingsError,
    check_server,
    drop_opaque_alpha,
    fuse_rendered,
    require_matte,
    require_matte_in_alpha,
    scratch_folder,
)
from movingcolor_hosts.takes import output_takes

from .logs import LOGGER, bridge_logger
from .placement import place_above
from .project_color import render_color, sent_colorspace
from .render import render_track
from .settings import ResolveSettings
from .timeline import covered, current, media_files, require_online, track_of

log = logging.getLogger(LOGGER)


@dataclass
class FusedItem:
    """One timeline item's outcome: its record frames, and where its fused frames are and the track
    they were placed on, or the error that stopped it (a batch goes on past a failed item)."""

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


def _safe(name: str, media: bool = False) -> str:
    """A timeline's or clip's name as a folder or file name: without signs that a file system
    forbids or a shell reads (a slash too), and for a clip of ``media`` its frame range
    ("[1001-1100]") and its file's extension. Only a media file's extension and frame range go:
    "Edit v1.2" and "Edit v1.3" (or "Reel 1/Sc 2" and "Reel 2/Sc 2", "p [v2]" and "p [v3]") stay two
    names."""
    if media:
        name = re.sub(r"\[-?\d+--?\d+\]", "", name)
        if Path(name).suffix.lower() in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS:
            name = name[: -len(Path(name).suffix)]
    # Letters of every script are kept: two timelines named in Cyrillic must not share a folder.
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "clip"


def fuse_item(
    resolve, item, settings: ResolveSettings, cancelled: Callable[[], bool] | None = None
) -> FusedItem:
    """Fuse one timeline item; raises a MovingColorError naming the problem and the fix."""
    project, timeline = current(resolve)
    settings.validate()
    first, last = item.GetStart(), item.GetEnd() - 1
    plate_track = track_of(timeline, item)
    matte_track = settings.matte_track()
    tracks = {"plate": plate_track}
    if matte_track:
        tracks["matte"] = matte_track
    if settings.graded_track:
        tracks["graded"] = settings.graded_track
    for role, track in tracks.items():
        if role != "plate" and track == plate_track:
            raise SettingsError(
                f"the {role} track {track} is the plate's own track: the {role} would be the plate; "
                f"put the {role} on a track of its own and name that one"
            )
        covered(timeline, track, first, last, role)
        require_online(timeline, track, first, last, role)
    fields = {
        "timeline": _safe(timeline.GetName()),
        "item": _safe(item.GetName(), media=True),
        "track": plate_track,
    }
    try:
        out = Path(settings.fuse.out.format(start=first, **fields)).expanduser()
    except (KeyError, IndexError, ValueError) as error:
        raise SettingsError(
            f"{settings.fuse.label('out')} {settings.fuse.out!r}: cannot fill in {error}; the template "
            f"knows {{timeline}}, {{item}}, {{track}} and {{start}}"
        ) from None
    color = render_color(project)
    fuse = dataclasses.replace(settings.fuse, out=str(out))
    sent = sent_colorspace(color, fuse.colorspace.strip(), fuse.grade_is_look, fuse.label("colorspace"))
    fuse.colorspace, fuse.config = sent.colorspace, sent.config
    fuse.validate()
    out_folder = out.parent
    log.info("%s: record frames %d-%d on video track %d", item.GetName(), first, last, plate_track)
    log.info("%s: %s", item.GetName(), sent.note)
    # The server sees only the renders of the tracks: the media they come from is checked here.
    read = [path for track in tracks.values() for path in media_files(timeline, track, first, last)]
    check_outputs_spare_inputs(SequencePattern.parse(fuse.out), range(first, last + 1), read)
    check_server(fuse)
    with scratch_folder(out_folder) as scratch:
        rendered = {
            role: render_track(
                project,
                timeline,
                track,
                first,
                last,
                scratch / role,
                role,
                # A matte clip's own alpha is its matte where it has one (an RGBA roto or cutout).
                alpha=role == "matte" or (role == "plate" and not matte_track),
                codec=settings.render_codec,
                cancelled=cancelled,
            )
            for role, track in tracks.items()
        }
        if not matte_track:
            require_matte_in_alpha(
                rendered["plate"],
                f"{item.GetName()} rendered with ExportAlpha",
                "give the clip an alpha (or connect the node tree's alpha output), or set matte to "
                "track:N for a matte clip on video track N",
            )
        else:
            if drop_opaque_alpha(rendered["matte"]):
                log.info(
                    "%s: the matte clip has no alpha: its matte is read from its picture", item.GetName()
                )
            require_matte(
                rendered["matte"],
                f"the matte on video track {matte_track}",
                "check that the clip there holds the matte (white on the object) over this clip's frames",
            )
        inputs = RenderedInputs(rendered["plate"], rendered.get("matte", "alpha"), rendered.get("graded"))

        def progress(done: int, total: int, frame: int) -> None:
            log.info("%s: fused frame %d (%d of %d)", item.GetName(), frame, done, total)

        output = SequencePattern.parse(fuse.out)
        earlier = sorted(set(output.frames_on_disk()) & set(range(first, last + 1)))
        result = fuse_rendered(fuse, inputs, progress, cancelled)
    _say_what_the_output_held(item.GetName(), result, earlier)
    track = place_above(project, timeline, result, first, color)
    log.info(
        "%s: %d fused frames on video track %d from %s", item.GetName(), len(result.frames), track, fuse.out
    )
    return FusedItem(item.GetName(), first, last, out=fuse.out, track=track)


def _say_what_the_output_held(name: str, result, earlier: list[int]) -> None:
    """An earlier take's frames replaced (a clip placed from them now plays the new ones), and
    frames of other settings left beside the new ones in the output (the clip trimmed since): a
    folder of mixed takes, which a publish would pick up whole."""
    if earlier:
        log.warning(
            "%s: frames %s of an earlier fusion in %s were replaced: a clip placed from them plays the "
            "new frames (put a version in out to keep a take)",
            name,
            describe_frames(earlier),
            result.out,
        )
    _, others = output_takes(result.out, result.frames)
    if others:
        log.warning(
            "%s: %s also holds frames %s of an earlier fusion with other settings, beside the new ones: "
            "remove them, or fuse into another out, before the folder is used whole",
            name,
            result.out,
            others,
        )


def fuse_items(
    resolve, items: list, settings: ResolveSettings, cancelled: Callable[[], bool] | None = None
) -> list[FusedItem]:
    """Fuse each item in turn; a failure is logged with its fix and the next item goes on. A cancel
    stops them all, and so does a server that cannot be reached or refuses this client: each item
    after it would wait for the same answer (the retries' seconds each, and the same error logged
    once an item), so they are reported as not fused. Progress and errors go to the console and
    ``settings.log_file``."""
    bridge_logger(settings.log_file)
    reports = []
    for position, item in enumerate(items):
        try:
            reports.append(fuse_item(resolve, item, settings, cancelled))
        except MovingColorError as error:
            log.error("%s: %s", item.GetName(), error)
            first, last = item.GetStart(), item.GetEnd() - 1
            reports.append(
                FusedItem(item.GetName(), first, last, error=str(error), exit_code=error.exit_code)
            )
            if isinstance(error, _STOPS_A_BATCH):
                for rest in items[position + 1 :]:
                    reports.append(_not_fused(rest, item.GetName(), error))
                break
    return reports


#: Errors every later clip of a batch would meet alike: the batch stops at the first. Not a GPU out
#: of memory: the next clip is smaller, or comes once another job let the GPU go.
_STOPS_A_BATCH = (JobCancelledError, ServerUnavailableError, AuthenticationError, SocketPermissionError)


def _not_fused(item, stopped_at: str, error: MovingColorError) -> FusedItem:
    """The report of an item a batch stopped before, at the item ``stopped_at`` for ``error``."""
    reason = {
        JobCancelledError: "cancelled",
        SocketPermissionError: "this user may not use the server's socket",
    }.get(type(error), "the server failed")
    message = f"not fused: the batch stopped at {stopped_at} ({reason}); fuse it again once that is fixed"
    log.error("%s: %s", item.GetName(), message)
    return FusedItem(
        item.GetName(), item.GetStart(), item.GetEnd() - 1, error=message, exit_code=error.exit_code
    )
