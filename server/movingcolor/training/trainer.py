"""``movingcolor train``: seeded, resumable training in segments.

A run folder holds ``checkpoint/`` (generator and discriminator weights, optimiser
state split into files of at most 16 MiB, and ``trainer.json`` with the step and the
configuration), ``losses.csv`` and ``validation.csv`` (and the same curves under
``tensorboard/`` where TensorBoard is installed). A segment ends with a
checkpoint whatever stops it (its step budget, its time budget, Ctrl-C), and the
next segment resumes from it: batches are a pure function of ``(seed, step)``, so a
resumed run continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import importlib.util
import io
import json
import logging
import math
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import MovingColorError, Terminated
from ..folder_swap import replace_folder, restore_folder
from ..frames.temporaries import write_text_atomic
from ..model.channels import EDITED_OUTSIDE_BAND, GRADED, MATTE, PLATE
from ..model.checkpoint import load_checkpoint
from ..model.device import resolve_device
from ..model.network import MovingColorNet
from ..model.registry import create_network, find_model, network_config
from .batch_prefetch import BatchPrefetcher, default_workers
from .config import HEAD_SETTINGS, TrainConfig
from .data import Batch, make_batch
from .edge_curve import steepened
from .losses import (
    TemporalPatchDiscriminator,
    band_l1,
    hinge_discriminator_loss,
    hinge_generator_loss,
    temporal_l1,
    texture_loss,
)
from .tensorboard_log import TensorBoardLog

log = logging.getLogger("movingcolor")

PART_BYTES = 16 * 2**20 - 4096  # files of at most 16 MiB
VALIDATION_SEED_OFFSET = 1_000_003
#: Where a checkpoint is written before it is swapped in (a name the swap's own never takes).
STAGING_PREFIX = ".checkpoint-staging."
BEST_STAGING_PREFIX = ".best-staging."
#: A run folder's marker, written before anything else of the run, and what a run that never
#: reached its first checkpoint leaves there (removed when it is started afresh).
RUN_MARKER = ".movingcolor-run"
RUN_FILES = ("losses.csv", "validation.csv", "best", "tensorboard")
LOSS_COLUMNS = ["step", "alpha", "rgb", "temporal", "texture", "gan", "total", "discriminator", "seconds"]


def _save_split(state: dict, folder: Path, stem: str) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    for index in range(0, max(len(data), 1), PART_BYTES):
        (folder / f"{stem}.part{index // PART_BYTES:03d}").write_bytes(data[index : index + PART_BYTES])


def _load_split(folder: Path, stem: str, device: str) -> dict:
    parts = sorted(folder.glob(f"{stem}.part*"))
    try:
        if not parts:
            raise EOFError(f"no {stem}.part000")
        data = b"".join(p.read_bytes() for p in parts)
        return torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as error:  # torch's unpickler fails on damaged bytes with any error at all
        raise MovingColorError(
            f"{folder} is damaged: its {stem} cannot be read ({error}); restore the run folder from a "
            f"copy, or train into another --out"
        ) from None


class Trainer:
    def __init__(self, config: TrainConfig, run: Path, workers: int | None = None):
        """``workers``: processes that make the training batches ahead of the steps (0: each batch
        is made in this process when its step needs it; the run is the same either way; ``None``:
        :func:`.batch_prefetch.default_workers` for the device)."""
        self.config = config
        self.run = Path(run)
        if self.run.exists() and not self.run.is_dir():
            raise MovingColorError(f"{self.run} is a file; give a folder for the run (--out)")
        try:
            self.device = resolve_device(config.device)
        except MovingColorError as error:
            # The device is the config's setting, not a command-line option here.
            raise MovingColorError(
                f"the config's device {config.device!r} cannot be used here ({error}); set device = "
                f'"cpu" or "auto" in the config'
            ) from None
        self.workers = default_workers(self.device) if workers is None else workers
        if self.workers < 0:
            raise MovingColorError(f"workers must be 0 or more, not {self.workers}")
        torch.manual_seed(config.seed)
        # A run that resumes takes every weight, and its heads' settings, from its checkpoint: the
        # model it started from need not be installed where a later segment runs.
        restore_folder(self.checkpoint)
        #: The heads whose last layer restarted at zero, each with why (the model card says so).
        self.restarted_heads: list[str] = []
        recorded = self._recorded_start()
        run_as = config.with_heads(self._start_heads(config, recorded))
        self.network = create_network(
            config.network,
            matte_start=run_as.matte_start,
            color_start=run_as.color_start,
            edge_contrast=run_as.edge_contrast,
            coarse_matte_input=config.coarse_matte_input,
        ).to(self.device)
        if config.init and not self.has_checkpoint:
            self._start_from(config.init)
        else:
            self.restarted_heads = list(recorded.get("restarted_heads", []))
        self.frozen = self._freeze(config.train_only)
        self.optimiser = torch.optim.AdamW(
            [p for p in self.network.parameters() if p.requires_grad],
            lr=config.learning_rate,
            betas=(0.9, 0.99),
        )
        self.discriminator = None
        if config.gan_weight > 0:
            self.discriminator = TemporalPatchDiscriminator().to(self.device)
            self.d_optimiser = torch.optim.Adam(
                self.discriminator.parameters(), lr=config.learning_rate, betas=(0.5, 0.99)
            )
        self.step = 0
        #: The step of the checkpoint on disk (None before the first).
        self._saved_step: int | None = None
        self.exported_step: int | None = None
        #: Whether a step's weight updates are under way (a checkpoint then would hold half a step).
        self._updating = False
        #: The stop requests of the segment under way (a validation gives up when one comes).
        self._stopping: _StopAtStepEnd | None = None
        self._colour = None
        self._prefetcher: BatchPrefetcher | None = None
        self._validation: list[Batch] | None = None

    def _start_from(self, model: str) -> None:
        """Start from a trained model's weights (fine-tuning); resuming a run overrides them."""
        loaded = load_checkpoint(find_model(model), self.device).network
        if loaded.config.name != self.network.config.name:
            raise MovingColorError(
                f"init model {model!r} is a {loaded.config.name!r} network; this run trains "
                f"{self.network.config.name!r}: pick a model of the same configuration"
            )
        if loaded.config.coarse_matte_input and not self.network.config.coarse_matte_input:
            raise MovingColorError(
                f"init model {model!r} reads the coarse matte as an input; this run's network does "
                f"not: set coarse_matte_input = true in the training config"
            )
        self.network.load_state_dict(_widened(loaded.state_dict(), self.network.state_dict()))
        starts = {"blend_decoder": ("blend", "matte_start"), "color_decoder": ("colour", "color_start")}
        for name, (head_name, setting) in starts.items():
            theirs, ours = getattr(loaded.config, setting), getattr(self.network.config, setting)
            if theirs == ours:
                continue
            head = getattr(self.network, name).head
            torch.nn.init.zeros_(head.weight)
            torch.nn.init.zeros_(head.bias)
            why = f"{head_name} head re-initialised: {setting} {ours!r}, the model's {theirs!r}"
            self.restarted_heads.append(why)
            log.warning(
                "init model %s: the config sets %s = %r where the model's is %r, so the %s head's last "
                "layer restarts at zero (step 0 returns the %s start, not the model's trained head); "
                "leave %s out of the config to fine-tune the model's head",
                model,
                setting,
                ours,
                theirs,
                head_name,
                ours,
                setting,
            )

    def _freeze(self, train_only: tuple[str, ...]) -> list[torch.nn.Module]:
        """Stop every top-level block not named in ``train_only`` from learning; returns them."""
        if not train_only:
            return []
        blocks = dict(self.network.named_children())
        unknown = sorted(set(train_only) - set(blocks))
        if unknown:
            raise MovingColorError(
                f"train_only names {unknown}, not blocks of the network; its blocks: {', '.join(blocks)}"
            )
        frozen = [module for name, module in blocks.items() if name not in train_only]
        for module in frozen:
            module.requires_grad_(False)
        return frozen

    def _train_mode(self) -> None:
        self.network.train()
        for module in self.frozen:
            module.eval()  # batch norm keeps its running statistics

    def _start_heads(self, config: TrainConfig, recorded: dict) -> dict:
        """The heads' settings (HEAD_SETTINGS) for those ``config`` leaves unset: the run's own where
        it resumes, else its init model's (a fine-tune goes on with the model's heads), else the
        defaults."""
        if "heads" in recorded:
            return recorded["heads"]
        if config.init and not self.has_checkpoint:  # a damaged record is named by resume(), not here
            return _model_heads(config.init)
        return HEAD_SETTINGS

    def _recorded_start(self) -> dict:
        """What the run's checkpoint records of how it started: its heads' settings (``heads``) and
        the heads that restarted at zero (``restarted_heads``); nothing where it has no checkpoint
        or its record cannot be read (resuming says so)."""
        if not self.has_checkpoint:
            return {}
        try:
            state = json.loads((self.checkpoint / "trainer.json").read_text())
            recorded = state.get("config", {})
            # A checkpoint of a version before the heads were recorded holds them in its config.
            heads = state.get("heads") or {
                name: recorded.get(name, HEAD_SETTINGS[name]) for name in HEAD_SETTINGS
            }
            return {"heads": heads, "restarted_heads": state.get("restarted_heads", [])}
        except (OSError, ValueError, AttributeError):
            return {}

    # -- state -------------------------------------------------------------------------

    @property
    def checkpoint(self) -> Path:
        return self.run / "checkpoint"

    @property
    def has_checkpoint(self) -> bool:
        """Whether the run has a checkpoint (its record written last, by the swap into place)."""
        return (self.checkpoint / "trainer.json").exists()

    def save(self) -> None:
        """Write the checkpoint atomically: a temporary folder swapped into place, so a kill at any
        moment leaves the last checkpoint or this one (:mod:`..folder_swap`)."""
        self.run.mkdir(parents=True, exist_ok=True)
        # Staging folders a killed save left behind, each as large as a checkpoint.
        for stale in self.run.glob(f"{STAGING_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.run))
        try:
            _save_split(self.network.state_dict(), staging, "generator")
            _save_split(self.optimiser.state_dict(), staging, "optimiser")
            if self.discriminator is not None:
                _save_split(self.discriminator.state_dict(), staging, "discriminator")
                _save_split(self.d_optimiser.state_dict(), staging, "d_optimiser")
            (staging / "trainer.json").write_text(
                json.dumps(
                    {
                        "step": self.step,
                        "config": self.config.to_dict(),
                        "heads": {name: getattr(self.network.config, name) for name in HEAD_SETTINGS},
                        "restarted_heads": self.restarted_heads,
                        "scikit_image": _has_scikit_image(),
                    },
                    indent=2,
                )
            )
            replace_folder(staging, self.checkpoint)
            self._saved_step = self.step
        except OSError as error:
            kept = "the last checkpoint is kept" if self.checkpoint.exists() else "there is no checkpoint yet"
            raise MovingColorError(
                f"cannot write the checkpoint of step {self.step} in {self.run}: {error.strerror}; {kept}: "
                f"free space there (a save needs about twice a checkpoint's size) and run again to resume"
            ) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def resume(self) -> bool:
        """Load the run's checkpoint, if it has one; True when it did. The loss and validation
        logs lose the rows of steps past the checkpoint (a killed run wrote them, and the resumed
        run writes them again). A checkpoint a killed save set aside was put back on construction."""
        if not self.has_checkpoint:
            return False
        try:
            state = json.loads((self.checkpoint / "trainer.json").read_text())
            int(state["step"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise MovingColorError(
                f"{self.checkpoint} is damaged: trainer.json cannot be read ({error}); restore the run "
                f"folder from a copy, or train into another --out"
            ) from None
        self.network.load_state_dict(_load_split(self.checkpoint, "generator", self.device))
        self.optimiser.load_state_dict(_load_split(self.checkpoint, "optimiser", self.device))
        if self.discriminator is not None and list(self.checkpoint.glob("discriminator.part*")):
            self.discriminator.load_state_dict(_load_split(self.checkpoint, "discriminator", self.device))
            self.d_optimiser.load_state_dict(_load_split(self.checkpoint, "d_optimiser", self.device))
        self.step = self._saved_step = int(state["step"])
        made_with = state.get("scikit_image")
        if made_with is not None and made_with != _has_scikit_image():
            fix = (
                "trained with scikit-image and this install has none: install it (pip install scikit-image)"
                if made_with
                else "trained without scikit-image and this install has it: resume it where it is absent"
            )
            log.warning(
                "%s was %s to resume it as it began (its sample photos are training data, and "
                "validation scores ΔE with it): from here on the run is not what an unbroken one "
                "would be",
                self.run,
                fix,
            )
        for name in ("losses.csv", "validation.csv"):
            self._drop_rows_after(name, self.step)
        return True

    def clear_unfinished_start(self) -> list[str]:
        """Remove what a run that never reached its first checkpoint left (its logs, its best
        weights, its curves): nothing can resume it, and a new run appended to them (steps 1-4
        twice over) and exported the old run's best weights as its own. Returns what was removed."""
        if self.has_checkpoint:
            return []
        left = [name for name in RUN_FILES if (self.run / name).exists()]
        if left and not (self.run / RUN_MARKER).exists() and not self._logs_are_a_runs():
            # Nothing says these are a run's: a folder of another tool's (its best weights, its
            # curves) given as --out lost them.
            raise MovingColorError(
                f"{self.run} holds {', '.join(left)} but no MovingColor run: train into another --out "
                f"(a new or empty folder), or remove them there to start afresh"
            )
        reached = max(self._logged_steps("losses.csv"), default=0)
        if reached >= self.config.checkpoint_every:
            raise MovingColorError(
                f"{self.run} holds the logs of a run that reached step {reached} but no checkpoint "
                f"(was checkpoint/ removed?): train into another --out, or remove its losses.csv, "
                f"validation.csv and best/ to start afresh there"
            )
        removed = []
        for name in RUN_FILES:
            path = self.run / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
            else:
                continue
            removed.append(name)
        return removed

    def _logs_are_a_runs(self) -> bool:
        """Whether the folder's losses.csv is a run's, by its columns: a run of a version before the
        folder's marker existed, stopped before its first checkpoint."""
        try:
            with (self.run / "losses.csv").open(newline="") as handle:
                return next(csv.reader(handle), None) == LOSS_COLUMNS
        except (OSError, UnicodeDecodeError):
            return False

    def _logged_steps(self, name: str) -> set[int]:
        """The steps the run's log ``name`` (``losses.csv``, ``validation.csv``) holds rows of."""
        path = self.run / name
        if not path.exists():
            return set()
        with path.open(newline="") as handle:
            return {int(row["step"]) for row in csv.DictReader(handle) if str(row.get("step", "")).isdigit()}

    def _drop_rows_after(self, name: str, step: int) -> None:
        path = self.run / name
        if not path.exists():
            return
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        kept = rows[:1] + [row for row in rows[1:] if row and int(float(row[0])) <= step]
        if len(kept) == len(rows):
            return
        with io.StringIO(newline="") as text:
            csv.writer(text).writerows(kept)
            write_text_atomic(path, text.getvalue())

    # -- one step ----------------------------------------------------------------------

    def _batch_arguments(self, seed: int, mode: str, size: int) -> dict:
        """:func:`.data.make_batch`'s arguments for this run, all but ``step`` and ``config``."""
        c = self.config
        return {
            "seed": seed,
            "mode": mode,
            "batch": size,
            "frames": c.frames,
            "local": c.local,
            "height": c.height,
            "width": c.width,
            "matte_start": self.network.config.matte_start,
            "color_start": self.network.config.color_start,
            "fast_fraction": c.fast_fraction,
            "lut_fraction": c.lut_fraction,
            "clip_folders": c.clip_folders,
            "clip_fraction": c.clip_fraction,
            "matte_errors": c.matte_errors,
            "coarse_matte_input": c.coarse_matte_input,
            "steady_matte": c.steady_matte,
        }

    def _batch(self, seed: int, step: int, mode: str, size: int) -> Batch:
        return make_batch(step=step, config=self._config(), **self._batch_arguments(seed, mode, size))

    def _tensors(self, batch: Batch) -> dict[str, torch.Tensor]:
        return {
            name: torch.from_numpy(getattr(batch, name)).to(self.device)
            for name in ("inputs", "target_alpha", "target_rgb", "band")
        }

    def _forward(
        self, batch: Batch, t: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The composited output of the local frames and the L1/texture losses."""
        local = batch.local
        head = "blend" if batch.mode == "regional" else "color"
        autocast = torch.autocast(
            "cuda", dtype=torch.bfloat16, enabled=self.config.amp and self.device.startswith("cuda")
        )
        with autocast:
            prediction = self.network(t["inputs"], local, head).float()  # (B, L, c, H, W)
        x = t["inputs"][:, :local]
        band = t["band"][:, :local]
        losses = {}
        if head == "blend":
            plate, graded = x[:, :, PLATE], x[:, :, GRADED]
            # The matte the product shows: the band's edge curve applied (outside the band
            # neither loss looks).
            prediction = steepened(prediction, self.network.config.edge_contrast)
            losses["alpha"] = self.config.alpha_weight * band_l1(
                prediction, t["target_alpha"][:, :local], band
            )
            colours = prediction * graded + (1 - prediction) * plate
        else:
            colours = prediction
        # Outside the band the product keeps the visible composite: so does training.
        composite = band * colours + x[:, :, EDITED_OUTSIDE_BAND]
        target = t["target_rgb"][:, :local]
        losses["rgb"] = self.config.rgb_weight * band_l1(composite, target, band)
        if self.config.temporal_weight and local > 1:
            losses["temporal"] = self.config.temporal_weight * temporal_l1(composite, target, band)
        if self.config.texture_weight:
            flat = lambda v: v.reshape(-1, *v.shape[2:])  # noqa: E731
            losses["texture"] = self.config.texture_weight * texture_loss(flat(composite), flat(target))
        return composite, losses

    def train_step(self) -> dict[str, float]:
        c = self.config
        if self._prefetcher is not None:
            batch = self._prefetcher.get(self.step)
        else:
            batch = self._batch(c.seed, self.step, c.mode, c.batch)
        tensors = self._tensors(batch)
        self._train_mode()
        composite, losses = self._forward(batch, tensors)
        rate = c.learning_rate_at(self.step)
        if self.discriminator is not None:
            # Both players follow one schedule: a discriminator still at the starting rate
            # would overpower a generator whose rate has decayed.
            for group in self.d_optimiser.param_groups:
                group["lr"] = rate
            target = tensors["target_rgb"][:, : batch.local]
            d_loss = hinge_discriminator_loss(
                self.discriminator(target), self.discriminator(composite.detach())
            )
            self.d_optimiser.zero_grad(set_to_none=True)
            d_loss.backward()
            self._updating = True  # from here to the step's end, the players disagree on the step
            self.d_optimiser.step()
            losses["gan"] = c.gan_weight * hinge_generator_loss(self.discriminator(composite))
        total = sum(losses.values())
        if not math.isfinite(float(total.detach())):
            # The weights have diverged: the run stops without saving them over its checkpoint. The
            # discriminator's half-made step is dropped with them, not an interruption to report.
            self._updating = False
            kept = (
                "the run's checkpoint keeps the weights of the last checkpoint before it"
                if self.has_checkpoint
                else "the run has no checkpoint yet"
            )
            raise DivergedError(
                f"the loss is not finite at step {self.step + 1}; {kept}: lower learning_rate in the "
                f"config and train into another --out"
            )
        for group in self.optimiser.param_groups:
            group["lr"] = rate
        self.optimiser.zero_grad(set_to_none=True)
        total.backward()
        self._updating = True
        self.optimiser.step()
        self.step += 1
        self._updating = False
        values = {name: float(value.detach()) for name, value in losses.items()}
        values["total"] = float(total.detach())
        if self.discriminator is not None:
            values["discriminator"] = float(d_loss.detach())
        return values

    def _config(self):
        if self._colour is None:
            from ..color.config import ColorConfig

            self._colour = ColorConfig()
        return self._colour

    # -- validation --------------------------------------------------------------------

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Band errors on fixed held-out batches of the head this run trains, against what the
        product would show without it: the hard composite and (when the network starts from a
        refined matte) its starting matte for the blend head; for the colour head, the plate's
        own colours in the band (paper clips) or the host's composite (composite clips)."""
        c = self.config
        self.network.eval()
        mode = c.mode if c.mode in ("paper", "composite") else "regional"
        rows: dict[str, list[float]] = {}
        # ΔE2000 needs scikit-image (the dev extra); without it validation scores band L1 only.
        delta_e2000 = _delta_e2000_if_installed()
        if self._validation is None:
            # The same clips at every validation: made once, not at each.
            self._validation = [
                self._batch(c.seed + VALIDATION_SEED_OFFSET, index, mode, 1)
                for index in range(c.validation_batches)
            ]
        for batch in self._validation:
            if self._stopping is not None and self._stopping.requested:
                return {}  # given up: a farm's grace is short; the step is validated on resuming
            tensors = self._tensors(batch)
            composite, _ = self._forward(batch, tensors)
            x = tensors["inputs"][:, : batch.local]
            band = tensors["band"][:, : batch.local]
            plate, graded = x[:, :, PLATE], x[:, :, GRADED]
            if mode == "paper":
                baselines = {"plate": band * plate + x[:, :, EDITED_OUTSIDE_BAND]}
            elif mode == "composite":
                baselines = {"hard": graded}  # the host's composite, where the graded plate would be
            else:
                matte = torch.from_numpy(batch.matte[:, : batch.local]).to(self.device)
                baselines = {"hard": matte * graded + (1 - matte) * plate}
                if self.network.config.matte_start != "coarse":
                    # As the guided engine shows it: through the same edge curve.
                    start = steepened(x[:, :, MATTE], self.network.config.edge_contrast)
                    baselines["start"] = start * graded + (1 - start) * plate
            target = tensors["target_rgb"][:, : batch.local]
            scored = {"": composite, **{f"{name}_": image for name, image in baselines.items()}}
            for prefix, image in scored.items():
                rows.setdefault(f"{prefix}band_l1", []).append(float(band_l1(image, target, band)))
                if delta_e2000 is None:
                    continue
                for t in range(batch.local):
                    region = band[0, t, 0].cpu().numpy() > 0.5
                    to_image = lambda v: v[0, t].permute(1, 2, 0).float().cpu().numpy()  # noqa: E731,B023
                    rows.setdefault(f"{prefix}band_delta_e", []).append(
                        delta_e2000(to_image(image), to_image(target), region)
                    )
        return {name: statistics.mean(v) for name, v in rows.items()}

    def _keep_best(self, scores: dict[str, float]) -> None:
        """Keep the weights of the best validation so far in ``best/`` (a noisy curve's
        last point is not always its best)."""
        restore_folder(self.run / "best")
        best = self._best_record()
        # ΔE where both this validation and the best so far have it, else band L1, which every
        # validation scores: ΔE needs scikit-image, and a run resumed on an install of the other kind
        # compared ΔE (2-6) with L1 (0.02), so every later validation won, or none did.
        both_have_delta_e = "band_delta_e" in scores and (best is None or "band_delta_e" in best)
        metric = "band_delta_e" if both_have_delta_e else "band_l1"
        score = scores.get(metric)
        if score is None or not math.isfinite(score):
            return  # never the best: NaN compares false with everything
        if best is not None and isinstance(best.get(metric), (int, float)) and best[metric] <= score:
            return
        # Staging folders a killed write of the best weights left behind (the swap's own folder
        # set aside was dealt with by restore_folder just above).
        for stale in self.run.glob(f"{BEST_STAGING_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=BEST_STAGING_PREFIX, dir=self.run))
        try:
            _save_split(self.network.state_dict(), staging, "generator")
            (staging / "best.json").write_text(
                json.dumps({"step": self.step, "score": score, "metric": metric, **scores}, indent=2)
            )
            replace_folder(staging, self.run / "best")
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _best_record(self) -> dict | None:
        """The best validation's record, None where there is none; a damaged one (edited by hand,
        cut short by a full disk before the swap was atomic) is taken as none and replaced."""
        record = self.run / "best" / "best.json"
        if not record.exists():
            return None
        try:
            best = json.loads(record.read_text())
            int(best["step"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("%s cannot be read: the next validation's weights replace it as the best", record)
            return None
        return best

    def load_best(self) -> int:
        """Load the best validated weights; returns their step."""
        best = self._best_record()
        if best is None:
            raise MovingColorError(
                f"{self.run / 'best' / 'best.json'} cannot be read: export without --best (the last "
                f"weights), or train on until the next validation replaces it"
            )
        self.network.load_state_dict(_load_split(self.run / "best", "generator", self.device))
        return int(best["step"])

    # -- the loop ----------------------------------------------------------------------

    def _append_csv(self, name: str, row: dict, columns: list[str] | None = None) -> None:
        path = self.run / name
        new = not path.exists()
        if not new and columns is None:
            with path.open(newline="") as handle:
                columns = next(csv.reader(handle), None)  # a resumed run keeps its file's columns
        with path.open("a", newline="") as handle:
            # Fixed columns: a paper-mode step has no alpha loss, and rows must still line up.
            writer = csv.DictWriter(
                handle, fieldnames=columns or list(row), restval="", extrasaction="ignore"
            )
            if new:
                writer.writeheader()
            writer.writerow(row)

    def train(
        self,
        steps: int | None = None,
        minutes: float | None = None,
        progress: Callable[[int, dict], None] | None = None,
    ) -> int:
        """Train until ``steps`` (default: the config's) or ``minutes`` run out; returns the step."""
        c = self.config
        self.run.mkdir(parents=True, exist_ok=True)
        # What marks the folder as a run's, before any of its logs: only such a folder's files are
        # ever removed (``clear_unfinished_start``).
        (self.run / RUN_MARKER).touch()
        stop_at = min(steps if steps is not None else c.steps, c.steps)
        deadline = time.monotonic() + 60 * minutes if minutes else None
        started = time.monotonic()
        curves = TensorBoardLog(self.run, resumed_at=self.step)
        if self.workers > 0:
            self._prefetcher = BatchPrefetcher(self._batch_arguments(c.seed, c.mode, c.batch), self.workers)
        # A farm's stop or pre-emption (SIGTERM) ends the run as Ctrl-C does, at the end of the step
        # under way: the checkpoint is written and the batch workers are closed on the way out.
        stopping = self._stopping = _StopAtStepEnd()
        diverged = False
        first_step = self.step
        try:
            if self._validation_missed():
                self._validate(curves)
            while self.step < stop_at and not stopping.requested:
                if deadline is not None and time.monotonic() > deadline:
                    break
                values = self.train_step()
                row = {
                    "step": self.step,
                    **{k: round(v, 6) for k, v in values.items()},
                    "seconds": round(time.monotonic() - started, 2),
                }
                self._append_csv("losses.csv", row, LOSS_COLUMNS)
                curves.scalars("loss", self.step, values)
                if progress:
                    progress(self.step, values)
                if self.step % c.checkpoint_every == 0:
                    self.save()
                if self.step % c.validate_every == 0 and not stopping.requested:
                    self._validate(curves)
        except DivergedError:
            diverged = True
            raise
        finally:
            try:
                if self._prefetcher is not None:
                    self._prefetcher.close()
                    self._prefetcher = None
                curves.close()
                self._stopping = None
                if self._updating:
                    log.warning(
                        "stopped in the middle of step %d's update: the checkpoint keeps the weights it "
                        "had before (a half-made step would be made twice on resuming)",
                        self.step + 1,
                    )
                    self._updating = False
                elif not diverged and self.step > first_step and self.step != self._saved_step:
                    # A run that failed before its first step (a clip folder missing) leaves nothing to
                    # resume: a checkpoint of step 0 held its broken configuration, and refused the
                    # corrected one as another run's. A resumed run that made no step, or stopped at a
                    # step it saved, has its checkpoint already (an export-only run on a full disk
                    # was refused rewriting it); one stopped at a step whose save never ended has not.
                    self.save()
            finally:
                # Only now: a stop asked for while the checkpoint is written waits for it.
                stopping.close()
        if stopping.requested:
            raise _interrupt(stopping.requested)
        return self.step

    def _validate(self, curves: TensorBoardLog) -> None:
        scores = self.validate()
        if not scores:
            return
        self._append_csv("validation.csv", {"step": self.step, **scores})
        curves.scalars("validation", self.step, scores)
        self._keep_best(scores)

    def _validation_missed(self) -> bool:
        """Whether the step the run resumes at was due a validation that is not in the log: a run
        stopped while validating saved its checkpoint at that step, and went on past it."""
        if self.step == 0 or self.step % self.config.validate_every:
            return False
        return self.step not in self._logged_steps("validation.csv")

    def network_for_export(self) -> MovingColorNet:
        """The network as a model folder records it: on the CPU, in evaluation mode, and with the
        configuration's ``export_edge_contrast`` where one is set."""
        network = self.network.to("cpu").eval()
        slope = self.config.export_edge_contrast
        if slope is None or slope == network.config.edge_contrast:
            return network
        exported = copy.deepcopy(network)
        exported.config = dataclasses.replace(network.config, edge_contrast=slope)
        return exported


def _widened(loaded: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``loaded`` weights for a network whose ``target`` weights take more input channels (a model
    started from one that did not read the coarse matte): the extra channels' weights are zero, so
    the widened network computes what the loaded one did."""
    widened = dict(loaded)
    for name, values in loaded.items():
        wanted = target[name].shape
        if values.shape != wanted and values.dim() == 4 and values.shape[1] < wanted[1]:
            widened[name] = torch.zeros(wanted, dtype=values.dtype, device=values.device)
            widened[name][:, : values.shape[1]] = values
    return widened


def _model_heads(model: str) -> dict:
    """The head settings (HEAD_SETTINGS) of the installed model or model folder ``model``."""
    network = network_config(model)
    return {name: getattr(network, name) for name in HEAD_SETTINGS}


def _has_scikit_image() -> bool:
    """Whether scikit-image is installed: its sample photos are training data, and ΔE2000 scores
    validation."""
    return importlib.util.find_spec("skimage") is not None


def _delta_e2000_if_installed() -> Callable | None:
    if not _has_scikit_image():
        return None
    from ..color.difference import delta_e2000

    return delta_e2000


def set_deterministic() -> None:
    """Same results for the same steps on a CPU (resume is bit-for-bit)."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    np.seterr(all="ignore")


class DivergedError(MovingColorError):
    """A training loss that is not finite: the weights have diverged."""


def _interrupt(signal_name: str) -> KeyboardInterrupt:
    """What a run stopped by the signal ``signal_name`` raises: SIGTERM (a farm's stop, a
    pre-emption) is told from Ctrl-C, so the command exits 143, not 130."""
    if signal_name == "SIGTERM":
        return Terminated(f"stopped by {signal_name}")
    return KeyboardInterrupt(f"stopped by {signal_name}")


class _StopAtStepEnd:
    """While open, the first SIGINT or SIGTERM asks the loop to stop at the end of the step under
    way (``requested`` names the signal); a second one raises KeyboardInterrupt at once. A stop in the
    middle of a step saved a checkpoint whose discriminator was a step ahead of its generator (a
    resume applied that update twice). ``close`` puts back what was there. Elsewhere than the main
    thread (where Python allows no handler) it does nothing."""

    def __init__(self):
        self.requested: str | None = None
        self._previous: dict = {}
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(number) is signal.SIG_IGN:
                    continue  # a background job's SIGINT stays ignored
                self._previous[number] = signal.signal(number, self._stop)

    def _stop(self, number, frame) -> None:
        name = signal.Signals(number).name
        if self.requested:
            raise _interrupt(name)
        self.requested = name
        print(
            f"{name}: stopping at the end of this step (again to stop at once)", file=sys.stderr, flush=True
        )

    def close(self) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous = {}
