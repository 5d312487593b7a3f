"""Server addresses: ``unix:///path/to.sock`` or ``host:port``, as a server listens on one and a client
connects to it, and whether they leave this machine."""

from __future__ import annotations

import errno
import ipaddress
import re
import socket
import stat
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
        mode = path.lstat().st_mode
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise AddressError(
                f"folder {path.parent} does not exist; create it or pick another socket path"
            ) from None
        return
    if not stat.S_ISSOCK(mode):
        raise AddressError(f"{path} exists and is not a socket; choose another socket path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError as error:
        if error.errno in (errno.ECONNREFUSED, errno.ENOENT):
            return
        raise AddressError(f"cannot check socket {path}: {error}") from error
    finally:
        probe.close()
    raise AddressError(f"another server is listening on unix://{path}; stop it or choose another socket path")
