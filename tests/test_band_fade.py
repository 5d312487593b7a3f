"""The band's outer edge: an engine's change fades to nothing there, and a matte that misses the
object by more than the band is reported for the frame instead of leaving a silent seam."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from movingcolor.color.config import ColorConfig, apply_processor
from movingcolor.color.grade import parse_grade
from movingcolor.engines.base import Engine, FusionFrames, FusionResult
from movingcolor.frames.image_io import read_pixels
from movingcolor.frames.matte import matte_from_pixels
from movingcolor.jobs import ShotSpec, run_shot
from movingcolor.jobs.demo_shot import DEMO_GRADE
from movingcolor.masks.band import BandWidth, edge_band, edge_band_with_fade

BAND = "6"
#: How far the engine below moves the matte's edge: well beyond the band.
SHIFT = 20


class MovedEdgeEngine(Engine):
    """Decides that the object's edge lies ``SHIFT`` px to the right of the matte's: what an engine
    says where the matte misses the object by more than the band."""

    name = "moved-edge"
    inputs = frozenset({"matte"})
    decides_colours = False
    takes_frame_stacks = True

    def fuse(self, frames: FusionFrames) -> FusionResult:
        return FusionResult(alpha=np.roll(frames.matte[frames.center], SHIFT, axis=1))


def _straight_edge(width: int = 80, edge: int = 40) -> np.ndarray:
    matte = np.zeros((24, width), np.float32)
    matte[:, :edge] = 1.0
    return matte


def test_the_fade_runs_from_the_contour_to_nothing_at_the_band_edge():
    matte = _straight_edge()
    band, fade = edge_band_with_fade(matte, BandWidth(12))
    assert np.array_equal(band, edge_band(matte, BandWidth(12)))
    assert fade.shape == (band.sum(),)
    # Along a row: distance to the pixel across the contour is 1, 2, ... on either side.
    row = np.zeros(matte.shape, np.float32)
    row[band] = fade
    outside = row[0, 40:53]  # distances 1..12 outside, then beyond the band
    assert np.all(outside[:9] == 1.0)  # the inner three quarters keep the whole change
    assert np.all(np.diff(outside[:12]) <= 0)
    assert 0.0 < outside[11] < 0.2  # the band's last pixel keeps a sixth: no line where it ends
    assert outside[12] == 0.0  # beyond the band nothing
    inside = row[0, 28:40][::-1]  # the same distances inside the matte
    assert np.allclose(inside, outside[:12])


def test_a_percentage_bands_outer_pixels_fade_where_float32_rounds_their_distance_past_it():
    """A band pixel exactly at the band's width in pixels (sqrt 5 from the contour, a percentage
    resolved to just that width) keeps the outer edge's small share of the change, not all of it:
    its distance, kept in float32, rounds just past the width, and it is still a band pixel, not a
    soft pixel beyond the band's reach."""
    import math

    matte = np.zeros((40, 40), np.float32)
    matte[10:30, 10:30] = 1.0  # a hard square: no soft pixels
    inside = matte >= 0.5
    distance = math.sqrt(5.0)
    assert float(np.float32(distance)) > distance
    percent = distance * 100 / math.sqrt(4.0 * inside.sum() / math.pi)
    while BandWidth(percent, True).pixels(inside) < distance:
        percent = math.nextafter(percent, math.inf)
    width = BandWidth.parse(f"{percent!r}%")
    pixels = width.pixels(inside)
    assert distance <= pixels < float(np.float32(distance))
    band, fade = edge_band_with_fade(matte, width)
    from scipy import ndimage

    exact = np.where(inside, ndimage.distance_transform_edt(inside), ndimage.distance_transform_edt(~inside))
    at_edge = exact[band] == distance
    assert at_edge.sum() > 0
    expected = np.clip((pixels + 0.5 - distance) / max(pixels / 4, 1.0), 0.0, 1.0)
    assert np.allclose(fade[at_edge], expected) and expected < 0.6
    # The fade falls towards the band's edge: nearer pixels keep more.
    assert np.all(fade[exact[band] == 2.0] > fade[at_edge].max())


def test_soft_pixels_beyond_the_band_keep_the_whole_change():
    matte = _straight_edge()
    matte[:, 60:70] = 0.4  # a soft patch 20 px beyond the contour, outside a 4 px band
    band, fade = edge_band_with_fade(matte, BandWidth(4))
    values = np.zeros(matte.shape, np.float32)
    values[band] = fade
    assert np.all(values[:, 60:70] == 1.0)


def test_a_thin_band_still_fades_over_a_pixel():
    band, fade = edge_band_with_fade(_straight_edge(), BandWidth(1))
    assert band.sum() == 2 * 24
    assert np.all((fade > 0.0) & (fade <= 0.5))


@pytest.fixture(scope="module")
def moved_edge_shot(demo_inputs, tmp_path_factory):
    plate, matte = demo_inputs
    out = tmp_path_factory.mktemp("moved")

    def fuse(engine: Engine | str, name: str, band: str = BAND) -> list[np.ndarray]:
        spec = ShotSpec(
            plate=plate,
            matte=matte,
            grade=DEMO_GRADE,
            engine=engine if isinstance(engine, str) else "hard",
            band=band,
            out=str(out / name / "f.####.exr"),
            exr_type="float",
        )
        instance = None if isinstance(engine, str) else engine
        return [read_pixels(p) for p in run_shot(spec, engine=instance).written]

    return fuse


def test_a_change_beyond_the_band_fades_out_and_is_reported(demo_inputs, moved_edge_shot, caplog):
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        moved = moved_edge_shot(MovedEdgeEngine(), "moved")
    hard = moved_edge_shot("hard", "hard")
    reported = [r.getMessage() for r in caplog.records if "beyond the band" in r.getMessage()]
    # Every frame misses: the first is reported with the band to try, then the run as a whole.
    last = 1000 + len(moved)
    assert len(moved) > 2 and len(reported) == 2
    assert reported[0].startswith("frame 1001:") and "--band 12" in reported[0]
    assert reported[1].startswith(f"frames 1001-{last} ({len(moved)} frames):") and "--band 12" in reported[1]

    config = ColorConfig()
    plate_pattern, matte_pattern = demo_inputs
    grade = parse_grade(DEMO_GRADE, config).processor(config, "ACEScg", "ACEScg", "ACEScg")
    for index, (fused, plain) in enumerate(zip(moved, hard, strict=True)):
        number = f"{1001 + index:04d}"
        plate = read_pixels(plate_pattern.replace("####", number))
        matte = matte_from_pixels(read_pixels(matte_pattern.replace("####", number)))
        band, fade = edge_band_with_fade(matte, BandWidth.parse(BAND))
        grade_change = np.abs(apply_processor(grade, plate) - plate)[band]
        change = np.abs(fused - plain)[band]
        # Blending in linear light through matte + fade·(alpha - matte): the output moves from the
        # hard composite by at most the fade's share of the grade.
        assert np.all(change <= fade[:, None] * grade_change + 1e-5)
        # Near the contour the engine's decision is taken whole.
        inner = fade == 1.0
        assert np.max(change[inner] - grade_change[inner], initial=-1.0) > -1e-5
        assert np.array_equal(fused[~band], plain[~band])


def test_a_matte_that_the_band_covers_is_not_reported(moved_edge_shot, caplog):
    # The generated shot's matte misses its object by a few pixels: a 10 px band covers that.
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        moved_edge_shot("guided", "guided", band="10")
    assert not [r for r in caplog.records if "beyond the band" in r.getMessage()]


def test_runs_of_frames_beyond_the_band_are_reported_once_each(monkeypatch, caplog):
    from types import SimpleNamespace

    import movingcolor.jobs.composite as compositing
    from movingcolor.jobs.runner import BeyondBandLog

    missing = {1001, 1002, 1003, 1007, 1010, 1011}
    monkeypatch.setattr(compositing, "edge_beyond_band", lambda frame, kind, value: 40 * (frame.n in missing))
    log = BeyondBandLog()
    with caplog.at_level(logging.WARNING, logger="movingcolor"):
        for number in range(1001, 1013):
            log.check(number, SimpleNamespace(n=number, band_pixels=12.0), "alpha", np.zeros(1))
        log.close()
    reported = [r.getMessage().split(":")[0] for r in caplog.records]
    assert reported == [
        "frame 1001",
        "frames 1001-1003 (3 frames)",
        "frame 1007",
        "frame 1010",
        "frames 1010-1011 (2 frames)",
    ]


def test_a_hosts_window_is_told_of_a_matte_that_misses_by_more_than_the_band(
    demo_inputs, monkeypatch, caplog
):
    """A host's window call (the OFX plugin's, a Nuke viewer's) said nothing of it: the warning
    reached the server's log alone. It comes back with the frame, from the cache too, and the
    client logs it once over a scrub."""
    import shutil

    import movingcolor.engines.registry as registry
    from conftest import short_folder
    from movingcolor.service.server import create_server
    from movingcolor.service.settings import ServerSettings
    from movingcolor_client import connect

    monkeypatch.setitem(registry._FACTORIES, MovedEdgeEngine.name, MovedEdgeEngine)
    plate_pattern, matte_pattern = demo_inputs
    frames = range(1002, 1007)
    plates = {n: read_pixels(plate_pattern.replace("####", str(n)))[..., :3] for n in frames}
    mattes = {n: matte_from_pixels(read_pixels(matte_pattern.replace("####", str(n)))) for n in frames}
    settings = {"grade": DEMO_GRADE, "colorspace": "ACEScg", "band": BAND}
    folder = short_folder()
    server, _ = create_server(f"unix://{folder}/mc.sock", ServerSettings())
    server.start()
    try:
        with connect(f"unix://{folder}/mc.sock") as client, caplog.at_level(logging.WARNING):
            moved = [client.fuse_window(1004, plates, mattes, engine=MovedEdgeEngine.name, **settings)]
            moved.append(client.fuse_window(1004, plates, mattes, engine=MovedEdgeEngine.name, **settings))
            hard = client.fuse_window(1004, plates, mattes, engine="hard", **settings)
    finally:
        server.stop(0).wait()
        shutil.rmtree(folder, ignore_errors=True)
    for fused in moved:  # the second answered from the server's cache of results
        assert len(fused.warnings) == 1
        assert fused.warnings[0].startswith("frame 1004:") and "--band 12" in fused.warnings[0]
    assert hard.warnings == ()
    said = [r.getMessage() for r in caplog.records if r.name.startswith("movingcolor_client")]
    assert said == list(moved[0].warnings)


def test_a_soft_matte_over_much_of_the_frame_is_said_once_and_not_taken_for_a_missed_edge(tmp_path, caplog):
    """A graduated window's ramp as the matte: guided re-decided all of it, hundreds of pixels from
    the contour, without a word, and the network's "a wider band reaches it" advice could never be
    met (no matte missed an object there). Said once a shot, whichever of its preparing threads
    looks first, and the beyond-the-band advice is left out."""
    from conftest import run_cli
    from movingcolor.frames.image_io import write_image

    (tmp_path / "shot").mkdir()
    ramp = np.tile(np.linspace(0.0, 1.0, 96, dtype=np.float32), (48, 1))
    rng = np.random.default_rng(3)
    for number in range(1001, 1005):
        write_image(
            tmp_path / "shot" / f"p.{number}.exr", rng.uniform(0.1, 0.9, (48, 96, 3)).astype(np.float32)
        )
        # The window animated on: empty on the first frame, which must not use up the look.
        matte = ramp if number > 1001 else 0 * ramp
        write_image(tmp_path / "shot" / f"m.{number}.exr", matte[..., None], channels=("Y",))
    fuse = ["fuse", "--plate", tmp_path / "shot" / "p.####.exr", "--matte", tmp_path / "shot" / "m.####.exr",
            "--grade", "slope=1.5", "--band", "4"]  # fmt: skip
    for engine in ("guided", "feather"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="movingcolor"):
            assert run_cli(*fuse, "--engine", engine, "--out", tmp_path / engine / "f.####.exr") == 0
        said = [r.getMessage() for r in caplog.records]
        soft = [m for m in said if "the matte is soft (neither 0 nor 1) over" in m]
        assert len(soft) == (1 if engine == "guided" else 0), said
        assert not [m for m in said if "beyond the band" in m]


def test_a_feathered_roto_missing_the_object_is_still_reported_a_ramp_is_not():
    """The soft matte's exemption from the beyond-the-band count is a ramp's: a roto whose feather is
    wider than the band, missing the object, was no longer reported (its band's whole outer ring is
    soft)."""
    from types import SimpleNamespace

    from movingcolor.jobs.composite import edge_beyond_band

    columns = np.arange(96, dtype=np.float32)
    feathered = np.tile(np.clip((60 - columns) / 12, 0, 1), (48, 1))  # a 12 px feather at 48-60
    ramp = np.tile(columns / 95, (48, 1))  # soft across the frame
    for matte, reported in ((feathered, True), (ramp, False)):
        band = (matte > 0.02) & (matte < 0.98)
        band[:, 40:70] = True
        fade = np.full(int(band.sum()), 0.25, np.float32)  # all of it the band's outer part
        frame = SimpleNamespace(band=band, band_fade=fade, matte=matte)
        moved = np.where(matte > 0.0, 1.0, 0.0).astype(np.float32)  # the object's edge beyond the matte's
        assert (edge_beyond_band(frame, "alpha", moved) > 0) == reported
