"""Proxy mode: Nuke renders every node, the node's Writes included, at the proxy scale, so a band
width in pixels must scale with the frames; a percentage of the object's size scales by itself."""

from __future__ import annotations

from pathlib import Path

from movingcolor.spec.band_width import BandWidth


def render_scale(root) -> float:
    """The scale the script renders at: 1 in full-size mode; in proxy mode (Project Settings > proxy
    mode) the proxy scale, or with a proxy format the ratio of its width to the full-size format's."""
    if not root["proxy"].value():
        return 1.0
    if str(root["proxy_type"].value()) == "format":
        return root["proxy_format"].value().width() / root["format"].value().width()
    return float(root["proxy_scale"].value())


def band_at_scale(band: str, scale: float) -> str:
    """``band`` for frames rendered at ``scale`` of full size: a width in pixels scaled, a percentage
    as it is."""
    width = BandWidth.parse(band)
    if width.relative or scale == 1.0:
        return band
    return str(BandWidth(width.value * scale))


def proxy_output(out: str) -> str:
    """Where fused frames rendered in proxy mode go: a ``proxy`` folder beside the output's frames,
    so a proxy fuse never replaces the full-size take."""
    path = Path(out)
    return str(path.parent / "proxy" / path.name)
