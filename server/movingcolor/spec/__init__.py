"""What a shot is asked to be: its settings and their rules, light enough for every client and host."""

from .band_width import BandWidth
from .report import ShotReport
from .schema import ShotSpec

__all__ = ["BandWidth", "ShotReport", "ShotSpec"]
