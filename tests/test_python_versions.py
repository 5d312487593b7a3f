"""The oldest Python the package claims (``requires-python``) is the oldest its shipped code needs:
a host's interpreter may be older than the one the tests run on (Nuke 15 embeds Python 3.10), and a
call new in 3.11 fails there only when it runs. vermin reads the code and names what each line
needs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
#: What ships: the package, the client library and the host bridges (the tests run on CI's Python).
SHIPPED = [ROOT / "server" / "movingcolor", ROOT / "plugin"]


def _oldest_python() -> str:
    """The version ``requires-python`` names as the oldest, e.g. "3.10"."""
    claimed = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    match = re.fullmatch(r">=\s*(\d+\.\d+)", claimed.strip())
    assert match, f"requires-python {claimed!r} is not a plain lower bound; update this test"
    return match.group(1)


def test_the_shipped_code_runs_on_the_oldest_python_it_claims():
    pytest.importorskip("vermin", reason="vermin (the dev extra) reads which Python each line needs")
    oldest = _oldest_python()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, vermin; sys.exit(vermin.main())",
            f"--target={oldest}-",
            "--violations",
            "--no-tips",
            "--eval-annotations",
            *map(str, SHIPPED),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"code that needs a newer Python than {oldest}:\n{result.stdout}{result.stderr}"
    )
