"""A labelled grid of pictures: a title, a header per column, a label per row."""

from __future__ import annotations

import numpy as np

from .labels import BACKGROUND, text_cell

GAP = 4
HEADER_HEIGHT = 34
TITLE_LINE_HEIGHT = 22
LABEL_WIDTH = 120


def labelled_grid(
    cells: list[list[np.ndarray]],
    column_labels: list[str],
    row_labels: list[str | np.ndarray],
    title: str = "",
    label_width: int = LABEL_WIDTH,
) -> np.ndarray:
    """``cells[row][column]``, each ``(h, w, 3)`` display-encoded: every cell of a row has
    the row's height, every cell the same width. A row label is text, or a picture
    ``(row height, label_width, 3)`` laid out by the caller. ``title``: lines split at
    ``\\n``. Returns the grid as ``(H, W, 3)`` float32."""
    columns = len(column_labels)
    if any(len(row) != columns for row in cells) or len(row_labels) != len(cells):
        raise ValueError(f"a grid of {len(cells)} rows x {columns} columns needs a label per row and column")
    width = cells[0][0].shape[1]
    heights = [row[0].shape[0] for row in cells]
    title_height = TITLE_LINE_HEIGHT * len(title.split("\n")) + 8 if title else 0
    total_width = label_width + columns * (width + GAP)
    total_height = title_height + HEADER_HEIGHT + sum(h + GAP for h in heights)
    grid = np.empty((total_height, total_width, 3), np.float32)
    grid[:] = BACKGROUND
    if title:
        grid[:title_height] = text_cell(title, total_width, title_height, size=16, align="left")
    top = title_height
    for column, label in enumerate(column_labels):
        left = label_width + column * (width + GAP)
        grid[top : top + HEADER_HEIGHT, left : left + width] = text_cell(label, width, HEADER_HEIGHT, size=20)
    top += HEADER_HEIGHT
    for row, label in zip(cells, row_labels, strict=True):
        height = row[0].shape[0]
        if isinstance(label, str):
            label = text_cell(label, label_width, height, size=16, align="right")
        grid[top : top + height, :label_width] = label
        for column, cell in enumerate(row):
            if cell.shape != (height, width, 3):
                raise ValueError(f"cell {cell.shape} in a row of {height} x {width} cells")
            left = label_width + column * (width + GAP)
            grid[top : top + height, left : left + width] = cell
        top += height + GAP
    return grid
