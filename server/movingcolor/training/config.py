"""Training configurations, read from TOML files.

The package ships the segments that trained the shipped model, a GPU recipe and the tests'
configuration (``training/configs/*.toml``); the records of experiments that were not shipped
live in ``docs/training/experiments`` and load by path.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib  # novermin (3.11's own, taken only there)
else:  # Python 3.10 (Nuke 15's): the same parser, from PyPI
    import tomli as tomllib

from ..engines.band_crops import MIN_WORKING_SIDE, SIDE_MULTIPLE
from ..errors import MovingColorError
from ..model.config import COLOR_STARTS, MATTE_STARTS

CONFIG_FOLDER = Path(__file__).resolve().parent / "configs"
MODES = ("regional", "paper", "composite", "mixed")
#: The range the photo clips' matte errors are drawn from (training/data.py): ``coarse``, a
#: blurred matte grown or shrunk by 1-6 px and shifted by up to 3; ``full``, from nearly right
#: (under a pixel) through the usual few pixels to beyond the band.
MATTE_ERRORS = ("coarse", "full")
#: The settings that decide what the network's heads compute, and their values where neither the
#: config nor an init model sets them (None: the network configuration's). A fine-tune takes those
#: its config leaves unset from its init model: the defaults silently restarted a trained head.
HEAD_SETTINGS = {"matte_start": "coarse", "color_start": "plate", "edge_contrast": None}


@dataclass(frozen=True)
class TrainConfig:
    name: str = "movingcolor-lite"
    network: str = "lite"  # a named network configuration (model/config.py)
    # What the blend head starts from and refines: "coarse" (the input matte) or "guided"
    # (the guided engine's refinement; the network then learns only what the filter misses).
    # Unset = the init model's, else "coarse" (HEAD_SETTINGS).
    matte_start: str | None = None
    # An installed model name or model folder whose weights start the run ("" = random).
    # The settings of HEAD_SETTINGS left unset are the model's, so its heads go on as they were;
    # where the config sets matte_start (color_start) otherwise, the blend (colour) head's last
    # layer restarts at zero, so step 0 returns exactly the new start (a warning and the model
    # card say so).
    init: str = ""
    # What the colour head's colours are a residual on: "plate" (the paper's) or "composite"
    # (the host's composite, band included). Unset = the init model's, else "plate".
    color_start: str | None = None
    # The slope of the curve that steepens the blend head's matte about 0.5 (model/config.py's
    # edge_contrast), trained through and recorded in the exported model; unset = the init
    # model's, else the network configuration's.
    edge_contrast: float | None = None
    # The curve's slope the exported model runs with, where it differs from the one trained
    # through: the shipped weights learned with none (1) and run with the product's (4), and a
    # fine-tune that continues them trains with 1 and exports with 4. Unset = edge_contrast's.
    export_edge_contrast: float | None = None
    # The blend head reads the coarse matte as an input of its own (model/config.py). Started from
    # a model without it, that input's weights start at zero: step 0 returns what the model did.
    coarse_matte_input: bool = False
    # Regional clips' mattes steadied over time before the network sees them, as the engine
    # steadies a window's (engines/steady_matte.py): trained on what it is given at inference.
    steady_matte: bool = False
    # regional (blend head), paper (colour head, the paper's), composite (colour head, regional
    # clips with only the host's composite known; for color_start = "composite") or mixed (3:1).
    mode: str = "regional"
    # The network's parts that learn (its top-level blocks, e.g. ["color_decoder"]); empty =
    # all. Frozen parts keep their weights and batch-norm statistics exactly, so a head can be
    # trained onto a model without changing what the other head returns.
    train_only: tuple[str, ...] = ()
    steps: int = 2000
    batch: int = 2
    frames: int = 7  # per training clip: the first `local` are predicted, the rest are global context
    local: int = 5
    height: int = 112  # training crop; multiples of 4
    width: int = 160
    learning_rate: float = 2e-4
    # Cosine decay from learning_rate to this by the last step; negative = constant.
    final_learning_rate: float = -1.0
    fast_fraction: float = 0.0  # share of regional clips whose sprite moves fast (training/data.py)
    lut_fraction: float = 0.0  # share of clips graded by a random creative LUT file (random_lut.py)
    # Folders of real video frames with a true object mask per frame (training/clip_data.py), as
    # written: `~` and environment variables are expanded where they are read, so the record of a
    # run stays valid on another machine.
    clip_folders: tuple[str, ...] = ()
    clip_fraction: float = 0.0  # share of regional clips drawn from clip_folders
    matte_errors: str = "coarse"  # one of MATTE_ERRORS
    seed: int = 0
    alpha_weight: float = 1.0  # L1 of the refined matte against the true alpha, in the band
    rgb_weight: float = 1.0  # L1 of the composite against the truth, in the band
    temporal_weight: float = 0.0  # L1 of frame-to-frame changes against the truth's, in the band
    texture_weight: float = 0.1  # multi-scale gradient + FFT amplitude (the perceptual substitute)
    gan_weight: float = 0.01  # T-PatchGAN hinge loss; 0 disables the discriminator
    validate_every: int = 200
    # Fixed held-out clips (one a batch) scored at each validation, drawn as the training clips.
    # Four are too few to choose a step by on real footage; a GPU run can afford 32 or more.
    validation_batches: int = 4
    checkpoint_every: int = 100
    device: str = "auto"
    amp: bool = True  # bf16 autocast on CUDA (FFTs stay float32)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        if not path.is_file() and (CONFIG_FOLDER / f"{path}.toml").exists():
            path = CONFIG_FOLDER / f"{path}.toml"
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError as error:
            known = ", ".join(p.stem for p in sorted(CONFIG_FOLDER.glob("*.toml")))
            raise MovingColorError(
                f"training config {path} not found: give the path of a TOML file or a built-in "
                f"config ({known})"
            ) from error
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise MovingColorError(f"{path}: not valid TOML ({error})") from error
        except OSError as error:
            raise MovingColorError(
                f"training config {path} cannot be read ({error.strerror}): give the path of a TOML file"
            ) from error
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict, source: str = "training config") -> TrainConfig:
        """A checked configuration from settings (a TOML file's, or a checkpoint's record,
        where settings added since take their defaults)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise MovingColorError(f"{source}: unknown settings {sorted(unknown)}; known: {sorted(known)}")
        data = dict(data)
        for name in ("train_only", "clip_folders"):
            if name not in data:
                continue
            value = data[name]
            if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
                raise MovingColorError(
                    f'{source}: {name} must be a list of names in quotes (e.g. ["..."]), not {value!r}'
                )
            data[name] = tuple(value)
        _check_types(data, source)
        config = cls(**data)
        counts = ("steps", "batch", "frames", "local", "height", "width")
        for name in (*counts, "validate_every", "checkpoint_every"):
            if getattr(config, name) < 1:
                raise MovingColorError(f"{source}: {name} must be at least 1, not {getattr(config, name)}")
        if not 0 < config.learning_rate < math.inf:
            raise MovingColorError(f"{source}: learning_rate must be positive, not {config.learning_rate}")
        for weight in ("alpha_weight", "rgb_weight", "temporal_weight", "texture_weight", "gan_weight"):
            # Infinite weights make every loss infinite: a divergence at step 1 that no rate mends.
            if not 0 <= getattr(config, weight) < math.inf:
                raise MovingColorError(f"{source}: {weight} must be 0 or more, not {getattr(config, weight)}")
        if config.mode not in MODES:
            raise MovingColorError(f"{source}: mode must be one of {MODES}, not {config.mode!r}")
        if config.color_start not in (None, *COLOR_STARTS):
            raise MovingColorError(
                f"{source}: color_start must be one of {COLOR_STARTS}, not {config.color_start!r}"
            )
        if config.mode == "paper" and config.color_start == "composite":
            raise MovingColorError(
                f"{source}: a colour head that starts from the composite learns nothing from paper "
                f'clips (their composite is the answer); use mode = "composite" or "mixed"'
            )
        if config.matte_start not in (None, *MATTE_STARTS):
            raise MovingColorError(
                f"{source}: matte_start must be one of {MATTE_STARTS}, not {config.matte_start!r}"
            )
        for name in ("edge_contrast", "export_edge_contrast"):
            value = getattr(config, name)
            if value is not None and not 1.0 <= value < math.inf:
                raise MovingColorError(
                    f"{source}: {name} must be at least 1 (1 = no curve) and finite, not {value!r}"
                )
        for share in ("fast_fraction", "lut_fraction", "clip_fraction"):
            value = getattr(config, share)
            if not 0.0 <= value <= 1.0:
                raise MovingColorError(f"{source}: {share} must be between 0 and 1, not {value}")
        if config.clip_fraction and not config.clip_folders:
            raise MovingColorError(
                f"{source}: clip_fraction = {config.clip_fraction} needs clip_folders (folders of "
                f"frames with a mask/ folder of one mask per frame)"
            )
        if config.matte_errors not in MATTE_ERRORS:
            raise MovingColorError(
                f"{source}: matte_errors must be one of {MATTE_ERRORS}, not {config.matte_errors!r}"
            )
        if config.validation_batches < 1:
            raise MovingColorError(
                f"{source}: validation_batches must be at least 1, not {config.validation_batches}"
            )
        if (
            config.height % SIDE_MULTIPLE
            or config.width % SIDE_MULTIPLE
            or min(config.height, config.width) < MIN_WORKING_SIDE
        ):
            # Under the network's shortest side its encoder's padding fails inside torch.
            raise MovingColorError(
                f"{source}: the crop {config.width}x{config.height} must be multiples of {SIDE_MULTIPLE}, "
                f"at least {MIN_WORKING_SIDE} each way"
            )
        if not 0 < config.local <= config.frames:
            raise MovingColorError(
                f"{source}: 0 < local <= frames must hold (local {config.local}, frames {config.frames})"
            )
        return config

    def with_heads(self, heads: dict) -> TrainConfig:
        """This configuration with ``heads`` (HEAD_SETTINGS' values) for the head settings it leaves
        unset, checked as a whole (a paper-mode run that took a composite colour start from its
        init model is refused as one that set it)."""
        unset = {name: heads[name] for name in HEAD_SETTINGS if getattr(self, name) is None}
        source = f"training config (with init model {self.init!r}'s {', '.join(unset)})" if self.init else ""
        return TrainConfig.from_dict({**self.to_dict(), **unset}, source or "training config")

    def learning_rate_at(self, step: int) -> float:
        """The learning rate of ``step`` (counting from 0): a function of the step alone, so a
        resumed run follows the same schedule."""
        if self.final_learning_rate < 0:
            return self.learning_rate
        progress = min(step / max(self.steps - 1, 1), 1.0)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.final_learning_rate + (self.learning_rate - self.final_learning_rate) * cosine

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_types(data: dict, source: str) -> None:
    """Each setting of the type its field declares (TOML gives ints, floats, strings, booleans and
    lists): a quoted number or a number for a switch would fail later, mid-run, or not at all."""
    kinds = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}
    words = {"int": "a whole number", "float": "a number", "str": "text in quotes", "bool": "true or false"}
    for field in dataclasses.fields(TrainConfig):
        if field.name not in data:
            continue
        value = data[field.name]
        declared = str(field.type).split(" | ")
        if "None" in declared and value is None:
            continue
        allowed = tuple(t for name in declared for t in kinds.get(name, ()))
        if not allowed:  # tuples of strings: checked where they are read
            continue
        if isinstance(value, bool) and bool not in allowed or not isinstance(value, allowed):
            wanted = " or ".join(words[name] for name in declared if name in kinds)
            raise MovingColorError(f"{source}: {field.name} must be {wanted}, not {value!r}")
