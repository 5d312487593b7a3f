"""``movingcolor bench --suite real-footage``: engines on real footage where the answer is known.

Real DAVIS clips (``real_clips``) with their true object masks M. The truth is the plate
graded through M: in scene-linear light, the graded plate where M is set and the plate
elsewhere, as ``movingcolor fuse --engine hard`` makes it from M (a test holds them equal).
Engines never see M: they get a matte re-drawn from it for every frame (``masks.redrawn``:
a rough key, or a polygon roto), the grade, and a 10% band, and run through ``run_shot``
as ``movingcolor fuse`` would. Scores are in the sRGB-encoded display space (``metrics``):

* **band ΔE00**: the mean CIEDE2000 over the band, per frame, then over frames;
* **temporal error**: E_warp of the error (output minus truth) over the band, ×10³: change
  from frame to frame that the truth does not have.

The band is, per frame, the product's edge band of the given matte (what the engine may
change) united with the same band around M (where the true edge is): a pixel either side of
either edge counts, and every engine is scored on the same pixels. Truth through a binary
mask makes every soft edge pay a little, so each engine's ratio to ``hard`` (its mean over
the same shots divided by hard's) is what to compare.

Beside the tables, a contact sheet per clip and size (``real_footage_sheets``): the rough matte
with the warm grade, three frames cropped around the edge, truth and each engine, and each
engine's per-pixel ΔE00 against the truth.

Run ``python -m movingcolor.bench.real_footage --help`` for clips, frames and sizes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..color.config import ColorConfig, apply_processor
from ..color.grade import parse_grade
from ..errors import MovingColorError
from ..frames.image_io import read_header, read_pixels, write_image
from ..frames.temporaries import write_text_atomic
from ..jobs import ShotSpec, run_shot
from ..masks.band import BandWidth, edge_band
from ..masks.redrawn import MATTE_KINDS, draw_mattes
from . import metrics
from .real_clips import (
    CLIPS_VARIABLE,
    HELD_OUT_CLIPS,
    NATIVE,
    Footage,
    Size,
    davis_clips,
    default_clips_root,
    find_clip,
    load_footage,
    missing_reason,
)
from .real_footage_report import results_json, section
from .real_footage_sheets import SHEET_GRADE, SHEET_MATTE, ContactSheet, sheet_path
from .report import command_of, replace_section

__all__ = ["HELD_OUT_CLIPS", "Shot", "main", "run_real_footage", "truth_frames"]

log = logging.getLogger("movingcolor")

#: The grades applied inside the mask: a warm and a cool CDL.
GRADES = {"warm": "slope=1.15,1.0,0.85;sat=1.1", "cool": "slope=0.9,1.0,1.12;offset=-0.01"}
BAND = "10%"
FRAMES = 12
SIZES = (NATIVE, "1920x1080")
#: Clips per size when none are named: at native size two of the training split and two held
#: out, at 1080p one of each. With the shipped model, a run takes about 25 minutes on two CPU
#: cores, most of it the model's seconds a frame.
DEFAULT_CLIPS = {NATIVE: ("breakdance", "cows", "dog", "parkour"), "1920x1080": ("cows", "dog")}
#: Where the clips are, from a checkout: the shared data folder beside the repository.
#: Where the results go as JSON, relative to the folder of the markdown file.
JSON_PATH = Path("docs") / "benchmarks" / "real_footage.json"


def default_engines() -> list[str]:
    """hard, guided, and the shipped model when one is installed."""
    engines = ["hard", "guided"]
    try:
        from ..model.registry import model_folders

        name = model_folders().default_name
    except ImportError:  # the light install: no torch
        name = None
    return engines + ([f"movingcolor:{name}"] if name else [])


@dataclass
class Shot:
    """One engine on one clip, size, matte and grade, scored."""

    size: str
    clip: str
    held_out: bool
    matte: str
    grade: str
    engine: str
    frames: int
    band_delta_e: float
    temporal_error: float
    seconds_per_frame: float


def plate_colorspace(footage: Footage, config: ColorConfig) -> str:
    """The plate's colourspace as the product chooses it: declared in the header, else by type."""
    header = read_header(footage.files[0])
    return config.choose(None, header.colorspace, header.is_float, "plate").name


def display(pixels: np.ndarray, colorspace: str, config: ColorConfig) -> np.ndarray:
    """``pixels`` in the sRGB-encoded display space the metrics read, clipped to 0..1."""
    return np.clip(config.convert(pixels, colorspace, config.srgb_encoded), 0.0, 1.0)


def truth_frames(
    pixels: np.ndarray, masks: np.ndarray, grade: str, plate_space: str, config: ColorConfig
) -> np.ndarray:
    """The plate ``pixels`` (``(T, H, W, 3)`` in ``plate_space``) graded through the binary
    ``masks``, composited in scene-linear light; returned in the display space."""
    linear = config.scene_linear
    graded = parse_grade(grade, config).processor(config, plate_space, linear, plate_space)
    frames = []
    for plate, mask in zip(pixels, masks, strict=True):
        composite = np.where(
            mask[..., None], apply_processor(graded, plate), config.convert(plate, plate_space, linear)
        )
        frames.append(display(composite, linear, config))
    return np.stack(frames)


def scoring_bands(given: np.ndarray, masks: np.ndarray, band: str = BAND) -> np.ndarray:
    """Per frame, the edge band of the given matte united with the edge band of the true mask."""
    width = BandWidth.parse(band)
    return np.stack(
        [
            edge_band(g.astype(np.float32), width) | edge_band(m.astype(np.float32), width)
            for g, m in zip(given, masks, strict=True)
        ]
    )


def _seed(*parts: object) -> int:
    """A seed that names what it is for: a clip's mattes of one kind are drawn from the same
    numbers at every size (and on every run)."""
    return zlib.crc32("/".join(map(str, parts)).encode())


class EngineRunner:
    """Each engine run on one shot through ``run_shot``, its frames back in the display space."""

    def __init__(self, folder: Path, device: str, config: ColorConfig, band: str = BAND):
        self.folder, self.device, self.config, self.band = folder, device, config, band
        self.count = 0

    def fuse(self, label: str, footage: Footage, matte: str, grade: str) -> tuple[np.ndarray, float, str]:
        """(frames ``(T, H, W, 3)``, seconds per frame, the plate colourspace the run chose)."""
        from .fusion import make_engine

        self.count += 1
        folder = self.folder / f"run{self.count}"
        report = run_shot(
            ShotSpec(
                plate=footage.plate,
                matte=matte,
                grade=grade,
                band=self.band,
                frames=footage.frames,
                out=str(folder / "f.#####.exr"),
                engine=label.split(":")[0],
                exr_type="float",
            ),
            engine=make_engine(label, self.device),
        )
        output = report.colorspaces["output"]
        frames = np.stack(
            [display(read_pixels(Path(p))[..., :3], output, self.config) for p in report.written]
        )
        shutil.rmtree(folder)  # float EXRs at 1080p fill gigabytes over a run
        return frames, report.seconds / len(report.written), report.colorspaces["plate"]


def score_clip(
    footage: Footage,
    engines: list[str],
    runner: EngineRunner,
    folder: Path,
    say: Callable[[str], None],
) -> tuple[list[Shot], ContactSheet | None]:
    """Every engine on one clip at one size: each matte kind, each grade; and the contact sheet
    of the ``SHEET_MATTE`` matte with the ``SHEET_GRADE`` grade."""
    config = runner.config
    space = plate_colorspace(footage, config)
    plates = display(footage.pixels, space, config)
    flows = metrics.input_flows(plates)
    shots = []
    sheet = None
    for kind in MATTE_KINDS.values():
        mattes = draw_mattes(kind, footage.masks, _seed(footage.clip.name, kind.name), footage.factor)
        matte_folder = folder / kind.name
        matte_folder.mkdir(parents=True, exist_ok=True)
        for number, matte in zip(footage.numbers, mattes, strict=True):
            write_image(
                matte_folder / f"matte.{number:05d}.png", matte[..., None].astype(np.float32), channels=("Y",)
            )
        bands = scoring_bands(mattes, footage.masks, runner.band)
        for grade_name, grade in GRADES.items():
            truth = truth_frames(footage.pixels, footage.masks, grade, space, config)
            pictured = kind.name == SHEET_MATTE and grade_name == SHEET_GRADE
            if pictured:
                sheet = ContactSheet.start(
                    footage.size.label, footage.clip.name, footage.numbers, truth, bands
                )
            for label in engines:
                say(
                    f"{footage.size.label} {footage.clip.name}, {kind.name} matte, "
                    f"{grade_name} grade: {label}"
                )
                outputs, seconds, chosen = runner.fuse(
                    label, footage, str(matte_folder / "matte.#####.png"), grade
                )
                if chosen != space:
                    raise MovingColorError(
                        f"the truth took the plate as {space} but {label} as {chosen}: the truth must "
                        f"follow the product's choice of the plate's colourspace (plate_colorspace())"
                    )
                if pictured:
                    sheet.add(label, outputs)
                shots.append(
                    Shot(
                        size=footage.size.label,
                        clip=footage.clip.name,
                        held_out=footage.clip.held_out,
                        matte=kind.name,
                        grade=grade_name,
                        engine=label,
                        frames=len(footage.numbers),
                        band_delta_e=statistics.mean(
                            metrics.delta_e2000(o, t, b)
                            for o, t, b in zip(outputs, truth, bands, strict=True)
                        ),
                        temporal_error=1000 * metrics.flow_warping_error(outputs - truth, flows, bands),
                        seconds_per_frame=seconds,
                    )
                )
    return shots, sheet


def run_real_footage(
    root: Path,
    clips_by_size: dict[str, list[str]],
    frames: int = FRAMES,
    engines: list[str] | None = None,
    device: str = "auto",
    progress: Callable[[str], None] | None = None,
    band: str = BAND,
) -> tuple[list[Shot], list[ContactSheet]]:
    """Every engine on every named clip at each size (``native`` or ``WxH``) with a ``band`` band
    (``movingcolor fuse --band``), and a contact sheet per clip and size; raises
    MovingColorError when the clips are missing (``missing_reason`` says why first)."""
    reason = missing_reason(root)
    if reason:
        raise MovingColorError(reason)
    engines = engines or default_engines()
    say = progress or (lambda message: log.info("%s", message))
    config = ColorConfig()
    shots: list[Shot] = []
    sheets: list[ContactSheet] = []
    logger = logging.getLogger("movingcolor")
    level = logger.level
    with tempfile.TemporaryDirectory(prefix="movingcolor-real-") as scratch:
        runner = EngineRunner(Path(scratch) / "runs", device, config, band)
        logger.setLevel(max(level, logging.WARNING))  # run_shot's per-shot logs would drown the progress
        try:
            for size_text, names in clips_by_size.items():
                size = Size.parse(size_text)
                for name in names:
                    folder = Path(scratch) / "inputs" / size.label / name
                    footage = load_footage(find_clip(root, name), frames, size, folder)
                    clip_shots, sheet = score_clip(footage, engines, runner, folder, say)
                    shots += clip_shots
                    sheets += [sheet] if sheet else []
        finally:
            logger.setLevel(level)
    return shots, sheets


def clips_for_sizes(root: Path, sizes: list[str], clips: str | None) -> dict[str, list[str]]:
    """The clips to run at each size: ``clips`` (names, comma-separated, or ``all`` for every
    davis480 clip) at every size, else ``DEFAULT_CLIPS`` (its native choice for other sizes)."""
    if clips == "all":
        names = davis_clips(root)
        return {size: names for size in sizes}
    if clips:
        names = [name.strip() for name in clips.split(",") if name.strip()]
        return {size: names for size in sizes}
    return {size: list(DEFAULT_CLIPS.get(Size.parse(size).label, DEFAULT_CLIPS[NATIVE])) for size in sizes}


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=default_clips_root(),
        help=f"folder holding davis480/ (default: ${CLIPS_VARIABLE}, else ../shared/data/clips beside "
        "a checkout)",
    )
    defaults = "; ".join(f"{size}: {', '.join(names)}" for size, names in DEFAULT_CLIPS.items())
    parser.add_argument(
        "--clips",
        help="clip names, comma-separated, or 'all' (every davis480 clip), at every size "
        f"(default: {defaults})",
    )
    parser.add_argument(
        "--frames", type=int, default=FRAMES, help="first frames of each clip (default: %(default)s)"
    )
    parser.add_argument(
        "--sizes", default=",".join(SIZES), help="native and/or WxH, comma-separated (default: %(default)s)"
    )
    parser.add_argument("--engines", help="comma-separated (default: hard, guided and the shipped model)")
    parser.add_argument(
        "--band",
        default=BAND,
        help="the band every engine gets and the shots are scored in, as movingcolor fuse --band takes "
        "it (default: %(default)s of the object's size)",
    )
    parser.add_argument(
        "--device", default="auto", help="for the model: auto, cpu, cuda (default: %(default)s)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("BENCHMARKS.md"), help="markdown file (default: %(default)s)"
    )
    parser.add_argument("--json", type=Path, help=f"results as JSON (default: {JSON_PATH} beside --out)")
    return parser


def main(
    argv: list[str] | None = None,
    prog: str = "python -m movingcolor.bench.real_footage",
    names: dict[str, str] | None = None,
) -> int:
    """Run the suite and write its section into ``--out`` and its JSON; with the clips missing,
    say why and skip (exit 0, nothing written). ``prog`` and ``names``: the command the section
    names, and what it calls the options (``movingcolor bench`` takes the root as ``--clips``)."""

    parser = _parser(prog)
    args = parser.parse_args(argv)
    if args.frames < 2:
        parser.error("--frames must be 2 or more: the temporal error compares consecutive frames")
    reason = missing_reason(args.root, "--" + (names or {}).get("root", "root"))
    if reason:
        print(f"real footage: skipped: {reason}", file=sys.stderr)
        return 0
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    try:  # a bad size, clip name or frame count is refused before anything runs
        clips = clips_for_sizes(args.root, sizes, args.clips)
        for size, named in clips.items():
            Size.parse(size)
            for name in named:
                if len(find_clip(args.root, name).frames) < args.frames:
                    raise MovingColorError(
                        f"clip {name!r} has fewer than {args.frames} frames: lower --frames"
                    )
        BandWidth.parse(args.band)
    except MovingColorError as error:
        parser.error(str(error))
    engines = args.engines.split(",") if args.engines else default_engines()
    try:  # an engine's name or model is checked before a clip is read
        from .fusion import make_engine

        for label in dict.fromkeys(engines):
            make_engine(label, args.device)
    except MovingColorError as error:
        parser.error(str(error))
    started = time.perf_counter()
    shots, sheets = run_real_footage(
        args.root,
        clips,
        args.frames,
        engines,
        args.device,
        progress=lambda message: print(f"real footage: {message}", file=sys.stderr, flush=True),
        band=args.band,
    )
    options = ("root", "clips", "frames", "sizes", "engines", "band", "device", "out")
    command = command_of(prog, parser, args, options, names)
    json_path = args.json or args.out.parent / JSON_PATH
    relative = (
        json_path.relative_to(args.out.parent) if json_path.is_relative_to(args.out.parent) else json_path
    )
    settings = {
        "frames": args.frames,
        "band": args.band,
        "grades": GRADES,
        "mattes": {name: dataclasses.asdict(kind) for name, kind in MATTE_KINDS.items()},
        "clips": clips,
        "engines": engines,
        "held_out": list(HELD_OUT_CLIPS),
        "seconds": round(time.perf_counter() - started, 1),
    }
    records = []
    for sheet in sheets:
        path = sheet_path(sheet.size, sheet.clip)
        sheet.write(args.out.parent / path)
        records.append(sheet.record(path.as_posix()))
    replace_section(args.out, section(shots, command, settings, str(relative), records))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(json_path, json.dumps(results_json(shots, command, settings, records), indent=2) + "\n")
    print(f"wrote {args.out}, {json_path} and {len(records)} contact sheets", file=sys.stderr)
    return 0


def run_from_bench(args: argparse.Namespace) -> int:
    """``movingcolor bench --suite real-footage``: its --out, --device, --engines, and --clips as
    the clips folder; clips, frames and sizes at their defaults."""
    argv = ["--out", str(args.out), "--device", args.device]
    argv += ["--root", args.clips] if args.clips else []
    argv += ["--engines", args.engines] if args.engines else []
    return main(argv, prog="movingcolor bench --suite real-footage", names={"root": "clips"})


if __name__ == "__main__":
    sys.exit(main())
