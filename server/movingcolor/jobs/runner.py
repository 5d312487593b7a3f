"""The loop that runs a plan's windows: prepare frames, fuse each window, average, composite.

Windows run in plan order; a prepared frame is kept only until the last window
that reads it, so memory stays bounded on long clips. Each frame is handed on as
soon as its last window is done.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import Future

import numpy as np

from ..compute_pool import usable_cores
from ..engines import FusionFrames
from ..engines.base import FRAME_INPUTS, WINDOW_ARRAYS
from ..engines.frame_stack import FrameStack
from ..frames.frame_range import describe_frames
from ..frames.worker import ContextWorker
from ..windowing import Window
from ..windowing.average import OverlapAverage
from . import composite as compositing
from .plan import ShotPlan
from .prepare import FramePreparer, PreparedFrame

log = logging.getLogger("movingcolor")

#: The most bytes of prepared frames read ahead of the runner (at least one frame is): a few
#: frames at 1080p; one at 4K, where a network frame holds ~250 MB and preparing it costs ~1 s
#: beside the ~20 s the network spends on it on a CPU.
READ_AHEAD_BYTES = 256 << 20
#: Most frames prepared at once: preparing is mostly single-threaded array work (a 1080p frame's
#: read, matte, band, grade and hard composite: ~0.3 s on one core), so on a two-core machine one
#: preparer left the other core idle; more than a few would crowd out the engine.
MAX_PREPARERS = 4


def window_frames(
    window: Window,
    prepared: dict[int, PreparedFrame],
    inputs: frozenset[str] = FRAME_INPUTS,
    frame_key: Callable[[int], Hashable] | None = None,
    frame_stacks: bool = False,
) -> FusionFrames:
    r"""A window's frames as an engine takes them: the arrays in ``inputs`` (the engine's) over the
    window, as :class:`FrameStack`\ s when ``frame_stacks`` (no copy) or else stacked (a copy of
    each frame per window, so what the engine does not read is not copied); the others are None.
    ``frame_key`` names each frame for the engine's caches (:attr:`FusionFrames.frame_keys`)."""
    frames = [prepared[n] for n in window.frames]
    numbers = list(window.frames)

    def stack(name: str) -> np.ndarray | FrameStack | None:
        if name not in inputs or getattr(frames[0], name) is None:
            return None
        arrays = [getattr(f, name) for f in frames]
        return FrameStack(arrays) if frame_stacks else np.stack(arrays)

    return FusionFrames(
        frame_numbers=numbers,
        outputs=[numbers.index(n) for n in window.outputs],
        **{name: stack(name) for name in WINDOW_ARRAYS},
        band_pixels=[f.band_pixels for f in frames],
        num_local=len(window.local),
        # The predicted frames decide the head; a reference frame whose grade could not be
        # recovered still gives context (its best estimate), and does not take the head from
        # every window that sees it.
        grade_known=all(prepared[n].grade_known for n in window.local),
        frame_keys=None if frame_key is None else [frame_key(n) for n in numbers],
        outputs_alone=window.outputs_alone,
    )


def fused_frames(
    plan: ShotPlan, preparer: FramePreparer | None = None
) -> Iterator[tuple[int, str, np.ndarray]]:
    """Yield ``(frame number, head, output-space pixels)`` for the plan's targets, in frame order."""
    preparer = preparer or FramePreparer(plan)
    engine, windows = plan.engine, plan.frames.windows
    release = plan.sources.release
    half = plan.spec.exr_type == "half" and plan.writes_exr
    last_use = plan.frames.last_use()
    prepared: dict[int, PreparedFrame] = {}

    def alpha_as_colour(number: int, alpha_sum: np.ndarray, count: int) -> np.ndarray:
        return compositing.alpha_as_colour(prepared[number], alpha_sum, count)

    average = OverlapAverage(list(windows), alpha_as_colour)
    # Names this run's frames for the engine's caches: a key holds it, so it is never reused while
    # an engine may still hold work under it. Sources that can name a frame's content do instead.
    run = object()
    content_key = plan.sources.frame_key

    def frame_key(number: int) -> Hashable:
        key = content_key(number) if content_key is not None else None
        return (run, number) if key is None else key

    # Frames are read and prepared up to a window ahead (within READ_AHEAD_BYTES), on another core,
    # while this window fuses; a stream's only once they have arrived (ReadAhead's ``ready``): its
    # buffer is sized for a reader that takes frames as it needs them (a reader thread waiting for
    # a later frame looks to it like a starved runner, and a broken frame's error would wait for
    # that reader). A window call's frames have all arrived before it runs.
    targets = set(plan.frames.targets)
    finishing = finishing_frames(average.last_window)
    deferred = deferred_targets(finishing, engine.decides_band)
    # A target its window finishes alone is completed a frame or two after it is read: its pixels
    # are kept for that at any size (reading a 4K plate again costs more than holding it), where
    # a window that finishes six would hold six.
    finished_alone = {numbers[0] for numbers in finishing.values() if len(numbers) == 1}

    def prepare(number: int) -> PreparedFrame:
        # A frame read only for context (a neighbour outside the render, a global frame) needs
        # only what the engine reads of it: no grade in the output space, no hard composite. A
        # deferred target gets the composite's arrays when it is composited.
        if number in deferred:
            return preparer.read_target(number, keep_read=number in finished_alone)
        return preparer.prepare(number, context_only=number not in targets)

    def decide(index: int, window: Window) -> Iterator[tuple[int, str, np.ndarray]]:
        """The engine's decisions for the window's outputs, averaged over the windows that predict
        them: each frame once its last window is done."""
        results = engine.fuse_window(
            window_frames(window, prepared, engine.inputs, frame_key, engine.takes_frame_stacks)
        )
        for number, result in zip(window.outputs, results, strict=True):
            if result.alpha is not None:
                average.add(number, "alpha", result.alpha)
            elif not engine.decides_colours:
                raise RuntimeError(
                    f"engine {engine.name!r} decided frame {number} by colours but declares "
                    f"decides_colours = False; set it True so frames carry what colours need"
                )
            else:
                average.add(number, "rgb", result.rgb)
        yield from average.finished(index)

    beyond_band = BeyondBandLog()
    without_edge = MatteWithoutEdgeLog(getattr(plan.sources.matte, "inner", None) is plan.sources.plate)
    arrived = plan.sources.arrived
    reads_ahead = release is None or arrived is not None
    workers = preparers(plan.sources.present)
    ahead = ReadAhead(prepare, workers=workers, ready=arrived) if reads_ahead else None
    take = ahead.take if ahead is not None else prepare
    # A stream's frame holds its pixels as read until it is completed (the stream drops them once
    # read): where windows finish many frames at once (the network's six), the next window's
    # frames held beside this one's took a 4K server past 4 GiB. Its window's own frames are
    # still prepared on every worker at once.
    looks_ahead = arrived is None or all(len(numbers) == 1 for numbers in finishing.values())
    # Deferred targets are completed one ahead of the one being composited (a budget of nothing
    # ahead is one frame), so at most two hold their composite's arrays at a time.
    completions = ReadAhead(
        lambda number: preparer.complete(number, prepared[number]),
        budget_bytes=0,
        name="movingcolor-complete",
    )
    try:
        for index, window in enumerate(windows):
            if ahead is not None:
                # This window's missing frames on every worker (the runner waits for them); the
                # next window's within the budget.
                ahead.request((n for n in window.frames if n not in prepared), needed=True)
                for upcoming in windows[index + 1 : index + 2] if looks_ahead else ():
                    ahead.request(n for n in upcoming.frames if n not in prepared)
            for number in window.frames:
                if number not in prepared:
                    prepared[number] = take(number)
                    if release:
                        release(number)
                if number in deferred and number in finishing.get(index, ()):
                    # Completed from here on, beside the frames still being read and the engine.
                    completions.request([number])
            if engine.decides_band:
                decided = decide(index, window)
            else:
                # The hard composite is the frame: nothing to decide, nothing to composite.
                decided = ((number, "alpha", None) for number in window.outputs)
            for number, kind, value in decided:
                frame = prepared[number] = (
                    completions.take(number) if number in deferred else prepared[number]
                )
                if value is None:
                    fused = frame.edited_out
                else:
                    beyond_band.check(number, frame, kind, value)
                    fused = compositing.composite(plan.colorspaces, frame, kind, value)
                compositing.check_finite(
                    number,
                    fused,
                    half,
                    plan.colorspaces.grade_label,
                    frame.matte,
                    frame.band,
                    frame.plate_out,
                )
                without_edge.check(number, frame.matte)
                yield number, ("blend" if kind == "alpha" else "color"), fused
                # Composited: what later windows (and a host's next window) still read of it is
                # the engine's inputs alone; its composite's arrays go now, not after the window.
                prepared[number] = preparer.as_context(number, frame)
                del frame, fused
            for number in window.frames:
                if last_use[number] == index:
                    del prepared[number]
        beyond_band.close()
        without_edge.close()
    finally:
        completions.close()
        if ahead is not None:
            ahead.close()


def finishing_frames(last_window: dict[int, int]) -> dict[int, list[int]]:
    """The frames each window finishes (its outputs no later window predicts), in frame order: the
    order they are composited in."""
    finishing: dict[int, list[int]] = {}
    for number in sorted(last_window):
        finishing.setdefault(last_window[number], []).append(number)
    return finishing


def deferred_targets(finishing: dict[int, list[int]], decides_band: bool = True) -> frozenset[int]:
    """The targets whose composite arrays are made apart from the rest of their preparation, on a
    thread of their own, just ahead of their composite: every target of an engine that
    ``decides_band``, and those a window finishes together with others (the network's six at
    once). Frames read ahead of their window then hold their engine's inputs and their pixels as
    read, not their composite's graded plate and hard composite: an 8-frame 1080p guided shot's
    peak went from 0.70 to 0.58 GB, and its time with it where memory new to a process is slow to
    fault in. In a host's window call the composite arrays are made while the engine decides the
    band, not before it starts."""
    if decides_band:
        return frozenset(number for numbers in finishing.values() for number in numbers)
    return frozenset(number for numbers in finishing.values() if len(numbers) > 1 for number in numbers)


class BeyondBandLog:
    """Says where the fused edge lies beyond the band: the first frame of each run of consecutive
    such frames at once, with the band to try, and each run's extent when it ends, so a long shot
    with a bad matte gives two lines a run instead of one a frame."""

    def __init__(self) -> None:
        self._run: list[int] = []  # the current run's first and last frame numbers
        self._widest = 0.0

    def check(self, number: int, frame: PreparedFrame, kind: str, value: np.ndarray) -> None:
        missed = compositing.edge_beyond_band(frame, kind, value)
        if not missed:
            self.close()
            return
        if self._run and number == self._run[1] + 1:
            self._run[1] = number
            self._widest = max(self._widest, frame.band_pixels)
            return
        self.close()
        self._run, self._widest = [number, number], frame.band_pixels
        log.warning(
            "frame %d: along %d px of the band's outer edge the fused edge lies beyond the band (the "
            "matte misses the object by about the band's %.0f px or more there); the change fades "
            "out at the band's edge, so a soft seam can stay: a wider band (e.g. --band %d) reaches it",
            number,
            missed,
            frame.band_pixels,
            math.ceil(2 * frame.band_pixels),
        )

    def close(self) -> None:
        """Ends the current run; a run of more than one frame is summed up."""
        if self._run and self._run[1] > self._run[0]:
            first, last = self._run
            log.warning(
                "frames %d-%d (%d frames): the fused edge lies beyond the band on each; a wider band "
                "(e.g. --band %d) reaches it",
                first,
                last,
                last - first + 1,
                math.ceil(2 * self._widest),
            )
        self._run = []


class MatteWithoutEdgeLog:
    """Says, once a shot is fused, on which frames the matte has no edge: empty (the plate is
    written as it is) or full (the whole frame graded), neither soft anywhere nor on both sides of
    half. On every frame of a shot it is a warning, since a matte empty throughout is most often
    the wrong file or channel and the shot would otherwise come back unchanged without a word (a
    host's one-frame window is told at info level: a scrub past the object is no mistake)."""

    def __init__(self, plate_alpha: bool = False) -> None:
        self.empty: list[int] = []
        self.full: list[int] = []
        self.count = 0
        #: The matte is the plate's own alpha (no matte given): a full one is an opaque plate's.
        self.plate_alpha = plate_alpha

    def check(self, number: int, matte: np.ndarray) -> None:
        self.count += 1
        if float(matte.max()) == 0.0:
            self.empty.append(number)
        elif float(matte.min()) == 1.0:
            self.full.append(number)

    def close(self) -> None:
        say = log.warning if self.count > 1 else log.info
        if self.count and len(self.empty) == self.count:
            say(
                "the matte is empty on every frame (%s): the output is the plate, unchanged; check the "
                "matte input (--matte alpha reads the plate's alpha; an RGB matte is read from its "
                "brightest channel)",
                describe_frames(self.empty),
            )
        elif self.count and len(self.full) == self.count and self.plate_alpha:
            say(
                "the matte is full on every frame (%s): with no matte given, the matte is the plate's "
                "alpha, which is opaque; the whole frame is graded, with no edge to fuse: give the roto "
                "with --matte (in a host, connect the node's matte input)",
                describe_frames(self.full),
            )
        elif self.count and len(self.full) == self.count:
            say(
                "the matte is full on every frame (%s): the whole frame is graded, with no edge to "
                "fuse; check the matte input (a matte with an alpha channel is read from its alpha: one "
                "exported with an opaque alpha and the shape in its RGB needs that alpha removed)",
                describe_frames(self.full),
            )
        else:
            if self.empty:
                log.info("frames %s: the matte is empty (the plate as it is)", describe_frames(self.empty))
            if self.full:
                log.info("frames %s: the matte is full (graded whole)", describe_frames(self.full))


def preparers(sources: Iterable) -> int:
    """How many frames to prepare at once: one per usable core (at most ``MAX_PREPARERS``) when
    every source reads frames in any order, else one, so a video decodes forwards."""
    if not all(source.reads_in_any_order for source in sources):
        return 1
    return min(usable_cores(), MAX_PREPARERS)


class ReadAhead:
    """Prepares frames on ``workers`` threads, started in the order asked, in the caller's context
    (a confined job's reads stay confined); :meth:`take` waits for one and raises what preparing
    it raised. At most ``budget_bytes`` of frames are prepared ahead of the runner (at least one;
    one per worker until a frame's size is known): at 4K a network window's next six frames would
    hold several gigabytes before they are needed. Frames asked for as ``needed`` (the window the
    runner is about to fuse, which it holds next anyway) count against no budget: they are
    prepared on every worker at once.

    ``ready(frame)``, where given (a stream's: its images have all arrived), holds a frame back
    from the threads until it is ready, and :meth:`take` prepares one that is not on the caller's
    thread, so only the caller ever waits for a stream's images: its buffer is sized for a reader
    that takes frames as it needs them (a reader waiting for a later frame would look like a
    starved runner to it), and a reader blocked on a frame that never comes would keep the
    caller's error from ending the call."""

    def __init__(
        self,
        prepare: Callable[[int], PreparedFrame],
        budget_bytes: int | None = None,
        name: str = "movingcolor-read",
        workers: int = 1,
        ready: Callable[[int], bool] | None = None,
    ):
        self._prepare = prepare
        self._ready = ready
        self._budget = READ_AHEAD_BYTES if budget_bytes is None else budget_bytes
        self._frame_bytes = 0  # the largest frame prepared so far
        self._wanted: list[int] = []  # asked for, not yet handed to the worker
        self._needed: set[int] = set()  # of those and the pending, the ones the runner waits for
        self._pending: dict[int, Future] = {}
        self._workers = max(1, workers)
        self._reader = ContextWorker(name, self._workers)

    def request(self, numbers: Iterable[int], needed: bool = False) -> None:
        """Prepare ``numbers`` in this order; ``needed``: the runner takes them before it goes on."""
        for number in numbers:
            if needed:
                self._needed.add(number)
            if number not in self._pending and number not in self._wanted:
                self._wanted.append(number)
        self._fill()

    def take(self, number: int) -> PreparedFrame:
        self._needed.discard(number)
        if number in self._wanted:
            self._wanted.remove(number)
        if number in self._pending:
            frame = self._pending.pop(number).result()
        elif self._ready is not None:
            frame = self._measured(number)  # it may not have arrived: the caller waits for it
        else:
            frame = self._reader.submit(self._measured, number).result()
        self._fill()
        return frame

    def _measured(self, number: int) -> PreparedFrame:
        frame = self._prepare(number)
        self._frame_bytes = max(self._frame_bytes, frame.nbytes)
        return frame

    def _fill(self) -> None:
        # Before any frame's size is known, one frame per worker.
        ahead = max(1, self._budget // self._frame_bytes) if self._frame_bytes else self._workers
        # Needed frames first: at 4K the budget holds one frame, and a window's frames read one at
        # a time left a core idle while the runner waited for all of them.
        ready = [n for n in self._wanted if self._ready is None or self._ready(n)]
        for number in [n for n in ready if n in self._needed]:
            if len(self._pending) >= max(ahead, self._workers):
                break
            self._submit(number)
        for number in [n for n in ready if n not in self._pending]:
            if len(self._pending) >= ahead:
                break
            self._submit(number)

    def _submit(self, number: int) -> None:
        self._wanted.remove(number)
        self._pending[number] = self._reader.submit(self._measured, number)

    def close(self) -> None:
        """Drop what was read ahead and wait for the frame being read: the sources close after this."""
        self._wanted.clear()
        self._needed.clear()
        self._pending.clear()
        self._reader.close(drop_queued=True)
