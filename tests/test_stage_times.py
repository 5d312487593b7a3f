"""The stage-times benchmark: one real run with each stage of the pipeline and the engine timed."""

from __future__ import annotations

import pytest
from movingcolor.bench import stage_times
from movingcolor.jobs import composite
from movingcolor.jobs.prepare import FramePreparer


def test_a_guided_run_times_its_stages_and_leaves_the_code_as_it_was(tmp_path):
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
    assert all(stage.wall_seconds > 0 for stage in stages.values())
    assert run.seconds > stages["fuse_window"].wall_seconds
    # The wrappers are gone: a later run in this process is not timed.
    assert FramePreparer.prepare is prepare and composite.composite is blend


def test_the_network_run_times_its_forward_and_the_section_is_written(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\n## Other\n\nkept\n")
    argv = ["--engine", "movingcolor", "--size", "160x96", "--frames", "3", "--out", str(out)]
    assert stage_times.main(argv) == 0
    text = out.read_text()
    assert "## Other\n\nkept" in text
    assert stage_times.SECTION in text
    assert "python -m movingcolor.bench.stage_times --size 160x96 --frames 3" in text
    rows = {line.split("|")[1].strip(" `"): line for line in text.splitlines() if line.startswith("| `")}
    assert "_run_network" in rows and "_inputs" in rows and "write_image" in rows


def test_an_unknown_engine_is_refused_before_anything_runs(capsys):
    with pytest.raises(SystemExit):
        stage_times.main(["--engine", "guided,blur"])
    assert "engine blur is not known" in capsys.readouterr().err
