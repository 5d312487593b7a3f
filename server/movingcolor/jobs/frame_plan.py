"""Which frames a shot fuses and reads: the render range, the engine's windows, the read order.

This part of a plan needs only the clip (the frame numbers the sources hold), the
range asked for and the engine, never an image: a streamed shot computes it before
its first image arrives, tells the client which frames to send, and the runner then
runs exactly these windows.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ..engines import Engine
from ..errors import FrameRangeError
from ..frames.frame_range import FrameRange
from ..windowing import Window

log = logging.getLogger("movingcolor")

#: The most frames one shot may fuse: far beyond any real shot, and it keeps a range that a typo
#: or a hostile client declares (0-1000000000000) from being enumerated.
MAX_SHOT_FRAMES = 1_000_000
#: Frames decoded ahead of the runner beyond what its windows need, so decoding overlaps fusion.
READ_AHEAD = 2

#: Raises where the sources lack frames of a range; ``grown`` is True for the range with handles.
RangeCheck = Callable[[FrameRange, bool], None]


def check_length(frames: FrameRange) -> None:
    if len(frames) > MAX_SHOT_FRAMES:
        raise FrameRangeError(
            f"frame range {frames} holds {len(frames)} frames, more than a shot may "
            f"({MAX_SHOT_FRAMES}); split it into chunks with --frames"
        )


def render_range(
    asked: FrameRange | None, handles: int, default: FrameRange, available: FrameRange, check: RangeCheck
) -> FrameRange:
    """The frames to fuse, as ``movingcolor fuse`` and a streamed shot both pick them: ``asked``
    (``--frames``; else ``default``), grown by ``handles`` within ``available``.

    ``check`` raises where the sources lack frames of the range asked for, and of the range with
    handles; each caller words it for its sources (files on disk, a declared clip).
    """
    wanted = asked if asked is not None else default
    check(wanted, False)
    if handles:
        grown = wanted.with_handles(handles)
        clamped = grown.clamp(available)
        if clamped != grown:
            log.warning("handles limited to the available frames: %s instead of %s", clamped, grown)
        wanted = clamped
        check(wanted, True)
    return wanted


def held_around(held: set[int], asked: FrameRange, available: FrameRange) -> FrameRange:
    """The frames around ``asked`` that ``held`` holds without a gap, within ``available``: how far
    handles may reach (a gap in the numbering ends them as the clip's ends do); ``asked`` itself
    where ``held`` lacks one of its ends (reported apart)."""
    first, last = asked.first, asked.last
    if first not in held or last not in held:
        return asked
    while first - 1 >= available.first and first - 1 in held:
        first -= 1
    while last + 1 <= available.last and last + 1 in held:
        last += 1
    return FrameRange(first, last)


def read_order(windows: Sequence[Window]) -> list[int]:
    """Every frame the windows read, in the order the runner first needs it."""
    order: list[int] = []
    seen: set[int] = set()
    for window in windows:
        for number in window.frames:
            if number not in seen:
                seen.add(number)
                order.append(number)
    return order


def buffer_frames(order: Sequence[int]) -> int:
    """The frames a stream must hold when the frames of ``order`` arrive in ascending order while the
    runner reads them in ``order``: when it waits for frame x, every needed frame below x has arrived
    and those it has not read yet are held, so the buffer must hold them and x."""
    needed = sorted(order)
    read: list[int] = []
    capacity, highest = 1, None
    for number in order:
        if highest is None or number > highest:
            held = bisect.bisect_left(needed, number) - bisect.bisect_left(read, number)
            capacity = max(capacity, held + 1)
            highest = number
        bisect.insort(read, number)
    return capacity + READ_AHEAD


@dataclass(frozen=True)
class FramePlan:
    """The frames of one shot: ``render`` fused from the ``clip`` by the engine's ``windows``.

    ``targets`` are the frames of ``render`` this run fuses (a rerun leaves out frames
    already written); ``reads`` the frames the windows read, in the order the runner
    first needs them.
    """

    clip: tuple[int, ...]
    render: FrameRange
    targets: tuple[int, ...]
    windows: tuple[Window, ...]
    reads: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reads", tuple(read_order(self.windows)))

    @classmethod
    def plan(
        cls, engine: Engine, clip: Sequence[int], render: FrameRange, skip: frozenset[int] = frozenset()
    ) -> FramePlan:
        """The engine's windows over ``clip`` for every frame of ``render`` not in ``skip``."""
        targets = [n for n in render if n not in skip]
        windows = engine.plan(list(clip), targets) if targets else []
        return cls(tuple(clip), render, tuple(targets), tuple(windows))

    def for_outputs_alone(self) -> FramePlan:
        """This plan with each window's outputs marked as asked for alone (:attr:`Window.outputs_alone`):
        a host's window for one frame."""
        windows = tuple(replace(window, outputs_alone=True) for window in self.windows)
        return FramePlan(self.clip, self.render, self.targets, windows)

    def skipping(self, engine: Engine, finished: frozenset[int]) -> FramePlan:
        """This plan without the frames in ``finished``: their windows do not run at all."""
        if not finished:
            return self
        skipped = FramePlan.plan(engine, self.clip, self.render, finished)
        return skipped.for_outputs_alone() if any(w.outputs_alone for w in self.windows) else skipped

    @property
    def needed(self) -> list[int]:
        """The frames to read, ascending (the frames a streamed shot asks its client for)."""
        return sorted(self.reads)

    @property
    def buffer_frames(self) -> int:
        """The frames a stream holds at most, sent in ascending order (see :func:`buffer_frames`)."""
        return buffer_frames(self.reads)

    def last_use(self) -> dict[int, int]:
        """The index of the last window that reads each frame: it is dropped after that window."""
        last: dict[int, int] = {}
        for index, window in enumerate(self.windows):
            for number in window.frames:
                last[number] = index
        return last
