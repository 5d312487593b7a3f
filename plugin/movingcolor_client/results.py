"""Fused frames as they arrive, and writing them: file bytes as they are, raw pixels as EXR.

Every write goes to a temporary name in the destination folder and is renamed
into place, so a client that is interrupted (or whose server dies) leaves only
whole frames; a later run over the same frames removes the temporaries a killed
one left (``movingcolor.frames.temporaries``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from movingcolor.errors import DiskFullError, OutputError
from movingcolor.frames.output_pattern import FINGERPRINT_KEY, FRAME_KEY, PLATE_KEY
from movingcolor.frames.temporaries import temporary_path
from movingcolor.protocol.images import decode_raw
from movingcolor.v1 import image_pb2 as pb

#: Bytes as a file is written from them (``collections.abc.Buffer`` from Python 3.12).
Buffer = bytes | bytearray | memoryview
# Header attributes that are numbers in a file written by movingcolor fuse.
_INTEGER_ATTRIBUTES = (FRAME_KEY,)


def output_error(error: OSError, path: Path) -> OutputError:
    """``error`` writing ``path``, said with its fix."""
    folder = path.parent
    failed = OutputError
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        # As in process: a condition that room made there passes (exit 75, which a farm retries).
        failed = DiskFullError
        fix = f"the disk holding {folder} is full: free some space or write to another disk"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = f"{folder} is not writable: make it writable or write to another folder"
    else:
        fix = f"check that {folder} is a folder you may write to, with room"
    return failed(f"cannot write {path}: {error.strerror or error}; {fix}, then run again")


def write_bytes_atomic(path: str | os.PathLike, data: Buffer | list[Buffer] | tuple[Buffer, ...]) -> None:
    """Write ``data`` (any buffer, or a list of them written one after another) to ``path`` under a
    temporary name, then rename it into place; raises OutputError (the folder, and what to do)
    when the file system refuses."""
    path = Path(path)
    temporary = temporary_path(path)
    # Pieces only as a list or tuple: any other buffer (an array, an mmap) is one piece, as it was.
    pieces = data if isinstance(data, (list, tuple)) else [memoryview(data)]
    try:
        _write_file(temporary, pieces)
        os.replace(temporary, path)
    except OSError as error:
        raise output_error(error, path) from error
    finally:
        with contextlib.suppress(OSError):  # gone once renamed; else a later run clears it
            temporary.unlink(missing_ok=True)


def _write_file(path: Path, pieces: list[Buffer] | tuple[Buffer, ...]) -> None:
    """Write ``pieces`` one after another as the file ``path``."""
    with open(path, "wb") as file:
        for piece in pieces:
            file.write(piece)


def _restamp_exr(data: bytes, key: str, old: str, new: str) -> list[Buffer] | None:
    """EXR bytes with string attribute ``key`` changed from ``old`` to ``new`` (same length, so no
    offset moves and the pixels stay byte for byte), as the pieces to write one after another; None
    when the header does not hold it. Views of ``data``, not a copy: a 4K frame's two copies were a
    tenth of a client's time."""
    size = len(old.encode())
    if len(new.encode()) != size:
        return None
    field = key.encode() + b"\0string\0" + struct.pack("<i", size) + old.encode()
    start = data.find(field)
    if start < 0:
        return None
    end = start + len(field)
    whole = memoryview(data)
    return [whole[: end - size], new.encode(), whole[end:]]


@dataclass
class FusedFrame:
    """One fused frame from the server: file bytes (``ENCODING_FILE``) or raw samples."""

    frame: int
    info: pb.ImageInfo
    #: Not in its repr: a stray print of a 4K frame was 100 MB of text.
    data: bytes = field(repr=False)
    #: What the server's run warned of while fusing it (a window's call: the matte missing the
    #: object by more than the band), for a host to show.
    warnings: tuple[str, ...] = ()

    @property
    def attributes(self) -> dict:
        """The header ``movingcolor fuse`` records: engine, model, band, grade, colourspace, frame."""
        values: dict = dict(self.info.attributes)
        for key in _INTEGER_ATTRIBUTES:
            if key in values:
                values[key] = int(values[key])
        return values

    @property
    def colorspace(self) -> str:
        return self.info.colorspace

    def pixels(self) -> np.ndarray:
        """Float32 ``(H, W, 3)`` in the output colourspace (file bytes are decoded with OpenImageIO)."""
        if self.info.encoding == pb.ENCODING_RAW:
            return decode_raw(self.info, self.data, f"fused frame {self.frame}")
        from movingcolor.frames.image_io import read_pixels

        with tempfile.TemporaryDirectory(prefix="movingcolor-client-") as folder:
            path = Path(folder) / f"frame.{self.info.format}"
            path.write_bytes(self.data)
            return read_pixels(path)

    def _restamped(self, fingerprint: str) -> list[Buffer] | None:
        """The file bytes with ``fingerprint`` in the server's place; None where not possible in place."""
        old = self.info.attributes.get(FINGERPRINT_KEY, "")
        if self.info.format != "exr" or not old:
            return None
        return _restamp_exr(self.data, FINGERPRINT_KEY, old, fingerprint)

    def write(
        self,
        path: str | os.PathLike,
        pixel_type: str = "half",
        compression: str = "zip",
        fingerprint: str | None = None,
        plate: str = "",
    ) -> Path:
        """Write the frame to ``path`` atomically: file bytes as they are when the format matches,
        else the pixels as an EXR (or PNG/TIFF) with the frame's header. ``fingerprint`` replaces
        the server's in the header (the client's, which a rerun compares); ``plate`` is recorded
        where the server recorded none (a server older than ShotSetup.plate)."""
        path = Path(path)
        unrecorded = bool(plate) and PLATE_KEY not in self.info.attributes
        same_format = path.suffix.lower().lstrip(".") == self.info.format
        if self.info.encoding == pb.ENCODING_FILE and same_format and not unrecorded:
            data = self.data if fingerprint is None else self._restamped(fingerprint)
            if data is not None:
                write_bytes_atomic(path, data)
                return path
        from movingcolor.frames.image_io import write_image

        attributes = self.attributes
        if fingerprint is not None:
            attributes[FINGERPRINT_KEY] = fingerprint
        if unrecorded:
            attributes[PLATE_KEY] = plate
        try:
            write_image(
                path, self.pixels(), pixel_type=pixel_type, compression=compression, attributes=attributes
            )
        except OSError as error:
            raise output_error(error, path) from error
        return path
