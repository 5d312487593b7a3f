"""The demo's pictures and movie: what they contain, and that the temporal strip tells a
flickering seam from a steady one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from movingcolor.color.config import ColorConfig
from movingcolor.demo.edge_crop import most_different_box, outlined, zoom
from movingcolor.demo.edge_track import EdgeTrack, track_left_edge
from movingcolor.demo.grid import GAP, HEADER_HEIGHT, LABEL_WIDTH
from movingcolor.demo.labels import BACKGROUND, text_cell
from movingcolor.demo.run import display_frames, run_demo
from movingcolor.demo.temporal_strip import (
    FOOTER_HEIGHT,
    HALF_WIDTH,
    LINE_HEIGHT,
    edge_strip,
    seam_motion,
)
from movingcolor.frames.image_io import read_pixels
from movingcolor.jobs.demo_shot import FIRST_FRAME
from movingcolor.synthetic import generate_shot

FRAMES = 6
GREEN = np.array([0.2, 0.45, 0.25], np.float32)
PINK = np.array([0.6, 0.4, 0.35], np.float32)
ORANGE = np.array([0.85, 0.45, 0.1], np.float32)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    # guided: the light install's default, and the fastest engine that is not a composite.
    return run_demo(tmp_path_factory.mktemp("demo"), engine="guided", frames=FRAMES)


def moving_edge(frames: int, edge_x: np.ndarray, seam_x: np.ndarray, width: int = 96) -> tuple:
    """An object (pink, graded orange) whose left edge is at ``edge_x[t]``, on green; the
    grade's seam at ``seam_x[t]``. Returns the plate, the graded result and the track."""
    columns = np.arange(width)[None, :, None]
    plate = np.where(columns >= edge_x[:, None, None, None], PINK, GREEN)
    plate = np.broadcast_to(plate, (frames, 8, width, 3)).astype(np.float32)
    graded = np.where(columns >= seam_x[:, None, None, None], ORANGE, plate)
    return plate, graded.astype(np.float32), EdgeTrack(4, edge_x.astype(np.float64))


def test_strip_tells_a_flickering_seam_from_a_steady_one():
    rng = np.random.default_rng(3)
    frames = 12
    edge = 20.0 + 4.0 * np.arange(frames)  # the object moves 4 px a frame
    plate, steady, track = moving_edge(frames, edge, edge)
    _, flickering, _ = moving_edge(frames, edge, edge + rng.integers(-4, 5, frames))
    plate_strip = edge_strip(plate, track)
    steady_strip, flickering_strip = edge_strip(steady, track), edge_strip(flickering, track)
    assert steady_strip.shape == (frames, 2 * HALF_WIDTH, 3)
    # Held on the edge, the steady seam's lines are one line repeated; the chattering one's are not.
    assert np.allclose(steady_strip, steady_strip[:1], atol=1e-6)
    assert np.abs(flickering_strip - flickering_strip[:1]).max() > 0.3
    assert seam_motion(steady_strip, plate_strip) < 0.01
    assert seam_motion(flickering_strip, plate_strip) > 2.0


def test_edge_track_follows_the_true_edge():
    shot = generate_shot(frames=FRAMES)
    track = track_left_edge(shot.alpha)
    for t, x in enumerate(track.x):
        line = shot.alpha[t, track.row]
        assert line[int(np.floor(x))] <= 0.5 <= line[int(np.ceil(x))]
        assert (line[: int(np.floor(x))] < 0.5).all()


def test_crop_lands_where_the_versions_differ_and_stays_in_the_frame():
    a = np.zeros((180, 320, 3), np.float32)
    b = a.copy()
    b[100:110, 200:210] = 1.0
    box = most_different_box(a, b, 80, 45)
    assert box.x <= 200 and box.x + box.width >= 210 and box.y <= 100 and box.y + box.height >= 110
    b[:] = 0.0
    b[175:, 315:] = 1.0  # in the corner: the crop is pushed inside the frame
    box = most_different_box(a, b, 80, 45)
    assert (box.x, box.y) == (320 - 80, 180 - 45)
    framed = outlined(a, box)
    assert framed[box.y - 1, box.x + 10].tolist() == [1.0, 1.0, 1.0]
    assert not framed[box.y : box.y + box.height, box.x : box.x + box.width].any()
    enlarged = zoom(b, box, 4)
    assert enlarged.shape == (180, 320, 3)
    assert np.array_equal(enlarged[::4, ::4], b[box.y :, box.x :])


def test_labels_are_drawn():
    cell = text_cell("hard composite", 320, 34, size=20)
    assert cell.shape == (34, 320, 3)
    assert (cell > 0.5).any() and np.allclose(cell[0], BACKGROUND)


def test_demo_writes_a_labelled_sheet_and_strip(demo):
    assert set(demo.reports) == {"hard", "feather", "guided"}
    # A label column, then plate, hard, feather, guided: 320 px cells (the shot's width).
    width = LABEL_WIDTH + 4 * (320 + GAP)
    sheet = read_pixels(demo.contact_sheet)
    # A title and a header, then a full row and a zoom row for each of three frames.
    rows = HEADER_HEIGHT + 6 * (180 + GAP)
    assert sheet.shape[1] == width and rows < sheet.shape[0] < rows + 100
    # Above each column its label: text lighter than the background.
    header = sheet[sheet.shape[0] - rows : sheet.shape[0] - rows + HEADER_HEIGHT, LABEL_WIDTH:]
    assert all((header[:, c * (320 + GAP) : (c + 1) * 320, :3] > 0.5).any() for c in range(4))
    strip = read_pixels(demo.temporal_strip)
    # One line per frame, and beneath it how far each seam moves.
    rows = HEADER_HEIGHT + FRAMES * LINE_HEIGHT + FOOTER_HEIGHT + 2 * GAP
    assert strip.shape[1] == width and rows < strip.shape[0] < rows + 100


def test_movie_plays_the_shot_in_a_loop_at_1280_wide(demo):
    av = pytest.importorskip("av")
    assert demo.movie is not None and demo.movie.stat().st_size < 2_000_000
    with av.open(str(demo.movie)) as container:
        stream = container.streams.video[0]
        pictures = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        # Read while the file is open: PyAV 18 refuses a closed container's streams.
        codec, rate = stream.codec_context.name, float(stream.average_rate)
    assert codec in ("h264", "mpeg4")
    assert pictures[0].shape[1] == 1280 and len(pictures) % FRAMES == 0 and len(pictures) >= 3 * FRAMES
    duration = len(pictures) / rate
    assert 3.0 <= duration <= 8.0
    first, second = np.stack(pictures[:FRAMES]), np.stack(pictures[FRAMES : 2 * FRAMES])
    # Each loop plays the same frames; within a loop the object moves.
    assert np.abs(first.astype(int) - second).mean() < 1.0
    assert np.abs(first[0].astype(int) - first[-1]).mean() > 2.0


def test_demo_strip_shows_the_hard_seam_chattering_and_the_fusion_steady(demo):
    config = ColorConfig()
    spaces = demo.fused.colorspaces
    shot = generate_shot(frames=FRAMES)
    track = track_left_edge(shot.alpha)
    plate = demo.folder / "plate" / "plate.####.exr"
    plate_frames = display_frames(
        [str(plate).replace("####", f"{FIRST_FRAME + t:04d}") for t in range(FRAMES)], spaces["plate"], config
    )
    plate_strip = edge_strip(plate_frames, track)
    hard = edge_strip(display_frames(demo.reports["hard"].written, spaces["output"], config), track)
    guided = edge_strip(display_frames(demo.reports["guided"].written, spaces["output"], config), track)
    assert seam_motion(hard, plate_strip) > 1.5 * seam_motion(guided, plate_strip)


def test_a_shorter_demo_in_the_folder_of_a_longer_one_fuses_its_own_frames(tmp_path):
    """The quickstart's `movingcolor demo --frames 6` after the README's 16-frame demo in one folder:
    the folder's ten later plate frames are the earlier shot's and are left out."""
    run_demo(tmp_path, engine="hard", frames=4)
    shorter = run_demo(tmp_path, engine="hard", frames=2)
    # The earlier shot's later frames are gone: the folder's sequences are this shot's alone.
    assert sorted(p.name for p in (tmp_path / "plate").iterdir()) == ["plate.1001.exr", "plate.1002.exr"]
    assert len(list((tmp_path / "guided").iterdir())) == 2
    assert [Path(p).name for p in shorter.fused.written] == [
        f"hard.{FIRST_FRAME + n:04d}.exr" for n in range(2)
    ]


def test_a_strip_of_one_frame_or_a_few_reads_cleanly():
    """At one frame every column read "no seam" over a seam in plain view, and its frame label was
    cut; at six the caption between the frame numbers ran into them."""
    from movingcolor.demo.temporal_strip import (
        CAPTION_HEIGHT,
        LINE_HEIGHT,
        seam_motion_text,
        temporal_strip_picture,
    )

    assert seam_motion_text(float("nan"), False, 1) == "one frame"
    assert seam_motion_text(float("nan"), False, 6) == "no seam"
    assert seam_motion_text(1.25, False, 6) == "1.2 px" and seam_motion_text(0.0, True, 6) == "reference"
    assert 6 * LINE_HEIGHT - 2 * 2 * LINE_HEIGHT < CAPTION_HEIGHT  # six frames: no caption
    strips = {"plate": np.full((1, 20, 3), 0.5, np.float32), "fused": np.full((1, 20, 3), 0.6, np.float32)}
    picture = temporal_strip_picture(strips, "plate", 1001)
    assert picture.ndim == 3 and np.isfinite(picture).all()
