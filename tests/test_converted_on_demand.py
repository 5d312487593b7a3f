"""A frame's display encoding converted where it is read equals the whole frame converted."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from movingcolor.color.config import apply_processor, shared_config
from movingcolor.color.converted_on_demand import TILE, ConvertedOnDemand
from movingcolor.color.grade import parse_grade


class CountingStep:
    """A real OpenColorIO processor that counts the pixels it converts."""

    def __init__(self, processor):
        self.processor = processor
        self.pixels = 0

    def applyRGB(self, pixels):  # noqa: N802 (OpenColorIO's name)
        self.pixels += len(pixels)
        self.processor.applyRGB(pixels)


@pytest.fixture(scope="module")
def steps():
    config = shared_config()
    grade = parse_grade("slope=1.2,1.0,0.8;offset=0.01;power=1.1;sat=1.2", config)
    to_working = grade.processor(config, "ACEScg", config.scene_linear, "ACEScg")
    return [to_working, config.converter(config.scene_linear, config.srgb_encoded)]


def _plate(height: int = 300, width: int = 457) -> np.ndarray:
    rng = np.random.default_rng(7)
    # Beyond 0..1 both ways, so the clip matters.
    return (rng.random((height, width, 3), np.float32) * 1.6 - 0.2).astype(np.float32)


def _whole(plate: np.ndarray, steps) -> np.ndarray:
    converted = plate
    for step in steps:
        converted = apply_processor(step, converted)
    return np.clip(converted, 0.0, 1.0)


def test_regions_read_equal_the_whole_frame_converted_bit_for_bit(steps):
    plate = _plate()
    expected = _whole(plate, steps)
    frame = ConvertedOnDemand(plate, steps)
    height, width = plate.shape[:2]
    keys = [
        (slice(0, 5), slice(0, 7)),  # a corner
        (slice(height - 3, height), slice(width - 70, width)),  # the opposite corner, across tiles
        (slice(TILE - 1, TILE + 1), slice(2 * TILE - 2, 3 * TILE + 5)),  # across tile seams
        (slice(-10, None), slice(None)),  # negative bounds, whole rows
        (slice(20, 90), np.array([3, 200, 456, -1])),  # integer columns, the band's tiles' way
        (17,),  # a row
        (5, 9),  # a pixel
        (slice(10, 80, 3), slice(40, 41)),  # a step
        (slice(100, 150), slice(100, 150), 1),  # one channel
        (slice(50, 40), slice(0, 10)),  # empty
    ]
    for key in keys:
        got = frame[key]
        assert np.array_equal(got, expected[key]), key
    mask = np.zeros((height, width), bool)
    mask[::7, ::5] = True
    assert np.array_equal(frame[mask], expected[mask])  # any other index: the whole frame first
    assert np.array_equal(np.asarray(frame), expected)
    assert frame.shape == expected.shape and frame.dtype == expected.dtype and frame.nbytes == expected.nbytes


def test_only_the_tiles_read_are_converted_and_each_once(steps):
    plate = _plate(6 * TILE, 8 * TILE)
    counting = CountingStep(steps[1])
    frame = ConvertedOnDemand(plate, [steps[0], counting])
    crop = (slice(TILE + 10, 2 * TILE + 20), slice(3 * TILE + 1, 3 * TILE + 2))  # 2 x 1 tiles
    frame[crop]
    assert counting.pixels == 2 * TILE * TILE
    frame[crop]
    frame[TILE + 12, 3 * TILE + 5]
    assert counting.pixels == 2 * TILE * TILE, "converted again"
    frame.convert([(slice(0, 2 * TILE), slice(0, 4 * TILE))])  # 8 tiles, one of them done
    assert counting.pixels == 9 * TILE * TILE
    np.asarray(frame)
    assert counting.pixels == plate.shape[0] * plate.shape[1]
    assert np.array_equal(np.asarray(frame), _whole(plate, steps))


def test_what_is_read_cannot_change_the_frame_nor_the_source_before_it_is_converted(steps):
    plate = _plate()
    frame = ConvertedOnDemand(plate, steps)
    read = frame[0:10, 0:10]
    read[:] = -1.0
    assert np.array_equal(frame[0:10, 0:10], _whole(plate, steps)[0:10, 0:10])
    with pytest.raises(ValueError):
        plate[0, 0] = 0.0
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        ConvertedOnDemand(np.zeros((4, 4), np.float32), steps)


def test_threads_reading_one_frame_get_the_same_pixels(steps):
    plate = _plate(4 * TILE, 6 * TILE)
    expected = _whole(plate, steps)
    frame = ConvertedOnDemand(plate, steps)
    rng = np.random.default_rng(3)
    boxes = [tuple(int(v) for v in rng.integers(0, 4 * TILE, 4)) for _ in range(64)]
    failures = []

    def read(part: list) -> None:
        for top, left, height, width in part:
            key = (slice(top, top + height), slice(left, left + width))
            if not np.array_equal(frame[key], expected[key]):
                failures.append(key)

    threads = [threading.Thread(target=read, args=(boxes[k::4],)) for k in range(4)]
    for thread in threads:
        thread.start()
    frame.convert([(slice(0, 2 * TILE), slice(None))])  # ahead, beside them
    for thread in threads:
        thread.join()
    assert not failures
    assert np.array_equal(np.asarray(frame), expected)


def test_other_pixels_take_the_frames_conversion_and_leave_it_unconverted(steps):
    """A reduced copy of the source (the optical flow's) goes through the frame's conversion, as
    the frame's own pixels would, without converting a tile of the frame."""
    plate = _plate(2 * TILE, 3 * TILE)
    counting = CountingStep(steps[1])
    frame = ConvertedOnDemand(plate, [steps[0], counting])
    reduced = plate[::4, ::4]
    got = frame.converted(reduced)
    assert np.array_equal(got, _whole(reduced, steps))
    assert counting.pixels == reduced.shape[0] * reduced.shape[1]
    assert np.array_equal(frame[0:TILE, 0:TILE], _whole(plate, steps)[0:TILE, 0:TILE])
