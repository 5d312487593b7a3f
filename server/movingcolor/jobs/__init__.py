"""Jobs: a shot (sources, range, grade, matte, engine, output) run end to end."""

from .shot import ShotReport, ShotSpec, run_shot

__all__ = ["ShotReport", "ShotSpec", "run_shot"]
