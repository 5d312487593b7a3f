"""The host's Python: which version the packages are installed for, and whether the bridges run on it.

Compiled packages (grpcio, numpy, OpenImageIO) exist per Python version, so the host's own version
decides what pip installs; it is given (``--python-version``), read from an interpreter
(``--python``), or this interpreter's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass

from .errors import HostPythonError

#: The bridges use 3.10 syntax and the wheels they need exist from 3.10 on.
MINIMUM = (3, 10)


@dataclass(frozen=True)
class HostPython:
    """A host's Python version and where it was learnt (for messages)."""

    version: tuple[int, int]
    source: str

    @property
    def text(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"


def parse_version(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", text)
    if not match:
        raise HostPythonError(
            f"--python-version {text!r}: give MAJOR.MINOR, e.g. 3.10 (Nuke 15) or 3.11 (Nuke 16)"
        )
    return int(match[1]), int(match[2])


def probe_interpreter(executable: str) -> tuple[int, int]:
    """Ask an interpreter its version (it need not have pip, or anything else, installed)."""
    command = [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise HostPythonError(
            f"--python {executable}: cannot run it ({error}); give the host's Python"
        ) from None
    if done.returncode != 0:
        raise HostPythonError(
            f"--python {executable}: it failed (exit status {done.returncode}): {done.stderr.strip()[-300:]}"
        )
    answer = done.stdout.strip()
    match = re.fullmatch(r"(\d+)\.(\d+)", answer)
    if not match:
        raise HostPythonError(f"--python {executable}: it answered {answer!r}, not a Python version")
    return int(match[1]), int(match[2])


def host_python(
    version: str | None, executable: str | None, installed: tuple[int, int] | None = None
) -> HostPython:
    """The host's Python: as given, else the one an earlier install was made for (``installed``: a
    rerun to update keeps it), else this one."""
    if version is not None:
        return HostPython(parse_version(version), "--python-version")
    if executable is not None:
        return HostPython(probe_interpreter(executable), executable)
    if installed is not None:
        return HostPython(installed, "as the install there was made for; --python-version to change")
    return HostPython(tuple(sys.version_info[:2]), f"this Python, {sys.executable}")


def require_supported(python: HostPython, host: str, advice: str) -> None:
    """Refuse a Python older than :data:`MINIMUM`, naming the version found and what to do."""
    if python.version < MINIMUM:
        raise HostPythonError(
            f"{host}'s Python is {python.text} ({python.source}): the MovingColor bridges need Python "
            f"{MINIMUM[0]}.{MINIMUM[1]} or later; {advice}"
        )
