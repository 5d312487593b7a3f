"""``movingcolor demo``: write the procedural shot, fuse it with each engine, and show the
result as a colorist would look at it: a labelled contact sheet with zooms on the edge, a
temporal strip across the edge, and a before/after movie."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..color.config import ColorConfig
from ..engines.registry import require_engine
from ..errors import MissingDependencyError
from ..frames.image_io import read_pixels, write_image
from ..frames.sequence import SequencePattern
from ..jobs import ShotReport, ShotSpec, run_shot
from ..jobs.demo_shot import DEMO_BAND, DEMO_GRADE, FIRST_FRAME, write_shot_files
from ..synthetic import generate_shot
from .contact_sheet import contact_sheet_picture
from .edge_track import EdgeTrack, track_left_edge
from .movie import movie_frames, write_movie
from .temporal_strip import HALF_WIDTH, edge_strip, temporal_strip_picture

log = logging.getLogger("movingcolor")

# Shown beside the chosen engine, so the sheet answers "compared with what?"; each costs
# about a tenth of the network's time on the demo shot.
BASELINE_ENGINES = ("hard", "feather", "guided")
COLUMN_LABELS = {"plate": "plate (ungraded)", "hard": "hard composite"}


@dataclass
class DemoResult:
    folder: Path
    contact_sheet: Path
    hard: ShotReport
    fused: ShotReport
    temporal_strip: Path
    #: None on the light install, which has no PyAV to write it.
    movie: Path | None
    reports: dict[str, ShotReport] = field(default_factory=dict)


def _remove_later_frames(folder: Path, frames: int, engines: tuple[str, ...]) -> None:
    """Remove the frames an earlier, longer demo left in ``folder`` past this one's last frame: the
    demo's own sequences there would otherwise hold two shots, and a fuse of the folder's plate
    (as the quickstart does next) would run across the join."""
    sequences = ["plate/plate.####.exr", "matte/matte.####.png", *(f"{e}/{e}.####.exr" for e in engines)]
    for text in sequences:
        pattern = SequencePattern.parse(folder / text)
        if not pattern.directory.is_dir():
            continue
        for number in pattern.frames_on_disk():
            if number >= FIRST_FRAME + frames:
                pattern.path(number).unlink(missing_ok=True)


def display_frames(paths: list[str], colorspace: str, config: ColorConfig) -> np.ndarray:
    """``(T, H, W, 3)`` float32: the frames at ``paths``, sRGB-encoded for viewing, 0..1."""
    frames = [config.convert(read_pixels(Path(p))[:, :, :3], colorspace, config.srgb_encoded) for p in paths]
    return np.clip(np.stack(frames), 0.0, 1.0)


def run_demo(
    folder: Path, engine: str = "guided", frames: int = 16, progress: Callable | None = None
) -> DemoResult:
    """Write the shot into ``folder``, fuse it with the baselines and ``engine``
    (``progress`` follows ``engine``'s frames), and write the pictures and the movie."""
    folder = Path(folder)
    require_engine(engine)  # before any work is done
    shot = generate_shot(frames=frames)
    engines = tuple(dict.fromkeys((*BASELINE_ENGINES, engine)))
    _remove_later_frames(folder, frames, engines)
    plate, matte = write_shot_files(folder, shot)
    # The shot's own frames: a folder of an earlier, longer demo still holds its later frames.
    shot_frames = f"{FIRST_FRAME}-{FIRST_FRAME + frames - 1}"
    common = dict(plate=plate, matte=matte, grade=DEMO_GRADE, band=DEMO_BAND, frames=shot_frames)
    reports: dict[str, ShotReport] = {}
    for name in engines:
        spec = ShotSpec(out=str(folder / name / f"{name}.####.exr"), engine=name, **common)
        reports[name] = run_shot(spec, progress if name == engine else None)
    fused = reports[engine]
    config = ColorConfig()
    plate_paths = [plate.replace("####", f"{FIRST_FRAME + t:04d}") for t in range(frames)]
    views = {COLUMN_LABELS["plate"]: display_frames(plate_paths, fused.colorspaces["plate"], config)}
    for name, report in reports.items():
        views[COLUMN_LABELS.get(name, name)] = display_frames(
            report.written, report.colorspaces["output"], config
        )
    # The fused column beside the hard composite; the hard composite beside guided when it is the
    # fused column (beside itself, no difference places the zooms).
    pair = (COLUMN_LABELS["hard"], COLUMN_LABELS.get(engine, engine))
    if engine == "hard":
        pair = (COLUMN_LABELS.get("guided", "guided"), COLUMN_LABELS["hard"])
    track = track_left_edge(shot.alpha)
    return DemoResult(
        folder,
        _write_contact_sheet(folder / "contact_sheet.png", views, pair),
        reports["hard"],
        fused,
        _write_temporal_strip(folder / "temporal_strip.png", views, track),
        _write_movie(folder / "before_after.mp4", views, pair, track),
        reports,
    )


def _write_contact_sheet(path: Path, views: dict[str, np.ndarray], pair: tuple[str, str]) -> Path:
    count = len(next(iter(views.values())))
    picks = sorted({0, count // 2, count - 1})
    title = (
        f"A generated shot, graded through a coarse matte that chatters from frame to frame; "
        f"edge band {DEMO_BAND} px.\nWhite boxes: the zoom beneath, placed where {pair[0]} and "
        f"{pair[1]} differ most."
    )
    write_image(path, contact_sheet_picture(views, picks, FIRST_FRAME, pair, title=title))
    return path


def _write_temporal_strip(path: Path, views: dict[str, np.ndarray], track: EdgeTrack) -> Path:
    strips = {label: edge_strip(frames, track) for label, frames in views.items()}
    title = (
        f"Temporal strip: {2 * HALF_WIDTH} pixels of row {track.row} across the object's left edge, "
        "each frame's line held on the true edge.\nStraight lines: a steady edge. Ragged lines: flicker."
    )
    write_image(path, temporal_strip_picture(strips, COLUMN_LABELS["plate"], FIRST_FRAME, title=title))
    return path


def _write_movie(
    path: Path, views: dict[str, np.ndarray], pair: tuple[str, str], track: EdgeTrack
) -> Path | None:
    pictures = movie_frames((pair[0], views[pair[0]]), (pair[1], views[pair[1]]), track, FIRST_FRAME)
    try:
        write_movie(path, pictures)
    except MissingDependencyError as error:
        log.warning("no before/after movie: %s", error)
        return None
    return path
