"""An OpenColorIO config whose every file is read inside a server's root folders, when it is read.

A file job's config and grade are checked to lie inside the roots when the request arrives, but
OpenColorIO opens its config, its LUTs and a grade's LUT by name later, as processors are built:
a client that can write inside a root could swap a link between the check and the read, and have
the server apply (and quote back in OpenColorIO's errors) a file outside the roots. A config made
from :class:`ConfinedFiles` hands OpenColorIO bytes read from a descriptor checked as it was opened
(``frames.confine.read_inside``), never a name to open.

OpenColorIO reads a LUT from disk by its name itself when this reader raises or gives no bytes;
a file refused here is given to it as bytes no LUT format parses, and the refusal is kept for the
caller to raise in place of OpenColorIO's "could not be loaded" (:meth:`ConfinedFiles.raise_refused`).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import PyOpenColorIO as ocio

from ..errors import MovingColorError, PathOutsideRootsError
from ..frames.confine import read_inside

#: What OpenColorIO is given for a file refused or missing: no format reads it, so the load fails
#: instead of falling back to opening the name.
_UNREADABLE = list(b"\0(not read: missing, not a file, or outside the server's root folders)\0")


class ConfinedFiles(ocio.PyConfigIOProxy):
    """The files of config ``source`` (a path, or a built-in ``ocio://`` name) and of the LUTs it
    and the grades applied in it read, each read inside ``roots`` as OpenColorIO asks for it."""

    def __init__(self, source: str, roots: Sequence[Path]):
        super().__init__()
        self.source = source
        self.roots = tuple(roots)
        # Per thread: one config serves a server's calls at once.
        self._failed = threading.local()

    def getConfigData(self) -> str:  # noqa: N802 - OpenColorIO's name
        if self.source.startswith("ocio://"):
            return ocio.Config.CreateFromFile(self.source).serialize()
        return read_inside(self.source, self.roots, "OpenColorIO config").decode("utf-8", errors="replace")

    def getLutData(self, path: str) -> list[int]:  # noqa: N802 - OpenColorIO's name
        content = self._read(path)
        return _UNREADABLE if content is None else list(content)

    def getFastLutFileHash(self, path: str) -> str:  # noqa: N802 - OpenColorIO's name
        content = self._read(path)
        return "unreadable:" + path if content is None else hashlib.sha256(content).hexdigest()

    def _read(self, path: str) -> bytes | None:
        try:
            return read_inside(path, self.roots, "LUT")
        except (OSError, MovingColorError) as error:
            # Missing or not a file: OpenColorIO's own error names the file.
            self._failed.error = error
            return None

    def raise_refused(self) -> None:
        """Where OpenColorIO failed to load a file: raise the refusal of a file outside the roots
        this thread asked for, if that was why; forget it either way. OpenColorIO keeps a file
        that failed to load by its name for the life of the process, so its caches are emptied:
        a file put right (the link fixed, the LUT installed) is read again by the next job."""
        error = getattr(self._failed, "error", None)
        if error is None:
            return
        self._failed.error = None
        ocio.ClearAllCaches()
        if isinstance(error, PathOutsideRootsError):
            raise error


def confined_config(source: str, roots: Sequence[Path]) -> tuple[ocio.Config, ConfinedFiles]:
    """The config ``source`` read through a :class:`ConfinedFiles` of ``roots``, which must live as
    long as the config: OpenColorIO holds it without a reference Python counts."""
    files = ConfinedFiles(source, roots)
    config = ocio.Config.CreateFromConfigIOProxy(files)
    if not source.startswith("ocio://"):
        # Its search path is relative to its own folder, as for a config opened by its name.
        config.setWorkingDir(os.path.dirname(os.path.abspath(source)))
    return config, files
