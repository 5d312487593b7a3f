"""An install as a list of described steps: printed for ``--dry-run``, carried out otherwise.

Every check (the host's Python, the folders, what is to be copied, the start-up files) is made
while the plan is built, so a refused install has changed nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import HostInstallError


@dataclass(frozen=True)
class InstallOptions:
    """What the user asked for; ``None`` means the host's usual place or this Python's version."""

    dest: Path | None = None
    site: Path | None = None
    python_version: str | None = None
    python: str | None = None
    with_dependencies: bool = True
    bundle: Path | None = None

    def refuse(self, host: str, *flags: str) -> None:
        """Options that mean nothing for ``host`` are an error, not silently ignored."""
        given = {
            "--site": self.site is not None,
            "--python-version": self.python_version is not None,
            "--python": self.python is not None,
            "--no-deps": not self.with_dependencies,
            "--bundle": self.bundle is not None,
        }
        refused = [flag for flag in flags if given[flag]]
        if refused:
            raise HostInstallError(f"{', '.join(refused)}: not an option of `movingcolor install {host}`")


@dataclass(frozen=True)
class Step:
    description: str
    apply: Callable[[], None]


@dataclass(frozen=True)
class InstallPlan:
    host: str
    steps: tuple[Step, ...]
    #: What the user does afterwards (restart the host, start a server, how to remove it).
    after: tuple[str, ...] = field(default_factory=tuple)
    #: What the user should know before the steps run (printed by --dry-run too).
    notes: tuple[str, ...] = field(default_factory=tuple)
