"""A ``movingcolor serve`` subprocess, started and stopped from Python (tests, benchmarks, pipeline checks).

    with ServerProcess("unix:///tmp/mc.sock") as server:
        connect(server.address) ...

The process logs a ``serving`` event with its address once it listens (as text or JSON); port 0 is replaced by
the port it bound. Its log is kept (``server.log``) for messages on failure.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import MovingColorError

_SERVING = re.compile(r"\bserving address=(\S+)")


class ServerProcess:
    """``python -m movingcolor.cli.main serve --address ADDRESS *args`` in a child process."""

    def __init__(
        self,
        address: str,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        start_timeout: float = 60.0,
    ):
        self.requested = address
        self.args = [str(a) for a in args]
        self.env = env
        self.start_timeout = start_timeout
        self.address = ""
        self.log: list[str] = []
        self.process: subprocess.Popen | None = None
        self._ready = threading.Event()

    def start(self) -> ServerProcess:
        command = [
            sys.executable,
            "-m",
            "movingcolor.cli.main",
            "serve",
            "--address",
            self.requested,
            *self.args,
        ]
        self.log, self.address = [], ""
        self._ready.clear()
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(self.env or {})},
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        deadline = time.monotonic() + self.start_timeout
        while not self._ready.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise MovingColorError(
                    f"movingcolor serve --address {self.requested} did not start: "
                    + " | ".join(self.log[-5:])
                )
        return self

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stderr:
            self.log.append(line.rstrip("\n"))
            if self._ready.is_set():
                continue
            if line.startswith("{"):  # --log-format json
                record = json.loads(line)
                address = record.get("address") if record.get("event") == "serving" else None
            else:
                match = _SERVING.search(line)
                address = match.group(1).strip('"') if match else None
            if address:
                self.address = address
                self._ready.set()

    def wait_for(self, *names: str, timeout: float = 30.0) -> bool:
        """Wait until the server has logged one of the events ``names`` (as text or JSON); False when
        it has not within ``timeout`` seconds or it exited first."""
        alternatives = "|".join(re.escape(name) for name in names)
        pattern = re.compile(rf'^movingcolor: (?:{alternatives})\b|"event": "(?:{alternatives})"')
        deadline = time.monotonic() + timeout
        while not any(pattern.search(line) for line in list(self.log)):
            if not self.running() or time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def wait_for_warm_up(self, timeout: float = 60.0) -> bool:
        """Wait until the server has done its warm-up (or logged that it failed): for a measurement
        of a server that is ready, as one started before the day's work is. False when it has not
        within ``timeout`` seconds (a server started with ``--no-warm-up`` never does)."""
        return self.wait_for("warmed", "warm_up.failed", timeout=timeout)

    def events(self) -> list[dict]:
        """The log's JSON records (a server started with --log-format json)."""
        return [json.loads(line) for line in list(self.log) if line.startswith("{")]

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss_bytes(self) -> int:
        """Resident memory of the server process now."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise MovingColorError(f"no VmRSS for process {self.pid}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (a clean shutdown), then SIGKILL if it has not exited within ``timeout``."""
        if not self.running():
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def kill(self) -> int:
        """SIGKILL: the server dies at once, as in a crash or an out-of-memory kill."""
        if self.running():
            self.process.kill()
        return self.process.wait() if self.process else 0

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
