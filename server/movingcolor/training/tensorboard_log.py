"""Loss and validation curves for TensorBoard, where it is installed.

The run folder's CSV files (``losses.csv``, ``validation.csv``) are always written and
are the record; this is a view of the same numbers for ``tensorboard --logdir RUN``.
"""

from __future__ import annotations

import logging
from pathlib import Path

LOG = logging.getLogger(__name__)
FOLDER = "tensorboard"


class TensorBoardLog:
    """Scalars under ``run/tensorboard``, or nothing when TensorBoard is not installed.

    A resumed run adds a new event file to the same folder; TensorBoard shows the
    segments as one curve, without the steps a killed run logged past its checkpoint (which the
    resumed run makes again; the CSV files lose them too).
    """

    def __init__(self, run: Path, resumed_at: int = 0):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # torch's writer needs the tensorboard package
            self._writer = None
            LOG.debug("tensorboard is not installed: loss curves go to CSV only")
            return
        purge = resumed_at + 1 if resumed_at else None
        self._writer = SummaryWriter(log_dir=str(run / FOLDER), purge_step=purge)

    def scalars(self, group: str, step: int, values: dict[str, float]) -> None:
        """One point per value, named ``group/name`` (e.g. ``loss/total``)."""
        if self._writer is None:
            return
        for name, value in values.items():
            self._writer.add_scalar(f"{group}/{name}", value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
