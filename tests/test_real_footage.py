"""The real-footage benchmark: its re-drawn mattes, its truth, and a whole run.

The DAVIS clips live outside the repository (../shared/data/clips); the run on them skips
with the reason when they are absent, and the same run on a small generated clip laid out
like them always runs. Both write contact sheets, checked against the truth they picture.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("skimage")
pytest.importorskip("cv2")

from conftest import CLIPS, run_cli  # noqa: E402
from movingcolor.bench import metrics  # noqa: E402
from movingcolor.bench.real_clips import HELD_OUT_CLIPS, Size, find_clip, load_footage  # noqa: E402
from movingcolor.bench.real_footage import (  # noqa: E402
    GRADES,
    main,
    plate_colorspace,
    scoring_bands,
    truth_frames,
)
from movingcolor.bench.real_footage_report import SECTION  # noqa: E402
from movingcolor.bench.real_footage_sheets import (  # noqa: E402
    BAND_COLOUR,
    ERROR_SCALE,
    GAP,
    SHEET_GRADE,
    ContactSheet,
    densest_window,
    middle_frames,
)
from movingcolor.color.config import ColorConfig  # noqa: E402
from movingcolor.errors import MovingColorError  # noqa: E402
from movingcolor.frames.image_io import read_pixels, write_image  # noqa: E402
from movingcolor.jobs import ShotSpec, run_shot  # noqa: E402
from movingcolor.masks.redrawn import PolygonRoto, RoughMatte, draw_mattes  # noqa: E402
from scipy import ndimage  # noqa: E402

HEIGHT, WIDTH = 120, 160
#: The generated shapes' sharpest curve: their hole's radius as a share of the frame's height.
HOLE = 0.15


def _shapes(frames: int = 4, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """A disc and an ellipse with a hole, moving a little each frame: smooth, roto-able outlines."""
    yy, xx = np.mgrid[:height, :width].astype(np.float64)
    masks = []
    for t in range(frames):
        disc = (yy - 0.45 * height) ** 2 + (xx - 0.3 * width - 2 * t) ** 2 <= (0.25 * height) ** 2
        ex, ey = 0.72 * width, 0.55 * height + t
        ellipse = ((xx - ex) / (0.2 * width)) ** 2 + ((yy - ey) / (0.3 * height)) ** 2 <= 1
        hole = (xx - ex) ** 2 + (yy - ey) ** 2 <= (HOLE * height) ** 2
        masks.append(disc | (ellipse & ~hole))
    return np.stack(masks)


def _distance_off_the_edge(matte: np.ndarray, mask: np.ndarray) -> float:
    """How far from the edge of ``mask`` the farthest pixel where ``matte`` differs from it is."""
    outside = ndimage.distance_transform_edt(~mask)  # an outside pixel's distance to the mask
    inside = ndimage.distance_transform_edt(mask)  # an inside pixel's distance to the outside
    wrong = np.where(mask, inside, outside)[matte != mask]
    return float(wrong.max()) if wrong.size else 0.0


def test_rough_matte_stays_within_its_reach_and_chatters():
    masks = _shapes(6)
    kind = RoughMatte()
    mattes = draw_mattes(kind, masks, seed=3)
    for matte, mask in zip(mattes, masks, strict=True):
        assert (matte != mask).any(), "a rough matte is never the true mask"
        assert _distance_off_the_edge(matte, mask) <= kind.reach
    # Each frame is drawn on its own: the error changes from frame to frame.
    errors = [matte ^ mask for matte, mask in zip(mattes, masks, strict=True)]
    assert all((a ^ b).sum() > 50 for a, b in zip(errors, errors[1:], strict=False))
    # The same seed draws the same mattes; another seed others.
    assert np.array_equal(draw_mattes(kind, masks, seed=3), mattes)
    assert not np.array_equal(draw_mattes(kind, masks, seed=4), mattes)


def test_rough_matte_scales_with_the_frame():
    masks = _shapes(3, 2 * HEIGHT, 2 * WIDTH)
    kind = RoughMatte()
    assert kind.scaled(2.0) == RoughMatte((2 * kind.grow[0], 2 * kind.grow[1]), 2 * kind.shift, 2 * kind.blur)
    mattes = draw_mattes(kind, masks, seed=5, factor=2.0)
    offsets = [_distance_off_the_edge(m, mask) for m, mask in zip(mattes, masks, strict=True)]
    assert max(offsets) <= kind.scaled(2.0).reach
    assert max(offsets) > kind.grow[1], "wobble at twice the size reaches farther than at the native size"


def test_polygon_matte_covers_the_interior_and_follows_the_edge():
    masks = _shapes(6)
    kind = PolygonRoto()
    mattes = draw_mattes(kind, masks, seed=7)
    # A straight segment between points on a curve of radius r, `spacing` apart, strays from it by
    # its sag; the hole is the sharpest curve. Then each point's jitter, and the pixel grid.
    radius, chord = HOLE * HEIGHT, kind.spacing[1]
    near = radius - np.sqrt(radius**2 - (chord / 2) ** 2) + kind.jitter + 1
    for matte, mask in zip(mattes, masks, strict=True):
        interior = ndimage.distance_transform_edt(mask) > near
        assert matte[interior].all(), "the roto covers the object's interior"
        assert _distance_off_the_edge(matte, mask) <= near
        hole_centre = (int(0.55 * HEIGHT), int(0.72 * WIDTH))
        assert not mask[hole_centre] and not matte[hole_centre], "the hole stays cut"
    errors = [matte ^ mask for matte, mask in zip(mattes, masks, strict=True)]
    assert all((a ^ b).any() for a, b in zip(errors, errors[1:], strict=False)), (
        "each frame's roto is drawn anew"
    )


def test_scoring_band_covers_both_edges():
    masks = _shapes(1)
    shifted = np.roll(masks, 6, axis=2)
    band = scoring_bands(shifted, masks)[0]
    for edge_of in (masks[0], shifted[0]):
        edge = edge_of ^ ndimage.binary_erosion(edge_of)
        assert band[edge].all()
    assert not band[0, 0] and band.mean() < 0.5


def test_per_pixel_delta_e_averages_to_the_band_figure():
    rng = np.random.default_rng(1)
    reference = rng.random((40, 50, 3)).astype(np.float32)
    result = np.clip(reference + 0.05 * rng.standard_normal(reference.shape), 0, 1).astype(np.float32)
    region = rng.random((40, 50)) > 0.6
    per_pixel = metrics.delta_e2000_map(result, reference)
    assert per_pixel.shape == (40, 50)
    assert per_pixel[region].mean() == pytest.approx(metrics.delta_e2000(result, reference, region), rel=1e-5)
    assert np.all(metrics.delta_e2000_map(reference, reference) < 1e-6)


def test_sheet_window_sits_on_the_band_and_rows_are_the_middle_frames():
    band = np.zeros((300, 400), bool)
    yy, xx = np.mgrid[:300, :400]
    band[(yy - 200) ** 2 + (xx - 290) ** 2 <= 20**2] = True
    top, left, side = densest_window(band, 160)
    assert side == 160 and abs(top + 80 - 200) <= 1 and abs(left + 80 - 290) <= 1
    # Near the frame's edge the window moves inside it; a small frame shrinks it.
    assert densest_window(np.roll(band, 85, axis=1), 160) == (top, 400 - 160, 160)
    assert densest_window(band[:120], 160)[2] == 120
    assert middle_frames(12) == [5, 6, 7] and middle_frames(4) == [1, 2, 3]
    assert middle_frames(3) == [0, 1, 2] and middle_frames(2) == [0, 1]


def _cell(sheet: np.ndarray, row: int, column: int, side: int, zoom: int) -> np.ndarray:
    """The cell at ``row``, ``column`` of a written sheet, back at the footage's scale."""
    cell = side * zoom
    top, left = row * (cell + GAP), column * (cell + GAP)
    return sheet[top : top + cell : zoom, left : left + cell : zoom]


#: An 8-bit PNG holds a value to within half a step.
PNG_STEP = 0.5 / 255 + 1e-6


def test_contact_sheet_shows_truth_engines_and_their_error_maps(tmp_path):
    masks = _shapes(5, 90, 120)
    truth = np.stack([np.where(m[..., None], [0.8, 0.5, 0.3], [0.2, 0.4, 0.6]) for m in masks])
    truth = truth.astype(np.float32)
    bands = scoring_bands(np.roll(masks, 3, axis=2), masks)
    sheet = ContactSheet.start("native", "shapes", [10, 11, 12, 13, 14], truth, bands)
    sheet.add("same", truth.copy())
    sheet.add("darker", truth * 0.95)
    path = tmp_path / "docs" / "benchmarks" / "sheet.png"
    sheet.write(path)

    top, left, side = sheet.window
    assert side == 90 and sheet.zoom == 2 and sheet.numbers == [11, 12, 13]
    written = read_pixels(path)
    cell = side * sheet.zoom
    assert written.shape == (6 * cell + 5 * GAP, 3 * cell + 2 * GAP, 3), "rows: 3 frames twice; columns: 3"
    for row, index in enumerate(sheet.rows):
        crop = truth[index, top : top + side, left : left + side]
        assert np.abs(_cell(written, row, 0, side, sheet.zoom) - crop).max() <= PNG_STEP
        assert np.abs(_cell(written, row, 1, side, sheet.zoom) - crop).max() <= PNG_STEP
        band = bands[index, top : top + side, left : left + side]
        assert band.any()
        assert np.abs(_cell(written, 3 + row, 0, side, sheet.zoom)[band] - BAND_COLOUR).max() <= PNG_STEP
        assert not _cell(written, 3 + row, 0, side, sheet.zoom)[~band].any()
        assert not _cell(written, 3 + row, 1, side, sheet.zoom).any(), "no error: black"
        error = metrics.delta_e2000_map(crop * 0.95, crop)
        shown = _cell(written, 3 + row, 2, side, sheet.zoom)[..., 0]
        assert np.abs(shown - np.clip(error / ERROR_SCALE, 0, 1)).max() <= PNG_STEP
        assert shown.max() > 0.2


def _synthetic_root(root: Path, frames: int = 3, name: str = "synthetic") -> Path:
    """A clips folder laid out like ../shared/data/clips: davis480/<name>/frames and mask/, 8-bit PNGs."""
    folder = root / "davis480" / name
    (folder / "frames").mkdir(parents=True)
    (folder / "mask").mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:HEIGHT, :WIDTH] / np.array([HEIGHT, WIDTH])[:, None, None]
    for t, mask in enumerate(_shapes(frames)):
        plate = np.stack([0.2 + 0.6 * xx, 0.3 + 0.5 * yy, 0.5 - 0.3 * xx * yy], axis=-1)
        plate = np.clip(plate + 0.04 * rng.standard_normal(plate.shape) + 0.01 * t, 0, 1)
        write_image(folder / "frames" / f"{t:05d}.png", plate.astype(np.float32))
        write_image(folder / "mask" / f"{t:05d}.png", mask[..., None].astype(np.float32), channels=("Y",))
    return root


@pytest.mark.parametrize("size", ["native", "320x240"])
def test_truth_is_the_hard_engine_through_the_true_mask(tmp_path, size):
    root = _synthetic_root(tmp_path / "clips")
    footage = load_footage(find_clip(root, "synthetic"), 3, Size.parse(size), tmp_path / "resized")
    masks_folder = tmp_path / "masks"
    masks_folder.mkdir()
    for number, mask in zip(footage.numbers, footage.masks, strict=True):
        write_image(masks_folder / f"m.{number:05d}.png", mask[..., None].astype(np.float32), channels=("Y",))
    config = ColorConfig()
    space = plate_colorspace(footage, config)
    for grade in GRADES.values():
        truth = truth_frames(footage.pixels, footage.masks, grade, space, config)
        report = run_shot(
            ShotSpec(
                plate=footage.plate,
                matte=str(masks_folder / "m.#####.png"),
                grade=grade,
                engine="hard",
                band="10%",
                frames=footage.frames,
                out=str(tmp_path / f"hard-{len(grade)}" / "f.####.exr"),
                exr_type="float",
            )
        )
        assert report.colorspaces["plate"] == space
        hard = np.stack(
            [
                np.clip(
                    config.convert(
                        read_pixels(Path(p))[..., :3], report.colorspaces["output"], config.srgb_encoded
                    ),
                    0,
                    1,
                )
                for p in report.written
            ]
        )
        assert np.abs(hard - truth).max() < 1e-5
        changed = np.abs(truth - np.clip(footage.pixels, 0, 1)).max(axis=-1) > 1e-3
        assert changed[footage.masks].mean() > 0.9 and not changed[~footage.masks].any()


def _check_sheets(out: Path, results: dict, root: Path, frames: int, engines: tuple[str, ...]) -> None:
    """Each size's sheet is linked from the section, is the size its cells make, and its truth
    column is the truth the scores were taken against, cropped."""
    text = out.read_text()
    assert "### Contact sheets" in text
    config = ColorConfig()
    sizes = {shot["size"] for shot in results["shots"]}
    assert {sheet["size"] for sheet in results["sheets"]} == sizes
    for sheet in results["sheets"]:
        assert sheet["path"] == f"docs/benchmarks/real_footage_{sheet['size']}_{sheet['clip']}.png"
        assert f"]({sheet['path']})" in text
        assert sheet["columns"] == ["truth", *engines] and sheet["grade"] == SHEET_GRADE
        top, left, side = (sheet["window"][key] for key in ("top", "left", "side"))
        zoom, rows, columns = sheet["zoom"], 2 * len(sheet["frames"]), len(sheet["columns"])
        written = read_pixels(out.parent / sheet["path"])
        assert written.shape == (rows * (side * zoom + GAP) - GAP, columns * (side * zoom + GAP) - GAP, 3)
        footage = load_footage(
            find_clip(root, sheet["clip"]), frames, Size.parse(sheet["size"]), out.parent / "resized"
        )
        assert sheet["frame"] == f"{footage.pixels.shape[2]}x{footage.pixels.shape[1]}"
        space = plate_colorspace(footage, config)
        truth = truth_frames(footage.pixels, footage.masks, GRADES[SHEET_GRADE], space, config)
        for row, number in enumerate(sheet["frames"]):
            crop = truth[footage.numbers.index(number), top : top + side, left : left + side]
            assert np.abs(_cell(written, row, 0, side, zoom) - crop).max() <= PNG_STEP


def _check_written(out: Path, engines: tuple[str, ...], clip: str, shots: int) -> dict:
    text = out.read_text()
    assert SECTION in text
    for heading in ("### Means by size", "### Means by matte", "### Per clip"):
        assert heading in text
    hard_rows = [line for line in text.splitlines() if line.startswith("|") and "| hard |" in line]
    assert hard_rows and all("| 1.00 |" in row for row in hard_rows), "hard's ratio to itself is 1"
    results = json.loads((out.parent / "docs" / "benchmarks" / "real_footage.json").read_text())
    assert results["command"] in text
    assert len(results["shots"]) == shots
    assert {s["engine"] for s in results["shots"]} == set(engines)
    assert {s["matte"] for s in results["shots"]} == {"rough", "polygon"}
    assert {s["grade"] for s in results["shots"]} == set(GRADES)
    for shot in results["shots"]:
        assert shot["clip"] == clip and shot["held_out"] == (clip in HELD_OUT_CLIPS)
        assert shot["band_delta_e"] > 0 and shot["temporal_error"] >= 0
    return results


def test_a_run_on_a_generated_clip_writes_its_section_and_json(tmp_path):
    root = _synthetic_root(tmp_path / "clips")
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n## Other\n\nkept\n")
    argv = ["--root", root, "--clips", "synthetic", "--frames", 3, "--sizes", "native,240x180"]
    assert main([str(a) for a in [*argv, "--engines", "hard,guided", "--out", out]]) == 0
    assert "## Other\n\nkept" in out.read_text(), "the other sections stay"
    results = _check_written(out, ("hard", "guided"), "synthetic", 2 * 2 * 2 * 2)
    assert {s["size"] for s in results["shots"]} == {"native", "240x180"}
    _check_sheets(out, results, root, 3, ("hard", "guided"))
    assert results["settings"]["band"] == "10%" and "a 10% band" in out.read_text()

    # A band in pixels (the product's default kind): every engine gets it, and the shots are
    # scored in it, so the hard composite's error there is another figure.
    thin = tmp_path / "thin" / "BENCHMARKS.md"
    thin.parent.mkdir()
    argv = ["--root", root, "--clips", "synthetic", "--frames", 3, "--sizes", "native", "--band", "4"]
    argv += ["--engines", "hard"]
    assert main([str(a) for a in [*argv, "--out", thin]]) == 0
    narrow = _check_written(thin, ("hard",), "synthetic", 2 * 2)
    assert narrow["settings"]["band"] == "4" and "--band 4" in narrow["command"]
    assert "a 4 px band" in thin.read_text()
    wide = {(s["matte"], s["grade"]): s["band_delta_e"] for s in results["shots"] if s["size"] == "native"}
    for shot in narrow["shots"]:
        assert shot["band_delta_e"] != pytest.approx(wide[(shot["matte"], shot["grade"])], rel=1e-3)


@pytest.mark.clips
def test_a_tiny_run_on_a_davis_clip(tmp_path):
    if not (CLIPS / "davis480" / "dog" / "frames").is_dir():
        pytest.skip(
            f"DAVIS clips not found at {CLIPS / 'davis480'}: they live outside the repository "
            f"(set MOVINGCOLOR_CLIPS to a copy of the clips folder to run this test)"
        )
    out = tmp_path / "BENCHMARKS.md"
    argv = [
        "--root",
        CLIPS,
        "--clips",
        "dog",
        "--frames",
        2,
        "--sizes",
        "216x120",
        "--engines",
        "hard,guided",
    ]
    assert main([str(a) for a in [*argv, "--out", out]]) == 0
    results = _check_written(out, ("hard", "guided"), "dog", 2 * 2 * 2)
    _check_sheets(out, results, CLIPS, 2, ("hard", "guided"))


def test_missing_clips_skip_with_the_reason(tmp_path, capsys):
    out = tmp_path / "BENCHMARKS.md"
    assert run_cli("bench", "--suite", "real-footage", "--clips", tmp_path / "nowhere", "--out", out) == 0
    assert "skipped: real clips not found" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_clip_names_the_known_ones(tmp_path):
    root = _synthetic_root(tmp_path / "clips", frames=2)
    with pytest.raises(MovingColorError, match="known clips: synthetic"):
        find_clip(root, "nonesuch")


@pytest.mark.parametrize(
    "engine, message",
    [("nope", "engine 'nope' is not known"), ("movingcolor:nomodel", "model 'nomodel' is neither")],
)
def test_an_unknown_engine_or_model_is_refused_before_a_clip_is_read(tmp_path, capsys, engine, message):
    """A misspelt engine or model stopped the run at its first shot with a traceback; it is a
    usage error naming what is known, and nothing is written."""
    root = _synthetic_root(tmp_path / "clips", frames=2)
    out = tmp_path / "BENCHMARKS.md"
    argv = ["--root", root, "--clips", "synthetic", "--frames", 2, "--engines", f"hard,{engine}"]
    with pytest.raises(SystemExit) as stopped:
        main([str(a) for a in [*argv, "--out", out]])
    assert stopped.value.code == 2 and message in capsys.readouterr().err
    assert not out.exists()
