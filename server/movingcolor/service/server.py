"""``create_server`` (bind, return the server and its port) apart from ``serve`` (run until a signal).

Tests bind port 0 or a temporary Unix socket with ``create_server``; the command
line calls ``serve``. Nothing listens beyond loopback without a token, and the
standard health service and server reflection run beside the Fusion service.

``serve`` owns its process: every temporary the process makes lies in one folder of its
own, which a killed server leaves for the next start on this host to remove, and the
memory its jobs freed goes back to the system once they end.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ..errors import MovingColorError
from ..process_heap import glibc_function
from ..protocol import MIN_KEEPALIVE_SECONDS, SERVICE
from ..protocol.address import (
    Address,
    UnixSocketLock,
    check_unix_socket_free,
    parse_address,
    remove_stale_unix_socket,
    unix_folder_problem,
)
from ..v1 import fusion_pb2, fusion_pb2_grpc
from .auth import TokenInterceptor
from .errors import AddressError
from .jobs import SHUTTING_DOWN
from .logs import event
from .servicer import FusionServicer
from .settings import ServerSettings
from .state import ServerState
from .stream_budget import StreamBudget
from .warm_up import warm_up_in_background

# Threads for calls beyond the job limit: info, health, cancel and refusals never wait for a job.
_SPARE_THREADS = 8

TEMP_PREFIX = "movingcolor-server-"

# The host is in the name too: a temporary folder shared between machines holds other hosts' pids.
_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"
_TEMP_NAME = re.compile(rf"^{re.escape(TEMP_PREFIX)}(?P<pid>\d+)-{re.escape(_HOST)}-")

#: How long before a drain's grace ends the jobs still running are cancelled (at most; half the grace
#: where it is shorter): each call's thread must send its client the reason before gRPC's own cancel
#: at the end of the grace, and on a loaded machine a quarter of a second was sometimes too little
#: (the client read "unavailable (cancelled)" and not that the server was shutting down).
CANCEL_AHEAD_SECONDS = 1.0
#: How long a drain waits, once its grace has ended, for cancelled file jobs to end the frame they
#: are in (they stop between frames): a frame longer than that is cut, as a drain must end within
#: its grace plus a few seconds (docs/reliability.md).
WORKERS_WAIT_SECONDS = 4.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temp_folders(parent: Path) -> list[Path]:
    """Remove from ``parent`` the temporary folders of this host's servers that no longer run
    (a clean stop removes its own; a killed server cannot); never a running server's."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if not match or _alive(int(match["pid"])):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed


def claim_temp_folder() -> tuple[Path, list[Path]]:
    """This process's temporary folder, ``movingcolor-server-<pid>-<host>-*`` in the system's, made
    the default for every temporary the process makes (``tempfile.tempdir``); and the stale folders
    of dead servers removed first."""
    parent = Path(tempfile.gettempdir())
    removed = remove_stale_temp_folders(parent)
    folder = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-{_HOST}-", dir=parent))
    tempfile.tempdir = str(folder)
    return folder, removed


class MemoryTrimmer:
    """Gives the heap memory that finished jobs freed back to the system (glibc only).

    Concurrent jobs allocate and free many large arrays from many threads; the server keeps what is
    freed in its heap for the next arrays (``process_heap.keep_freed_memory``), so without this the
    process stays at the size of its busiest moment although nothing holds that memory.
    ``malloc_trim(0)`` returns it. ``poll`` trims once no job has run for ``IDLE_SECONDS`` (after
    jobs ran, or when the resident size grew by ``GROWTH`` since the last trim), and while jobs run
    at most every ``BUSY_SECONDS`` when it grew (a trim holds the heap's lock briefly: up to ~0.2 s
    in all for a gigabyte).
    """

    GROWTH = 32 * 1024 * 1024
    BUSY_SECONDS = 10.0
    #: Idle time before freed memory goes back: a host stepping through a shot sends its next
    #: window within a few seconds, and memory given back between two steps is faulted in and
    #: zeroed again by the next (a guided 1080p step with a second between steps: 0.54-0.57 s
    #: trimmed at once, 0.45-0.47 s kept).
    IDLE_SECONDS = 5.0

    def __init__(self) -> None:
        self._trim = glibc_function("malloc_trim")
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self._after = self.rss_bytes()
        self._at = time.monotonic()
        self._ran = False  # jobs ran since the last trim
        self._idle_since: float | None = None  # when the last job ended, while none runs

    def rss_bytes(self) -> int:
        """This process's resident size; 0 where /proc is not there."""
        try:
            return int(Path("/proc/self/statm").read_text().split()[1]) * self._page
        except (OSError, IndexError, ValueError):
            return 0

    def _grown(self) -> bool:
        """The resident size grew by ``GROWTH`` since the last trim (read only when it decides)."""
        return self.rss_bytes() - self._after >= self.GROWTH

    def poll(self, active_jobs: int) -> None:
        if self._trim is None:
            return
        now = time.monotonic()
        if active_jobs:
            self._ran, self._idle_since = True, None
            if not self._grown() or now - self._at < self.BUSY_SECONDS:
                return
        else:
            if self._idle_since is None:
                self._idle_since = now
            if now - self._idle_since < self.IDLE_SECONDS:
                return
            if not (self._ran or self._grown()):
                return
        self._trim(0)
        self._after, self._at = self.rss_bytes(), time.monotonic()
        self._ran = bool(active_jobs)


def _credentials(settings: ServerSettings) -> grpc.ServerCredentials | None:
    if not (settings.tls_cert or settings.tls_key):
        if settings.tls_client_ca:
            raise MovingColorError("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS first)")
        return None
    if not (settings.tls_cert and settings.tls_key):
        raise MovingColorError("TLS needs both --tls-cert and --tls-key")
    files = {}
    for what, path in (
        ("certificate", settings.tls_cert),
        ("key", settings.tls_key),
        ("client CA", settings.tls_client_ca),
    ):
        if path is None:
            continue
        try:
            files[what] = Path(path).read_bytes()
        except OSError as error:
            raise MovingColorError(f"TLS {what} {path}: {error.strerror}; check the path") from error
    _check_tls_files(settings)
    return grpc.ssl_server_credentials(
        [(files["key"], files["certificate"])],
        root_certificates=files.get("client CA"),
        require_client_auth="client CA" in files,
    )


def _check_tls_files(settings: ServerSettings) -> None:
    """Refuse a certificate, key or client CA that TLS cannot use, naming it: gRPC only fails to
    bind the address then, which read as another server on the port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        key_text = Path(settings.tls_key).read_bytes()
    except OSError:
        key_text = b""
    if b"ENCRYPTED" in key_text:
        # OpenSSL would ask for its passphrase on the terminal (or fail without one), and gRPC
        # cannot use it either.
        raise MovingColorError(
            f"TLS key {settings.tls_key} is encrypted with a passphrase: give an unencrypted PEM key "
            f"(openssl pkey -in KEY -out PLAIN.key), readable by the server's user alone"
        )
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except ssl.SSLError as error:
        raise MovingColorError(
            f"TLS certificate {settings.tls_cert} and key {settings.tls_key} cannot be used together "
            f"({error.reason or error}): give the PEM certificate and the private key it was made "
            f"with (--tls-cert, --tls-key; not swapped)"
        ) from error
    if settings.tls_client_ca:
        try:
            context.load_verify_locations(cafile=str(settings.tls_client_ca))
        except ssl.SSLError as error:
            raise MovingColorError(
                f"TLS client CA {settings.tls_client_ca} holds no certificate TLS can read "
                f"({error.reason or error}): give the PEM certificate of the CA that signs the clients'"
            ) from error


def _check_exposure(address: Address, settings: ServerSettings) -> None:
    if not address.is_local and not settings.token:
        raise AddressError(
            f"{address} reaches beyond this machine: give the server a token (--token-file FILE or "
            f"$MOVINGCOLOR_TOKEN) so only your clients can use it, or listen on 127.0.0.1 or a Unix socket"
        )
    # Loopback is this machine's, not this user's: every user of a shared workstation reaches it,
    # unless mutual TLS lets in only the holders of a certificate its client CA signed.
    if (
        address.is_local
        and not address.is_unix
        and settings.roots
        and not settings.token
        and not settings.tls_client_ca
    ):
        event(
            "warning.shared_loopback",
            level=logging.WARNING,
            address=str(address),
            advice="any user of this machine can run file jobs under the roots as this server's user: "
            "give the server a token (--token-file), or listen on a Unix socket",
        )
    if not address.is_local and not (settings.tls_cert and settings.tls_key):
        event(
            "warning.cleartext",
            level=logging.WARNING,
            address=str(address),
            advice="the token travels in clear text: add --tls-cert/--tls-key",
        )


def create_server(
    address: str,
    settings: ServerSettings | None = None,
    state: ServerState | None = None,
    health_servicer: health.HealthServicer | None = None,
    socket_lock: UnixSocketLock | None = None,
) -> tuple[grpc.Server, int]:
    """A bound, not yet started server for ``address`` and its TCP port (0 for a Unix socket).

    ``state`` (jobs, engines, scheduler) and ``health_servicer`` are made here unless the
    caller passes its own to drive them (``serve`` does, for shutdown). A Unix socket is checked
    and bound under its lock (:class:`UnixSocketLock`): ``socket_lock``, taken here and left held
    for the caller to release (``serve`` holds it while it serves), else one released once bound.
    """
    settings = settings or ServerSettings()
    parsed = parse_address(address)
    _check_exposure(parsed, settings)
    credentials = _credentials(settings)
    if not parsed.is_unix:
        if settings.socket_group is not None:
            raise AddressError(f"--socket-group is for a Unix socket; {parsed} is a TCP address")
        return _create_server(parsed, settings, credentials, state, health_servicer)
    lock = socket_lock or UnixSocketLock(parsed.path)
    lock.acquire()
    try:
        # Under the lock, so no other server starting here checks between this check and the bind.
        check_unix_socket_free(parsed.path)
        remove_stale_unix_socket(parsed.path)
        return _create_server(parsed, settings, credentials, state, health_servicer)
    finally:
        if socket_lock is None:
            lock.release()


def _create_server(
    parsed: Address,
    settings: ServerSettings,
    credentials: grpc.ServerCredentials | None,
    state: ServerState | None,
    health_servicer: health.HealthServicer | None,
) -> tuple[grpc.Server, int]:
    group = _socket_group(settings)
    state = state or ServerState(settings)
    # The token is checked first: a caller without it takes no slot of any budget.
    interceptors = [TokenInterceptor(settings.token)] if settings.token else []
    interceptors.append(StreamBudget())
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.max_jobs + _SPARE_THREADS, thread_name_prefix="rpc"),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            # gRPC lets a second server share a port by default; a clash must be an error instead.
            ("grpc.so_reuseport", 0),
            # Clients ping a call that has been silent (protocol.MIN_KEEPALIVE_SECONDS); gRPC's
            # default closes the connection of a client that pings more than every 5 minutes.
            ("grpc.http2.min_ping_interval_without_data_ms", int(MIN_KEEPALIVE_SECONDS * 1000)),
        ],
    )
    fusion_pb2_grpc.add_FusionServicer_to_server(FusionServicer(state), server)
    health_servicer = health_servicer or health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    names = (
        fusion_pb2.DESCRIPTOR.services_by_name["Fusion"].full_name,
        health.SERVICE_NAME,
        reflection.SERVICE_NAME,
    )
    reflection.enable_server_reflection(names, server)
    _refuse_a_port_in_use(parsed)
    # Refused before gRPC tries: its core logs its failed bind on stderr, a line of its own in the
    # server's log (not JSON in a JSON one).
    why = _bind_problem(parsed, certain_only=True)
    if why:
        raise AddressError(f"cannot listen on {parsed}: {why}")
    # A Unix socket is made under a umask that leaves it its owner's alone from the start (a named
    # group is given it after, then let in): made with the process's own umask and narrowed after,
    # a client of the group connecting in between was served once the server started.
    before = os.umask(0o177) if parsed.is_unix else None
    try:
        if credentials is None:
            port = server.add_insecure_port(parsed.target)
        else:
            port = server.add_secure_port(parsed.target, credentials)
    except RuntimeError as error:
        why = _bind_problem(parsed)
        if why:
            raise AddressError(f"cannot listen on {parsed}: {why}") from error
        if parsed.is_unix:
            # Not another server: none listened when it was checked, under the socket's lock.
            raise AddressError(
                f"cannot listen on {parsed}: {error}; check that this user may make a socket there, "
                f"or choose another socket path"
            ) from error
        raise AddressError(f"cannot listen on {parsed}: {error}; is another server using it?") from error
    finally:
        if before is not None:
            os.umask(before)
    if not parsed.is_unix and port == 0:
        raise AddressError(f"cannot listen on {parsed}: the port is in use or the host is not this machine's")
    if group is not None:
        try:
            _let_the_group_in(parsed.path, group)
        except AddressError:
            server.stop(None)
            Path(parsed.path).unlink(missing_ok=True)
            raise
    return server, (0 if parsed.is_unix else port)


def _socket_group(settings: ServerSettings) -> int | None:
    """The group id of ``settings.socket_group``; None where none is named."""
    if settings.socket_group is None:
        return None
    import grp

    name = settings.socket_group
    try:
        return grp.getgrgid(int(name)).gr_gid if name.isdigit() else grp.getgrnam(name).gr_gid
    except (KeyError, ValueError):
        raise AddressError(
            f"socket group {name!r} is not a group of this machine (getent group lists them); give "
            f"one whose members may use the server (--socket-group)"
        ) from None


def _let_the_group_in(path: str, group: int) -> None:
    """The Unix socket at ``path``, made its user's alone (the umask it was made under), given to
    ``group`` too, before the server starts taking calls: connecting takes write permission on it."""
    try:
        os.chown(path, -1, group)
        os.chmod(path, 0o660)
    except OSError as error:
        raise AddressError(
            f"cannot let group {group} use the socket {path} ({error.strerror}): the server's user must "
            f"belong to the group it names (--socket-group)"
        ) from error


def _refuse_a_port_in_use(parsed: Address) -> None:
    """Refuse a TCP port that something already listens on at any address its host name resolves
    to: gRPC binds what it can and serves, so a second server on ``localhost:PORT`` took ``[::1]``
    from the first, which kept ``127.0.0.1``, and clients reached either by how they spelt it."""
    for family, kind, protocol, _, where in _tcp_endpoints(parsed):
        with socket.socket(family, kind, protocol) as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(where) == 0:
                raise AddressError(
                    f"cannot listen on {parsed}: something already listens on {where[0]} port {where[1]} "
                    f"(another server?); stop it or choose another port"
                )


def _tcp_endpoints(parsed: Address) -> list[tuple]:
    """The socket addresses a TCP address names (``getaddrinfo``'s entries); none for a Unix socket
    or port 0. A host name that does not resolve is refused, named (gRPC says only "Failed to
    bind")."""
    if parsed.is_unix or not parsed.port:
        return []
    try:
        return socket.getaddrinfo(parsed.host or None, parsed.port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise AddressError(
            f"cannot listen on {parsed}: the host name {parsed.host!r} does not resolve here "
            f"({error.strerror or error}); give this machine's name or one of its addresses "
            f"(0.0.0.0:{parsed.port} for all of them)"
        ) from None


def _bind_problem(parsed: Address, certain_only: bool = False) -> str | None:
    """Why an address cannot be bound, from the system's own answer (gRPC says only "Failed to
    bind"): for TCP, a plain socket's bind; for a Unix socket, its folder's modes. None where
    neither tells. ``certain_only``: only the answers gRPC's bind would meet too (not a port in
    TIME_WAIT, which a plain socket may not bind and gRPC's, reusing the address, does)."""
    if parsed.is_unix:
        return unix_folder_problem(parsed.path)
    for family, kind, protocol, _, where in _tcp_endpoints(parsed):
        with socket.socket(family, kind, protocol) as probe:
            try:
                probe.bind(where)
            except OSError as error:
                if error.errno == errno.EADDRNOTAVAIL:
                    return (
                        f"{where[0]} is not an address of this machine: give one of its own "
                        f"(0.0.0.0:{parsed.port} for all of them)"
                    )
                if error.errno == errno.EACCES:
                    return f"port {parsed.port} needs privileges here: choose a port of 1024 or more"
                if not certain_only:
                    return f"{error.strerror or error}"
    return None


def cancel_time(grace_seconds: float) -> float:
    """Seconds into a drain of ``grace_seconds`` at which the jobs still running are cancelled."""
    return grace_seconds - min(CANCEL_AHEAD_SECONDS, grace_seconds / 2)


def serve(address: str, settings: ServerSettings | None = None) -> int:
    """Serve until SIGTERM, SIGINT or SIGHUP, then stop cleanly: refuse new calls, give in-flight
    calls ``grace_seconds`` to finish, cancel the rest (frames already written are whole)."""
    settings = settings or ServerSettings()
    previous = tempfile.tempdir
    folder, removed = claim_temp_folder()
    try:
        return _serve(address, settings, folder, removed)
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(folder, ignore_errors=True)


def _stop_signals() -> tuple[signal.Signals, ...]:
    """The signals that drain the server. SIGHUP (a closed terminal, a supervisor's stop) killed it
    without a drain or a word; one ignored when the server started (``nohup``) stays ignored, as
    its starter asked."""
    signals = (signal.SIGTERM, signal.SIGINT)
    hangup = getattr(signal, "SIGHUP", None)  # Windows has none
    if hangup is not None and signal.getsignal(hangup) != signal.SIG_IGN:
        signals += (hangup,)
    return signals


def _socket_identity(path: Path) -> tuple[int, int, int] | None:
    """What tells the socket file this server made from one made at the same path after it: a
    file's number is reused once it is freed, its change time (to the nanosecond) is not."""
    try:
        status = path.lstat()
    except OSError:
        return None
    return status.st_dev, status.st_ino, status.st_ctime_ns


def _remove_own_socket(path: Path, identity: tuple[int, int, int] | None) -> None:
    """Remove the socket at ``path`` if it is still the file this server made: a server started on
    the same path while this one drained has its own there, which must stay."""
    if identity is not None and _socket_identity(path) == identity:
        path.unlink(missing_ok=True)


def _serve(address: str, settings: ServerSettings, folder: Path, removed: list[Path]) -> int:
    state = ServerState(settings)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    parsed = parse_address(address)
    # Held from before the socket is checked until it no longer listens: no second server can
    # start on it meanwhile, and one may while this one drains.
    lock = UnixSocketLock(parsed.path) if parsed.is_unix else None
    identity = None
    try:
        server, port = create_server(address, settings, state, health_servicer, socket_lock=lock)
        bound = parsed.with_port(port)
        if bound.is_unix:
            identity = _socket_identity(bound.path)
        return _run(server, bound, settings, state, health_servicer, folder, removed, lock, identity)
    finally:
        if identity is not None:
            _remove_own_socket(parsed.path, identity)
        if lock is not None:
            lock.release()


def _run(
    server: grpc.Server,
    bound: Address,
    settings: ServerSettings,
    state: ServerState,
    health_servicer: health.HealthServicer,
    folder: Path,
    removed: list[Path],
    lock: UnixSocketLock | None,
    identity: tuple[int, int, int] | None,
) -> int:
    # A handler does no more than note the signal: one that took a lock (Event.set) deadlocked when
    # a second signal came while the first ran (`timeout` signals a process, then its group).
    stopping: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda number, _frame: stopping.append(number)) for sig in _stop_signals()
    }
    server.start()
    event(
        "serving",
        address=str(bound),
        device=settings.device,
        token="required" if settings.token else "none",
        tls="mutual" if settings.tls_client_ca else ("on" if settings.tls_cert else "off"),
        roots=",".join(str(r) for r in settings.roots) or None,
        max_jobs=settings.max_jobs,
        temp=str(folder),
    )
    if removed:
        event("temp.removed", folders=len(removed), reason="left by servers no longer running")
    if settings.warm_up:
        warm_up_in_background(folder, settings.device)
    trimmer = MemoryTrimmer()
    try:
        while not stopping:
            time.sleep(0.5)
            trimmer.poll(state.jobs.active)
        event(
            "stopping",
            signal=signal.Signals(stopping[0]).name,
            active_jobs=state.jobs.active,
            grace_seconds=settings.grace_seconds,
        )
        health_servicer.enter_graceful_shutdown()
        # The jobs still running when the grace ends are cancelled just before gRPC cancels their
        # calls, so their clients and the log read why (gRPC's own cancel reads as the client's).
        counts: list[int] = []

        def cancel_the_rest() -> None:
            counts.append(state.jobs.cancel_all(SHUTTING_DOWN))

        cancelling = threading.Timer(cancel_time(settings.grace_seconds), cancel_the_rest)
        cancelling.start()
        stopped = server.stop(settings.grace_seconds)
        # The server no longer listens: its socket goes, and its lock with it, so a server started
        # to replace this one may take the path while this one's calls drain.
        if bound.is_unix:
            _remove_own_socket(bound.path, identity)
        if lock is not None:
            lock.release()
        stopped.wait()
        cancelling.cancel()
        cancel_the_rest()
        cancelled = sum(counts)
        idle = state.jobs.wait_idle(settings.grace_seconds)
        # A shot answered as cancelled may still be inside its frame: it ends the frame whole before
        # the process exits (exiting under it killed it inside the engine, aborted the process and
        # left the frame's claim in the output folder).
        still = state.jobs.wait_workers(WORKERS_WAIT_SECONDS)
        if still:
            event("stopping.workers_left", level=logging.WARNING, jobs=",".join(still))
    finally:
        # Kept through the drain: a second signal must not cut the grace short.
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    event("stopped", cancelled=cancelled, idle=idle)
    return 0
