"""The contact sheet: a column per version, for each picked frame a row of full views
and below it a row of zoomed crops of the edge, the crop framed on the full views."""

from __future__ import annotations

import numpy as np

from .edge_crop import most_different_box, outlined, zoom
from .grid import labelled_grid

ZOOM = 4


def contact_sheet_picture(
    views: dict[str, np.ndarray],
    picks: list[int],
    first_frame: int,
    compare: tuple[str, str],
    title: str = "",
) -> np.ndarray:
    """``views``: ``label: (T, H, W, 3)`` display-encoded frames of each version; ``picks``:
    frame indices to show. Each zoom crops, per frame, the ``1/ZOOM``-size window where
    the two versions named in ``compare`` differ most, so it lands on the edge band
    wherever the object has moved."""
    height, width = next(iter(views.values())).shape[1:3]
    cells: list[list[np.ndarray]] = []
    row_labels: list[str] = []
    for index in picks:
        box = most_different_box(
            views[compare[0]][index], views[compare[1]][index], width // ZOOM, height // ZOOM
        )
        cells.append([outlined(frames[index], box) for frames in views.values()])
        cells.append([zoom(frames[index], box, ZOOM) for frames in views.values()])
        row_labels += [f"frame {first_frame + index}", f"{ZOOM}\u00d7 zoom\n(the box)"]
    return labelled_grid(cells, list(views), row_labels, title=title)
