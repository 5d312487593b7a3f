"""A server's FuseWindow caches never answer with work done before what the setup names changed
on disk: a show LUT updated in place, a model exported again in place. The setup names both
without their content, so each window's keys carry the config's load and the model's files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import PyOpenColorIO as ocio
import pytest
from conftest import short_folder
from movingcolor.errors import MovingColorError
from movingcolor.frames.image_io import read_header
from movingcolor.service.server import create_server
from movingcolor.service.settings import ServerSettings
from movingcolor.synthetic import generate_shot
from movingcolor_client import connect

GRADE = "look:show"


def _write_lut(path: Path, gain: float) -> None:
    values = [min(1.5, gain * i / 31) for i in range(32)]
    path.write_text(
        "Version 1\nFrom 0.0 1.0\nLength 32\nComponents 1\n{\n" + "".join(f" {v:f}\n" for v in values) + "}\n"
    )


def _show_config(folder: Path) -> Path:
    """The built-in config with a look ``show`` through ``show.spi1d`` beside it."""
    _write_lut(folder / "show.spi1d", 1.0)
    config = ocio.Config.CreateFromFile("ocio://default")
    config.setSearchPath(str(folder))
    look = ocio.Look(name="show", processSpace="ACEScg", transform=ocio.FileTransform(src="show.spi1d"))
    config.addLook(look)
    (folder / "config.ocio").write_text(config.serialize())
    return folder / "config.ocio"


@pytest.fixture
def window():
    shot = generate_shot(width=64, height=48, frames=7, seed=5)
    plates = {1001 + i: np.ascontiguousarray(shot.plate[i][..., :3]) for i in range(7)}
    mattes = {1001 + i: np.ascontiguousarray(shot.matte[i]) for i in range(7)}
    return plates, mattes


def _around(images: dict, target: int, radius: int) -> dict:
    return {frame: image for frame, image in images.items() if abs(frame - target) <= radius}


class _Server:
    def __init__(self):
        self.folder = short_folder()

    def __enter__(self):
        self.server, _ = create_server(f"unix://{self.folder}/mc.sock", ServerSettings())
        self.server.start()
        self.client = connect(f"unix://{self.folder}/mc.sock").__enter__()
        return self.client

    def __exit__(self, *exc):
        self.client.__exit__(*exc)
        self.server.stop(0).wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def test_a_show_lut_changed_while_the_server_runs_fuses_windows_and_neighbours_anew(
    tmp_path, window, monkeypatch
):
    """A LUT rewritten in place: the same window was answered from the result cache, and the next
    target from its neighbours prepared under the old LUT (a mix of both), until a restart."""
    import movingcolor.color.config as colour

    monkeypatch.setattr(colour, "LUT_CHECK_SECONDS", 0.0)
    monkeypatch.setenv("OCIO", str(_show_config(tmp_path)))
    plates, mattes = window

    def fuse(client, target):
        return client.fuse_window(
            target, _around(plates, target, 2), _around(mattes, target, 2), grade=GRADE, engine="guided"
        ).pixels()

    with _Server() as client:
        before = fuse(client, 1004)
        _write_lut(tmp_path / "show.spi1d", 0.6)
        again, following = fuse(client, 1004), fuse(client, 1005)
    with _Server() as fresh:
        expected, expected_following = fuse(fresh, 1004), fuse(fresh, 1005)
    assert np.abs(before - expected).max() > 0.05  # the LUT's change shows in the frame
    np.testing.assert_array_equal(again, expected)
    np.testing.assert_array_equal(following, expected_following)


def test_a_config_republished_with_its_lut_changed_fuses_with_the_new_lut(tmp_path, window, monkeypatch):
    """The config republished (its file changed) together with a LUT: the server loaded the config
    again for its own change, which read the LUT as OpenColorIO kept it from the first load, for
    good; the LUT's own check saw no change, as the new load's stamps were taken now."""
    import movingcolor.color.config as colour

    monkeypatch.setattr(colour, "LUT_CHECK_SECONDS", 0.0)
    config = _show_config(tmp_path)
    monkeypatch.setenv("OCIO", str(config))
    plates, mattes = window

    def fuse(client):
        return client.fuse_window(
            1004, _around(plates, 1004, 2), _around(mattes, 1004, 2), grade=GRADE, engine="guided"
        ).pixels()

    with _Server() as client:
        before = fuse(client)
        _write_lut(tmp_path / "show.spi1d", 0.6)
        config.write_text(config.read_text() + "# republished\n")
        again, later = fuse(client), fuse(client)
    assert np.abs(again - before).max() > 0.05  # the new LUT's change
    np.testing.assert_array_equal(again, later)


def test_a_model_exported_again_in_place_is_loaded_again(tmp_path, window, monkeypatch, test_model):
    """The pool kept the network it loaded first, by the folder's path, and the caches their
    frames: a model re-exported in place was fused with its old weights until a restart."""
    torch = pytest.importorskip("torch")
    from movingcolor.model.checkpoint import load_checkpoint, save_checkpoint

    models = tmp_path / "models"
    shutil.copytree(test_model, models / "mine")
    monkeypatch.setenv("MOVINGCOLOR_MODELS", str(models))
    plates, mattes = window

    def fuse(client, radius=3):
        return client.fuse_window(
            1004, _around(plates, 1004, radius), _around(mattes, 1004, radius), grade="exposure=0.5",
            engine="movingcolor", model="mine", device="cpu",
        ).pixels()  # fmt: skip

    with _Server() as client:
        before = fuse(client)
        network = load_checkpoint(models / "mine").network
        with torch.no_grad():
            for weights in network.parameters():
                weights.mul_(-1.5)
        save_checkpoint(network, models / "mine", "mine", "# retrained\n")
        again, other_window = fuse(client), fuse(client, radius=2)
    with _Server() as fresh:
        expected, expected_other = fuse(fresh), fuse(fresh, radius=2)
    assert np.abs(before - expected).max() > 1e-3
    np.testing.assert_array_equal(again, expected)
    np.testing.assert_array_equal(other_window, expected_other)


def test_a_client_relies_on_what_the_servers_features_say(tmp_path, monkeypatch, demo_inputs):
    """Every server said version 0.1.0: a client could not tell an older server (an EXR output in
    the plate's colourspace where none was named; no plate recorded in the frames) from a newer one,
    and a rerun through an upgraded server kept the older server's frames beside its own."""
    import movingcolor.service.info as info
    import movingcolor.service.setup_spec as setup_spec

    sent = []
    shot_spec = setup_spec.shot_spec

    def older_server(setup, folder):
        sent.append(setup.out_colorspace)
        setup.plate = ""  # as one older than ShotSetup.plate, which never saw it
        return shot_spec(setup, folder)

    plate, matte = demo_inputs
    out = tmp_path / "out" / "f.####.exr"
    with _Server() as client:
        first = client.fuse_files(plate, out, matte=matte, grade="slope=1.2", frames="1001-1003")
        monkeypatch.setattr(info, "FEATURES", ())
        monkeypatch.setattr(setup_spec, "shot_spec", older_server)
        again = client.fuse_files(plate, out, matte=matte, grade="slope=1.2", frames="1001-1003")
        assert len(first.written) == 3 and len(again.written) == 3  # other features: fused anew
        assert sent == ["scene_linear"]  # named for it: an older server wrote the plate's space
        header = read_header(Path(again.written[0])).attributes
        assert header["movingcolor:plate"]  # recorded where the server recorded none


def test_a_server_older_than_writing_a_linear_plates_own_colourspace_is_said(
    tmp_path, monkeypatch, demo_inputs, caplog
):
    """Through a server from before it, an ACES2065-1 plate's EXRs came back in ACEScg, where run
    here they keep ACES2065-1: the client cannot name the plate's colourspace for it (it has no
    OpenColorIO), so it says so."""
    import movingcolor.service.info as info

    plate, matte = demo_inputs
    with _Server() as client:
        monkeypatch.setattr(info, "FEATURES", tuple(f for f in info.FEATURES if f != "exr_out_linear_plate"))
        with caplog.at_level("WARNING"):
            client.fuse_files(
                plate, tmp_path / "out" / "f.####.exr", matte=matte, grade="slope=1.2", frames="1001"
            )
    assert "writes an EXR in its config's scene_linear whatever the plate's colourspace" in caplog.text


def test_a_client_whose_shot_variable_differs_from_the_servers_is_refused(tmp_path, monkeypatch, capsys):
    """A show config reads the shot's LUT through $SHOT: a server started for one shot graded
    another shot's frames with its own shot's LUT, without a word."""
    from conftest import run_cli
    from movingcolor.frames.image_io import write_image
    from movingcolor.service.process import ServerProcess

    for shot, gain in (("sh010", 1.0), ("sh020", 0.5)):
        (tmp_path / "luts" / shot).mkdir(parents=True)
        _write_lut(tmp_path / "luts" / shot / "show.spi1d", gain)
    config = ocio.Config.CreateFromFile("ocio://default")
    config.setSearchPath(str(tmp_path / "luts" / "${SHOT}"))
    config.addEnvironmentVar("SHOT", "sh010")  # declared, as show configs do, with a default
    config.addLook(
        ocio.Look(name="show", processSpace="ACEScg", transform=ocio.FileTransform(src="show.spi1d"))
    )
    (tmp_path / "config.ocio").write_text(config.serialize())
    rng = np.random.default_rng(0)
    for number in (1001, 1002):
        pixels = rng.uniform(0.1, 0.9, (24, 32, 4)).astype(np.float32)
        pixels[..., 3] = 0.0
        pixels[6:18, 8:24, 3] = 1.0
        write_image(tmp_path / f"plate.{number}.exr", pixels, channels=("R", "G", "B", "A"))
    monkeypatch.setenv("OCIO", str(tmp_path / "config.ocio"))
    folder = short_folder()
    try:
        with ServerProcess(f"unix://{folder}/mc.sock", env={"SHOT": "sh010"}) as server:

            def fuse(out: str) -> int:
                plate, frames = str(tmp_path / "plate.####.exr"), str(tmp_path / out / "f.####.exr")
                return run_cli(
                    "fuse", "--server", server.address, "--plate", plate, "--grade", GRADE,
                    "--engine", "hard", "--out", frames,
                )  # fmt: skip

            monkeypatch.setenv("SHOT", "sh020")
            assert fuse("sh020") == 2
            error = capsys.readouterr().err
            assert (
                "$SHOT is 'sh020' here and 'sh010' there" in error and "SHOT=sh020 movingcolor serve" in error
            )
            assert not (tmp_path / "sh020").exists()
            # A host's window and a pipeline's arrays are graded there as well.
            plates = {1001 + i: pixels for i in range(2)}
            with connect(server.address) as client:
                with pytest.raises(MovingColorError, match=r"\$SHOT is 'sh020' here and 'sh010' there"):
                    client.fuse_window(1001, plates, grade=GRADE, engine="hard")
                with pytest.raises(MovingColorError, match=r"\$SHOT is 'sh020' here and 'sh010' there"):
                    client.fuse_arrays(np.stack(list(plates.values())), grade=GRADE, engine="hard")
            monkeypatch.setenv("SHOT", "sh010")
            assert fuse("sh010") == 0
            with connect(server.address) as client:
                assert client.fuse_window(1001, plates, grade=GRADE, engine="hard").frame == 1001
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_scrub_asks_the_server_of_its_colour_context_once_while_ours_stays(window, monkeypatch):
    """The context check made every window of a scrub pay a GetInfo call first; it is asked again
    only where this process's $OCIO or a variable the server's config reads has changed."""
    from movingcolor_client.client import Client

    plates, mattes = window
    asked = []
    info = Client.info
    monkeypatch.setattr(
        Client, "info", lambda self, *args, **kwargs: asked.append(1) or info(self, *args, **kwargs)
    )
    monkeypatch.delenv("OCIO", raising=False)
    with _Server() as client:
        for target in (1003, 1004, 1005):
            client.fuse_window(
                target, _around(plates, target, 2), _around(mattes, target, 2), grade="slope=1.2"
            )
        assert len(asked) == 1
        monkeypatch.setenv("OCIO", "ocio://default")
        client.fuse_window(1004, _around(plates, 1004, 2), _around(mattes, 1004, 2), grade="slope=1.2")
        assert len(asked) == 2
        # Asked again after a while, whatever: a server restarted with another config is found.
        monkeypatch.setattr("movingcolor_client.client.OCIO_RECHECK_SECONDS", 0.0)
        client.fuse_window(1004, _around(plates, 1004, 2), _around(mattes, 1004, 2), grade="slope=1.2")
        assert len(asked) == 3
