"""FuseWindow's caches against a real server: a window rendered again resends no image and runs no
engine; references to images the server evicted are refused and the client resends them."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
from conftest import short_folder
from movingcolor.lru_cache import LruCache
from movingcolor.protocol.digest import image_sha256
from movingcolor.protocol.images import raw_image, split
from movingcolor.service.process import ServerProcess
from movingcolor.synthetic import generate_shot
from movingcolor.v1 import fusion_pb2
from movingcolor.v1 import image_pb2 as pb
from movingcolor_client import ClientError, connect, shot_setup
from test_service import GRADE

TARGET = 1003


@pytest.fixture(scope="module")
def window() -> tuple[dict, dict]:
    shot = generate_shot(width=64, height=48, frames=5, seed=5)
    plates = {1001 + i: shot.plate[i] for i in range(5)}
    mattes = {1001 + i: shot.matte[i] for i in range(5)}
    return plates, mattes


@pytest.fixture(scope="module")
def small_cache_server(test_model):
    """Room for about four of the window's ten images, so a window evicts its own first images."""
    folder = short_folder()
    with ServerProcess(f"unix://{folder}/mc.sock", ["--cache-mb", "0.15"]) as server:
        yield server
    shutil.rmtree(folder, ignore_errors=True)


def test_lru_cache_evicts_least_recently_used_by_bytes():
    cache: LruCache[str] = LruCache(10)
    cache.put("a", "A", 4)
    cache.put("b", "B", 4)
    assert cache.get("a") == "A"  # now b is the least recently used
    cache.put("c", "C", 4)
    assert "b" not in cache and cache.get("a") == "A" and cache.get("c") == "C"
    assert cache.bytes == 8 and len(cache) == 2
    cache.put("huge", "H", 11)  # larger than the whole cache: not kept, evicts nothing
    assert "huge" not in cache and len(cache) == 2


def test_images_a_client_asked_about_are_evicted_last():
    cache: LruCache[str] = LruCache(12)
    for key in "abc":
        cache.put(key, key.upper(), 4)
    assert cache.touch(["a", "x", "b"]) == ["a", "b"]  # held ones only, in the order asked
    cache.put("d", "D", 4)  # evicts c, not a: a was asked about after c was put
    assert "c" not in cache and all(key in cache for key in "abd")
    assert cache.bytes == 12


def test_a_window_rendered_again_resends_nothing(served, window):
    plates, mattes = window
    with connect(served.address) as client:
        first = client.fuse_window(TARGET, plates, mattes, grade=GRADE, engine="guided")
        before = client.info()["cache"]
        again = client.fuse_window(TARGET, plates, mattes, grade=GRADE, engine="guided")
        after = client.info()["cache"]
        fresh = client.fuse_window(TARGET, plates, mattes, grade=GRADE, engine="guided", reuse=False)
    assert int(before["images"]) == 10 and int(before["received_bytes"]) > 0
    assert after["received_bytes"] == before["received_bytes"]  # not one image byte resent
    assert int(after["references"]) - int(before["references"]) == 10
    assert int(after["result_hits"]) == int(before["result_hits"]) + 1
    assert np.array_equal(again.pixels(), first.pixels())
    assert np.array_equal(fresh.pixels(), first.pixels())


def test_a_scrub_compares_the_last_windows_images_and_notices_one_changed_in_place(
    served, window, monkeypatch
):
    """The next window of a scrub holds the last window's frames but one: the client compares their
    bytes with those it sent instead of hashing them again, and an array changed in place since (a
    host that reuses its buffers) is hashed anew, its new pixels fused."""
    import movingcolor_client.sources as sources

    plates, mattes = window
    hashed = []
    original = sources.image_sha256
    monkeypatch.setattr(sources, "image_sha256", lambda data: hashed.append(len(data)) or original(data))
    changed = {frame: plate.copy() for frame, plate in plates.items()}
    with connect(served.address) as client:
        first = range(1001, 1004)
        client.fuse_window(
            TARGET - 1, {f: changed[f] for f in first}, {f: mattes[f] for f in first}, grade=GRADE
        )
        hashed.clear()
        client.fuse_window(TARGET, changed, mattes, grade=GRADE)
        assert len(hashed) == 4  # the two frames new to the window, plate and matte
        hashed.clear()
        changed[1002][:8] = 1.0 - changed[1002][:8]  # in place, as a host reuses its buffers
        fused = client.fuse_window(TARGET, changed, mattes, grade=GRADE)
        assert len(hashed) == 1
        fresh = client.fuse_window(TARGET, changed, mattes, grade=GRADE, reuse=False)
        assert np.array_equal(fused.pixels(), fresh.pixels())
        # A float32 matte is sent from the caller's own array: changed in place, it must not be
        # compared with itself.
        soft = {frame: np.ascontiguousarray(matte, np.float32) for frame, matte in mattes.items()}
        client.fuse_window(TARGET, changed, soft, grade=GRADE)
        soft[1004][10:30, 10:40] = 1.0 - soft[1004][10:30, 10:40]
        fused = client.fuse_window(TARGET, changed, soft, grade=GRADE)
        fresh = client.fuse_window(TARGET, changed, soft, grade=GRADE, reuse=False)
    assert np.array_equal(fused.pixels(), fresh.pixels())


def test_a_window_image_as_sent_before_is_compared_where_it_lies(window, monkeypatch):
    """An image whose samples are bit for bit those an earlier window sent goes again with that
    window's bytes and digest, compared on the caller's own array (a view with negative strides
    too): its planar samples are not made again. One sample one step away, or a zero's sign alone,
    is told apart; a half upload and float64 arrays are compared as before, after conversion."""
    import movingcolor_client.sources as sources

    plates, mattes = window
    roles = ["plate", "matte"]
    frames = {"plate": plates, "matte": mattes}
    first = sources.DigestedFrames(sources.ArrayFrames(frames, "sRGB - Texture"), roles)
    made = []
    original = sources.raw_image
    monkeypatch.setattr(
        sources, "raw_image", lambda *args, **kw: made.append(args[1]) or original(*args, **kw)
    )

    def again(given, sample_type="float", before=first):
        made.clear()
        return sources.DigestedFrames(
            sources.ArrayFrames(given, "sRGB - Texture", sample_type), roles, before.known_images()
        )

    def unchanged_but(window, changed):
        for key, (info, data) in window.images.items():
            if key != changed:
                assert (info, bytes(data)) == (first.images[key][0], bytes(first.images[key][1]))
        info, data = window.images[changed]
        assert info.sha256 != first.images[changed][0].sha256 and info.sha256 == image_sha256(data)

    # A host's buffers upside down (a view with negative strides), one sample one step up.
    upside_down = {f: np.flipud(np.flipud(plate).copy()) for f, plate in plates.items()}
    assert upside_down[1002].strides[0] < 0
    upside_down[1002][5, 6, 1] = np.nextafter(upside_down[1002][5, 6, 1], np.float32(2))
    unchanged_but(again({"plate": upside_down, "matte": mattes}), ("plate", 1002))
    assert made == [("R", "G", "B")]
    signed = dict(mattes)
    signed[1003] = mattes[1003].copy()
    zero = tuple(np.argwhere(signed[1003] == 0.0)[0])
    signed[1003][zero] = -0.0
    unchanged_but(again({"plate": plates, "matte": signed}), ("matte", 1003))
    assert made == [("Y",)]
    widened = {
        role: {f: image.astype(np.float64) for f, image in images.items()} for role, images in frames.items()
    }
    assert [i for i, _ in again(widened).images.values()] == [
        i for i, _ in first.images.values()
    ] and not made
    halves = sources.DigestedFrames(sources.ArrayFrames(frames, "sRGB - Texture", "half"), roles)
    window = again(frames, "half", halves)
    assert len(made) == 10 and [i for i, _ in window.images.values()] == [
        i for i, _ in halves.images.values()
    ]


def test_a_new_grade_reuses_the_images_but_fuses_anew(served, window):
    plates, mattes = window
    with connect(served.address) as client:
        client.fuse_window(TARGET, plates, mattes, grade=GRADE)
        before = client.info()["cache"]
        client.fuse_window(TARGET, plates, mattes, grade="slope=1.1,1.0,0.9")
        after = client.info()["cache"]
    assert after["received_bytes"] == before["received_bytes"]
    assert int(after["result_misses"]) == int(before["result_misses"]) + 1


def test_an_evicted_image_is_refused_and_the_client_resends_it(small_cache_server, window, monkeypatch):
    plates, mattes = window
    with connect(small_cache_server.address) as client:
        expected = client.fuse_window(TARGET, plates, mattes, grade=GRADE, reuse=False)
        # The client believes the server holds everything: the server refuses, the client resends.
        monkeypatch.setattr(client, "find_images", lambda digests, timeout=0: set(digests))
        fused = client.fuse_window(TARGET, plates, mattes, grade=GRADE)
        stats = client.info()["cache"]
    assert np.array_equal(fused.pixels(), expected.pixels())
    assert int(stats["evicted_references"]) >= 1
    assert int(stats["image_bytes"]) <= int(stats["image_capacity_bytes"])


def test_clients_at_once_on_a_small_cache_each_get_their_own_frame(small_cache_server, window):
    """Several clients whose windows together overflow the image cache: each still gets its own
    window's fusion (references evicted by another client are resent), and the cache stays in bounds."""
    plates, mattes = window
    targets = [1002, 1003, 1004, 1003, 1002, 1004]
    with connect(small_cache_server.address) as client:
        expected = {
            t: client.fuse_window(t, plates, mattes, grade=GRADE, reuse=False).pixels() for t in {*targets}
        }

    def fuse(target: int) -> np.ndarray:
        with connect(small_cache_server.address) as client:
            return client.fuse_window(target, plates, mattes, grade=GRADE).pixels()

    with ThreadPoolExecutor(max_workers=3) as pool:
        fused = list(pool.map(fuse, targets))
    for target, pixels in zip(targets, fused, strict=True):
        assert np.array_equal(pixels, expected[target]), target
    with connect(small_cache_server.address) as client:
        stats = client.info()["cache"]
    assert 0 < int(stats["image_bytes"]) <= int(stats["image_capacity_bytes"])


def _requests(setup, parts):
    yield fusion_pb2.FuseShotRequest(setup=setup)
    for part in parts:
        yield fusion_pb2.FuseShotRequest(part=part)


def test_references_and_digests_are_checked(served, window):
    plates, _ = window
    info, data = raw_image(plates[TARGET], ("R", "G", "B"))
    setup = shot_setup(clip=[], grade=GRADE, matte_frames=False, frames=str(TARGET))
    unknown = pb.ImageInfo()
    unknown.CopyFrom(info)
    unknown.sha256, unknown.cached = "0" * 64, True
    wrong = pb.ImageInfo()
    wrong.CopyFrom(info)
    wrong.sha256 = image_sha256(data[::-1])
    with connect(served.address) as client:
        assert client.find_images(["0" * 64]) == set()
        part = pb.ImagePart(role=pb.ROLE_PLATE, frame=TARGET, info=unknown)
        with pytest.raises(grpc.RpcError) as refused:
            list(client.stub.FuseWindow(_requests(setup, [part]), timeout=30))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "no longer holds image sha256 0000000000000000" in refused.value.details()
        with pytest.raises(grpc.RpcError) as refused:
            parts = split(pb.ROLE_PLATE, TARGET, wrong, data, 1 << 20)
            list(client.stub.FuseWindow(_requests(setup, parts), timeout=30))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "its info declares" in refused.value.details()
        # A digest of the wrong form is refused from the image's first part.
        wrong.sha256 = "AB" * 32
        with pytest.raises(grpc.RpcError) as refused:
            parts = split(pb.ROLE_PLATE, TARGET, wrong, data, 1 << 20)
            list(client.stub.FuseWindow(_requests(setup, parts), timeout=30))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "is not 64 lowercase hex digits" in refused.value.details()
        # A reference with no digest at all names no image: it was told "evicted" (resend), which a
        # client repeats for good.
        unknown.sha256 = ""
        part = pb.ImagePart(role=pb.ROLE_PLATE, frame=TARGET, info=unknown)
        with pytest.raises(grpc.RpcError) as refused:
            list(client.stub.FuseWindow(_requests(setup, [part]), timeout=30))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "named as cached carries no sha256" in refused.value.details()


def test_a_streamed_grade_text_never_names_a_file_on_the_server(served, window, tmp_path, monkeypatch):
    """A setup's grade text holding "=" was looked up as a path first: any file the server could
    read was opened (its existence told, a LUT outside the roots applied, a file's lines quoted back
    in OpenColorIO's error). Grade text is written-out numbers or a look; a file travels as bytes.
    A grade written out is never read as a file of its name, on the server or in process."""
    from movingcolor.color.config import ColorConfig
    from movingcolor.color.grade import parse_grade

    plates, mattes = window
    rgba = np.dstack([plates[TARGET], mattes[TARGET]])  # the matte in the plate's alpha: a whole shot
    info, data = raw_image(rgba, ("R", "G", "B", "A"))
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "creds=1.cube").write_text("LUT_3D_SIZE 2\naws_secret_key=AKIAEXAMPLE\n")
    with connect(served.address) as client:
        for text in (f"{secret}/creds=1.cube", "/etc/passwd#a=b"):
            setup = shot_setup(clip=[], grade=GRADE, matte_frames=False, frames=str(TARGET))
            setup.grade.text = text
            with pytest.raises(grpc.RpcError) as refused:
                parts = split(pb.ROLE_PLATE, TARGET, info, data, 1 << 20)
                list(client.stub.FuseWindow(_requests(setup, parts), timeout=30))
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            details = refused.value.details()
            assert "neither key=numbers" in details and "AKIA" not in details and "passwd:" not in details
    monkeypatch.chdir(secret)
    (secret / "slope=1.2,1,1").symlink_to(secret / "creds=1.cube")
    grade = parse_grade("slope=1.2,1,1", ColorConfig())
    assert grade.kind == "cdl"


def test_a_server_without_find_images_gets_every_image(served, window, monkeypatch):
    """A server from before the window cache answers FindImages with UNIMPLEMENTED: send everything."""
    plates, mattes = window
    with connect(served.address) as client:
        expected = client.fuse_window(TARGET, plates, mattes, grade=GRADE, reuse=False)

        def unimplemented(digests, timeout=0):
            error = ClientError("FindImages: UNIMPLEMENTED")
            error.code = grpc.StatusCode.UNIMPLEMENTED
            raise error

        monkeypatch.setattr(client, "find_images", unimplemented)
        before = client.info()["cache"]
        fused = client.fuse_window(TARGET, plates, mattes, grade=GRADE)
        after = client.info()["cache"]
    assert np.array_equal(fused.pixels(), expected.pixels())
    assert int(after["received_bytes"]) - int(before["received_bytes"]) == sum(
        p.nbytes + m.nbytes for p, m in zip(plates.values(), mattes.values(), strict=True)
    )


def test_a_frame_keeps_its_name_from_one_window_to_the_next(window):
    """A scrub's next window names the frames it shares with the last one as the last one did, so the
    engine finds its work on them (refinements, network inputs); other settings or images, or an
    image sent without its digest, give no shared name."""
    from movingcolor.protocol.images import Image
    from movingcolor.service.window import frame_keys

    plates, mattes = window

    def images(frames, digests=True):
        out = []
        for frame in frames:
            for role, pixels, channels in (
                (pb.ROLE_PLATE, plates[frame], ("R", "G", "B")),
                (pb.ROLE_MATTE, mattes[frame][..., None], ("A",)),
            ):
                info, data = raw_image(np.ascontiguousarray(pixels, np.float32), channels)
                info.sha256 = image_sha256(data) if digests else ""
                out.append(Image(role, frame, info, data))
        return out

    def setup(target, grade=GRADE):
        made = shot_setup(clip=[], grade=grade)
        made.render.first = made.render.last = target
        return made

    roles = ("plate", "matte")
    first = frame_keys(setup(1003), images(range(1001, 1006)), roles)
    second = frame_keys(setup(1004), images(range(1002, 1006)), roles)
    assert all(first(frame) == second(frame) is not None for frame in range(1002, 1006))
    assert len({first(frame) for frame in range(1001, 1006)}) == 5
    other_grade = frame_keys(setup(1004, grade="slope=0.5"), images(range(1002, 1006)), roles)
    assert other_grade(1003) != first(1003)
    assert frame_keys(setup(1003), images(range(1001, 1006), digests=False), roles)(1003) is None


@pytest.mark.parametrize("sample_type", [pb.SAMPLE_TYPE_FLOAT, pb.SAMPLE_TYPE_HALF])
def test_a_decoded_raw_image_is_held_as_its_pixels_for_later_windows(window, sample_type):
    """Once a window decodes a kept raw image, the cache holds its pixels instead of its bytes (the
    frame prepared from it holds the same array): a later reference gets them without decoding,
    unless it describes the bytes as another image."""
    from movingcolor.protocol.images import Image
    from movingcolor.service.decode import ImageDecoder
    from movingcolor.service.errors import ImageEvictedError
    from movingcolor.service.window_cache import WindowCaches

    plates, _ = window
    caches = WindowCaches(1 << 20, 0)
    info, data = raw_image(plates[TARGET], ("R", "G", "B"), sample_type)
    info.sha256 = image_sha256(data)
    image = Image(pb.ROLE_PLATE, TARGET, info, data)
    caches.keep(image)
    pixels = ImageDecoder(decoded=caches.keep_decoded).deferred(image).pixels
    assert np.array_equal(pixels, ImageDecoder().decode(image).pixels) and not pixels.flags.writeable

    def reference(width: int, height: int) -> pb.ImagePart:
        named = pb.ImageInfo()
        named.CopyFrom(info)
        named.width, named.height, named.cached = width, height, True
        return pb.ImagePart(role=pb.ROLE_PLATE, frame=TARGET + 1, info=named)

    resolved = caches.resolve(reference(info.width, info.height))
    assert resolved.pixels is pixels and resolved.frame == TARGET + 1
    assert ImageDecoder().deferred(resolved).pixels is pixels
    # The same bytes as an image of another shape would decode to other pixels.
    with pytest.raises(ImageEvictedError, match="decoded as another"):
        caches.resolve(reference(info.height, info.width))


def test_a_scrub_through_held_images_equals_fresh_windows(served, window):
    """Each step names the images the last one sent (held decoded by now); sent without digests,
    nothing is held or named and every window is fused from its bytes."""
    plates, mattes = window
    targets = (1002, 1003, 1004, 1003)
    with connect(served.address) as client:
        scrubbed = [client.fuse_window(t, plates, mattes, grade=GRADE, engine="guided") for t in targets]
        fresh = [
            client.fuse_window(t, plates, mattes, grade=GRADE, engine="guided", reuse=False) for t in targets
        ]
    for held, anew in zip(scrubbed, fresh, strict=True):
        assert np.array_equal(held.pixels(), anew.pixels())


def test_the_same_images_declared_in_another_colourspace_are_other_frames(served, window):
    """Images whose bytes are the same but whose declared colourspace changed are other frames: a
    window that changed only that was given frames converted under the old colourspace (neither
    colourspace's result, up to 0.07 off). Each call equals a fresh call's result."""
    plates, mattes = window
    settings = {"grade": GRADE, "engine": "guided", "plate_colorspace": ""}
    with connect(served.address) as client:
        client.fuse_window(TARGET, plates, mattes, colorspace="ACEScg", **settings)
        changed = client.fuse_window(TARGET, plates, mattes, colorspace="Linear Rec.709 (sRGB)", **settings)
        fresh = client.fuse_window(
            TARGET, plates, mattes, colorspace="Linear Rec.709 (sRGB)", reuse=False, **settings
        )
        other = client.fuse_window(TARGET, plates, mattes, colorspace="ACEScg", reuse=False, **settings)
    assert not np.array_equal(fresh.pixels(), other.pixels())
    assert np.array_equal(changed.pixels(), fresh.pixels())
