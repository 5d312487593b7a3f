"""The import contracts: the client and the host bridges stand on the light core, and each layer
of the movingcolor package imports only the layers below it (``[tool.importlinter]`` in
pyproject.toml, checked by import-linter, and at run time in a fresh interpreter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
# The host bridges are checked from their folders, as hosts find them (NUKE_PATH, Resolve's Scripts
# folder); "movingcolor install" puts the same packages in a host's own folder.
BRIDGE_FOLDERS = [ROOT / "plugin" / "nuke", ROOT / "plugin" / "resolve"]
GRADE = "slope=1.2,1.0,0.8;offset=0.01;power=1.0;sat=1.2"


def _with_bridges() -> dict[str, str]:
    paths = [*map(str, BRIDGE_FOLDERS), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}


def _light_core_forbids() -> list[str]:
    """What the client and the bridges must never import, as the forbidden contract lists it."""
    linter = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in linter["contracts"] if c["type"] == "forbidden"]
    return contract["forbidden_modules"]


def test_import_contracts_are_kept():
    pytest.importorskip("importlinter", reason="import-linter (the dev extra) checks the import contracts")
    command = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    result = subprocess.run(
        [sys.executable, "-c", command, "--no-cache"],
        cwd=ROOT,
        env=_with_bridges(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        "an import breaks a contract in pyproject.toml [tool.importlinter]: move the shared code down "
        "a layer, or import it from where it already lives below\n" + result.stdout + result.stderr
    )


CLIENT_AND_HOSTS = """
import json, sys
from pathlib import Path

import movingcolor_client, movingcolor_hosts

server, plate, matte, out = sys.argv[1:5]
# A host bridge's whole path: settings checked, frames fused on the server, staged and put in place.
settings = movingcolor_hosts.FuseSettings(
    server=server, out=str(Path(out) / "hosts" / "f.####.exr"), grade={grade!r}, engine="hard"
)
inputs = movingcolor_hosts.RenderedInputs(plate, matte)
fused = movingcolor_hosts.fuse_rendered(settings, inputs, frames="1001-1002")
assert fused.frames == [1001, 1002], fused
# The client's own: an output folder named from the plate, then a rerun that keeps those frames.
with movingcolor_client.connect(server) as client:
    for _ in range(2):
        report = client.fuse_files(plate, Path(out) / "client", matte, grade={grade!r}, engine="hard",
                                   frames="1001-1002")
# A package is in sys.modules whenever any of its modules was imported.
print(json.dumps([name for name in json.loads(sys.argv[5]) if name in sys.modules]))
"""


def test_client_and_host_paths_load_no_heavy_module(served, demo_inputs, tmp_path):
    """Fusing through the client and a host bridge's shared code, in a fresh interpreter, loads none
    of what the light core forbids (torch, scipy, OpenColorIO, the server's own layers)."""
    plate, matte = demo_inputs
    forbidden = _light_core_forbids()
    assert {"torch", "scipy", "PyOpenColorIO"} <= set(forbidden)
    script = CLIENT_AND_HOSTS.format(grade=GRADE)
    result = subprocess.run(
        [sys.executable, "-c", script, served.address, plate, matte, str(tmp_path), json.dumps(forbidden)],
        env=_with_bridges(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"the client and host paths loaded {loaded}"
    assert sorted(p.name for p in (tmp_path / "client").iterdir()) == ["plate.1001.exr", "plate.1002.exr"]
