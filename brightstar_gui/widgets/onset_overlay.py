"""Contours of the onset map over the raw pane: the area saturated by each chosen read.

A layer of items added to the raw pane's plot (:class:`~.panes.PaneGroup`
is not changed): one curve per read, its closed outlines joined with NaN
breaks, and a label.  It is the controller's ``onset_overlay`` view
(:class:`~brightstar_gui.controllers._protocols.OnsetOverlayView`).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

#: Contour colours by position among the chosen reads: bright on the raw pane's colour maps.
CONTOUR_COLORS = ((0, 255, 255), (255, 0, 255), (170, 255, 0), (255, 255, 255), (255, 160, 0), (120, 160, 255))


class ContourLayer:
    """Outlines drawn on ``plot`` (the raw pane's PlotItem), in frame pixel coordinates."""

    def __init__(self, plot):
        self.plot = plot
        self.items: list = []
        self.curves: dict[int, pg.PlotCurveItem] = {}

    def set_contours(self, lines: dict) -> None:
        for item in self.items:
            self.plot.removeItem(item)
        self.items, self.curves = [], {}
        for i, k in enumerate(sorted(lines)):
            color = CONTOUR_COLORS[i % len(CONTOUR_COLORS)]
            parts = lines[k]
            if parts:
                # Lines run between pixel centres, which sit at +0.5 on the panes' axes.
                xy = np.concatenate([np.vstack([p[:, ::-1] + 0.5, [np.nan, np.nan]]) for p in parts])
            else:
                xy = np.empty((0, 2))
            curve = pg.PlotCurveItem(xy[:, 0], xy[:, 1], pen=pg.mkPen(color, width=1.5), connect="finite")
            curve.setZValue(17)
            self.plot.addItem(curve, ignoreBounds=True)
            self.items.append(curve)
            self.curves[int(k)] = curve
            if parts:
                # Labels of successive reads sit above, right of, below and left
                # of their outlines, so that nested outlines' labels do not overlap.
                line = max(parts, key=len)
                side = i % 4
                j = int(np.argmax(line[:, 0] if side in (0, 2) else line[:, 1]) if side < 2
                        else np.argmin(line[:, 0] if side == 2 else line[:, 1]))
                anchor = ((0.5, 1.0), (0.0, 0.5), (0.5, 0.0), (1.0, 0.5))[side]
                label = pg.TextItem(f"read {k}", color=color, anchor=anchor)
                label.setPos(line[j, 1] + 0.5, line[j, 0] + 0.5)
                label.setZValue(17)
                self.plot.addItem(label, ignoreBounds=True)
                self.items.append(label)
