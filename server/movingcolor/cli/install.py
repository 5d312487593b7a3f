"""``movingcolor install nuke|resolve|ofx``: the host bridge where the host finds it."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from ..host_install import HOSTS, InstallOptions, plan_install
from ..host_install.errors import HostInstallError
from ..host_install.folders import without_probes

DESCRIPTION = """\
Install a host bridge for this machine's user (or where --dest says).

nuke     packages for Nuke's Python in DEST/movingcolor_site, and lines in DEST/init.py and
         DEST/menu.py that load them and add Nodes > MovingColor (DEST default: ~/.nuke;
         on Windows %HOME%\\.nuke where HOME is set, else %USERPROFILE%\\.nuke)
resolve  packages for the Python Resolve scripts with, in MovingColor's data folder, and
         MovingColor.py in Resolve's Fusion/Scripts/Utility folder (Workspace > Scripts)
ofx      the built MovingColor.ofx.bundle into the OFX plugin folder (/usr/OFX/Plugins)

The packages are MovingColor's client and bridge (no torch) and grpcio, protobuf, numpy and
OpenImageIO, installed by pip for the host's Python version. Running it again updates the
install in place; the user's own lines in init.py and menu.py are kept.
"""


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "install",
        help="install the Nuke, Resolve or OFX bridge where the host finds it",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("host", choices=HOSTS, help="the host to install for")
    parser.add_argument("--dest", type=Path, help="the host's folder (default: the host's usual user folder)")
    parser.add_argument(
        "--site",
        type=Path,
        help="nuke, resolve: the folder for the Python packages "
        "(default: DEST/movingcolor_site for nuke, MovingColor's data folder for resolve)",
    )
    python = parser.add_mutually_exclusive_group()
    python.add_argument(
        "--python-version",
        metavar="X.Y",
        help="nuke, resolve: the host's Python version (Nuke 15: 3.10, Nuke 16: 3.11; default: the "
        "version an earlier install there was made for, else this Python's)",
    )
    python.add_argument(
        "--python", metavar="EXE", help="nuke, resolve: a Python of the host's version, to read it from"
    )
    parser.add_argument(
        "--no-deps",
        action="store_true",
        help="nuke, resolve: MovingColor's packages only; the host's Python must find grpcio, protobuf, "
        "numpy and OpenImageIO itself",
    )
    parser.add_argument(
        "--bundle", type=Path, help="ofx: the built bundle (default: build/ofx/MovingColor.ofx.bundle)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    parser.set_defaults(run=run)


def run(args) -> int:
    options = InstallOptions(
        dest=args.dest,
        site=args.site,
        python_version=args.python_version,
        python=args.python,
        with_dependencies=not args.no_deps,
        bundle=args.bundle,
    )
    try:
        with without_probes() if args.dry_run else contextlib.nullcontext():
            plan = plan_install(args.host, options)
    except OSError as error:  # an init.py or menu.py this user cannot read, a folder it cannot list
        where = f" {error.filename}" if error.filename else ""
        raise HostInstallError(
            f"cannot read{where} ({error.strerror or error}); nothing was changed: give this user access "
            f"to it, or install for another folder (--dest)"
        ) from error
    for note in plan.notes:
        print(f"Note: {note}")
    if args.dry_run:
        print(f"movingcolor install {plan.host} --dry-run: nothing is changed. The install would:")
        for number, step in enumerate(plan.steps, 1):
            print(f"  {number}. {step.description}")
        return 0
    for number, step in enumerate(plan.steps, 1):
        print(f"  {number}. {step.description}", flush=True)
        try:
            step.apply()
        except OSError as error:
            if number == 1:
                done = "nothing was changed"
            else:
                done = "step 1 is done" if number == 2 else f"steps 1-{number - 1} are done"
            where = f" ({error.filename})" if error.filename else ""
            raise HostInstallError(
                f"step {number} failed: {error.strerror or error}{where}; {done}. Fix that and run the "
                f"install again: it redoes every step"
            ) from error
    print(f"Installed the MovingColor {plan.host} bridge.")
    for line in plan.after:
        print(f"  {line}")
    return 0
