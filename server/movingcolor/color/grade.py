"""Grades: what ``--grade`` accepts, turned into one OpenColorIO transform.

Accepted forms:

* an inline ASC CDL ``slope=1.1,1.0,0.9;offset=0.01;power=1.0;sat=1.2`` (numbers separated by
  commas or, as in .cc files, by spaces: ``slope=1.1 1.0 0.9``);
* a CDL file (``.cc``, ``.ccc``, ``.cdl``; ``file.ccc#id`` picks one correction);
* any LUT or transform file OpenColorIO reads (``.cube``, ``.clf``, ``.ctf``, ``.3dl``, ...);
* a look from the config, ``look:NAME`` (or a bare name the config knows as a look);
* the paper's parametric grade ``exposure=0.5;warmth=0.3;...`` (see ``parametric``).

CDLs and LUT files apply in the *grade colourspace* (by default the plate's own,
the values the artist sees in the file); looks carry their own process space;
the parametric grade works on sRGB-encoded values.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import PyOpenColorIO as ocio

from ..errors import GradeError, UnknownLookError
from ..frames.confine import active_roots, read_bounded, read_inside
from ..spec.grade_text import CDL_KEYS, canonical_grade, inline_values, written_out
from ..spec.schema import LOOK_PREFIX, grade_file_parts
from .config import OCIO_ERRORS, ColorConfig, apply_processor
from .confined_files import private_copy
from .parametric import ParametricGrade

#: Where each CDL number is sane: far wider than any grade (a slope of 4 is already extreme),
#: narrow enough that a typo (1e39, inf) cannot fill a frame with infinities. Power excludes 0.
CDL_RANGES = {"slope": (0.0, 100.0), "offset": (-10.0, 10.0), "power": (0.0, 100.0), "sat": (0.0, 100.0)}
#: Colours every grade must map to finite colours: the corners and axes of the unit cube, grey.
_PROBE = np.array(
    [[r, g, b] for r in (0.0, 0.18, 0.5, 1.0) for g in (0.0, 0.5, 1.0) for b in (0.0, 0.5, 1.0)],
    dtype=np.float32,
)


@dataclass(frozen=True)
class Grade:
    """A grade as an OCIO transform plus where it must be applied."""

    kind: str  # "cdl", "file", "look" or "parametric"
    label: str  # short, human-readable; recorded in output headers
    transform: ocio.Transform
    #: Colourspace the transform expects its input in; None means "the grade colourspace".
    colorspace: str | None = None
    #: For a grade file: the digest of the content read (and the correction's id), recorded in the
    #: fused frames' headers; the label names the file alone.
    digest: str = ""
    #: For a grade written out (a CDL, adjustments): its values written one way, so that two
    #: spellings of one grade (``slope=1.2 1 0.8`` and ``slope=1.2,1,0.8``) are one grade to a rerun.
    canonical: str = ""

    def processor(self, config: ColorConfig, src: str, dst: str, grade_colorspace: str) -> ocio.CPUProcessor:
        """Processor taking ``src`` pixels to graded pixels in ``dst``."""
        if self.kind == "look":
            transform: ocio.Transform = ocio.LookTransform(src=src, dst=dst, looks=self.label)
        else:
            space = self.colorspace or grade_colorspace
            transform = ocio.GroupTransform(
                [
                    ocio.ColorSpaceTransform(src=src, dst=space),
                    self.transform,
                    ocio.ColorSpaceTransform(src=space, dst=dst),
                ]
            )
        try:
            processor = config.processor(transform)
        except OCIO_ERRORS as error:
            raise GradeError(f"grade {self.label!r} cannot be applied: {error}") from error
        # A LUT file holding NaN or a look that overflows passes every parser; what it does to
        # ordinary colours shows it before a frame is written.
        probe = apply_processor(processor, _PROBE)
        if not np.isfinite(probe).all():
            raise GradeError(
                f"grade {self.label!r} turns ordinary colours into NaN or infinity; check the "
                f"grade's numbers (or its LUT file's entries)"
            )
        return processor


def parse_grade(spec: str, config: ColorConfig) -> Grade:
    """Turn a ``--grade`` value into a :class:`Grade`, validating it fully."""
    text = spec.strip()
    if not text:
        raise GradeError("--grade is empty; give a CDL, a LUT file, look:NAME or adjustments")
    if text.startswith(LOOK_PREFIX):
        return _look(text.removeprefix(LOOK_PREFIX), config)
    if written_out(text):
        # Before any file is looked for: a grade written out is never a file's name.
        return _inline(text, config)
    named = grade_file_parts(text)
    if named is not None:
        return _file(Path(named[0]).expanduser(), named[1], config)
    if "=" in text:
        return _inline(text, config)
    path_text, _, cccid = text.rpartition("#") if "#" in text else (text, "", "")
    path = Path(path_text).expanduser()
    if path.exists():  # a folder, say: _file says why it is no grade
        return _file(path, cccid, config)
    if config.config.getLook(text) is not None:
        return _look(text, config)
    raise GradeError(
        f"grade {text!r} is neither an existing file, a look in config {config.name!r}, "
        f"nor key=value adjustments; check the path, or write look:NAME, "
        f"slope=..;offset=..;power=..;sat=.., or exposure=..;saturation=.."
    )


def _look(name: str, config: ColorConfig) -> Grade:
    """A look, or looks as OpenColorIO writes them: ``show, +shot`` applied in turn (``:``
    separates them too), a ``-`` one inverted."""
    # Of alternatives (``a | b``), OpenColorIO applies the first, and refuses it where it is missing.
    names = _looks_in_turn(name.split("|")[0])
    missing = [look for look in names if config.config.getLook(look) is None]
    if missing or not names:
        known = [look.getName() for look in config.config.getLooks()]
        if not names:
            raise UnknownLookError(
                f"look:{name} names no look; write look:NAME, NAME one of the looks of config "
                f"{config.name!r}: {', '.join(known) or 'it has none'}"
            )
        named = (
            f" ({', '.join(repr(n) for n in dict.fromkeys(missing))} missing)" if missing != [name] else ""
        )
        raise UnknownLookError(
            f"look {name!r} is not in OpenColorIO config {config.name!r}{named}; "
            f"it has: {', '.join(known) or 'no looks'}"
        )
    # A look is applied in its own process space (OpenColorIO's LookTransform): what the log and
    # the report name, whatever --grade-colorspace says; of looks applied in turn, the first's.
    # By its colourspace's name: a process space may be a role or an alias (scene_linear, lin_ap1).
    process = config.config.getLook(names[0]).getProcessSpace()
    space = config.config.getColorSpace(process) if process else None
    own = space.getName() if space is not None else process or None
    return Grade("look", name, ocio.LookTransform(), colorspace=own)


def _looks_in_turn(text: str) -> list[str]:
    """The looks' names in an OpenColorIO list of looks (``show, -shot``), in order, each without
    its ``+`` or ``-``."""
    parts = text.replace(":", ",").split(",")
    names = (part.strip().removeprefix("+").removeprefix("-").strip() for part in parts)
    return [name for name in names if name]


def _inline(text: str, config: ColorConfig) -> Grade:
    values = inline_values(text)
    keys = set(values)
    if keys <= set(CDL_KEYS):
        return _cdl(values, text)
    if keys <= set(ParametricGrade.RANGES):
        single = {}
        for key, numbers in values.items():
            if len(numbers) != 1:
                raise GradeError(f"parametric adjustment {key} takes one number, not {numbers}")
            single[key] = numbers[0]
        grade = ParametricGrade.from_mapping(single)
        canonical = canonical_grade(text) or ""
        return Grade(
            "parametric", text, grade.to_transform(), colorspace=config.srgb_encoded, canonical=canonical
        )
    unknown = sorted(keys - set(CDL_KEYS) - set(ParametricGrade.RANGES))
    if unknown:
        raise GradeError(_unknown_key(unknown[0]))
    mixed = sorted(keys - set(CDL_KEYS)) if keys & set(CDL_KEYS) else sorted(keys)
    # .cc files spell the CDL's saturation out; here that name is the parametric adjustment.
    spelled_out = " (a CDL's saturation is written sat)" if "saturation" in mixed else ""
    raise GradeError(
        f"grade {text!r}: cannot use {', '.join(mixed)} here{spelled_out}. A CDL takes "
        f"{', '.join(CDL_KEYS)}; a parametric grade takes {', '.join(ParametricGrade.RANGES)}; "
        f"the two cannot be mixed in one grade"
    )


def _unknown_key(key: str) -> str:
    """The message for a key neither a CDL nor the parametric grade takes, with the nearest known
    key: a typo (``slop``) is far likelier than a wish to mix the two kinds of grade."""
    known = (*CDL_KEYS, *ParametricGrade.RANGES)
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"unknown grade key {key!r}: did you mean {close[0]!r}?"
    return (
        f"unknown grade key {key!r}: a CDL takes {', '.join(CDL_KEYS)}; a parametric grade takes "
        f"{', '.join(ParametricGrade.RANGES)}"
    )


def _triple(key: str, numbers: list[float], default: float) -> list[float]:
    if not numbers:
        return [default] * 3
    if len(numbers) == 1:
        return numbers * 3
    if len(numbers) == 3:
        return numbers
    raise GradeError(f"CDL {key} takes one or three numbers, not {len(numbers)}")


def _cdl(values: dict[str, list[float]], text: str) -> Grade:
    slope = _triple("slope", values.get("slope", []), 1.0)
    offset = _triple("offset", values.get("offset", []), 0.0)
    power = _triple("power", values.get("power", []), 1.0)
    sat = values.get("sat", [1.0])
    if len(sat) != 1:
        raise GradeError(f"CDL sat takes one number, not {sat}")
    for key, numbers in (("slope", slope), ("offset", offset), ("power", power), ("sat", sat)):
        low, high = CDL_RANGES[key]
        if not all(low <= n <= high for n in numbers) or (key == "power" and min(numbers) <= 0):
            bounds = f"positive and at most {high:g}" if key == "power" else f"from {low:g} to {high:g}"
            raise GradeError(f"CDL {key} {numbers}: each must be {bounds}; check the grade's numbers")
    cdl = ocio.CDLTransform()
    cdl.setSlope(slope)
    cdl.setOffset(offset)
    cdl.setPower(power)
    cdl.setSat(sat[0])
    return Grade("cdl", text, cdl, canonical=canonical_grade(text) or "")


#: Each grade file's content digest when it was last read in this process.
_FILES_READ: dict[str, str] = {}
_FILES_READ_LOCK = threading.Lock()


def _read_afresh_if_changed(path: Path, content: bytes) -> None:
    """OpenColorIO keeps a file it has parsed by its path for the life of the process: a LUT or CDL
    a colourist changed on disk was applied as it was when first read (a server fused the old
    grade). A file whose ``content`` changed since it was last read empties OpenColorIO's caches (by
    content: an edit can keep the size, and the modification time within the clock's step)."""
    digest = hashlib.sha256(content).hexdigest()
    with _FILES_READ_LOCK:
        before = _FILES_READ.get(os.fspath(path))
        _FILES_READ[os.fspath(path)] = digest
        if before is not None and before != digest:
            ocio.ClearAllCaches()


def _file(path: Path, cccid: str, config: ColorConfig) -> Grade:
    roots = active_roots()
    content = b""
    try:
        # In a server's file job, read inside its roots from the descriptor checked as it was opened
        # (the name checked when the job arrived could be a link to anywhere by now), and OpenColorIO
        # given a private copy of what was read, not the name.
        content = (
            read_bounded(path, "grade file") if roots is None else read_inside(path, roots, "grade file")
        )
    except OSError as error:
        if roots is not None:  # nothing for OpenColorIO to name: it is given no name
            raise GradeError(
                f"{path}: cannot read the grade file ({error.strerror}); check the path"
            ) from error
        # OpenColorIO names the file it cannot read
    else:
        _read_afresh_if_changed(path.resolve(), content)
        _refuse_utf16(path, content)
    source = path.resolve() if roots is None else private_copy(path.name, content)
    transform = ocio.FileTransform(src=os.fspath(source), interpolation=ocio.INTERP_BEST)
    if cccid:
        _check_correction_id(path, cccid, source)
        transform.setCCCId(cccid)
    elif path.suffix.lower() in _CDL_SUFFIXES:
        # Whatever its extension says: a collection saved as .cc applied its first correction.
        _require_one_correction(path, source)
    try:
        # Parse now, so an unreadable LUT fails before any frame is written.
        config.build(transform)
    except (*OCIO_ERRORS, UnicodeDecodeError) as error:  # a text format's parser meets binary
        # OpenColorIO names the file it read: the private copy's name is the server's business.
        said = str(error).replace(os.fspath(source), os.fspath(path))
        if _is_titled_shaper_cube(path, content):
            raise GradeError(
                f"{path}: OpenColorIO does not read a TITLE line in a .cube that holds a 1D shaper "
                f"and a 3D LUT (as DaVinci Resolve writes them); delete the TITLE line and give the "
                f"file again (OpenColorIO: {said})"
            ) from error
        raise GradeError(
            f"{path}: OpenColorIO cannot read this grade file ({said}); check that it is a "
            f"complete LUT/CDL in a format OpenColorIO supports"
        ) from error
    kind = "cdl" if path.suffix.lower() in (".cc", ".ccc", ".cdl") else "file"
    digest = _digest(source, cccid, content)
    return Grade(kind, path.name + (f"#{cccid}" if cccid else ""), transform, digest=digest)


def _digest(cdl_path: Path, cccid: str, content: bytes) -> str:
    """What a grade file applies, as a digest: the file's content, or for ``FILE#ID`` the values of
    that correction alone (a collection republished for another shot is the same grade for this one)."""
    if not cccid:
        return f"sha256:{hashlib.sha256(content).hexdigest()}"
    cdl = ocio.CDLTransform.CreateFromFile(os.fspath(cdl_path), cccid)
    values = (cdl.getSlope(), cdl.getOffset(), cdl.getPower(), cdl.getSat())
    return f"sha256:{hashlib.sha256(repr(values).encode()).hexdigest()}#{cccid}"


def _is_titled_shaper_cube(path: Path, content: bytes) -> bool:
    """Whether ``path`` (its ``content``) is a .cube with a TITLE line, a 1D shaper and a 3D LUT: the
    one kind whose TITLE OpenColorIO's parsers refuse (each .cube parser is tried in turn, and the
    Resolve one names a TITLE line whatever is wrong with a file, so its words alone do not say TITLE
    is the fault)."""
    if path.suffix.lower() != ".cube":
        return False
    keywords = {
        line.split(maxsplit=1)[0] for line in content.decode(errors="replace").splitlines() if line.strip()
    }
    return {"TITLE", "LUT_1D_SIZE", "LUT_3D_SIZE"} <= keywords


def _refuse_utf16(path: Path, content: bytes) -> None:
    """A UTF-16 text file (a CDL saved so by some editors) reads to OpenColorIO's parsers as
    binary: "Missing CDL tag" named no cause."""
    if content[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise GradeError(f"{path}: is UTF-16 text, which OpenColorIO does not read; save it as UTF-8")


#: The files that hold ASC CDL corrections (one, or a collection).
_CDL_SUFFIXES = (".cc", ".ccc", ".cdl")


def _check_correction_id(path: Path, cccid: str, cdl_path: Path) -> None:
    """``FILE#ID`` picks a correction of a collection: a file holding one correction of another id,
    or no corrections at all (a LUT), would have been applied whole, another shot's grade; an id
    none of a collection's corrections has, where they have ids, was taken by OpenColorIO as a
    place (``events.ccc#2`` of ids 001-003 applied 003). A place picks only among corrections
    without ids, as ``movingcolor fuse`` names them."""
    if path.suffix.lower() not in _CDL_SUFFIXES:
        raise GradeError(
            f"{path.name}#{cccid}: a {path.suffix or 'LUT'} file holds no corrections to pick by id; "
            f"give {path.name} alone"
        )
    try:
        corrections = list(ocio.CDLTransform.CreateGroupFromFile(os.fspath(cdl_path)))
    except (*OCIO_ERRORS, ValueError):
        return  # not corrections OpenColorIO reads: the processor's parse says what is wrong
    ids = [correction.getID() for correction in corrections]
    if cccid in ids or (not any(ids) and cccid.isdigit() and int(cccid) < len(ids)):
        return
    if len(corrections) == 1:
        own = f"its id is {ids[0]!r}" if ids[0] else "it has no id"
        raise GradeError(
            f"{path.name}#{cccid}: {path.name} holds one correction and {own}, not {cccid!r}; check "
            f"that this is the shot's grade, and give {path.name} alone"
        )
    named = [identity or str(index) for index, identity in enumerate(ids)]
    shown = ", ".join(named[:10]) + (f" and {len(named) - 10} more" if len(named) > 10 else "")
    raise GradeError(
        f"{path.name}#{cccid}: none of the {len(corrections)} corrections in {path.name} is {cccid!r} "
        f"(they are {shown}); give one of those, e.g. {path.name}#{named[0]}"
    )


def _require_one_correction(path: Path, cdl_path: Path) -> None:
    """A collection of several corrections named without ``#id``: OpenColorIO would take the first,
    a grade no one chose. Refused, with the ids to choose from."""
    try:
        corrections = list(ocio.CDLTransform.CreateGroupFromFile(os.fspath(cdl_path)))
    except OCIO_ERRORS:
        return  # not a CDL OpenColorIO reads: the processor's parse below says what is wrong
    if len(corrections) > 1:
        # A correction without an id is picked by its place, from 0 (``FILE.ccc#0``).
        ids = [correction.getID() or str(index) for index, correction in enumerate(corrections)]
        shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        raise GradeError(
            f"{path} holds {len(corrections)} colour corrections ({shown}): name the one to apply, "
            f"e.g. {path.name}#{ids[0]}"
        )


#: Greys a scene-linear plate's highlights hold, all above 1.0.
_HIGHLIGHTS = np.array([[v, v, v] for v in (1.5, 2.0, 4.0, 8.0, 16.0)], np.float32)


def flattens_highlights(graded: ocio.CPUProcessor) -> float | None:
    """The value from which ``graded`` (a grade's processor from a scene-linear plate's space) gives
    every grey one colour, where it does among a plate's highlights: 1.0 for a 0..1 LUT (most .cube
    files, or one inside a look) or adjustments clamped to 0..1; the top of a LUT's input range
    (``LUT_3D_INPUT_RANGE 0 4``: highlights above 4 flattened, which looking from 1.5 alone missed).
    None where the brightest greys stay apart."""
    greys = apply_processor(graded, _HIGHLIGHTS)
    flat = len(greys) - 1
    while flat > 0 and np.abs(greys[flat - 1] - greys[-1]).max() < 1e-4:
        flat -= 1
    if flat == len(greys) - 1:
        return None
    return 1.0 if flat == 0 else float(_HIGHLIGHTS[flat, 0])


def changes_nothing(graded: ocio.CPUProcessor, config: ColorConfig, src: str, dst: str) -> bool:
    """Whether ``graded`` (a grade's processor from ``src`` to ``dst``, :meth:`Grade.processor`)
    leaves every probe colour as the plain conversion does (within float rounding): an identity
    CDL, a look of no change."""
    plain = apply_processor(config.processor(ocio.ColorSpaceTransform(src=src, dst=dst)), _PROBE)
    return bool(np.allclose(apply_processor(graded, _PROBE), plain, rtol=0.0, atol=1e-5))
