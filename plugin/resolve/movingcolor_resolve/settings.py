"""The Resolve bridge's settings: a small JSON file, overridden by MOVINGCOLOR_* environment variables.

Keys are FuseSettings's (server, grade, engine, model, band, colorspace, token, ...)
and the Resolve ones below. ``out`` is a template: ``{timeline}``, ``{item}``,
``{track}`` and ``{start}`` are filled in per item.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from movingcolor_hosts import FuseSettings, SettingsError, environment_values, settings_from_mapping
from movingcolor_hosts.settings import typed_setting

#: Where the settings file is looked for when $MOVINGCOLOR_RESOLVE_SETTINGS does not name one.
DEFAULT_SETTINGS_FILE = Path("~/.config/movingcolor/resolve.json")
#: A folder per clip, track and record frame: two versions of a plate of one name stacked on V1 and
#: V2 (a pull's v001 and v002) shared one folder, the second's fusion replacing the first's.
DEFAULT_OUT = "~/MovingColor/{timeline}/{item}_V{track}_{start}/{item}.########.exr"
DEFAULT_LOG = "~/MovingColor/movingcolor-resolve.log"
#: Lossless: 32-bit float EXR with ZIP compression (Project.GetRenderCodecs("exr") lists the others).
DEFAULT_CODEC = "RGBFloatZIP"
RESOLVE_KEYS = ("matte", "graded_track", "render_codec", "log_file")


@dataclass
class ResolveSettings:
    """``fuse``: what the server does; ``matte``: "alpha" (render with ExportAlpha) or "track:N"
    (a matte clip on video track N); ``graded_track``: a track holding the graded version (0: none,
    the ``grade`` setting applies)."""

    fuse: FuseSettings = field(default_factory=FuseSettings)
    matte: str = "alpha"
    graded_track: int = 0
    render_codec: str = DEFAULT_CODEC
    log_file: str = DEFAULT_LOG

    def matte_track(self) -> int | None:
        """The matte's track number, or None for the plate's alpha."""
        if self.matte == "alpha":
            return None
        kind, _, number = self.matte.partition(":")
        if kind != "track" or not number.isdigit() or int(number) < 1:
            raise SettingsError(
                f"matte is {self.matte!r}: give alpha (the item rendered with its alpha) or track:N "
                f"(the matte clip on video track N)"
            )
        return int(number)

    def validate(self) -> ResolveSettings:
        """Raise SettingsError naming the first setting that cannot work; return self. An empty
        ``colorspace`` is checked against the project (project_color.py)."""
        self.matte_track()
        if self.fuse.handles:
            raise SettingsError(
                f"{self.fuse.label('handles')} is {self.fuse.handles}: Resolve renders the clip's cut "
                f"only; set it to 0 (the cut is the window's context)"
            )
        if self.graded_track < 0:
            raise SettingsError(f"graded_track is {self.graded_track}: give a video track number, or 0")
        # A grade and a graded track from one layer of the settings are refused (FuseSettings's
        # grade check); from two, the later layer's took the place of the earlier's (load_settings).
        self.fuse.use_graded = self.graded_track > 0
        return self


def _labels(source: str, keys) -> dict[str, str]:
    return {key: source.format(key=key) for key in keys}


def load_settings(
    path: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> ResolveSettings:
    """Settings from the file (``path``, else $MOVINGCOLOR_RESOLVE_SETTINGS, else the default file if
    it exists), then the environment, then ``overrides`` (a command line's options)."""
    environ = os.environ if environ is None else environ
    chosen = path or environ.get("MOVINGCOLOR_RESOLVE_SETTINGS")
    file_path = Path(chosen or DEFAULT_SETTINGS_FILE).expanduser()
    values: dict = {}
    if chosen or file_path.is_file():
        try:
            values = json.loads(file_path.read_text())
        except FileNotFoundError:
            raise SettingsError(f"settings file {file_path} does not exist: check the path") from None
        except json.JSONDecodeError as error:
            raise SettingsError(f"settings file {file_path} is not valid JSON ({error}); fix it") from None
        if not isinstance(values, dict):
            raise SettingsError(f'settings file {file_path}: give an object of settings, {{"server": ...}}')
    resolve = ResolveSettings(fuse=FuseSettings(engine="guided", out=DEFAULT_OUT))
    layers = [
        (values, _labels(f"{file_path}: {{key}}", values)),
        (_environment(environ), {k: f"MOVINGCOLOR_{k.upper()}" for k in _environment(environ)}),
        (dict(overrides or {}), _labels("--{key}", overrides or {})),
    ]
    for layer, labels in layers:
        resolve_values = {k: layer.pop(k) for k in RESOLVE_KEYS if k in layer}
        # The grade comes from one place: a layer that names one source of it (a grade, or a graded
        # track) replaces the other that an earlier layer named. A --grade on the command line had
        # been dropped without a word for the show file's graded_track.
        names_grade = "grade" in layer
        if str(layer.get("grade") or "").strip() and "graded_track" not in resolve_values:
            resolve.graded_track = 0
        resolve.fuse = settings_from_mapping(layer, labels, base=resolve.fuse)
        for key, value in resolve_values.items():
            setattr(
                resolve,
                key,
                _track_number(value, labels.get(key, key))
                if key == "graded_track"
                else typed_setting("str", value, labels.get(key, key)),
            )
        if "graded_track" in resolve_values and resolve.graded_track > 0 and not names_grade:
            resolve.fuse.grade = ""
    for key in ("server", "out", "grade", "engine", "model", "band", "colorspace", "handles"):
        resolve.fuse.labels.setdefault(key, f"{key} (MOVINGCOLOR_{key.upper()})")
    return resolve


def _environment(environ: Mapping[str, str]) -> dict:
    values = environment_values(environ=environ)
    for key in RESOLVE_KEYS:
        name = f"MOVINGCOLOR_{key.upper()}"
        if name in environ:
            values[key] = environ[name]
    return values


def _track_number(value: object, label: str) -> int:
    # A whole number only: int() made 2.9 track 2 and true track 1 without a word.
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise SettingsError(f"{label} is {value!r}: give a video track number (0: none)")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{label} is {value!r}: give a video track number (0: none)") from None
    if number < 0:
        raise SettingsError(f"{label} is {number}: give a video track number (0: none)")
    return number
