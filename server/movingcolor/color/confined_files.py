"""OpenColorIO's files for a server's file job, read inside its root folders when they are read.

A file job's config and grade are checked to lie inside the roots when the request arrives, but
OpenColorIO opens its config, its LUTs and a grade's LUT by name later, as processors are built: a
client that can write inside a root could swap a link between the check and the read, and have the
server apply (and quote back in OpenColorIO's errors) a file outside the roots. So in a file job:

* a grade file is read from a descriptor checked as it was opened
  (``frames.confine.read_inside``), and OpenColorIO is given a private copy of those bytes
  (:func:`private_copy`), never the name the client gave;
* a config file the job names is read through :class:`ConfinedFiles`, which hands OpenColorIO the
  bytes of the config and of each LUT it reads, each read inside the roots as it is asked for.

OpenColorIO reads a LUT from disk by its name itself when this reader raises or gives no bytes; a
file refused here is given to it as bytes no LUT format parses, and the refusal is raised in place of
OpenColorIO's "could not be loaded" (:meth:`ConfinedFiles.loading`). OpenColorIO keeps what it read
by path for the whole process: a LUT the process read unconfined before (the server's own config's)
is taken from there, not read again.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import PyOpenColorIO as ocio

from ..errors import ColorConfigError, ColourFileTooLargeError, MovingColorError, PathOutsideRootsError
from ..frames.confine import read_inside

#: What OpenColorIO is given for a file refused or missing: no format reads it, so the load fails
#: instead of falling back to opening the name.
_UNREADABLE = list(b"\0(not read: missing, not a file, or outside the server's root folders)\0")

_COPIES: Path | None = None
_COPIES_LOCK = threading.Lock()


def _copies_folder() -> Path:
    """This process's private folder of grade files' copies (removed at exit)."""
    global _COPIES
    with _COPIES_LOCK:
        if _COPIES is None:
            _COPIES = Path(tempfile.mkdtemp(prefix="movingcolor-grades-"))
            atexit.register(shutil.rmtree, _COPIES, ignore_errors=True)
        return _COPIES


def private_folder(content: bytes) -> Path:
    """The folder of ``content``'s copies in this process's private folder, named by its digest:
    OpenColorIO keeps a file it read by its path, for good, so one content is one path (read once,
    kept for every job that applies it) and other content another path."""
    folder = _copies_folder() / hashlib.sha256(content).hexdigest()[:32]
    folder.mkdir(exist_ok=True)
    return folder


def write_once(folder: Path, name: str, content: bytes) -> Path:
    """``content`` as ``folder / name``, written where no file of that name is there yet (a folder of
    :func:`private_folder` holds that content alone); whole as seen by another thread."""
    copy = folder / name
    if not copy.exists():
        partial = folder / f".{name}.{threading.get_ident()}.partial"
        partial.write_bytes(content)
        os.replace(partial, copy)
    return copy


def private_copy(name: str, content: bytes) -> Path:
    """``content`` as a file called ``name`` in its :func:`private_folder`."""
    return write_once(private_folder(content), name, content)


class ConfinedFiles(ocio.PyConfigIOProxy):
    """The files of config file ``source`` and of the LUTs it and the grades applied in it read, each
    read inside ``roots`` (or from the private copies of grade files) as OpenColorIO asks for it."""

    def __init__(self, source: str, roots: Sequence[Path]):
        super().__init__()
        self.source = source
        self.roots = tuple(roots)
        self._private = (_copies_folder(),)  # grade files' copies, applied in this config
        self._load = threading.local()  # per thread: a server's calls share one config

    def getConfigData(self) -> str:  # noqa: N802 - OpenColorIO's name
        if self.source.lower().endswith(".ocioz"):
            raise ColorConfigError(
                f"config {self.source}: an OpenColorIO archive (.ocioz) is not read as a file job's config; "
                f"extract it inside the root folders (ocioarchive --extract) and name its config.ocio"
            )
        return read_inside(self.source, self.roots, "OpenColorIO config").decode("utf-8", errors="replace")

    def getLutData(self, path: str) -> list[int]:  # noqa: N802 - OpenColorIO's name
        content = self._read(path, reading=True)
        return _UNREADABLE if content is None else list(content)

    def getFastLutFileHash(self, path: str) -> str:  # noqa: N802 - OpenColorIO's name
        # Empty for a file that cannot be read here: OpenColorIO then looks in its next search folder.
        # By content otherwise: a file changed on disk is another file to OpenColorIO's caches.
        content = self._read(path, reading=False)
        return "" if content is None else hashlib.sha256(content).hexdigest()

    def _read(self, path: str, reading: bool) -> bytes | None:
        try:
            return read_inside(path, self.roots, "LUT", self._private)
        except (OSError, MovingColorError) as error:
            self._load.missed = True
            if reading and isinstance(error, (PathOutsideRootsError, ColourFileTooLargeError)):
                self._load.refused = error
            return None

    @contextmanager
    def loading(self) -> Iterator[None]:
        """Around OpenColorIO's work that may read files (a processor's build): where it fails for a
        file refused outside the roots, that refusal is raised instead (call :meth:`raise_refused`
        from the handler); where a file could not be read, OpenColorIO's caches are emptied after,
        since they keep a file by its path for the whole process (a search folder's miss taken for
        the file, a refused file's unparseable bytes), whoever asks next."""
        self._load.missed, self._load.refused = False, None
        try:
            yield
        finally:
            if self._load.missed:
                ocio.ClearAllCaches()

    def raise_refused(self) -> None:
        """Raise the refusal of a file outside the roots that the current load read, if any."""
        refused, self._load.refused = getattr(self._load, "refused", None), None
        if refused is not None:
            raise refused


def confined_config(source: str, roots: Sequence[Path]) -> tuple[ocio.Config, ConfinedFiles]:
    """Config file ``source`` read through a :class:`ConfinedFiles` of ``roots``, which must live as
    long as the config: OpenColorIO holds it without a reference Python counts."""
    files = ConfinedFiles(source, roots)
    config = ocio.Config.CreateFromConfigIOProxy(files)
    # Its search path is relative to its own folder, as for a config opened by its name.
    config.setWorkingDir(os.path.dirname(os.path.abspath(source)))
    return config, files
