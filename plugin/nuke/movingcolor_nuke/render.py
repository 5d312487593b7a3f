"""Render the node's inputs to EXR frames with its Write nodes, for the server to fuse.

The Writes render raw (no colour conversion: the frames are the script's working
space, which script_color.py names for the server) at 32-bit float, so nothing is
lost on the way, and at the scale the script renders at (proxy.py). They render
into a hidden scratch folder beside the output, removed afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nuke
from movingcolor.errors import MovingColorError
from movingcolor.frames.overlap import check_outputs_spare_inputs, files_named
from movingcolor.frames.sequence import SequencePattern
from movingcolor_client import JobCancelledError
from movingcolor_hosts import (
    FuseSettings,
    MissingInputError,
    RenderedInputs,
    RenderError,
    SettingsError,
    check_server,
    new_folder_in,
    require_matte,
    require_matte_in_alpha,
)
from movingcolor_hosts.fusion import check_colour_settings
from movingcolor_hosts.staging import INPUTS_PREFIX, missing_folders, remove_if_empty

from .knobs import (
    GRADED,
    INPUT_NAMES,
    MATTE,
    PLATE,
    frame_range,
    fusion_knobs,
    output_knob,
    settings_from_node,
)
from .node import READ_NAME, WRITE_NAMES, inner
from .proxy import band_at_scale, proxy_output, render_scale
from .script_color import ServerColorspace, script_config, server_colorspace, working_space
from .server_choices import server_ocio_config

ALPHA = "rgba.alpha"


@dataclass
class PreparedShot:
    """A shot whose inputs are rendered: fuse it, then ``cleanup()`` its scratch folder. ``name`` is
    the node's full name, read on the main thread: a worker thread must not touch the node."""

    node: nuke.Node
    name: str
    settings: FuseSettings
    inputs: RenderedInputs
    first: int
    last: int
    scratch: Path
    #: How the frames were rendered and named for the server, for the node's status line.
    notes: tuple[str, ...] = ()
    #: The node's full-size output when the fuse began (its ``out`` knob): the artist may change the
    #: knob while a fuse runs in the background, and the frames fused are this take's.
    full_out: str = ""
    #: The output's folders the scratch folder was made in, deepest first: removed when left empty.
    made: tuple[Path, ...] = ()
    #: The values of the knobs a take depends on when the fuse began (``knobs.fusion_knobs``).
    knobs: tuple[tuple[str, object], ...] = ()

    @property
    def frames(self) -> str:
        return f"{self.first}-{self.last}"

    def cleanup(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
        remove_if_empty(list(self.made))


def _channels_to_write(node: nuke.Node, settings: FuseSettings) -> dict[str, str]:
    """Role -> the Write's channels knob, for the inputs this fusion needs; checks they are there."""
    plate = node.input(PLATE)
    if plate is None:
        raise MissingInputError(f"{node.name()}: the plate input is not connected; connect the plate")
    roles = {"plate": "rgb"}
    matte = node.input(MATTE)
    if matte is None:
        if ALPHA not in plate.channels():
            raise MissingInputError(
                f"{node.name()}: no matte: the matte input is not connected and the plate has no alpha; "
                f"connect a matte (roto, key) or give the plate an alpha"
            )
        roles["plate"] = "rgba"  # the server takes the matte from the plate's alpha
    elif node["matte_channel"].value() == "alpha":
        if ALPHA not in matte.channels():
            raise MissingInputError(
                f"{node.name()}: the matte input has no alpha; set 'matte from' to rgb, or put the "
                f"matte into the alpha channel (Shuffle)"
            )
        roles["matte"] = "alpha"
    else:
        roles["matte"] = "rgb"
    if settings.use_graded:
        if node.input(GRADED) is None:
            raise MissingInputError(
                f"{node.name()}: 'grade from' is graded input, but the graded input is not connected; "
                f"connect the graded plate, or grade with a CDL, grade file or look"
            )
        roles["graded"] = "rgb"
    return roles


def _render(node: nuke.Node, role: str, channels: str, pattern: str, first: int, last: int) -> None:
    write = inner(node, WRITE_NAMES[role])
    write["file"].setValue(pattern)
    write["proxy"].setValue(pattern)  # where a Write renders in proxy mode
    write["file_type"].setValue("exr")
    write["channels"].setValue(channels)
    write["datatype"].setValue("32 bit float")
    write["raw"].setValue(True)
    write["create_directories"].setValue(True)
    write["disable"].setValue(False)
    try:
        nuke.execute(write, first, last, 1)
    except RuntimeError as error:
        if "cancel" in str(error).lower():
            raise JobCancelledError(
                f"{node.name()}: rendering the {role} was cancelled; nothing was sent or written"
            ) from None
        raise RenderError(
            f"{node.name()}: rendering the {role} input for frames {first}-{last} failed ({error}); "
            f"check the nodes above the {role} input"
        ) from None
    finally:
        write["disable"].setValue(True)


def _colorspace(settings: FuseSettings) -> ServerColorspace:
    """The colourspace of the rendered frames as the server is told it: the knob's, when given, in the
    server's config; else the script's working space (script_color.py)."""
    if settings.colorspace:
        note = f"colourspace {settings.colorspace!r} of the server's config, as the node names it"
        return ServerColorspace(settings.colorspace, "", note)
    root = nuke.root()
    return server_colorspace(
        script_config(root),
        working_space(root),
        settings.grade_is_look,
        lambda: server_ocio_config(settings.server, settings.token),
    )


def _at_render_scale(settings: FuseSettings) -> str:
    """``settings`` for frames rendered at the script's scale (proxy mode): the band scaled, the output
    in a proxy folder beside the full-size take; and a note saying so, when they differ."""
    scale = render_scale(nuke.root())
    if scale == 1.0:
        return ""
    band = settings.band
    settings.band = band_at_scale(band, scale)
    settings.out = proxy_output(settings.out)
    return (
        f"proxy mode: rendered at {scale:g} of full size, band {band} sent as {settings.band}, "
        f"written to {Path(settings.out).parent}"
    )


def _frames_every_input_has(node: nuke.Node, roles: dict[str, str], first: int, last: int) -> tuple[int, int]:
    """The frames every input the fusion reads (``roles``) has, refusing frames ``first``-``last``
    one of them lacks: Nuke holds a Read's first or last frame beyond its range, so they would be
    fused from a held plate, matte or graded frame without a word."""
    common_first, common_last = first, last
    for role, index in (("plate", PLATE), ("matte", MATTE), ("graded", GRADED)):
        upstream = node.input(index)
        if role not in roles or upstream is None:
            continue
        if role != "plate" and not _reads_a_file(upstream):
            # A generated matte (a Roto, a Constant) reports the script's range, not frames it lacks.
            continue
        input_first, input_last = upstream.firstFrame(), upstream.lastFrame()
        if first < input_first or last > input_last:
            raise SettingsError(
                f"{node.name()}: frames {first}-{last} reach outside the {role} input's "
                f"{input_first}-{input_last}; set the first and last frame knobs within them"
                + ("" if role == "plate" else f", or give the {role} input those frames")
            )
        common_first, common_last = (
            (input_first, input_last)
            if role == "plate"
            else (max(common_first, input_first), min(common_last, input_last))
        )
    return common_first, common_last


def _check_formats(node: nuke.Node, roles: dict[str, str]) -> None:
    """The matte and graded inputs the fusion reads (``roles``) are the plate's size: the server refuses
    frames of two sizes, found only once every input was rendered (a Roto drawn over the script's
    format, a plate of another)."""
    if any(upstream.hasError() for upstream in _upstream([node.input(PLATE)])):
        return  # a Read that reads nothing has the script's format: its render names the file
    plate = node.input(PLATE).format()
    for role, index in (("matte", MATTE), ("graded", GRADED)):
        if role not in roles or node.input(index) is None:
            continue
        if any(upstream.hasError() for upstream in _upstream([node.input(index)])):
            continue
        other = node.input(index).format()
        if (other.width(), other.height()) != (plate.width(), plate.height()):
            raise SettingsError(
                f"{node.name()}: the {role} input is {other.width()}x{other.height()} but the plate is "
                f"{plate.width()}x{plate.height()}: give the {role} the plate's format (a Reformat to it, "
                f"or a Roto's output format set to it)"
            )


def _reads_a_file(node: nuke.Node) -> bool:
    """Whether a Read is upstream of ``node`` (or ``node`` is one), inside groups too: its frame range
    is then the frames it has."""
    return any(upstream.Class() == "Read" for upstream in _upstream([node]))


def _upstream(starts: list[nuke.Node | None]) -> Iterator[nuke.Node]:
    """``starts`` and every node upstream of them, each once, the nodes inside groups too."""
    waiting, seen = list(starts), set()
    while waiting:
        upstream = waiting.pop()
        if upstream is None or id(upstream) in seen:
            continue
        seen.add(id(upstream))
        yield upstream
        waiting += [upstream.input(index) for index in range(upstream.inputs())]
        if upstream.Class() == "Group":
            waiting += upstream.nodes()


def _files_read_by(node: nuke.Node) -> list[Path]:
    """Every file a Read upstream of ``node`` reads over its frame range, its proxy file too, inside
    groups too (another MovingColor node's fused take is a Read in its group): the fused frames must
    never replace one."""
    files: list[Path] = []
    for upstream in _upstream([node.input(index) for index in range(node.inputs())]):
        if upstream.Class() != "Read" or not upstream["file"].value():
            continue
        frames = range(int(upstream["first"].value()), int(upstream["last"].value()) + 1)
        files += files_named(upstream["file"].value(), frames)
        # In proxy mode a Read reads its proxy file (another MovingColor node's proxy take).
        proxy = upstream.knob("proxy")
        if proxy is not None and proxy.value():
            files += files_named(proxy.value(), frames)
    return files


def resolved_output(pattern: str) -> str | None:
    """A sequence's pattern in its folder's real place (one output however it is spelt), or None
    where it is no sequence."""
    try:
        return SequencePattern.parse(pattern).resolved()
    except MovingColorError:  # not a sequence (an expression, a typo): that node says so itself
        return None


def _check_no_other_node_writes(node: nuke.Node, writes: str, proxy: bool) -> None:
    """Refuse to write ``writes`` (the ``out`` knob's sequence; with ``proxy``, the proxy folder's beside
    it) where another MovingColor node of the script writes, full size or in proxy mode (a copied node
    keeps its original's output; a proxy folder may be another node's output), or where it shows its
    take (its Read's file or proxy file: its output knob may have moved on to the next version, not
    fused yet): that node's take would be replaced, and it would show this node's grade."""
    ours = resolved_output(writes)
    if ours is None:
        return  # not a sequence: the settings said so already
    what = f"output {writes}"
    if proxy:
        what = f"proxy-mode output {writes} (a proxy fuse writes a proxy folder beside the output)"
    # From the script's top: the Fuse button runs inside this node's own group, where allNodes()
    # lists that group's nodes alone.
    for other in nuke.allNodes("Group", group=nuke.root(), recurseGroups=True):
        if other.fullName() == node.fullName() or "movingcolor" not in other.knobs():
            continue
        theirs = output_knob(other)
        if theirs:
            for kind, pattern in (("output", theirs), ("proxy-mode output", proxy_output(theirs))):
                if resolved_output(pattern) == ours:
                    copied = " (a copied node keeps its original's)" if kind == "output" and not proxy else ""
                    raise SettingsError(
                        f"{node.name()}: {what} is {other.fullName()}'s {kind} too{copied}: fusing would "
                        f"replace that node's frames; give this node an output of its own"
                    )
        shown = other.node(READ_NAME)
        for knob in ("file", "proxy"):
            pattern = shown[knob].value() if shown is not None else ""
            if pattern and resolved_output(pattern) == ours:
                raise SettingsError(
                    f"{node.name()}: {what} is the take {other.fullName()} shows (its output knob names "
                    f"another now): fusing would replace the frames that node shows, in the GUI and in "
                    f"renders; give this node an output of its own"
                )


def prepare_shot(node: nuke.Node, first: int | None = None, last: int | None = None) -> PreparedShot:
    """Check the knobs and inputs, then render the inputs (frames ``first``-``last`` and the window
    each side, within the plate's frames). Raises a MovingColorError naming what to fix."""
    settings = settings_from_node(node)
    knobs = fusion_knobs(node)
    first, last = frame_range(node, first, last)
    roles = _channels_to_write(node, settings)
    color = _colorspace(settings)
    settings.colorspace, settings.config = color.colorspace, color.config
    proxy_note = _at_render_scale(settings)
    notes = tuple(note for note in (color.note, proxy_note) if note)
    # The handles reach no further than the frames every input has.
    have_first, have_last = _frames_every_input_has(node, roles, first, last)
    _check_formats(node, roles)
    _check_no_other_node_writes(node, settings.out, proxy=bool(proxy_note))
    check_outputs_spare_inputs(
        SequencePattern.parse(settings.out), range(first, last + 1), _files_read_by(node)
    )
    # At least the frames each side the engine reads: without them a part of a range fused again
    # (two frames redone) differed from the same frames of the whole range fused, a pop in the take.
    window = max(settings.handles, check_server(settings))
    check_colour_settings(settings.for_arrays())
    render_first = min(first, max(first - window, have_first))
    render_last = max(last, min(last + window, have_last))
    made = missing_folders(Path(settings.out).parent)
    scratch = new_folder_in(Path(settings.out).parent, INPUTS_PREFIX)
    try:
        patterns = {}
        for role in INPUT_NAMES:
            if role in roles:
                patterns[role] = str(scratch / role / f"{role}.####.exr")
                _render(node, role, roles[role], patterns[role], render_first, render_last)
        if "matte" not in roles:
            require_matte_in_alpha(
                patterns["plate"],
                f"{node.name()}: the plate",
                "connect a matte to the matte input, or give the plate a matte in its alpha",
            )
        else:
            require_matte(
                patterns["matte"],
                f"{node.name()}: the matte input's {roles['matte']}",
                f"set 'matte from' to {'rgb' if roles['matte'] == 'alpha' else 'alpha'} if the matte is "
                f"there, or draw the roto or key over frames {first}-{last}",
            )
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        remove_if_empty(made)
        raise
    inputs = RenderedInputs(
        plate=patterns["plate"], matte=patterns.get("matte", "alpha"), graded=patterns.get("graded")
    )
    full_out = output_knob(node)
    return PreparedShot(
        node, node.fullName(), settings, inputs, first, last, scratch, notes, full_out, tuple(made), knobs
    )
