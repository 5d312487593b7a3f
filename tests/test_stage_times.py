"""The stage-times benchmark: one real run with each stage of the pipeline and the engine timed."""

from __future__ import annotations

import pytest
from movingcolor.bench import stage_times
from movingcolor.jobs import composite
from movingcolor.jobs.prepare import FramePreparer


def test_a_guided_run_times_its_stages_and_leaves_the_code_as_it_was():
    prepare, blend = FramePreparer.prepare, composite.composite
    run = stage_times.measure("guided", 160, 96, frames=4)
    stages = {stage.name: stage for stage in run.stages}
    # Every frame read, decided, composited and written; the guided filter's own stages inside.
    for name in ("fuse_window", "composite", "file_samples", "write_image"):
        assert stages[name].calls == 4, name
    assert stages["TileRefinements.tiles"].calls >= 4 and stages["smoothed_band_alpha"].calls == 4
    readers = ("FramePreparer.prepare", "FramePreparer.read_target")
    assert sum(stages[name].calls for name in readers if name in stages) >= 4
    assert "_run_network" not in stages  # the network's stages are the network's alone
    assert all(stage.wall_seconds > 0 for stage in stages.values() if stage.calls)
    # A stage the run never reached is still listed, after those it did.
    unreached = [stage.calls == 0 for stage in run.stages]
    assert any(unreached) and unreached == sorted(unreached)
    assert run.seconds > stages["fuse_window"].wall_seconds
    # The wrappers are gone: a later run in this process is not timed.
    assert FramePreparer.prepare is prepare and composite.composite is blend


def test_the_network_run_times_its_forward_and_the_section_is_written(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n## Other\n\nkept\n")
    argv = ["--engine", "movingcolor", "--sizes", "160x96", "--frames", "3", "--out", str(out)]
    assert stage_times.main(argv) == 0
    text = out.read_text()
    assert "## Other\n\nkept" in text
    assert stage_times.SECTION in text
    assert "python -m movingcolor.bench.stage_times --sizes 160x96 --frames 3" in text
    rows = {line.split("|")[1].strip(" `"): line for line in text.splitlines() if line.startswith("| `")}
    assert "_run_network" in rows and "_inputs" in rows and "write_image" in rows


def test_an_unknown_engine_is_refused_before_anything_runs(capsys):
    with pytest.raises(SystemExit):
        stage_times.main(["--engine", "guided,blur"])
    assert "engine blur is not known" in capsys.readouterr().err


def test_every_wrapper_is_taken_off_when_the_run_fails():
    """A run that raises midway leaves nothing wrapped: not the engine's own method, a class's, or a
    function of the pipeline's or the engine's module."""
    from movingcolor.engines import create_engine
    from movingcolor.engines import guided as guided_module
    from movingcolor.engines.band_refinement import TileRefinements
    from movingcolor.jobs import run

    engine = create_engine("guided")
    before = {
        "tiles": TileRefinements.tiles,
        "smoothed": guided_module.smoothed_band_alpha,
        "crisp": guided_module.crisp_edge,
        "write": run.write_image,
        "prepare": FramePreparer.prepare,
    }
    with pytest.raises(RuntimeError, match="midway"), stage_times.timed_stages(engine) as timers:
        assert TileRefinements.tiles is not before["tiles"] and "fuse_window" in vars(engine)
        assert {"TileRefinements.tiles", "smoothed_band_alpha", "write_image"} <= set(timers.stages)
        raise RuntimeError("midway")
    after = {
        "tiles": TileRefinements.tiles,
        "smoothed": guided_module.smoothed_band_alpha,
        "crisp": guided_module.crisp_edge,
        "write": run.write_image,
        "prepare": FramePreparer.prepare,
    }
    assert after == before and "fuse_window" not in vars(engine)


class _Event:
    def __init__(self, key, count, self_seconds):
        self.key, self.count, self.self_device_time_total = key, count, self_seconds * 1e6


class _Profiler:
    """What torch.profiler's key_averages gives for a convolution: the Python-level operator, the
    operators it calls (no GPU time of their own) and its kernel."""

    def key_averages(self):
        return [
            _Event("aten::conv2d", 4, 0.0),
            _Event("aten::cudnn_convolution", 4, 0.0),
            _Event("sm90_conv_kernel", 4, 0.2),
            _Event("aten::add", 4, 0.05),
        ]


def test_the_gpus_operators_are_counted_once_each():
    """Each operator's own kernels: a convolution's time is not repeated by the operators above it."""
    operators = stage_times._gpu_operators(_Profiler())
    assert operators[0] == ("all", 8, pytest.approx(0.25))
    assert [name for name, _, _ in operators[1:]] == ["sm90_conv_kernel", "aten::add"]


def test_the_engines_at_one_size_share_one_shot(tmp_path, monkeypatch):
    """A 4K shot takes most of a minute to make: every engine at a size runs on the same one."""
    made = []
    write_shot = stage_times.write_shot

    def counted(*args, **kwargs):
        made.append(args[1:3])
        return write_shot(*args, **kwargs)

    monkeypatch.setattr(stage_times, "write_shot", counted)
    argv = ["--engine", "hard,feather", "--sizes", "160x96,96x64", "--frames", "2"]
    assert stage_times.main([*argv, "--json", str(tmp_path / "runs.json")]) == 0
    assert made == [(160, 96), (96, 64)]
    assert '"engine": "feather"' in (tmp_path / "runs.json").read_text()


def test_a_gpu_this_machine_lacks_is_refused_before_a_shot_is_made(monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: the run would use it")
    made = []
    monkeypatch.setattr(stage_times, "write_shot", lambda *args: made.append(args))
    assert stage_times.main(["--device", "cuda", "--engine", "guided", "--sizes", "160x96"]) == 2
    assert "no CUDA GPU is available here" in capsys.readouterr().err and not made
    with pytest.raises(SystemExit):
        stage_times.main(["--sizes", "1920"])
    assert "write WIDTHxHEIGHT" in capsys.readouterr().err


def test_only_the_engines_stages_wait_for_the_device_and_a_warm_up_goes_untimed(monkeypatch):
    """On a GPU each stage waited for the device before and after it, the readers' and the writer's
    too (on threads of their own: their figures took the engine's GPU work, and the read-ahead
    stalled); and the timed run paid the device's first use. A counting wait stands in for the
    GPU's, on the CPU."""
    import threading

    waits, lock = [], threading.Lock()

    def wait():
        with lock:
            waits.append(threading.current_thread().name)

    monkeypatch.setattr(stage_times, "_gpu_synchronize", lambda device: wait)
    shots = []
    run_shot = stage_times.run_shot
    monkeypatch.setattr(
        stage_times, "run_shot", lambda spec, **kw: shots.append(spec) or run_shot(spec, **kw)
    )
    run = stage_times.measure("guided", 160, 96, frames=4, warm_up=True, profile=False)
    stages = {stage.name: stage for stage in run.stages}
    engine_calls = sum(stages[path].calls for _, path, _ in stage_times.ENGINE_STAGES if path in stages)
    assert len(waits) == 2 * engine_calls and stages["write_image"].calls == 4
    assert not any(name.startswith("movingcolor-") for name in waits), set(waits)  # no reader, no writer
    # The warm-up shot first, small; the stages are the timed shot's alone.
    assert len(shots) == 2 and "warm-up" in shots[0].plate and "warm-up" not in shots[1].plate
    assert stages["fuse_window"].calls == 4
