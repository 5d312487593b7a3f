"""A shot's colourspaces: what each source is in, where the grade applies, what the output is in.

Chosen once per shot from the settings and what the sources declare (never guessed
silently: each choice is logged with its reason).

The output follows the convention of the file type it is written as, as readers take it:
an EXR is scene-linear (Nuke's Read and most tools read EXR as scene-linear, so
display-encoded values in an EXR show a double gamma); an integer file (PNG, TIFF) keeps
the plate's encoding when the plate is itself an integer file (a log DPX stays log), and
is sRGB-encoded when the plate is float (scene-linear values in 8 or 16 bits band and
read back wrong). ``out_colorspace`` overrides either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..color.config import ColorConfig, ColorspaceChoice, icc_doubt
from ..color.grade import changes_nothing, flattens_highlights, parse_grade
from ..errors import MovingColorError
from ..frames.image_io import (
    BITS_PER_SAMPLE,
    CHROMATICITIES,
    DPX_TRANSFER,
    ICC_DESCRIPTION,
    INTEGER_SAMPLES,
    WRITABLE_FORMATS,
    decode_header,
    encode_image,
)
from ..frames.output_pattern import output_extension
from ..frames.source import FrameSource
from ..spec import ShotSpec

log = logging.getLogger("movingcolor")


@dataclass
class ShotColorspaces:
    """The colourspaces of one shot, and the grade's processors when a grade is applied."""

    config: ColorConfig
    plate: str
    working: str  # scene-linear: the classical engines blend here
    display: str  # the bounded encoding the network sees
    output: str
    grade_space: str
    #: The graded or edited source's colourspace (None when a grade is applied).
    other: str | None = None
    #: The grade from the plate to the working space and to the output space (grade mode).
    grade_to_working: object = None
    grade_to_output: object = None
    #: What the output headers and the report record: the grade, or which plate stood in for it.
    grade_label: str = ""
    #: The grade file's content digest as it was read (``Grade.digest``); "" for a grade written out.
    grade_digest: str = ""
    #: A grade written out, its values written one way (``Grade.canonical``); "" otherwise.
    grade_canonical: str = ""
    #: Each role's colourspace, for the report.
    by_role: dict[str, str] = field(default_factory=dict)
    #: Whether the plate's colourspace was given or declared by its file, not a default for its type:
    #: only then do its header's chromaticities describe the output written in the same space.
    plate_named: bool = True


def output_colorspace(
    config: ColorConfig, explicit: str | None, plate: str, plate_is_float: bool, extension: str | None
) -> ColorspaceChoice:
    """The output's colourspace: ``explicit``, else by the output's file type ``extension``
    (``.exr``, ``.png``, ``.tif``; None when frames go back as raw samples, which keep the
    plate's encoding the caller sent)."""
    if explicit:
        return ColorspaceChoice(config.resolve(explicit), "output colourspace given")
    if extension is None:
        return ColorspaceChoice(plate, "frames go back as raw samples, in the plate's colourspace")
    if extension.lower() == ".exr":
        if plate_is_float and plate != config.scene_linear and config.is_scene_linear(plate):
            # An ACES2065-1 delivery goes back to conform as it came: outside the band its values as
            # they are, its header's colourspace and primaries the plate's.
            return ColorspaceChoice(
                plate,
                "default for EXR outputs of a scene-linear plate: the plate's own colourspace; "
                "--out-colorspace overrides",
            )
        return ColorspaceChoice(
            config.scene_linear,
            "default for EXR outputs: the config's scene_linear role, as EXR readers take them; "
            "--out-colorspace overrides",
        )
    kind = extension.lower().lstrip(".").upper()
    if plate_is_float:
        return ColorspaceChoice(
            config.srgb_encoded,
            f"default for integer ({kind}) outputs of a float plate: sRGB-encoded, as integer files "
            f"are read; --out-colorspace overrides",
        )
    return ColorspaceChoice(
        plate, f"default for integer ({kind}) outputs: the plate's encoding; --out-colorspace overrides"
    )


def _say_unread_colour_tags(source, role: str, colorspace: str, named: str | None, option: str) -> None:
    """Where a video is tagged with colours the reader does not read (HDR's BT.2020, PQ, HLG): a
    warning where its colourspace was chosen by default, a note of what is used where one was named."""
    tags = " and ".join(getattr(source, "unread_colour_tags", ()))
    if not tags:
        return
    if named:
        log.info(
            "the %s video is tagged %s, which is not read: it is read as %s, as named", role, tags, colorspace
        )
        return
    log.warning(
        "the %s video is tagged %s, which is not read: it is read as %s, the default for video; name "
        "its colourspace with %s (or convert it to Rec.709 first where the config has no such space)",
        role,
        tags,
        colorspace,
        option,
    )


def _has_chromaticities(plate: FrameSource) -> bool:
    frames = plate.frames
    try:
        return CHROMATICITIES in plate.carried_attributes(frames[0] if frames else 0)
    except MovingColorError:  # a header that cannot be read again: reading the frame says why
        return False


#: DPX transfers (``dpx:Transfer``, as OpenImageIO names them) of log film scans.
_LOG_DPX_TRANSFERS = ("Printing density", "Logarithmic")
#: DPX transfers that are BT.709's (HD video's, SMPTE 274M's too).
_REC709_DPX_TRANSFERS = ("ITU-R 709-4", "SMPTE 274M")
#: The interop ID of the space that reads BT.709's transfer as a BT.1886 display shows it.
_BT1886 = "g24_rec709_scene"


def _film_scan_hint(config: ColorConfig, bits: object) -> str:
    """Which colourspace to name for a log DPX scan: the config's film-scan spaces, or where it has
    none, a built-in config that has ADX (ADX16 for 16-bit scans, ADX10 for the rest)."""
    scans = config.film_scan_spaces()
    if scans:
        return f"this config's film-scan spaces: {', '.join(scans)}"
    logs = config.log_spaces()
    others = f"only the log spaces {', '.join(logs)}" if logs else "and no log space"
    adx = "ADX16" if bits == 16 else "ADX10"
    return (
        f"config {config.name!r} has none for film scans, Cineon or ADX, {others}; OpenColorIO's "
        f"studio config has ADX: --config ocio://studio-config-latest --plate-colorspace {adx}"
    )


def _say_rec709_transfer(config: ColorConfig, tagged: str, why: str) -> None:
    """Note that a plate ``tagged`` with BT.709's transfer is read with the sRGB curve (``why``), and
    which colourspace reads it as a BT.1886 display shows it."""
    space = config.config.getColorSpace(_BT1886)
    if space is not None:
        named = f"this config's {space.getName()!r}"
    else:
        named = "the default config's 'Gamma 2.4 Encoded Rec.709'"
    log.info(
        "%s, read here with the sRGB curve (%s); to read it as a BT.1886 display shows it, name that "
        "colourspace (%s) with --plate-colorspace",
        tagged,
        why,
        named,
    )


def choose_colorspaces(
    config: ColorConfig,
    spec: ShotSpec,
    mode: str,
    plate: FrameSource,
    other: FrameSource | None,
    output_format: str | None = None,
) -> ShotColorspaces:
    """The shot's colourspaces. ``output_format``: the extension the fused frames are encoded as
    when they go back to the caller (``.exr``, ``.png``, ``.tif``; None for raw samples); a shot
    written to files (``spec.out``) takes it from ``spec.out``."""
    facts = plate.header_facts()
    icc = facts.get(ICC_DESCRIPTION, "")
    chosen = config.choose(spec.plate_colorspace, plate.declared_colorspace, plate.is_float, "plate", icc)
    plate_cs = chosen.name
    extension = output_extension(spec.out) if spec.out else output_format
    output = output_colorspace(config, spec.out_colorspace, plate_cs, plate.is_float, extension)
    spaces = ShotColorspaces(
        config=config,
        plate=plate_cs,
        working=config.scene_linear,
        display=config.srgb_encoded,
        output=output.name,
        grade_space=config.resolve(spec.grade_colorspace) if spec.grade_colorspace else plate_cs,
    )
    log.info("plate colourspace: %s (%s)", plate_cs, chosen.reason)
    transfer = facts.get(DPX_TRANSFER, "")
    if not spec.plate_colorspace and not plate.is_float and plate_cs == spaces.display:
        if getattr(plate, "rec709_transfer", False):
            tagged = "the plate video is tagged with Rec.709's transfer"
            _say_rec709_transfer(config, tagged, "the default for video and integer files")
        elif transfer in _REC709_DPX_TRANSFERS:
            tagged = f"the plate's DPX header gives its transfer as {transfer} (Rec.709's)"
            _say_rec709_transfer(config, tagged, chosen.reason)
    if chosen.doubt:
        log.warning("%s", chosen.doubt)
    _say_unread_colour_tags(plate, "plate", plate_cs, spec.plate_colorspace, "--plate-colorspace")
    spaces.plate_named = bool(spec.plate_colorspace or plate.declared_colorspace)
    if not spaces.plate_named and _has_chromaticities(plate):
        log.warning(
            "the plate's header gives chromaticities (its primaries: ACES2065-1 files carry AP0's) but "
            "no colourspace name, and the plate is read as %s, the default for its type: name its "
            "colourspace with --plate-colorspace if that is not it",
            plate_cs,
        )
    if not spaces.plate_named and transfer in _LOG_DPX_TRANSFERS:
        log.warning(
            "the plate's DPX header gives its transfer as %s (a log film scan), but no colourspace "
            "name, and it is read as %s, the default for integer files: if that is not it, name its "
            "colourspace with --plate-colorspace (%s)",
            transfer,
            plate_cs,
            _film_scan_hint(config, facts.get(BITS_PER_SAMPLE)),
        )
    log.info("output colourspace: %s (%s)", output.name, output.reason)
    integer_output = extension is not None and extension.lower() in INTEGER_SAMPLES
    file_type = WRITABLE_FORMATS[extension.lower()].upper() if integer_output else ""
    # The display space (sRGB-encoded) is what an integer file records, or is taken for, with or
    # without the config's interop IDs (a config of OpenColorIO 2.1-2.3 names none).
    checked = integer_output and output.name != spaces.display
    taken_as = _what_readers_take(config, extension, output.name) if checked else output.name
    if taken_as != output.name:
        log.warning(
            "%s files cannot record the colourspace %s: readers will take these frames as %s; write "
            "EXR (which records it) or give --out-colorspace %s",
            file_type,
            output.name,
            taken_as,
            spaces.display,
        )
    if integer_output and plate.is_float:
        # In whatever space: a float plate's highlights stay above 1.0 sRGB-encoded too.
        log.warning(
            "%s frames hold values from 0 to 1: the %s values of this plate above 1.0 (highlights) or "
            "below 0 are clipped, inside the matte and out, and the rest rounded; write EXR to keep them",
            file_type,
            output.name,
        )
    # Every conversion a frame goes through, made now: a colourspace whose LUT file is missing is
    # named before any frame is read (it was a traceback at the first frame, or blamed on the grade).
    for source in (plate_cs, spaces.working):
        for target in (spaces.working, spaces.display, spaces.output):
            config.converter(source, target)
    spaces.by_role = {"plate": plate_cs, "working": spaces.working, "output": spaces.output}
    if mode == "grade":
        grade = parse_grade(spec.grade, config)
        spaces.grade_label = f"{grade.kind}: {grade.label}"
        spaces.grade_digest = grade.digest
        spaces.grade_canonical = grade.canonical
        spaces.grade_to_working = grade.processor(config, plate_cs, spaces.working, spaces.grade_space)
        spaces.grade_to_output = grade.processor(config, plate_cs, spaces.output, spaces.grade_space)
        spaces.by_role["grade"] = grade.colorspace or spaces.grade_space
        if spec.grade_colorspace and grade.colorspace and grade.colorspace != spaces.grade_space:
            log.warning(
                "--grade-colorspace %s does not apply to a %s grade: it is applied in %s",
                spaces.grade_space,
                grade.kind,
                grade.colorspace,
            )
        log.info("grade %s applied in %s", spaces.grade_label, spaces.by_role["grade"])
        # A float plate's highlights, where its space is scene-linear: by the config's word, or, where
        # it says nothing of encodings, by OpenColorIO's test of the space (ACES2065-1 and Linear
        # Rec.709 are, ACEScct is not).
        encoding = _encoding(config, plate_cs)
        linear = encoding == "scene-linear" or (not encoding and config.is_scene_linear(plate_cs))
        highlights = plate.is_float and linear
        flat_from = flattens_highlights(spaces.grade_to_working) if highlights else None
        if flat_from is not None:
            log.warning(
                "grade %s flattens every value above %.1f to one colour and is applied in %s, where this "
                "plate's highlights run above it: inside the matte they will come out flat. %s",
                spaces.grade_label,
                flat_from,
                spaces.by_role["grade"],
                _flat_highlights_fix(grade.kind),
            )
        if changes_nothing(spaces.grade_to_working, config, plate_cs, spaces.working):
            log.warning(
                "grade %s changes no colour: every frame will come back as the plate; check the "
                "grade (a CDL of slope=1, offset=0, power=1 and sat=1 leaves colours as they are)",
                spaces.grade_label,
            )
    else:
        other_icc = other.header_facts().get(ICC_DESCRIPTION, "")
        if not spec.graded_colorspace and not other.declared_colorspace and other.is_float == plate.is_float:
            # A host renders its graded plate as it renders the plate: one of the same type that
            # declares nothing is in the plate's colourspace (a log plate's graded render is log too).
            # One that embeds a profile no colourspace is known for declares nothing, but is said.
            doubt = icc_doubt(other_icc, "MovingColor does not know", mode, plate_cs) if other_icc else ""
            chosen_other = ColorspaceChoice(
                plate_cs,
                f"the plate's, for a {mode} plate of the same type declaring none; "
                f"--graded-colorspace overrides",
                doubt,
            )
        else:
            chosen_other = config.choose(
                spec.graded_colorspace, other.declared_colorspace, other.is_float, mode, other_icc
            )
        spaces.other = chosen_other.name
        config.converter(chosen_other.name, spaces.working)
        spaces.by_role[mode] = chosen_other.name
        spaces.grade_label = f"{mode} plate"
        log.info("%s colourspace: %s (%s)", mode, chosen_other.name, chosen_other.reason)
        if chosen_other.doubt:
            log.warning("%s", chosen_other.doubt)
        _say_unread_colour_tags(
            other, f"{mode} plate", chosen_other.name, spec.graded_colorspace, "--graded-colorspace"
        )
        if plate.origin() and other.origin() == plate.origin():
            # As a grade that changes nothing is warned of.
            log.warning(
                "the %s plate is the plate itself (%s): every frame will come back as the plate; give "
                "the %s render",
                mode,
                plate.origin(),
                "graded" if mode == "graded" else "host's composite",
            )
    return spaces


def _what_readers_take(config: ColorConfig, extension: str, colorspace: str) -> str:
    """The colourspace readers take a file of type ``extension`` written in ``colorspace`` to be in,
    as OpenImageIO records it (a PNG's sRGB, gAMA or cICP chunk, a TIFF's tag) and reads it back:
    ``colorspace`` where the file records it (an sRGB PNG, a linear Rec.709 one by its gAMA of 1.0),
    another space where it records a neighbour (ACEScg as linear Rec.709: the primaries are lost),
    "sRGB-encoded" where it records nothing (as readers then assume)."""
    interop = config.interop_id(colorspace)
    if not interop:
        return "sRGB-encoded"
    probe = encode_image(extension, np.zeros((1, 1, 3), np.float32), attributes={"oiio:ColorSpace": interop})
    recorded = decode_header(probe, extension, f"a {extension} probe").colorspace
    if recorded == interop:
        return colorspace
    try:
        return config.resolve(recorded) if recorded else "sRGB-encoded"
    except MovingColorError:
        return recorded


def _flat_highlights_fix(kind: str) -> str:
    """What to do about a grade that flattens a scene-linear plate's highlights, by its kind: only a
    CDL or a LUT file is applied in --grade-colorspace."""
    if kind == "parametric":
        return (
            "Adjustments are applied to display-encoded values clamped to 0..1: for a plate with "
            "highlights, grade with a CDL or a LUT instead"
        )
    if kind == "look":
        return "A look is applied in its own process space: check the look's LUT and that space in the config"
    return (
        "If the LUT expects log or display-encoded values (or was made for a narrower range), name "
        "the space it was made for with --grade-colorspace (e.g. ACEScct)"
    )


def _encoding(config, colorspace: str) -> str:
    """The config's word on how ``colorspace`` encodes values (``scene-linear``, ``log``, ...), or ""."""
    space = config.config.getColorSpace(colorspace)
    return space.getEncoding() if space is not None else ""
