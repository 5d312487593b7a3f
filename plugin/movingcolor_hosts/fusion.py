"""Send the frames a host rendered to a server and put the fused sequence in place, or nothing.

The host's progress display gets ``progress(done, total, frame)`` for each fused
frame; ``cancelled()`` is polled while the server works, and a True answer
cancels the call at once. The fused frames land in a staging folder and are
renamed into the output only when the whole shot has arrived, so a failure or a
cancel leaves the output as it was.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from movingcolor.frames.output_pattern import UNNOTED
from movingcolor_client import JobCancelledError, ShotCall, connect

from .errors import SettingsError
from .settings import FuseSettings
from .staging import StagedOutput

Progress = Callable[[int, int, int], None]
Cancelled = Callable[[], bool]


@dataclass
class RenderedInputs:
    """EXR frames a host rendered: sequences (``x.####.exr``) or folders holding one sequence each.
    ``matte`` is ``"alpha"`` when the matte is the plate's alpha channel."""

    plate: str
    matte: str = "alpha"
    graded: str | None = None


@dataclass
class FusedSequence:
    """The fused sequence a host's fusion put in place: its output pattern, its frames in order and
    their files, and what made them (engine, model, server)."""

    out: str
    frames: list[int]
    written: list[Path]
    engine: str
    model: str
    server: str
    seconds: float
    summary: dict = field(default_factory=dict, repr=False)

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]


def _pattern_text(staged: StagedOutput) -> str:
    pattern = staged.pattern
    return str(pattern.directory / f"{pattern.prefix}{'#' * pattern.padding}{pattern.suffix}")


class _CancelWatch:
    """Polls ``cancelled`` in a thread; on True cancels the server call (or, before the server has
    taken the job, closes the channel, which ends every call on it)."""

    def __init__(self, client, cancelled: Cancelled | None, poll: float):
        self.client = client
        self.cancelled = cancelled
        self.poll = poll
        self.call: ShotCall | None = None
        self.fired = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="movingcolor-cancel-watch", daemon=True)

    def __enter__(self) -> _CancelWatch:
        if self.cancelled is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def accepted(self, call: ShotCall) -> None:
        self.call = call
        if self.fired.is_set():
            call.cancel()

    def fire(self) -> None:
        self.fired.set()
        if self.call is not None:
            self.call.cancel()
        self.client.close()

    def check(self) -> None:
        """Between frames: stop here if the artist has cancelled, whatever the poll has seen."""
        if self.cancelled is not None and self.cancelled():
            self.fire()
            raise JobCancelledError("cancelled")

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            if self.cancelled():
                self.fire()
                return


def check_server(settings: FuseSettings) -> int:
    """Before a host renders anything: the server answers, and has the engine and model asked for.
    A MovingColorError names the fix otherwise; found after the renders, each would throw a whole
    shot's renders away. Returns the engine's temporal radius: the frames each side a fused frame
    reads (0 where the engine gives none)."""
    with connect(settings.server, settings.token, retries=settings.retries) as client:
        info = client.info()
    engines = {engine["name"]: engine for engine in info["engines"]}
    if settings.engine not in engines:
        raise SettingsError(
            f"{settings.label('engine')} {settings.engine!r}: the server at {settings.server} has no such "
            f"engine; it has {', '.join(engines)}"
        )
    models = [model["name"] for model in info["models"]]
    if settings.model and settings.model not in models:
        raise SettingsError(
            f"{settings.label('model')} {settings.model!r}: the server at {settings.server} has no such "
            f"model; it has {', '.join(models) or 'none'}"
        )
    return int(engines[settings.engine].get("temporal_radius") or 0)


#: The engine a check of the shot's colour settings runs (the cheapest: a composite through the matte).
CHECK_ENGINE = "hard"


def check_colour_settings(settings: FuseSettings) -> None:
    """Before a host renders anything: the server's OpenColorIO config (or the one the shot names) has
    the shot's colourspaces and look, and the grade applies there. GetInfo lists no config's
    colourspaces or looks, and the server checks them only once frames arrive: found after the renders,
    a misspelt name threw a whole shot's renders away. So one frame of 16x16 pixels is fused with the
    shot's colour settings, the grade and the graded input's colourspace included, and the server's
    error (naming the close names) raised as it would have been after the renders."""
    import numpy as np

    plate = np.full((1, 16, 16, 3), 0.18, np.float32)
    rows, columns = np.mgrid[0:16, 0:16]
    matte = ((rows - 8) ** 2 + (columns - 8) ** 2 < 25).astype(np.float32)[None]
    options = settings.client_options()
    with connect(settings.server, settings.token, retries=settings.retries) as client:
        engines = [engine["name"] for engine in client.info()["engines"]]
        if CHECK_ENGINE in engines:  # the shot's own engine and model are checked by check_server
            options |= {"engine": CHECK_ENGINE, "model": None}
        client.fuse_arrays(
            plate,
            matte,
            grade=None if settings.use_graded else settings.grade.strip(),
            graded=plate if settings.use_graded else None,
            colorspace=options.pop("plate_colorspace", ""),
            timeout=min(settings.timeout, 120.0),
            **options | {"band": "1"},  # a band in pixels wider than the frame would be refused
        )


def fuse_rendered(
    settings: FuseSettings,
    inputs: RenderedInputs,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    frames: str | None = None,
    poll_seconds: float = 0.1,
) -> FusedSequence:
    """Fuse ``inputs`` (frames ``frames``, ``FIRST-LAST``; default all, the rest being context) on
    ``settings.server`` into ``settings.out``; raises a ``MovingColorError`` whose
    message names the problem and the fix (``JobCancelledError`` when ``cancelled()`` said so)."""
    settings.validate()
    started = time.perf_counter()
    staged = StagedOutput(settings.out)
    try:
        with (
            connect(settings.server, settings.token, retries=settings.retries) as client,
            _CancelWatch(client, cancelled, poll_seconds) as watch,
        ):

            def report(done: int, total: int, frame: int) -> None:
                if progress is not None:
                    progress(done, total, frame)
                watch.check()

            try:
                result = client.fuse_files(
                    inputs.plate,
                    _pattern_text(staged),
                    inputs.matte,
                    grade=None if settings.use_graded else settings.grade.strip(),
                    graded=inputs.graded if settings.use_graded else None,
                    frames=frames,
                    progress=report,
                    on_accepted=watch.accepted,
                    timeout=settings.timeout,
                    **settings.client_options(),
                )
            except Exception:
                # A cancel closes the channel: whatever the call then raised, the cause is the cancel.
                if watch.fired.is_set():
                    raise JobCancelledError(
                        f"cancelled: nothing was written to {settings.out} (it is as it was before)"
                    ) from None
                raise
        numbers = [_frame_of(path, staged) for path in result.written]
        written = staged.commit(numbers)
    except BaseException as error:
        staged.discard()
        unnoted = getattr(error, UNNOTED, None)
        if unnoted is not None:
            # The frames it notes were staged, and are gone with the staging folder.
            error.args = (f"{unnoted} (nothing was written to {settings.out}: it is as it was before)",)
        raise
    return FusedSequence(
        out=settings.out,
        frames=numbers,
        written=written,
        engine=result.engine,
        model=result.model,
        server=settings.server,
        seconds=round(time.perf_counter() - started, 3),
        summary=result.to_dict(),
    )


def _frame_of(path: str, staged: StagedOutput) -> int:
    name = Path(path).name
    return int(name[len(staged.pattern.prefix) : len(name) - len(staged.pattern.suffix)])
