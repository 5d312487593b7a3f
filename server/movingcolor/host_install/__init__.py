"""Installing the host bridges where each host finds them: ``movingcolor install nuke|resolve|ofx``.

Nuke and Resolve get a folder of Python packages for their own Python (MovingColor's, copied from
this installation, and the few third-party ones the bridges import, installed by pip for the host's
Python version; never torch) and the start-up lines or script that load it. The OFX host gets the
built bundle. :func:`plan_install` checks everything first and returns the steps; nothing is
written until they are applied.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from .errors import HostInstallError
from .nuke import plan_nuke
from .ofx import plan_ofx
from .plan import InstallOptions, InstallPlan, Step
from .resolve import plan_resolve

HOSTS = ("nuke", "resolve", "ofx")


def plan_install(host: str, options: InstallOptions) -> InstallPlan:
    """The checked steps that install ``host``'s bridge on this machine."""
    system, env, home = platform.system(), os.environ, str(Path.home())
    if host == "nuke":
        return plan_nuke(options, system, env, home)
    if host == "resolve":
        return plan_resolve(options, system, env, home)
    if host == "ofx":
        return plan_ofx(options, system, env)
    raise HostInstallError(f"unknown host {host!r}: one of {', '.join(HOSTS)}")


__all__ = ["HOSTS", "HostInstallError", "InstallOptions", "InstallPlan", "Step", "plan_install"]
