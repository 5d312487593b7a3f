"""ShotPlan: a shot's frames, windows and reads planned once, the same for files and streams;
each frame prepared with only the arrays its engine reads."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from movingcolor.color.converted_on_demand import ConvertedOnDemand
from movingcolor.engines import create_engine
from movingcolor.engines.base import FRAME_INPUTS
from movingcolor.frames.frame_range import FrameRange
from movingcolor.frames.image_io import read_pixels
from movingcolor.frames.stream import DecodedImage, FrameStore, StreamSource
from movingcolor.jobs import FramePlan, FramePreparer, ShotPlan, ShotSources, ShotSpec, frame_arrays
from movingcolor.jobs.frame_plan import READ_AHEAD
from movingcolor.service.plan import render_range
from movingcolor.v1 import fusion_pb2
from movingcolor.v1 import image_pb2 as pb

GRADE = "slope=1.2,1.0,0.8"
CLIP = list(range(1001, 1009))


def _engine(name: str, test_model):
    if name == "movingcolor":
        if test_model is None:
            pytest.skip("torch is not installed")
        return create_engine(name, model=str(test_model), device="cpu")
    return create_engine(name)


def _spec(demo_inputs, engine: str, **extra) -> ShotSpec:
    plate, matte = demo_inputs
    return ShotSpec(plate=plate, matte=matte, out="", grade=GRADE, engine=engine, **extra)


def test_windows_and_reads_of_each_engine(test_model):
    clip, render = list(range(1, 21)), FrameRange(10, 12)
    hard = FramePlan.plan(_engine("hard", test_model), clip, render)
    assert hard.reads == (10, 11, 12) and [w.outputs for w in hard.windows] == [(10,), (11,), (12,)]
    feather = FramePlan.plan(_engine("feather", test_model), clip, render)
    assert feather.windows == hard.windows
    guided = FramePlan.plan(_engine("guided", test_model), clip, render)
    assert guided.windows[0].frames == (8, 9, 10, 11, 12)
    assert guided.reads == tuple(range(8, 15)) and guided.needed == list(range(8, 15))
    assert guided.buffer_frames == 1 + READ_AHEAD
    network = _engine("movingcolor", test_model)
    whole = FramePlan.plan(network, list(range(1, 41)), FrameRange(1, 40))
    # Global frames are read ahead of the local ones that need them: the buffer holds them.
    assert whole.needed == list(range(1, 41)) and whole.buffer_frames == 4 + READ_AHEAD
    assert set(whole.targets) == {n for w in whole.windows for n in w.outputs}


def test_a_plan_skipping_finished_frames_runs_only_the_rest(test_model):
    engine = _engine("guided", test_model)
    plan = FramePlan.plan(engine, list(range(1, 21)), FrameRange(5, 10))
    rest = plan.skipping(engine, frozenset({5, 6, 7}))
    assert rest.targets == (8, 9, 10) and rest.render == plan.render and rest.clip == plan.clip
    assert [w.outputs for w in rest.windows] == [(8,), (9,), (10,)]
    assert plan.skipping(engine, frozenset()) is plan
    assert FramePlan.plan(engine, plan.clip, plan.render, frozenset(plan.render)).windows == ()


def test_a_hosts_window_plan_marks_its_outputs_asked_for_alone(test_model):
    """A host's window (FuseWindow's plan) tells the engine that no chunking regroups its outputs;
    a shot's plan does not, and a rerun's plan keeps the mark."""
    engine = _engine("movingcolor", test_model)
    shot = FramePlan.plan(engine, list(range(1001, 1006)), FrameRange(1003, 1003))
    host = shot.for_outputs_alone()
    assert not any(w.outputs_alone for w in shot.windows)
    assert host.windows and all(w.outputs_alone for w in host.windows)
    assert [dataclasses.replace(w, outputs_alone=False) for w in host.windows] == list(shot.windows)
    assert (host.clip, host.render, host.targets, host.reads) == (
        shot.clip,
        shot.render,
        shot.targets,
        shot.reads,
    )
    wider = FramePlan.plan(engine, list(range(1001, 1006)), FrameRange(1002, 1003)).for_outputs_alone()
    assert all(w.outputs_alone for w in wider.skipping(engine, frozenset({1002})).windows)


def _store(demo_inputs) -> FrameStore:
    plate, matte = demo_inputs
    store = FrameStore(("plate", "matte"), CLIP)
    for number in CLIP:
        pixels = read_pixels(plate.replace("####", str(number)))
        store.put("plate", number, DecodedImage(pixels, ("R", "G", "B"), "ACEScg", True))
        store.put(
            "matte", number, DecodedImage(read_pixels(matte.replace("####", str(number))), ("Y",), "", False)
        )
    store.finish()
    return store


@pytest.mark.parametrize("engine_name", ["hard", "feather", "guided", "movingcolor"])
def test_the_stream_plan_equals_the_file_plan(demo_inputs, test_model, engine_name):
    engine = _engine(engine_name, test_model)
    files = ShotPlan.files(_spec(demo_inputs, engine_name, frames="1003-1005", handles=1), engine)
    files.close()
    setup = fusion_pb2.ShotSetup(clip=CLIP, render=pb.FrameRange(first=1003, last=1005), handles=1)
    render = render_range(CLIP, setup)
    frames = FramePlan.plan(engine, CLIP, render)
    assert frames == files.frames and render == FrameRange(1002, 1006)
    store = _store(demo_inputs)
    stream_spec = ShotSpec(
        plate="streamed plate", matte="streamed matte", out="", grade=GRADE, engine=engine_name
    )
    sources = ShotSources(StreamSource(store, "plate"), StreamSource(store, "matte"), release=store.release)
    streamed = ShotPlan.stream(stream_spec, sources, engine, frames)
    assert streamed.frames is frames and streamed.colorspaces.by_role == files.colorspaces.by_role
    # Without a frame plan, a stream's frames are planned from its sources as a file shot's are.
    replanned = ShotPlan.stream(
        _spec(demo_inputs, engine_name, frames="1003-1005", handles=1), sources, engine
    )
    assert replanned.frames == files.frames


def test_handles_are_limited_to_the_clip_alike(demo_inputs):
    engine = create_engine("guided")
    files = ShotPlan.files(_spec(demo_inputs, "guided", frames="1001-1002", handles=3), engine)
    files.close()
    setup = fusion_pb2.ShotSetup(clip=CLIP, render=pb.FrameRange(first=1001, last=1002), handles=3)
    assert files.range == render_range(CLIP, setup) == FrameRange(1001, 1005)
    # A gap in a streamed clip ends them as its ends do (they ran into it: "the clip lacks 3, 4").
    gapped = fusion_pb2.ShotSetup(clip=[1, 2, 5, 9], render=pb.FrameRange(first=1, last=2), handles=2)
    assert render_range([1, 2, 5, 9], gapped) == FrameRange(1, 2)


@pytest.mark.parametrize(
    ("engine_name", "expected_none"),
    [
        ("hard", {"edited", "plate_display", "graded_display", "edited_display"}),
        ("feather", {"edited", "plate_display", "graded_display", "edited_display"}),
        ("guided", {"edited", "graded_display", "edited_display"}),
        # The network reads display encodings only; the scene-linear edit is never made, and with
        # the grade given the host's composite is made from the plate and the graded plate.
        ("movingcolor", {"edited", "edited_display"}),
    ],
)
def test_only_the_arrays_the_engine_needs_are_prepared(demo_inputs, test_model, engine_name, expected_none):
    engine = _engine(engine_name, test_model)
    plan = ShotPlan.files(_spec(demo_inputs, engine_name, frames="1002"), engine)
    try:
        assert engine.inputs <= FRAME_INPUTS
        frame = FramePreparer(plan).prepare(1002)
        arrays = ("plate", "graded", "edited", "plate_out", "graded_out", "edited_out")
        arrays += ("plate_display", "graded_display", "edited_display")
        assert {name for name in arrays if getattr(frame, name) is None} == expected_none
        # What is prepared is what a full preparation gives, bit for bit; the graded plate is made
        # where the composite takes it (inside the matte and in the band), the network's display
        # encoding of it from the plate where it is read.
        full = FramePreparer(plan, frame_arrays(create_engine("hard")) | FRAME_INPUTS).prepare(1002)
        used = (frame.matte > 0) | frame.band
        assert not used.all()
        for name in arrays:
            if getattr(frame, name) is not None:
                where = used if name in ("graded", "graded_out") else ...
                assert np.array_equal(getattr(frame, name)[where], getattr(full, name)[where]), name
    finally:
        plan.close()


def test_an_engine_that_declares_nothing_gets_everything():
    from movingcolor.engines.base import Engine, FusionResult

    class Plugin(Engine):
        name = "plugin"

        def fuse(self, frames):
            return FusionResult(alpha=frames.matte[frames.center])

    assert Plugin.inputs == FRAME_INPUTS and Plugin.decides_colours
    assert {"plate_display", "graded_display", "edited_display", "edited"} <= frame_arrays(Plugin())


@pytest.mark.parametrize("engine_name", ["guided", "movingcolor"])
def test_a_target_prepared_before_as_context_takes_its_band_and_inputs_from_it(
    demo_inputs, test_model, engine_name
):
    """A host scrubbing frame by frame: the next target was a neighbour of the last window, prepared
    for context and kept by its content; fusing it reuses its matte, band (with the fade) and the
    engine's inputs, reads and decodes nothing again, and equals a preparation from scratch bit for
    bit. Its linear plate, which neither engine reads, is made when it is composited, not as the
    window's newest frame is prepared, before the window can be fused."""
    from movingcolor.frames.stream import DeferredImage
    from movingcolor.lru_cache import LruCache

    engine = _engine(engine_name, test_model)
    plate, matte = demo_inputs
    decoded: list[tuple[str, int]] = []
    reads: list[tuple[str, int]] = []

    def deferred(role: str, number: int, path: str, channels: tuple[str, ...], colorspace: str):
        pixels = read_pixels(path.replace("####", str(number)))

        def decode() -> np.ndarray:
            decoded.append((role, number))
            return pixels

        size = (pixels.shape[1], pixels.shape[0])
        return DeferredImage(size, channels, colorspace, role == "plate", decode)

    class CountedSource(StreamSource):
        def read(self, frame: int) -> np.ndarray:
            reads.append((self.role, frame))
            return super().read(frame)

    store = FrameStore(("plate", "matte"), CLIP)
    for number in CLIP:
        store.put("plate", number, deferred("plate", number, plate, ("R", "G", "B"), "ACEScg"))
        store.put("matte", number, deferred("matte", number, matte, ("Y",), ""))
    store.finish()
    assert decoded == [], "nothing is decoded before it is read"
    sources = ShotSources(
        CountedSource(store, "plate"), CountedSource(store, "matte"), frame_key=lambda n: ("shot", n)
    )
    spec = ShotSpec(plate="streamed plate", matte="streamed matte", out="", grade=GRADE, engine=engine_name)
    plan = ShotPlan.stream(spec, sources, engine, FramePlan.plan(engine, CLIP, FrameRange(1002, 1002)))
    kept = LruCache(1 << 30)
    preparer = FramePreparer(plan, kept=kept)
    context = preparer.prepare(1003, context_only=True)
    assert sorted(decoded) == [("matte", 1003), ("plate", 1003)], "only what is read is decoded"
    assert context.band_fade is not None and context.edited_out is None
    assert preparer.prepare(1003, context_only=True) is context, "found again by its key"
    reads.clear()
    decoded.clear()
    target = preparer.prepare(1003)
    assert reads == [] and decoded == [], "the kept frame holds its pixels as read"
    for name in ("matte", "band", "band_fade", "plate_display"):
        assert getattr(target, name) is getattr(context, name), name
    assert context.plate is None and target.plate is not None
    fresh = FramePreparer(plan).prepare(1003)
    # The graded plate is made where the composite reads it (inside the matte and in the band):
    # the network's display arrays that read it everywhere are reused.
    used = (fresh.matte > 0) | fresh.band
    for field in ("matte", "band", "band_fade", "band_pixels", "plate", "graded", "plate_out", "graded_out"):
        a, b = getattr(target, field), getattr(fresh, field)
        where = used if field in ("graded", "graded_out") else ...
        assert np.array_equal(np.asarray(a)[where], np.asarray(b)[where]), field
    for field in ("edited_out", "plate_display", "graded_display", "edited_display"):
        a, b = getattr(target, field), getattr(fresh, field)
        assert (a is None and b is None) or np.array_equal(a, b), field


@pytest.mark.parametrize("engine_name", ["hard", "guided", "movingcolor"])
@pytest.mark.parametrize("source", ["grade", "graded", "edited"])
@pytest.mark.parametrize("kept", [True, False], ids=["reads kept", "read again"])
def test_a_target_completed_when_composited_equals_one_prepared_whole(
    demo_inputs, test_model, engine_name, source, kept, monkeypatch
):
    """The network finishes six frames a window: each is read with what its windows need and its
    pixels as read, and completed with its composite's arrays only when it is composited; that
    equals preparing it whole, bit for bit, for a grade, a graded plate and a host's composite,
    whether its pixels as read were kept (a small plate) or its files are read again (a large one)."""
    from movingcolor.jobs import prepare

    if not kept:
        monkeypatch.setattr(prepare, "KEEP_READ_BYTES", 0)
    engine = _engine(engine_name, test_model)
    plate, _ = demo_inputs
    other = {"grade": {"grade": GRADE}, "graded": {"graded": plate}, "edited": {"edited": plate}}[source]
    spec = ShotSpec(plate=demo_inputs[0], matte=demo_inputs[1], out="", engine=engine_name, **other)
    plan = ShotPlan.files(spec, engine)
    try:
        preparer = FramePreparer(plan)
        read = preparer.read_target(1003)
        if source != "edited":  # the grade recovered from a composite is prepared whole when read
            assert read.edited_out is None and read.plate_out is None
            if kept:
                assert read.plate_rgb is not None and (read.other_rgb is not None) == (source == "graded")
            else:
                assert read.plate_rgb is None and read.other_rgb is None, "files are read again"
        completed = preparer.complete(1003, read)
        whole = preparer.prepare(1003)
        assert completed.plate_rgb is None and completed.other_rgb is None
        # The graded plate is made where the composite reads it (inside the matte and in the band);
        # the display encodings were made (or are made on demand) from what was read.
        used = (whole.matte > 0) | whole.band
        for field in dataclasses.fields(whole):
            a, b = getattr(completed, field.name), getattr(whole, field.name)
            if isinstance(b, (np.ndarray, ConvertedOnDemand)):
                where = used if field.name in ("graded", "graded_out") and source == "grade" else ...
                assert np.array_equal(np.asarray(a)[where], np.asarray(b)[where]), field.name
            else:
                assert a == b, field.name
        context = preparer.as_context(1003, completed)
        assert context.plate_rgb is None and context.edited_out is None
    finally:
        plan.close()


def test_a_frame_its_window_finishes_alone_is_completed_from_its_pixels_as_read(demo_inputs, monkeypatch):
    """``guided`` finishes one frame a window: each target is read ahead of its window with what the
    engine reads and its pixels as read, at any plate size, without its graded plate or hard
    composite, and is completed from them when composited. Every plate file is read once, and the
    frames equal those of a run that prepares each target whole when it is read."""
    from movingcolor.jobs import prepare, runner

    monkeypatch.setattr(prepare, "KEEP_READ_BYTES", 0)  # a 4K plate's case
    engine = _engine("guided", None)
    spec = ShotSpec(plate=demo_inputs[0], matte=demo_inputs[1], out="", grade=GRADE, engine="guided")

    class Watched(FramePreparer):
        def __init__(self, plan):
            super().__init__(plan)
            self.read = {}
            self.reads: list[int] = []
            source = plan.sources.plate
            original = source.read

            def counted(number):
                self.reads.append(number)
                return original(number)

            source.read = counted

        def read_target(self, number, keep_read=False):
            frame = self.read[number] = super().read_target(number, keep_read)
            return frame

    runs = {}
    for how in ("deferred", "whole"):
        if how == "whole":
            monkeypatch.setattr(runner, "deferred_targets", lambda finishing, decides_band=True: frozenset())
        plan = ShotPlan.files(spec, engine)
        try:
            preparer = Watched(plan)
            runs[how] = {n: pixels for n, _, pixels in runner.fused_frames(plan, preparer)}
        finally:
            plan.close()
        if how == "deferred":
            assert sorted(preparer.read) == sorted(runs[how]) == list(plan.frames.targets)
            for frame in preparer.read.values():
                assert frame.plate_rgb is not None and frame.edited_out is None and frame.graded is None
            assert sorted(preparer.reads) == list(plan.frames.targets), "each plate read once"
        else:
            assert not preparer.read
    assert runs["deferred"].keys() == runs["whole"].keys()
    for number, pixels in runs["whole"].items():
        assert np.array_equal(pixels, runs["deferred"][number]), number


def test_frames_are_read_ahead_within_a_memory_budget():
    """At 4K a network window's next frames would hold gigabytes before they are needed: the
    reader prepares at most its budget's worth ahead of the runner, and always the next one."""
    import threading
    import time
    from types import SimpleNamespace

    from movingcolor.jobs.runner import ReadAhead

    prepared: list[int] = []
    lock = threading.Lock()

    def prepare(number: int):
        with lock:
            prepared.append(number)
        return SimpleNamespace(number=number, nbytes=100)

    def prepared_once(expected: int) -> int:
        """How many frames are prepared once ``expected`` are and the reader had time for more."""
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            with lock:
                if len(prepared) >= expected:
                    break
            time.sleep(0.01)
        time.sleep(0.2)
        with lock:
            return len(prepared)

    ahead = ReadAhead(prepare, budget_bytes=250)  # two and a half frames
    try:
        ahead.request(range(10))
        assert prepared_once(1) == 1, "before any frame's size is known: one"
        assert ahead.take(0).number == 0
        assert prepared_once(3) == 3, "then two frames of 100 bytes within 250"
        assert ahead.take(1).number == 1 and prepared_once(4) == 4
        assert ahead.take(7).number == 7, "a frame asked out of order is still read"
    finally:
        ahead.close()
    small = ReadAhead(prepare, budget_bytes=50)  # less than a frame: still one ahead
    try:
        prepared.clear()
        small.request(range(3))
        small.take(0)
        assert prepared_once(2) == 2
    finally:
        small.close()


def test_frames_of_files_are_prepared_on_every_core_and_a_video_in_order(monkeypatch):
    """Preparing a frame is mostly single-threaded array work: frames of a sequence are prepared on
    several threads at once (one per usable core, a few at most), a video's one at a time so it
    decodes forwards; frames still come back as asked."""
    import threading
    from types import SimpleNamespace

    from movingcolor.frames.source import ChannelSource, VideoSource
    from movingcolor.jobs import runner

    sequence = SimpleNamespace(reads_in_any_order=True)  # what every file source says
    video = SimpleNamespace(name="clip", channels=("R", "G", "B"), width=8, height=8, is_float=False)
    video.reads_in_any_order = VideoSource.reads_in_any_order
    monkeypatch.setattr(runner, "usable_cores", lambda: 2)
    assert runner.preparers([sequence]) == 2
    assert runner.preparers([sequence, ChannelSource(video, "R")]) == 1  # the matte is a video's
    monkeypatch.setattr(runner, "usable_cores", lambda: 64)
    assert runner.preparers([sequence]) == runner.MAX_PREPARERS

    both_started = threading.Barrier(2, timeout=10)

    def prepare(number: int):
        both_started.wait()  # returns only when another frame is being prepared at the same time
        return SimpleNamespace(number=number, nbytes=1)

    ahead = runner.ReadAhead(prepare, workers=2)
    try:
        ahead.request([5, 6])
        assert [ahead.take(5).number, ahead.take(6).number] == [5, 6]
    finally:
        ahead.close()


def test_the_window_being_fused_is_read_on_every_core_whatever_the_budget():
    """At 4K one network frame fills the read-ahead budget: the frames of the window the runner
    is about to fuse (it holds them next anyway) are still prepared on every worker at once, while
    frames asked for ahead of it stay within the budget."""
    import threading
    import time
    from types import SimpleNamespace

    from movingcolor.jobs import runner

    both_started = threading.Barrier(2, timeout=10)
    started: list[int] = []

    def prepare(number: int):
        started.append(number)
        if number < 10:
            both_started.wait()  # returns only when another needed frame is prepared beside it
        return SimpleNamespace(number=number, nbytes=100)

    ahead = runner.ReadAhead(prepare, budget_bytes=50, workers=2)  # under one frame
    try:
        ahead.request([1, 2, 3, 4], needed=True)
        ahead.request([11, 12, 13])
        assert [ahead.take(n).number for n in (1, 2, 3, 4)] == [1, 2, 3, 4]
        time.sleep(0.2)
        assert started[:4] == [1, 2, 3, 4], "needed frames first, in order"
        assert started[4:] == [11], "then one frame ahead, as the budget allows"
    finally:
        ahead.close()


def _arriving_store(demo_inputs, frames: FramePlan) -> FrameStore:
    """A stream whose images arrive from a sender thread in ascending order, into the buffer the
    frame plan sizes (the sender waits while it is full, as a client's stream does)."""
    import threading

    plate, matte = demo_inputs
    store = FrameStore(("plate", "matte"), CLIP, frames.needed, frames.buffer_frames)

    def send() -> None:
        for number in sorted(frames.needed):
            pixels = read_pixels(plate.replace("####", str(number)))
            store.put("plate", number, DecodedImage(pixels, ("R", "G", "B"), "ACEScg", True))
            pixels = read_pixels(matte.replace("####", str(number)))
            store.put("matte", number, DecodedImage(pixels, ("Y",), "", False))
        store.finish()

    threading.Thread(target=send, daemon=True).start()
    return store


@pytest.mark.parametrize("engine_name", ["guided", "movingcolor"])
def test_a_stream_is_prepared_ahead_and_fuses_the_same(demo_inputs, test_model, engine_name):
    """A stream's frames are prepared on the read-ahead threads, several at once, as a file shot's
    are, once their images have arrived: every one at once for a window call's, as they arrive
    into a buffer of the plan's size for FuseShot's (only the runner ever waits for an image, so
    the buffer never looks starved). Read on the runner's thread instead, they give the same
    frames, bit for bit."""
    import threading

    from movingcolor.jobs.runner import fused_frames

    engine = _engine(engine_name, test_model)
    spec = ShotSpec(plate="streamed plate", matte="streamed matte", out="", grade=GRADE, engine=engine_name)
    frames = FramePlan.plan(engine, CLIP, FrameRange(1002, 1007))

    class Watched(FramePreparer):
        """Notes the threads frames are prepared on."""

        def __init__(self, plan):
            super().__init__(plan)
            self.threads = set()

        def prepare(self, number, context_only=False):
            self.threads.add(threading.current_thread().name)
            return super().prepare(number, context_only)

        def read_target(self, number, keep_read=False):
            self.threads.add(threading.current_thread().name)
            return super().read_target(number, keep_read)

    runs = {}
    for how in ("on the runner's thread", "arrived", "arriving"):
        store = _store(demo_inputs) if how != "arriving" else _arriving_store(demo_inputs, frames)
        arrived = None if how == "on the runner's thread" else store.holds
        sources = ShotSources(
            StreamSource(store, "plate"), StreamSource(store, "matte"), release=store.release, arrived=arrived
        )
        plan = ShotPlan.stream(spec, sources, engine, frames)
        preparer = Watched(plan)
        runs[how] = ({n: pixels for n, _, pixels in fused_frames(plan, preparer)}, preparer.threads)
        plan.close()
    sequential, on_caller = runs["on the runner's thread"]
    assert on_caller == {threading.current_thread().name}
    assert set(sequential) == set(range(1002, 1008))
    # Every image there before the runner starts: every frame is prepared ahead. Arriving, a frame
    # the runner needs before it has arrived is prepared on the runner's thread (when depends on
    # the sender's pace), and the stream is never taken for a starved one.
    _, threads = runs["arrived"]
    assert threads and all(name.startswith("movingcolor-read") for name in threads), threads
    for how in ("arrived", "arriving"):
        fused, _ = runs[how]
        assert fused.keys() == sequential.keys(), how
        for number, pixels in sequential.items():
            assert np.array_equal(pixels, fused[number]), (how, number)


def test_a_streamed_target_keeps_its_pixels_until_completed(demo_inputs, test_model):
    """A stream drops a frame's images once it is read: a deferred target keeps its plate as read,
    and is completed from it after the stream released the frame."""
    engine = _engine("movingcolor", test_model)
    store = _store(demo_inputs)
    sources = ShotSources(StreamSource(store, "plate"), StreamSource(store, "matte"), release=store.release)
    spec = ShotSpec(plate="streamed plate", matte="streamed matte", out="", grade=GRADE, engine="movingcolor")
    plan = ShotPlan.stream(spec, sources, engine, FramePlan.plan(engine, CLIP, FrameRange(1001, 1008)))
    preparer = FramePreparer(plan)
    whole = preparer.prepare(1003)
    read = preparer.read_target(1003)
    assert read.plate_rgb is not None and read.edited_out is None
    store.release(1003)
    completed = preparer.complete(1003, read)
    used = (whole.matte > 0) | whole.band
    for name in ("plate", "plate_out", "edited_out", "band_fade", "plate_display"):
        assert np.array_equal(getattr(completed, name), getattr(whole, name)), name
    assert np.array_equal(completed.graded_out[used], whole.graded_out[used])


def test_a_window_that_finishes_many_frames_holds_few_composites_at_once(demo_inputs, test_model):
    """The network finishes six frames a window: each frame's composite arrays are made just before
    it is composited and dropped just after, so at most two frames hold them at any time."""
    import gc
    import weakref

    from movingcolor.jobs.runner import fused_frames

    engine = _engine("movingcolor", test_model)
    plan = ShotPlan.files(_spec(demo_inputs, "movingcolor"), engine)
    made: list[weakref.ref] = []
    most = 0

    class Counting(FramePreparer):
        def complete(self, number, frame):
            nonlocal most
            completed = super().complete(number, frame)
            gc.collect()
            made.append(weakref.ref(completed.edited_out))
            most = max(most, sum(ref() is not None for ref in made))
            return completed

    try:
        assert max(len(w.outputs) for w in plan.frames.windows) > 2
        numbers = []
        # The fused frame is the frame's own composite array: a consumer that holds it (a writer
        # behind) holds one more; this one lets each go before it asks for the next.
        for number, _, fused in fused_frames(plan, Counting(plan)):
            numbers.append(number)
            del fused
    finally:
        plan.close()
    assert numbers == sorted(plan.frames.targets)
    assert 1 <= most <= 2, most


def test_a_display_encoded_plate_is_its_own_display_view_only_when_in_range(test_model):
    """A plate already in the display encoding (an sRGB plate) needs no conversion for the engines'
    view: within 0..1 it is the plate as read (read-only, no copy); beyond it, a clipped copy."""
    engine = _engine("guided", test_model)
    rng = np.random.default_rng(0)
    in_range = rng.random((48, 64, 3), dtype=np.float32)
    beyond = in_range * 1.5 - 0.25
    frames = {1001: in_range, 1002: beyond}
    store = FrameStore(("plate", "matte"), list(frames))
    for number, pixels in frames.items():
        store.put("plate", number, DecodedImage(pixels, ("R", "G", "B"), "sRGB - Texture", True))
        coarse = np.zeros((48, 64, 1), np.float32)
        coarse[12:36, 16:48] = 1.0
        store.put("matte", number, DecodedImage(coarse, ("Y",), "", False))
    store.finish()
    sources = ShotSources(StreamSource(store, "plate"), StreamSource(store, "matte"))
    spec = ShotSpec(plate="streamed plate", matte="streamed matte", out="", grade=GRADE, engine="guided")
    plan = ShotPlan.stream(
        spec, sources, engine, FramePlan.plan(engine, list(frames), FrameRange(1001, 1002))
    )
    preparer = FramePreparer(plan)
    view = preparer.prepare(1001).plate_display
    assert np.array_equal(view, in_range) and not view.flags.writeable
    clipped = preparer.prepare(1002).plate_display
    assert (
        np.array_equal(clipped, np.clip(beyond, 0.0, 1.0)) and clipped.min() == 0.0 and clipped.max() == 1.0
    )


def test_a_kept_neighbour_reads_its_graded_plate_only_when_it_becomes_the_target(demo_inputs, test_model):
    """A window's neighbour kept for the next one holds its plate as read, but a graded plate is
    read only when the frame is fused (a single window's neighbours never need it)."""
    from movingcolor.lru_cache import LruCache

    engine = _engine("guided", test_model)
    plate, matte = demo_inputs
    store = FrameStore(("plate", "matte", "graded"), CLIP)
    for number in CLIP:
        pixels = read_pixels(plate.replace("####", str(number)))
        store.put("plate", number, DecodedImage(pixels, ("R", "G", "B"), "ACEScg", True))
        store.put("graded", number, DecodedImage(pixels * 1.2, ("R", "G", "B"), "ACEScg", True))
        coarse = read_pixels(matte.replace("####", str(number)))
        store.put("matte", number, DecodedImage(coarse, ("Y",), "", False))
    store.finish()
    reads: list[tuple[str, int]] = []

    class CountedSource(StreamSource):
        def read(self, frame: int) -> np.ndarray:
            reads.append((self.role, frame))
            return super().read(frame)

    sources = ShotSources(
        *(CountedSource(store, role) for role in ("plate", "matte", "graded")),
        frame_key=lambda n: ("shot", n),
    )
    spec = ShotSpec(plate="streamed", matte="streamed", graded="streamed", out="", engine="guided")
    plan = ShotPlan.stream(spec, sources, engine, FramePlan.plan(engine, CLIP, FrameRange(1002, 1002)))
    preparer = FramePreparer(plan, kept=LruCache(1 << 30))
    preparer.prepare(1003, context_only=True)
    assert sorted(reads) == [("matte", 1003), ("plate", 1003)]
    reads.clear()
    target = preparer.prepare(1003)
    assert reads == [("graded", 1003)], "the plate and matte are not read again"
    assert np.array_equal(target.edited_out, FramePreparer(plan).prepare(1003).edited_out)


def test_a_frames_band_is_composited_into_its_own_hard_composite_unless_it_is_kept(demo_inputs, test_model):
    """A target's hard composite is made for its composite alone, so the band is written into it;
    a frame whose arrays are read-only (kept for later windows) is copied and left as it was."""
    from movingcolor.jobs.composite import composite

    plan = ShotPlan.files(_spec(demo_inputs, "guided"), _engine("guided", test_model))
    preparer = FramePreparer(plan)
    weight = np.clip(preparer.prepare(1004).matte + 0.25, 0.0, 1.0)
    kept = preparer.prepare(1004)
    for array in (kept.edited_out, kept.graded_out, kept.plate_out):
        array.flags.writeable = False
    hard = kept.edited_out.copy()
    from_kept = composite(plan.colorspaces, kept, "alpha", weight)
    assert from_kept is not kept.edited_out and np.array_equal(kept.edited_out, hard)
    own = preparer.prepare(1004)
    fused = composite(plan.colorspaces, own, "alpha", weight)
    assert fused is own.edited_out and np.array_equal(fused, from_kept)
    band = kept.band
    assert not np.array_equal(fused[band], hard[band]) and np.array_equal(fused[~band], hard[~band])


def test_a_single_windows_target_is_completed_while_the_engine_decides_its_band(demo_inputs, test_model):
    """A host's window call is a run of one window: its target's composite arrays are made on a
    thread of their own while the engine works, not before it starts, and the frame is the same as
    when it is prepared whole, ahead of its window, in a longer run."""
    import threading

    from movingcolor.jobs.runner import fused_frames

    engine = _engine("guided", test_model)
    started = threading.Event()

    class Watched(FramePreparer):
        def complete(self, number, frame):
            started.set()
            return super().complete(number, frame)

    decide = engine.fuse_window
    overlapped = []

    def deciding(frames):
        overlapped.append(started.wait(timeout=10))
        return decide(frames)

    engine.fuse_window = deciding
    single = ShotPlan.files(_spec(demo_inputs, "guided", frames="1004"), engine)
    try:
        fused = {n: pixels for n, _, pixels in fused_frames(single, Watched(single))}
    finally:
        single.close()
        del engine.fuse_window
    assert overlapped == [True]
    longer = ShotPlan.files(_spec(demo_inputs, "guided", frames="1003-1005"), engine)
    try:
        whole = {n: pixels for n, _, pixels in fused_frames(longer, FramePreparer(longer))}
    finally:
        longer.close()
    assert fused.keys() == {1004} and np.array_equal(fused[1004], whole[1004])


@pytest.mark.parametrize("engine_name", ["guided", "movingcolor"])
def test_a_streams_next_window_is_read_ahead_only_where_windows_finish_one_frame(
    demo_inputs, test_model, engine_name
):
    """While a stream's window is fused, the next window's new frames are prepared beside it where
    each window finishes one frame (guided). Where windows finish many (the network's six), whose
    frames hold their pixels as read until they are completed, they are not: that bounds a 4K
    server's memory."""
    import threading

    from movingcolor.jobs.runner import fused_frames

    engine = _engine(engine_name, test_model)
    spec = ShotSpec(plate="streamed plate", matte="streamed matte", out="", grade=GRADE, engine=engine_name)
    frames = FramePlan.plan(engine, CLIP, FrameRange(1001, 1008))
    later = set(frames.windows[1].frames) - set(frames.windows[0].frames)
    began_later = threading.Event()

    class Watched(FramePreparer):
        def prepare(self, number, context_only=False):
            if number in later:
                began_later.set()
            return super().prepare(number, context_only)

        def read_target(self, number, keep_read=False):
            if number in later:
                began_later.set()
            return super().read_target(number, keep_read)

    decide = engine.fuse_window
    while_first: list[bool] = []

    def deciding(window):
        if not while_first:
            while_first.append(began_later.wait(timeout=3))
        return decide(window)

    engine.fuse_window = deciding
    store = _store(demo_inputs)
    sources = ShotSources(
        StreamSource(store, "plate"), StreamSource(store, "matte"), release=store.release, arrived=store.holds
    )
    plan = ShotPlan.stream(spec, sources, engine, frames)
    try:
        fused = [number for number, _, _ in fused_frames(plan, Watched(plan))]
    finally:
        plan.close()
        del engine.fuse_window
    assert later and fused == list(range(1001, 1009))
    assert while_first == [engine_name == "guided"]


@pytest.mark.parametrize("source", ["grade", "graded", "edited"])
@pytest.mark.parametrize(
    "reads_composite", [True, False], ids=["reads the composite", "reads the plate's encoding"]
)
def test_a_kept_context_frame_converts_its_plate_to_linear_once_in_all(
    demo_inputs, source, reads_composite, monkeypatch
):
    """A scrubbing host's frame is prepared for context, kept, then completed as a target: its plate
    is converted to the working space once in all, where its context needs it (an engine that reads
    the host's composite, a grade recovered from it) as where only its composite does. A display-
    encoded plate's conversion is a whole frame's (30 ms at 1080p)."""
    from movingcolor.engines.base import Engine, FusionResult
    from movingcolor.lru_cache import LruCache

    reads = {"plate_display", "matte", "band", "band_pixels"}
    reads |= {"graded_display", "edited_display"} if reads_composite else set()

    class Reader(Engine):
        name = "guided"
        inputs = frozenset(reads)

        def fuse(self, frames):
            return FusionResult(alpha=np.asarray(frames.matte[frames.center], np.float32))

    plate, matte = demo_inputs
    roles = ("plate", "matte") + (() if source == "grade" else (source,))
    store = FrameStore(roles, CLIP)
    encoded = {}
    for number in CLIP:
        pixels = np.clip(read_pixels(plate.replace("####", str(number))), 0, 1) ** (1 / 2.2)
        encoded[number] = pixels.astype(np.float32)
        store.put("plate", number, DecodedImage(encoded[number], ("R", "G", "B"), "sRGB - Texture", True))
        if source != "grade":
            other = (encoded[number] * 0.9).astype(np.float32)
            store.put(source, number, DecodedImage(other, ("R", "G", "B"), "sRGB - Texture", True))
        store.put(
            "matte", number, DecodedImage(read_pixels(matte.replace("####", str(number))), ("Y",), "", False)
        )
    store.finish()
    sources = ShotSources(*[StreamSource(store, role) for role in roles], frame_key=lambda n: ("shot", n))
    settings = {"grade": GRADE} if source == "grade" else {source: "streamed"}
    spec = ShotSpec(plate="streamed", matte="streamed", out="", engine="guided", **settings)
    engine = Reader()
    plan = ShotPlan.stream(spec, sources, engine, FramePlan.plan(engine, CLIP, FrameRange(1002, 1002)))
    spaces = plan.colorspaces
    converted = []
    convert = type(spaces.config).convert

    def counted(config, pixels, src, dst, *args, **kwargs):
        if src == spaces.plate and dst == spaces.working and np.shares_memory(pixels, encoded[1003]):
            converted.append(src)
        return convert(config, pixels, src, dst, *args, **kwargs)

    monkeypatch.setattr(type(spaces.config), "convert", counted)
    preparer = FramePreparer(plan, kept=LruCache(1 << 30))
    preparer.prepare(1003, context_only=True)
    target = preparer.complete(1003, preparer.read_target(1003))
    monkeypatch.undo()
    assert len(converted) == 1
    fresh = FramePreparer(plan).prepare(1003)
    assert np.array_equal(target.plate, fresh.plate) and np.array_equal(target.edited_out, fresh.edited_out)
