"""What colour space Resolve's renders are in, and how the server is told it.

Resolve renders what its colour management delivers (Project Settings > Color
Management), not the media's own values:

- DaVinci YRGB, not colour-managed: nothing is converted, so a render holds the
  clips' own values; the project cannot say what they are, so the ``colorspace``
  setting names the plate media's colour space (MovingColor does not guess).
- DaVinci YRGB Color Managed: the output colour space ("Bypass": the timeline's).
  Where MovingColor knows Resolve's name for it, it sends the same colourspace of
  OCIO's built-in studio config (the shot names that config); otherwise the
  ``colorspace`` setting names it in the server's config.
- ACES (ACEScct, ACEScc): through the ACES output transform, which no OCIO
  colourspace undoes; the ``colorspace`` setting names what it renders.

The server converts from that colourspace to scene-linear to blend, and the fused
frames come back in it, so the fused clip is in the render's colour space too: on a
colour-managed timeline it is tagged with it (placement.py). The render settings
``ColorSpaceTag`` and ``GammaTag`` only tag files, they convert nothing, so the
bridge leaves them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from movingcolor_hosts import SettingsError
from movingcolor_hosts.settings import REFERENCE_CONFIG

#: An OCIO built-in config (OCIO 2.3 and later: the server's minimum) with a colourspace for each
#: Resolve colour space below; a shot whose colourspace is taken from the project names it.

#: Resolve's colour spaces (combined names, or colour space and gamma with "separate color space and
#: gamma") -> the same colourspace in REFERENCE_CONFIG. Only spaces whose primaries and curve are the
#: same on both sides: a space missing here is named by the ``colorspace`` setting.
RESOLVE_SPACES = {
    ("Rec.709 Gamma 2.4", ""): "Gamma 2.4 Rec.709 - Texture",
    ("sRGB", ""): "sRGB - Texture",
    ("DaVinci WG/Intermediate", ""): "DaVinci Intermediate WideGamut",
    ("Rec.709", "Gamma 2.4"): "Gamma 2.4 Rec.709 - Texture",
    ("Rec.709", "Gamma 2.2"): "Gamma 2.2 Rec.709 - Texture",
    ("Rec.709", "sRGB"): "sRGB - Texture",
    ("Rec.709", "Linear"): "Linear Rec.709 (sRGB)",
    ("Rec.2020", "Linear"): "Linear Rec.2020",
    ("P3-D65", "Linear"): "Linear P3-D65",
    ("DaVinci WG", "DaVinci Intermediate"): "DaVinci Intermediate WideGamut",
    ("DaVinci WG", "Linear"): "Linear DaVinci WideGamut",
}
#: colorScienceMode values of DaVinci YRGB Color Managed (Resolve 17 and later, and before).
COLOR_MANAGED = ("davinciYRGBColorManagedv2", "davinciYRGBColorManaged")
ACES = ("acescct", "acescc")
BYPASS = "Bypass"


@dataclass(frozen=True)
class RenderColor:
    """The colour space a project's renders are in, as Resolve names it: ``space`` and, with separate
    colour space and gamma, ``gamma`` ("" with combined names). ``science``: colorScienceMode."""

    science: str
    space: str = ""
    gamma: str = ""

    @property
    def managed(self) -> bool:
        return self.science in COLOR_MANAGED

    def __str__(self) -> str:
        return f"{self.space} / {self.gamma}" if self.gamma else self.space


@dataclass(frozen=True)
class SentColorspace:
    """What the shot tells the server: ``colorspace`` in ``config`` ("": the server's own), and a line
    saying so for the log."""

    colorspace: str
    config: str
    note: str


def render_color(project) -> RenderColor:
    """What the project's renders are in (Project.GetSetting)."""

    def setting(name: str) -> str:
        return str(project.GetSetting(name) or "").strip()

    science = setting("colorScienceMode")
    if science not in COLOR_MANAGED:
        return RenderColor(science)
    separate = setting("separateColorSpaceAndGamma") == "1"
    space, gamma = setting("colorSpaceOutput"), setting("colorSpaceOutputGamma") if separate else ""
    if space == BYPASS:  # the output is the timeline's colour space
        space, gamma = setting("colorSpaceTimeline"), setting("colorSpaceTimelineGamma") if separate else ""
    return RenderColor(science, space, gamma)


def sent_colorspace(
    color: RenderColor, given: str, grade_is_look: bool, label: str = "colorspace"
) -> SentColorspace:
    """How the server is told the colour space of the renders: ``given`` (the ``colorspace`` setting,
    in the server's config; ``label`` names it as the artist set it) when set, else the project's,
    named in REFERENCE_CONFIG (in the server's config for a look grade, whose look is the server's).
    SettingsError, naming the fix, when neither says."""
    if given:
        return SentColorspace(given, "", f"renders taken to be {given!r} of the server's config ({label})")
    name = RESOLVE_SPACES.get((color.space, color.gamma)) if color.managed else None
    if name:
        config = "" if grade_is_look else REFERENCE_CONFIG
        where = config or "the server's config"
        return SentColorspace(
            name, config, f"renders in the output colour space {color}, sent as {name!r} of {where}"
        )
    fix = f"set {label} to its name in the server's OCIO config"
    if color.managed:
        raise SettingsError(
            f"Resolve renders in the project's output colour space {str(color) or '(unknown)'} (Project "
            f"Settings > Color Management), which MovingColor cannot name in an OCIO config by itself: "
            f"{fix}, or choose an output colour space it knows ({', '.join(_known())})"
        )
    if color.science in ACES:
        raise SettingsError(
            f"an ACES project ({color.science}) renders through its ACES output transform, which no OCIO "
            f"colourspace undoes: {fix} (what the output transform delivers)"
        )
    raise SettingsError(
        "the project is not colour-managed (DaVinci YRGB): Resolve renders the clips' own values, "
        f"unconverted, so name the plate media's colour space: {fix} (e.g. ACEScg for ACEScg EXRs), or "
        f"use DaVinci YRGB Color Managed"
    )


def _known() -> list[str]:
    return [f"{space} / {gamma}" if gamma else space for space, gamma in RESOLVE_SPACES]
