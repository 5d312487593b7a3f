"""A shot's settings: the one description every surface (command line, client, wire, hosts) uses.

Light on purpose (standard library only): the client and the host bridges import it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ShotSpec:
    """Everything that defines a shot's fusion; the command line fills one of these."""

    plate: str
    out: str
    matte: str = "alpha"  # a source, or "alpha" for the plate's own alpha channel
    grade: str | None = None
    graded: str | None = None
    edited: str | None = None
    engine: str = "guided"
    model: str | None = None  # movingcolor engine: installed model name or model folder
    device: str = "auto"  # movingcolor engine: auto, cpu or cuda
    frames: str | None = None
    handles: int = 0
    band: str = "12"
    config: str | None = None
    plate_colorspace: str | None = None
    graded_colorspace: str | None = None
    grade_colorspace: str | None = None
    out_colorspace: str | None = None
    exr_type: str = "half"
    compression: str = "zip"
    force: bool = False  # redo frames already written for the same inputs and settings
