"""MovingColor: seamless fusion of regional colour grades in video.

The package's top level stays light (no torch) so host bridges can import it.
"""

__version__ = "0.1.0"
