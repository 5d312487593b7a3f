"""``movingcolor install ofx``: the built ``MovingColor.ofx.bundle`` into an OFX plugin folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import BundleNotBuiltError
from .files import check_removable, copy_folder, replace_folder
from .folders import check_writable, ofx_plugin_folder
from .plan import InstallOptions, InstallPlan, Step

BUNDLE_NAME = "MovingColor.ofx.bundle"
#: Where the README's build command leaves it, from the repository's root.
BUILT_BUNDLE = Path("build") / "ofx" / BUNDLE_NAME
BUILD_COMMAND = "cmake -S ofx_bridge -B build/ofx -DCMAKE_BUILD_TYPE=Release && cmake --build build/ofx -j"
#: The OpenFX standard's folder for each platform's binary inside a bundle.
BINARY_FOLDERS = {"Linux": "Linux-x86-64", "Darwin": "MacOS", "Windows": "Win64"}
#: The repository this package runs from, where it does (an editable install): its build is found
#: from any folder.
CHECKOUT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class _BundleCopy:
    source: Path
    target: Path

    def describe(self) -> str:
        was = ", replacing the one there" if self.target.exists() else ""
        return f"copy {self.source} to {self.target}{was}"

    def apply(self) -> None:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=f".{BUNDLE_NAME}.", dir=self.target.parent))
        try:
            os.chmod(staged, 0o755)  # mkdtemp's folder is private; hosts may run as any user
            copy_folder(self.source, staged)
            replace_folder(staged, self.target)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise


def _binary(system: str) -> Path:
    return Path("Contents") / BINARY_FOLDERS.get(system, system) / "MovingColor.ofx"


def built_bundle(bundle: Path, system: str) -> Path:
    """``bundle`` checked to hold this platform's binary; a folder holding the bundle (the build
    folder, ``build/ofx``) stands for the bundle in it."""
    if bundle.name != BUNDLE_NAME and (bundle / BUNDLE_NAME).is_dir():
        bundle = bundle / BUNDLE_NAME
    if not bundle.is_dir():
        raise BundleNotBuiltError(
            f"no OFX bundle at {bundle}: build it from the repository's root with `{BUILD_COMMAND}` "
            f"(it needs CMake, a C++17 compiler and gRPC for C++: see ofx_bridge/README.md), or give --bundle"
        )
    if not (bundle / _binary(system)).is_file():
        raise BundleNotBuiltError(
            f"{bundle} has no binary for this platform ({_binary(system)}): build it on this platform with "
            f"`{BUILD_COMMAND}`"
        )
    return bundle


def default_bundle(system: str) -> Path:
    """The bundle the README's build leaves, in the current folder or one above it (a clone's
    subfolder), else in the clone this package runs from."""
    here = Path.cwd()
    places = [here, *here.parents]
    if (CHECKOUT / "ofx_bridge").is_dir():
        places.append(CHECKOUT)
    built = [place / BUILT_BUNDLE for place in places if (place / BUILT_BUNDLE / _binary(system)).is_file()]
    if built:
        return built[0]
    for place in places:
        if (place / BUILT_BUNDLE).is_dir():
            built_bundle(place / BUILT_BUNDLE, system)  # says it has no binary for this platform
    looked = f"{here} and the folders above it" + (
        f", and in {CHECKOUT}" if (CHECKOUT / "ofx_bridge").is_dir() else ""
    )
    raise BundleNotBuiltError(
        f"no built OFX bundle: looked for {BUILT_BUNDLE.as_posix()} in {looked}: give --bundle the built "
        f"bundle, or build it from the repository's root with `{BUILD_COMMAND}` (it needs CMake, a C++17 "
        f"compiler and gRPC for C++: see ofx_bridge/README.md)"
    )


def plan_ofx(options: InstallOptions, system: str, env: Mapping[str, str]) -> InstallPlan:
    options.refuse("ofx", "--site", "--python-version", "--python", "--no-deps")
    if options.bundle is None:
        source = default_bundle(system)
    else:
        source = built_bundle(options.bundle.expanduser().absolute(), system)
    dest = (options.dest or Path(ofx_plugin_folder(system, env))).expanduser().absolute()
    check_writable(
        dest,
        "the OFX plugin folder",
        "run as an administrator (sudo), or give --dest a folder of yours and add it to OFX_PLUGIN_PATH",
    )
    check_removable(dest / BUNDLE_NAME, "give --dest another folder")
    copy = _BundleCopy(source, dest / BUNDLE_NAME)
    after = ["Restart the OFX host: the effect is MovingColor (in Resolve: Effects > OpenFX > MovingColor)."]
    if dest != Path(ofx_plugin_folder(system, env)):
        after.append(f"Hosts scan the standard folder and OFX_PLUGIN_PATH: add {dest} to OFX_PLUGIN_PATH.")
    after.append("It fuses on a `movingcolor serve` server (default 127.0.0.1:50051; the Server parameter).")
    after.append(f"To remove it: delete {dest / BUNDLE_NAME}.")
    return InstallPlan("ofx", (Step(copy.describe(), copy.apply),), tuple(after))
