"""Window plans and the overlap average, independent of any engine."""

from __future__ import annotations

import numpy as np
import pytest
from movingcolor.windowing import Window, centered_windows, sliding_windows
from movingcolor.windowing.average import OverlapAverage


def test_sliding_windows_cover_the_clip_and_handle_its_end():
    clip = list(range(1001, 1024))  # 23 frames
    windows = sliding_windows(clip, clip, length=10, stride=5, ref_stride=5, max_refs=3)
    assert [w.local[0] for w in windows] == [1001, 1006, 1011, 1014]  # the last pulled back to end at 1023
    assert all(len(w.local) == 10 for w in windows)
    covered = {n for w in windows for n in w.outputs}
    assert covered == set(clip)
    # The pulled-back window predicts from where a window a stride on would start (1016): the
    # frames it shares with the one before are predicted twice, as interior frames are, not thrice.
    assert windows[-1].outputs == tuple(range(1016, 1024))
    counts = {n: sum(n in w.outputs for w in windows) for n in clip}
    assert set(counts.values()) == {1, 2} and counts[1014] == counts[1020] == 2
    for window in windows:
        assert not set(window.refs) & set(window.local)
        assert len(window.refs) <= 3 and all((n - 1001) % 5 == 0 for n in window.refs)


def test_each_frame_is_predicted_once_at_a_stride_of_the_window():
    """The shipped model's plan (stride = length): the last window, pulled back over frames the
    window before predicted, still decodes only the frames no window did."""
    clip = list(range(1001, 1009))  # 8 frames, windows of 6
    windows = sliding_windows(clip, clip, length=6, stride=6, ref_stride=10, max_refs=0)
    assert [w.local for w in windows] == [tuple(range(1001, 1007)), tuple(range(1003, 1009))]
    assert [w.outputs for w in windows] == [tuple(range(1001, 1007)), (1007, 1008)]
    # A chunk of the shot asks the same windows for its frames: frame 1005 from the first alone.
    assert [w.outputs for w in sliding_windows(clip, [1005, 1008], 6, 6, 10, 0)] == [(1005,), (1008,)]


def test_short_clip_gets_one_window():
    windows = sliding_windows([5, 6, 7], [5, 6, 7], length=10, stride=5, ref_stride=4, max_refs=2)
    assert windows == [Window(local=(5, 6, 7), refs=(), outputs=(5, 6, 7))]


def test_chunk_plans_are_the_whole_plan_restricted():
    clip = list(range(100))
    whole = sliding_windows(clip, clip, 10, 5, 10, 6)
    for first, last in [(0, 49), (50, 99), (37, 41)]:
        chunk = sliding_windows(clip, list(range(first, last + 1)), 10, 5, 10, 6)
        same = [w for w in whole if set(w.outputs) & set(range(first, last + 1))]
        assert [(w.local, w.refs) for w in chunk] == [(w.local, w.refs) for w in same]


def test_averaging_weights_sum_to_one():
    clip = list(range(30))
    windows = sliding_windows(clip, clip, 10, 3, 10, 2)
    average = OverlapAverage(windows)
    released = []
    for index, window in enumerate(windows):
        for frame in window.outputs:
            # Each window predicts a constant: its index. The mean is the mean of indices.
            average.add(frame, "alpha", np.full((2, 2), float(index)))
        released += average.finished(index)
    assert [frame for frame, _, _ in released] == clip
    for frame, _, value in released:
        indices = [i for i, w in enumerate(windows) if frame in w.outputs]
        assert np.allclose(value, np.mean(indices))


def test_a_frame_predicted_by_both_heads_is_averaged_as_colours():
    """Windows whose heads differ: blend weights become the colours they give, then one mean."""
    clip = list(range(12))
    windows = sliding_windows(clip, clip, 6, 3, 10, 0)
    plate, graded = np.full((2, 2, 3), 0.2), np.full((2, 2, 3), 0.6)
    to_rgb = lambda frame, alpha_sum, count: count * plate + alpha_sum[..., None] * (graded - plate)  # noqa: E731
    average = OverlapAverage(windows, to_rgb)
    with pytest.raises(ValueError, match="cannot average"):
        strict = OverlapAverage(windows)
        strict.add(0, "alpha", np.zeros((2, 2)))
        strict.add(0, "rgb", np.zeros((2, 2, 3)))
    released = {}
    for index, window in enumerate(windows):
        for frame in window.outputs:
            # Odd windows predict colours (0.5 grey), even ones a blend weight of 0.5 (grey 0.4).
            if index % 2:
                average.add(frame, "rgb", np.full((2, 2, 3), 0.5))
            else:
                average.add(frame, "alpha", np.full((2, 2), 0.5))
        released.update({frame: (kind, value) for frame, kind, value in average.finished(index)})
    mixed = 0
    for frame in clip:
        kinds = {i % 2 for i, w in enumerate(windows) if frame in w.outputs}
        kind, value = released[frame]
        mixed += kinds == {0, 1}
        if kinds == {0}:
            assert kind == "alpha" and np.allclose(value, 0.5)
        elif kinds == {1}:
            assert kind == "rgb" and np.allclose(value, 0.5)
        else:
            assert kind == "rgb" and np.allclose(value, 0.45)
    assert mixed


def test_centered_windows_stay_inside_the_clip():
    windows = centered_windows([1, 2, 3, 5], [1, 5], radius=2)
    assert windows[0].local == (1, 2, 3) and windows[1].local == (3, 5)
    with pytest.raises(ValueError):
        sliding_windows([1, 2], [1], 4, 5, 1, 1)


def test_global_frames_are_the_nearest_outside_the_window_and_cost_no_walk_of_the_clip():
    """The global frames of a window are the ``max_refs`` clip frames at the reference stride
    outside its local frames nearest its centre (the earlier of two as near); finding them reads a
    few frames about the window, not the whole clip (a declared clip of 100,000 frames cost the
    server half a minute of planning before it answered)."""
    from movingcolor.windowing.plan import _nearest_outside

    rng = np.random.default_rng(3)
    for _ in range(500):
        clip = sorted(
            int(n) for n in rng.choice(np.arange(-20, 200), size=int(rng.integers(1, 80)), replace=False)
        )
        candidates = clip[:: int(rng.integers(1, 6))]
        length = int(rng.integers(1, len(clip) + 1))
        start = int(rng.integers(0, len(clip) - length + 1))
        local = clip[start : start + length]
        count = int(rng.integers(0, 7))
        centre = (local[0] + local[-1]) / 2
        outside = [n for n in candidates if n not in local]
        expected = tuple(sorted(sorted(outside, key=lambda n: (abs(n - centre), n))[:count]))
        assert _nearest_outside(candidates, local[0], local[-1], count) == expected

    class Counted(list):
        reads = 0

        def __getitem__(self, index):
            Counted.reads += 1
            return super().__getitem__(index)

    frames = Counted(range(0, 1_000_000, 10))
    assert _nearest_outside(frames, 500_000, 500_005, 4) == (499_980, 499_990, 500_010, 500_020)
    assert Counted.reads < 100
