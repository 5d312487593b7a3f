"""Where fused frames go: an output pattern, or a folder that gets one."""

from __future__ import annotations

from pathlib import Path

from ..errors import OutputError
from .image_io import WRITABLE_FORMATS
from .sequence import SequencePattern, is_sequence_pattern


def output_pattern(out: str, plate_name: str) -> SequencePattern:
    """``out`` as a sequence pattern; a folder gets ``<plate name>.####.exr`` inside it."""
    if is_sequence_pattern(out):
        pattern = SequencePattern.parse(out)
    else:
        stem = plate_name.rstrip("._-") or "fused"
        pattern = SequencePattern(Path(out), f"{stem}.", ".exr", 4)
    ext = Path(pattern.suffix).suffix.lower() or pattern.suffix.lower()
    if ext not in WRITABLE_FORMATS:
        raise OutputError(
            f"output {out!r}: cannot write {ext or 'frames without an extension'}; "
            f"end the pattern with one of {', '.join(WRITABLE_FORMATS)}"
        )
    return pattern


def prepare_folder(pattern: SequencePattern) -> None:
    """Make the folder ``pattern`` writes into; OutputError says which folder could not be made."""
    try:
        pattern.directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create output folder {pattern.directory}: {error}") from error


def note_frames_written(error: Exception, written: int, pattern: SequencePattern) -> None:
    """Add to ``error``'s message that the ``written`` frames before it are whole and valid: a run
    that stops part way says what it leaves rather than hide it."""
    if written:
        error.args = (
            f"{error} (the {written} frames before it were written completely to {pattern.directory})",
        )
