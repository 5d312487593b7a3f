"""What a host bridge reports to the artist, each message naming the problem and the fix."""

from __future__ import annotations

from movingcolor.errors import MovingColorError


class HostBridgeError(MovingColorError):
    """A bridge could not fuse a shot; the message is shown to the artist as it is."""


class SettingsError(HostBridgeError):
    """A knob or setting has a value the bridge cannot use; the message names it."""


class MissingInputError(HostBridgeError):
    """An input the settings call for (plate, matte, graded plate) is not there."""


class RenderError(HostBridgeError):
    """The host failed to render the frames the bridge asked for."""
