"""docs/quickstart.md, run as written: every shell command and Python snippet of its walk-throughs.

The page's fenced blocks are read by their info string:

- ``sh``: run by bash (``-euo pipefail``) in the reader's home folder;
- ``sh server``: the server the reader leaves running in a second terminal: started in the
  background, waited for until it serves, stopped after the last walk-through;
- ``python``: run by this Python in the reader's home folder;
- ``python nuke``, ``python resolve``: run as in Nuke's Script Editor or Resolve's Console, through
  the stand-ins of their APIs in tests/hosts. Nuke has loaded the plugin from its NUKE_PATH folder;
  Resolve has the practice shot on its timeline (plate on track 1, matte on track 2, the playhead
  over them), as the page's numbered steps put it there;
- ``sh host``: changes a host's or a farm's set-up (an install for a host's Python from PyPI, a
  running Resolve, a Cuebot), so it is not run; its command lines are parsed by the commands' own
  parsers, so a misspelt option still fails here.

The reader's home is a fresh folder (``HOME``), and the page's server address
``unix:///tmp/movingcolor.sock`` becomes a socket inside it, so two runs never meet. After each
walk-through its outputs are checked: the frames it says it writes, and the same pixels wherever
the page says two ways give the same frames.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from movingcolor.cli.main import build_parser
from movingcolor.frames.image_io import read_pixels

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "docs" / "quickstart.md"
HOSTS = ROOT / "tests" / "hosts"
NUKE_PLUGIN = ROOT / "plugin" / "nuke"
RESOLVE_PLUGIN = ROOT / "plugin" / "resolve"

#: The server address the page gives; each run serves on a socket in its own home instead.
PAGE_ADDRESS = "unix:///tmp/movingcolor.sock"
SETUP = "Before you start"
WALKTHROUGHS = (
    "An artist in Nuke",
    "An artist in DaVinci Resolve",
    "A pipeline TD scripting shots",
    "A render-farm wrangler",
)
#: Frames each walk-through writes, by glob under the reader's home.
WRITES = {
    SETUP: {"movingcolor-demo/plate/plate.*.exr": 6, "movingcolor-demo/matte/matte.*.png": 6},
    "An artist in Nuke": {"movingcolor-demo/nuke/shot.*.exr": 6},
    "An artist in DaVinci Resolve": {"MovingColor/*/*/*.exr": 6},
    "A pipeline TD scripting shots": {
        "movingcolor-demo/td/shot.*.exr": 6,
        "movingcolor-demo/td-python/shot.*.exr": 3,
        "movingcolor-demo/td-server/shot.*.exr": 6,
        "movingcolor-demo/td-cli-server/shot.*.exr": 6,
    },
    "A render-farm wrangler": {
        "movingcolor-demo/opencue/shot.*.exr": 3,
        "movingcolor-demo/openjd/shot.*.exr": 6,
    },
}
#: Folders whose common frames the page says are the same (in-process and through the server;
#: one chunk and the whole shot).
SAME_FRAMES = {
    "A pipeline TD scripting shots": ("td", "td-python", "td-server", "td-cli-server"),
    "A render-farm wrangler": ("openjd", "opencue"),
}
#: The docs a newcomer reads first, whose links and figures are checked here too.
FIRST_HOUR_DOCS = ("README.md", "docs/quickstart.md", "docs/farm.md", "docs/model.md")
#: A number with a unit of time, speed or memory: what the benchmarks measure.
SPEED_FIGURE = re.compile(
    r"\b\d[\d.,]*\s*(?:ms|s|seconds?|s/frame|fps|frames\s+per\s+second|[KMG]iB|[KMG]B/s)\b(?!\.\w)"
)
#: What a --dry-run on the page must not have created.
UNTOUCHED = {
    "An artist in Nuke": (".nuke",),
    "An artist in DaVinci Resolve": (".local/share/DaVinciResolve", ".local/share/movingcolor"),
}

_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_SERVING = re.compile(r"\bserving address=")

NUKE_SESSION = f"""
import sys
sys.path[:0] = [{str(HOSTS)!r}, {str(NUKE_PLUGIN)!r}]
import nuke  # the stand-in
for script in ("init.py", "menu.py"):  # what Nuke runs from a NUKE_PATH folder
    path = {str(NUKE_PLUGIN)!r} + "/" + script
    exec(compile(open(path).read(), path, "exec"), {{"__name__": "__main__"}})
"""
RESOLVE_SESSION = f"""
import os
import sys
sys.path[:0] = [{str(HOSTS)!r}, {str(RESOLVE_PLUGIN)!r}]
import resolve_app  # the stand-in

app = resolve_app.Resolve()
pool = app.GetProjectManager().GetCurrentProject().GetMediaPool()
timeline = pool.CreateEmptyTimeline("Practice")
timeline.AddTrack("video")
demo = os.path.expanduser("~/movingcolor-demo")
for track, media in ((1, demo + "/plate/plate.%04d.exr"), (2, demo + "/matte/matte.%04d.png")):
    (item,) = pool.ImportMedia([{{"FilePath": media, "StartIndex": 1001, "EndIndex": 1006}}])
    pool.AppendToTimeline([{{"mediaPoolItem": item, "startFrame": 0, "endFrame": 5, "trackIndex": track,
                            "recordFrame": 86400, "mediaType": 1}}])
timeline.SetCurrentTimecode("01:00:00:02")
resolve_app.current = app
"""
RESOLVE_TRACKS = """
names = [timeline.GetTrackName("video", n) for n in range(1, timeline.GetTrackCount("video") + 1)]
print("video tracks:", names)
"""
SESSIONS = {"nuke": (NUKE_SESSION, ""), "resolve": (RESOLVE_SESSION, RESOLVE_TRACKS)}


@dataclass(frozen=True)
class Block:
    """One fenced block of the page: its language, its marker (``server``, ``host``, ``nuke``,
    ``resolve`` or none), its text and the line it starts on."""

    language: str
    marker: str
    code: str
    line: int

    @property
    def label(self) -> str:
        return f"docs/quickstart.md:{self.line}"

    @property
    def kind(self) -> str:
        return f"{self.language} {self.marker}".strip()


def page_sections() -> dict[str, list[Block]]:
    """The page's blocks under each of its ``##`` headings, in order."""
    text = QUICKSTART.read_text()
    headings = [(m.start(), m.group(1).strip()) for m in re.finditer(r"^## (.+)$", text, re.MULTILINE)]
    sections: dict[str, list[Block]] = {title: [] for _, title in headings}
    for match in _FENCE.finditer(text):
        words = match.group(1).split()
        language, marker = (words + ["", ""])[:2]
        line = text.count("\n", 0, match.start()) + 1
        above = [title for start, title in headings if start < match.start()]
        assert above, f"docs/quickstart.md:{line}: a block above the first section"
        sections[above[-1]].append(Block(language, marker, match.group(2), line))
    return sections


def for_this_run(code: str, home: Path) -> str:
    return code.replace(PAGE_ADDRESS, f"unix://{home}/mc.sock")


@dataclass
class Reader:
    """The reader's machine: a home folder, an environment, and a place for snippet files."""

    home: Path
    env: dict[str, str]
    scratch: Path

    def run(self, block: Block) -> str:
        """Run ``block`` as the page says; its output, or a failure that shows it."""
        code = for_this_run(block.code, self.home)
        if block.language == "sh":
            command = ["bash", "-euo", "pipefail", "-c", code]
        else:
            script = self.scratch / f"block_{block.line}.py"
            before, after = SESSIONS.get(block.marker, ("", ""))
            namespace = "namespace = {'__name__': '__main__'}\n"
            run = f"exec(compile({code!r}, {block.label!r}, 'exec'), namespace)\n"
            script.write_text(before + namespace + run + after)
            command = [sys.executable, str(script)]
        result = subprocess.run(
            command, cwd=self.home, env=self.env, capture_output=True, text=True, timeout=300
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, (
            f"{block.label} ({block.kind}) exited {result.returncode}:\n{output[-4000:]}"
        )
        return output


class PageServer:
    """The page's ``sh server`` block, running in the background as in the reader's second terminal."""

    def __init__(self, block: Block, reader: Reader):
        code = for_this_run(block.code, reader.home).strip()
        assert "\n" not in code, f"{block.label}: a server block holds one command"
        self.process = subprocess.Popen(
            ["bash", "-c", f"exec {code}"],
            cwd=reader.home,
            env=reader.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: list[str] = []
        self.serving = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.serving.wait(120):
            self.stop()
            raise AssertionError(f"{block.label}: the server did not start:\n" + "".join(self.log[-20:]))

    def _read(self) -> None:
        for line in self.process.stderr:
            self.log.append(line)
            if _SERVING.search(line):
                self.serving.set()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def check_host_block(block: Block) -> None:
    """Parse each command of a block that is not run, with that command's own parser."""
    sys.path[:0] = [str(RESOLVE_PLUGIN)]
    try:
        from movingcolor_resolve.cli import parse_args as resolve_parse_args
    finally:
        sys.path.remove(str(RESOLVE_PLUGIN))
    for command in block.code.replace("\\\n", " ").splitlines():
        words = shlex.split(command, comments=True)
        if not words:
            continue
        try:
            if words[0] == "movingcolor":
                build_parser().parse_args(words[1:])
            elif words[:3] == ["python3", "-m", "movingcolor_resolve"]:
                resolve_parse_args(words[3:])
            else:
                pytest.fail(f"{block.label}: no parser known for the host-side command {command!r}")
        except SystemExit as exit:
            pytest.fail(f"{block.label}: {command!r} does not parse (exit {exit.code})")


def count_frames(home: Path, section: str) -> dict[str, int]:
    return {pattern: len(list(home.glob(pattern))) for pattern in WRITES.get(section, {})}


def check_same_frames(home: Path, folders: tuple[str, ...]) -> None:
    frames = {name: {p.name: p for p in (home / "movingcolor-demo" / name).glob("*.exr")} for name in folders}
    first, *others = folders
    for other in others:
        common = sorted(frames[first].keys() & frames[other].keys())
        assert common, (first, other)
        for name in common:
            a, b = read_pixels(frames[first][name]), read_pixels(frames[other][name])
            assert np.array_equal(a, b), f"{first}/{name} and {other}/{name} differ"


def test_every_block_is_run_or_marked_host_side():
    sections = page_sections()
    assert list(sections) == [SETUP, *WALKTHROUGHS]
    text = QUICKSTART.read_text()
    # Every fence starts a line, so every block is one the runner reads.
    assert sum(len(blocks) for blocks in sections.values()) * 2 == len(re.findall(r"^\s*```", text, re.M))
    for blocks in sections.values():
        for block in blocks:
            assert block.kind in {"sh", "sh server", "sh host", "python", "python nuke", "python resolve"}, (
                f"{block.label}: ```{block.kind} is neither run here nor marked host-side"
            )
    assert [b.kind for b in sections[SETUP]].count("sh server") == 1
    for title in WALKTHROUGHS:
        assert any(b.marker != "host" for b in sections[title]), f"{title}: nothing in it runs"


def _slug(heading: str) -> str:
    """A heading's anchor, as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    prose = _FENCE.sub("", path.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", prose, re.MULTILINE)}


@pytest.mark.parametrize("doc", FIRST_HOUR_DOCS)
def test_links_resolve(doc):
    """Every relative link of the first-hour docs reaches a file, and a heading where it names one
    (the figures they link to in BENCHMARKS.md among them)."""
    path = ROOT / doc
    prose = _FENCE.sub("", path.read_text())
    for target in re.findall(r"\]\(([^)\s]+)\)", prose):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{doc}: link to {target}: no such file"
        if anchor:
            assert anchor in _anchors(linked), f"{doc}: link to {target}: no such heading"


@pytest.mark.parametrize("doc", FIRST_HOUR_DOCS)
def test_speed_figures_are_only_linked(doc):
    """Speed and memory figures live in BENCHMARKS.md, written by the benchmarks; the docs link
    to its sections rather than quote numbers that go stale."""
    prose = _FENCE.sub("", (ROOT / doc).read_text())
    typed = re.findall(SPEED_FIGURE, prose)
    assert not typed, f"{doc} quotes {typed}: link to the BENCHMARKS.md section instead"


def test_host_side_commands_parse():
    for blocks in page_sections().values():
        for block in blocks:
            if block.marker == "host":
                check_host_block(block)


@pytest.fixture(scope="module")
def reader(tmp_path_factory) -> Iterator[Reader]:
    """The reader after *Before you start*: MovingColor installed, the practice shot in their home
    and a server running."""
    # A short path: the server's Unix socket lives in it.
    home = Path(tempfile.mkdtemp(prefix="qs-", dir="/tmp"))
    scripts = sysconfig.get_path("scripts")  # movingcolor, openjd and this python3, as installed
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MOVINGCOLOR_", "XDG_", "OCIO", "NUKE_PATH", "CUEBOT"))
    }
    env.update(HOME=str(home), PATH=f"{scripts}{os.pathsep}{env.get('PATH', '')}")
    reader = Reader(home, env, tmp_path_factory.mktemp("snippets"))
    server = None
    try:
        for block in page_sections()[SETUP]:
            if block.kind == "sh server":
                server = PageServer(block, reader)
            else:
                reader.run(block)
        assert count_frames(home, SETUP) == WRITES[SETUP]
        yield reader
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("title", WALKTHROUGHS)
def test_walkthrough_runs_as_written(reader, title):
    if title == "A render-farm wrangler":
        pytest.importorskip("outline", reason="submit-opencue needs opencue-pyoutline (the dev extra)")
        if shutil.which("openjd", path=reader.env["PATH"]) is None:
            pytest.skip("openjd-cli is not installed (the dev extra)")
    outputs = []
    for block in page_sections()[title]:
        if block.marker == "host":
            continue
        assert block.kind != "sh server", f"{block.label}: one server, started in {SETUP!r}"
        outputs.append(reader.run(block))

    assert count_frames(reader.home, title) == WRITES[title]
    if title in SAME_FRAMES:
        check_same_frames(reader.home, SAME_FRAMES[title])
    for path in UNTOUCHED.get(title, ()):
        assert not (reader.home / path).exists(), f"a --dry-run created ~/{path}"
    if title == "An artist in DaVinci Resolve":
        # The fused clip went onto a new track named MovingColor, above the plate and the matte.
        assert "video tracks: ['Video 1', 'Video 2', 'MovingColor']" in "".join(outputs), outputs
