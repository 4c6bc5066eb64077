"""The values of a 9 x 9 box of one read around a pixel: the pixel table (Qt-free job).

Like DS9's Pixel Table: the numbers around the cursor (or the selected
pixel) at the frame on screen, of the data kind shown (raw or calibrated),
with the pixel-DQ flags.  The job reads only the box, through the
exposure's region read (:meth:`processing.io.Exposure.frame_region`), so
over S3 it fetches one row band of one read and never runs on the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Half-size of the table: 4 gives DS9's 9 x 9.
TABLE_HALF = 4


@dataclass(frozen=True)
class PixelTableRequest:
    """Everything the job reads.

    Attributes
    ----------
    dataset_id : int
        Tag of the exposure (a result for another one is dropped).
    source : frame source
        ``frame_region(k, y0, y1, x0, x1)`` of the data kind shown (raw
        exposure or calibrated ramp), DN.
    kind : {"raw", "calibrated"}
    frame : int
        Read ``k``.
    row, col : int
        Centre pixel.
    frame_shape : (H, W)
    pixeldq : (H, W) uint32 or None, read-only
        Pixel DQ of the exposure (the mask reference, or the ramp's own).
    superbias : (H, W) float32 or None, read-only
        Subtracted from the values when given (the raw pane's "- superbias").
    half : int
        Box half-size, pixels (the table is ``2 half + 1`` square).
    """

    dataset_id: int
    source: Any
    kind: str
    frame: int
    row: int
    col: int
    frame_shape: tuple[int, int]
    pixeldq: np.ndarray | None = None
    superbias: np.ndarray | None = None
    half: int = TABLE_HALF


@dataclass(frozen=True, eq=False)
class PixelTable:
    """Values of a ``(2 half + 1)`` square box centred on (row, col), one read.

    Cell ``[i, j]`` is data pixel ``(row - half + i, col - half + j)``.

    Attributes
    ----------
    dataset_id, kind, frame, row, col, half : as requested
    values : (n, n) float64, DN
        NaN off the detector (``inside`` False) and where the data is NaN.
    inside : (n, n) bool
        The cell is a pixel of the detector.
    dq : (n, n) int64
        Pixel DQ (0 off the detector or when unknown).
    superbias_subtracted : bool
    """

    dataset_id: int
    kind: str
    frame: int
    row: int
    col: int
    half: int
    values: np.ndarray
    inside: np.ndarray
    dq: np.ndarray
    superbias_subtracted: bool = False

    def pixel(self, i: int, j: int) -> tuple[int, int]:
        """Data (row, col) of cell ``[i, j]``."""
        return self.row - self.half + i, self.col - self.half + j

    def value_at(self, row: int, col: int) -> float | None:
        """The value of data pixel (row, col) if it is in the table (NaN stays NaN), else None."""
        i, j = row - self.row + self.half, col - self.col + self.half
        n = 2 * self.half + 1
        if not (0 <= i < n and 0 <= j < n) or not self.inside[i, j]:
            return None
        return float(self.values[i, j])

    @property
    def flagged(self) -> np.ndarray:
        """(n, n) bool: pixel DQ != 0."""
        return self.dq != 0


def pixel_table_job(req: PixelTableRequest) -> PixelTable:
    """Read the box of read ``req.frame`` around (row, col) (clipped at the detector's edges)."""
    h, w = req.frame_shape
    half = int(req.half)
    n = 2 * half + 1
    y0, x0 = req.row - half, req.col - half
    cy0, cy1 = max(0, y0), min(h, y0 + n)
    cx0, cx1 = max(0, x0), min(w, x0 + n)
    values = np.full((n, n), np.nan)
    inside = np.zeros((n, n), bool)
    dq = np.zeros((n, n), np.int64)
    if cy1 > cy0 and cx1 > cx0:
        box = np.asarray(req.source.frame_region(req.frame, cy0, cy1, cx0, cx1), np.float64)
        if req.superbias is not None:
            box = box - np.asarray(req.superbias[cy0:cy1, cx0:cx1], np.float64)
        cells = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
        values[cells] = box
        inside[cells] = True
        if req.pixeldq is not None:
            dq[cells] = np.asarray(req.pixeldq[cy0:cy1, cx0:cx1], np.int64)
    for a in (values, inside, dq):
        a.flags.writeable = False
    return PixelTable(req.dataset_id, req.kind, req.frame, req.row, req.col, half, values, inside, dq,
                      req.superbias is not None)
