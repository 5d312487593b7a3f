"""Named network configurations, as data. Every field's comment gives its reason."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import MovingColorError
from .channels import INPUT_CHANNELS

MATTE_STARTS = ("coarse", "guided")
COLOR_STARTS = ("plate", "composite")

# The largest network a model file may describe, well above every named configuration (the paper's:
# 256-channel features, 512-wide tokens, 4 heads, 8 + 8 blocks): its network is built, its weights
# allocated, before the weights file is read, and a config.json asking for 60000 channels was built
# (130 GB for one convolution) until the allocation failed as a server bug.
MAX_CHANNELS = 1024
MAX_HIDDEN = 2048
MAX_HEADS = 32
MAX_BLOCKS = 32
MAX_PATCH = 15
MAX_WORKING_SIZE = 8192
MAX_WINDOW_FRAMES = 128

#: Each whole-number field's (least, greatest) value in a model file.
_INT_BOUNDS = {
    "ffc_blocks": (0, MAX_BLOCKS),
    "patch_kernel": (1, MAX_PATCH),
    "patch_stride": (1, MAX_PATCH),
    "patch_padding": (0, MAX_PATCH),
    "hidden": (1, MAX_HIDDEN),
    "heads": (1, MAX_HEADS),
    "transformer_blocks": (0, MAX_BLOCKS),
    "working_size": (16, MAX_WORKING_SIZE),
    "local_frames": (1, MAX_WINDOW_FRAMES),
    "local_stride": (1, MAX_WINDOW_FRAMES),
    "global_stride": (1, MAX_WINDOW_FRAMES),
    "max_global_frames": (0, MAX_WINDOW_FRAMES),
}
#: The channel lists' lengths the network's layers take: a stem and two stages; two upsamplings.
_CHANNEL_LISTS = {"encoder_channels": 3, "decoder_channels": 2}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_bounds(config: NetworkConfig) -> None:
    """Refuse, naming the field, a configuration whose network could not be built or would be
    absurdly large (the ``MAX_`` limits): checked before anything is allocated for it."""
    problems = []
    for field, length in _CHANNEL_LISTS.items():
        value = getattr(config, field)
        if not (
            isinstance(value, tuple)
            and len(value) == length
            and all(_is_int(v) and 1 <= v <= MAX_CHANNELS for v in value)
        ):
            problems.append(f"{field} {value!r} must be {length} channel counts of 1 to {MAX_CHANNELS}")
    for field, (least, greatest) in _INT_BOUNDS.items():
        value = getattr(config, field)
        if not (_is_int(value) and least <= value <= greatest):
            problems.append(f"{field} {value!r} must be a whole number from {least} to {greatest}")
    if _is_int(config.hidden) and _is_int(config.heads) and config.heads > 0 and config.hidden % config.heads:
        problems.append(f"hidden {config.hidden} must be divisible by heads {config.heads}")
    ratio = config.ffc_global_ratio
    if not (isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and 0.0 <= ratio <= 1.0):
        problems.append(f"ffc_global_ratio {ratio!r} must be a number from 0 to 1")
    if not isinstance(config.coarse_matte_input, bool):
        problems.append(f"coarse_matte_input {config.coarse_matte_input!r} must be true or false")
    if not isinstance(config.edge_contrast, (int, float)) or isinstance(config.edge_contrast, bool):
        problems.append(f"edge_contrast {config.edge_contrast!r} must be a number")
    if problems:
        raise MovingColorError(
            f"model config {'; '.join(problems)}: the file is damaged or not a MovingColor model's "
            f"(its network is not built); restore its config.json"
        )


@dataclass(frozen=True)
class NetworkConfig:
    name: str
    # [plate, edited·(1-band), band] (the paper's 7) + [graded, starting matte] for the blend head:
    # the layout in model/channels.py.
    in_channels: int = INPUT_CHANNELS
    # Convolutional encoder widths; each stage halves the resolution (features at 1/4).
    encoder_channels: tuple[int, ...] = (64, 128, 256)
    # FFC encoder: the paper chains 8 FFC residual blocks after the convolutions.
    ffc_blocks: int = 8
    # LaMa's split: three quarters of the channels in the global (spectral) stream.
    ffc_global_ratio: float = 0.75
    # Soft split of the 1/4-resolution features: kernel 7, stride 3, padding 3 as in FuseFormer.
    patch_kernel: int = 7
    patch_stride: int = 3
    patch_padding: int = 3
    # Token width and depth of the temporal transformer.
    hidden: int = 512
    heads: int = 4
    transformer_blocks: int = 8
    # Decoder widths on the way back up from 1/4 resolution.
    decoder_channels: tuple[int, ...] = (128, 64)
    # The long side of the working resolution the network runs at (the plate may be larger).
    working_size: int = 432
    # Window: local neighbours predicted together, their stride, and global frames' stride.
    local_frames: int = 10
    local_stride: int = 5
    global_stride: int = 10
    max_global_frames: int = 6
    # The blend head's starting matte, which it refines: "coarse" (the input matte, as the
    # network sees it) or "guided" (the guided engine's refinement of it, so the network
    # learns only what the filter misses and, untrained, equals the guided filter).
    matte_start: str = "coarse"
    # What the colour head's band colours are a residual on: "plate" (the paper's: the band
    # is removed and filled from the plate) or "composite" (the host's composite, band
    # included, so an untrained head returns the hard composite and the network learns
    # only the seam's correction).
    color_start: str = "plate"
    # The blend head's matte steepened about 0.5 by this slope in the band (engines/crisp_edge.py),
    # in training as at inference, so a network trained through the curve learns the edge it
    # leaves: a soft edge takes a ramp this much wider before the curve. 1 = no curve. Models
    # whose config does not say were trained without it and run with the guided engine's.
    edge_contrast: float = 4.0
    # The blend head also reads the coarse matte as given (channel COARSE_MATTE), not only its
    # guided refinement: in the band the guided start alone hides where the user's edge was, so
    # a nearly right matte could not come back as it was. Such a model has one more input channel.
    coarse_matte_input: bool = False

    @property
    def features(self) -> int:
        return self.encoder_channels[-1]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NetworkConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise MovingColorError(
                f"model config has unknown fields {sorted(unknown)}: it was written by a newer "
                f"MovingColor; upgrade to load it"
            )
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        config = cls(**values)
        check_bounds(config)
        if config.matte_start not in MATTE_STARTS:
            raise MovingColorError(
                f"model config matte_start {config.matte_start!r} is not known: use one of {MATTE_STARTS}"
            )
        if config.color_start not in COLOR_STARTS:
            raise MovingColorError(
                f"model config color_start {config.color_start!r} is not known: use one of {COLOR_STARTS}"
            )
        if config.in_channels != INPUT_CHANNELS + config.coarse_matte_input:
            raise MovingColorError(
                f"model config in_channels {config.in_channels} does not match coarse_matte_input "
                f"{config.coarse_matte_input}: the file is damaged or was edited by hand"
            )
        if not config.edge_contrast >= 1.0:
            raise MovingColorError(
                f"model config edge_contrast {config.edge_contrast!r} must be at least 1 (1 = no curve)"
            )
        return config


CONFIGS: dict[str, NetworkConfig] = {
    # The published scale: 256-channel features, 8 FFC blocks, 8 transformer blocks.
    "paper": NetworkConfig(name="paper"),
    # Fast enough for CPU use: narrower and shallower, fewer frames per window.
    "lite": NetworkConfig(
        name="lite",
        encoder_channels=(16, 32, 64),
        ffc_blocks=2,
        hidden=128,
        heads=4,
        transformer_blocks=2,
        decoder_channels=(32, 16),
        working_size=432,
        local_frames=6,
        # Every local frame once: the real-footage benchmark's held-out clips scored the same
        # with each frame predicted by two overlapping windows (stride 3) and by one (band ΔE
        # 0.620 both, temporal error 0.682 vs 0.684), at about half the network's time.
        local_stride=6,
        global_stride=10,
        max_global_frames=3,
    ),
    # For tests: every code path, tiny and quick.
    "tiny": NetworkConfig(
        name="tiny",
        encoder_channels=(8, 8, 16),
        ffc_blocks=1,
        hidden=32,
        heads=2,
        transformer_blocks=1,
        decoder_channels=(8, 8),
        working_size=96,
        local_frames=4,
        local_stride=2,
        global_stride=4,
        max_global_frames=2,
    ),
}


def get_config(name: str) -> NetworkConfig:
    if name not in CONFIGS:
        raise MovingColorError(f"network config {name!r} is not known; known: {', '.join(CONFIGS)}")
    return CONFIGS[name]
