"""Window plans over a clip.

A plan depends only on the clip (every frame the sources have) and the window
settings, never on the range being rendered, so a farm chunk of frames
1051-1100 runs exactly the windows a whole-shot run would for those frames and
gets identical results. Each output frame is the plain average of the
predictions of every window whose local frames contain it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """Frames fed to one prediction: ``local`` frames are predicted, ``refs`` are context."""

    local: tuple[int, ...]
    refs: tuple[int, ...] = ()
    #: The local frames whose predictions this window contributes.
    outputs: tuple[int, ...] = ()
    #: Whether its outputs are only ever asked for as this window's, never among other outputs of
    #: the same frames (a host's window for one frame, which no shot's chunking regroups): an
    #: engine may then lay its work along their bands alone.
    outputs_alone: bool = False

    @property
    def frames(self) -> tuple[int, ...]:
        return self.local + self.refs


def centered_windows(clip: list[int], targets: list[int], radius: int) -> list[Window]:
    """One window per target: its neighbours within ``radius`` that the clip has."""
    have = set(clip)
    windows = []
    for target in targets:
        local = tuple(n for n in range(target - radius, target + radius + 1) if n == target or n in have)
        windows.append(Window(local=local, outputs=(target,)))
    return windows


def sliding_windows(
    clip: list[int], targets: list[int], length: int, stride: int, ref_stride: int, max_refs: int
) -> list[Window]:
    """Windows of ``length`` local frames every ``stride`` frames, plus global frames.

    The last window is pulled back to end on the clip's last frame, so every
    window of a clip at least ``length`` long is full; it predicts only the frames from where a
    window a stride after the one before would start, so the frames it shares with that one are
    predicted as often as the clip's other frames (once at a stride of ``length``), not once more
    at the cost of a whole window's decoding. Global frames are the
    clip's frames at multiples of ``ref_stride`` outside the local frames, the
    ``max_refs`` nearest the window's centre. Only windows that predict a target
    are returned.
    """
    if length < 1 or stride < 1 or stride > length:
        raise ValueError(f"window length {length} and stride {stride} must satisfy 1 <= stride <= length")
    count = len(clip)
    length = min(length, count)
    starts = list(range(0, count - length + 1, stride))
    # Where each window's predictions begin: its first frame, but the pulled-back last window's at
    # the stride after the window before it.
    first_output = dict.fromkeys(starts, 0)
    if starts[-1] + length < count:
        first_output[count - length] = starts[-1] + stride - (count - length)
        starts.append(count - length)
    wanted = set(targets)
    candidates = clip[::ref_stride] if ref_stride > 0 else []
    windows = []
    for start in starts:
        local = tuple(clip[start : start + length])
        outputs = tuple(n for n in local[first_output[start] :] if n in wanted)
        if not outputs:
            continue
        refs = _nearest_outside(candidates, local[0], local[-1], max_refs)
        windows.append(Window(local=local, refs=refs, outputs=outputs))
    return windows


def _nearest_outside(candidates: list[int], first: int, last: int, count: int) -> tuple[int, ...]:
    """The ``count`` frames of sorted ``candidates`` outside ``first..last`` nearest its centre (the
    earlier of two as near), in order. Walks outwards from the window's edges, so a clip's plan
    costs its windows times ``count``, not its windows times its frames (a declared clip of 100,000
    frames took the server half a minute to plan)."""
    centre = (first + last) / 2
    left = bisect.bisect_left(candidates, first) - 1
    right = bisect.bisect_right(candidates, last)
    chosen = []
    while len(chosen) < count and (left >= 0 or right < len(candidates)):
        take_left = right >= len(candidates) or (
            left >= 0 and centre - candidates[left] <= candidates[right] - centre
        )
        if take_left:
            chosen.append(candidates[left])
            left -= 1
        else:
            chosen.append(candidates[right])
            right += 1
    return tuple(sorted(chosen))
