"""The settings of one fusion, as a host gathers them from knobs, the environment or a file.

Every check names the setting the way the artist sees it (``labels``: a knob's
label in Nuke, an environment variable or file key in Resolve), so a message
says which field to fix.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from movingcolor.errors import MovingColorError
from movingcolor.frames.sequence import is_sequence_pattern
from movingcolor.spec.band_width import BandWidth
from movingcolor.spec.schema import LOOK_PREFIX, default, grade_file_parts

from .errors import SettingsError

#: What a grade may be besides inline CDL/parametric text: a file or a look of the server's config.
GRADE_FILE_EXTENSIONS = (".cc", ".ccc", ".cdl", ".cube", ".clf", ".ctf", ".3dl", ".csp", ".spi1d", ".spi3d")


#: OCIO's built-in config a host's colourspace names are mapped into when the host's own config is
#: one the server cannot read (Nuke's nuke-default, Resolve's colour management).
REFERENCE_CONFIG = "ocio://studio-config-v2.1.0_aces-v1.3_ocio-v2.3"


@dataclass
class FuseSettings:
    """One fusion: where the server is, what to run, how to grade, where the result goes.

    Exactly one of ``grade`` (CDL or parametric text, a grade or LUT file, ``look:NAME``)
    and ``use_graded`` (the host renders a graded plate too) says where the grade comes from.
    """

    server: str = ""
    out: str = ""
    grade: str = ""
    use_graded: bool = False
    engine: str = default("engine")
    model: str = ""  # the server's default model
    band: str = default("band")
    handles: int = default("handles")
    colorspace: str = ""
    #: The OCIO config ``colorspace`` is named in: "" for the server's own, else a config the server
    #: knows (a built-in ``ocio://`` one) that gives the host's name the host's meaning.
    config: str = ""
    token: str | None = None
    timeout: float = 6 * 3600.0
    retries: int = 2
    labels: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    def validate(self) -> FuseSettings:
        """Raise SettingsError naming the first setting that cannot work; return self."""
        if not self.server.strip():
            raise SettingsError(
                f"{self.label('server')} is empty: give the address of a running `movingcolor serve` "
                f"(host:port or unix:///path/to.sock)"
            )
        self._check_out()
        self._check_grade()
        try:
            BandWidth.parse(self.band)
        except MovingColorError as error:
            raise SettingsError(f"{self.label('band')}: {error}") from None
        if self.handles < 0:
            raise SettingsError(
                f"{self.label('handles')} is {self.handles}: give 0 or more frames of context each side"
            )
        if not self.engine.strip():
            raise SettingsError(
                f"{self.label('engine')} is empty: name an engine, e.g. guided or movingcolor"
            )
        # Checked here, before any render: a call given no time fails after the renders as a
        # server "unavailable" (exit 75, worth retrying), which no retry can mend.
        if not self.timeout > 0:
            raise SettingsError(
                f"{self.label('timeout')} is {self.timeout:g}: give the seconds a fuse may take, more than 0"
            )
        if self.retries < 0:
            raise SettingsError(f"{self.label('retries')} is {self.retries}: give 0 or more")
        return self

    def _check_out(self) -> None:
        out = self.out.strip()
        if not out:
            raise SettingsError(
                f"{self.label('out')} is empty: give a sequence to write, e.g. /shots/x/fused/x.####.exr"
            )
        if not is_sequence_pattern(out) or Path(out).suffix.lower() != ".exr":
            raise SettingsError(
                f"{self.label('out')} {out!r} is not an EXR sequence: end it with a frame-number field "
                f"and .exr, e.g. fused.####.exr"
            )

    def _check_grade(self) -> None:
        grade = self.grade.strip()
        if self.use_graded:
            if grade:
                raise SettingsError(
                    f"{self.label('grade')} is set and the graded input is used too: use one of them"
                )
            return
        if not grade:
            raise SettingsError(
                f"{self.label('grade')} is empty: give a CDL (slope=..;offset=..;power=..;sat=..), a grade "
                f"or LUT file, look:NAME, or use the graded input"
            )
        if grade.startswith(LOOK_PREFIX):
            if not grade[len(LOOK_PREFIX) :].strip():
                raise SettingsError(
                    f"{self.label('grade')}: look: needs the name of a look in the OCIO config"
                )
            return
        if grade_file_parts(grade) is not None:
            return
        # A grade file's name, whole or before a correction's id (``FILE.ccc#ID``), even where a
        # folder holds ``=`` or ``#``: one that does not exist is named now, before any render.
        for candidate in (grade, grade.rpartition("#")[0]):
            path = Path(candidate).expanduser()
            if candidate and path.suffix.lower() in GRADE_FILE_EXTENSIONS:
                raise SettingsError(
                    f"{self.label('grade')}: the grade file {path} does not exist; check the path"
                )

    @property
    def grade_is_look(self) -> bool:
        """Whether the grade is a look of an OCIO config (the server's)."""
        return not self.use_graded and self.grade.strip().startswith(LOOK_PREFIX)

    @property
    def exr_type(self) -> str:
        """The fused EXR frames' samples, "half" or "float" (``movingcolor fuse --exr-type``): a host's
        choice by what it renders its inputs at, made by a subclass (Nuke renders 32-bit float, which a
        half take rounds); no field, so no settings file or environment variable sets it."""
        return default("exr_type")

    def for_arrays(self) -> FuseSettings:
        """These settings for ``Client.fuse_arrays`` (the colour check before a host renders), as this
        class's: frames in memory come back as float, and it takes no sample type for files."""
        return FuseSettings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(FuseSettings)})

    def client_options(self) -> dict:
        """Keyword arguments of ``Client.fuse_files`` for these settings (of ``fuse_arrays`` too, with
        :meth:`for_arrays`)."""
        options = {
            "engine": self.engine.strip(),
            "model": self.model.strip() or None,
            "band": self.band.strip(),
            "handles": 0,  # the host renders the context frames itself; the clip is what it sent
        }
        if self.exr_type != default("exr_type"):
            # Only where it is not the default: fuse_arrays takes no exr_type.
            options["exr_type"] = self.exr_type
        if self.config:
            options["config"] = self.config
        if self.colorspace.strip():
            options["plate_colorspace"] = self.colorspace.strip()
            options["out_colorspace"] = self.colorspace.strip()
            if self.use_graded:
                options["graded_colorspace"] = self.colorspace.strip()
        return options


#: What each kind of setting takes, as an error names it.
_WANTED = {"bool": "true or false", "int": "a whole number", "float": "a number"}


def typed_setting(field_type, value: object, key: str):
    """``value`` as the setting's type: text as typed on a command line or in the environment; from
    a settings file (JSON) also a number for a setting of text (``"band": 12``) or of a number, and
    true or false for a switch. Anything else is refused, naming the setting, before any render."""
    if isinstance(value, str):
        return _coerce(field_type, value, key)
    kind = getattr(field_type, "__name__", str(field_type))
    if value is None and "None" in kind:
        return None
    if isinstance(value, bool):
        if kind == "bool":
            return value
    elif isinstance(value, (int, float)):
        if kind == "int" and float(value).is_integer():
            return int(value)
        if kind == "float":
            return float(value)
        if kind.startswith("str"):
            return str(value)
    wanted = _WANTED.get(kind, "text, in quotes")
    raise SettingsError(f"{key} is {json.dumps(value)}: give {wanted}")


def _coerce(field_type, text: str, key: str):
    if field_type in (bool, "bool"):
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{key} is {text!r}: give true or false")
    if field_type in (int, "int"):
        try:
            return int(text)
        except ValueError:
            raise SettingsError(f"{key} is {text!r}: give a whole number") from None
    if field_type in (float, "float"):
        try:
            return float(text)
        except ValueError:
            raise SettingsError(f"{key} is {text!r}: give a number") from None
    return text


def settings_from_mapping(
    values: Mapping[str, object], labels: Mapping[str, str] | None = None, base: FuseSettings | None = None
) -> FuseSettings:
    """Settings from ``values`` (field name -> value, strings converted) over ``base``; unknown keys
    are an error naming ``labels[key]`` or the key, so a typo in a settings file does not pass silently."""
    labels = dict(labels or {})
    known = {f.name: f for f in dataclasses.fields(FuseSettings) if f.name != "labels"}
    result = dataclasses.replace(base) if base else FuseSettings()
    result.labels = {**(base.labels if base else {}), **labels}
    for key, value in values.items():
        if key not in known:
            raise SettingsError(
                f"{labels.get(key, key)}: unknown setting; known settings are {', '.join(sorted(known))}"
            )
        setattr(result, key, typed_setting(known[key].type, value, labels.get(key, key)))
    return result


def environment_values(prefix: str = "MOVINGCOLOR_", environ: Mapping[str, str] | None = None) -> dict:
    """``MOVINGCOLOR_SERVER`` etc. as field values, and the labels naming those variables."""
    environ = os.environ if environ is None else environ
    names = [f.name for f in dataclasses.fields(FuseSettings) if f.name != "labels"]
    return {name: environ[prefix + name.upper()] for name in names if prefix + name.upper() in environ}
