"""Which OCIO config the script uses, and how the server is told what its working space is.

The node's Writes render raw: the frames hold the script's working space
(Project Settings > Color > working space), named in the script's own OCIO
config. The server reads colourspace names in its config, where the same name
may mean something else or nothing (nuke-default's ``linear`` is scene-linear
with Rec.709 primaries; the server's default ACES config has no ``linear``). So
the name goes with a config that gives it the same meaning:

- nuke-default (Nuke's own colour management, or the nuke-default OCIO config):
  its working space maps to the same colourspace of OCIO's built-in studio config,
  which the shot then names;
- one of Nuke's ACES configs: the OCIO built-in config it ships as (``fn-nuke_``
  configs), or the studio config, which carries the ACES 1.x names as aliases;
- any other config (custom, or one a studio added): the server's own, and only
  when the server runs that same config; otherwise the artist names the working
  space in the server's config (the colourspace knob), never a silent guess.

A look grade names a look of the server's config, so a shot with one always uses
the server's config.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from movingcolor_hosts import SettingsError
from movingcolor_hosts.settings import REFERENCE_CONFIG

#: An OCIO built-in config (OCIO 2.3 and later: the server's minimum) that has a colourspace for each
#: nuke-default one below and every ACES 1.x name Nuke's aces_1.x configs use for the common spaces.

#: nuke-default colourspaces (Rec.709 primaries throughout) -> the same colourspace in REFERENCE_CONFIG.
#: nuke-default's camera log curves (Cineon, AlexaV3LogC, SLog3, ...) keep Rec.709 primaries, unlike
#: the camera spaces of any ACES config, so they have no counterpart and are refused.
NUKE_DEFAULT_SPACES = {
    "linear": "Linear Rec.709 (sRGB)",
    "sRGB": "sRGB - Texture",
    "rec709": "Camera Rec.709",  # the BT.709 camera curve, as nuke-default's rec709.spi1d
    "Gamma1.8": "Gamma 1.8 Rec.709 - Texture",
    "Gamma2.2": "Gamma 2.2 Rec.709 - Texture",
    "Gamma2.4": "Gamma 2.4 Rec.709 - Texture",
    "raw": "Raw",
}
#: nuke-default's roles, which the working space menu may name instead of a colourspace.
NUKE_DEFAULT_ROLES = {
    "scene_linear": "linear",
    "reference": "linear",
    "color_picking": "sRGB",
    "matte_paint": "sRGB",
    "texture_paint": "sRGB",
    "data": "raw",
    "default": "raw",
    "compositing_log": "Cineon",
    "color_timing": "Cineon",
}
NUKE_DEFAULT = "nuke-default"
#: The built-in configs of OCIO 2.3 to 2.6; Nuke ships its ACES OCIO v2 configs as "fn-nuke_" + one.
OCIO_BUILTIN_CONFIGS = tuple(
    f"{kind}-config-{version}"
    for kind in ("cg", "studio")
    for version in (
        "v1.0.0_aces-v1.3_ocio-v2.1",
        "v2.1.0_aces-v1.3_ocio-v2.3",
        "v2.2.0_aces-v1.3_ocio-v2.4",
        "v4.0.0_aces-v2.0_ocio-v2.5",
        "v5.0.0_aces-v2.1_ocio-v2.6",
    )
)
#: Nuke's ACES 1.x OCIO v1 configs (aces_1.0.3, aces_1.1, aces_1.2, ...).
ACES1_CONFIG = re.compile(r"^aces_1(\.\d+)*$")
#: The roles of those configs (imageworks/OpenColorIO-Configs aces_1.0.3, aces_1.1 and aces_1.2
#: config.ocio), which the working space menu may name instead of a colourspace: sent by name, a role
#: means the studio config's role there (its color_timing is ACEScct, its compositing_linear none),
#: so it is sent as the colourspace it stands for, by its ACES 1.x name (an alias in the studio
#: config). None: a display colourspace (color_picking: Output - sRGB in aces_1.2, Output - Rec.709
#: before), which the studio config lacks.
ACES1_ROLES: dict[str, str | None] = {
    "color_picking": None,
    "color_timing": "ACES - ACEScc",
    "compositing_linear": "ACES - ACEScg",
    "compositing_log": "Input - ADX - ADX10",
    "data": "Utility - Raw",
    "default": "ACES - ACES2065-1",
    "matte_paint": "Utility - sRGB - Texture",
    "reference": "Utility - Raw",
    "rendering": "ACES - ACEScg",
    "scene_linear": "ACES - ACEScg",
    "texture_paint": "ACES - ACEScc",
}


@dataclass(frozen=True)
class ScriptConfig:
    """The script's OCIO config: ``name`` as Project Settings shows it; ``builtin``: the OCIO built-in
    config that names its colourspaces the same ("" when none does); ``path``: a custom config's file."""

    name: str
    builtin: str = ""
    path: str = ""

    @property
    def is_nuke_default(self) -> bool:
        return self.name == NUKE_DEFAULT

    @property
    def is_aces1(self) -> bool:
        return bool(ACES1_CONFIG.match(self.name))

    def __str__(self) -> str:
        return self.path or self.name


@dataclass(frozen=True)
class ServerColorspace:
    """What the shot tells the server: ``colorspace`` in ``config`` ("": the server's own config),
    and a line saying so for the node's status."""

    colorspace: str
    config: str
    note: str


def _choice(knob) -> str:
    # Nuke's colourspace and config menus may list an entry as "name<TAB>menu path<TAB><TAB>aliases":
    # the name is the first field.
    return str(knob.value() if knob is not None else "").split("\t")[0].strip()


def script_config(root) -> ScriptConfig:
    """The OCIO config of the script whose root node is ``root`` (Project Settings > Color)."""
    management = _choice(root.knob("colorManagement"))
    name = _choice(root.knob("OCIO_config")) or NUKE_DEFAULT
    if management == "Nuke" or name == NUKE_DEFAULT:
        return ScriptConfig(NUKE_DEFAULT)
    if name == "custom":
        knob = root.knob("customOCIOConfigPath")
        path = (knob.getEvaluatedValue() if knob is not None else "") or ""
        return ScriptConfig(name, path=path.strip())
    builtin = name.removeprefix("fn-nuke_")
    if builtin in OCIO_BUILTIN_CONFIGS:
        return ScriptConfig(name, builtin=f"ocio://{builtin}")
    if ACES1_CONFIG.match(name):
        return ScriptConfig(name, builtin=REFERENCE_CONFIG)
    return ScriptConfig(name)


def working_space(root) -> str:
    """The script's working space (Project Settings > Color > working space), which the Writes render
    in raw."""
    return _choice(root.knob("workingSpaceLUT"))


def same_config(script_path: str, server_config: str) -> bool:
    """Whether a config file the script names is the one the server reports (``Info.ocio_config``)."""

    def normal(path: str) -> str:
        return posixpath.normpath(path.strip().replace("\\", "/")) if path.strip() else ""

    return bool(normal(script_path)) and normal(script_path) == normal(server_config)


def _nuke_default_space(working: str) -> str:
    name = NUKE_DEFAULT_ROLES.get(working, working)
    if name not in NUKE_DEFAULT_SPACES:
        raise SettingsError(
            f"the working space {working!r} of Nuke's nuke-default colour management has no counterpart "
            f"in an OCIO config MovingColor can name (its camera log curves keep Rec.709 primaries): "
            f"set colourspace to its name in the server's OCIO config, or work in linear (Project "
            f"Settings > Color > working space)"
        )
    return NUKE_DEFAULT_SPACES[name]


def _aces1_space(config: ScriptConfig, working: str) -> str:
    """``working`` of an ACES 1.x config as a colourspace: a role as the colourspace it stands for there."""
    if working not in ACES1_ROLES:
        return working
    space = ACES1_ROLES[working]
    if space is None:
        raise SettingsError(
            f"the working space {working!r} of {config.name} is a role for a display colourspace, which "
            f"has no counterpart in the OCIO config MovingColor names it in ({REFERENCE_CONFIG}): choose "
            f"the colourspace itself (e.g. ACES - ACEScg) as the working space (Project Settings > Color), "
            f"or set colourspace to its name in the server's OCIO config"
        )
    return space


def server_colorspace(
    config: ScriptConfig, working: str, grade_is_look: bool, server_config: Callable[[], str]
) -> ServerColorspace:
    """How the server is told the working space ``working`` of ``config``. ``server_config()`` asks the
    server which config it runs (only when the shot must use it). SettingsError, naming the fix, when
    the server's config cannot be known to mean the same by the name."""
    if not working:
        raise SettingsError(
            "the script has no working space (Project Settings > Color): choose one, or set colourspace"
        )
    # A role of an ACES 1.x config is sent as the colourspace it stands for there, which the status
    # line names.
    name = _aces1_space(config, working) if config.is_aces1 else working
    sent_as = f" as {name!r}" if name != working else ""
    if config.is_nuke_default:
        name = _nuke_default_space(working)
        sent = "" if grade_is_look else REFERENCE_CONFIG
        where = sent or "the server's config"
        return ServerColorspace(
            name, sent, f"nuke-default working space {working!r} sent as {name!r} of {where}"
        )
    if config.builtin and not grade_is_look:
        note = f"working space {working!r} of {config.name} sent{sent_as} with {config.builtin}"
        return ServerColorspace(name, config.builtin, note)
    served = server_config()
    if (config.path and same_config(config.path, served)) or (config.builtin and served == config.builtin):
        note = f"working space {working!r} of {config}, the server's config too" + (
            f", sent{sent_as}" if sent_as else ""
        )
        return ServerColorspace(name, "", note)
    why = "an OCIO look is a look of the server's config, and " if grade_is_look else ""
    raise SettingsError(
        f"{why}the script's OCIO config is {config} while the server uses {served or 'another config'}: the "
        f"working space {working!r} may name another colourspace there, or none. Set colourspace to the "
        f"working space's name in the server's config (it is then sent as it is), or run the server with "
        f"the script's config"
    )
