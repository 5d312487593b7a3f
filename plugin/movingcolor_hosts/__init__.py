"""What every host bridge (Nuke, DaVinci Resolve) shares, with no host in it.

A bridge renders the host's plate, matte and optional graded plate to EXR
frames in a scratch folder, then hands them to :func:`fuse_rendered`, which
sends them to ``movingcolor serve`` and moves the fused frames into place only
when the whole shot has arrived. The host-specific adapters stay thin: they
turn knobs or settings into :class:`FuseSettings` and render frames.
"""

from .errors import HostBridgeError, MissingInputError, RenderError, SettingsError
from .fusion import FusedSequence, RenderedInputs, check_server, fuse_rendered
from .mattes import drop_opaque_alpha, require_matte, require_matte_in_alpha
from .settings import FuseSettings, environment_values, settings_from_mapping
from .staging import StagedOutput, new_folder_in, scratch_folder

__all__ = [
    "FuseSettings",
    "FusedSequence",
    "HostBridgeError",
    "MissingInputError",
    "RenderError",
    "RenderedInputs",
    "check_server",
    "SettingsError",
    "environment_values",
    "StagedOutput",
    "fuse_rendered",
    "new_folder_in",
    "drop_opaque_alpha",
    "require_matte",
    "require_matte_in_alpha",
    "scratch_folder",
    "settings_from_mapping",
]
