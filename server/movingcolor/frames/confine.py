"""Confinement: a job that may read and write only inside given root folders (``serve --root``).

Paths are checked when a file is opened, not when a job is planned: the file (or the output
folder) is opened first and the path the kernel actually opened is checked, read from
``/proc/self/fd``. A symbolic link to a file outside the roots, or an output folder swapped for
a link while a job runs, is refused at the moment it would be used, with no window between the
check and the use: readers and writers are handed the opened descriptor's path, never the name
again. Where there is no ``/proc/self/fd`` (not Linux) the resolved name is checked instead.

Confinement is per thread of work (a context variable): a server's file job runs confined while
the same process's other calls and an artist's ``movingcolor fuse`` are not.
"""

from __future__ import annotations

import contextvars
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from ..errors import ColourFileTooLargeError, OutputError, PathOutsideRootsError, UnreadableFrameError

_ROOTS: contextvars.ContextVar[tuple[Path, ...] | None] = contextvars.ContextVar(
    "movingcolor_roots", default=None
)
_PROC_FD = Path("/proc/self/fd")


@contextmanager
def confined(roots: Sequence[os.PathLike | str]) -> Iterator[None]:
    """Within the block, every frame read or written must lie inside one of ``roots``."""
    token = _ROOTS.set(tuple(Path(os.path.realpath(root)) for root in roots))
    try:
        yield
    finally:
        _ROOTS.reset(token)


@contextmanager
def unconfined() -> Iterator[None]:
    """Within the block nothing is confined: for bytes already in memory, read through a name of the
    process's own (:mod:`.memory_file`) that lies in no root."""
    token = _ROOTS.set(None)
    try:
        yield
    finally:
        _ROOTS.reset(token)


def active_roots() -> tuple[Path, ...] | None:
    """The roots of the current confinement, or None when unconfined."""
    return _ROOTS.get()


def lies_within(real: Path, roots: Sequence[Path]) -> bool:
    """Whether the real (resolved) path ``real`` is one of ``roots`` or lies inside one."""
    return any(real == root or root in real.parents for root in roots)


def _refuse(what: str, path: os.PathLike | str, real: Path, roots: tuple[Path, ...]) -> PathOutsideRootsError:
    shown = f"{path}" + (f" (which is {real})" if Path(path) != real else "")
    return PathOutsideRootsError(
        f"{what} {shown} lies outside this server's root folders ({', '.join(map(str, roots))}); "
        f"put the shot's files under one of them (a symbolic link must point inside them too)"
    )


def _opened_path(fd: int) -> Path:
    """The path the kernel opened for ``fd`` (every link resolved)."""
    return Path(os.readlink(_PROC_FD / str(fd)))


def _fd_path(fd: int) -> str:
    return str(_PROC_FD / str(fd))


def has_fd_paths() -> bool:
    return _PROC_FD.is_dir()


#: What each kind of file that is not a regular file is called in an error.
_NOT_FILES = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_is_file(
    path: os.PathLike | str, mode: int, what: str, form: str = "an image or video file"
) -> None:
    """A regular file passes; a named pipe (reading it waits for a writer, for good: a job that never
    ends and cannot be cancelled), a device, a socket or a folder is refused by name, and the ``what``
    asked for as ``form``."""
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _NOT_FILES if test(mode)), "not a regular file")
    raise UnreadableFrameError(f"{path}: is {kind}, not a file; give the {what} as {form}")


def check_named_inside(path: os.PathLike | str, what: str) -> None:
    """Confined, refuse ``path`` where its name leads outside the roots (links resolved), whether or
    not anything is there: refused as outside when it existed and as missing when not, a client
    learnt which paths outside the roots exist. Unconfined, nothing is refused. The file opened
    afterwards is checked again (:func:`readable`): a name is not a file."""
    roots = _ROOTS.get()
    if roots is not None:
        _refuse_named_outside(path, roots, what)


def _refuse_named_outside(
    path: os.PathLike | str, roots: Sequence[Path], what: str, private: Sequence[Path] = ()
) -> None:
    real = Path(os.path.realpath(path))
    if not lies_within(real, (*roots, *private)):
        raise _refuse(what, path, real, tuple(roots))


@contextmanager
def readable(
    path: os.PathLike | str, what: str = "frame", form: str = "an image or video file"
) -> Iterator[str]:
    """The name to open ``path`` by: the path itself unconfined; confined, the opened file's
    descriptor path once the file it really is has been checked to lie inside the roots. ``form``
    says what a file that is not a regular file should have been."""
    roots = _ROOTS.get()
    if roots is None or not has_fd_paths():
        # A missing or unreadable file is the reader's to report, in its words.
        with suppress(OSError):
            mode = os.stat(path).st_mode
            _check_is_file(path, mode, what, form)
    if roots is None:
        yield os.fspath(path)
        return
    if not has_fd_paths():
        check_named_inside(path, what)
        yield os.fspath(path)
        return
    try:
        fd = _open_without_waiting(path)
    except OSError as error:
        # A name leading outside is refused as outside whether or not its target opened: "cannot
        # open" there told a client which files exist outside the roots.
        _refuse_named_outside(path, roots, what)
        # Never opened by its name after all: a link made there since is followed by the reader
        # unchecked (a frame swapped for a link to a file outside the roots was read).
        raise UnreadableFrameError(
            f"{path}: cannot open the {what} ({error.strerror or error}); check it exists and may be read"
        ) from error
    try:
        _check_opened(fd, path, roots, what, form)
        yield _fd_path(fd)
    finally:
        os.close(fd)


def _open_without_waiting(path: os.PathLike | str) -> int:
    """A read-only descriptor of ``path``, opened without blocking: opening a named pipe waits for a
    writer, for good."""
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))


def _check_opened(
    fd: int,
    path: os.PathLike | str,
    roots: Sequence[Path],
    what: str,
    form: str = "an image or video file",
    private: Sequence[Path] = (),
) -> None:
    """Refuse the file ``fd`` opened for ``path`` unless it is a regular file whose real path lies
    inside ``roots`` (or the process's own ``private`` folders, which a refusal does not name)."""
    _check_is_file(path, os.fstat(fd).st_mode, what, form)
    real = _opened_path(fd) if has_fd_paths() else Path(os.path.realpath(path))
    if not lies_within(real, (*roots, *private)):
        raise _refuse(what, path, real, tuple(roots))


def read_inside(
    path: os.PathLike | str, roots: Sequence[Path], what: str, private: Sequence[Path] = ()
) -> bytes:
    """The bytes of ``path``, read from the one descriptor whose real path was checked to lie inside
    ``roots`` (or the process's own ``private`` folders, which a refusal does not name): for a reader
    that takes names, not descriptors (OpenColorIO's LUTs and CDLs), handed the bytes instead.
    FileNotFoundError (and other OSErrors) where it cannot be opened; nothing is then read by the
    name, which a link made meanwhile could point anywhere."""
    try:
        fd = _open_without_waiting(path)
    except OSError:
        # As a frame's: a name leading outside is refused as outside, found or not.
        _refuse_named_outside(path, roots, what, private)
        raise
    try:
        _check_opened(fd, path, roots, what, form="a file", private=private)
        _refuse_large(os.fstat(fd).st_size, path, what)
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as file:
            content = file.read(MAX_READ_BYTES + 1)  # one that grows as it is read stops here too
    finally:
        os.close(fd)
    _refuse_large(len(content), path, what)
    return content


def read_bounded(path: os.PathLike | str, what: str) -> bytes:
    """The bytes of ``path`` (unconfined), refused as :func:`read_inside` refuses a file too large."""
    _refuse_large(os.stat(path).st_size, path, what)
    with open(path, "rb") as file:
        content = file.read(MAX_READ_BYTES + 1)
    _refuse_large(len(content), path, what)
    return content


#: The largest grade, LUT or config file read whole (a 129-point cube LUT is about 60 MB). Its bytes
#: are held several times over while OpenColorIO parses them: a 2 GB file named as a file job's
#: grade (a sparse one costs no disk) took a server to 8.5 GB.
MAX_READ_BYTES = 128 << 20


def _refuse_large(size: int, path: os.PathLike | str, what: str) -> None:
    if size > MAX_READ_BYTES:
        raise ColourFileTooLargeError(
            f"{what} {path} is {size / (1 << 20):,.0f} MB, more than the {MAX_READ_BYTES >> 20} MB a "
            f"grade, LUT or config file may be; check it is the file meant (a 65-point cube LUT is under "
            f"10 MB)"
        )


_FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
#: A folder opened to be entered, not listed (Linux's O_PATH): a show's or home folder is often
#: 0711, which ``mkdir -p`` passes and a descriptor opened for reading does not.
_ENTER_FLAGS = (
    getattr(os, "O_PATH", os.O_RDONLY) | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
)


def make_folder(folder: Path) -> None:
    """``folder`` and its missing parents made, as ``mkdir -p``. Confined, each missing folder is made
    inside its parent's opened descriptor once that is checked to lie inside the roots: made by its
    name, a parent swapped for a link to a folder outside them after the job's check had folders
    made there."""
    roots = _ROOTS.get()
    if roots is None or not has_fd_paths():
        folder.mkdir(parents=True, exist_ok=True)
        return
    fd = os.open("/", _ENTER_FLAGS)
    try:
        for part in Path(os.path.abspath(folder)).parts[1:]:
            try:
                child = os.open(part, _ENTER_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                real = _opened_path(fd)
                if not lies_within(real, roots):
                    raise _refuse("output folder", folder, real / part, roots) from None
                with suppress(FileExistsError):
                    os.mkdir(part, dir_fd=fd)
                # Not through a link: the folder just made, or the open fails.
                child = os.open(part, _ENTER_FLAGS | getattr(os, "O_NOFOLLOW", 0), dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def open_folder(folder: Path) -> int | None:
    """A descriptor of ``folder`` (the caller closes it), checked to lie inside the roots when
    confined (:class:`PathOutsideRootsError`): one that lists it where this user may, else one that
    only enters it (a drop box, written but not listed); None where it cannot be opened at all, or
    where the system has no descriptor paths to check it by."""
    roots = _ROOTS.get()
    if roots is not None and not has_fd_paths():
        return None
    try:
        fd = os.open(folder, _FOLDER_FLAGS)
    except PermissionError:
        try:
            fd = os.open(folder, _ENTER_FLAGS)
        except OSError:
            return None
    except OSError:
        return None
    if roots is not None:
        real = _opened_path(fd)
        if not lies_within(real, roots):
            os.close(fd)
            raise _refuse("output folder", folder, real, roots)
    return fd


class OutputFolder:
    """An output folder opened once per write: the temporary file and the rename go through its
    descriptor, so a folder swapped for a link after the check cannot redirect them."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.fd: int | None = None

    def __enter__(self) -> OutputFolder:
        roots = _ROOTS.get()
        if roots is None or not has_fd_paths():
            if roots is not None:
                real = Path(os.path.realpath(self.folder))
                if not lies_within(real, roots):
                    raise _refuse("output folder", self.folder, real, roots)
            return self
        try:
            self.fd = os.open(self.folder, _ENTER_FLAGS)  # written through, never listed
        except OSError as error:
            raise OutputError(
                f"{self.folder}: cannot open the output folder ({error.strerror}); create it first"
            ) from error
        real = _opened_path(self.fd)
        if not lies_within(real, roots):
            os.close(self.fd)
            self.fd = None
            raise _refuse("output folder", self.folder, real, roots)
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def name_for_writer(self, name: str) -> str:
        """The path a writer (OpenImageIO) opens to create ``name`` inside this folder."""
        if self.fd is None:
            return os.fspath(self.folder / name)
        return f"{_fd_path(self.fd)}/{name}"

    def replace(self, temporary: str, name: str) -> None:
        """Rename ``temporary`` to ``name``, both inside this folder."""
        if self.fd is None:
            os.replace(self.folder / temporary, self.folder / name)
        else:
            os.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def remove(self, name: str) -> None:
        """Remove ``name`` if it is there: a clean-up, which never raises (on a read-only disk it
        raised in place of the write's own error, which names the fix)."""
        try:
            if self.fd is None:
                os.unlink(self.folder / name)
            else:
                os.unlink(name, dir_fd=self.fd)
        except OSError:
            pass
