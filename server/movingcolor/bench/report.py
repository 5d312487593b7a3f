"""BENCHMARKS.md: one ``## `` section per benchmark, each replaced on its own, and the
machine description every section carries so figures stay comparable."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import itertools
import json
import logging
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .. import __version__
from ..frames.temporaries import write_text_atomic

log = logging.getLogger("movingcolor")


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def cpu_name() -> str:
    # platform.processor() is empty on most Linux systems; the model name is what makes figures comparable.
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_label(device: str) -> str | None:
    """The GPU a ``cuda`` run used, for :func:`machine_lines` (``None`` for the CPU, which the
    machine line already names)."""
    if not device.startswith("cuda"):
        return None
    try:
        import torch

        return f"{torch.cuda.get_device_name(torch.device(device))} (CUDA {torch.version.cuda})"
    except Exception:  # noqa: BLE001 - a label only: the run itself has already succeeded
        return device


def machine_lines(packages: tuple[tuple[str, str], ...], device: str | None = None) -> list[str]:
    """Markdown bullet lines: machine, software versions, date."""
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    versions = ", ".join(f"{label} {package_version(name)}" for label, name in packages)
    lines = [
        f"- Machine: {cpu_name()} ({platform.machine()}), {cores} cores"
        + (f" ({usable} usable)" if usable and usable != cores else "")
        + f", {platform.system()} {platform.release()}",
    ]
    if device:
        lines.append(f"- Device: {device}")
    lines += [
        f"- Software: movingcolor {__version__}, Python {sys.version.split()[0]}, {versions}",
        f"- Date: {datetime.date.today().isoformat()}",
    ]
    return lines


def _split_sections(text: str) -> tuple[str, list[str]]:
    """The text before the first ``## `` heading, and each ``## `` section (fenced code is not split)."""
    head: list[str] = []
    sections: list[list[str]] = []
    fenced = False
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if line.startswith("## ") and not fenced:
            sections.append([])
        (sections[-1] if sections else head).append(line)
    return "".join(head), ["".join(s) for s in sections]


#: A section's hand-written text sits between these two lines. A benchmark that rewrites its section
#: keeps each such block under the same ``### `` heading as before (the section's own text when it
#: had none), after that part's generated text: a rerun replaces figures, not the prose about them.
NOTES_START = "<!-- notes: kept when the benchmark rewrites this section -->"
NOTES_END = "<!-- end of notes -->"


def _parts(section: str) -> list[tuple[str, list[str]]]:
    """``section``'s lines split at its ``### `` headings (fenced code is not split): each part's
    heading (the section's own title for the first) and lines."""
    parts: list[tuple[str, list[str]]] = []
    fenced = False
    lines = section.splitlines(keepends=True)
    # A heading inside a notes block is the notes' own: split there, the text after it would be
    # taken for generated text and dropped. A block left open ends at the next heading, as before.
    noted = _in_closed_notes(lines)
    for index, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not parts or (line.startswith("### ") and not fenced and not noted[index]):
            parts.append((line.strip(), []))
        parts[-1][1].append(line)
    return parts


def _in_closed_notes(lines: list[str]) -> list[bool]:
    """For each of ``lines``, whether it lies inside a notes block that is closed (its end marker
    comes before the next block's start)."""
    inside = [False] * len(lines)
    marks = [
        (index, line.strip()) for index, line in enumerate(lines) if line.strip() in (NOTES_START, NOTES_END)
    ]
    for (start, mark), (end, following) in itertools.pairwise(marks):
        if mark == NOTES_START and following == NOTES_END:
            inside[start : end + 1] = [True] * (end + 1 - start)
    return inside


def _notes(lines: list[str]) -> tuple[list[str], list[str]]:
    """``lines`` without their notes blocks, and the blocks (each with its marker lines)."""
    kept: list[str] = []
    notes: list[str] = []
    inside = False
    for line in lines:
        if line.strip() == NOTES_START:
            inside = True
        if inside:
            notes.append(line)
        else:
            kept.append(line)
        if inside and line.strip() == NOTES_END:
            inside = False
    if inside:
        # Kept to the part's end and closed: a long benchmark must not fail, nor drop text, at its
        # last step over a missing marker.
        log.warning("a notes block in BENCHMARKS.md was not closed: closed at the end of its part")
        while not notes[-1].strip():
            notes.pop()
        notes = [*notes[:-1], notes[-1].rstrip("\n") + "\n", NOTES_END + "\n"]
    return kept, notes


def _with_notes(section: str, old: str) -> str:
    """The new ``section`` with the notes blocks of its ``old`` version, each under the heading it
    was under (at the end when the new section has no such heading: nothing is dropped)."""
    notes: dict[str, list[str]] = {}
    for heading, lines in _parts(old):
        found = _notes(lines)[1]
        if found:
            notes.setdefault(heading, []).extend(found)
    if not notes:
        return section
    parts = []
    for heading, lines in _parts(section):
        text = "".join(_notes(lines)[0])  # a generated section carries none of its own
        parts.append(_block_after(text, notes.pop(heading)) if heading in notes else text)
    text = "".join(parts)
    for block in notes.values():
        text = _block_after(text, block)
    return text


def _block_after(text: str, block: list[str]) -> str:
    """``text`` and then ``block``, a blank line before and after it."""
    body = text.rstrip("\n")
    return (body + "\n\n" if body else "") + "".join(block).rstrip("\n") + "\n\n"


def replace_section(path: Path, section: str) -> None:
    """Write ``section`` (starting with its ``## `` title) into ``path``, replacing the
    section of the same title and keeping every other one, and the replaced section's notes
    blocks (``NOTES_START`` to ``NOTES_END``, hand-written text) under their headings.

    Written to a temporary file in the same folder and renamed, so an interrupted run
    never leaves a half-written file behind.
    """
    path = Path(path)
    title = section.splitlines()[0].strip()
    head, sections = _split_sections(path.read_text(encoding="utf-8")) if path.exists() else ("", [])
    if not head.strip():
        head = "# Benchmarks\n\n"
    same = [s.splitlines()[0].strip() == title for s in sections]
    replaced = [_with_notes(section, s) if match else s for s, match in zip(sections, same, strict=True)]
    if not any(same):
        replaced.append(section)
    body = head.rstrip("\n") + "\n\n" + "\n".join(s.rstrip("\n") + "\n" for s in replaced)
    write_text_atomic(path, body)


def unfinished_figures(figures: Path) -> Path:
    """Where a benchmark keeps rows not yet reported, beside ``figures`` (JSON): the figures file
    itself is replaced only with the report's section, so that the two always tell of the same
    runs."""
    return figures.with_name(f"{figures.stem}.unfinished{figures.suffix}")


def report_with_figures(out: Path | None, section: str, figures: Path | None, rows) -> None:
    """``section`` into the report ``out`` (printed where None) and ``rows`` as the JSON
    ``figures`` (where given), the figures taking the place of the last ones only once the section
    is written: a report that cannot be written leaves both as they were."""
    unfinished = unfinished_figures(figures) if figures is not None else None
    if unfinished is not None:
        write_rows_json(unfinished, rows)
    if out:
        replace_section(out, section)
    else:
        print(section)
    if unfinished is not None:
        os.replace(unfinished, figures)


def write_rows_json(path: Path, rows) -> None:
    """A benchmark's rows (dataclasses) as a JSON list in ``path``, its folder made, written
    atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps([dataclasses.asdict(row) for row in rows], indent=2) + "\n")


def reproduce_command(
    program: str,
    chosen: Mapping[str, object],
    defaults: Mapping[str, object],
    names: Mapping[str, str] | None = None,
) -> str:
    """The command a section says reproduces its run: ``program`` and each option of ``chosen``
    whose value is not its ``defaults``' one (an option without a default is shown whenever it is
    set), in ``chosen``'s order, as typed: ``--name value``, a flag alone for True, a float as
    ``%g``. ``names``: what ``program`` calls an option, where that is not its own name."""
    parts = [program]
    for option, value in chosen.items():
        if value is None or value is False or (option in defaults and value == defaults[option]):
            continue
        flag = "--" + (names or {}).get(option, option).replace("_", "-")
        if value is True:
            parts.append(flag)
        else:
            parts.append(f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}")
    return " ".join(parts)


def command_of(
    program: str,
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    options: Sequence[str],
    names: Mapping[str, str] | None = None,
) -> str:
    """:func:`reproduce_command` for a run of ``parser``'s ``args``: ``options`` that differ from the
    parser's defaults."""
    return reproduce_command(
        program,
        {option: getattr(args, option) for option in options},
        {option: parser.get_default(option) for option in options},
        names,
    )
