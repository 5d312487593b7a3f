"""Server addresses: ``unix:///path/to.sock`` or ``host:port``, as a server listens on one and a client
connects to it, and whether they leave this machine."""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import socket
import stat
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import AddressError

# sockaddr_un holds 108 bytes including the terminating NUL, but gRPC binds paths of at most 105
# (106 and 107 failed as "Failed to bind", read as another server on the address).
UNIX_PATH_MAX = 105
_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9a-fA-F:.]+)\]|(?P<host>[^:\[\]]*)):(?P<port>\d+)$")


@dataclass(frozen=True)
class Address:
    """A parsed address; ``path`` for Unix sockets, ``host`` and ``port`` for TCP."""

    text: str
    path: Path | None = None
    host: str = ""
    port: int = 0

    @property
    def is_unix(self) -> bool:
        return self.path is not None

    @property
    def target(self) -> str:
        """The address as gRPC takes it."""
        if self.path is not None:
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_local(self) -> bool:
        """True for Unix sockets and loopback TCP: nothing beyond this machine can connect."""
        return self.path is not None or is_loopback(self.host)

    def with_port(self, port: int) -> Address:
        return replace(self, port=port) if self.path is None else self

    def __str__(self) -> str:
        return self.target


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # another host name: it may resolve beyond this machine


def parse_address(text: str) -> Address:
    """Parse ``unix:///abs/path.sock``, ``unix:path.sock`` or ``host:port`` (``[::1]:port``)."""
    value = text.strip()
    if value.startswith("unix:"):
        rest = value[len("unix:") :]
        path = Path(rest[2:] if rest.startswith("//") else rest).expanduser()
        if not str(path) or str(path) == ".":
            raise AddressError(f"address {text!r} names no socket file; write unix:///path/to.sock")
        path = path.absolute()
        if len(str(path).encode()) > UNIX_PATH_MAX:
            raise AddressError(
                f"unix socket path {path} is {len(str(path).encode())} bytes; the system limit is "
                f"{UNIX_PATH_MAX}: choose a shorter path (e.g. under /tmp)"
            )
        return Address(value, path=path)
    match = _HOST_PORT.match(value)
    if not match:
        raise AddressError(
            f"address {text!r} is neither unix:///path/to.sock nor host:port (e.g. 127.0.0.1:50051)"
        )
    port = int(match.group("port"))
    if port > 65535:
        raise AddressError(f"address {text!r}: port {port} is over 65535")
    host = match.group("v6") or match.group("host") or ""
    if not host:
        raise AddressError(
            f"address {text!r} has no host: write 127.0.0.1:{port} (or 0.0.0.0:{port} with a token)"
        )
    return Address(value, host=host, port=port)


def check_unix_socket_free(path: Path) -> None:
    """Refuse a socket file another server is listening on; a stale one (a crashed server's) is fine.

    gRPC replaces an existing socket file silently, which would steal a running server's clients.
    """
    try:
        status = path.lstat()
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise AddressError(
                f"folder {path.parent} does not exist; create it or pick another socket path"
            ) from None
        return
    if not stat.S_ISSOCK(status.st_mode):
        raise AddressError(f"{path} exists and is not a socket; choose another socket path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError as error:
        if error.errno in (errno.ECONNREFUSED, errno.ENOENT):
            return
        if error.errno in (errno.EACCES, errno.EPERM):
            raise AddressError(
                f"{path} is a socket of user {user_name(status.st_uid)} that this user may not connect "
                f"to, so cannot tell whether a server listens on it: if none does, remove it (as that "
                f"user or root); else choose another socket path"
            ) from None
        raise AddressError(f"cannot check socket {path}: {error}") from error
    finally:
        probe.close()
    raise AddressError(f"another server is listening on unix://{path}; stop it or choose another socket path")


def remove_stale_unix_socket(path: Path) -> None:
    """Remove the socket a dead server left at ``path`` (:func:`check_unix_socket_free` found no
    server on it), as gRPC's bind would: where this user may not, gRPC said only "Failed to bind",
    which read as another server on the socket."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except PermissionError:
        try:
            owner = user_name(path.lstat().st_uid)
        except OSError:
            owner = "another user"
        raise AddressError(
            f"{path} is a socket left by user {owner} (no server listens on it), which this user "
            f"({user_name(os.geteuid())}) may not remove: remove it (as {owner} or root), or choose "
            f"another socket path"
        ) from None


def unix_folder_problem(path: Path) -> str | None:
    """Why this user cannot make the socket ``path`` in its folder, from the folder's modes; None
    where it may."""
    folder = path.parent
    if not folder.is_dir():
        return f"folder {folder} does not exist; create it or pick another socket path"
    if not os.access(folder, os.W_OK | os.X_OK):
        try:
            owner = f" (it is user {user_name(folder.stat().st_uid)}'s)"
        except OSError:
            owner = ""
        return (
            f"folder {folder} is not writable by user {user_name(os.geteuid())}{owner}: choose a socket "
            f"path in a folder this user may write (e.g. $XDG_RUNTIME_DIR or /tmp), or let this user "
            f"write to it"
        )
    return None


def user_name(uid: int) -> str:
    """The login name of ``uid``; the number where it has none here."""
    import pwd  # Unix alone, as the sockets whose owners it names

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class UnixSocketLock:
    """An exclusive ``flock`` on ``<socket>.lock``, beside the socket: what a server holds while it
    checks that the socket is free and binds it, and while it serves. Two servers started at the
    same moment each found the socket free, then the second's bind replaced the first's socket:
    both said "serving" and one could never be reached.

    The system releases the lock when its process dies (a SIGKILL leaves the file, which the next
    server locks again). A server that stops removes the file while it still holds the lock; a
    server that locked the file just before it was removed sees the path name another file (or
    none) and locks again.
    """

    #: How long a start waits for a lock held by another: a stopping server lets it go within
    #: moments of its signal, a starting one once it has bound its socket.
    WAIT_SECONDS = 2.0
    _POLL_SECONDS = 0.05

    def __init__(self, socket_path: Path):
        self.socket = Path(socket_path)
        self.path = self.socket.with_name(self.socket.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, waiting up to :data:`WAIT_SECONDS`; :class:`AddressError` naming why
        where it cannot be."""
        if self._fd is not None:
            return
        deadline = time.monotonic() + self.WAIT_SECONDS
        while True:
            fd: int | None = self._open()
            try:
                locked = _try_lock(fd)
                if locked and self._names(fd):
                    self._fd, fd = fd, None
                    return
                # Locked by another; else the file was removed (a server that stopped) or replaced
                # under us, and the path's own file is tried at once.
                held_by_another = not locked and self._names(fd)
            finally:
                if fd is not None:
                    os.close(fd)
            if time.monotonic() >= deadline:
                raise AddressError(
                    f"another server is listening on unix://{self.socket} (or starting there: it "
                    f"holds {self.path}); stop it or choose another socket path"
                )
            if held_by_another:
                time.sleep(self._POLL_SECONDS)

    def release(self) -> None:
        """Let the lock go, removing its file first (while held, so no server can be using it)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if self._names(fd):
                self.path.unlink()
        except OSError:  # left in place: the next server locks it again
            pass
        finally:
            os.close(fd)

    def _open(self) -> int:
        # Read-only is enough for flock, and opens a lock file another user's server left.
        flags = os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        try:
            return os.open(self.path, flags, 0o644)
        except PermissionError:
            problem = unix_folder_problem(self.socket)
            if problem:
                raise AddressError(f"cannot listen on unix://{self.socket}: {problem}") from None
            raise AddressError(
                f"cannot listen on unix://{self.socket}: this user may not open its lock file "
                f"{self.path}; remove it (as its owner or root), or choose another socket path"
            ) from None
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise AddressError(
                    f"cannot listen on unix://{self.socket}: {self.path} is a symbolic link; remove "
                    f"it, or choose another socket path"
                ) from None
            if error.errno == errno.EROFS:
                raise AddressError(
                    f"cannot listen on unix://{self.socket}: folder {self.socket.parent} is on a "
                    f"read-only file system; choose a socket path on a writable one (e.g. under /tmp)"
                ) from None
            if error.errno == errno.ENOENT:
                raise AddressError(
                    f"folder {self.socket.parent} does not exist; create it or pick another socket path"
                ) from None
            raise AddressError(f"cannot listen on unix://{self.socket}: {self.path}: {error}") from error

    def _names(self, fd: int) -> bool:
        """Whether the lock's path still names the file open as ``fd``."""
        try:
            here, there = os.fstat(fd), os.stat(self.path, follow_symlinks=False)
        except OSError:
            return False
        return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _try_lock(fd: int) -> bool:
    """Take ``fd``'s exclusive lock if no one holds it; False where another does."""
    import fcntl  # Unix alone, as the sockets it guards

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
