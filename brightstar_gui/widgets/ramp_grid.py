"""The 3 x 3 neighbour ramps: nine cells of one plot on ONE shared DN scale, axes labelled.

One plot, not nine: nine view boxes cost nine layouts and paints per click.
The cells share the y scale (the lowest and highest DN of all nine ramps),
so a saturated neighbour reads as higher than a faint one; the left axis is
labelled in DN once (on the bottom row of cells: the same scale holds for
all), the top axis numbers the columns and the right axis the rows.  Nothing is a TextItem (axis tick labels only change
when the pixel does), and no auto-range pass runs: the range is fixed.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

#: A cell is 1 x 1 in plot units; cells are this far apart.
PITCH = 1.18
GOOD_PEN = pg.mkPen(90, 170, 255, width=1.5)
SAT_PEN = pg.mkPen(230, 40, 40, width=2.5)


def compact(v: float) -> str:
    """A short DN label: 812, 12.3k, 61k."""
    a = abs(v)
    if a >= 100_000:
        return f"{v / 1000:.0f}k"
    if a >= 10_000:
        return f"{v / 1000:.1f}k"
    return f"{v:.0f}"


class NeighbourGrid(pg.PlotWidget):
    """The selected pixel's 3 x 3 neighbourhood, the higher row on top (as the image panes, y up).

    Attributes
    ----------
    scale : (lo, hi) DN
        The shared scale of the last :meth:`set_ramps` (every cell maps lo..hi to 0..1).
    cells : dict (r, c) -> (x, y) arrays or None
        What each cell draws, in plot units (None: outside the frame).
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("#202124")
        self.setMenuEnabled(False)
        self.hideButtons()
        self.setMouseEnabled(False, False)
        item = self.getPlotItem()
        for name in ("top", "right"):
            item.showAxis(name)
        item.setLabel("left", "DN, every cell")
        item.setLabel("top", "col")
        item.setLabel("right", "row")
        item.getAxis("right").setWidth(52)  # "4095" and the label fit (a tick label that does not is dropped)
        item.getAxis("left").setWidth(60)  # "63.6k" and the rotated label side by side (48 px overlapped them)
        item.setLabel("bottom", "read")
        # A title spanning the axes' columns cannot widen the plot past its view.
        self.setTitle("3 x 3 neighbours (red: saturated)", size="8pt")  # short: the dock can be narrow
        item.layout.removeItem(item.titleLabel)
        item.layout.addItem(item.titleLabel, 0, 0, 1, 3)
        for name in ("left", "bottom", "top", "right"):
            item.getAxis(name).setStyle(tickFont=None, tickTextOffset=2)
        self.good = pg.PlotCurveItem(pen=GOOD_PEN, connect="finite")
        self.sat = pg.PlotCurveItem(pen=SAT_PEN, connect="finite")
        # The selected pixel's cell is framed (static: drawn once).
        x0, y0 = PITCH - 0.04, PITCH - 0.04
        self.frame_box = pg.PlotCurveItem([x0, x0 + 1.08, x0 + 1.08, x0, x0], [y0, y0, y0 + 1.08, y0 + 1.08, y0],
                                          pen=pg.mkPen(255, 255, 255, 110, width=1))
        for it in (self.frame_box, self.good, self.sat):
            self.addItem(it)
        span = 2 * PITCH + 1
        item.getViewBox().setRange(xRange=(-0.12, span + 0.06), yRange=(-0.08, span + 0.06), padding=0)
        item.getViewBox().disableAutoRange()
        self.scale: tuple[float, float] = (0.0, 1.0)
        self.cells: dict = {}
        self._ticks_key = None
        self.setMinimumWidth(220)

    def set_ramps(self, values: np.ndarray, sat: np.ndarray | None, rr: int, cc: int, r0: int, c0: int,
                  x_end: tuple[str, str]) -> None:
        """Draw the nine ramps around box index (rr, cc).

        Parameters
        ----------
        values : (N, h, w) array, DN
            The 3 x 3 box (clipped at frame edges).
        sat : (N, h, w) bool or None
        rr, cc : int
            The selected pixel inside the box; ``r0, c0`` the box's frame origin.
        x_end : (str, str)
            Labels of the first and last read under each cell (reads or seconds).
        """
        n, h, w = values.shape
        cells = {}
        for r in range(3):
            for c in range(3):
                gr, gc = rr + r - 1, cc + c - 1
                cells[(r, c)] = (gr, gc) if 0 <= gr < h and 0 <= gc < w else None
        inside = [values[:, gr, gc] for gr, gc in (v for v in cells.values() if v is not None)]
        stack = np.asarray(inside, np.float64)
        lo, hi = float(np.nanmin(stack)), float(np.nanmax(stack))
        if not hi > lo:
            lo, hi = lo - 1.0, hi + 1.0
        self.scale = (lo, hi)
        xs = np.linspace(0.0, 1.0, n)
        good_x, good_y, sat_x, sat_y = [], [], [], []
        self.cells = {}
        for (r, c), where in cells.items():
            if where is None:
                self.cells[(r, c)] = None
                continue
            gr, gc = where
            px = c * PITCH + xs
            py = r * PITCH + (values[:, gr, gc].astype(np.float64) - lo) / (hi - lo)
            self.cells[(r, c)] = (px, py)
            s_mask = sat[:, gr, gc] if sat is not None else np.zeros(n, bool)
            # The segment into the first saturated read is red too.
            red = s_mask | np.append(s_mask[1:], False)
            good_x += [px, [np.nan]]
            good_y += [np.where(s_mask, np.nan, py), [np.nan]]
            sat_x += [px, [np.nan]]
            sat_y += [np.where(red, py, np.nan), [np.nan]]
        self.good.setData(np.concatenate(good_x), np.concatenate(good_y))
        self.sat.setData(np.concatenate(sat_x), np.concatenate(sat_y))
        self._set_ticks(lo, hi, r0 + rr, c0 + cc, x_end)

    def _set_ticks(self, lo, hi, row, col, x_end) -> None:
        key = (compact(lo), compact(hi), row, col, x_end)
        if key == self._ticks_key:
            return  # same labels: the axes keep their cached pictures
        self._ticks_key = key
        item = self.getPlotItem()
        mid = 0.5 * (lo + hi)
        # One scale for every cell: labelled once, on the bottom row of cells
        # (labels on all three rows would collide at a dock's height).
        left = [(f, compact(v)) for f, v in ((0.0, lo), (0.5, mid), (1.0, hi))]
        item.getAxis("left").setTicks([left, []])
        # The x scale is the same in every cell too: labelled under the left column
        # (the ends of adjacent cells would run together: "54" "0" reads "540").
        bottom = [(0.0, x_end[0]), (1.0, x_end[1])]
        item.getAxis("bottom").setTicks([bottom, []])
        # Bare numbers under axis labels "col" and "row": "col 1919" over a narrow
        # cell does not fit, and pyqtgraph drops a label that does not.
        item.getAxis("top").setTicks([[(c * PITCH + 0.5, f"{col + c - 1}") for c in range(3)], []])
        # Row r - 1 at the bottom, r + 1 on top: the panes draw y upwards (rows 1885..1915
        # from bottom to top), and so does the pixel table.
        item.getAxis("right").setTicks([[(r * PITCH + 0.5, f"{row + r - 1}") for r in range(3)], []])

    def clear_ramps(self) -> None:
        self.good.setData([], [])
        self.sat.setData([], [])
        self.cells = {}
