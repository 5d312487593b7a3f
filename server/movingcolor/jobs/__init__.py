"""Jobs: a shot (sources, range, grade, matte, engine, output) run end to end."""

from .shot import ShotReport, ShotSources, ShotSpec, ShotStream, run_shot

__all__ = ["ShotReport", "ShotSources", "ShotSpec", "ShotStream", "run_shot"]
