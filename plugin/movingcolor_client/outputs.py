"""The output frames of a shot on disk fused through a server: checked before the first write,
stamped with a fingerprint, and kept on a rerun when already finished.

A rerun of ``Client.fuse_files`` (``movingcolor fuse --server``) follows an in-process run's
rules: frames already written for the same inputs and settings are kept (``force`` redoes them),
missing, damaged or stale ones are fused again. The client cannot see the server's weights, so its
fingerprint records what it can know: every setting it sends (a grade file's bytes included), the
identity (size, modification time) of every input file of the clip, the server's version and
default OCIO config, and the engine and model the server accepted the shot with, so frames made
with another model (a new default on the server, say) are redone.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from movingcolor import errors as server_errors
from movingcolor.errors import MovingColorError
from movingcolor.frames.frame_range import FrameRange
from movingcolor.frames.output_claim import OutputClaim, claim_output
from movingcolor.frames.output_pattern import prepare_folder, written_for
from movingcolor.frames.overlap import absolute_spelling, check_outputs_spare_inputs
from movingcolor.frames.replaced_outputs import check_replaced_outputs
from movingcolor.frames.sequence import SequencePattern
from movingcolor.frames.temporaries import remove_stale_temporaries
from movingcolor.spec.grade_text import canonical_grade
from movingcolor.v1 import fusion_pb2

from .errors import OutputBusyError
from .package_check import installed_movingcolor
from .results import FusedFrame
from .sources import FileFrames

# Read through the check: a folder named movingcolor where the script runs has no version to give.
__version__ = installed_movingcolor().__version__


class ShotOutputs:
    """Where a shot's fused frames go (``pattern``), and which of them a rerun keeps."""

    def __init__(
        self,
        pattern: SequencePattern,
        frames: FileFrames,
        setup: fusion_pb2.ShotSetup,
        server: Mapping[str, object],
        *,
        force: bool = False,
        pixel_type: str = "half",
        compression: str = "zip",
    ):
        self.pattern = pattern
        self.frames = frames
        self.force = force
        self.pixel_type = pixel_type
        self.compression = compression
        self._known = _known_digest(setup, frames, server)
        #: The plate the frames record where the server does not (one older than ShotSetup.plate):
        #: a later shot into the same output is refused as another plate's, as in process.
        self.plate = setup.plate
        self.fingerprint = ""
        self._claim: OutputClaim | None = None

    def accepted(self, accepted: fusion_pb2.ShotAccepted) -> None:
        """The server took (part of) the shot: what it runs goes into the frames' fingerprint."""
        digest = self._known.copy()
        digest.update(json.dumps([accepted.engine, accepted.model]).encode())
        self.fingerprint = digest.hexdigest()[:32]

    def prepare(self, render: FrameRange) -> None:
        """Before any frame of ``render`` is written: refuse to overwrite any input file, make the
        folder, claim the sequence as an in-process run does (OutputBusyError while a shot of other
        settings writes it), and remove the temporaries a killed run left for these frames.
        :meth:`release` gives the claim up."""
        check_outputs_spare_inputs(self.pattern, render, self.frames.files())
        check_replaced_outputs(self.pattern, render, self.plate, self.fingerprint, self.force)
        prepare_folder(self.pattern, render)
        if self._claim is None:
            try:
                self._claim = claim_output(self.pattern, self.fingerprint)
            except server_errors.OutputBusyError as error:
                raise OutputBusyError(str(error)) from None
        remove_stale_temporaries(self.pattern, render)

    def release(self) -> None:
        """The shot is over, however it ended: another shot may write the sequence."""
        if self._claim is not None:
            self._claim.release()
            self._claim = None

    def stamped(self, render: Iterable[int]) -> list[int]:
        """Frames whose file carries this fingerprint (none when forced): a quick look at headers."""
        if self.force:
            return []
        from movingcolor.frames.image_io import read_header

        done = []
        for number in render:
            path = self.pattern.path(number)
            try:
                if path.is_file() and written_for(read_header(path).attributes, self.fingerprint, number):
                    done.append(number)
            except (MovingColorError, OSError):  # unreadable: fused again
                continue
        return done

    def whole(self, numbers: Iterable[int]) -> list[int]:
        """The frames of ``numbers`` that read back whole: a truncated or damaged one is redone."""
        from movingcolor.frames.image_io import read_pixels

        done = []
        for number in numbers:
            try:
                read_pixels(self.pattern.path(number))
            except (MovingColorError, OSError):  # unreadable: fused again
                continue
            done.append(number)
        return done

    def recorded(self, number: int) -> dict:
        """The header of a finished frame: what the server recorded when it made it."""
        from movingcolor.frames.image_io import read_header

        return read_header(self.pattern.path(number)).attributes

    def write(self, fused: FusedFrame) -> Path:
        path = fused.write(
            self.pattern.path(fused.frame), self.pixel_type, self.compression, self.fingerprint, self.plate
        )
        if self._claim is not None:
            self._claim.touch()  # a writer on another host is live while it writes
        return path


def _known_digest(setup: fusion_pb2.ShotSetup, frames: FileFrames, server: Mapping[str, object]):
    """The fingerprint's part the client knows before the server accepts the shot."""
    sent = fusion_pb2.ShotSetup()
    sent.CopyFrom(setup)
    # As in-process: which frames are fused, with what handles, on which device changes no pixel.
    sent.ClearField("render")
    sent.handles = 0
    sent.device = ""
    # As in-process: one grade however it is spelled.
    if sent.HasField("grade") and sent.grade.text:
        sent.grade.text = canonical_grade(sent.grade.text) or sent.grade.text
    digest = hashlib.sha256()
    digest.update(json.dumps({"client": __version__, "server": dict(server)}, sort_keys=True).encode())
    digest.update(sent.SerializeToString(deterministic=True))
    for path in frames.files(frames.clip):
        name = absolute_spelling(path)
        try:
            stat = os.stat(path)
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{name}\0missing\n".encode())
    return digest


def contiguous_runs(frames: Iterable[int]) -> list[FrameRange]:
    """``frames`` as ascending runs of consecutive numbers."""
    runs: list[list[int]] = []
    for number in sorted(frames):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return [FrameRange(first, last) for first, last in runs]
