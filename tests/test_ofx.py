"""The OFX plugin, built with CMake and loaded by the project's own OFX host, against a real server.

Every rendered frame must equal the server's own fusion of the same window (through the
client library), bit for bit; a server that is down or silent gives a viewer a warning and the
un-fused source, and fails a final render; a busy one is asked again; bad parameter values are
refused by the plugin itself; a frame rendered again sends no image; parameters are read at the
rendered frame, so keyframes count; a CDL that changes nothing is an identity. The test host
calls what real hosts call (clip preferences, regions of definition and interest, begin and end
sequence render, is-identity) and checks the plugin's side of each. Generated frames always run;
the real clips run when present.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import short_folder
from movingcolor.color.grade import CDL_RANGES
from movingcolor.frames.image_io import read_pixels
from movingcolor.service.process import ServerProcess
from movingcolor.synthetic import generate_shot
from movingcolor_client import connect
from ofx_harness import (
    SOURCE,
    HostRun,
    MissingToolchainError,
    OfxBuild,
    build_plugin,
    run_host,
    write_inputs,
    write_raw,
)

FIRST = 1001
SLOPE, OFFSET, POWER, SAT = (1.3, 1.0, 0.75), (0.01, 0.0, -0.02), (1.0, 1.1, 0.9), 1.15
GRADE_PARAMS = {
    "slope": ",".join(map(str, SLOPE)),
    "offset": ",".join(map(str, OFFSET)),
    "power": ",".join(map(str, POWER)),
    "saturation": SAT,
}


def cdl(slope=SLOPE, offset=OFFSET, power=POWER, sat=SAT) -> str:
    """The inline CDL the server takes, for the grade the plugin's parameters give."""
    return (
        f"slope={','.join(map(str, slope))};offset={','.join(map(str, offset))};"
        f"power={','.join(map(str, power))};sat={sat}"
    )


GRADE = cdl()
#: The widest band (px) the server does not warn of on the 64x48 test frames: a wider one spans more
#: than a quarter of their short side, which the server says, and the plugin shows.
QUIET_BAND = 6


@pytest.fixture(scope="session")
def ofx_build() -> OfxBuild:
    try:
        return build_plugin()
    except MissingToolchainError as error:
        if os.environ.get("MOVINGCOLOR_REQUIRE_OFX") == "1":
            raise
        pytest.skip(str(error))


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """The address of a server that accepts connections and never speaks (a hung process)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        yield f"127.0.0.1:{silent.getsockname()[1]}"


def generated(frames: int = 6, width: int = 64, height: int = 48, seed: int = 5):
    shot = generate_shot(width=width, height=height, frames=frames, seed=seed)
    plates = {FIRST + i: np.asarray(shot.plate[i], np.float32) for i in range(frames)}
    mattes = {FIRST + i: np.asarray(shot.matte[i], np.float32) for i in range(frames)}
    return plates, mattes


def window(target: int, radius: int, frames) -> list[int]:
    return [f for f in range(target - radius, target + radius + 1) if f in frames]


def _pick(images: dict | None, frames: list[int]) -> dict | None:
    return {f: images[f] for f in frames} if images else None


def expected_frames(server, plates, mattes, radius, graded=None, **options) -> dict[int, np.ndarray]:
    """The server's fusion of each frame's window, asked directly through the client library."""
    fused = {}
    with connect(server.address) as client:
        for target in plates:
            frames = window(target, radius, plates)
            result = client.fuse_window(
                target,
                _pick(plates, frames),
                _pick(mattes, frames),
                graded=_pick(graded, frames),
                grade=None if graded else GRADE,
                reuse=False,
                **options,
            )
            fused[target] = result.pixels()
    return fused


def assert_fused(run: HostRun, expected: dict[int, np.ndarray], plates: dict[int, np.ndarray], radius: int):
    assert run.returncode == 0, run.events[-3:]
    assert not run.of("violation"), run.of("violation")
    assert not run.of("threads_refused"), "the plugin called the multi-thread suite from its own threads"
    assert not [m for m in run.messages() if m["type"] == "OfxMessageError"], run.messages()
    renders = run.renders()
    assert sorted(renders) == sorted(expected)
    for target, fused in expected.items():
        assert renders[target]["status"] == 0
        frames = window(target, radius, plates)
        needed = next(e for e in run.of("frames_needed") if e["frame"] == target)["ranges"]
        assert needed["Source"] == [frames[0], frames[-1]]
        output = run.outputs[target]
        assert np.array_equal(output[..., :3], fused), f"frame {target} differs from the server's fusion"
        alpha = plates[target][..., 3] if plates[target].shape[2] == 4 else np.ones(fused.shape[:2])
        assert np.array_equal(output[..., 3], alpha)


def test_plugin_exports_only_the_ofx_entry_points(ofx_build):
    assert ofx_build.plugin.parts[-4:] == (
        "MovingColor.ofx.bundle",
        "Contents",
        "Linux-x86-64",
        "MovingColor.ofx",
    )
    listing = subprocess.run(
        ["nm", "-D", "--defined-only", str(ofx_build.plugin)], capture_output=True, text=True, check=True
    ).stdout
    exported = sorted(line.split()[-1] for line in listing.splitlines() if line.strip())
    assert exported == ["OfxGetNumberOfPlugins", "OfxGetPlugin"]


def test_a_host_may_unload_the_plugin_and_load_it_again(ofx_build):
    """Hosts scan a plugin, unload it and load it again to use it: protobuf aborted the second load
    (the plugin's message types registered twice in a library that stays loaded)."""
    script = (
        "import ctypes, _ctypes, sys\n"
        "first = ctypes.CDLL(sys.argv[1])\n"
        "assert first.OfxGetNumberOfPlugins() == 1\n"
        "_ctypes.dlclose(first._handle)\n"
        "print(ctypes.CDLL(sys.argv[1]).OfxGetNumberOfPlugins())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(ofx_build.plugin)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.split() == ["1"], done.stderr[-2000:]


def test_premultiplication_and_field_names_are_the_standards():
    """The strings hosts compare against, as the OpenFX headers (ofxImageEffect.h) define them: a
    premultiplied Source was never recognised in a real host under a name of our own."""
    header = (SOURCE / "include/ofx/names.h").read_text()
    names = dict(re.findall(r'^#define (kOfx\w+) "([^"]*)"', header, re.MULTILINE))
    standard = {
        "kOfxImageEffectPropPreMultiplication": "OfxImageEffectPropPreMultiplication",
        "kOfxImagePreMultiplied": "OfxImageAlphaPremultiplied",
        "kOfxImageUnPreMultiplied": "OfxImageAlphaUnPremultiplied",
        "kOfxImageFieldNone": "OfxFieldNone",
        "kOfxImageEffectPropFieldToRender": "OfxImageEffectPropFieldToRender",
    }
    assert {name: names.get(name) for name in standard} == standard


@pytest.mark.parametrize("context", ["general", "filter"])
def test_every_frame_equals_the_servers_fusion_of_its_window(ofx_build, served, tmp_path, context):
    plates, mattes = generated()
    frames = write_inputs(tmp_path / "in", plates, mattes)
    params = {"server": served.address, "bandWidth": 6, "windowRadius": 2, **GRADE_PARAMS}
    # Bounds away from the origin, rows running down through memory, slices on three host threads.
    options = ["--context", context, "--origin", "10,-5", "--cpus", "3"]
    if context == "filter":
        options.append("--negative-rowbytes")
    run = run_host(ofx_build, frames, tmp_path / "out", params, *options)
    describe = run.of("describe")[0]
    assert describe["plugin"] == "com.movingcolor.MovingColor" and describe["temporal"] == 1
    # Interlaced footage is fused a frame at a time, never a field at a time.
    assert describe["field_render_twice"] == 0
    assert set(describe["contexts"]) == {"OfxImageEffectContextFilter", "OfxImageEffectContextGeneral"}
    clips = {c["name"]: c for c in run.of("describe_in_context")[0]["clips"]}
    assert clips["Matte"]["mask"] == 1 and clips["Matte"]["optional"] == 1
    # A mask clip lists Alpha first: hosts take the first component as the one the clip prefers.
    assert clips["Matte"]["components"] == ["OfxImageComponentAlpha", "OfxImageComponentRGBA"]
    assert clips["Graded"]["optional"] == 1 and clips["Source"]["components"] == ["OfxImageComponentRGBA"]
    assert run.of("threads"), "the plugin used the host's threads"
    assert_fused(run, expected_frames(served, plates, mattes, 2, band="6"), plates, 2)


def test_frames_rendered_at_once_on_several_threads(ofx_build, served, tmp_path):
    """The plugin says it is fully thread-safe: renders of one instance at the same time share its
    connection and must each give their own window's fusion."""
    plates, mattes = generated(frames=8, seed=23)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    params = {"server": served.address, **GRADE_PARAMS}
    run = run_host(ofx_build, frames, tmp_path / "out", params, "--render-threads", "4", "--cpus", "2")
    assert_fused(run, expected_frames(served, plates, mattes, 2), plates, 2)


def test_a_busy_server_is_asked_again_until_it_takes_the_frame(ofx_build, test_model, tmp_path):
    """A server whose job table is full answers RESOURCE_EXHAUSTED: the plugin asks again, with
    waits growing to 2 s, within the Time limit, where it gave a final render the un-fused Source."""
    plates, mattes = generated(frames=6, seed=23)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    folder = short_folder()
    try:
        with ServerProcess(f"unix://{folder}/busy.sock", ["--max-jobs", "1"]) as busy:
            params = {"server": busy.address, "bandWidth": QUIET_BAND, **GRADE_PARAMS}
            run = run_host(
                ofx_build, frames, tmp_path / "out", params, "--render-threads", "3", "--cpus", "2"
            )
            expected = expected_frames(busy, plates, mattes, 2, band=str(QUIET_BAND))
            assert_fused(run, expected, plates, 2)
            assert not run.messages()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_graded_clip_source_alpha_render_scale_and_regions(ofx_build, served, tmp_path):
    """A graded clip instead of the CDL, the Source's alpha as the matte, and a half-resolution render
    whose band in pixels halves with it. The Output's region is the Source's and every input is read
    over it, in canonical coordinates (twice the pixels' at half scale): the host gives images cropped
    to the regions of interest, so a wrong region would fuse a cut-down frame. The renders come between
    begin and end sequence render."""
    plates, mattes = generated(frames=4, width=96, height=64, seed=7)
    plates = {f: np.dstack([p, mattes[f]]) for f, p in plates.items()}  # the matte in the alpha
    graded = {f: p[..., :3] * np.float32([1.2, 1.0, 0.8]) for f, p in plates.items()}
    frames = write_inputs(tmp_path / "in", plates, graded=graded)
    params = {"server": served.address, "bandWidth": 8, "windowRadius": 1, "engine": "feather"}
    run = run_host(ofx_build, frames, tmp_path / "out", params, "--scale", "0.5", "--origin", "6,-4")
    expected = expected_frames(served, plates, None, 1, graded=graded, band="4", engine="feather")
    assert_fused(run, expected, plates, 1)

    source_region = [12, -8, 12 + 2 * 96, -8 + 2 * 64]
    assert [e["region"] for e in run.of("region_of_definition")] == [source_region] * 4
    interests = run.of("regions_of_interest")
    assert len(interests) == 4 and all(e["status"] in (0, 14) for e in interests)
    assert all(e["regions"] == dict.fromkeys(("Graded", "Matte", "Source"), source_region) for e in interests)
    order = [e.get("action", e["event"]) for e in run.events if e["event"] in ("sequence_render", "render")]
    assert order == [
        "OfxImageEffectActionBeginSequenceRender",
        *["render"] * 4,
        "OfxImageEffectActionEndSequenceRender",
    ]
    assert all(e["status"] in (0, 14) for e in run.of("sequence_render"))


def test_a_real_clip_through_the_network(ofx_build, served, tmp_path, clips):
    names = sorted((clips / "bear" / "frames").iterdir())[:4]
    plates = {i: read_pixels(path) for i, path in enumerate(names)}
    mattes = {
        i: (read_pixels(clips / "bear" / "mask" / path.name)[..., 0] > 0).astype(np.float32)
        for i, path in enumerate(names)
    }
    frames = write_inputs(tmp_path / "in", plates, mattes)
    params = {"server": served.address, "engine": "movingcolor", "windowRadius": 1, **GRADE_PARAMS}
    run = run_host(ofx_build, frames, tmp_path / "out", params, "--negative-rowbytes")
    assert_fused(run, expected_frames(served, plates, mattes, 1, engine="movingcolor"), plates, 1)


def test_a_premultiplied_source_is_fused_as_straight_colours_and_premultiplied_back(
    ofx_build, served, tmp_path
):
    """A keyed or rotoed element is premultiplied by its alpha (the matte here): its colours were
    graded and fused as if straight, up to 0.1 off in the soft edge the product is for."""
    from scipy import ndimage

    plates, mattes = generated(frames=3)
    alphas = {f: np.clip(ndimage.gaussian_filter(m, 1.5), 0, 1).astype(np.float32) for f, m in mattes.items()}
    premultiplied = {f: np.dstack([plates[f] * alphas[f][..., None], alphas[f]]) for f in plates}
    # What the host's image says of each colour: where alpha is (nearly) 0, nothing (kept as it is).
    seen = {}
    for f, image in premultiplied.items():
        alpha, divided = image[..., 3:], image[..., 3:] > 1e-6
        straight = np.where(divided, image[..., :3] / np.where(divided, alpha, 1), image[..., :3])
        seen[f] = np.dstack([straight, alpha[..., 0]])
    frames = write_inputs(tmp_path / "in", premultiplied)
    params = {"server": served.address, "windowRadius": 1, "bandWidth": QUIET_BAND, **GRADE_PARAMS}
    run = run_host(ofx_build, frames, tmp_path / "out", params, "--premultiplied")
    expected = expected_frames(served, seen, None, 1, band=str(QUIET_BAND))
    assert run.returncode == 0 and not run.messages(), run.messages()
    for frame, fused in expected.items():
        alpha = alphas[frame][..., None]
        assert ((alpha > 0.05) & (alpha < 0.95)).any() and run.renders()[frame]["status"] == 0
        output = run.outputs[frame]
        assert np.array_equal(output[..., 3], alphas[frame])
        # Where alpha is (nearly) 0 the Source's own colour, as Unpremult, Grade, Premult keeps it.
        source = premultiplied[frame][..., :3]
        assert np.abs(output[..., :3] - np.where(alpha > 1e-6, fused * alpha, source)).max() < 1e-6
        # The same frame taken as straight colours is far off in the soft edge.
        assert np.abs(output[..., :3] - fused).max() > 0.01


def test_a_premultiplied_sources_clear_pixels_stay_clear_of_the_grade(ofx_build, served, tmp_path):
    """Where a premultiplied Source's alpha is 0 inside the matte, the output took the graded colour
    (a CDL offset lifts a 0) with alpha 0: a veil over whatever the element is comped on. After
    Nuke's Unpremult, Grade, Premult those pixels keep the Source's colour."""
    height, width = 48, 64
    rows, columns = np.mgrid[0:height, 0:width]
    alpha = (columns >= width // 2).astype(np.float32)  # a keyed element: clear on the left half
    disc = (((rows - height / 2) ** 2 + (columns - width / 2) ** 2) < 18**2).astype(np.float32)
    rng = np.random.default_rng(1)
    colours = {f: 0.2 + 0.3 * rng.random((height, width, 3)) for f in (FIRST, FIRST + 1, FIRST + 2)}
    plates = {f: np.dstack([rgb * alpha[..., None], alpha]).astype(np.float32) for f, rgb in colours.items()}
    frames = write_inputs(tmp_path / "in", plates, {f: disc for f in plates})
    params = {"server": served.address, "windowRadius": 1, "bandWidth": 4, "offset": "0.05,0.05,0.05"}
    run = run_host(ofx_build, frames, tmp_path / "out", params, "--premultiplied", render=[FIRST + 1])
    assert run.renders()[FIRST + 1]["status"] == 0, run.messages()
    output, plate = run.outputs[FIRST + 1], plates[FIRST + 1]
    clear, opaque = (alpha == 0) & (disc > 0.5), (alpha == 1) & (disc > 0.5)
    assert clear.sum() > 100 and np.array_equal(output[..., 3], alpha)
    assert np.array_equal(output[..., :3][clear], plate[..., :3][clear])  # 0, as the Source has it
    # The opaque part inside the matte is graded: the offset lifts it.
    assert (output[..., :3][opaque] - plate[..., :3][opaque]).mean() > 0.03


def test_a_render_between_frames_fuses_the_window_at_that_moment(ofx_build, served, tmp_path):
    """Motion blur downstream or frame blending asks for a frame between whole ones: the window was
    fetched at whole frames and the Source (the output's alpha) at the moment asked, so colour and
    alpha came from different moments and sub-frame samples collapsed to whole frames."""
    plates, mattes = generated(frames=5)
    alphas = {
        f: np.clip(0.5 + 0.1 * (f - FIRST), 0, 1) * np.ones(plates[f].shape[:2], np.float32) for f in plates
    }
    frames = write_inputs(tmp_path / "in", {f: np.dstack([plates[f], alphas[f]]) for f in plates}, mattes)
    params = {"server": served.address, "windowRadius": 1, "bandWidth": QUIET_BAND, **GRADE_PARAMS}
    run = run_host(ofx_build, frames, tmp_path / "out", params, "--time-offset", "0.25", "--blend-subframes",
                   render=[FIRST + 1])  # fmt: skip

    def at(images: dict[int, np.ndarray], frame: int) -> np.ndarray:  # as the host blends them
        before, after = images[frame].astype(np.float64), images[frame + 1].astype(np.float64)
        return (0.75 * before + 0.25 * after).astype(np.float32)

    window = [FIRST, FIRST + 1, FIRST + 2]
    with connect(served.address) as client:
        expected = client.fuse_window(
            FIRST + 1,
            {f: at(plates, f) for f in window},
            {f: at(mattes, f) for f in window},
            grade=GRADE,
            band=str(QUIET_BAND),
            reuse=False,
        ).pixels()
    assert run.returncode == 0 and not run.of("violation") and not run.messages(), run.messages()
    needed = next(e for e in run.of("frames_needed") if e["frame"] == FIRST + 1)["ranges"]
    assert needed["Source"] == needed["Matte"] == [FIRST + 0.25, FIRST + 2.25]
    assert run.renders()[FIRST + 1]["status"] == 0
    output = run.outputs[FIRST + 1]
    assert np.array_equal(output[..., :3], expected)
    assert np.array_equal(output[..., 3], at(alphas, FIRST + 1))


def test_a_neighbour_the_host_cannot_give_ends_the_window_on_its_side(ofx_build, served, tmp_path):
    """The frames sent stay consecutive: 1001, beyond the missing 1002, would have been fused as
    1003's neighbour."""
    plates, mattes = generated(frames=5, seed=17)
    given = {f: m for f, m in mattes.items() if f != 1002}  # the host has no matte at 1002
    frames = write_inputs(tmp_path / "in", plates, given)
    params = {"server": served.address, **GRADE_PARAMS}
    run = run_host(ofx_build, frames, tmp_path / "out", params, render=[1003, 1002])
    window = [1003, 1004, 1005]
    with connect(served.address) as client:
        expected = client.fuse_window(
            1003, {f: plates[f] for f in window}, {f: mattes[f] for f in window}, grade=GRADE, reuse=False
        )
    assert run.renders()[1003]["status"] == 0
    assert np.array_equal(run.outputs[1003][..., :3], expected.pixels())
    assert run.renders()[1002]["status"] == 1  # the target itself cannot be left out
    assert "the host gave no Matte image for this frame (frame 1002)" in run.messages()[-1]["text"]


def test_an_alpha_only_source_is_refused_not_fused_as_grey(ofx_build, served, tmp_path):
    """Alpha is taken for the Matte alone: a one-channel Source would reach the server as a grey plate."""
    plates, mattes = generated(frames=1)
    frames = write_inputs(tmp_path / "in", {}, mattes)
    for frame, plate in plates.items():
        write_raw(frames / f"source.{frame}.raw", plate[..., 0])
    with connect(served.address) as client:
        before = client.info()["cache"]
        run = run_host(ofx_build, frames, tmp_path / "out", {"server": served.address, **GRADE_PARAMS})
        after = client.info()["cache"]
    assert run.renders()[FIRST]["status"] == 1
    assert "Source is not RGBA" in run.messages()[-1]["text"], run.messages()
    assert run.messages()[-1]["type"] == "OfxMessageError"  # a failed render is an error
    assert after["received_bytes"] == before["received_bytes"]


def test_a_matte_at_another_size_than_the_source_is_refused_not_fused_in_a_corner(
    ofx_build, served, tmp_path
):
    """A half-resolution roto handed with its plate was packed over the Source's bounds and padded
    with zeros: the matte sat in a corner of the plate and the frame came out silently wrong
    (``movingcolor fuse`` refuses mattes of another size)."""
    plates, mattes = generated(frames=3)
    halves = {f: np.ascontiguousarray(m[::2, ::2]) for f, m in mattes.items()}
    frames = write_inputs(tmp_path / "in", plates, halves)
    params = {"server": served.address, "windowRadius": 1, "bandWidth": QUIET_BAND, **GRADE_PARAMS}
    final = run_host(ofx_build, frames, tmp_path / "final", params, render=[FIRST + 1])
    assert final.renders()[FIRST + 1]["status"] == 1
    (message,) = final.messages()
    assert message["type"] == "OfxMessageError", message
    for fragment in ("Matte image is 32x24 where the Source is 64x48", "plate's size", "not rendered"):
        assert fragment in message["text"], message["text"]

    # In a viewer the Source, with the same words as a warning.
    viewer = run_host(ofx_build, frames, tmp_path / "viewer", params, "--interactive", render=[FIRST + 1])
    assert viewer.renders()[FIRST + 1]["status"] == 0
    assert np.array_equal(viewer.outputs[FIRST + 1][..., :3], plates[FIRST + 1])
    assert viewer.messages()[-1]["type"] == "OfxMessageWarning"
    assert "32x24 where the Source is 64x48" in viewer.messages()[-1]["text"], viewer.messages()


def test_a_server_that_is_down_gives_a_viewer_the_source_and_fails_a_final_render(ofx_build, tmp_path):
    """In a viewer the frame is the un-fused Source and the render succeeds, so the message is a
    warning: an error would tell the host the node cannot proceed. A final render (a render queue,
    a farm) fails the frame instead: the Source in its place would be baked in as if fused."""
    plates, mattes = generated(frames=3)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    address = f"unix://{tmp_path}/nobody.sock"
    params = {"server": address, **GRADE_PARAMS}
    # One frame: a final render waits up to five seconds for a server to come up, for each frame.
    final = run_host(ofx_build, frames, tmp_path / "final", params, render=[FIRST])
    assert sorted(final.renders()) == [FIRST]
    assert all(r["status"] == 1 for r in final.renders().values())
    assert {m["type"] for m in final.messages()} == {"OfxMessageError"}
    assert (
        "did not answer" in final.messages()[0]["text"]
        and "the frame is not rendered" in final.messages()[0]["text"]
    )
    # The final render waited for the connection: its message gives gRPC's reason, not "Deadline
    # Exceeded", and no Time limit could have helped (nothing listens).
    assert "Deadline Exceeded" not in final.messages()[0]["text"], final.messages()[0]["text"]
    assert "connect" in final.messages()[0]["text"] and "Time limit" not in final.messages()[0]["text"]

    run = run_host(ofx_build, frames, tmp_path / "out", params, "--interactive")
    assert run.returncode == 0 and sorted(run.renders()) == sorted(plates)
    assert all(r["status"] == 0 for r in run.renders().values())
    for frame, plate in plates.items():
        assert np.array_equal(run.outputs[frame][..., :3], plate)  # the un-fused source
    messages = run.messages()
    assert len(messages) == 3 and {m["kind"] for m in messages} == {"persistent"}
    assert {m["type"] for m in messages} == {"OfxMessageWarning"}
    assert f"the server at {address} did not answer" in messages[0]["text"]
    assert "showing the un-fused Source" in messages[0]["text"] and "movingcolor serve" in messages[0]["text"]

    # A host with only version 1 of the message suite gets one message box, not one per frame.
    run = run_host(ofx_build, frames, tmp_path / "out1", params, "--message-suite", "1", "--interactive")
    assert [(m["kind"], m["type"]) for m in run.messages()] == [("message", "OfxMessageWarning")]


def test_a_final_render_finds_a_server_that_starts_while_it_waits(ofx_build, tmp_path):
    """A server started (or restarted) while a final render asks for it: its calls failed at once
    while gRPC waited to reconnect (up to two seconds between attempts), so the frame failed after
    its retries although the server was up by then. A final render waits for the connection."""
    plates, mattes = generated(frames=3)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    folder = short_folder()
    address = f"unix://{folder}/late.sock"
    server = ServerProcess(address, ["--no-warm-up"])
    starter = threading.Timer(2.5, server.start)
    starter.start()
    try:
        params = {"server": address, "bandWidth": QUIET_BAND, **GRADE_PARAMS}
        run = run_host(ofx_build, frames, tmp_path / "out", params, render=[FIRST + 1])
    finally:
        starter.join()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert run.renders()[FIRST + 1]["status"] == 0, run.messages()
    assert not run.messages()


def test_a_viewer_past_a_server_found_down_shows_the_source_without_waiting_again(ofx_build, tmp_path):
    """Each frame of a scrub past a stopped server waited through the retries (about 1.8 s, on
    every render thread): once it is found down, the next frames ask once and show the Source."""
    plates, mattes = generated(frames=3)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    params = {"server": f"unix://{tmp_path}/nobody.sock", **GRADE_PARAMS}
    run = run_host(
        ofx_build, frames, tmp_path / "out", params, "--interactive", render=[FIRST, FIRST + 1, FIRST + 2]
    )
    renders = run.renders()
    assert all(r["status"] == 0 for r in renders.values())
    assert renders[FIRST]["seconds"] > 1.0  # the retries a restarting server is given
    assert renders[FIRST + 1]["seconds"] < 0.5 and renders[FIRST + 2]["seconds"] < 0.5, renders


def test_frames_a_viewer_showed_un_fused_keep_the_warning_until_each_is_fused(ofx_build, tmp_path):
    """The warning went at the first frame that fused once the server was back, while the host's
    cache still held the frames shown un-fused (the Source, looking like a render), which a
    delivery from cached renders bakes in. It stays, naming them, until each is rendered fused."""
    plates, mattes = generated(frames=3)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    folder = short_folder()
    address = f"unix://{folder}/mc.sock"
    server = ServerProcess(address, ["--no-warm-up"])
    resume = tmp_path / "resume"

    def start_the_server_at_the_pause():
        paused = Path(f"{resume}.paused")
        while not paused.exists():
            time.sleep(0.02)
        server.start()
        # gRPC's reconnection finds it within about three seconds here (unix socket, gRPC 1.51).
        time.sleep(5.0)
        resume.touch()

    starter = threading.Thread(target=start_the_server_at_the_pause, daemon=True)
    starter.start()
    # Down: 1001-1003 shown un-fused. Up: 1001 (three times, should the first still find it down),
    # 1002; then 1003, the last frame shown un-fused, 1002 and 1001 again.
    renders = [FIRST, FIRST + 1, FIRST + 2, FIRST, FIRST, FIRST, FIRST + 1, FIRST + 2, FIRST + 1, FIRST]
    params = {"server": address, "bandWidth": QUIET_BAND, **GRADE_PARAMS}
    try:
        run = run_host(
            ofx_build,
            frames,
            tmp_path / "out",
            params,
            "--interactive",
            "--pause-before",
            f"3:{resume}",
            render=renders,
        )
    finally:
        starter.join(timeout=150)
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert run.returncode == 0 and all(r["status"] == 0 for r in run.of("render")), run.events[-3:]
    # The message the host shows after each render, in order.
    shown, after = None, []
    for event in run.events:
        if event["event"] == "message":
            shown = None if event["kind"] == "cleared" else event
        elif event["event"] == "render":
            after.append(shown)
    assert all(m and m["type"] == "OfxMessageWarning" for m in after[:3]), after[:3]
    assert "stay in the host's cache" in after[2]["text"] and "touch a parameter" in after[2]["text"]
    # Back up, 1001 and 1002 fused: 1003 is still the Source in the host's cache.
    assert all(m is not None for m in after[3:7]), after[3:7]
    assert "frame 1003 was shown un-fused" in after[6]["text"], after[6]["text"]
    assert "render it again" in after[6]["text"]
    # 1003 fused: nothing is left to render again.
    assert after[7:] == [None, None, None], after[7:]
    assert all(not np.array_equal(run.outputs[f][..., :3], plates[f]) for f in plates)


def test_a_host_that_does_not_say_whether_a_render_is_interactive_gets_a_failed_frame(ofx_build, tmp_path):
    """Where the render arguments lack kOfxImageEffectPropInteractiveRenderStatus, a failure fails
    the frame: the un-fused Source would otherwise be baked into a delivery as if fused."""
    plates, mattes = generated(frames=2)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    params = {"server": f"unix://{tmp_path}/nobody.sock", **GRADE_PARAMS}
    run = run_host(ofx_build, frames, tmp_path / "out", params, "--no-interactive-status")
    assert all(r["status"] == 1 for r in run.renders().values()), run.renders()
    assert {m["type"] for m in run.messages()} == {"OfxMessageError"}
    assert "the frame is not rendered" in run.messages()[0]["text"]


def test_a_version_1_host_gets_one_message_box_for_a_server_too_slow_on_every_frame(
    ofx_build, served, tmp_path
):
    """The time-out message names its frame; a host with only message boxes must still not get a
    box for each frame of a scrub past a server that is too slow."""
    # Windows no other test sent, at a size no server answers within the 0.1 s limit: at 960x540 one
    # window came back in time on a quiet machine, and the time-out after that success rightly
    # showed a second box.
    plates, mattes = generated(frames=3, width=1920, height=1080, seed=31)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    params = {"server": served.address, "timeLimit": 0.1, "windowRadius": 1, **GRADE_PARAMS}
    run = run_host(ofx_build, frames, tmp_path / "out", params, "--message-suite", "1", "--interactive")
    assert all(r["status"] == 0 for r in run.renders().values())
    boxes = run.messages()
    assert [(m["kind"], m["type"]) for m in boxes] == [("message", "OfxMessageWarning")], boxes
    assert "was still fusing frame" in boxes[0]["text"]


def test_an_instance_destroyed_while_it_renders_stops_its_call_and_sends_no_message(ofx_build, tmp_path):
    """A host may destroy an instance (a node deleted, a project closed) while a render of it runs:
    the render stops its call at once, and nothing of the instance is used after it is gone (its
    messages went to the dead handle, through freed memory, once the call ended)."""
    plates, mattes = generated(frames=1)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    with silent_server() as address:
        params = {"server": address, "timeLimit": 4.0, **GRADE_PARAMS}
        run = run_host(ofx_build, frames, tmp_path / "out", params, "--interactive", "--destroy-after", "0.5")
    assert run.returncode == 0, run.stderr
    assert run.of("destroyed") and not run.of("violation"), run.of("violation")
    (render,) = run.renders().values()
    assert render["seconds"] < 2.0, render  # not the 4 s of the Time limit
    assert not run.messages()


def test_a_host_in_a_locale_with_decimal_commas_fuses_as_in_any_other(ofx_build, served, tmp_path):
    """Qt hosts set the process's locale: in German a band of 5.5 and a slope of 1.3 were written
    "5,500000" and "1,3", and every frame was refused."""
    localedef = shutil.which("localedef")
    if localedef is None or not Path("/usr/share/i18n/locales/de_DE").is_file():
        message = "making a German locale needs localedef and the locales package (apt-get install locales)"
        if os.environ.get("MOVINGCOLOR_REQUIRE_OFX") == "1":
            pytest.fail(message)
        pytest.skip(message)
    locales = tmp_path / "locales"
    locales.mkdir()
    subprocess.run([localedef, "-i", "de_DE", "-f", "UTF-8", str(locales / "de_DE.UTF-8")], check=True)
    plates, mattes = generated(frames=3)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    params = {"server": served.address, "bandWidth": 5.5, "windowRadius": 1, **GRADE_PARAMS}
    german = run_host(
        ofx_build, frames, tmp_path / "de", params, "--locale", "de_DE.UTF-8", env={"LOCPATH": str(locales)}
    )
    assert german.of("locale"), german.stderr
    assert not german.messages(), german.messages()
    assert_fused(german, expected_frames(served, plates, mattes, 1, band="5.5"), plates, 1)


def test_a_silent_server_is_given_up_at_the_time_limit(ofx_build, tmp_path):
    plates, mattes = generated(frames=2)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    with silent_server() as address:  # accepts connections, never speaks
        params = {"server": address, "timeLimit": 1.0, **GRADE_PARAMS}
        run = run_host(ofx_build, frames, tmp_path / "out", params, "--interactive")
    renders = run.renders()
    assert run.returncode == 0 and sorted(renders) == sorted(plates)
    assert all(r["status"] == 0 for r in renders.values())
    # Given up at the limit: neither earlier (a connection attempt cut short) nor much later; the
    # frames after it, the server found down, at once.
    first, *later = (renders[frame]["seconds"] for frame in sorted(renders))
    assert 0.9 <= first < 1.4 and max(later) < 0.5, renders
    assert all(np.array_equal(run.outputs[f][..., :3], plates[f]) for f in plates)
    assert "did not answer" in run.messages()[0]["text"]
    assert "raise the Time limit" in run.messages()[0]["text"]  # it is under FindImages' own 5 s


def test_a_viewer_scrubbing_past_a_server_that_never_answers_waits_on_its_first_frame_only(
    ofx_build, tmp_path
):
    """A server that accepts connections and never speaks (a hung process, a firewall dropping
    packets): each frame of a scrub waited FindImages' five seconds at the default Time limit,
    where a stopped server's frames show the Source at once."""
    plates, mattes = generated(frames=4)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    with silent_server() as address:
        params = {"server": address, **GRADE_PARAMS}
        run = run_host(ofx_build, frames, tmp_path / "out", params, "--interactive")
    seconds = [run.renders()[frame]["seconds"] for frame in sorted(plates)]
    assert run.returncode == 0 and all(r["status"] == 0 for r in run.renders().values())
    assert 4.5 <= seconds[0] < 6.0 and max(seconds[1:]) < 1.0, seconds
    assert all(np.array_equal(run.outputs[f][..., :3], plates[f]) for f in plates)


def test_a_final_render_ends_at_its_time_limit_though_the_server_never_answers(ofx_build, tmp_path):
    """Once the wait was spent, the plugin asked why for a second more, past the Time limit."""
    plates, mattes = generated(frames=1)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    with silent_server() as address:
        params = {"server": address, "timeLimit": 1.0, **GRADE_PARAMS}
        run = run_host(ofx_build, frames, tmp_path / "out", params)
    (render,) = run.renders().values()
    assert render["status"] != 0 and 0.9 <= render["seconds"] < 1.4, render
    assert "did not answer" in run.messages()[0]["text"]


def test_a_server_slower_than_the_time_limit_is_not_called_absent(ofx_build, served, tmp_path):
    """A running server that answers but is still fusing when the Time limit runs out was reported
    as not answering, with "start it" first: the fix is the Time limit."""
    plates, mattes = generated(frames=3, width=960, height=540)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    with connect(served.address) as client:
        client.info()  # the server is up and answering
    params = {"server": served.address, "timeLimit": 0.1, "windowRadius": 1, **GRADE_PARAMS}
    run = run_host(ofx_build, frames, tmp_path / "out", params, "--interactive", render=[FIRST + 1])
    assert run.renders()[FIRST + 1]["status"] == 0  # the Source shown, with a warning
    text = run.messages()[0]["text"]
    assert f"the server at {served.address} was still fusing frame {FIRST + 1}" in text, text
    assert "when the Time limit (0.1 s) ran out" in text and "Raise the Time limit" in text
    assert "did not answer" not in text and "Start it" not in text


def test_a_server_with_a_smaller_message_limit_gets_its_own_parts(ofx_build, tmp_path):
    """serve --max-message-mb 1: the plugin's 2 MiB parts were refused, and every frame over 1 MiB
    failed; it now asks the server's part size once refused, and sends the window again in it."""
    plates, mattes = generated(frames=3, width=640, height=360)  # 3.7 MB of RGBA float a frame
    frames = write_inputs(tmp_path / "in", plates, mattes)
    folder = short_folder()
    try:
        with ServerProcess(f"unix://{folder}/mc.sock", ["--max-message-mb", "1"]) as server:
            params = {"server": server.address, "windowRadius": 1, **GRADE_PARAMS}
            run = run_host(ofx_build, frames, tmp_path / "out", params, render=[FIRST + 1])
            assert run.returncode == 0 and not run.messages(), run.messages()
            expected = expected_frames(
                server, {f: plates[f] for f in window(FIRST + 1, 1, plates)}, mattes, 1
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert run.renders()[FIRST + 1]["status"] == 0
    assert np.array_equal(run.outputs[FIRST + 1][..., :3], expected[FIRST + 1])


def test_a_render_aborted_while_the_server_works_stops_at_once(ofx_build, tmp_path):
    """The host's abort is seen while the plugin waits for the server, not only between messages."""
    plates, mattes = generated(frames=1)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    with silent_server() as address:  # accepts connections, never speaks: the answer never comes
        params = {"server": address, "timeLimit": 60.0, **GRADE_PARAMS}
        run = run_host(ofx_build, frames, tmp_path / "out", params, "--abort-after", "0.5")
    render = run.renders()[FIRST]
    assert render["status"] == 1 and render["seconds"] < 2.5, render
    assert not run.messages()


def test_a_render_aborted_while_the_server_gives_its_part_size_stops_at_once(ofx_build, tmp_path):
    """A server that refuses the plugin's parts as too large is asked its own part size (GetInfo,
    up to 5 s): the host's abort is seen while that answer is awaited too."""
    import threading
    from concurrent import futures

    import grpc
    from movingcolor.v1 import fusion_pb2, fusion_pb2_grpc

    released = threading.Event()
    asked = threading.Event()

    class SmallPartsSlowInfo(fusion_pb2_grpc.FusionServicer):
        def FindImages(self, request, context):
            return fusion_pb2.FindImagesResponse()

        def FuseWindow(self, request_iterator, context):
            next(request_iterator)
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED, "Received message larger than max (2097207 vs. 1048576)"
            )

        def GetInfo(self, request, context):
            asked.set()
            released.wait(30)
            return fusion_pb2.Info()

    plates, mattes = generated(frames=1)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    fusion_pb2_grpc.add_FusionServicer_to_server(SmallPartsSlowInfo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        params = {"server": f"127.0.0.1:{port}", "timeLimit": 60.0, **GRADE_PARAMS}
        run = run_host(ofx_build, frames, tmp_path / "out", params, "--abort-after", "1.0")
    finally:
        released.set()
        server.stop(None)
    render = run.renders()[FIRST]
    assert asked.is_set() and render["status"] == 1 and render["seconds"] < 3.0, render
    assert not run.messages()


def test_a_request_the_server_refuses_is_named_and_passed_through(ofx_build, served, tmp_path):
    plates, mattes = generated(frames=2)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    params = {"server": served.address, "colorspace": "NoSuchSpace", **GRADE_PARAMS}
    run = run_host(ofx_build, frames, tmp_path / "out", params, "--interactive", render=[FIRST])
    assert run.renders()[FIRST]["status"] == 0
    assert np.array_equal(run.outputs[FIRST][..., :3], plates[FIRST])
    text = run.messages()[0]["text"]
    assert "could not fuse frame 1001" in text and "NoSuchSpace" in text, text
    assert run.messages()[0]["type"] == "OfxMessageWarning"  # the Source is shown: the host may go on


def test_a_render_the_host_aborts_stops_without_a_message(ofx_build, served, tmp_path):
    plates, mattes = generated(frames=3, seed=13)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    with connect(served.address) as client:
        before = client.info()["cache"]
        params = {"server": served.address, **GRADE_PARAMS}
        run = run_host(ofx_build, frames, tmp_path / "out", params, "--abort")
        after = client.info()["cache"]
    assert run.returncode == 0 and sorted(run.renders()) == sorted(plates)
    assert all(r["status"] == 1 for r in run.renders().values())
    assert not run.messages() and after["received_bytes"] == before["received_bytes"]
    # Stopped before any neighbour is fetched: a wide window at 4K takes seconds to fetch and pack.
    middle = run_host(ofx_build, frames, tmp_path / "middle", params, "--abort", render=[FIRST + 1])
    fetched = {e["frame"] for e in middle.of("fetch") if e["clip"] == "Source"}
    assert fetched == {FIRST + 1}, fetched


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("slope", "-1,1,1", "CDL slope"),
        ("slope", "150,1,1", "each slope must be from 0 to 100"),
        ("offset", "0,11,0", "CDL offset"),
        ("power", "1,0,1", "CDL power"),
        ("saturation", "-0.5", "CDL saturation"),
        ("bandWidth", "0", "Band width 0 is not allowed"),
        ("windowRadius", "40", "Window radius 40 is not allowed"),
        ("server", "", "Server is empty"),
        ("server", "my host:50051", "contains spaces"),
        ("server", "127.0.0.1", "is neither host:port nor unix:///path"),
        ("server", "http://127.0.0.1:50051", "is neither host:port nor unix:///path"),
        ("server", "localhost:99999", "port 99999 is not a port (1 to 65535)"),
        ("server", "/tmp/mc.sock", "is a path: write unix:///tmp/mc.sock"),
        ("server", "unix://", "names no socket file"),
        ("engine", "7", "Engine: unknown choice"),
        ("timeLimit", "0", "Time limit 0 s is not allowed"),
    ],
)
def test_bad_parameter_values_are_refused(ofx_build, served, tmp_path, name, value, fragment):
    plates, mattes = generated(frames=2)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    with connect(served.address) as client:
        before = client.info()["cache"]
        params = {"server": served.address, name: value}
        run = run_host(ofx_build, frames, tmp_path / "out", params, render=[FIRST])
        after = client.info()["cache"]
    changed = run.of("instance_changed")[-1]
    assert changed["param"] == name and changed["status"] == 0
    messages = run.messages()
    assert messages and all(m["type"] == "OfxMessageError" for m in messages)
    assert fragment in messages[0]["text"], messages[0]["text"]  # named when typed ...
    assert run.renders()[FIRST]["status"] == 1  # ... and the render refused,
    assert np.isnan(run.outputs[FIRST]).all()  # writing nothing
    assert after["received_bytes"] == before["received_bytes"]  # and sending nothing


def test_band_percentages_over_100_are_refused(ofx_build, served, tmp_path):
    plates, mattes = generated(frames=1)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    params = {"server": served.address, "bandUnit": "percent of object", "bandWidth": 150}
    run = run_host(ofx_build, frames, tmp_path / "out", params)
    assert "150% is not allowed" in run.messages()[-1]["text"] and run.renders()[FIRST]["status"] == 1


def test_cdl_parameters_are_numbers_per_channel_not_colours(ofx_build, served, tmp_path):
    """Slope, offset and power are 3-D doubles: a colour parameter gets a picker that clamps to 0..1,
    where a slope of 1.3 or an offset of -0.02 is an ordinary grade. Their limits are the server's."""
    plates, mattes = generated(frames=1)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    run = run_host(ofx_build, frames, tmp_path / "out", {"server": served.address, **GRADE_PARAMS})
    params = {p["name"]: p for p in run.of("describe_in_context")[0]["params"]}
    for name, default in (("slope", 1.0), ("offset", 0.0), ("power", 1.0)):
        param = params[name]
        assert param["type"] == "OfxParamTypeDouble3D" and param["default"] == [default] * 3, param
        assert param["display_min"][0] < default < param["display_max"][0], param
        assert param["max"] == [CDL_RANGES[name][1]] * 3, param
    assert params["slope"]["display_max"] == [4.0] * 3 and params["offset"]["display_min"] == [-0.2] * 3
    assert params["offset"]["min"] == [CDL_RANGES["offset"][0]] * 3
    assert params["saturation"]["type"] == "OfxParamTypeDouble" and params["saturation"]["default"] == [1.0]
    assert params["saturation"]["max"] == [CDL_RANGES["sat"][1]]
    assert_fused(run, expected_frames(served, plates, mattes, 2), plates, 2)


def test_animated_parameters_render_with_their_value_at_each_frame(ofx_build, served, tmp_path):
    """Keyframed band width and slope: each frame renders with the values at its own time. The host
    answers paramGetValue with the value where its timeline sits (the first frame) and records that
    call inside a render action as a violation."""
    plates, mattes = generated(frames=5, seed=41)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    # Linear between the keys; these numbers stay exact in binary at every frame.
    keys = {"bandWidth": {1001: 2, 1005: 10}, "slope": {1001: "1.5,1,0.75", 1005: "0.5,1,1.25"}}
    params = {"server": served.address, "windowRadius": 1, **GRADE_PARAMS}
    del params["slope"]
    run = run_host(ofx_build, frames, tmp_path / "out", params, keys=keys)

    def fused_with_values_at(client, target: int, frame: int) -> np.ndarray:
        step = frame - FIRST
        slope = (1.5 - 0.25 * step, 1.0, 0.75 + 0.125 * step)
        near = window(target, 1, plates)
        return client.fuse_window(
            target,
            _pick(plates, near),
            _pick(mattes, near),
            grade=cdl(slope=slope),
            band=f"{2 + 2 * step:g}",
            reuse=False,
        ).pixels()

    with connect(served.address) as client:
        expected = {frame: fused_with_values_at(client, frame, frame) for frame in plates}
        first_values = fused_with_values_at(client, 1005, FIRST)
    assert not np.array_equal(first_values, expected[1005]), "the keys must change the picture"
    assert_fused(run, expected, plates, 1)


def test_an_rgba_matte_is_given_as_its_alpha(ofx_build, served, tmp_path):
    """The Matte asks for Alpha in its clip preferences (an optional clip may be remapped in any
    context): a host holding an RGBA matte hands its alpha, which is the matte."""
    plates, mattes = generated(frames=3, seed=43)
    rgba = {f: np.dstack([1 - m, m * 0.5, np.full_like(m, 0.25), m]) for f, m in mattes.items()}
    frames = write_inputs(tmp_path / "in", plates, rgba)
    params = {"server": served.address, "windowRadius": 1, **GRADE_PARAMS}
    run = run_host(ofx_build, frames, tmp_path / "out", params, "--context", "filter")
    [preferences] = run.of("clip_preferences")
    assert preferences["components"] == {
        "Matte": "OfxImageComponentAlpha",
        "Output": "OfxImageComponentRGBA",
        "Source": "OfxImageComponentRGBA",
    }
    assert {e["components"] for e in run.of("fetch") if e["clip"] == "Matte"} == {"OfxImageComponentAlpha"}
    assert_fused(run, expected_frames(served, plates, mattes, 1), plates, 1)


def test_a_cdl_that_changes_nothing_passes_the_source_through(ofx_build, served, tmp_path):
    """With the default CDL (slope 1, offset 0, power 1, saturation 1) and no Graded clip the graded
    plate is the plate, so any blend of the two is the plate: the effect says it is an identity, the
    host shows the Source, and the server is not asked. Keyed, only the frames whose grade changes
    nothing are identities. A Graded clip is never taken as unchanged."""
    plates, mattes = generated(frames=3, seed=47)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    with connect(served.address) as client:
        before = client.info()["cache"]
        run = run_host(ofx_build, frames, tmp_path / "out", {"server": served.address})
        after = client.info()["cache"]
    assert not run.renders() and sorted(run.identities()) == sorted(plates)
    assert all(e["clip"] == "Source" and e["time"] == e["frame"] for e in run.identities().values())
    for frame, plate in plates.items():
        assert np.array_equal(run.outputs[frame][..., :3], plate) and (run.outputs[frame][..., 3] == 1).all()
    assert not run.of("fetch") and not run.messages() and not run.of("violation")
    assert after["received_bytes"] == before["received_bytes"]

    keys = {"saturation": {1002: 1, 1003: 1.5}}
    run = run_host(ofx_build, frames, tmp_path / "keyed", {"server": served.address}, keys=keys)
    assert sorted(run.identities()) == [1001, 1002] and sorted(run.renders()) == [1003]
    with connect(served.address) as client:
        near = window(1003, 2, plates)
        grade = cdl(slope=(1, 1, 1), offset=(0, 0, 0), power=(1, 1, 1), sat=1.5)
        fused = client.fuse_window(
            1003, _pick(plates, near), _pick(mattes, near), grade=grade, band="12", reuse=False
        )
    assert np.array_equal(run.outputs[1003][..., :3], fused.pixels())

    graded = {f: p * np.float32([1.1, 1.0, 0.9]) for f, p in plates.items()}
    frames = write_inputs(tmp_path / "graded", plates, mattes, graded)
    params = {"server": served.address, "bandWidth": QUIET_BAND}
    run = run_host(ofx_build, frames, tmp_path / "out-graded", params)
    assert not run.identities() and sorted(run.renders()) == sorted(plates)
    assert all(r["status"] == 0 for r in run.renders().values()) and not run.messages()


def test_renders_on_the_thread_suites_own_threads_split_no_further(ofx_build, served, tmp_path):
    """A host whose render threads are its multi-thread suite's own refuses a nested multiThread call
    (kOfxStatErrExists, as real hosts do): the plugin sees it is on such a thread and works there."""
    plates, mattes = generated(frames=4, seed=53)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    params = {"server": served.address, **GRADE_PARAMS}
    options = ["--render-threads", "2", "--render-on-suite-threads", "--cpus", "4"]
    run = run_host(ofx_build, frames, tmp_path / "out", params, *options)
    assert_fused(run, expected_frames(served, plates, mattes, 2), plates, 2)


def test_a_frame_rendered_again_sends_no_image(ofx_build, test_model, tmp_path):
    """Scrubbing: images stay on the server by content, so going back to a frame sends nothing,
    and stepping one frame on sends only the frame entering the window (measured on a fresh server)."""
    folder = short_folder()
    with ServerProcess(f"unix://{folder}/mc.sock") as server:
        scrub_through(ofx_build, server, tmp_path)
    shutil.rmtree(folder, ignore_errors=True)


def test_images_evicted_under_the_plugin_are_sent_again(ofx_build, test_model, tmp_path):
    """A server whose image cache holds less than a window evicts images the plugin was told it held
    while the window arrives: the plugin sends the window again in full, and the frame still fuses."""
    plates, mattes = generated(seed=19)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    folder = short_folder()
    with ServerProcess(f"unix://{folder}/mc.sock", ["--cache-mb", "0.15"]) as server:
        params = {"server": server.address, "bandWidth": QUIET_BAND, **GRADE_PARAMS}
        run = run_host(ofx_build, frames, tmp_path / "out", params, render=[1003, 1004])
        expected = expected_frames(server, plates, mattes, 2, band=str(QUIET_BAND))
        with connect(server.address) as client:
            stats = client.info()["cache"]
    shutil.rmtree(folder, ignore_errors=True)
    assert int(stats["evicted_references"]) >= 1, stats
    assert not run.messages(), run.messages()
    for frame in (1003, 1004):
        assert np.array_equal(run.outputs[frame][..., :3], expected[frame]), frame


def scrub_through(ofx_build: OfxBuild, served: ServerProcess, tmp_path) -> None:
    plates, mattes = generated(seed=11)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    params = {"server": served.address, **GRADE_PARAMS}
    log = {"MOVINGCOLOR_OFX_LOG": "1"}
    image_bytes = 64 * 48 * 4 * 4  # an RGB plate and its matte, float32
    with connect(served.address) as client:
        start = client.info()["cache"]
        first = run_host(ofx_build, frames, tmp_path / "a", params, render=[1003], env=log)
        sent = client.info()["cache"]
        # A new host session: next frame, back, and back again.
        scrub = run_host(ofx_build, frames, tmp_path / "b", params, render=[1004, 1003, 1003], env=log)
        end = client.info()["cache"]
    assert int(sent["received_bytes"]) - int(start["received_bytes"]) == 5 * image_bytes
    assert int(end["received_bytes"]) - int(sent["received_bytes"]) == image_bytes  # frame 1006 only
    assert int(end["result_hits"]) - int(sent["result_hits"]) == 2
    lines = [line for line in scrub.stderr.splitlines() if "fused in" in line]
    assert "2 images sent (" + str(image_bytes) + " bytes), 8 reused" in lines[0]
    assert "0 images sent (0 bytes), 10 reused" in lines[1] and "0 images sent (0 bytes)" in lines[2]
    assert np.array_equal(scrub.outputs[1003], first.outputs[1003])


@pytest.fixture(scope="module")
def served_with_extra_engine():
    """A server with one engine beyond the built-in ones (installed through the engines' entry point)."""
    folder = short_folder()
    dist = folder / "mc_extra_engine-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mc-extra-engine\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[movingcolor.engines]\nplain = movingcolor.engines.hard:ENGINE\n")
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)
    with ServerProcess(f"unix://{folder}/mc.sock", env={"PYTHONPATH": path}) as server:
        with connect(server.address) as client:
            client.info()  # the first answer loads the server's device libraries: not the plugin's wait
        yield server
    shutil.rmtree(folder, ignore_errors=True)


def test_engine_choice_lists_the_servers_engines(ofx_build, served_with_extra_engine, tmp_path):
    """Described with $MOVINGCOLOR_SERVER answering, the engine choice offers that server's engines,
    the built-in ones first; its Server parameter starts at that address."""
    server = served_with_extra_engine
    plates, mattes = generated(frames=3, seed=31)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    params = {"engine": "plain", "windowRadius": 1, **GRADE_PARAMS}
    run = run_host(ofx_build, frames, tmp_path / "out", params, env={"MOVINGCOLOR_SERVER": server.address})
    assert "No server answered" not in run.stderr
    assert_fused(run, expected_frames(server, plates, mattes, 1, engine="plain"), plates, 1)


def test_engine_choice_without_a_server_is_the_built_in_list(ofx_build, served, tmp_path):
    plates, mattes = generated(frames=2, seed=37)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    nowhere = f"unix://{short_folder()}/nothing.sock"
    params = {"server": served.address, "engine": "hard", "windowRadius": 1, **GRADE_PARAMS}
    run = run_host(ofx_build, frames, tmp_path / "out", params, env={"MOVINGCOLOR_SERVER": nowhere})
    assert f"No server answered at {nowhere} when the plugin loaded" in run.stderr
    assert "the built-in engines are listed" in run.stderr
    assert_fused(run, expected_frames(served, plates, mattes, 1, engine="hard"), plates, 1)


def test_a_node_saved_with_an_engine_keeps_it_whatever_position_the_choice_gives_it(
    ofx_build, served, served_with_extra_engine, tmp_path
):
    """A host saves a choice by its position, and a server's extra engines follow the built-in four:
    a node saved with `plain` (fifth, beside one server) reopened beside another server read its
    position alone. The plugin keeps the engine's name too: the name decides, and a name the choice
    no longer offers is refused, never replaced by whatever now sits in that place."""
    plates, mattes = generated(frames=2, seed=41)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    # As saved beside the server with `plain`, reopened with no server to list engines: the fifth
    # place does not exist, and the name says which engine it was.
    nowhere = f"unix://{short_folder()}/nothing.sock"
    saved = {
        "server": served.address,
        "engine": "4",
        "engineName": "plain",
        "windowRadius": 1,
        **GRADE_PARAMS,
    }
    run = run_host(
        ofx_build, frames, tmp_path / "a", saved, render=[FIRST], env={"MOVINGCOLOR_SERVER": nowhere}
    )
    text = run.messages()[-1]["text"]
    assert "saved with the engine 'plain', which the engine choice does not offer now" in text, text
    assert run.renders()[FIRST]["status"] == 1 and np.isnan(run.outputs[FIRST]).all()
    # Beside the server that has it, the name wins over a position that now names another engine.
    server = served_with_extra_engine
    moved = {"engine": "guided", "engineName": "plain", "windowRadius": 1, **GRADE_PARAMS}
    run = run_host(ofx_build, frames, tmp_path / "b", moved, env={"MOVINGCOLOR_SERVER": server.address})
    assert_fused(run, expected_frames(server, plates, mattes, 1, engine="plain"), plates, 1)


def test_a_server_whose_gpu_ran_out_of_memory_is_not_asked_again_until_the_time_limit(
    ofx_build, tmp_path, monkeypatch
):
    """Every RESOURCE_EXHAUSTED was a full job table to the plugin, asked again until the Time
    limit: a GPU out of memory (reason DEVICE_MEMORY) ran the engine on the GPU again and again."""
    torch = pytest.importorskip("torch")
    from movingcolor.engines.guided import GuidedEngine
    from movingcolor.service.server import create_server

    def out_of_memory(self, frames):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(GuidedEngine, "fuse", out_of_memory)
    plates, mattes = generated(frames=3)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    folder = short_folder()
    server, _ = create_server(f"unix://{folder}/mc.sock")
    server.start()
    try:
        params = {"server": f"unix://{folder}/mc.sock", "timeLimit": 20.0, "windowRadius": 1, **GRADE_PARAMS}
        run = run_host(ofx_build, frames, tmp_path / "out", params, render=[FIRST + 1])
    finally:
        server.stop(0).wait()
        shutil.rmtree(folder, ignore_errors=True)
    render = run.renders()[FIRST + 1]
    assert render["status"] != 0 and render["seconds"] < 5.0, render
    assert "the GPU ran out of memory" in run.messages()[0]["text"]


def test_a_window_too_large_to_hold_is_refused_naming_the_radius_that_fits(ofx_build, served, tmp_path):
    """Every frame of the window is packed (planar float) and held for the whole call: at 4K a radius
    of 31 held about 14 GB on each of the host's render threads."""
    plate = np.full((1152, 2048, 3), 0.3, np.float32)
    matte = np.zeros((1152, 2048), np.float32)
    matte[300:800, 600:1400] = 1.0
    frames = write_inputs(tmp_path / "in", {FIRST: plate}, {FIRST: matte})
    params = {"server": served.address, "engine": "hard", "bandWidth": 4, **GRADE_PARAMS}
    with connect(served.address) as client:
        before = client.info()["cache"]
        run = run_host(ofx_build, frames, tmp_path / "out", {**params, "windowRadius": 31})
        after = client.info()["cache"]
    assert run.renders()[FIRST]["status"] == 1
    (message,) = run.messages()
    assert message["type"] == "OfxMessageError"
    # 63 frames of 2048x1152 plate and matte (36 MiB each) are over 2 GiB; 55 frames fit.
    for fragment in ("Window radius of 31", "63 frames of 2048x1152", "2.00 GiB", "set Window radius to 27"):
        assert fragment in message["text"], message["text"]
    assert after["received_bytes"] == before["received_bytes"]  # nothing was sent

    fits = run_host(ofx_build, frames, tmp_path / "fits", {**params, "windowRadius": 27})
    assert fits.renders()[FIRST]["status"] == 0, fits.messages()


def test_what_the_server_warned_of_fusing_a_frame_is_shown_until_a_frame_fuses_without(
    ofx_build, served, tmp_path
):
    """The server answers each window with what fusing it warned of (a band too wide for the frame,
    a matte that misses the object by more than the band): the plugin dropped it, and the user saw
    a washed-out or seamed frame with nothing said."""
    plates, mattes = generated(frames=3)
    frames = write_inputs(tmp_path / "in", plates, mattes)
    with connect(served.address) as client:
        warned = client.fuse_window(FIRST + 1, plates, mattes, grade=GRADE, band="12").warnings
    assert warned and "band width 12px" in warned[0]  # 24 px across a 48 px high frame
    # A 12 px band at 1002, a 4 px one at 1003.
    keys = {"bandWidth": {FIRST + 1: 12, FIRST + 2: 4}}
    params = {"server": served.address, "windowRadius": 1, **GRADE_PARAMS}
    run = run_host(
        ofx_build, frames, tmp_path / "out", params, "--interactive", render=[FIRST + 1, FIRST + 2], keys=keys
    )
    assert all(r["status"] == 0 for r in run.renders().values())
    events = [e for e in run.events if e["event"] in ("message", "render")]
    kinds = [(e["event"], e.get("frame"), e.get("kind")) for e in events]
    assert kinds == [
        ("message", None, "persistent"),
        ("render", FIRST + 1, None),
        ("message", None, "cleared"),
        ("render", FIRST + 2, None),
    ], kinds
    assert events[0]["type"] == "OfxMessageWarning"
    assert events[0]["text"] == "MovingColor: " + "; ".join(warned), events[0]["text"]
