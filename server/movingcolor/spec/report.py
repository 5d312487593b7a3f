"""What a fused shot did: one report for people (the log) and scripts (``--json``), in-process or
through a server."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class ShotReport:
    """What a run did; ``to_dict()`` has the keys of ``movingcolor fuse --json``."""

    frames: str
    written: list[str]
    engine: str
    model: str
    band: str
    colorspaces: dict[str, str]
    grade: str
    config: str
    seconds: float
    #: Frames already written for the same inputs and settings, left as they were.
    skipped: list[str] = field(default_factory=list)
    fps: float = field(init=False)
    #: What the run warned of (each once), as its log said it.
    warnings: list[str] = field(default_factory=list)
    #: Through a server: its address and the job's id (empty in-process).
    server: str = ""
    job_id: str = ""

    def __post_init__(self) -> None:
        self.fps = round(len(self.written) / self.seconds, 3) if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        """The report as ``--json`` prints it: where it ran is left out, so a shot run in-process
        and through a server give the same keys."""
        summary = asdict(self)
        for key in ("server", "job_id"):
            summary.pop(key)
        return summary
