"""Why a host install cannot be made: each message names what is wrong and what to do."""

from __future__ import annotations

from ..errors import MovingColorError


class HostInstallError(MovingColorError):
    """Root of the errors of ``movingcolor install``: nothing has been changed when one is raised."""


class DestinationNotWritableError(HostInstallError):
    """A folder the install writes to cannot be written by this user."""


class ForeignFolderError(HostInstallError):
    """The package folder given holds files this installer did not put there (it replaces it whole)."""


class HostPythonError(HostInstallError):
    """The host's Python is too old for the bridges, or cannot be asked its version."""


class BundleNotBuiltError(HostInstallError):
    """The OFX bundle to copy has not been built (or not for this platform)."""


class BridgeNotInstalledError(HostInstallError):
    """A package the host needs is not part of this movingcolor installation."""


class StartupFileError(HostInstallError):
    """A host's start-up file holds a MovingColor block this install cannot safely replace."""


class PipError(HostInstallError):
    """pip could not install the host's third-party packages."""
