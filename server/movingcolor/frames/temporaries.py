"""Temporary names for frames being written, and clearing those a killed run left behind.

A frame is written under ``.<name>.<host>-<pid>-<random><start><pid namespace>.partial`` in its own
folder and renamed into place. A run that is killed (``kill -9``, a farm pre-emption, a power
cut) leaves that file; the next run over the same outputs removes the ones it owns: temporaries of
its own output frames whose writer is gone (same host and pid namespace, and no process of that pid
started then; a name without the start, by its pid alone) or, from another host or another
namespace, that nothing has touched for :data:`STALE_SECONDS`. A temporary of a writer that is
still running is never touched, so two chunks of one shot can share a folder.

Light on purpose (no OpenImageIO): the client library writes frames with the same names.
"""

from __future__ import annotations

import os
import re
import socket
import time
import uuid
from collections.abc import Container
from pathlib import Path

from .sequence import SequencePattern

SUFFIX = ".partial"
#: A temporary that no live writer of this host owns and nobody touched for this long is litter.
STALE_SECONDS = 3600.0

_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"
#: ``host-pid-TAIL``: TAIL is 8 random hex digits, then, where the system tells them, the process's
#: start (clock ticks after boot, 12 hex digits) and its pid namespace (8): a pid alone is another
#: process once reused, and another container's on a host of the same name. All hex, so that an
#: earlier version sharing the storage still reads the host and the pid.
_OWNER = re.compile(r"^(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-(?P<tail>[0-9a-f]+)$")
_RANDOM, _START, _NAMESPACE = 8, 12, 8


#: What :func:`_started` says of a process that has exited and is not yet reaped (a zombie): it holds
#: its pid and start, but writes nothing again.
EXITED = -1


def _started(pid: int | str) -> int | None:
    """When process ``pid`` started, in clock ticks after boot (``/proc/PID/stat``); :data:`EXITED`
    for one that has exited (a killed render its farm wrapper has not reaped); None unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
        if fields[0] in (b"Z", b"X"):  # the state, the 3rd field: the first after the name's ")"
            return EXITED
        return int(fields[19]) % (1 << 4 * _START)  # the 22nd field
    except (OSError, IndexError, ValueError):
        return None


def _pid_namespace() -> int | None:
    try:
        return os.stat("/proc/self/ns/pid").st_ino % (1 << 4 * _NAMESPACE)
    except OSError:
        return None


_IDENTITY: dict[int, str] = {}
if hasattr(os, "register_at_fork"):
    # A forked child is a process of its own; a grandchild that took a dead ancestor's pid would
    # otherwise inherit that ancestor's start.
    os.register_at_fork(after_in_child=_IDENTITY.clear)


def _identity() -> str:
    """This process's start and pid namespace as hex, or "" where the system does not tell them
    (kept per pid: a forked worker is its own)."""
    pid = os.getpid()
    if pid not in _IDENTITY:
        started, namespace = _started("self"), _pid_namespace()
        known = started is not None and namespace is not None
        _IDENTITY[pid] = f"{started:0{_START}x}{namespace:0{_NAMESPACE}x}" if known else ""
    return _IDENTITY[pid]


def owner_name() -> str:
    """A unique name that says which writer made a temporary: host, process (its start and pid
    namespace where the system tells them) and a random tail."""
    return f"{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:_RANDOM]}{_identity()}"


def temporary_path(path: str | os.PathLike) -> Path:
    """Where ``path`` is written before it is renamed into place (same folder, hidden, unique)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{owner_name()}{SUFFIX}")


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` under a temporary name, then rename it into place: a reader never
    sees half a file, and a failed write leaves the file that was there."""
    path = Path(path)
    temporary = temporary_path(path)
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def writer_is_gone(owner: str, modified: float, now: float, stale_seconds: float = STALE_SECONDS) -> bool:
    """Whether the writer named ``owner`` (:func:`owner_name`) of something last modified at
    ``modified`` is gone: a process of this host's pid namespace no longer alive (or its pid now
    another process's, by its start) or, for another host's, another namespace's (a container on a
    host of the same name, whose pids say nothing here) or a name of no writer, nothing touched for
    ``stale_seconds``. A name that gives no start (an earlier version's) is alive while its pid is."""
    match = _OWNER.match(owner)
    if not match or match["host"] != _HOST:
        return now - modified > stale_seconds
    pid, tail = int(match["pid"]), match["tail"]
    if len(tail) == _RANDOM + _START + _NAMESPACE:
        start, namespace = int(tail[_RANDOM:-_NAMESPACE], 16), int(tail[-_NAMESPACE:], 16)
        if namespace != _pid_namespace():
            return now - modified > stale_seconds
        started = _started(pid)
        if started is not None:
            return started != start  # a pid reused by another process (or exited) is not its writer
    elif pid == os.getpid():
        return False
    elif _started(pid) == EXITED:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def remove_stale_temporaries(pattern: SequencePattern, frames: Container[int]) -> list[Path]:
    """Remove the temporaries of ``pattern``'s frames in ``frames`` that a dead writer left;
    returns what was removed. A folder that does not exist yet holds none."""
    names = re.compile(
        r"^\."
        + re.escape(pattern.prefix)
        + r"(?P<frame>-?\d+)"
        + re.escape(pattern.suffix)
        + r"\.(?P<owner>[^.]+)"
        + re.escape(SUFFIX)
        + "$"
    )
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(pattern.directory))
    except OSError:
        return removed
    for entry in entries:
        match = names.match(entry.name)
        if not match or int(match["frame"]) not in frames:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if not writer_is_gone(match["owner"], entry.stat(follow_symlinks=False).st_mtime, now):
                continue
            os.unlink(entry.path)
        except OSError:
            continue  # gone already, or not ours to remove: a later run tries again
        removed.append(Path(entry.path))
    return removed
