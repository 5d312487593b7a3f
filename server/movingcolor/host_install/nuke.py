"""``movingcolor install nuke``: the packages for Nuke's Python, and the lines in init.py and menu.py
that load them (every session, ``nuke -t`` too) and put MovingColor in the Nodes toolbar (GUI)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .folders import check_site_writable, check_writable, nuke_user_folder
from .plan import InstallOptions, InstallPlan, Step
from .python_version import MINIMUM, HostPython, host_python, require_supported
from .site_packages import installed_python, site_packages
from .startup_blocks import marked_block, plan_block

NOTE = (
    "written by `movingcolor install nuke`: run it again to update; to remove, delete these lines "
    "and the packages' folder init.py names (movingcolor_site)"
)

# Python 3.6 syntax on purpose: an older Nuke must be able to read it to say why it does not load.
# The packages' folder is written in ASCII escapes: a user's init.py may declare another encoding
# (``# -*- coding: latin-1 -*-``), in which a UTF-8 ``é`` reads as two other letters.
INIT = """\
def _movingcolor_load(site={site!a}, python={python!r}):
    import sys

    running = tuple(sys.version_info[:2])
    if running < {minimum!r}:
        print("MovingColor: not loaded: this Nuke runs Python %d.%d and MovingColor needs %d.%d or later "
              "(Nuke 15 or later)" % (running + {minimum!r}))
        return
    if running != python:
        print("MovingColor: not loaded: its packages in %s are for Python %d.%d and this Nuke runs %d.%d; "
              "run `movingcolor install nuke --python-version %d.%d`" % ((site,) + python + running * 2))
        return
    if site not in sys.path:
        sys.path.append(site)  # after Nuke's own packages, which Nuke itself relies on
    try:
        # Renders outside the GUI (a farm's `nuke -x`, which runs init.py alone) check their takes.
        from movingcolor_nuke.farm import install_render_checks

        install_render_checks()
    except ImportError as error:
        print("MovingColor: not loaded (%s); run `movingcolor install nuke` again" % error)
    except Exception as error:  # whatever it is, the rest of init.py and Nuke go on
        said = "MovingColor: not loaded (%s: %s)" % (type(error).__name__, error)
        if type(error).__name__ == "VersionError":  # protobuf's: a runtime older than the code it loads
            where = getattr(sys.modules.get(type(error).__module__), "__file__", type(error).__module__)
            said += ("; an older package earlier on sys.path (%s) shadows the copy in %s: remove its "
                     "folder from NUKE_PATH or PYTHONPATH, or update it there" % (where, site))
        print(said)


_movingcolor_load()
del _movingcolor_load
"""

# init.py has said why the bridge did not load; a menu that fails says why and lets Nuke start.
MENU = """\
def _movingcolor_menu():
    try:
        from movingcolor_nuke.menu import install_menu
    except Exception:
        return
    try:
        install_menu()
    except Exception as error:
        print("MovingColor: no Nodes toolbar entry (%s: %s)" % (type(error).__name__, error))


_movingcolor_menu()
del _movingcolor_menu
"""


def init_lines(site: Path, python: HostPython) -> str:
    return marked_block(INIT.format(site=str(site), python=python.version, minimum=MINIMUM), NOTE)


def plan_nuke(options: InstallOptions, system: str, env: Mapping[str, str], home: str) -> InstallPlan:
    options.refuse("nuke", "--bundle")
    default_dest = Path(nuke_user_folder(system, env, home))
    dest = (options.dest or default_dest).expanduser().absolute()
    site = (options.site or dest / "movingcolor_site").expanduser().absolute()
    python = host_python(options.python_version, options.python, installed_python(site))
    require_supported(python, "Nuke", "use Nuke 15 (Python 3.10) or later; Nuke 14 runs Python 3.9")
    fix = "give --dest a folder you can write, and add it to NUKE_PATH"
    check_writable(dest, "Nuke's start-up folder", fix)
    check_site_writable(site)
    packages = site_packages(site, "movingcolor_nuke", python, options.with_dependencies)
    init = plan_block(dest / "init.py", init_lines(site, python))
    menu = plan_block(dest / "menu.py", marked_block(MENU, NOTE))
    after = ["Restart Nuke: the node is in the Nodes toolbar under MovingColor."]
    notes = []
    for name in ("init.py", "menu.py"):
        if (dest / name).is_symlink():
            # Edited where the link leads (a studio's shared file): every Nuke that reads it then
            # loads the packages from this install's folder.
            notes.append(
                f"{name} -> {(dest / name).resolve()} is a link: the MovingColor lines go into the file "
                f"it leads to, naming packages in {site}, and every Nuke that reads that file will load "
                f"them from there. For yourself alone, replace the link with a file of your own; for a "
                f"studio, install with --dest and --site on a shared folder."
            )
    if dest != default_dest.absolute():
        after.append(
            f"Nuke runs init.py and menu.py from ~/.nuke and the NUKE_PATH folders: add {dest} to NUKE_PATH."
        )
    after.append(
        f"To remove it: delete the MovingColor lines from {dest / 'init.py'} and {dest / 'menu.py'}, "
        f"and {site}."
    )
    after.append(
        "A server the artists reach: `movingcolor serve --address 0.0.0.0:50051 --token-file TOKEN` "
        "on a GPU machine (MOVINGCOLOR_SERVER=host:50051 makes it every new node's default, "
        "MOVINGCOLOR_TOKEN carries the token)."
    )
    steps = (
        Step(packages.describe(), packages.install),
        Step(init.describe(), init.apply),
        Step(menu.describe(), menu.apply),
    )
    return InstallPlan("nuke", steps, tuple(after), tuple(notes))
