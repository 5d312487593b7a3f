"""Render one video track of the current timeline over a record range, as EXR frames, with Resolve's
render queue: the track alone (the others disabled for the render, then restored)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from movingcolor.errors import MovingColorError
from movingcolor.frames.sequence import pattern_from_folder
from movingcolor_client import JobCancelledError
from movingcolor_hosts import RenderError, SettingsError

log = logging.getLogger("movingcolor.resolve")

#: Project.SetCurrentRenderMode: one file sequence for the whole range, named by CustomName and
#: numbered by record frame. Individual clips would name and number each clip by its source.
SINGLE_CLIP = 1
#: Job states after which a render job does no more, as an English Resolve words them. Resolve
#: words JobStatus in its UI's language ("Concluído", "Finalizado", ...), so these are never the
#: only test: a job Resolve has stopped rendering at 100% is complete in any language.
FINISHED = ("Complete", "Failed", "Cancelled")
#: How long a render asked to stop may take to stop before its job is deleted anyway.
STOP_SECONDS = 60.0


@contextmanager
def only_track(timeline, track: int) -> Iterator[None]:
    """Video track ``track`` enabled and every other one disabled, for the duration."""
    count = timeline.GetTrackCount("video")
    before = {index: bool(timeline.GetIsTrackEnabled("video", index)) for index in range(1, count + 1)}
    try:
        for index in before:
            timeline.SetTrackEnable("video", index, index == track)
        yield
    finally:
        for index, enabled in before.items():
            timeline.SetTrackEnable("video", index, enabled)


#: The render preset the Deliver page's settings are kept in while a fusion renders its inputs.
KEPT_PRESET = "MovingColor - Deliver page before a fusion"


@contextmanager
def deliver_page_kept(project) -> Iterator[None]:
    """The Deliver page's settings as they were, afterwards, whatever happened: kept as a render
    preset and loaded back (the API cannot read them: a fusion left audio off, a range of frames and
    the name of the last input rendered, for the editor's next render), the preset then deleted.
    Where presets cannot be saved, the format, codec and render mode are put back alone."""
    before = project.GetCurrentRenderFormatAndCodec() or {}
    mode = project.GetCurrentRenderMode()
    kept = _save_preset(project)
    try:
        yield
    finally:
        if kept:
            if not _call(project, "LoadRenderPreset", KEPT_PRESET):
                log.warning("Resolve did not load back the Deliver page's settings (preset %r)", KEPT_PRESET)
            _call(project, "DeleteRenderPreset", KEPT_PRESET)
        if before.get("format") and before.get("codec"):
            project.SetCurrentRenderFormatAndCodec(before["format"], before["codec"])
        if mode in (0, 1):
            project.SetCurrentRenderMode(mode)


def _call(project, method: str, *args) -> bool:
    """``project.method(*args)`` where this Resolve has it; False where it has not, or it failed."""
    try:
        return bool(getattr(project, method)(*args))
    except (AttributeError, TypeError):
        return False


def _save_preset(project) -> bool:
    """Save the Deliver page's settings as :data:`KEPT_PRESET` (one a stopped script left is
    replaced: it holds an older state)."""
    try:
        presets = project.GetRenderPresetList() or []
    except (AttributeError, TypeError):
        return False
    if KEPT_PRESET in presets:
        _call(project, "DeleteRenderPreset", KEPT_PRESET)
    return _call(project, "SaveAsNewRenderPreset", KEPT_PRESET)


def _add_job(project, codec: str, settings: dict) -> str:
    if project.IsRenderingInProgress():
        raise RenderError("Resolve is rendering already: let that render finish (or stop it), then run again")
    if not project.SetCurrentRenderFormatAndCodec("exr", codec):
        codecs = ", ".join(sorted((project.GetRenderCodecs("exr") or {}).values()))
        raise SettingsError(
            f"render_codec {codec!r} is not an EXR codec of this Resolve; use one of: {codecs}"
        )
    if not project.SetCurrentRenderMode(SINGLE_CLIP):
        raise RenderError(
            "Resolve refused the Single clip render mode; choose it on the Deliver page and run again"
        )
    if not project.SetRenderSettings(settings):
        raise RenderError(f"Resolve refused the render settings {settings}; check the Deliver page's format")
    job = project.AddRenderJob()
    if not job:
        raise RenderError("Resolve did not add the render job; open the Deliver page once and run again")
    return job


def _stop(project, poll_seconds: float) -> None:
    """Stop Resolve's render and wait until it has stopped (StopRendering only asks)."""
    if not project.IsRenderingInProgress():
        return
    project.StopRendering()
    deadline = time.monotonic() + STOP_SECONDS
    while project.IsRenderingInProgress() and time.monotonic() < deadline:
        time.sleep(min(poll_seconds, 0.1))


def render_track(
    project,
    timeline,
    track: int,
    first: int,
    last: int,
    folder: Path,
    role: str,
    *,
    alpha: bool = False,
    codec: str,
    cancelled: Callable[[], bool] | None = None,
    poll_seconds: float = 0.5,
) -> str:
    """Render record frames ``first``..``last`` of video ``track`` into ``folder``; returns the rendered
    sequence. Raises RenderError (or JobCancelledError when the render was stopped)."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = {
        "SelectAllFrames": False,
        "MarkIn": first,
        "MarkOut": last,
        "TargetDir": str(folder),
        "CustomName": role,
        "ExportVideo": True,
        "ExportAudio": False,
        "ExportAlpha": alpha,
        **_timeline_size(timeline),
    }
    with deliver_page_kept(project):
        job = _add_job(project, codec, settings)
        try:
            with only_track(timeline, track):
                # The README's positional form: the [ids], isInteractiveMode=... one is reported to
                # hang Resolve.
                if not project.StartRendering(job):
                    raise RenderError(f"Resolve did not start rendering the {role}; check its render queue")
                status = _wait(project, job, role, cancelled, poll_seconds)
        finally:
            _stop(project, poll_seconds)  # a cancel, an error or Ctrl+C while waiting: Resolve stops too
            project.DeleteRenderJob(job)
    state, percent = status.get("JobStatus", ""), _percent(status)
    if state == "Cancelled":
        raise JobCancelledError(f"the render of the {role} was stopped; nothing was sent or imported")
    if state == "Failed" or (state != "Complete" and percent < 100):
        detail = status.get("Error") or f"{state or 'no status'}, {percent}%"
        raise RenderError(f"Resolve failed to render the {role} ({detail}); check the track and its media")
    try:
        pattern = pattern_from_folder(folder)
    except MovingColorError as error:
        raise RenderError(f"the {role} render wrote no frames Resolve said it wrote: {error}") from None
    frames = pattern.frames_on_disk()
    if len(frames) != last - first + 1:
        raise RenderError(
            f"the {role} render wrote {len(frames)} frames for {last - first + 1} record frames; run again"
        )
    return str(pattern.directory / f"{pattern.prefix}{'#' * pattern.padding}{pattern.suffix}")


def _timeline_size(timeline) -> dict:
    """The render's size as the timeline's: a job takes the Deliver page's, which an editor's last
    delivery (a 720p review) may have left smaller, and the inputs came back soft without a word."""
    size = {}
    for key, setting in (
        ("FormatWidth", "timelineResolutionWidth"),
        ("FormatHeight", "timelineResolutionHeight"),
    ):
        value = str(timeline.GetSetting(setting) or "")
        if not value.isdigit():
            return {}  # a Resolve that does not say: the page's own, as before
        size[key] = int(value)
    return size


def _percent(status: dict) -> int:
    return int(status.get("CompletionPercentage") or 0)


def _finished(project, status: dict) -> bool:
    if status.get("JobStatus") in FINISHED:
        return True
    return _percent(status) >= 100 and not project.IsRenderingInProgress()


def _wait(project, job: str, role: str, cancelled, poll_seconds: float, idle_polls: int = 10) -> dict:
    """Poll until the job has finished, or Resolve has been idle for ``idle_polls`` polls without
    saying so (the status then tells what happened). ``cancelled()`` stops the render and raises
    JobCancelledError, whatever state the stopped job reports."""
    shown, idle = -1, 0
    while True:
        status = project.GetRenderJobStatus(job) or {}
        if _finished(project, status):
            return status
        if cancelled is not None and cancelled():
            _stop(project, poll_seconds)
            raise JobCancelledError(f"cancelled while rendering the {role}; nothing was sent or imported")
        idle = 0 if project.IsRenderingInProgress() else idle + 1
        if idle > idle_polls:
            return status
        percent = _percent(status)
        if percent != shown:
            log.info("rendering the %s: %d%%", role, percent)
            shown = percent
        time.sleep(poll_seconds)
