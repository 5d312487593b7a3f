"""``movingcolor install resolve``: the packages for the Python Resolve scripts with, in a folder of
MovingColor's own, and ``MovingColor.py`` in Resolve's ``Fusion/Scripts/Utility`` (Workspace >
Scripts on every page), which loads the bridge from that folder.

The packages stay out of the Scripts tree: Resolve scans the folders under it for scripts to list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import HostInstallError
from .files import check_group_kept, replace_text
from .folders import (
    check_site_writable,
    check_writable,
    movingcolor_data_folder,
    resolve_utility_folder,
)
from .plan import InstallOptions, InstallPlan, Step
from .python_version import MINIMUM, HostPython, host_python, require_supported
from .site_packages import installed_python, site_packages

SCRIPT_NAME = "MovingColor.py"

# Python 3.6 syntax on purpose: an older scripting Python must be able to read it to say why it stops.
SCRIPT = '''\
r"""MovingColor: fuse the clip under the playhead (Workspace > Scripts > MovingColor).

Written by `movingcolor install resolve` (run it again to update); the bridge and its packages are in
{site}. Settings come from $MOVINGCOLOR_RESOLVE_SETTINGS (or ~/.config/movingcolor/resolve.json)
and MOVINGCOLOR_* environment variables; progress and errors go to the Console (Workspace > Console)
and the log file.
"""

import sys

SITE = {site!r}
PYTHON = {python!r}


def run():
    running = tuple(sys.version_info[:2])
    if running < {minimum!r}:
        print("MovingColor: Resolve runs this script with Python %d.%d and MovingColor needs %d.%d or later: "
              "install a newer Python 3 (64-bit, for all users), then run `movingcolor install resolve "
              "--python` with it" % (running + {minimum!r}))
        return 2
    if running != PYTHON:
        print("MovingColor: its packages in %s are for Python %d.%d and Resolve runs this script with %d.%d; "
              "run `movingcolor install resolve --python-version %d.%d`" % ((SITE,) + PYTHON + running * 2))
        return 2
    if SITE not in sys.path:
        sys.path.insert(0, SITE)  # before the system Python's own packages: the versions the bridge needs
    try:
        from movingcolor_resolve.cli import main
    except ImportError as error:
        print("MovingColor: cannot load (%s); run `movingcolor install resolve` again" % error)
        return 2
    except Exception as error:  # said in the Console, not a traceback
        said = "MovingColor: cannot load (%s: %s)" % (type(error).__name__, error)
        if type(error).__name__ == "VersionError":  # protobuf's: a runtime older than the code it loads
            where = getattr(sys.modules.get(type(error).__module__), "__file__", type(error).__module__)
            said += ("; an older package earlier on sys.path (%s) shadows the copy in %s: remove its "
                     "folder from PYTHONPATH, or update it there" % (where, SITE))
        print(said)
        return 2
    # Inside Resolve, scripts see `resolve` (and `bmd`); elsewhere main connects through the scripting
    # module, reporting a failure in the log like any other.
    app = globals().get("resolve")
    if app is None and "bmd" in globals():
        app = bmd.scriptapp("Resolve")  # noqa: F821 (defined by Resolve)
    return main([], resolve=app)


if __name__ != "MovingColor":  # run from Resolve's menu or a shell, not imported
    run()
'''


def script_text(site: Path, python: HostPython) -> str:
    return SCRIPT.format(site=str(site), python=python.version, minimum=MINIMUM)


@dataclass(frozen=True)
class _ScriptFile:
    path: Path
    text: str

    def describe(self) -> str:
        if self.path.is_symlink():
            was = f", replacing the link to {os.readlink(self.path)} (the linked file is left as it is)"
        elif self.path.exists():
            was = ", replacing the one there"
        else:
            was = ""
        return f"write {self.path}, the Workspace > Scripts entry{was}"

    def apply(self) -> None:
        # A link (a manual install's) is replaced, never written through: it may point into a checkout.
        replace_text(self.path, self.text)


def _in_home(dest: Path, home: Path) -> bool:
    """Whether ``dest`` is under ``home`` as written or with both links followed: a folder of the
    home linked to another disk (``~/.local/share/DaVinciResolve``) is still this user's."""
    home = home.expanduser().absolute()
    return dest.is_relative_to(home) or dest.resolve().is_relative_to(home.resolve())


def plan_resolve(options: InstallOptions, system: str, env: Mapping[str, str], home: str) -> InstallPlan:
    options.refuse("resolve", "--bundle")
    dest = (options.dest or Path(resolve_utility_folder(system, env, home))).expanduser().absolute()
    default_site = Path(movingcolor_data_folder(system, env, home)) / "resolve"
    if options.site is None and options.dest is not None and not _in_home(dest, Path(home)):
        raise HostInstallError(
            f"--dest {dest} is outside your home folder, but the packages would go to {default_site}, "
            f"which only you can read: give --site a folder every user of {dest} can read, e.g. "
            f"/opt/movingcolor/resolve"
        )
    site = (options.site or default_site).expanduser().absolute()
    python = host_python(options.python_version, options.python, installed_python(site))
    require_supported(
        python,
        "Resolve's scripting",
        "install Python 3.10 or later (64-bit, for all users) and give it with --python",
    )
    check_writable(
        dest,
        "Resolve's Scripts folder",
        "run as an administrator for an all-users folder, or give --dest one of yours",
    )
    check_site_writable(site)
    packages = site_packages(site, "movingcolor_resolve", python, options.with_dependencies)
    script = _ScriptFile(dest / SCRIPT_NAME, script_text(site, python))
    if script.path.exists():
        # Refused now, not after the packages are replaced: a script of another user's group.
        check_group_kept(script.path)
    after = (
        "Restart Resolve: Workspace > Scripts > MovingColor fuses the clip under the playhead.",
        "Settings (the timeline's colour space at least): ~/.config/movingcolor/resolve.json or "
        "MOVINGCOLOR_* variables; see plugin/resolve/README.md.",
        f"To remove it: delete {dest / SCRIPT_NAME} and {site}.",
    )
    steps = (Step(packages.describe(), packages.install), Step(script.describe(), script.apply))
    return InstallPlan("resolve", steps, after)
