"""Fingerprints: what an output frame was made from, recorded in its EXR header.

A rerun compares the fingerprint in each existing output frame with the one the
current inputs and settings give, and redoes only frames that are missing, unreadable
or stale. The fingerprint covers the software version, the engine and the model's
weights, every setting that changes pixels, the contents of grade, LUT and config
files (and OpenColorIO's own identity of the config as resolved and of the grade's
processors and of every colour conversion the shot makes: a config from $OCIO, its context
variables, the LUTs a look or a colourspace reads), and the
identity (size and modification time) of every input frame of the shot.
It is the same for every chunk of a shot, since chunks share their context.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .. import __version__
from ..frames.confine import active_roots, read_inside
from ..frames.overlap import absolute_spelling
from ..protocol.digest import file_sha256
from ..spec.schema import grade_file_parts


def _maybe_file(value: str | None) -> str | None:
    """A setting that may name a file (a LUT, a CDL, a config): its content counts."""
    if not value:
        return value
    named = grade_file_parts(value)
    if named is None:
        return value
    path = Path(named[0]).expanduser()
    roots = active_roots()
    # In a server's file job, inside its roots, as the grade and config themselves are read.
    digest = (
        file_sha256(path) if roots is None else hashlib.sha256(read_inside(path, roots, "file")).hexdigest()
    )
    return f"{absolute_spelling(path)}{'#' if named[1] else ''}{named[1]}@{digest}"


def fingerprint(settings: dict, input_files: list[str], model_files: list[Path] = ()) -> str:
    """A short hex digest of ``settings``, the identity of ``input_files`` and the model."""
    digest = hashlib.sha256()
    record = {
        "version": __version__,
        "settings": {k: _maybe_file(v) if isinstance(v, str) else v for k, v in sorted(settings.items())},
        "model": [file_sha256(Path(p)) for p in model_files],
    }
    digest.update(json.dumps(record, sort_keys=True, default=str).encode())
    identities = []
    for name in input_files:
        try:
            stat = os.stat(name)
            identities.append(f"{absolute_spelling(name)}\0{stat.st_size}\0{stat.st_mtime_ns}\n")
        except OSError:
            identities.append(f"{name}\0missing\n")
    for identity in sorted(identities):
        digest.update(identity.encode())
    return digest.hexdigest()[:32]
