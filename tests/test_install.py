"""Installing for the hosts: a wheel built from this tree, installed without torch in a fresh
environment, and ``movingcolor install nuke|resolve|ofx`` from it.

Nuke's install is loaded the way Nuke loads it: its init.py and menu.py run in a Python without
site-packages (as Nuke's own), with the stand-in of Nuke's module (tests/hosts), so everything else
must come from the installed package folder; the node is made from the Nodes toolbar and a shot is
fused on a real server. The fresh environment needs the package index for grpcio, protobuf, numpy
and OpenImageIO: without it those tests skip and say so.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli, short_folder
from movingcolor.frames.image_io import read_pixels
from movingcolor.host_install.folders import (
    movingcolor_data_folder,
    nuke_user_folder,
    ofx_plugin_folder,
    resolve_utility_folder,
)
from movingcolor.host_install.nuke import init_lines
from movingcolor.host_install.ofx import BINARY_FOLDERS
from movingcolor.host_install.python_version import HostPython
from movingcolor.host_install.resolve import script_text
from movingcolor.host_install.startup_blocks import BEGIN, END, marked_block, plan_block

ROOT = Path(__file__).resolve().parents[1]
HOSTS = ROOT / "tests" / "hosts"
GRADE = "slope=1.2,1.0,0.8;offset=0.01;power=1.0;sat=1.2"
# What pip says when it cannot reach the package index (or the index lacks a dependency).
UNREACHABLE = (
    "No matching distribution found",
    "Could not find a version that satisfies",
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "Max retries exceeded",
    "Read timed out",
)


def _run(command: list, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=timeout, **kwargs
    )


def _succeeded_or_skip(done: subprocess.CompletedProcess, what: str) -> None:
    if done.returncode == 0:
        return
    output = done.stdout + done.stderr
    if any(sign in output for sign in UNREACHABLE):
        last = [line for line in output.splitlines() if line.strip()][-1]
        pytest.skip(f"the package index is not reachable, so pip cannot {what} ({last})")
    raise AssertionError(f"pip could not {what}:\n{output}")


def _setuptools_builds_here() -> bool:
    """Whether this environment's setuptools can build the wheel itself (pyproject asks for 68 or
    later; wheels without the separate `wheel` package from 70.1 on), which saves fetching one."""
    try:
        major, minor = (int(part) for part in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (70, 1)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of this tree, built from a clean copy: a build in the checkout would take in
    setuptools' build/lib from earlier builds, deleted modules included."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("server", "plugin"):
        shutil.copytree(
            ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
    dist = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", source, "--no-deps", "-w", dist]
    if _setuptools_builds_here():
        command.append("--no-build-isolation")
    _succeeded_or_skip(_run(command), "build the wheel")
    (built,) = dist.glob("movingcolor-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    """A fresh environment with the wheel's base install (no extras); returns its Python. It stays
    in pytest's temporary folders, which pytest prunes, like every test's files."""
    folder = tmp_path_factory.mktemp("venv")
    made = _run([sys.executable, "-m", "venv", folder])
    if made.returncode != 0:
        pytest.skip(
            f"python -m venv cannot make an environment here (Debian: python3-venv): {made.stderr[-300:]}"
        )
    python = folder / ("Scripts" if os.name == "nt" else "bin") / "python"
    _succeeded_or_skip(_run([python, "-m", "pip", "install", wheel], timeout=900), "install the wheel")
    return python


def movingcolor(python: Path, *args) -> subprocess.CompletedProcess:
    """The venv's own `movingcolor` command."""
    return _run([python.parent / "movingcolor", *args])


def hidden_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_wheel_holds_the_client_and_both_bridges_and_no_host_module(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {
        "movingcolor",
        "movingcolor_client",
        "movingcolor_hosts",
        "movingcolor_nuke",
        "movingcolor_resolve",
    }
    assert "movingcolor/host_install/nuke.py" in names and "movingcolor_resolve/cli.py" in names
    (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    requires = [
        line.split(":", 1)[1].strip()
        for line in zipfile.ZipFile(wheel).read(metadata_name).decode().splitlines()
        if line.startswith("Requires-Dist:")
    ]
    base = [r for r in requires if "extra ==" not in r]
    assert base and not [r for r in base if r.lower().startswith("torch")], base
    assert any(r.startswith("torch") and 'extra == "server"' in r for r in requires)


VENV_CHECK = """
import importlib.util, json, sys
from pathlib import Path

hosts, server, plate, matte, out, grade = sys.argv[1:7]
assert importlib.util.find_spec("torch") is None, "the base install pulled torch"
import movingcolor_client, movingcolor_hosts, movingcolor_resolve, movingcolor_resolve.cli
sys.path.insert(0, hosts)
import movingcolor_nuke, movingcolor_nuke.menu  # with the stand-in of Nuke's module

with movingcolor_client.connect(server) as client:
    client.fuse_files(plate, str(Path(out) / "f.####.exr"), matte, grade=grade, engine="hard",
                      frames="1001-1002")
names = ["movingcolor", "movingcolor_client", "movingcolor_hosts", "movingcolor_nuke", "movingcolor_resolve"]
print(json.dumps({name: sys.modules[name].__file__ for name in names}))
"""


def test_base_install_has_no_torch_and_fuses_through_the_client(venv, served, demo_inputs, tmp_path):
    plate, matte = demo_inputs
    done = _run([venv, "-c", VENV_CHECK, HOSTS, served.address, plate, matte, tmp_path / "venv", GRADE])
    assert done.returncode == 0, done.stderr
    origins = json.loads(done.stdout.splitlines()[-1])
    environment = venv.parent.parent
    assert all(Path(file).is_relative_to(environment) for file in origins.values()), origins
    cli = tmp_path / "cli" / "f.####.exr"
    assert run_cli("fuse", "--plate", plate, "--matte", matte, "--grade", GRADE, "--engine", "hard",
                   "--frames", "1001-1002", "--out", cli) == 0  # fmt: skip
    ours, theirs = sorted((tmp_path / "venv").glob("f.*.exr")), sorted(cli.parent.glob("f.*.exr"))
    assert [p.name for p in ours] == [p.name for p in theirs] == ["f.1001.exr", "f.1002.exr"]
    assert all(np.array_equal(read_pixels(a), read_pixels(b)) for a, b in zip(ours, theirs, strict=True))
    # A server of the classical engines runs on this install too (it failed importing reflection).
    from movingcolor_client import connect

    socket = f"unix://{short_folder()}/light.sock"
    serve = [venv, "-m", "movingcolor.cli.main", "serve", "--address", socket, "--no-warm-up"]
    server = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    plate_array, matte_array = np.full((1, 16, 16, 3), 0.3, np.float32), np.ones((1, 16, 16), np.float32)
    try:
        with connect(socket, retries=8, backoff=0.25) as client:
            fused = client.fuse_arrays(plate_array, matte_array, grade=GRADE, engine="hard")
        assert fused.shape == (1, 16, 16, 3)
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0, server.stderr.read()


NUKE_SESSION = """
import json, sys

hosts, dest, server, plate, matte, out, grade = sys.argv[1:8]
sys.path.insert(0, hosts)  # the stand-in `nuke` only: the rest must come from the installed folder
for name in ("init.py", "menu.py"):  # as Nuke runs them at start-up
    path = dest + "/" + name
    exec(compile(open(path).read(), path, "exec"), {"__name__": "__main__"})
import nuke

nuke.menu("Nodes").findItem("MovingColor/MovingColor").invoke()
import movingcolor_hosts

settings = movingcolor_hosts.FuseSettings(server=server, out=out + "/f.####.exr", grade=grade, engine="hard")
inputs = movingcolor_hosts.RenderedInputs(plate, matte)
fused = movingcolor_hosts.fuse_rendered(settings, inputs, frames="1001-1002")
print(json.dumps({
    "nodes": [node.name() for node in nuke.allNodes("Group")],
    "frames": fused.frames,
    "files": {name: sys.modules[name].__file__ for name in ("movingcolor_nuke", "grpc", "OpenImageIO")},
    "heavy": [name for name in ("torch", "scipy", "PyOpenColorIO") if name in sys.modules],
    "render_checks": [call.__module__ for call, _, _, _ in nuke._before_render],
}))
"""


def test_nuke_install_loads_as_nuke_loads_it_and_a_second_run_changes_no_line(
    venv, served, demo_inputs, tmp_path
):
    dest = tmp_path / ".nuke"
    dest.mkdir()
    user_lines = 'import os\nos.environ.setdefault("SHOW", "x")\n'
    (dest / "init.py").write_text(user_lines)
    done = movingcolor(venv, "install", "nuke", "--dest", dest)
    assert done.returncode == 0, done.stdout + done.stderr
    removal = f"To remove it: delete the MovingColor lines from {dest / 'init.py'} and {dest / 'menu.py'}"
    assert f"{removal}, and {dest / 'movingcolor_site'}." in done.stdout
    init, menu = (dest / "init.py").read_text(), (dest / "menu.py").read_text()
    assert init.startswith(user_lines) and init.count(BEGIN) == init.count(END) == 1
    assert menu.count(BEGIN) == menu.count(END) == 1

    plate, matte = demo_inputs
    session = _run(
        [venv, "-S", "-c", NUKE_SESSION, HOSTS, dest, served.address, plate, matte, tmp_path / "out", GRADE]
    )
    assert session.returncode == 0, session.stdout + session.stderr
    report = json.loads(session.stdout.splitlines()[-1])
    assert report["nodes"] == ["MovingColor1"] and report["frames"] == [1001, 1002]
    site = dest / "movingcolor_site"
    assert all(Path(file).is_relative_to(site) for file in report["files"].values()), report["files"]
    assert report["heavy"] == []
    # A farm's `nuke -x` runs init.py alone: the installed lines check its renders, as plugin/nuke's do.
    assert report["render_checks"] == ["movingcolor_nuke.farm"]

    # Again (its packages alone this time: the lines are what this checks): every line stays as it was.
    again = movingcolor(venv, "install", "nuke", "--dest", dest, "--no-deps")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "keep" in again.stdout
    assert (dest / "init.py").read_text() == init and (dest / "menu.py").read_text() == menu
    assert (site / "movingcolor_nuke" / "menu.py").is_file() and not (site / "grpc").exists()
    # The network's weights stay out of a host's packages: they run with torch, which it never has.
    assert (site / "movingcolor" / "frames").is_dir() and not (site / "movingcolor" / "weights").exists()
    assert hidden_leftovers(dest) == []


def test_nuke_dry_run_prints_the_steps_and_writes_nothing(venv, tmp_path):
    dest = tmp_path / "nuke-home"
    done = movingcolor(venv, "install", "nuke", "--dest", dest, "--python-version", "3.10", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert f"{dest / 'movingcolor_site'}, for Python 3.10" in done.stdout
    assert "grpcio>=" in done.stdout and "torch" not in done.stdout and "scipy" not in done.stdout
    assert f"write {dest / 'init.py'}" in done.stdout and f"write {dest / 'menu.py'}" in done.stdout
    assert not dest.exists()


RESOLVE_MENU = """
import json, sys

hosts, script = sys.argv[1:3]
sys.path.insert(0, hosts)
import resolve_app

app = resolve_app.Resolve()  # running, with an empty timeline: nothing is under the playhead
app.GetProjectManager().GetCurrentProject().GetMediaPool().CreateEmptyTimeline("Edit")
exec(compile(open(script).read(), script, "exec"), {"__name__": "__main__", "resolve": app})
print(json.dumps(sys.modules["movingcolor_resolve.cli"].__file__))
"""


def test_resolve_script_runs_the_bridge_from_its_folder_and_replaces_a_link(venv, tmp_path):
    utility, site = tmp_path / "Scripts" / "Utility", tmp_path / "movingcolor-resolve"
    utility.mkdir(parents=True)
    checkout_script = tmp_path / "checkout" / "MovingColor.py"
    checkout_script.parent.mkdir()
    checkout_script.write_text("# a checkout's script, linked by hand\n")
    (utility / "MovingColor.py").symlink_to(checkout_script)
    done = movingcolor(venv, "install", "resolve", "--dest", utility, "--site", site, "--no-deps")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"To remove it: delete {utility / 'MovingColor.py'} and {site}." in done.stdout
    script = utility / "MovingColor.py"
    assert (
        not script.is_symlink() and checkout_script.read_text() == "# a checkout's script, linked by hand\n"
    )

    env = {
        **os.environ,
        "MOVINGCOLOR_COLORSPACE": "ACEScg",
        "MOVINGCOLOR_LOG_FILE": str(tmp_path / "log.txt"),
    }
    ran = _run([venv, "-c", RESOLVE_MENU, HOSTS, script], env=env)
    assert ran.returncode == 0, ran.stderr
    assert Path(json.loads(ran.stdout.splitlines()[-1])).is_relative_to(site)
    assert "no clip under the playhead" in (tmp_path / "log.txt").read_text()
    assert hidden_leftovers(utility) == [] and hidden_leftovers(site.parent) == []


def test_resolve_outside_home_needs_a_shared_package_folder(tmp_path, capsys):
    assert run_cli("install", "resolve", "--dest", "/opt/resolve/Fusion/Scripts/Utility", "--dry-run") == 2
    assert "give --site a folder every user" in capsys.readouterr().err


def _bundle(folder: Path, content: bytes) -> Path:
    bundle = folder / "MovingColor.ofx.bundle"
    binary = bundle / "Contents" / BINARY_FOLDERS[platform.system()] / "MovingColor.ofx"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(content)
    return bundle


def test_ofx_bundle_is_copied_and_a_second_install_replaces_the_first(tmp_path, capsys):
    plugins = tmp_path / "OFX" / "Plugins"
    installed = plugins / "MovingColor.ofx.bundle" / "Contents" / BINARY_FOLDERS[platform.system()]
    assert run_cli("install", "ofx", "--bundle", _bundle(tmp_path / "a", b"first"), "--dest", plugins) == 0
    assert f"To remove it: delete {plugins / 'MovingColor.ofx.bundle'}." in capsys.readouterr().out
    assert (installed / "MovingColor.ofx").read_bytes() == b"first"
    assert run_cli("install", "ofx", "--bundle", _bundle(tmp_path / "b", b"second"), "--dest", plugins) == 0
    assert (installed / "MovingColor.ofx").read_bytes() == b"second"
    assert [p.name for p in plugins.iterdir()] == ["MovingColor.ofx.bundle"]


def test_ofx_without_a_built_bundle_says_how_to_build_it(tmp_path, capsys):
    code = run_cli(
        "install", "ofx", "--bundle", tmp_path / "build" / "MovingColor.ofx.bundle", "--dest", tmp_path
    )
    assert code == 2
    assert "cmake -S ofx_bridge -B build/ofx -DCMAKE_BUILD_TYPE=Release" in capsys.readouterr().err
    empty = tmp_path / "empty" / "MovingColor.ofx.bundle"
    empty.mkdir(parents=True)
    assert run_cli("install", "ofx", "--bundle", empty, "--dest", tmp_path) == 2
    assert "has no binary for this platform" in capsys.readouterr().err


def test_unwritable_destination_is_refused_before_anything_is_written(tmp_path, capsys):
    locked = _unwritable_folder()
    code = run_cli(
        "install", "ofx", "--bundle", _bundle(tmp_path, b"x"), "--dest", locked / "OFX" / "Plugins"
    )
    assert code == 2
    assert "cannot write the OFX plugin folder /sys/OFX/Plugins" in capsys.readouterr().err
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert run_cli("install", "ofx", "--bundle", _bundle(tmp_path / "c", b"x"), "--dest", a_file / "sub") == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_a_host_python_too_old_is_refused_naming_its_version(tmp_path, capsys):
    assert run_cli("install", "nuke", "--python-version", "3.9", "--dest", tmp_path / "n", "--dry-run") == 2
    error = capsys.readouterr().err
    assert "Nuke's Python is 3.9" in error and "need Python 3.10 or later" in error and "Nuke 15" in error
    site = tmp_path / "site"
    assert run_cli("install", "resolve", "--python-version", "3.8", "--dest", tmp_path, "--site", site) == 2
    assert "Resolve's scripting's Python is 3.8" in capsys.readouterr().err
    assert run_cli("install", "nuke", "--python-version", "three", "--dest", tmp_path / "n") == 2
    assert "give MAJOR.MINOR" in capsys.readouterr().err
    assert run_cli("install", "nuke", "--python", tmp_path / "no-python", "--dest", tmp_path / "n") == 2
    assert "cannot run it" in capsys.readouterr().err
    assert not (tmp_path / "n").exists() and not site.exists()


def _older_python() -> str | None:
    """A Python 3 older than 3.10: on PATH, or among pyenv's versions."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(f"python3.{minor}") for minor in (9, 8, 7, 6)]
    candidates += sorted(str(p) for p in pyenv.glob("3.*/bin/python3"))
    for path in filter(None, candidates):
        done = _run([path, "-c", "import sys; print(sys.version_info[:2] < (3, 10))"], timeout=60)
        if done.returncode == 0 and done.stdout.strip() == "True":
            return path
    return None


def test_an_older_python_is_refused_at_install_and_says_why_at_start_up(tmp_path, capsys):
    older = _older_python()
    if older is None:
        pytest.skip("no Python older than 3.10 on PATH to stand for an old host's")
    assert run_cli("install", "nuke", "--python", older, "--dest", tmp_path / "n", "--dry-run") == 2
    assert "need Python 3.10 or later" in capsys.readouterr().err
    # An old host reading the lines of an install made for another Python says why nothing loads.
    init, script = tmp_path / "init.py", tmp_path / "MovingColor.py"
    plan_block(init, init_lines(tmp_path / "site", HostPython((3, 11), "test"))).apply()
    script.write_text(script_text(tmp_path / "site", HostPython((3, 11), "test")))
    for file, says in (
        (init, "this Nuke runs Python 3."),
        (script, "Resolve runs this script with Python 3."),
    ):
        done = _run([older, "-S", file])
        assert done.returncode == 0 and says in done.stdout and "needs 3.10 or later" in done.stdout, done


def test_options_of_another_host_are_refused(tmp_path, capsys):
    assert run_cli("install", "ofx", "--python-version", "3.11", "--no-deps", "--dest", tmp_path) == 2
    assert (
        "--python-version, --no-deps: not an option of `movingcolor install ofx`" in capsys.readouterr().err
    )
    assert run_cli("install", "nuke", "--bundle", tmp_path, "--dest", tmp_path) == 2
    assert "--bundle: not an option of `movingcolor install nuke`" in capsys.readouterr().err


def test_block_is_replaced_where_it_is_and_the_users_lines_are_kept(tmp_path):
    path = tmp_path / "init.py"
    old = marked_block("print('old')\n", "note")
    path.write_bytes(("import os\r\n" + old.replace("\n", "\r\n") + "x = 1\r\n").encode())
    edit = plan_block(path, marked_block("print('new')\n", "note"))
    assert edit.action == "replace"
    edit.apply()
    text = path.read_bytes().decode()
    assert text == f"import os\r\n{BEGIN} note\r\nprint('new')\r\n{END}\r\nx = 1\r\n"
    assert plan_block(path, marked_block("print('new')\n", "note")).action == "keep"


def test_block_is_added_after_the_users_lines_and_then_kept(tmp_path):
    path = tmp_path / "menu.py"
    path.write_bytes(b"# caf\xe9 in Latin-1\nimport nuke")  # no newline at the end; not UTF-8
    block = marked_block("pass\n", "note")
    edit = plan_block(path, block)
    assert edit.action == "append"
    edit.apply()
    assert path.read_bytes() == b"# caf\xe9 in Latin-1\nimport nuke\n\n" + block.encode()
    assert plan_block(path, block).action == "keep"


def test_a_damaged_block_is_refused_naming_its_lines(tmp_path):
    from movingcolor.host_install.errors import StartupFileError

    path = tmp_path / "init.py"
    path.write_text(f"import os\n{BEGIN} note\nprint('half')\n")
    with pytest.raises(StartupFileError, match=r"start lines \[2\], end lines \[\]"):
        plan_block(path, marked_block("pass\n", "note"))


def test_a_linked_startup_file_is_edited_where_it_points(tmp_path):
    shared = tmp_path / "studio" / "init.py"
    shared.parent.mkdir()
    shared.write_text("import os\n")
    link = tmp_path / "init.py"
    link.symlink_to(shared)
    plan_block(link, marked_block("pass\n", "note")).apply()
    assert link.is_symlink() and BEGIN in shared.read_text()


def test_installing_through_a_linked_startup_file_says_who_else_reads_it(tmp_path, capsys):
    """An artist's ~/.nuke/init.py linked to the studio's: the install wrote this artist's packages
    folder into the shared file without a word, and the next artist's install repointed everyone."""
    from conftest import run_cli

    shared = tmp_path / "studio" / "init.py"
    shared.parent.mkdir()
    shared.write_text("import os\n")
    dest = tmp_path / "nuke-home"
    dest.mkdir()
    (dest / "init.py").symlink_to(shared)
    assert run_cli("install", "nuke", "--dest", dest, "--python-version", "3.10", "--dry-run") == 0
    said = capsys.readouterr().out
    assert f"init.py -> {shared} is a link: the MovingColor lines go into the file it leads to" in said
    assert f"naming packages in {dest / 'movingcolor_site'}" in said and "--dest and --site" in said
    assert shared.read_text() == "import os\n"


def _unwritable_folder() -> Path:
    locked = Path("/sys")
    try:
        probe = locked / ".movingcolor-write-test"
        probe.touch()
        probe.unlink()
    except OSError:
        return locked
    pytest.skip("/sys is writable here: no folder to refuse")


def test_a_linked_startup_file_in_a_folder_this_user_cannot_write_is_refused_before_anything(
    tmp_path, capsys
):
    dest = tmp_path / ".nuke"
    dest.mkdir()
    # The folder the link leads to exists (a missing one is refused as a share not mounted).
    (dest / "menu.py").symlink_to(_unwritable_folder() / "menu.py")
    code = run_cli("install", "nuke", "--dest", dest, "--no-deps", "--python-version", "3.11")
    assert code == 2
    assert "cannot write the start-up file /sys/menu.py: its folder" in capsys.readouterr().err
    assert sorted(p.name for p in dest.iterdir()) == ["menu.py"]


def test_a_package_folder_holding_other_files_is_refused_and_kept(tmp_path, capsys):
    """The package folder is replaced whole on every install: a studio's shared folder, or the
    host's start-up folder itself, given as --site would lose everything else in it."""
    studio = tmp_path / "studio_python"
    (studio / "studio_tools").mkdir(parents=True)
    (studio / "pipeline_settings.py").write_text("TOKEN = 'x'\n")
    for host, dest in (("nuke", tmp_path / ".nuke"), ("resolve", tmp_path / "Utility")):
        code = run_cli("install", host, "--dest", dest, "--site", studio, "--no-deps", "--dry-run")
        assert code == 2
        error = capsys.readouterr().err
        assert f"{studio} already holds files MovingColor did not install" in error
        assert "pipeline_settings.py, studio_tools" in error and "give --site a new or empty folder" in error
        assert not dest.exists()
    assert sorted(p.name for p in studio.iterdir()) == ["pipeline_settings.py", "studio_tools"]
    dest = tmp_path / "dotnuke"
    (dest / "gizmos").mkdir(parents=True)
    assert run_cli("install", "nuke", "--dest", dest, "--site", dest, "--no-deps") == 2
    assert "give --site a new or empty folder" in capsys.readouterr().err
    assert [p.name for p in dest.iterdir()] == ["gizmos"]


def test_a_rerun_to_update_keeps_the_python_version_the_install_was_made_for(tmp_path, capsys):
    """init.py says "run it again to update": a rerun without --python-version must not switch the
    packages to the Python running the installer."""
    other = "3.10" if sys.version_info[:2] != (3, 10) else "3.11"
    dest = tmp_path / ".nuke"
    assert run_cli("install", "nuke", "--dest", dest, "--python-version", other, "--no-deps") == 0
    init = (dest / "init.py").read_text()
    assert f"python={tuple(int(n) for n in other.split('.'))!r}" in init
    capsys.readouterr()
    assert run_cli("install", "nuke", "--dest", dest, "--no-deps") == 0
    assert f"for Python {other} (as the install there was made for" in capsys.readouterr().out
    assert (dest / "init.py").read_text() == init
    assert run_cli("install", "nuke", "--dest", dest, "--no-deps", "--python-version", "3.12") == 0
    assert "python=(3, 12)" in (dest / "init.py").read_text()


def test_default_folders_follow_each_platform():
    home = {"Linux": "/home/ann", "Darwin": "/Users/ann", "Windows": r"C:\Users\ann"}
    env = {
        "Windows": {
            "USERPROFILE": r"C:\Users\ann",
            "APPDATA": r"C:\Users\ann\AppData\Roaming",
            "LOCALAPPDATA": r"C:\Users\ann\AppData\Local",
            "CommonProgramFiles": r"C:\Program Files\Common Files",
        }
    }
    folders = {
        system: [
            str(nuke_user_folder(system, env.get(system, {}), home[system])),
            str(resolve_utility_folder(system, env.get(system, {}), home[system])),
            str(movingcolor_data_folder(system, env.get(system, {}), home[system])),
            str(ofx_plugin_folder(system, env.get(system, {}))),
        ]
        for system in home
    }
    assert folders["Linux"] == [
        "/home/ann/.nuke",
        "/home/ann/.local/share/DaVinciResolve/Fusion/Scripts/Utility",
        "/home/ann/.local/share/movingcolor",
        "/usr/OFX/Plugins",
    ]
    assert folders["Darwin"] == [
        "/Users/ann/.nuke",
        "/Users/ann/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Utility",
        "/Users/ann/Library/Application Support/MovingColor",
        "/Library/OFX/Plugins",
    ]
    assert folders["Windows"] == [
        r"C:\Users\ann\.nuke",
        r"C:\Users\ann\AppData\Roaming\Blackmagic Design\DaVinci Resolve\Support\Fusion\Scripts\Utility",
        r"C:\Users\ann\AppData\Local\MovingColor",
        r"C:\Program Files\Common Files\OFX\Plugins",
    ]


def test_nuke_on_windows_reads_home_where_a_studio_sets_it():
    """Nuke takes %HOME%\\.nuke where HOME is set (studios often set it), %USERPROFILE%\\.nuke
    otherwise: the install wrote into a folder Nuke never read."""
    env = {"HOME": "H:\\", "USERPROFILE": r"C:\Users\ann"}
    assert str(nuke_user_folder("Windows", env, r"C:\Users\ann")) == r"H:\.nuke"
    assert str(nuke_user_folder("Windows", {**env, "HOME": ""}, r"C:\Users\ann")) == r"C:\Users\ann\.nuke"


def test_a_shared_startup_file_keeps_its_owner_and_group_or_is_left_as_it_was(tmp_path, monkeypatch):
    """A studio's init.py (another user's, read through its group) rewritten by the install became
    the installer's, and the artists reading it through its group could no longer open it."""
    shared = tmp_path / "init.py"
    shared.write_text("import os\n")
    shared.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(shared, 65534, 65534)
    before = shared.stat()
    plan_block(shared, marked_block("pass\n", "note")).apply()
    after = shared.stat()
    assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid, before.st_mode)
    assert BEGIN in shared.read_text()
    if os.geteuid() != 0:
        return  # the file is this user's: nothing to keep
    # Where this user may keep neither (not the owner, not in the group): refused, the file as it was.

    def refused(*args):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chown", refused)
    text = shared.read_text()
    with pytest.raises(PermissionError, match="would lose its group"):
        plan_block(shared, marked_block("pass  # another\n", "note")).apply()
    assert shared.read_text() == text and sorted(p.name for p in tmp_path.iterdir()) == ["init.py"]


def test_a_startup_file_that_cannot_be_read_is_an_install_error_not_a_traceback(
    tmp_path, capsys, monkeypatch
):
    import movingcolor.host_install.startup_blocks as startup_blocks

    dest = tmp_path / "nuke-home"
    dest.mkdir()
    (dest / "init.py").write_text("import os\n")

    def unreadable(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(startup_blocks, "read_text", unreadable)
    assert run_cli("install", "nuke", "--dest", dest, "--python-version", "3.10", "--dry-run") == 2
    error = capsys.readouterr().err
    assert f"cannot read {dest / 'init.py'} (Permission denied); nothing was changed" in error


def test_the_packages_folder_in_init_py_survives_an_init_py_in_another_encoding():
    """An init.py declaring latin-1 read the UTF-8 'é' of the folder's name as two other letters, and
    Nuke never found the packages."""
    site = Path("/studio/sité/movingcolor_site")
    block = init_lines(site, HostPython((3, 10), "--python-version"))
    assert block.isascii()
    source = ("# -*- coding: latin-1 -*-\n" + block).encode("latin-1")
    names: dict = {}
    defined = source.replace(b"_movingcolor_load()\n", b"").replace(b"del _movingcolor_load\n", b"")
    exec(compile(defined, "init.py", "exec"), names)
    assert names["_movingcolor_load"].__defaults__[0] == str(site)


def test_a_dry_run_writes_no_probe_into_the_folders_it_checks(tmp_path, capsys):
    """A probe file made and removed changed the folder's time, which sync and watch tools act on."""
    dest = tmp_path / "nuke-home"
    dest.mkdir()
    os.utime(dest, (1_577_836_800, 1_577_836_800))
    assert run_cli("install", "nuke", "--dest", dest, "--python-version", "3.10", "--dry-run") == 0
    assert dest.stat().st_mtime == 1_577_836_800 and list(dest.iterdir()) == []


def test_packages_copied_from_a_read_only_installation_are_the_users_to_replace(tmp_path, monkeypatch):
    """A studio's shared environment installs the packages read-only: copied with their modes, the
    host's folder could be neither installed again nor removed by the artist."""
    import stat

    from movingcolor.host_install import site_packages

    shared = tmp_path / "site-packages"
    for name in ("movingcolor_client", "movingcolor_hosts", "movingcolor_nuke"):
        shutil.copytree(site_packages.package_folder(name), shared / name)
    for folder, folders, files in os.walk(shared):
        for entry in (folder, *(os.path.join(folder, f) for f in folders + files)):
            os.chmod(entry, stat.S_IMODE(os.stat(entry).st_mode) & ~0o222)
    real = site_packages.package_folder

    def package_folder(name: str) -> Path:
        return shared / name if (shared / name).is_dir() else real(name)

    monkeypatch.setattr(site_packages, "package_folder", package_folder)
    dest = tmp_path / ".nuke"
    assert run_cli("install", "nuke", "--dest", dest, "--no-deps") == 0
    installed = next(p for p in dest.iterdir() if p.is_dir() and (p / "movingcolor_nuke").is_dir())
    modes = [os.lstat(p).st_mode for p in installed.rglob("*")] + [os.lstat(installed).st_mode]
    assert modes and all(mode & stat.S_IWUSR for mode in modes)
    assert run_cli("install", "nuke", "--dest", dest, "--no-deps") == 0


def _unprivileged_or_skip() -> list[str]:
    """The prefix that runs a command as this user without its capabilities, so that the folder and
    file permissions apply to it as to an artist's account; the tests using it make another user's
    files with chown, which needs root."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root, to give files to another user and then drop root's capabilities")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is not installed: no way to drop root's capabilities")
    prefix = [setpriv, "--bounding-set=-all", "--inh-caps=-all"]
    probe = _run([*prefix, "grep", "^CapEff:", "/proc/self/status"], timeout=60)
    if probe.returncode != 0 or int(probe.stdout.split()[-1], 16) != 0:
        pytest.skip(f"setpriv cannot drop the capabilities here: {probe.stdout}{probe.stderr}")
    return prefix


def _install_unprivileged(*args) -> subprocess.CompletedProcess:
    command = [*_unprivileged_or_skip(), sys.executable, "-m", "movingcolor.cli.main", "install", *args]
    return _run(command, timeout=300)


def _give_away(folder: Path, uid: int = 65534, gid: int = 65534) -> None:
    for path in (folder, *folder.rglob("*")):
        os.lchown(path, uid, gid)


def test_one_package_folder_for_both_hosts_is_refused_naming_the_other_bridge(tmp_path, capsys):
    """The same --site for Nuke and Resolve: the second install replaced the folder whole, and the
    first host's bridge was gone without a word."""
    site = tmp_path / "shared_site"
    utility, nuke = tmp_path / "Utility", tmp_path / ".nuke"
    assert run_cli("install", "resolve", "--dest", utility, "--site", site, "--no-deps") == 0
    capsys.readouterr()
    assert run_cli("install", "nuke", "--dest", nuke, "--site", site, "--no-deps", "--dry-run") == 2
    error = capsys.readouterr().err
    assert f"{site} holds the Resolve bridge (movingcolor_resolve)" in error, error
    assert "give nuke a --site of its own" in error and str(tmp_path / "movingcolor_nuke_site") in error
    assert run_cli("install", "nuke", "--dest", nuke, "--site", site, "--no-deps") == 2
    assert (site / "movingcolor_resolve").is_dir() and not (site / "movingcolor_nuke").exists()
    assert not nuke.exists()
    # Its own bridge's folder is replaced as before.
    assert run_cli("install", "resolve", "--dest", utility, "--site", site, "--no-deps") == 0
    # A marker of an earlier version names no bridge: the packages in the folder tell.
    old = tmp_path / "old_site"
    (old / "movingcolor_nuke").mkdir(parents=True)
    (old / ".movingcolor-site").write_text("installed by movingcolor 0.1.0 for Python 3.11\npython=3.11\n")
    assert run_cli("install", "resolve", "--dest", utility, "--site", old, "--no-deps", "--dry-run") == 2
    assert f"{old} holds the Nuke bridge (movingcolor_nuke)" in capsys.readouterr().err
    assert run_cli("install", "nuke", "--dest", nuke, "--site", old, "--no-deps", "--dry-run") == 0


def test_an_old_package_folder_this_user_cannot_remove_is_refused_before_anything(tmp_path):
    """An earlier install by another user (sudo): the new folder was swapped in, the old one could
    not be removed, and the install said "nothing was changed", leaving a hidden folder behind."""
    _unprivileged_or_skip()
    dest = tmp_path / ".nuke"
    assert run_cli("install", "nuke", "--dest", dest, "--no-deps", "--python-version", "3.11") == 0
    site, init = dest / "movingcolor_site", (dest / "init.py").read_text()
    _give_away(site)
    for dry_run in (("--dry-run",), ()):
        done = _install_unprivileged(
            "nuke", "--dest", dest, "--no-deps", "--python-version", "3.11", *dry_run
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"{site} holds files this user cannot remove" in done.stderr, done.stderr
        assert "owned by uid 65534" in done.stderr and "--site" in done.stderr
        assert "step 1 failed" not in done.stderr
    assert hidden_leftovers(dest) == [] and site.stat().st_uid == 65534
    assert (dest / "init.py").read_text() == init


def test_an_old_folder_that_cannot_be_removed_after_the_swap_is_named_not_hidden(
    tmp_path, capsys, monkeypatch
):
    """Where the removal still fails once the new folder is in place (the old one's owner changed it
    meanwhile), the install goes on and says where the old one was left."""
    from movingcolor.host_install import files

    folder, staged = tmp_path / "site", tmp_path / "staged"
    (folder / "old").mkdir(parents=True)
    (staged / "new").mkdir(parents=True)

    def refused(path):
        raise PermissionError(13, "Permission denied", str(path / "old"))

    monkeypatch.setattr(files, "_remove", refused)
    files.replace_folder(staged, folder)
    assert [p.name for p in folder.iterdir()] == ["new"]
    (left,) = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    error = capsys.readouterr().err
    assert f"the previous {folder} is left at {left}" in error and "Permission denied" in error


def test_a_startup_clash_of_package_versions_does_not_stop_the_host(tmp_path):
    """protobuf's VersionError (an older protobuf earlier on sys.path) escaped the start-up lines as a
    traceback, and Nuke skipped the rest of the user's init.py."""
    early, site = tmp_path / "early", tmp_path / "site"
    early.mkdir()
    # As protobuf's runtime_version: generated code calls its check, which raises.
    (early / "fakeproto.py").write_text(
        "class VersionError(Exception):\n    pass\n\n\n"
        "def check():\n    raise VersionError('gencode 6.31 is newer than runtime 4.25')\n"
    )
    for bridge in ("movingcolor_nuke", "movingcolor_resolve"):
        (site / bridge).mkdir(parents=True)
        (site / bridge / "__init__.py").write_text("import fakeproto\n\nfakeproto.check()\n")
    (site / "movingcolor_resolve" / "cli.py").write_text("")
    python = HostPython(tuple(sys.version_info[:2]), "test")
    init, menu, script = tmp_path / "init.py", tmp_path / "menu.py", tmp_path / "MovingColor.py"
    init.write_text("print('before')\n" + init_lines(site, python) + "print('after the block')\n")
    from movingcolor.host_install.nuke import MENU

    menu.write_text(marked_block(MENU, "note") + "print('after the menu')\n")
    script.write_text(script_text(site, python))
    # As the host runs them: one Python, the shadowing folder first on sys.path.
    runs = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "for name in sys.argv[2:]:\n    exec(open(name).read(), {'__name__': '__main__'})\n"
    )
    for files, last in (((init, menu), "after the menu"), ((script,), "")):
        done = _run([sys.executable, "-S", "-c", runs, early, *files])
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
        assert last in done.stdout
        assert "VersionError: gencode 6.31 is newer than runtime 4.25" in done.stdout, done.stdout
        assert f"an older package earlier on sys.path ({early / 'fakeproto.py'}) shadows" in done.stdout
        assert done.stdout.count("MovingColor:") == 1, done.stdout


def test_resolves_default_folder_through_a_link_to_another_disk_is_accepted(tmp_path, capsys, monkeypatch):
    """~/.local/share/DaVinciResolve linked to a bigger disk: the default folder was refused as
    outside the home folder."""
    home, disk = tmp_path / "home", tmp_path / "bigdisk" / "DaVinciResolve"
    (home / ".local" / "share").mkdir(parents=True)
    disk.mkdir(parents=True)
    (home / ".local" / "share" / "DaVinciResolve").symlink_to(disk)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    if platform.system() != "Linux":
        pytest.skip("the link stands for Linux's ~/.local/share/DaVinciResolve")
    assert run_cli("install", "resolve", "--no-deps", "--python-version", "3.11", "--dry-run") == 0, (
        capsys.readouterr().err
    )
    utility = home / ".local/share/DaVinciResolve/Fusion/Scripts/Utility"
    assert f"write {utility / 'MovingColor.py'}" in capsys.readouterr().out
    assert run_cli("install", "resolve", "--dest", utility, "--no-deps", "--python-version", "3.11",
                   "--dry-run") == 0  # fmt: skip


def test_an_init_py_of_another_user_is_refused_while_planning(tmp_path):
    """Another user's init.py: the dry run said fine, and the install failed at step 2 after it had
    replaced the packages."""
    dest = tmp_path / ".nuke"
    dest.mkdir()
    (dest / "init.py").write_text("import os\n")
    os.chmod(dest / "init.py", 0o666)
    _unprivileged_or_skip()
    os.chown(dest / "init.py", 65534, 65534)
    for dry_run in (("--dry-run",), ()):
        done = _install_unprivileged(
            "nuke", "--dest", dest, "--no-deps", "--python-version", "3.11", *dry_run
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"{dest / 'init.py'} belongs to uid 65534" in done.stderr, done.stderr
        assert "group 65534" in done.stderr and "would lose that group" in done.stderr
        assert "run the install as its owner" in done.stderr and "step" not in done.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["init.py"]
    assert (dest / "init.py").read_text() == "import os\n"


def test_a_failed_second_step_says_the_first_is_done(tmp_path, capsys, monkeypatch):
    import movingcolor.host_install.startup_blocks as startup_blocks

    def refused(path, text):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(startup_blocks, "replace_text", refused)
    dest = tmp_path / ".nuke"
    assert run_cli("install", "nuke", "--dest", dest, "--no-deps", "--python-version", "3.11") == 2
    error = capsys.readouterr().err
    assert "step 2 failed: Permission denied" in error and "; step 1 is done." in error, error


def test_a_dangling_linked_startup_file_is_refused_naming_its_missing_folder(tmp_path, capsys):
    """init.py linked to a share that is not mounted: the install made the share's folders and a new
    init.py in them."""
    share = tmp_path / "share"
    share.mkdir()
    target = share / "pipeline" / "nuke" / "init.py"
    dest = tmp_path / ".nuke"
    dest.mkdir()
    (dest / "init.py").symlink_to(target)
    for dry_run in (("--dry-run",), ()):
        code = run_cli("install", "nuke", "--dest", dest, "--no-deps", "--python-version", "3.11", *dry_run)
        assert code == 2
        error = capsys.readouterr().err
        link = dest / "init.py"
        assert f"{link} is a link to {target}, whose folder {target.parent} does not exist" in error, error
    assert list(share.iterdir()) == [] and [p.name for p in dest.iterdir()] == ["init.py"]


def test_a_read_only_startup_file_is_refused_while_planning(tmp_path, capsys):
    """An init.py made read-only on purpose was rewritten (renamed over) without a word."""
    dest = tmp_path / ".nuke"
    dest.mkdir()
    (dest / "init.py").write_text("import os\n")
    os.chmod(dest / "init.py", 0o444)
    for dry_run in (("--dry-run",), ()):
        code = run_cli("install", "nuke", "--dest", dest, "--no-deps", "--python-version", "3.11", *dry_run)
        assert code == 2
        error = capsys.readouterr().err
        assert f"{dest / 'init.py'} is read-only" in error and f"chmod u+w {dest / 'init.py'}" in error, error
    init = dest / "init.py"
    assert sorted(p.name for p in dest.iterdir()) == ["init.py"]
    assert init.read_text() == "import os\n" and init.stat().st_mode & 0o777 == 0o444


def test_ofx_finds_the_bundle_in_the_build_folder_and_from_elsewhere(tmp_path, capsys, monkeypatch):
    """`--bundle build/ofx` (the folder holding the bundle) and the default from another folder than
    the repository's root both said to build it, with a built bundle there."""
    from movingcolor.host_install import ofx

    clone = tmp_path / "clone"
    bundle = _bundle(clone / "build" / "ofx", b"built")
    (clone / "ofx_bridge").mkdir()
    plugins = tmp_path / "Plugins"
    installed = plugins / "MovingColor.ofx.bundle" / "Contents" / BINARY_FOLDERS[platform.system()]
    assert run_cli("install", "ofx", "--bundle", clone / "build" / "ofx", "--dest", plugins) == 0
    assert f"copy {bundle} to" in capsys.readouterr().out
    assert (installed / "MovingColor.ofx").read_bytes() == b"built"
    # The default from a folder inside the clone, and from anywhere for the clone this package runs from.
    elsewhere = tmp_path / "elsewhere"
    (clone / "server").mkdir()
    elsewhere.mkdir()
    monkeypatch.setattr(ofx, "CHECKOUT", tmp_path / "not-a-clone", raising=False)
    monkeypatch.chdir(clone / "server")
    assert run_cli("install", "ofx", "--dest", plugins, "--dry-run") == 0
    assert f"copy {bundle} to" in capsys.readouterr().out
    monkeypatch.chdir(elsewhere)
    assert run_cli("install", "ofx", "--dest", plugins, "--dry-run") == 2
    error = capsys.readouterr().err
    assert f"looked for build/ofx/MovingColor.ofx.bundle in {elsewhere} and the folders above it" in error
    assert "give --bundle the built bundle" in error, error
    monkeypatch.setattr(ofx, "CHECKOUT", clone, raising=False)
    assert run_cli("install", "ofx", "--dest", plugins, "--dry-run") == 0
    assert f"copy {bundle} to" in capsys.readouterr().out
