"""The exception hierarchy.

Every error a user can cause derives from :class:`MovingColorError`; its message
names the file or value at fault and says how to fix it. The command line turns
these into a one-line message and exit status 2 (bad input) or 75 (a transient
failure a farm may retry); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

# sysexits.h EX_TEMPFAIL: a transient failure (a server down or busy) that a farm may retry.
TRANSIENT_EXIT_CODE = 75
#: The attribute of an error that stopped a shot part way that lists the paths of the frames
#: written whole before it (``frames.output_pattern.note_frames_written``; ``movingcolor fuse
#: --json`` reports them with the error).
FRAMES_WRITTEN = "frames_written"


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken as an interrupt: the work stops the way Ctrl-C stops it (the frame being
    written is not left as a temporary, the output's claim is released, a training step ends with
    its checkpoint), and the command exits 143, not Ctrl-C's 130 (a farm tells its own stop or a
    pre-emption from a user's)."""


class MovingColorError(Exception):
    """Root of every error caused by input, configuration or environment."""

    exit_code = 2


class FrameSourceError(MovingColorError):
    """A plate, matte or graded source cannot be found or parsed as a sequence."""


class MissingFramesError(FrameSourceError):
    """Frames requested for a shot do not exist in one of its sources."""


class UnreadableFrameError(FrameSourceError):
    """A frame file exists but cannot be decoded (truncated, corrupt, wrong format)."""


class InvalidPixelsError(FrameSourceError):
    """A frame holds NaN or infinite values."""


class ImageTooLargeError(FrameSourceError):
    """An image is larger than this process accepts (``--max-pixels``, ``--max-image-mb``)."""


class AddressError(MovingColorError):
    """A server address cannot be parsed, bound or connected to."""


class ColourFileTooLargeError(MovingColorError):
    """A grade, LUT or config file is larger than any this process reads (``frames.confine``)."""


class FrameSizeMismatchError(FrameSourceError):
    """Plate, matte and graded frames do not share one resolution."""


class FrameRangeError(MovingColorError):
    """A frame range is malformed, empty, inverted or outside the sources."""


class ColorConfigError(MovingColorError):
    """The OpenColorIO config cannot be loaded."""


class UnknownColorspaceError(MovingColorError):
    """A colourspace name is not in the active OpenColorIO config."""


class UnknownLookError(MovingColorError):
    """A look name is not in the active OpenColorIO config."""


class GradeError(MovingColorError):
    """A grade specification (CDL, LUT file, look, parametric) cannot be used."""


class BandSpecError(MovingColorError):
    """A band width is not a positive number of pixels or a percentage."""


class UnknownEngineError(MovingColorError):
    """An engine name is not registered."""


class OutputError(MovingColorError):
    """An output path or format cannot be written."""


class DiskFullError(OutputError):
    """The output's disk is full: room made there (or a retry after a clean-up) lets the shot go on,
    its frames already written kept."""

    exit_code = TRANSIENT_EXIT_CODE


class OutputBusyError(OutputError):
    """Another shot of other settings is writing the output sequence now: waiting, or a retry later,
    can succeed (a farm's retry of a killed task's chunk waits out the killed task's claim)."""

    exit_code = TRANSIENT_EXIT_CODE
    #: gRPC's code for a conflict with concurrent work that a retry at a higher level may resolve.
    status = "ABORTED"


class PathOutsideRootsError(MovingColorError):
    """A file a confined job would read or write lies outside its root folders (``serve --root``)."""


class MissingDependencyError(MovingColorError):
    """An optional package needed for this operation is not installed."""


class JobCancelledError(MovingColorError):
    """A job was cancelled: by its client, its deadline, a CancelJob call or the server's shutdown.

    One error wherever it is seen: raised by the server's job, sent as gRPC's CANCELLED, and raised
    again by the client library."""

    exit_code = 130
    #: The gRPC status it travels as.
    status = "CANCELLED"


class ServerBusyError(MovingColorError):
    """The server's job table is full: retry later (the same error on the server and at the client)."""

    exit_code = TRANSIENT_EXIT_CODE
    status = "RESOURCE_EXHAUSTED"


class DeviceMemoryError(MovingColorError):
    """The GPU ran out of memory for a job: another job may have held it, so a retry can pass."""

    exit_code = TRANSIENT_EXIT_CODE
    status = "RESOURCE_EXHAUSTED"


class ImageEvictedError(MovingColorError):
    """A window named an image by its digest that the server no longer holds: resend it in full."""

    status = "FAILED_PRECONDITION"
