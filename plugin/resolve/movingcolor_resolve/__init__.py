"""MovingColor for DaVinci Resolve: fuse timeline items on a MovingColor server.

For each item: render its plate (and its matte: the plate's alpha with
ExportAlpha, or a matte clip on another track; optionally a graded version on
another track), send the frames to ``movingcolor serve``, import the fused EXR
sequence into the media pool and place it on a new video track above the item,
at the same record frame. From Resolve's Workspace > Scripts menu
(``MovingColor.py``) or a command line (``python -m movingcolor_resolve``)::

    import DaVinciResolveScript
    from movingcolor_resolve import fuse_items, load_settings, current_items

    resolve = DaVinciResolveScript.scriptapp("Resolve")
    settings = load_settings()                    # environment, then the settings file
    for report in fuse_items(resolve, current_items(resolve), settings):
        print(report.item, report.fused)
"""

from .bridge import FusedItem, fuse_items
from .settings import ResolveSettings, load_settings
from .timeline import current_items, track_items

__all__ = ["FusedItem", "ResolveSettings", "current_items", "fuse_items", "load_settings", "track_items"]
