"""A shot run from files to files (the CLI, a farm node, RunJob): each frame written atomically.

Every source is validated before the first frame is written (see ``plan``), so an
interrupted run leaves only whole frames; a rerun keeps the frames already written
for the same inputs and settings.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path

from ..engines import Engine
from ..errors import FRAMES_WRITTEN, MovingColorError
from ..frames.image_io import file_samples, write_image
from ..frames.output_claim import claim_output
from ..frames.output_pattern import note_frames_written, prepare_folder
from ..frames.replaced_outputs import check_replaced_outputs
from ..frames.temporaries import remove_stale_temporaries
from ..frames.write_behind import WriteBehind
from ..model.device import device_memory_error
from ..spec import ShotReport, ShotSpec
from .headers import FrameHeaders
from .plan import ShotPlan
from .resume import finished_frames
from .runner import fused_frames
from .warnings_said import collected

log = logging.getLogger("movingcolor")

Progress = Callable[[int, int, int], None]


def run_shot(spec: ShotSpec, progress: Progress | None = None, engine: Engine | None = None) -> ShotReport:
    """Fuse the shot ``spec`` describes and write its frames; returns a report."""
    started = time.perf_counter()
    with collected():  # the plan's warnings (its colourspaces') are the run's too
        return run_plan(ShotPlan.files(spec, engine), progress, started)


def run_plan(plan: ShotPlan, progress: Progress | None = None, started: float | None = None) -> ShotReport:
    """Fuse a planned shot and write its frames (``plan.pattern``); closes the plan's sources.
    ``started``: when the work began (``time.perf_counter``), for the report; by default now."""
    with collected() as warnings:
        return _run_plan(plan, progress, started, warnings)


def _run_plan(
    plan: ShotPlan, progress: Progress | None, started: float | None, warnings: list[str]
) -> ShotReport:
    started = time.perf_counter() if started is None else started
    spec, pattern = plan.spec, plan.pattern
    headers = FrameHeaders(plan)
    claim = None
    try:
        check_replaced_outputs(pattern, plan.range, headers.plate, headers.fingerprint, spec.force)
        prepare_folder(pattern, plan.range)
        claim = claim_output(pattern, headers.fingerprint)
        for stale in remove_stale_temporaries(pattern, plan.range):
            log.info("removed %s, left by an earlier run that did not finish", stale.name)
        written: list[str] = []
        finished = finished_frames(plan, headers.fingerprint) if not spec.force else frozenset()
        if finished:
            log.info(
                "%d of %d frames already written for these inputs and settings: skipped "
                "(--force redoes them)",
                len(finished),
                len(plan.range),
            )
        total = len(plan.range) - len(finished)

        def frame_written(number: int, path: Path) -> None:
            written.append(str(path))
            claim.touch()
            if progress:
                progress(len(written), total, number)

        try:
            # Each frame is written while the next is fused.
            # Closed before the plan's sources, so a frame being read ahead is not cut off.
            frames = contextlib.closing(fused_frames(plan.skipping(finished)))
            with WriteBehind(frame_written) as writer, frames as fused_in_order:
                for number, head, fused in fused_in_order:
                    path = pattern.path(number)
                    # Made here, not on the writer's thread: a shot's frames queue for that one.
                    samples = file_samples(fused, path.suffix, spec.exr_type)
                    del fused
                    write = functools.partial(
                        write_image,
                        path,
                        samples,
                        pixel_type=spec.exr_type,
                        compression=spec.compression,
                        attributes=headers.header(number, head),
                    )
                    writer.submit(number, path, write)
                writer.finish()
        except MovingColorError as error:
            note_frames_written(error, written, pattern)
            raise
        except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM (errors.Terminated): what it leaves
            setattr(error, FRAMES_WRITTEN, list(written))
            raise
        except Exception as error:
            out_of_memory = device_memory_error(error)
            if out_of_memory is None:
                raise
            note_frames_written(out_of_memory, written, pattern)
            raise out_of_memory from error
    finally:
        if claim is not None:
            claim.release()
        plan.close()
    return plan.report(
        written,
        time.perf_counter() - started,
        skipped=[str(pattern.path(n)) for n in sorted(finished)],
        warnings=warnings,
    )
