"""Grades written out (``slope=1.2,1.0,0.8;sat=1.1``, ``exposure=0.5``): their numbers, read
without OpenColorIO, and one spelling of them.

The spelling is what a rerun compares: a CDL written with spaces as a .cc file writes it, with
commas as a farm command does, with one number for three or with its defaults left out, is one
grade, and the frames fused with it are kept.
"""

from __future__ import annotations

import math
import re

from ..errors import GradeError
from .schema import LOOK_PREFIX

CDL_KEYS = ("slope", "offset", "power", "sat")
#: A CDL's values where a grade leaves them out.
_CDL_DEFAULTS = {"slope": 1.0, "offset": 0.0, "power": 1.0, "sat": 1.0}
#: Between a CDL's numbers: commas, or spaces as in .cc files; a sign keeps the number after it.
_NUMBER_SEPARATORS = re.compile(r"\s*,\s*|(?<![+-])\s+")


def inline_values(text: str) -> dict[str, list[float]]:
    """Each ``key=numbers`` part of ``text`` as the key (lower case) and its numbers; GradeError
    for a part that is no such pair, a key given twice, or a number that is none or not finite."""
    values: dict[str, list[float]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, sep, raw = part.partition("=")
        key = key.strip().lower()
        if not sep:
            raise GradeError(f"grade part {part!r} is not key=value")
        if key in values:
            # One of the two would be dropped without a word: which did the colorist mean?
            raise GradeError(f"grade {text!r} gives {key} twice; give each adjustment once")
        try:
            # Commas as on the command line, spaces as in .cc files (``slope=1.2 1.0 0.8``).
            values[key] = [float(v.replace(" ", "")) for v in _NUMBER_SEPARATORS.split(raw.strip()) if v]
        except ValueError as error:
            raise GradeError(f"grade value {part!r} is not a number or a list of numbers") from error
        if not values[key]:
            # Taken as the default, ``slope=;sat=1.2`` applied the saturation alone without a word.
            raise GradeError(f"grade part {part!r} gives {key} no number; give one or three, or leave it out")
        if not all(math.isfinite(v) for v in values[key]):
            raise GradeError(f"grade value {part!r} is not a finite number; write ordinary numbers")
    return values


#: A written-out grade's key: a word (``slope``, ``exposure``), never a path's characters.
_KEY = re.compile(r"[a-z_]+")


def written_out(text: str) -> bool:
    """Whether ``text`` is a grade written out: ``key=numbers`` parts whose keys are words. Such text
    is never a file's name, wherever it is read (a file of that name in a server's working folder, a
    link planted there, is not opened); a path holding ``=`` (``/grades/take=2/a.cc``) is none."""
    text = text.strip()
    if "=" not in text or text.startswith(LOOK_PREFIX):
        return False
    try:
        return all(_KEY.fullmatch(key) for key in inline_values(text))
    except GradeError:
        return False


def say_what_is_wrong(text: str) -> None:
    """GradeError naming the part at fault where ``text`` reads as a grade written out (its keys
    are words) whose numbers are not: ``slope=nan,1,1`` is told its number is not finite, not that
    it is no grade. Text whose keys are not words (a path) passes: no part of it is quoted back."""
    keys = (part.partition("=")[0].strip().lower() for part in text.split(";") if part.strip())
    if all(_KEY.fullmatch(key) for key in keys):
        inline_values(text)


def canonical_grade(text: str) -> str | None:
    """``text``'s grade in one spelling where it is a grade written out (a CDL's four values in full,
    three numbers each but saturation; adjustments by name); None for a file, a look, or text that
    is no grade written out."""
    text = text.strip()
    if not written_out(text):
        return None
    values = inline_values(text)
    if set(values) <= set(CDL_KEYS):
        values = {key: values.get(key, [_CDL_DEFAULTS[key]]) for key in CDL_KEYS}
        values = {
            key: numbers * 3 if key != "sat" and len(numbers) == 1 else numbers
            for key, numbers in values.items()
        }
    return ";".join(f"{key}={','.join(repr(n) for n in values[key])}" for key in sorted(values))
