"""Fuse: render the inputs, fuse them on the server with Nuke's progress bar, read the result back.

``fuse(node, first, last)`` is the TD's call (blocking; errors raise). The Fuse
button renders in the main thread (Nuke shows that render's own progress), then
talks to the server in a worker thread so the UI stays live. The worker touches
no node or knob (Nuke's node graph belongs to its main thread; only ProgressTask
and executeInMainThread are meant for other threads): the result and any error
go back to the main thread through ``nuke.executeInMainThread``.
"""

from __future__ import annotations

import threading

import nuke
from movingcolor.errors import MovingColorError
from movingcolor.frames.frame_range import describe_frames
from movingcolor.frames.sequence import SequencePattern
from movingcolor_hosts import FusedSequence, fuse_rendered
from movingcolor_hosts.takes import output_takes

from .knobs import FUSION_KNOBS, INPUT_CHANGE, INPUT_NAMES, fusion_knobs, output_knob, with_stale_hint
from .node import OUTPUT_NAME, READ_NAME, inner, show_the_take
from .render import PreparedShot, prepare_shot, resolved_output

#: The outputs (resolved) whose fusion is under way in a worker, and the node that began each; read
#: and changed on the main thread. Keyed by output, not by node name: a node renamed mid-fusion, or
#: a copy writing the same output, must not start a second fusion racing the first.
_fusing: dict[str, str] = {}


#: The server's warnings a node's status shows, at most.
WARNINGS_SHOWN = 3


def _output_key(out: str) -> str:
    return resolved_output(out) or out  # not a sequence: prepare_shot says why


class _Progress:
    """Nuke's progress bar for one fusion; its Cancel button cancels the server's job."""

    def __init__(self, shot: PreparedShot):
        self.task = nuke.ProgressTask(f"MovingColor {shot.name}")
        self.task.setMessage(f"sending frames {shot.frames} to {shot.settings.server}")

    def update(self, done: int, total: int, frame: int) -> None:
        self.task.setProgress(int(100 * done / max(total, 1)))
        self.task.setMessage(f"fused frame {frame} ({done} of {total})")

    def cancelled(self) -> bool:
        return self.task.isCancelled()


def _fuse_prepared(shot: PreparedShot) -> tuple[FusedSequence, tuple]:
    """Fuse on the server; safe in a worker thread (no node is touched). Returns the fused sequence
    and what its output holds beside it (:func:`~movingcolor_hosts.takes.output_takes`: a header
    read per frame, here rather than on Nuke's main thread)."""
    try:
        progress = _Progress(shot)
        try:
            result = fuse_rendered(
                shot.settings, shot.inputs, progress.update, progress.cancelled, frames=shot.frames
            )
        finally:
            del progress.task  # closes Nuke's progress bar
    finally:
        shot.cleanup()
    return result, output_takes(result.out, result.frames)


def show_result(node: nuke.Node, result: FusedSequence, shot: PreparedShot, takes: tuple) -> None:
    """Point the node's Read at the fused frames and make it the node's output; the status line says
    what was fused, and the ``shot``'s notes (how the frames were named and scaled for the server).
    The output is the one the fuse began with, whatever the knob says now; ``takes`` is what the
    output holds beside the frames fused (``_fuse_prepared``)."""
    read = inner(node, READ_NAME)
    full = shot.full_out
    # The Read shows the output's whole run of frames, not the ones just fused alone (it would hold
    # them beyond), and the status says which frames there another fusion made.
    (first, last), mixed = takes
    missing: tuple[str, ...] = ()
    if result.out != full:
        # A proxy fuse: Nuke reads the Read's proxy file in proxy mode; its file stays the full-size
        # take (missing until one is fused, which the Read then says). The Read's range serves both:
        # a proxy fuse of fewer frames keeps the full-size take's, or it would hold its last frame.
        if read["file"].value() == full:
            first, last = min(first, int(read["first"].value())), max(last, int(read["last"].value()))
        read["proxy"].setValue(result.out)
        read["file"].setValue(full)
        # Frames of that range with no proxy frame are a Read error in proxy mode: the status says
        # which, and how to fill them (the full-size take keeps its range out of proxy mode).
        unfilled = _missing_frames(result.out, first, last)
        if unfilled:
            missing = (
                f"proxy mode has no frames {unfilled} of this take (the node shows a Read error there): "
                f"fuse {first}-{last} in proxy mode to fill them",
            )
    else:
        read["file"].setValue(result.out)
        read["proxy"].setValue("")  # an older proxy take would hide this one in proxy mode
    for knob in ("first", "origfirst"):
        read[knob].setValue(first)
    for knob in ("last", "origlast"):
        read[knob].setValue(last)
    read["raw"].setValue(True)  # the frames are in the working space already
    read["reload"].execute()  # the same file names as a previous fusion: drop Nuke's cached frames
    show_the_take(node)
    done = f"fused {result.first}-{result.last} with {result.engine} on {result.server}"
    # What the server's run warned of (a full matte, a matte of several shapes): the artist's to
    # read, the first few (a shot's every warning is in the terminal).
    warned = list(result.summary.get("warnings", ()))
    more = (
        (f"{len(warned) - WARNINGS_SHOWN} more warnings in the terminal",)
        if len(warned) > WARNINGS_SHOWN
        else ()
    )
    notes = (*missing, *shot.notes, *warned[:WARNINGS_SHOWN], *more)
    if mixed:
        notes = (
            f"frames {mixed} of this output were fused before with other settings: fuse "
            f"{first}-{last} to make them one take",
            *notes,
        )
    status = "; ".join((f"{done} in {result.seconds:.1f}s", *notes))
    # A knob changed while the fuse ran (in the background): the take shown is of the settings before.
    now = dict(fusion_knobs(node))
    changed = [name for name, before in shot.knobs if now.get(name) != before]
    if changed:
        status = with_stale_hint(status, node[changed[0]])
    node["status"].setValue(status)


def _missing_frames(out: str, first: int, last: int) -> str:
    """The frames of ``first``-``last`` sequence ``out`` has no file for, described; "" for none."""
    pattern = SequencePattern.parse(out)
    on_disk = set(pattern.frames_on_disk())
    missing = [frame for frame in range(first, last + 1) if frame not in on_disk]
    return describe_frames(missing) if missing else ""


def knob_changed() -> None:
    """An artist changed a knob of a node (``nuke.addKnobChanged``), or connected one of its inputs to
    another node (the knob Nuke names is then ``inputChange``): where that changes what a fuse makes
    and the node shows a take, the status line says the take is of the settings or inputs before; the
    picture passed for the new ones' without a word until the next fuse."""
    node, knob = nuke.thisNode(), nuke.thisKnob()
    if node is None or knob is None or node.knob("fuse") is None:
        return
    if knob.name() not in (*FUSION_KNOBS, INPUT_CHANGE):
        return
    read = node.node(READ_NAME)
    if read is None or not read["file"].value():
        return  # nothing fused yet: the node shows the plate
    node["status"].setValue(with_stale_hint(node["status"].value(), knob))


def on_create() -> None:
    """A node made (``nuke.addOnCreate``): a pasted copy of a fused node showed its original's take
    (its Read came with it), another plate's frames passed off as its own, until it was fused. A node
    whose Read shows what another MovingColor node writes or shows is such a copy: it shows its plate,
    as a new node does, and says why. A node cut and pasted, or read from a saved script, is the only
    one showing its take, and keeps it."""
    node = nuke.thisNode()
    if node is None or node.knob("fuse") is None:
        return  # not a MovingColor node, or one whose knobs are still to be made (create_node)
    read = node.node(READ_NAME)
    if read is None or not read["file"].value():
        return
    shown = _output_key(read["file"].value())
    for other in nuke.allNodes("Group", group=nuke.root(), recurseGroups=True):
        if other.fullName() == node.fullName() or other.knob("fuse") is None:
            continue
        theirs = other.node(READ_NAME)
        if shown not in (
            _output_key(output_knob(other)),
            _output_key(theirs["file"].value() if theirs else ""),
        ):
            continue
        read["file"].setValue("")
        read["proxy"].setValue("")
        inner(node, OUTPUT_NAME).setInput(0, inner(node, INPUT_NAMES[0]))
        node["status"].setValue(
            f"a copy of {other.fullName()}: shows its plate, not {other.name()}'s take, until it is fused; "
            f"give it an output of its own, then press Fuse"
        )
        return


def fuse(node: nuke.Node, first: int | None = None, last: int | None = None) -> FusedSequence:
    """Fuse frames ``first``-``last`` (default: the node's range knobs) and show them in the node.
    Blocks; raises a MovingColorError whose message names the problem and the fix."""
    shot = prepare_shot(node, first, last)
    result, takes = _fuse_prepared(shot)
    show_result(node, result, shot, takes)
    return result


def _message(error: BaseException) -> str:
    if isinstance(error, MovingColorError):
        return f"MovingColor: {error}"
    return f"MovingColor: unexpected error: {error!r}"


def _finish_in_main_thread(
    shot: PreparedShot, key: str, fused: tuple | None, error: Exception | None
) -> None:
    """The worker's outcome, on the main thread: show the fused frames, or say what went wrong."""
    _fusing.pop(key, None)
    if error is not None:
        nuke.message(_message(error))
        return
    result, takes = fused
    try:
        show_result(shot.node, result, shot, takes)
    except Exception as failure:  # the node was deleted or emptied meanwhile; the frames are written
        nuke.message(
            f"MovingColor: fused {result.first}-{result.last} into {result.out}, but {shot.name} cannot "
            f"show them ({failure}); read them with a Read node"
        )


def _fuse_in_background(shot: PreparedShot, key: str) -> None:
    fused, error = None, None
    try:
        fused = _fuse_prepared(shot)
    except Exception as failure:  # every failure reaches the artist; none may end the thread silently
        error = failure
    nuke.executeInMainThread(_finish_in_main_thread, (shot, key, fused, error))


def fuse_button(node: nuke.Node | None = None) -> threading.Thread | None:
    """The Fuse button: in the GUI errors become a message, never an exception in Nuke's UI; under
    ``nuke -t`` (a script pressing it: ``node["fuse"].execute()``) the message is printed and the error
    raised, so the script stops and its farm job fails. Returns the worker thread in the GUI (None
    under ``nuke -t``, where the fusion runs to its end here)."""
    node = node or nuke.thisNode()
    key = _output_key(output_knob(node))
    if key in _fusing:
        nuke.message(
            f"MovingColor: {node.fullName()}'s output is being fused already (by {_fusing[key]}, as it "
            f"was named then); wait for it to finish, or cancel it in its progress bar"
        )
        return None
    try:
        shot = prepare_shot(node)
    except Exception as error:
        nuke.message(_message(error))
        if not nuke.GUI:
            raise  # a message alone ended a farm job's script with exit 0 and nothing fused
        return None
    if not nuke.GUI:
        try:
            result, takes = _fuse_prepared(shot)
            show_result(node, result, shot, takes)
        except Exception as error:
            nuke.message(_message(error))
            raise
        return None
    _fusing[key] = shot.name
    worker = threading.Thread(
        target=_fuse_in_background, args=(shot, key), name=f"MovingColor {shot.name}", daemon=True
    )
    worker.start()
    return worker
