"""A window's frames as one ``(T, ...)`` array without copying them into one.

Stacking a window copies each of its frames once per window and input: at 4K a nine-frame
window of one RGB float input is almost a gigabyte, copied again for the next window that
shares eight of its frames. A :class:`FrameStack` holds the frames themselves and answers the
indexing engines use (a frame, a range of frames, a crop of every frame); anything else can
take ``np.asarray(stack)``, which stacks then.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


class FrameStack:
    """``T`` arrays of one shape and dtype, indexed as if stacked into one ``(T, ...)`` array:
    ``stack[t]`` is frame ``t`` itself (no copy), ``stack[a:b]`` a :class:`FrameStack` of those
    frames, ``stack[:, rows, cols]`` the stacked crops (a copy of the crops only)."""

    def __init__(self, frames: Sequence[np.ndarray]):
        if not frames:
            raise ValueError("a frame stack needs at least one frame")
        self._frames = list(frames)
        first = self._frames[0]
        self.shape = (len(self._frames), *first.shape)
        self.dtype = first.dtype
        self.ndim = first.ndim + 1

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._frames)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            first, rest = key[0], key[1:]
            if isinstance(first, (int, np.integer)):
                return self._frames[first][rest]
            return np.stack([frame[rest] for frame in self._select(first)])
        if isinstance(key, (int, np.integer)):
            return self._frames[key]
        return FrameStack(self._select(key))

    def _select(self, key) -> list[np.ndarray]:
        if isinstance(key, slice):
            return self._frames[key]
        return [self._frames[index] for index in np.arange(len(self._frames))[key]]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        stacked = np.stack(self._frames)
        return stacked if dtype is None else stacked.astype(dtype, copy=False)
