"""The MovingColor script for DaVinci Resolve, end to end through a stand-in of Resolve's scripting
API and a real server.

The stand-in (tests/hosts/resolve_app.py) renders the timeline for real: the
script's render jobs write the item's frames as EXR, the server fuses them, and
the fused sequence comes back into the media pool and onto a new track. The
fused frames must be the frames ``movingcolor fuse`` writes for the same inputs.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from movingcolor.color.config import ColorConfig
from movingcolor.frames.image_io import read_pixels, write_image
from movingcolor_hosts import SettingsError
from test_service import GRADE, write_shot

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(Path(__file__).parent / "hosts"), str(ROOT / "plugin" / "resolve")]

import resolve_app  # noqa: E402  (the stand-in)
from movingcolor_resolve import current_items, fuse_items, load_settings, track_items  # noqa: E402
from movingcolor_resolve.cli import main  # noqa: E402

BEAR_CDL = "slope=1.15,1.05,0.9;offset=0.02;power=0.95;sat=1.2"
RECORD = 86400  # 01:00:00:00 at 24 fps


@pytest.fixture
def resolve():
    """A running Resolve with an empty project and timeline."""
    app = resolve_app.Resolve()
    project = app.GetProjectManager().GetCurrentProject()
    project.GetMediaPool().CreateEmptyTimeline("Edit")
    resolve_app.current = app
    yield app
    resolve_app.current = None


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> dict[str, str]:
    """A generated shot as Resolve media: an RGBA EXR plate (matte in its alpha), the RGB plate, the
    matte (PNG) and a graded plate, frames 1001-1006."""
    folder = tmp_path_factory.mktemp("resolve-shot")
    plate, matte = write_shot(folder, frames=6)
    for name in ("rgba", "graded"):
        (folder / name).mkdir()
    for number in range(1001, 1007):
        pixels = read_pixels(Path(plate.replace("####", str(number))))
        alpha = read_pixels(Path(matte.replace("####", str(number))))[..., :1]
        write_image(folder / "rgba" / f"p.{number}.exr", np.concatenate([pixels, alpha], axis=2),
                    channels=("R", "G", "B", "A"), pixel_type="float")  # fmt: skip
        write_image(folder / "graded" / f"g.{number}.exr", pixels * np.float32([1.2, 1.0, 0.8]))
    return {
        "plate": plate,
        "matte": matte,
        "rgba": str(folder / "rgba" / "p.####.exr"),
        "graded": str(folder / "graded" / "g.####.exr"),
    }


def place(app, pattern: str, first: int, last: int, track: int, record: int = RECORD, source_in: int = 0,
          duration: int | None = None):  # fmt: skip
    """Import an image sequence and put it on the timeline, as an editor would."""
    project = app.GetProjectManager().GetCurrentProject()
    timeline = project.GetCurrentTimeline()
    while timeline.GetTrackCount("video") < track:
        timeline.AddTrack("video")
    printf = pattern.replace("####", "%04d").replace("#####", "%05d")
    (media,) = project.GetMediaPool().ImportMedia(
        [{"FilePath": printf, "StartIndex": first, "EndIndex": last}]
    )
    end = source_in + (duration or last - first + 1) - 1
    (item,) = project.GetMediaPool().AppendToTimeline(
        [{"mediaPoolItem": media, "startFrame": source_in, "endFrame": end, "trackIndex": track,
          "recordFrame": record, "mediaType": 1}]
    )  # fmt: skip
    return item


def settings_for(server: str, tmp_path: Path, **values):
    return load_settings(
        environ={},
        overrides={
            "server": server,
            "grade": GRADE,
            "out": str(tmp_path / "out" / "{item}_{start}" / "fused.########.exr"),
            "colorspace": "ACEScg",
            "log_file": str(tmp_path / "movingcolor.log"),
            **values,
        },
    )


def fused_clips(app) -> list:
    """Timeline items above the sources: (track, record start, duration, the sequence imported)."""
    timeline = app.GetProjectManager().GetCurrentProject().GetCurrentTimeline()
    found = []
    for track in range(1, timeline.GetTrackCount("video") + 1):
        for item in timeline.GetItemListInTrack("video", track):
            path = item.GetMediaPoolItem().pattern
            if "fused" in path:
                found.append((track, item.GetStart(), item.GetDuration(), path))
    return found


def frames_of(folder: Path, glob: str) -> list[np.ndarray]:
    return [read_pixels(p) for p in sorted(folder.glob(glob))]


def cli_frames(out: Path, *args: str) -> list[np.ndarray]:
    assert run_cli("fuse", *args, "--out", out / "f.####.exr") == 0
    return frames_of(out, "f.*.exr")


def leftovers(folder: Path) -> list[Path]:
    """Files, and the bridge's scratch or staging folders, under ``folder``."""
    found = sorted(folder.rglob("*")) if folder.exists() else []
    return [p for p in found if p.is_file() or p.name.startswith(".movingcolor")]


def test_the_plate_under_the_playhead_is_taken_where_one_matte_clip_spans_two_plates(resolve, shot, tmp_path):
    """Two plates cut back to back under one matte clip on the track above: the playhead on the
    second plate took the first (the plate under the matte clip's start)."""
    from movingcolor_resolve.timeline import playhead_frame

    first = place(resolve, shot["plate"], 1001, 1006, track=1, record=RECORD, duration=3)
    second = place(resolve, shot["plate"], 1001, 1006, track=1, record=RECORD + 3, source_in=3, duration=3)
    place(resolve, shot["matte"], 1001, 1006, track=2, record=RECORD)
    timeline = resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline()
    settings = settings_for("unix:///nowhere.sock", tmp_path, matte="track:2")
    for timecode, item in (("01:00:00:04", second), ("01:00:00:01", first)):
        timeline.SetCurrentTimecode(timecode)
        assert playhead_frame(timeline) == RECORD + int(timecode[-2:])
        (taken,) = current_items(resolve, settings)
        assert (taken.GetStart(), taken.GetEnd()) == (item.GetStart(), item.GetEnd())


def test_a_drop_frame_playhead_counts_the_frames_its_timecode_skips():
    """29.97 drop-frame timecode skips two numbers a minute, except every tenth minute."""
    from movingcolor_resolve.timeline import playhead_frame

    class Timeline:
        def __init__(self, timecode: str, rate: str):
            self.timecode, self.rate = timecode, rate

        def GetCurrentTimecode(self) -> str:  # noqa: N802
            return self.timecode

        def GetSetting(self, name: str) -> str:  # noqa: N802
            return {"timelineFrameRate": self.rate}[name]

    assert playhead_frame(Timeline("00:01:00;02", "29.97")) == 1800
    assert playhead_frame(Timeline("00:10:00;00", "29.97")) == 17982
    assert playhead_frame(Timeline("01:00:00;00", "29.97")) == 107892
    assert playhead_frame(Timeline("01:00:00:00", "25")) == 90000
    assert playhead_frame(Timeline("not a timecode", "25")) is None


def test_two_versions_of_a_plate_of_one_name_are_fused_into_two_folders(resolve, served, shot, tmp_path):
    """A pull's v001 and v002 of plate p.####.exr stacked on V1 and V2 at one record frame: the
    default out named one folder for both (clip and record frame), so fusing V2 replaced V1's
    fused frames, and V1's fused clip played V2's; "p [v2]" and "p [v3]" were one name too."""
    from movingcolor_resolve.bridge import _safe
    from movingcolor_resolve.settings import DEFAULT_OUT

    versions = {}
    for version, gain in (("v001", 1.0), ("v002", 0.5)):
        folder = tmp_path / "plates" / version
        folder.mkdir(parents=True)
        for number in range(1001, 1007):
            pixels = read_pixels(Path(shot["rgba"].replace("####", str(number))))
            pixels[..., :3] *= gain
            write_image(folder / f"p.{number}.exr", pixels, channels=("R", "G", "B", "A"), pixel_type="float")
        versions[version] = str(folder / "p.####.exr")
    items = [
        place(resolve, versions["v001"], 1001, 1006, track=1),
        place(resolve, versions["v002"], 1001, 1006, track=2),
    ]
    settings = settings_for(served.address, tmp_path, out=DEFAULT_OUT.replace("~", str(tmp_path)))
    first, second = (fuse_items(resolve, [item], settings)[0] for item in items)
    assert first.ok and second.ok, first.error or second.error
    assert Path(first.out).parent != Path(second.out).parent
    brighter = [read_pixels(Path(first.out.replace("########", f"{RECORD + n:08d}"))) for n in range(6)]
    darker = [read_pixels(Path(second.out.replace("########", f"{RECORD + n:08d}"))) for n in range(6)]
    assert all(a.mean() > b.mean() * 1.5 for a, b in zip(brighter, darker, strict=True))
    assert _safe("p [v2].[1001-1006].exr", media=True) != _safe("p [v3].[1001-1006].exr", media=True)


def test_clip_under_the_playhead_with_its_alpha(resolve, served, shot, tmp_path, capsys):
    """The core path: render with ExportAlpha, fuse, import, place above at the same record frame."""
    item = place(resolve, shot["rgba"], 1001, 1006, track=1)
    timeline = resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline()
    timeline.SetCurrentTimecode("01:00:00:02")
    settings = settings_for(served.address, tmp_path)
    project = resolve.GetProjectManager().GetCurrentProject()
    project.SetCurrentRenderMode(0)  # the Deliver page was left on Individual clips
    # ... with the editor's delivery set up: audio on, the whole timeline, its name and folder.
    deliver = {
        "ExportAudio": True,
        "SelectAllFrames": True,
        "CustomName": "edit_v003",
        "TargetDir": "/deliveries",
    }
    project.SetRenderSettings(deliver)

    (report,) = fuse_items(resolve, current_items(resolve), settings)

    assert report.ok and report.track == 2, report.error
    out = Path(report.out).parent
    assert out.parent == tmp_path / "out" and out.name == f"p_{RECORD}", item.GetName()
    assert fused_clips(resolve) == [(2, RECORD, 6, str(out / "fused.%08d.exr"))]
    expected = cli_frames(tmp_path / "cli", "--plate", shot["rgba"], "--matte", "alpha", "--grade", GRADE,
                          "--plate-colorspace", "ACEScg")  # fmt: skip
    ours = frames_of(out, "fused.*.exr")
    assert len(ours) == 6 and all(np.array_equal(a, b) for a, b in zip(ours, expected, strict=True))
    # Only the fused frames are left, the tracks are as they were, the log tells the story.
    assert leftovers(tmp_path / "out") == [out / f"fused.{n:08d}.exr" for n in range(RECORD, RECORD + 6)]
    assert all(timeline.GetIsTrackEnabled("video", t) for t in (1, 2))
    assert project.GetCurrentRenderFormatAndCodec() == {"format": "mov", "codec": "ProRes422HQ"}
    assert project.GetCurrentRenderMode() == 0
    # The Deliver page as the editor left it (it was left with audio off, a range of frames and the
    # name of the last input rendered), and no preset left behind.
    assert project.render_settings == deliver
    assert project.GetRenderPresetList() == ["H.264 Master", "YouTube - 1080p"]
    assert project.GetRenderJobList() == []  # its render jobs are gone from the queue
    text = (tmp_path / "movingcolor.log").read_text()
    assert "rendering the plate" in text and f"fused frame {RECORD + 5} (6 of 6)" in text
    assert f"fused frame {RECORD + 5} (6 of 6)" in capsys.readouterr().out  # Resolve's Console
    # Run again: the fused clip is now the top one under the playhead, and the plate is fused again.
    assert timeline.GetTrackName("video", 2) == "MovingColor"
    assert timeline.GetCurrentVideoItem().GetName() == f"fused.[{RECORD}-{RECORD + 5}].exr"
    (again,) = fuse_items(resolve, current_items(resolve), settings)
    assert again.ok and again.item == item.GetName() and again.track == 3, again


def test_workspace_script_with_matte_and_graded_tracks(resolve, served, shot, tmp_path, monkeypatch):
    """Workspace > Scripts > MovingColor, set up by a settings file and the environment."""
    place(resolve, shot["plate"], 1001, 1006, track=1)
    place(resolve, shot["matte"], 1001, 1006, track=2)
    place(resolve, shot["graded"], 1001, 1006, track=3)
    settings_file = tmp_path / "resolve.json"
    settings_file.write_text(
        json.dumps({"server": served.address, "matte": "track:2", "graded_track": 3, "engine": "feather"})
    )
    monkeypatch.setenv("MOVINGCOLOR_RESOLVE_SETTINGS", str(settings_file))
    monkeypatch.setenv("MOVINGCOLOR_OUT", str(tmp_path / "out" / "{timeline}" / "fused.########.exr"))
    monkeypatch.setenv("MOVINGCOLOR_COLORSPACE", "ACEScg")
    monkeypatch.setenv("MOVINGCOLOR_LOG_FILE", str(tmp_path / "log.txt"))
    script = ROOT / "plugin" / "resolve" / "MovingColor.py"
    exec(compile(script.read_text(), str(script), "exec"), {"__name__": "__main__", "__file__": str(script),
                                                            "resolve": resolve})  # fmt: skip

    out = tmp_path / "out" / "Edit"
    assert fused_clips(resolve) == [(4, RECORD, 6, str(out / "fused.%08d.exr"))]
    expected = cli_frames(
        tmp_path / "cli", "--plate", shot["plate"], "--matte", shot["matte"], "--graded", shot["graded"],
        "--engine", "feather", "--plate-colorspace", "ACEScg", "--graded-colorspace", "ACEScg",
    )  # fmt: skip
    ours = frames_of(out, "fused.*.exr")
    assert len(ours) == 6 and all(np.array_equal(a, b) for a, b in zip(ours, expected, strict=True))
    assert "MovingColor ERROR" not in (tmp_path / "log.txt").read_text()


def test_command_line_fuses_every_clip_on_a_track(resolve, served, shot, tmp_path):
    """Every clip of the track is fused, and the fused clips go on one result track (a track of 30
    clips had made 30 tracks)."""
    place(resolve, shot["rgba"], 1001, 1006, track=1, record=RECORD, duration=3)
    place(resolve, shot["rgba"], 1001, 1006, track=1, record=RECORD + 10, source_in=3, duration=3)
    code = main(["--track", "1", "--server", served.address, "--grade", GRADE, "--colorspace", "ACEScg",
                 "--out", str(tmp_path / "out" / "{item}_{start}" / "fused.########.exr"),
                 "--log-file", str(tmp_path / "log.txt")], resolve=resolve)  # fmt: skip
    assert code == 0
    assert [clip[:3] for clip in fused_clips(resolve)] == [(2, RECORD, 3), (2, RECORD + 10, 3)]
    timeline = resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline()
    assert timeline.GetTrackCount("video") == 2
    # A result track switched off (an editor comparing with the plate) is not where a clip goes.
    place(resolve, shot["rgba"], 1001, 1006, track=1, record=RECORD + 20, duration=3)
    timeline.SetTrackEnable("video", 2, False)
    (last,) = [item for item in track_items(resolve, 1) if item.GetStart() == RECORD + 20]
    (report,) = fuse_items(resolve, [last], settings_for(served.address, tmp_path))
    assert report.ok and report.track == 3 and timeline.GetIsTrackEnabled("video", 3), report


def test_a_matte_clip_with_its_matte_in_its_alpha_is_read_from_it(resolve, served, shot, tmp_path):
    """A roto delivered as an RGBA cutout (black picture, the matte in its alpha) on the matte
    track: rendered without its alpha, it was refused as empty; a premultiplied one was read from
    its brightest colour. Its alpha is the matte, as `movingcolor fuse --matte` reads it; a matte
    clip without an alpha (white on black) is still read from its picture."""
    (tmp_path / "cutout").mkdir()
    for number in range(1001, 1007):
        alpha = read_pixels(Path(shot["rgba"].replace("####", str(number))))[..., 3:]
        cutout = np.concatenate([0 * alpha.repeat(3, 2), alpha], 2)
        write_image(tmp_path / "cutout" / f"c.{number}.exr", cutout, channels=("R", "G", "B", "A"))
    for matte, name in ((str(tmp_path / "cutout" / "c.####.exr"), "cutout"), (shot["matte"], "picture")):
        app = resolve_app.Resolve()
        app.GetProjectManager().GetCurrentProject().GetMediaPool().CreateEmptyTimeline("Edit")
        place(app, shot["plate"], 1001, 1006, track=1)
        place(app, matte, 1001, 1006, track=2)
        settings = settings_for(served.address, tmp_path / name, matte="track:2")
        (report,) = fuse_items(app, track_items(app, 1), settings)
        assert report.ok, report.error
        expected = cli_frames(tmp_path / name / "cli", "--plate", shot["plate"], "--matte", matte,
                              "--grade", GRADE, "--plate-colorspace", "ACEScg")  # fmt: skip
        ours = frames_of(Path(report.out).parent, "fused.*.exr")
        assert len(ours) == 6 and all(np.array_equal(a, b) for a, b in zip(ours, expected, strict=True)), name


def test_fusing_a_trimmed_clip_again_says_what_its_output_held(resolve, served, shot, tmp_path):
    """Fused, trimmed by two frames in the edit, fused again with another grade: four frames of the
    first take were replaced (its placed clip now plays them) and two kept, a folder of mixed takes,
    without a word in the log."""
    item = place(resolve, shot["rgba"], 1001, 1006, track=1)
    (first,) = fuse_items(resolve, [item], settings_for(served.address, tmp_path))
    assert first.ok, first.error
    item.duration = 4  # the editor trims the tail
    (again,) = fuse_items(resolve, [item], settings_for(served.address, tmp_path, grade="slope=0.6"))
    assert again.ok and again.out == first.out, again.error
    log = (tmp_path / "movingcolor.log").read_text()
    assert f"frames {RECORD}-{RECORD + 3} of an earlier fusion in {first.out} were replaced" in log
    assert f"frames {RECORD + 4}-{RECORD + 5} of an earlier fusion with other settings" in log


def test_inputs_render_at_the_timelines_size_whatever_the_deliver_page_was_left_at(
    resolve, served, shot, tmp_path
):
    """A render job takes the Deliver page's resolution: an editor's last delivery at half size left
    the plate and matte rendered at half size, and the fused clip came back soft, without a word."""
    place(resolve, shot["rgba"], 1001, 1006, track=1)
    project = resolve.GetProjectManager().GetCurrentProject()
    height, width = read_pixels(Path(shot["rgba"].replace("####", "1001"))).shape[:2]
    project.SetRenderSettings({"FormatWidth": width // 2, "FormatHeight": height // 2})
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings_for(served.address, tmp_path))
    assert report.ok, report.error
    expected = cli_frames(tmp_path / "cli", "--plate", shot["rgba"], "--matte", "alpha", "--grade", GRADE,
                          "--plate-colorspace", "ACEScg")  # fmt: skip
    ours = frames_of(Path(report.out).parent, "fused.*.exr")
    assert len(ours) == 6 and all(np.array_equal(a, b) for a, b in zip(ours, expected, strict=True))


@pytest.mark.clips
def test_bear_through_the_script_equals_movingcolor_fuse(resolve, served, clips, tmp_path):
    bear = clips / "bear"
    place(resolve, str(bear / "frames" / "%05d.png"), 0, 81, track=1, source_in=10, duration=6)
    place(resolve, str(bear / "mask" / "%05d.png"), 0, 81, track=2, source_in=10, duration=6)
    settings = settings_for(served.address, tmp_path, grade=BEAR_CDL, band="10%", matte="track:2",
                            colorspace=ColorConfig().srgb_encoded)  # fmt: skip
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings)
    assert report.ok, report.error
    assert [clip[:3] for clip in fused_clips(resolve)] == [(3, RECORD, 6)]

    # movingcolor fuse on the same six frames of the clip.
    subset = {role: tmp_path / "subset" / role for role in ("frames", "mask")}
    for role, folder in subset.items():
        folder.mkdir(parents=True)
        for number in range(10, 16):
            os.symlink(bear / role / f"{number:05d}.png", folder / f"{number:05d}.png")
    expected = cli_frames(tmp_path / "cli", "--plate", subset["frames"], "--matte", subset["mask"],
                          "--grade", BEAR_CDL, "--band", "10%",
                          "--out-colorspace", ColorConfig().srgb_encoded)  # fmt: skip
    ours = frames_of(Path(report.out).parent, "fused.*.exr")
    assert len(ours) == 6 and all(np.array_equal(a, b) for a, b in zip(ours, expected, strict=True))
    assert np.abs(ours[2] - read_pixels(bear / "frames" / "00012.png")).max() > 0.05


def fused_result(shot: dict, folder: Path):
    """Six fused frames on disk, as fuse_rendered reports them."""
    import shutil

    from movingcolor_hosts import FusedSequence

    folder.mkdir(parents=True)
    for number in range(1001, 1007):
        shutil.copy(shot["rgba"].replace("####", str(number)), folder / f"f.{number}.exr")
    frames = list(range(1001, 1007))
    return FusedSequence(str(folder / "f.####.exr"), frames, [], "guided", "", "", 0.0)


@pytest.mark.parametrize("version", [[18, 6, 6, 7, ""], [19, 1, 4, 11, ""], [20, 2, 0, 5, ""]])
def test_fused_clip_is_placed_whole_whatever_the_version(resolve, shot, tmp_path, version):
    """Resolve 19.1 reads AppendToTimeline's endFrame as the last frame, 18.6 and 20 as one past it."""
    from movingcolor_resolve.placement import place_above

    resolve.set_version(version)
    project = resolve.GetProjectManager().GetCurrentProject()
    result = fused_result(shot, tmp_path / "fused")
    assert place_above(project, project.GetCurrentTimeline(), result, RECORD) == 2
    assert fused_clips(resolve) == [(2, RECORD, 6, str(tmp_path / "fused" / "f.%04d.exr"))]


def test_fused_clip_resolve_will_not_place(resolve, shot, tmp_path, monkeypatch):
    from movingcolor_hosts import HostBridgeError
    from movingcolor_resolve.placement import place_above

    monkeypatch.setattr(resolve_app.MediaPool, "AppendToTimeline", lambda self, clips: [])
    project = resolve.GetProjectManager().GetCurrentProject()
    timeline = project.GetCurrentTimeline()
    with pytest.raises(
        HostBridgeError,
        match=rf"did not place the fused clip at record frame {RECORD}; it is in the media pool "
        rf"\(f\.\[1001-1006\]\.exr\): place it on a track above the clip",
    ):
        place_above(project, timeline, fused_result(shot, tmp_path / "fused"), RECORD)
    assert timeline.GetTrackCount("video") == 1  # the track added for it is gone again
    assert media_count(resolve) == 1


# -- failures: a clear message, nothing written or imported ------------------------


def media_count(app) -> int:
    return len(app.GetProjectManager().GetCurrentProject().GetMediaPool().GetRootFolder().GetClipList())


def test_server_down(resolve, shot, tmp_path):
    """Found before Resolve renders anything: a long shot's renders are not thrown away."""
    place(resolve, shot["rgba"], 1001, 1006, track=1)
    settings = settings_for(f"unix://{tmp_path}/nobody.sock", tmp_path)
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings)
    assert "unavailable" in report.error and "movingcolor serve --address" in report.error
    assert "rendering" not in (tmp_path / "movingcolor.log").read_text()
    assert fused_clips(resolve) == [] and media_count(resolve) == 1
    assert leftovers(tmp_path / "out") == []
    assert "unavailable" in (tmp_path / "movingcolor.log").read_text()
    args = ["--track", "1", "--server", f"unix://{tmp_path}/nobody.sock", "--grade", GRADE]
    code = main([*args, "--colorspace", "ACEScg", "--log-file", str(tmp_path / "log.txt")], resolve=resolve)
    assert code == 75  # EX_TEMPFAIL: try again later


def test_a_batch_stops_at_a_server_that_is_down(resolve, shot, tmp_path):
    """A track of clips and no server: every clip waited out the same retries and logged the same
    error before the batch gave up (30 clips, 30 waits). The first clip's failure now stops the
    batch, and the others are reported as not fused."""
    place(resolve, shot["rgba"], 1001, 1006, track=1, duration=3)
    place(resolve, shot["rgba"], 1001, 1006, track=1, record=RECORD + 3, source_in=3, duration=3)
    settings = settings_for(f"unix://{tmp_path}/nobody.sock", tmp_path)
    first, second = fuse_items(resolve, track_items(resolve, 1), settings)
    assert "unavailable" in first.error and first.exit_code == 75
    assert second.error.startswith("not fused: the batch stopped at") and second.exit_code == 75
    assert (tmp_path / "movingcolor.log").read_text().count("is unavailable") == 1


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"band": "wide"}, "band width 'wide' must be"),
        ({"matte": "track:x"}, "matte is 'track:x': give alpha"),
        ({"graded_track": 7}, "the graded track 7 does not exist"),
        ({"render_codec": "H264"}, "render_codec 'H264' is not an EXR codec of this Resolve; use one of"),
        ({"out": "/tmp/{item}.exr"}, "is not an EXR sequence"),
        ({"out": "/tmp/{shot}/f.####.exr"}, "cannot fill in 'shot'; the template knows {timeline}"),
        ({"out": "/dev/null/{item}/f.####.exr"}, "cannot write to the output folder /dev/null/p: Not a"),
        ({"server": ""}, "server is empty"),
        ({"colorspace": ""}, "the project is not colour-managed (DaVinci YRGB): Resolve renders the clips'"),
        ({"handles": 2}, "Resolve renders the clip's cut only; set it to 0"),
        ({"grade": "slope=abc"}, "slope"),  # the server's own check of the grade
        ({"engine": "gudied"}, "engine 'gudied': the server at "),  # before any render
        ({"model": "typo-model"}, "model 'typo-model': the server at "),
        # Refused before the renders: they failed after them as "unavailable", exit 75.
        ({"timeout": 0}, "timeout is 0: give the seconds a fuse may take"),
        ({"retries": -3}, "retries is -3: give 0 or more"),
    ],
)
def test_bad_settings(resolve, served, shot, tmp_path, values, named):
    place(resolve, shot["rgba"], 1001, 1006, track=1)
    values = dict(values)
    settings = settings_for(values.pop("server", served.address), tmp_path, **values)
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings)
    assert named in report.error, report.error
    assert fused_clips(resolve) == [] and media_count(resolve) == 1
    assert leftovers(tmp_path / "out") == []
    assert not (tmp_path / "out").exists()  # nor the empty folders the template named


def test_timelines_named_in_any_script_or_with_versions_fuse_into_folders_of_their_own(
    resolve, served, shot, tmp_path
):
    """Letters of every script are kept in the output template's names: two timelines named in
    Cyrillic (an edit and its copy) once both became "clip", and the second fuse replaced the
    first's frames."""
    project = resolve.GetProjectManager().GetCurrentProject()
    outs = []
    names = ("Монтаж", "Монтаж копия", "Edit v1.2", "Edit v1.3", "Reel 1/Sc 2", "Reel 2/Sc 2")
    for name in names:
        timeline = project.GetMediaPool().CreateEmptyTimeline(name)
        project.SetCurrentTimeline(timeline)
        place(resolve, shot["rgba"], 1001, 1006, track=1)
        out = str(tmp_path / "out" / "{timeline}" / "fused.########.exr")
        (report,) = fuse_items(
            resolve, track_items(resolve, 1), settings_for(served.address, tmp_path, out=out)
        )
        assert report.ok, report.error
        outs.append(Path(report.out).parent.name)
    # Versions and reels too: "Edit v1.2" and "Edit v1.3" were both "Edit_v1", and the second fuse
    # replaced the frames the first timeline's fused clip reads.
    assert outs == ["Монтаж", "Монтаж_копия", "Edit_v1.2", "Edit_v1.3", "Reel_1_Sc_2", "Reel_2_Sc_2"]


def test_one_clip_on_two_tracks_is_found_on_its_own_track(resolve, served, shot, tmp_path):
    """A clip used twice at one place (its graded copy on track 1, the plate on track 2) shares its
    name, start and end: the plate was taken from track 1, so plate and graded were one render.
    A graded track that is the plate's own is refused by name."""
    from movingcolor_resolve.timeline import track_of

    timeline = resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline()
    graded = place(resolve, shot["rgba"], 1001, 1006, track=1)
    plate = place(resolve, shot["rgba"], 1001, 1006, track=2)
    assert (graded.GetName(), graded.GetStart()) == (plate.GetName(), plate.GetStart())
    assert track_of(timeline, plate) == 2 and track_of(timeline, graded) == 1
    settings = settings_for(served.address, tmp_path, graded_track=2)
    (report,) = fuse_items(resolve, [plate], settings)
    assert "the graded track 2 is the plate's own track" in report.error, report.error
    assert leftovers(tmp_path / "out") == []


def test_bad_settings_file_and_environment(tmp_path):
    settings_file = tmp_path / "resolve.json"
    # A track is a whole number: 2.9 became track 2, and true track 1, without a word.
    for value in ("2.9", "true", "-1"):
        settings_file.write_text(f'{{"graded_track": {value}}}')
        with pytest.raises(SettingsError, match=r"graded_track is .*: give a video track number"):
            load_settings(settings_file, environ={})
    settings_file.write_text('{"sever": "gpu:50051"}')
    with pytest.raises(SettingsError, match=r"resolve.json: sever: unknown setting; known settings are"):
        load_settings(settings_file, environ={})
    settings_file.write_text("{not json")
    with pytest.raises(SettingsError, match="is not valid JSON"):
        load_settings(settings_file, environ={})
    with pytest.raises(SettingsError, match="settings file .*missing.json does not exist"):
        load_settings(tmp_path / "missing.json", environ={})
    # JSON's own numbers and switches are taken; a null, a list or a fraction of a frame is not.
    settings_file.write_text(json.dumps({"band": 12, "handles": 0, "timeout": 60, "matte": "alpha"}))
    settings = load_settings(settings_file, environ={})
    assert (settings.fuse.band, settings.fuse.handles, settings.fuse.timeout) == ("12", 0, 60.0)
    for values, named in (({"model": None}, "model is null: give text"), ({"band": [12]}, "band is \\[12\\]"),
                          ({"handles": 2.5}, "handles is 2.5: give a whole number"),
                          ({"log_file": None}, "log_file is null: give text")):  # fmt: skip
        settings_file.write_text(json.dumps(values))
        with pytest.raises(SettingsError, match=f"resolve.json: {named}"):
            load_settings(settings_file, environ={})
    with pytest.raises(SettingsError, match="MOVINGCOLOR_HANDLES is 'two': give a whole number"):
        load_settings(environ={"MOVINGCOLOR_HANDLES": "two"})
    with pytest.raises(SettingsError, match="MOVINGCOLOR_GRADED_TRACK is 'V3': give a video track number"):
        load_settings(environ={"MOVINGCOLOR_GRADED_TRACK": "V3"})
    settings = load_settings(environ={"MOVINGCOLOR_BAND": "wide", "MOVINGCOLOR_SERVER": "x:1",
                                      "MOVINGCOLOR_GRADE": GRADE})  # fmt: skip
    with pytest.raises(SettingsError, match="^MOVINGCOLOR_BAND: band width 'wide'"):
        settings.fuse.validate()


def test_a_matte_track_that_is_empty_everywhere_is_refused_before_the_server(resolve, served, shot, tmp_path):
    """A matte clip with nothing in it (the wrong clip, a matte not yet made) would fuse as the plate
    given back, looking done."""
    empty = tmp_path / "empty"
    empty.mkdir()
    height, width = read_pixels(Path(shot["plate"].replace("####", "1001"))).shape[:2]
    for number in range(1001, 1007):
        write_image(empty / f"m.{number}.exr", np.zeros((height, width, 3), np.float32))
    place(resolve, shot["plate"], 1001, 1006, track=1)
    place(resolve, str(empty / "m.####.exr"), 1001, 1006, track=2)
    settings = settings_for(served.address, tmp_path, matte="track:2")
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings)
    assert "the matte on video track 2: it is empty (0) in every frame, so nothing" in report.error
    assert fused_clips(resolve) == [] and leftovers(tmp_path / "out") == []


def test_a_missing_grade_file_is_named_before_any_render_whatever_its_folder_holds(tmp_path):
    """The up-front check read ``reel #3/shot 010.cc`` as ``reel `` and ``grade=v2/...`` as CDL text:
    a missing file there was found only after the host's renders. An existing one, and CDL text,
    pass."""
    from movingcolor_hosts import FuseSettings

    (tmp_path / "reel #3").mkdir()
    (tmp_path / "reel #3" / "shots.ccc").write_text("<ColorCorrectionCollection/>")
    for missing in (
        "nope/shot 010.cc",
        "nope/reel #3/shot 010.cc",
        "nope/grade=v2/shot 010.cc",
        "nope/a.ccc#id",
    ):
        settings = FuseSettings(
            server="127.0.0.1:50051", grade=str(tmp_path / missing), out=str(tmp_path / "f.####.exr")
        )
        with pytest.raises(SettingsError, match="the grade file .* does not exist; check the path"):
            settings.validate()
    for given in (
        str(tmp_path / "reel #3" / "shots.ccc") + "#warm",
        "slope=1.2,1,0.8;sat=1.1",
        "look:ShotLook",
    ):
        FuseSettings(server="127.0.0.1:50051", grade=given, out=str(tmp_path / "f.####.exr")).validate()


def test_a_colour_matte_is_checked_as_the_server_reads_it(tmp_path):
    """The check read a colour matte's red channel where the server takes the brightest: a matte in
    green was refused as empty, and one in red beside a blue of 1 everywhere (the whole frame graded,
    for the server) passed."""
    from movingcolor_hosts import MissingInputError
    from movingcolor_hosts.mattes import require_matte

    disc = np.zeros((24, 32, 1), np.float32)
    disc[6:18, 8:24] = 1.0
    zeros, ones = np.zeros_like(disc), np.ones_like(disc)
    for name, channels in (("green", (zeros, disc, zeros)), ("red_over_blue", (disc, zeros, ones))):
        (tmp_path / name).mkdir()
        for number in (1, 2):
            write_image(tmp_path / name / f"m.{number:04d}.exr", np.concatenate(channels, axis=2))
    require_matte(str(tmp_path / "green" / "m.####.exr"), "the matte", "render the matte")
    with pytest.raises(MissingInputError, match="it is opaque in every frame"):
        require_matte(str(tmp_path / "red_over_blue" / "m.####.exr"), "the matte", "render the matte")


def test_a_clips_file_path_names_its_frames_by_their_range(tmp_path):
    """Resolve gives a sequence's file path as ``plate.[1001-1100].exr``: read as one file that does
    not exist, nothing of the clip's media was protected from the output."""
    from movingcolor_resolve.timeline import clip_files

    assert clip_files("/s/p.[0998-1001].exr") == [Path(f"/s/p.{n:04d}.exr") for n in range(998, 1002)]
    assert clip_files("/s/p_[7-12].png") == [Path(f"/s/p_{n}.png") for n in range(7, 13)]
    (tmp_path / "notes [1-2].mov").write_bytes(b"")  # a movie named with a range of its own
    assert clip_files(str(tmp_path / "notes [1-2].mov")) == [tmp_path / "notes [1-2].mov"]
    assert clip_files("/s/clip.mov") == [Path("/s/clip.mov")]


def test_an_output_over_the_media_of_the_clip_is_refused_before_anything_renders(resolve, served, tmp_path):
    """The server sees only Resolve's renders of the tracks, so the bridge checks the output against
    the media files under the clip: a plate numbered as its record frames, fused into its own
    sequence, would be replaced."""
    plate, matte = write_shot(tmp_path / "shot", frames=6)
    for pattern in (plate, matte):  # numbered from the record frame, as some camera media are
        for index in range(6):
            Path(pattern.replace("####", str(1001 + index))).rename(
                pattern.replace("####", str(RECORD + index))
            )
    kept = {path: path.read_bytes() for path in sorted((tmp_path / "shot").rglob("*.*"))}
    place(resolve, plate, RECORD, RECORD + 5, track=1)
    place(resolve, matte, RECORD, RECORD + 5, track=2)
    settings = settings_for(served.address, tmp_path, out=plate, matte="track:2")
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings)
    assert "would overwrite an input: 6 of its frames are input files" in report.error, report.error
    assert {path: path.read_bytes() for path in sorted((tmp_path / "shot").rglob("*.*"))} == kept
    assert fused_clips(resolve) == [] and "rendering" not in (tmp_path / "movingcolor.log").read_text()


def test_a_clip_whose_media_is_offline_is_refused_before_anything_renders(resolve, served, tmp_path):
    """A plate or matte clip whose files have gone (an unmounted share, a frame deleted) renders in
    Resolve as red "Media Offline" frames: they were rendered, fused and imported as the shot."""
    plate, matte = write_shot(tmp_path / "shot", frames=6)
    place(resolve, plate, 1001, 1006, track=1)
    place(resolve, matte, 1001, 1006, track=2)
    Path(matte.replace("####", "1003")).unlink()
    settings = settings_for(served.address, tmp_path, matte="track:2")
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings)
    assert "the matte clip's media is offline: 1 of its files is missing" in report.error, report.error
    assert "matte.1003.png" in report.error and "relink" in report.error and report.exit_code == 2
    assert fused_clips(resolve) == [] and "rendering" not in (tmp_path / "movingcolor.log").read_text()


def test_missing_matte(resolve, served, shot, tmp_path):
    place(resolve, shot["plate"], 1001, 1006, track=1)
    place(resolve, shot["matte"], 1001, 1006, track=2, duration=3)
    settings = settings_for(served.address, tmp_path, matte="track:2")
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings)
    assert f"the matte track 2 does not cover record frames {RECORD}-{RECORD + 5}" in report.error
    assert fused_clips(resolve) == [] and leftovers(tmp_path / "out") == []
    # An RGB clip rendered with ExportAlpha comes out opaque: no matte to fuse through.
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings_for(served.address, tmp_path))
    assert "rendered with ExportAlpha has no matte in its alpha: it is opaque" in report.error
    assert "set matte to track:N" in report.error and report.exit_code == 2
    assert fused_clips(resolve) == [] and leftovers(tmp_path / "out") == []
    timeline = resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline()
    timeline.SetCurrentTimecode("02:00:00:00")
    assert main(["--server", served.address, "--grade", GRADE, "--colorspace", "ACEScg",
                 "--log-file", str(tmp_path / "log.txt")],
                resolve=resolve) == 2  # fmt: skip
    assert "no clip under the playhead" in (tmp_path / "log.txt").read_text()


def test_render_stopped_in_resolve(resolve, served, shot, tmp_path):
    place(resolve, shot["rgba"], 1001, 1006, track=1)
    resolve.GetProjectManager().GetCurrentProject().stop_after = 2  # the artist presses Stop
    code = main(["--track", "1", "--server", served.address, "--grade", GRADE, "--colorspace", "ACEScg",
                 "--out", str(tmp_path / "out" / "f.####.exr"), "--log-file", str(tmp_path / "log.txt")],
                resolve=resolve)  # fmt: skip
    assert code == 130
    assert (
        "the render of the plate was stopped; nothing was sent or imported"
        in (tmp_path / "log.txt").read_text()
    )
    assert fused_clips(resolve) == [] and leftovers(tmp_path / "out") == []
    timeline = resolve.GetProjectManager().GetCurrentProject().GetCurrentTimeline()
    assert timeline.GetIsTrackEnabled("video", 1)


def test_cancelled_while_resolve_renders(resolve, served, shot, tmp_path):
    """A cancel (or Ctrl+C) during Resolve's render stops that render before its job is deleted."""
    place(resolve, shot["rgba"], 1001, 1006, track=1)
    project = resolve.GetProjectManager().GetCurrentProject()
    project.seconds_per_frame = 0.4
    timeline = project.GetCurrentTimeline()

    def rendering_started() -> bool:
        return any(job.percent > 0 for job in project.jobs.values())

    settings = settings_for(served.address, tmp_path)
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings, cancelled=rendering_started)
    assert report.cancelled and "cancelled while rendering the plate" in report.error, report.error
    assert not project.IsRenderingInProgress() and project.GetRenderJobList() == []
    assert fused_clips(resolve) == [] and leftovers(tmp_path / "out") == []
    assert timeline.GetIsTrackEnabled("video", 1)
    assert project.GetCurrentRenderFormatAndCodec() == {"format": "mov", "codec": "ProRes422HQ"}

    def interrupted() -> bool:
        if rendering_started():
            raise KeyboardInterrupt
        return False

    with pytest.raises(KeyboardInterrupt):
        fuse_items(resolve, track_items(resolve, 1), settings, cancelled=interrupted)
    assert not project.IsRenderingInProgress() and project.GetRenderJobList() == []
    assert leftovers(tmp_path / "out") == []


def test_cancelled_on_the_server(resolve, served, shot, tmp_path):
    place(resolve, shot["rgba"], 1001, 1006, track=1)
    out = tmp_path / "out" / "f.####.exr"
    seen = []

    class FirstFrame(logging.Handler):
        def emit(self, record):
            seen.append("fused frame" in record.getMessage())

    handler = FirstFrame()
    logging.getLogger("movingcolor.resolve").addHandler(handler)
    try:
        settings = settings_for(served.address, tmp_path, out=str(out))
        (report,) = fuse_items(resolve, track_items(resolve, 1), settings, cancelled=lambda: any(seen))
    finally:
        logging.getLogger("movingcolor.resolve").removeHandler(handler)
    assert report.cancelled and "cancelled: nothing was written" in report.error
    assert fused_clips(resolve) == [] and media_count(resolve) == 1
    assert leftovers(out.parent) == []


def test_plugin_folder_never_installs_as_a_resolve_module():
    """The bridge installs as movingcolor_resolve (for `movingcolor install` to copy); the host folders
    never install as top-level `resolve` or `nuke` modules that would shadow a host's own."""
    import tomllib
    from setuptools import find_namespace_packages

    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = {
        p for w in found["where"] for p in find_namespace_packages(str(ROOT / w), include=found["include"])
    }
    assert not {p for p in packages if p.split(".")[0] in ("resolve", "nuke")}
    assert {"movingcolor_hosts", "movingcolor_resolve"} <= packages


def test_command_line_help_without_torch():
    """The bridge loads in a Python without torch (Resolve's scripting Python has the light install)."""
    import subprocess

    paths = os.pathsep.join([str(ROOT / "plugin" / "resolve"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": paths, "COLUMNS": "200"}
    code = (
        "import sys, runpy; sys.modules['torch'] = None; sys.argv = ['movingcolor_resolve', '--help']; "
        "runpy.run_module('movingcolor_resolve', run_name='__main__')"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "--graded-track" in done.stdout and "{timeline} {item} {track} {start}" in done.stdout


def test_resolve_in_another_language(resolve, served, shot, tmp_path):
    """Resolve words render job states in its UI's language: a finished render is still finished."""
    place(resolve, shot["rgba"], 1001, 1006, track=1)
    project = resolve.GetProjectManager().GetCurrentProject()
    project.status_words = {"Ready": "Pronto", "Rendering": "Renderizando", "Complete": "Concluído",
                            "Cancelled": "Cancelado", "Failed": "Falhou"}  # fmt: skip
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings_for(served.address, tmp_path))
    assert report.ok, report.error
    assert [clip[:3] for clip in fused_clips(resolve)] == [(2, RECORD, 6)]
    project.stop_after = 2  # the artist presses Stop: no frames, so no fusion, whatever the wording
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings_for(served.address, tmp_path))
    assert "Resolve failed to render the plate (Cancelado, 33%)" in report.error, report.error


def test_render_failure_is_reported(resolve, served, shot, tmp_path):
    """A frame Resolve cannot decode (damaged after the edit): its render fails, and the message says
    how far it got. (Media gone offline is refused before rendering: see the offline test.)"""
    import shutil

    folder = tmp_path / "media"
    shutil.copytree(Path(shot["rgba"]).parent, folder)
    place(resolve, str(folder / "p.####.exr"), 1001, 1006, track=1)
    (folder / "p.1004.exr").write_bytes(b"not an EXR any more")
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings_for(served.address, tmp_path))
    assert "Resolve failed to render the plate (Failed, 50%); check the track and its media" in report.error
    assert report.exit_code == 2 and fused_clips(resolve) == [] and leftovers(tmp_path / "out") == []


def test_unexpected_error_reaches_the_log(resolve, shot, tmp_path, monkeypatch):
    place(resolve, shot["rgba"], 1001, 1006, track=1)

    def broken(self):
        raise RuntimeError("the scripting link dropped")

    monkeypatch.setattr(resolve_app.Timeline, "GetCurrentVideoItem", broken)
    code = main(["--server", "localhost:1", "--grade", GRADE, "--colorspace", "ACEScg",
                 "--log-file", str(tmp_path / "log.txt")], resolve=resolve)  # fmt: skip
    assert code == 70
    text = (tmp_path / "log.txt").read_text()
    assert "unexpected error, nothing more was fused; please report it with this log" in text
    assert "RuntimeError: the scripting link dropped" in text  # the traceback, for whoever fixes it


def test_resolve_not_running(tmp_path):
    assert resolve_app.current is None  # scriptapp("Resolve") answers None
    code = main(["--server", "localhost:1", "--grade", GRADE, "--colorspace", "ACEScg",
                 "--log-file", str(tmp_path / "log.txt")])  # fmt: skip
    assert code == 2
    assert "DaVinci Resolve is not reachable: start it" in (tmp_path / "log.txt").read_text()


# -- colour management: what Resolve renders in, as the server is told it -------------------------


def manage_color(project, space: str, gamma: str = "") -> None:
    """Resolve Color Management with ``space`` (and ``gamma``, separately) as input, timeline and output
    colour space: what the stand-in renders without converting."""
    assert project.SetSetting("colorScienceMode", "davinciYRGBColorManagedv2")
    assert project.SetSetting("separateColorSpaceAndGamma", "1" if gamma else "0")
    for stage in ("Input", "Timeline", "Output"):
        assert project.SetSetting(f"colorSpace{stage}", space)
        if gamma:
            assert project.SetSetting(f"colorSpace{stage}Gamma", gamma)


def test_colour_managed_project_sends_its_output_colour_space(resolve, served, shot, tmp_path):
    """No colorspace setting: the project's output colour space is sent as the same colourspace of
    OCIO's studio config, and the fused clip is tagged with it."""
    from movingcolor_resolve.project_color import REFERENCE_CONFIG

    place(resolve, shot["rgba"], 1001, 1006, track=1)
    project = resolve.GetProjectManager().GetCurrentProject()
    manage_color(project, "Rec.709", "Linear")
    (report,) = fuse_items(resolve, track_items(resolve, 1), settings_for(served.address, tmp_path,
                                                                          colorspace=""))  # fmt: skip
    assert report.ok, report.error
    linear = "Linear Rec.709 (sRGB)"
    expected = cli_frames(tmp_path / "cli", "--plate", shot["rgba"], "--matte", "alpha", "--grade", GRADE,
                          "--config", REFERENCE_CONFIG, "--plate-colorspace", linear,
                          "--out-colorspace", linear)  # fmt: skip
    ours = frames_of(Path(report.out).parent, "fused.*.exr")
    assert len(ours) == 6 and all(np.array_equal(a, b) for a, b in zip(ours, expected, strict=True))
    fused = project.GetCurrentTimeline().GetItemListInTrack("video", 2)[0].GetMediaPoolItem()
    assert fused.GetClipProperty("Input Color Space") == "Rec.709"
    assert fused.GetClipProperty("Input Gamma") == "Linear"
    log = (tmp_path / "movingcolor.log").read_text()
    assert (
        f"renders in the output colour space Rec.709 / Linear, sent as '{linear}' of {REFERENCE_CONFIG}"
        in log
    )


def test_what_each_colour_science_renders_in(resolve):
    from movingcolor_resolve.project_color import REFERENCE_CONFIG, render_color, sent_colorspace

    project = resolve.GetProjectManager().GetCurrentProject()
    assert not render_color(project).managed  # a new project: DaVinci YRGB
    manage_color(project, "Rec.709 Gamma 2.4")
    assert project.SetSetting("colorSpaceOutput", "Bypass")  # the output is the timeline's
    color = render_color(project)
    assert (color.space, color.gamma) == ("Rec.709 Gamma 2.4", "")
    sent = sent_colorspace(color, "", grade_is_look=False)
    assert (sent.colorspace, sent.config) == ("Gamma 2.4 Rec.709 - Texture", REFERENCE_CONFIG)
    # A look is a look of the server's config: the same colourspace, named there.
    assert sent_colorspace(color, "", grade_is_look=True).config == ""
    # The colorspace setting wins, named in the server's config.
    assert sent_colorspace(color, "ACEScct", grade_is_look=False) == sent_colorspace(color, "ACEScct", True)
    assert sent_colorspace(color, "ACEScct", False).config == ""
    assert project.SetSetting("colorSpaceOutput", "ARRI LogC3")
    with pytest.raises(
        SettingsError, match="output colour space ARRI LogC3 .* cannot name .* set colorspace"
    ):
        sent_colorspace(render_color(project), "", grade_is_look=False)
    assert project.SetSetting("colorScienceMode", "acescct")
    with pytest.raises(SettingsError, match=r"an ACES project \(acescct\) renders through its ACES output"):
        sent_colorspace(render_color(project), "", grade_is_look=False)


@pytest.mark.parametrize(
    ("space", "gamma", "name"),
    [
        ("Rec.709 Gamma 2.4", "", "Gamma 2.4 Rec.709 - Texture"),
        ("sRGB", "", "sRGB - Texture"),
        ("Rec.709", "Gamma 2.2", "Gamma 2.2 Rec.709 - Texture"),
        ("Rec.709", "Linear", "Linear Rec.709 (sRGB)"),
        ("DaVinci WG/Intermediate", "", "DaVinci Intermediate WideGamut"),
    ],
)
def test_resolve_colour_spaces_are_sent_as_the_same_colourspaces(space, gamma, name):
    """Resolve's curve for each mapped colour space, against OpenColorIO's for the name sent."""
    import PyOpenColorIO as ocio
    from movingcolor_resolve.project_color import REFERENCE_CONFIG, RESOLVE_SPACES

    curves = {  # Resolve's gammas, to linear (Rec.709 primaries, or DaVinci Wide Gamut's)
        "Gamma 2.4": lambda v: v**2.4,
        "Gamma 2.2": lambda v: v**2.2,
        "sRGB": lambda v: np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4),
        "Linear": lambda v: v,
        "DaVinci Intermediate": lambda v: np.where(
            v <= 0.02740668, v / 10.44426855, 2 ** (v / 0.07329248 - 7.0) - 0.0075
        ),
    }
    combined = {
        "Rec.709 Gamma 2.4": "Gamma 2.4",
        "sRGB": "sRGB",
        "DaVinci WG/Intermediate": "DaVinci Intermediate",
    }
    linear = "Linear DaVinci WideGamut" if "DaVinci" in space else "Linear Rec.709 (sRGB)"
    assert RESOLVE_SPACES[(space, gamma)] == name
    config = ocio.Config.CreateFromFile(REFERENCE_CONFIG)
    values = np.array([[0.02, 0.18, 0.5], [0.75, 1.0, 0.05]], np.float32)
    result = values.copy()
    config.getProcessor(name, linear).getDefaultCPUProcessor().applyRGB(result)
    curve = curves[gamma or combined[space]]
    assert np.allclose(result, curve(values.astype(np.float64)), atol=2e-4)


def test_a_fused_clip_resolve_will_not_tag_is_logged_with_the_fix(resolve, shot, caplog):
    from movingcolor_resolve.placement import tag_color
    from movingcolor_resolve.project_color import RenderColor

    project = resolve.GetProjectManager().GetCurrentProject()
    (clip,) = project.GetMediaPool().ImportMedia(
        [{"FilePath": shot["rgba"].replace("####", "%04d"), "StartIndex": 1001, "EndIndex": 1006}]
    )
    bridge_log = logging.getLogger("movingcolor.resolve")  # it does not propagate to pytest's
    bridge_log.addHandler(caplog.handler)
    try:
        tag_color(clip, RenderColor("davinciYRGB", "Rec.709 Gamma 2.4"))  # not colour-managed: left alone
        assert clip.GetClipProperty("Input Color Space") == "Project" and not caplog.records
        tag_color(clip, RenderColor("davinciYRGBColorManagedv2", "Rec.709 Gamma 2.4"))
        assert clip.GetClipProperty("Input Color Space") == "Rec.709 Gamma 2.4"
        tag_color(clip, RenderColor("davinciYRGBColorManagedv2", "Rec.709", "Gamma 2.6"))
    finally:
        bridge_log.removeHandler(caplog.handler)
    assert "did not take Rec.709 / Gamma 2.6 as the fused clip's input colour space; set it by hand" in (
        caplog.text
    )


def test_the_grade_comes_from_the_last_place_that_names_one(tmp_path):
    """The show's settings file names a graded track; a colourist's --grade on the command line (or
    MOVINGCOLOR_GRADE) was dropped without a word and the clip fused with the graded track's grade.
    Each later layer that names a grade or a graded track now replaces the other; one layer that
    names both is refused."""
    show = tmp_path / "show.json"
    show.write_text(json.dumps({"graded_track": 3, "matte": "track:2"}))
    settings = load_settings(show, environ={}, overrides={"grade": GRADE}).validate()
    assert (settings.fuse.grade, settings.graded_track, settings.fuse.use_graded) == (GRADE, 0, False)
    settings = load_settings(show, environ={"MOVINGCOLOR_GRADE": GRADE}).validate()
    assert (settings.fuse.grade, settings.graded_track, settings.fuse.use_graded) == (GRADE, 0, False)

    show.write_text(json.dumps({"grade": GRADE}))
    settings = load_settings(show, environ={"MOVINGCOLOR_GRADED_TRACK": "3"}).validate()
    assert (settings.fuse.grade, settings.graded_track, settings.fuse.use_graded) == ("", 3, True)

    show.write_text(json.dumps({"server": "unix:///tmp/mc.sock", "grade": GRADE, "graded_track": 3}))
    with pytest.raises(SettingsError, match="is set and the graded input is used too: use one of them"):
        load_settings(show, environ={}).validate().fuse.validate()


def test_a_batch_stops_at_a_socket_this_user_may_not_use(resolve, served, shot, tmp_path, monkeypatch):
    """A socket the system refuses this user (another user's server) was told as "permission
    denied" for every clip of the track, each after gRPC's retries (3 s a clip): it is said at once,
    and the batch stops at the first. The system's refusal is stood in for here (a test runs as the
    server's own user; the client's own test makes a real one)."""

    place(resolve, shot["rgba"], 1001, 1006, track=1, duration=3)
    place(resolve, shot["rgba"], 1001, 1006, track=1, record=RECORD + 3, source_in=3, duration=3)
    socket_path = served.address.removeprefix("unix://")
    import movingcolor_client.client as client_module

    monkeypatch.setattr(client_module, "_refused_by_the_system", lambda path: path == socket_path)
    settings = settings_for(served.address, tmp_path)
    first, second = fuse_items(resolve, track_items(resolve, 1), settings)
    assert "this user may not use the server's socket" in first.error and first.exit_code == 2
    assert "--socket-group" in first.error
    assert second.error.startswith("not fused: the batch stopped at") and "socket" in second.error
    assert fused_clips(resolve) == []


def test_a_batch_goes_on_past_a_clip_the_servers_gpu_had_no_memory_for(resolve, shot, tmp_path, monkeypatch):
    """A GPU out of memory depends on the clip and the moment (the next clip is smaller, or comes
    once another job let the GPU go): the batch goes on, where a stopped server stops it."""
    import movingcolor_resolve.bridge as bridge
    from movingcolor_client import DeviceMemoryError

    place(resolve, shot["rgba"], 1001, 1006, track=1, duration=3)
    place(resolve, shot["rgba"], 1001, 1006, track=1, record=RECORD + 3, source_in=3, duration=3)
    tried = []

    def out_of_memory(resolve, item, settings, cancelled=None):
        tried.append(item.GetName())
        raise DeviceMemoryError("FuseShot: the GPU ran out of memory: run fewer jobs on it at once")

    monkeypatch.setattr(bridge, "fuse_item", out_of_memory)
    first, second = fuse_items(resolve, track_items(resolve, 1), settings_for("unix:///x.sock", tmp_path))
    assert len(tried) == 2 and first.exit_code == second.exit_code == 75
    assert "GPU ran out of memory" in second.error and "batch stopped" not in second.error
