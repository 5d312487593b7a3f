"""Full-resolution guided refinements kept for the windows that share a frame."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from .guided import refine_matte


class RefinementCache:
    """Frames' spatial guided refinements (:func:`~.guided.refine_matte`), kept for reuse.

    Consecutive windows overlap (six local frames every three frames predict each frame
    twice), and at 4K one refinement costs seconds on a CPU. The spatial refinement of a
    frame depends on that frame alone, so reusing it changes nothing. Entries are keyed by
    a digest of what they were computed from, not by frame number: one network engine
    serves every job on a server, and two shots' frame 1001 must never meet.
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._entries: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(guide: np.ndarray, matte: np.ndarray, band_pixels: float) -> bytes:
        digest = hashlib.sha256(repr((guide.shape, guide.dtype.str, matte.dtype.str, band_pixels)).encode())
        digest.update(memoryview(np.ascontiguousarray(guide)).cast("B"))
        digest.update(memoryview(np.ascontiguousarray(matte)).cast("B"))
        return digest.digest()

    def refined(self, guide: np.ndarray, matte: np.ndarray, band_pixels: float) -> np.ndarray:
        """``refine_matte(guide, matte, band_pixels)``, read-only; computed once while kept."""
        key = self._key(guide, matte, band_pixels)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        refined = refine_matte(guide, matte, band_pixels)
        refined.flags.writeable = False  # shared between windows: nobody may change it
        with self._lock:
            self._entries[key] = refined
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return refined
