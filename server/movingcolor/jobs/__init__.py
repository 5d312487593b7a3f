"""Jobs: a shot (sources, range, grade, matte, engine, output) planned once and run end to end.

``plan`` decides everything about a shot before a frame is read; ``prepare`` reads and
converts each frame; ``runner`` runs the windows; ``composite`` puts the decided band
into the frame; ``headers`` and ``resume`` say what a frame was made from; ``run``
writes files and ``stream`` hands frames back.
"""

from ..spec import ShotReport, ShotSpec
from .frame_plan import FramePlan, render_range
from .plan import ShotPlan
from .prepare import FramePreparer, PreparedFrame, frame_arrays
from .run import run_plan, run_shot
from .sources import ShotSources
from .stream import ShotStream

__all__ = [
    "FramePlan",
    "FramePreparer",
    "PreparedFrame",
    "ShotPlan",
    "ShotReport",
    "ShotSources",
    "ShotSpec",
    "ShotStream",
    "frame_arrays",
    "render_range",
    "run_plan",
    "run_shot",
]
