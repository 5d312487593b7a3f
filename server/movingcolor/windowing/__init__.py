"""Windowing: which frames feed each prediction, independent of the engine."""

from .plan import Window, centered_windows, sliding_windows

__all__ = ["Window", "centered_windows", "sliding_windows"]
