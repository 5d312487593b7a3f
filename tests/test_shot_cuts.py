"""Cuts between a window's frames (engines.shot_cuts): found where the picture changes to another
scene, not where a shot's picture moves, and each frame reduced once for the windows that share it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("cv2")

import movingcolor.engines.shot_cuts as shot_cuts  # noqa: E402
from movingcolor.color.config import ColorConfig  # noqa: E402
from movingcolor.color.converted_on_demand import ConvertedOnDemand  # noqa: E402
from movingcolor.engines.shot_cuts import CUT_SCORE, cut_score, reduced, shots  # noqa: E402
from movingcolor.lru_cache import LruCache  # noqa: E402
from scipy import ndimage  # noqa: E402


def scene(seed: int, height: int = 270, width: int = 480) -> np.ndarray:
    """A picture with a scene's large shapes: smooth colour fields, display-encoded."""
    rng = np.random.default_rng(seed)
    fields = ndimage.gaussian_filter(rng.random((height, width, 3)), (height / 8, width / 8, 0))
    fields = (fields - fields.min()) / (fields.max() - fields.min())
    return (fields * rng.uniform(0.3, 1.0, 3)).astype(np.float32)


def panned(picture: np.ndarray, frames: int, step: int) -> list[np.ndarray]:
    return [np.roll(picture, t * step, axis=1) for t in range(frames)]


def test_a_cut_between_two_scenes_parts_the_frames_and_motion_within_a_shot_does_not():
    first, second = scene(1), scene(2)
    assert shots(panned(first, 3, 6) + panned(second, 4, 6)) == [range(0, 3), range(3, 7)]
    # A pan of a tenth of the frame each frame is one shot.
    assert shots(panned(first, 5, 48)) == [range(0, 5)]
    assert cut_score(reduced(first), reduced(first)) == 0.0
    assert cut_score(reduced(first), reduced(second)) > CUT_SCORE
    assert shots([first]) == [range(0, 1)]


@pytest.mark.parametrize("frames", [4, 8, 12])
def test_a_fade_or_a_change_of_exposure_is_no_cut(frames):
    """A fade to black, a change of exposure and a flash that burns out much of the picture change
    its values but not their order (a fixed threshold had split a fade into as many shots as it had
    frames)."""
    picture = scene(5)
    fade = [picture * (1.0 - t / frames) for t in range(frames + 1)]
    assert shots(fade) == [range(0, frames + 1)]
    assert shots(fade[::-1]) == [range(0, frames + 1)]
    assert shots([picture * 0.5] * 3 + [picture * 0.6] * 3 + [picture * 0.4] * 2) == [range(0, 8)]
    flash = np.clip(picture * 3.0, 0.0, 1.0)
    assert shots([picture, picture, flash, picture, picture]) == [range(0, 5)]


def test_a_shot_of_one_frame_between_two_cuts():
    """Each pair of frames is judged on its own: a shot one frame long is found between two cuts,
    and a window that starts at a cut finds it as one that holds it in its middle does."""
    first, middle, last = scene(1), scene(2), scene(3)
    assert shots([first, first, middle, last, last]) == [range(0, 2), range(2, 3), range(3, 5)]
    assert shots([middle, last]) == [range(0, 1), range(1, 2)]


def test_fine_texture_that_moves_is_no_cut():
    """Stripes a few pixels apart panning across a 4K frame: sampled every few pixels they flicker
    and scored far over the threshold; averaged over every pixel they do not."""
    columns = np.arange(4096)
    stripes = [((columns + 4 * t) // 4 % 2).astype(np.float32) for t in range(4)]
    frames = [np.broadcast_to(row[None, :, None], (2160, 4096, 3)) * 0.8 + 0.1 for row in stripes]
    assert shots(frames) == [range(0, 4)]


def test_a_frame_is_reduced_once_for_the_windows_that_share_it(monkeypatch):
    reductions = []
    real = shot_cuts.reduced

    def counting(plate):
        reductions.append(plate)
        return real(plate)

    monkeypatch.setattr(shot_cuts, "reduced", counting)
    frames = panned(scene(3), 6, 4)
    cache = LruCache(shot_cuts.REDUCED_BYTES)
    assert shots(frames[:4], ["f0", "f1", "f2", "f3"], cache) == [range(0, 4)]
    assert shots(frames[2:], ["f2", "f3", "f4", "f5"], cache) == [range(0, 4)]
    assert len(reductions) == 6
    shots(frames[:2], [None, None], cache)  # frames without a name are not kept
    assert len(reductions) == 8


class _Counting:
    """A real OpenColorIO processor that counts the pixels it converts."""

    def __init__(self, processor):
        self.processor, self.pixels = processor, 0

    def applyRGB(self, pixels):  # noqa: N802 (OpenColorIO's name)
        self.pixels += pixels.size // 3
        self.processor.applyRGB(pixels)


def test_a_frame_converted_on_demand_is_scored_without_converting_it_whole():
    """A plate converted to the display encoding on demand is reduced in its source's encoding and
    the small picture converted: it scores near zero against the frame converted whole, and only the
    small picture's pixels are converted."""
    config = ColorConfig()
    linear = (scene(4, 1080, 1920) ** 2.2).astype(np.float32)
    counting = _Counting(config.converter(config.scene_linear, config.srgb_encoded))
    on_demand = ConvertedOnDemand(linear, [counting])
    converted = np.clip(config.convert(linear, config.scene_linear, config.srgb_encoded), 0.0, 1.0)
    assert cut_score(reduced(on_demand), reduced(converted)) < 0.05
    assert 0 < counting.pixels <= 64 * 36
