"""The folder of Python packages a host's own Python loads MovingColor from.

MovingColor's packages are copied from this installation (pure Python: the same files serve every
Python version); the third-party ones are installed by pip for the host's Python version, binary
wheels only, since the host's interpreter is not the one running pip. The folder is assembled
beside its final place and renamed into it, so a failed install leaves the previous one whole.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

from .. import __version__
from .errors import BridgeNotInstalledError, ForeignFolderError, PipError
from .files import check_removable, copy_folder, replace_folder
from .python_version import HostPython

#: What every bridge loads: the client library, what the bridges share, and the light core under them.
SHARED_PACKAGES = ("movingcolor", "movingcolor_client", "movingcolor_hosts")

#: The third-party packages the client and the bridges import. The import contract in
#: pyproject.toml keeps them off the rest of the base install (scipy, OpenColorIO, tqdm), which a
#: host does without: Nuke keeps its own PyOpenColorIO.
HOST_DEPENDENCIES = ("numpy", "grpcio", "protobuf", "grpcio-health-checking", "grpcio-status", "OpenImageIO")

#: The file an install leaves in its package folder: the folder is MovingColor's to replace, for
#: which Python its packages were installed (a later install without --python-version keeps it), and
#: which host's bridge it holds (another host's install must not replace it).
MARKER = ".movingcolor-site"

#: Each host's bridge package, and the host it is for (in messages).
BRIDGES = {"movingcolor_nuke": "Nuke", "movingcolor_resolve": "Resolve"}

_REINSTALL = (
    "install movingcolor from the repository (`python3 -m pip install .`) or from a wheel built there "
    "(`python3 -m pip wheel . --no-deps -w dist`), then run the install again"
)


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[._-]+", "-", match[1]).lower() if match else ""


def host_requirements() -> tuple[str, ...]:
    """The host dependencies with the version bounds movingcolor's own metadata declares."""
    try:
        declared = metadata.requires("movingcolor") or []
    except metadata.PackageNotFoundError:
        raise BridgeNotInstalledError(f"movingcolor's package metadata is not found: {_REINSTALL}") from None
    wanted = {_name(name) for name in HOST_DEPENDENCIES}
    chosen = tuple(r for r in declared if "extra" not in r.partition(";")[2] and _name(r) in wanted)
    missing = wanted - {_name(r) for r in chosen}
    if missing:
        raise BridgeNotInstalledError(
            f"this movingcolor installation does not declare {sorted(missing)}: {_REINSTALL}"
        )
    return chosen


def package_folder(name: str) -> Path:
    """Where this installation's package ``name`` lives (an editable install's source folder too)."""
    spec = find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise BridgeNotInstalledError(
            f"the package {name} is not part of this movingcolor installation: {_REINSTALL}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class SitePackages:
    """What goes into a host's package folder, and how."""

    folder: Path
    bridge: str
    sources: dict[str, Path]
    requirements: tuple[str, ...]
    python: HostPython

    def pip_command(self, target: Path) -> list[str]:
        return [
            sys.executable, "-m", "pip", "install", "--target", str(target),
            "--python-version", self.python.text, "--only-binary=:all:", "--no-compile",
            "--disable-pip-version-check", *self.requirements,
        ]  # fmt: skip

    def describe(self) -> str:
        lines = [
            f"install into {self.folder}, for Python {self.python.text} ({self.python.source}):",
            f"    copy movingcolor {__version__}'s packages:",
            *(f"      {name} from {folder}" for name, folder in self.sources.items()),
        ]
        if self.requirements:
            lines.append(f"    pip install for Python {self.python.text}: {shlex.join(self.requirements)}")
        else:
            lines.append(
                f"    not their dependencies (--no-deps): the host's Python must find "
                f"{', '.join(HOST_DEPENDENCIES)} itself"
            )
        return "\n".join(lines)

    def install(self) -> None:
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", dir=self.folder.parent))
        try:
            # mkdtemp makes a private folder; the host may run as another user (a render node).
            os.chmod(staged, 0o755)
            (staged / MARKER).write_text(
                f"installed by movingcolor {__version__} for Python {self.python.text}\n"
                f"python={self.python.text}\nbridge={self.bridge}\n",
                encoding="utf-8",
            )
            for name, source in self.sources.items():
                # The network's weights run with torch, which a host's Python never has (5.5 MB).
                skipped = ("__pycache__", "*.pyc", *(("weights",) if name == "movingcolor" else ()))
                copy_folder(source, staged / name, ignore=shutil.ignore_patterns(*skipped))
            if self.requirements:
                command = self.pip_command(staged)
                if subprocess.run(command).returncode != 0:
                    raise PipError(
                        f"pip could not install {', '.join(HOST_DEPENDENCIES)} for Python {self.python.text} "
                        f"(its messages are above; the command was: {shlex.join(command)}). Check that the "
                        f"package index is reachable, or install them for the host yourself and run the "
                        f"install again with --no-deps"
                    )
            replace_folder(staged, self.folder)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise


def _marker(folder: Path) -> str:
    try:
        return (folder / MARKER).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def installed_python(folder: Path) -> tuple[int, int] | None:
    """The Python version an earlier install into ``folder`` was made for, where its marker says."""
    match = re.search(r"^python=(\d+)\.(\d+)$", _marker(folder), re.MULTILINE)
    return (int(match[1]), int(match[2])) if match else None


def installed_bridges(folder: Path, entries: list[str]) -> set[str]:
    """The bridges an earlier install left in ``folder``: its marker's, else (a marker older than the
    bridge's line, or none) the bridge packages among ``entries``."""
    match = re.search(r"^bridge=(\S+)$", _marker(folder), re.MULTILINE)
    return {match[1]} if match else {name for name in entries if name in BRIDGES}


def check_own_folder(folder: Path, bridge: str) -> None:
    """Refuse a package folder holding anything an earlier install of ``bridge`` did not put there:
    the install replaces the folder whole, so a studio's shared package folder, the host's own
    start-up folder given as ``--site``, or the folder of the other host's bridge would lose
    everything else in it."""
    if not (folder.exists() or folder.is_symlink()):
        return
    if not folder.is_dir():
        raise ForeignFolderError(f"--site {folder} is a file: give a folder of MovingColor's own")
    entries = sorted(entry.name for entry in folder.iterdir())
    # An install older than the marker is known by the shared package it always copied there.
    if entries and MARKER not in entries and "movingcolor_hosts" not in entries:
        shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
        raise ForeignFolderError(
            f"the package folder {folder} already holds files MovingColor did not install ({shown}), and "
            f"the install replaces that folder whole: give --site a new or empty folder of its own, e.g. "
            f"{folder / 'movingcolor_site'}"
        )
    others = sorted(installed_bridges(folder, entries) - {bridge})
    if others:
        held = " and ".join(f"the {BRIDGES.get(name, name)} bridge ({name})" for name in others)
        host = BRIDGES.get(bridge, bridge).lower()
        raise ForeignFolderError(
            f"the package folder {folder} holds {held}, and installing the {BRIDGES.get(bridge, bridge)} "
            f"bridge replaces that folder whole, which would remove it: give {host} a --site of its own, "
            f"e.g. {folder.parent / f'{bridge}_site'}"
        )


def site_packages(folder: Path, bridge: str, python: HostPython, with_dependencies: bool) -> SitePackages:
    """The packages of ``bridge`` (``movingcolor_nuke``, ``movingcolor_resolve``) for ``python``,
    checked to be present now, and ``folder`` to be one the install may replace, before anything is
    written."""
    check_own_folder(folder, bridge)
    check_removable(folder, "give --site another folder")
    sources = {name: package_folder(name) for name in (*SHARED_PACKAGES, bridge)}
    requirements = host_requirements() if with_dependencies else ()
    return SitePackages(folder, bridge, sources, requirements, python)
