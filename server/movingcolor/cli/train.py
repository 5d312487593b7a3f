"""``movingcolor train``: train (or resume) a run, optionally export a model folder."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from ..errors import MovingColorError

#: The configurations shipped with the package (read by name, without importing the trainer).
_BUILT_IN_CONFIGS = Path(__file__).resolve().parents[1] / "training" / "configs"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "train",
        help="train the network (self-supervised), resumable",
        description="Train on generated clips (random grades, random mattes), and on real footage "
        "where the config lists clip folders (clip_folders: frames/ and mask/ of one mask per frame). "
        "A run folder resumes where its checkpoint left off.",
    )
    parser.add_argument(
        "--config",
        default="lite-cpu",
        help="a TOML file or a built-in config name ("
        + ", ".join(sorted(p.stem for p in _BUILT_IN_CONFIGS.glob("*.toml")))
        + ") (default: %(default)s)",
    )
    parser.add_argument("--out", required=True, help="run folder (checkpoint, losses.csv, validation.csv)")
    parser.add_argument("--steps", type=int, help="stop at this step (default: the config's)")
    parser.add_argument(
        "--minutes", type=float, help="stop after this many minutes (a checkpoint is written)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="processes that make training batches ahead of the steps (default: none on the CPU, "
        "where the network uses every core; on a GPU every core but two). The run is the same "
        "with any number",
    )
    parser.add_argument("--export", help="after training, write a model folder here")
    parser.add_argument(
        "--name",
        help="with --export: the exported model's name, which every frame it fuses records (default: the "
        "config's name; where that names an installed model of other weights, as a fine-tune of the "
        "shipped model's config does, the export folder's name instead: frames never claim a model "
        "that did not make them)",
    )
    parser.add_argument(
        "--best", action="store_true", help="with --export: export the best validated weights, not the last"
    )
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..optional import server_extra

    # Before the trainer's modules, which import torch as they load: the base install (a host's
    # or farm node's) gets the install command, not a traceback.
    server_extra("torch", "training", "torch")
    from ..model.checkpoint import check_model_folder_target
    from ..training.config import HEAD_SETTINGS, TrainConfig
    from ..training.export import export_model
    from ..training.trainer import Trainer

    if args.minutes is not None and not args.minutes > 0:
        raise MovingColorError(f"--minutes {args.minutes:g}: give the minutes to train, more than 0")
    if args.steps is not None and args.steps < 1:
        raise MovingColorError(f"--steps {args.steps}: give the step to stop at, 1 or more")
    if (args.best or args.name) and not args.export:
        given = " and ".join(flag for flag, value in (("--best", args.best), ("--name", args.name)) if value)
        raise MovingColorError(f"{given} choose what --export writes: give --export FOLDER too")
    config = TrainConfig.load(args.config)
    if args.steps is not None and args.steps > config.steps:
        raise MovingColorError(
            f"--steps {args.steps} is past the config's {config.steps} steps: a run is as long as its "
            f"config says (its learning rate's schedule follows it); train a config with more steps "
            f"into another --out"
        )
    if args.export:
        # Before the training, not after it: a refused export must not waste a run.
        run_folder, export_folder = Path(args.out).resolve(), Path(args.export).resolve()
        if run_folder == export_folder or export_folder in run_folder.parents:
            raise MovingColorError(
                f"--export {args.export} holds the run folder {args.out}: writing the model there would "
                f"replace the run; export the model elsewhere"
            )
        check_model_folder_target(args.export)
        export_name = _export_name(args.name, config.name, Path(args.export))
    try:
        if not Path(args.out).exists():  # a file there is named as one by the trainer
            Path(args.out).mkdir(parents=True)
    except OSError as error:
        raise MovingColorError(
            f"cannot make the run folder {args.out} ({error.strerror or error}); give --out a folder "
            f"you can write"
        ) from None
    trainer = Trainer(config, Path(args.out), args.workers)  # a checkpoint a kill set aside is back
    saved = trainer.checkpoint / "trainer.json"
    if saved.exists():
        try:
            previous = TrainConfig.from_dict(json.loads(saved.read_text())["config"], str(saved))
        except (ValueError, KeyError, TypeError) as error:
            raise MovingColorError(
                f"{saved} is damaged ({error}); restore the run folder from a copy, or train into "
                f"another --out"
            ) from None
        # A head setting the config leaves unset is the run's as it started (a run recorded before
        # such settings could be unset holds the values it took).
        unset = {name: getattr(previous, name) for name in HEAD_SETTINGS if getattr(config, name) is None}
        if previous != dataclasses.replace(config, **unset):
            before, now = previous.to_dict(), dataclasses.replace(config, **unset).to_dict()
            differing = sorted(key for key in before.keys() | now.keys() if before.get(key) != now.get(key))
            raise MovingColorError(
                f"{args.out} holds a run with a different configuration ({', '.join(differing)} "
                f"differ); resume it with the same --config or train into another --out"
            )
        trainer.resume()
        print(f"resuming {args.out} at step {trainer.step}", flush=True)
        if args.steps is not None and args.steps <= trainer.step:
            print(f"the run is at step {trainer.step} already, past --steps {args.steps}: no step to make")
    else:
        removed = trainer.clear_unfinished_start()
        if removed:
            print(
                f"starting {args.out} afresh: removed {', '.join(removed)} of a run that stopped before "
                f"its first checkpoint",
                flush=True,
            )

    shown = [time.monotonic()]

    def progress(step: int, values: dict) -> None:
        # Every tenth step, and at least every ten seconds: a CPU step can take that long.
        if step % 10 == 0 or time.monotonic() - shown[0] >= 10.0:
            shown[0] = time.monotonic()
            parts = " ".join(f"{k}={v:.4f}" for k, v in values.items())
            print(f"step {step}/{config.steps} {parts}", flush=True)

    step = trainer.train(args.steps, args.minutes, progress)
    if not trainer.has_checkpoint:
        # No step was made (--minutes ran out before the first): nothing trained, nothing to export.
        raise MovingColorError(
            f"{args.out}: no training step was made, so there is no checkpoint and nothing to export; "
            f"give more --minutes (a step on a CPU can take tens of seconds)"
        )
    print(f"checkpoint at step {step}: {trainer.checkpoint}", flush=True)
    if args.export:
        if args.best and (trainer.run / "best" / "best.json").exists():
            trainer.exported_step = trainer.load_best()
            print(f"exporting the best validated weights (step {trainer.exported_step})", flush=True)
        elif args.best:
            print(
                f"movingcolor: warning: --best: {args.out} has no validated weights yet (the config "
                f"validates every {config.validate_every} steps); exporting the last weights",
                file=sys.stderr,
                flush=True,
            )
        from ..bench.report import cpu_name

        hardware = f"{cpu_name()}, {os.cpu_count()} cores" if trainer.device == "cpu" else trainer.device
        folder = export_model(trainer, Path(args.export), export_name, hardware)
        print(f"exported model: {folder}")
    return 0


def _export_name(given: str | None, configured: str, folder: Path) -> str:
    """The exported model's name: ``given`` (--name), else the config's, else, where the config's
    names an installed model in another folder (a fine-tune of the shipped model keeps its config's
    name), the export folder's: every frame the model fuses records its name, and a frame must not
    claim a model it was not made by."""
    from ..model.registry import model_folders

    installed = model_folders()
    folder = folder.expanduser().resolve()

    def elsewhere(name: str) -> bool:
        return name in installed and installed[name].resolve() != folder

    name = given or configured
    if not elsewhere(name):
        return name
    if given:
        print(
            f"movingcolor: warning: --name {given} is the name of the installed model {installed[name]}, "
            f"which has other weights: frames fused by either will record the same model",
            file=sys.stderr,
            flush=True,
        )
        return given
    if elsewhere(folder.name):
        raise MovingColorError(
            f"the config's name {configured} and the export folder's name {folder.name} both name "
            f"installed models of other weights, which the frames this model fuses would claim: give "
            f"--name NAME"
        )
    print(
        f"movingcolor: the config's name {configured} is the installed model {installed[name]}'s, which "
        f"has other weights: the exported model is named {folder.name}, after its folder (give --name "
        f"to name it otherwise)",
        file=sys.stderr,
        flush=True,
    )
    return folder.name
