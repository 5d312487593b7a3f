"""Renders outside the GUI (``nuke -x`` on the farm, ``nuke.execute`` in a ``nuke -t`` script) read each
MovingColor node's take: a render fails, naming the node and the fix, where a node upstream of what is
rendered has no take or a take of other settings than its knobs'.

In the GUI the node passes its plate through until its first fuse and the status line says when its
take is of other knobs (bridge.py's knob_changed): the artist sees both, so its renders are left be.
Outside it nobody sees the node: a plate passed through, or an old take, went into the shot's final
frames without a word. A frame outside the take fails by itself (node.py's Switch and Read).

Registered by init.py, which Nuke runs in every session (menu.py, the GUI's, is not run on a farm).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import nuke
from movingcolor.errors import MovingColorError
from movingcolor.frames.sequence import SequencePattern
from movingcolor.spec.band_width import BandWidth
from movingcolor.spec.grade_text import canonical_grade
from movingcolor.spec.schema import grade_file_parts
from movingcolor_hosts import RenderError
from movingcolor_hosts.takes import take_settings

from .knobs import output_knob
from .node import READ_NAME, show_the_take
from .proxy import band_at_scale, render_scale
from .render import resolved_output

#: A take's header by (frame file, modification time, size): each render of a script (a farm job
#: renders its Writes one by one, a frame range each) reads it once, and a take fused again anew.
_HEADERS: dict[tuple[str, int, int], dict[str, str]] = {}
_HEADERS_KEPT = 256

#: How a take's header names each source of the grade (``movingcolor:grade``: kind, then label).
_GRADED_PLATE = "graded plate"


def install_render_checks() -> None:
    """Check every render's MovingColor nodes before it starts (``nuke.addBeforeRender``; Nuke keeps a
    callback added twice once, as where NUKE_PATH names this folder twice)."""
    nuke.addBeforeRender(check_render, nodeClass="*")


def check_render() -> None:
    """Before a render outside the GUI (``nuke.thisNode()`` the node rendered): raise, naming the node
    and the fix, where a MovingColor node it reads has no take or one of other knobs. Nuke aborts a
    render whose beforeRender callback raises: the farm's frames fail, not pass."""
    if nuke.GUI:
        return
    rendered = nuke.thisNode()
    if rendered is None:
        return
    for node in _upstream(rendered):
        if _is_movingcolor(node):
            check_take(node)


def check_take(node: nuke.Node) -> None:
    """Raise RenderError where ``node`` has no take, none of its take's frames is here, or its take's
    header records other settings than its knobs; else make its output the take (a node of an
    earlier version showed its plate outside the take in renders)."""
    name = node.fullName()
    read = node.node(READ_NAME)
    if read is None or not read["file"].value():
        raise RenderError(
            f"MovingColor node {name} has no take to render: it was never fused (or is a copy not fused "
            f"since), and outside the GUI it would pass its plate through as the shot's graded frames; "
            f"fuse it (its Fuse button, or movingcolor_nuke.fuse(node) in nuke -t), save the script, "
            f"then render"
        )
    show_the_take(node)
    proxy = bool(nuke.root()["proxy"].value()) and read["proxy"].value()
    shown = proxy or read["file"].value()
    first, last = int(read["first"].value()), int(read["last"].value())
    fix = "make its folder reachable here (mounted as on the workstation that fused it), or fuse it again"
    if not proxy and read["proxy"].value():
        # Fused in proxy mode, maybe alone: the Read's file names the take a full-size fuse makes.
        fix = (
            f"if it was fused in proxy mode only, fuse it with proxy mode off and save the script; else {fix}"
        )
    frame, recorded = _header(node, shown, first, last, fix)
    changed = _changed(node, read, recorded, bool(proxy))
    if changed:
        label, theirs, ours = changed
        raise RenderError(
            f"MovingColor node {name}: its {label} changed since its take was fused (frame {frame} of "
            f"{shown} was fused with {theirs!r}, the knob says {ours!r}), and a render reads the take, "
            f"not the knobs: fuse it again (its Fuse button, or movingcolor_nuke.fuse(node) in nuke -t) "
            f"and save the script, then render"
        )


def _header(node: nuke.Node, shown: str, first: int, last: int, fix: str) -> tuple[int, dict[str, str]]:
    """The frame of take ``shown`` whose header is read (the first of its run here) and its settings;
    ``fix`` says what to do where none of its frames is here."""
    name = node.fullName()
    try:
        pattern = SequencePattern.parse(shown)
    except MovingColorError as error:
        raise RenderError(f"MovingColor node {name}: its take {shown!r}: {error}; fuse it again") from None
    frame, stat = first, _stat(pattern.path(first))
    if stat is None:  # its first frame missing: any other of its run
        try:
            here = [number for number in pattern.frames_on_disk() if first <= number <= last]
        except MovingColorError:  # its folder is not there
            here = []
        if not here:
            raise RenderError(
                f"MovingColor node {name}: none of its take's frames {first}-{last} ({shown}) is on this "
                f"machine; {fix}"
            )
        frame, stat = here[0], _stat(pattern.path(here[0]))
    path = pattern.path(frame)
    key = (os.fspath(path), *(stat or (0, 0)))
    if key not in _HEADERS:
        try:
            settings = take_settings(path)
        except (MovingColorError, OSError) as error:
            raise RenderError(
                f"MovingColor node {name}: cannot read frame {frame} of its take ({error}); fuse it again"
            ) from None
        if len(_HEADERS) >= _HEADERS_KEPT:
            _HEADERS.clear()
        _HEADERS[key] = settings
    return frame, _HEADERS[key]


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _changed(
    node: nuke.Node, read: nuke.Node, recorded: dict[str, str], proxy: bool
) -> tuple[str, str, str] | None:
    """The first knob whose value is not what made the take (its label, the take's value, the knob's);
    None where they agree. The knobs a header does not record (matte channel, window) go unchecked."""
    if resolved_output(read["file"].value()) != resolved_output(output_knob(node)):
        return node["out"].label(), read["file"].value(), node["out"].value()
    grade = _grade_changed(node, recorded.get("grade", ""))
    if grade:
        return grade
    band = node["band"].value().strip()
    try:
        # As a fuse now would send it: in proxy mode, scaled to the frames rendered (proxy.py).
        sent = str(BandWidth.parse(band_at_scale(band, render_scale(nuke.root())) if proxy else band))
    except MovingColorError:
        sent = band
    if sent != recorded.get("band", ""):
        return node["band"].label(), recorded.get("band", ""), band
    if node["engine"].value() != recorded.get("engine", ""):
        return node["engine"].label(), recorded.get("engine", ""), node["engine"].value()
    model = node["model"].value().strip()
    if model and model != recorded.get("model", ""):  # empty: the server's default, whichever it is
        return node["model"].label(), recorded.get("model", ""), model
    return None


def _grade_changed(node: nuke.Node, recorded: str) -> tuple[str, str, str] | None:
    """Whether the grade the knobs name is the one the take's header records (``cdl: slope=...``,
    ``file: show.cube``, ``look: NAME``, ``graded plate``): as :func:`_changed` says."""
    kind, _, label = recorded.partition(": ")
    was = _grade_source_of(recorded, kind, label)
    source = node["grade_source"].value()
    if source != was:
        return node["grade_source"].label(), recorded, source
    if source == "graded input":
        return None
    knob = {"CDL": "cdl", "grade file": "grade_file", "OCIO look": "look"}[source]
    ours = node[knob].value().strip()
    if source == "CDL":
        # Two spellings of one grade (``slope=1.2 1 0.8``, ``slope=1.2,1,0.8``) are one take.
        same = (canonical_grade(ours) or ours) == (canonical_grade(label) or label)
    elif source == "grade file":
        same = label == _grade_file_label(os.path.expanduser(ours))
    else:
        same = label == ours
    return None if same else (node[knob].label(), label, ours)


def _grade_source_of(recorded: str, kind: str, label: str) -> str:
    """The node's grade source (its ``grade_source`` choice) that made a take recording ``recorded``."""
    if recorded == _GRADED_PLATE:
        return "graded input"
    if kind == "look":
        return "OCIO look"
    if kind in ("cdl", "parametric") and canonical_grade(label) is not None:
        return "CDL"  # written out; a .cc file's grade is of kind cdl too, labelled by its name
    return "grade file"


def _grade_file_label(path: str) -> str:
    """How a take's header names grade file ``path`` (``FILE.ccc#ID`` one correction of it): by name."""
    parts = grade_file_parts(path)
    if parts is None:  # not on this machine: named as typed
        return Path(path).name
    file, correction = parts
    return Path(file).name + (f"#{correction}" if correction else "")


def _is_movingcolor(node: nuke.Node) -> bool:
    return (
        isinstance(node, nuke.Group)
        and node.knob("fuse") is not None
        and node.knob("movingcolor") is not None
    )


def _upstream(rendered: nuke.Node) -> Iterator[nuke.Node]:
    """``rendered`` and every node whose image it reads: inputs, into a group through its Output, and
    out of a group through its Input nodes to the group's inputs (the Write a fuse renders sits inside
    a MovingColor group)."""
    groups: dict[str, nuke.Node] = {}
    waiting, seen = [rendered], set()
    while waiting:
        node = waiting.pop()
        if node is None or node.fullName() in seen:
            continue
        seen.add(node.fullName())
        if _disabled(node):
            # Nuke passes a disabled node's first input through: nothing of it, or inside it, is read.
            waiting.append(node.input(0) if node.inputs() else None)
            continue
        yield node
        waiting += [node.input(index) for index in range(node.inputs())]
        if isinstance(node, nuke.Group):
            waiting.append(node.output())
        elif node.Class() == "Input":
            if not groups:
                every = nuke.allNodes(group=nuke.root(), recurseGroups=True)
                groups.update((group.fullName(), group) for group in every if isinstance(group, nuke.Group))
            parent = groups.get(node.fullName().rpartition(".")[0])
            if parent is not None:
                waiting.append(parent.input(int(node["number"].value())))


def _disabled(node: nuke.Node) -> bool:
    knob = node.knobs().get("disable")
    return bool(knob is not None and knob.value())
