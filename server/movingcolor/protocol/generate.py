"""Regenerate the Python stubs of the wire contract: ``python -m movingcolor.protocol.generate``.

The ``.proto`` files in ``protos/`` are the source of truth; the generated
modules are committed (hosts install no compiler) under ``server/movingcolor/v1``,
the package path the proto package ``movingcolor.v1`` maps to. A test
regenerates them into a temporary folder and fails if the committed ones differ.
Needs ``grpcio-tools`` (the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from ..errors import MissingDependencyError, MovingColorError

REPOSITORY = Path(__file__).resolve().parents[3]
PROTOS = REPOSITORY / "protos"
PACKAGE_ROOT = REPOSITORY / "server"
PROTO_FILES = ("movingcolor/v1/image.proto", "movingcolor/v1/fusion.proto")
COMMAND = "python -m movingcolor.protocol.generate"


def generated_files(root: Path) -> list[Path]:
    """The generated stub files under ``root`` (a folder holding ``movingcolor/v1``)."""
    folder = Path(root) / "movingcolor" / "v1"
    return sorted(p for p in folder.glob("*_pb2*.py*") if p.is_file())


def generate(out: Path = PACKAGE_ROOT, protos: Path = PROTOS) -> list[Path]:
    """Run protoc (from grpcio-tools) over the contract into ``out``; returns the files written."""
    try:
        from grpc_tools import protoc
    except ImportError as error:
        raise MissingDependencyError(
            "regenerating the stubs needs grpcio-tools: pip install -e '.[dev]'"
        ) from error
    missing = [name for name in PROTO_FILES if not (Path(protos) / name).is_file()]
    if missing:
        raise MovingColorError(
            f"no {', '.join(missing)} in {protos}: the contract's .proto files are in a checkout of the "
            f"repository or its source release (protos/), not in an installed package; run {COMMAND} "
            f"from an editable install of one"
        )
    include = resources.files("grpc_tools") / "_proto"
    out = Path(out)
    (out / "movingcolor" / "v1").mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{protos}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *PROTO_FILES,
    ]
    status = protoc.main(args)
    if status != 0:
        raise MovingColorError(f"protoc failed (status {status}) on {', '.join(PROTO_FILES)} in {protos}")
    return generated_files(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PACKAGE_ROOT, help="folder to write movingcolor/v1 into")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
