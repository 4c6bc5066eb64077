"""Pixel inspection: the clicked pixel's ramp, its 3 x 3 neighbours, and a readout."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

RAW_PEN = pg.mkPen((90, 170, 255), width=2)
CAL_PEN = pg.mkPen((255, 170, 60), width=2)
SLOPE_PEN = pg.mkPen((200, 200, 200), width=1, style=QtCore.Qt.PenStyle.DashLine)
GOOD_BRUSH = pg.mkBrush(90, 170, 255)
SAT_BRUSH = pg.mkBrush(230, 40, 40)
FLAG_BRUSH = pg.mkBrush(250, 220, 40)


def _decode(value: int | None, kind: str) -> str:
    if value is None:
        return "n/a"
    try:
        from processing.diagnostics import decode_dq

        return ", ".join(decode_dq(int(value), kind))
    except Exception:  # noqa: BLE001 - a readout must not fail on an odd DQ value
        return str(value)


class RampPanel(QtWidgets.QWidget):
    """Ramp plot, neighbour grid and readout of one pixel.

    ``set_ramps(data)`` takes the dict of :func:`brightstar_gui.jobs.pixel.pixel_job`.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.data: dict | None = None
        self.plot = pg.PlotWidget()
        self.plot.setBackground("#202124")
        self.plot.setLabel("bottom", "read (frame)")
        self.plot.setLabel("left", "DN")
        self.plot.addLegend(offset=(5, 5))
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.raw_curve = self.plot.plot([], [], pen=RAW_PEN, name="raw DN")
        self.cal_curve = self.plot.plot([], [], pen=CAL_PEN, name="calibrated DN")
        self.points = pg.ScatterPlotItem(size=7, pen=None, brush=GOOD_BRUSH)
        self.sat_points = pg.ScatterPlotItem(size=7, pen=None, brush=SAT_BRUSH, name="saturated read")
        self.flag_points = pg.ScatterPlotItem(size=7, pen=None, brush=FLAG_BRUSH)
        for item in (self.points, self.sat_points, self.flag_points):
            self.plot.addItem(item)
        self.slope_curve = self.plot.plot([], [], pen=SLOPE_PEN, name="mean slope")
        self.onset_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((230, 40, 40), width=1.5), label="onset",
                                          labelOpts={"position": 0.08, "color": (230, 40, 40)})
        self.frame_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((255, 255, 255, 120), width=1))
        self.plot.addItem(self.onset_line)
        self.plot.addItem(self.frame_line)
        self.onset_line.setVisible(False)

        # The 3 x 3 neighbour ramps as small multiples in ONE plot (nine plots
        # cost nine view boxes to lay out and paint on every click).
        self.grid = pg.PlotWidget()
        self.grid.setBackground("#202124")
        self.grid.hideAxis("bottom")
        self.grid.hideAxis("left")
        self.grid.setMenuEnabled(False)
        self.grid.hideButtons()
        self.grid.setMouseEnabled(False, False)
        self.grid.setTitle("3 x 3 neighbours (red: saturated)", size="8pt")
        self.grid_curves = []
        self.grid_labels = []
        for r in range(3):
            row_curves, row_labels = [], []
            for c in range(3):
                curve = self.grid.plot([], [], pen=pg.mkPen((150, 150, 150), width=1))
                label = pg.TextItem("", color=(170, 170, 170), anchor=(0, 0))
                label.setPos(c * 1.1, (2 - r) * 1.1 + 1.0)
                self.grid.addItem(label)
                row_curves.append((curve, None))
                row_labels.append(label)
            self.grid_curves.append(row_curves)
            self.grid_labels.append(row_labels)
        # Lines, not scatter points: nine ramps of 55 reads as symbols cost
        # more to paint than everything else in a pixel click.  NaNs split
        # the cells; the red line runs over the saturated reads.
        self.grid_good = pg.PlotCurveItem(pen=pg.mkPen(90, 170, 255, width=1.5), connect="finite")
        self.grid_sat = pg.PlotCurveItem(pen=pg.mkPen(230, 40, 40, width=2.5), connect="finite")
        self.grid.addItem(self.grid_good)
        self.grid.addItem(self.grid_sat)
        self.grid.setXRange(-0.05, 3.25, padding=0)
        self.grid.setYRange(-0.05, 3.25, padding=0)
        self.grid.setMinimumWidth(220)

        self.readout = QtWidgets.QLabel("Click a pixel to see its ramp.")
        self.readout.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.readout.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.readout.setWordWrap(True)
        self.readout.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setMinimumWidth(240)

        from .panes import cache_axes

        cache_axes(self.plot.getPlotItem())
        cache_axes(self.grid.getPlotItem())
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        splitter = QtWidgets.QSplitter()
        splitter.addWidget(self.plot)
        splitter.addWidget(self.grid)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.readout)
        splitter.addWidget(scroll)
        splitter.setSizes([600, 260, 280])
        layout.addWidget(splitter)

    def set_frame(self, k: int) -> None:
        self.frame_line.setPos(k)
        if self.data is not None:
            self._update_readout(k)

    def set_ramps(self, data: dict, frame: int) -> None:
        """Show the ramps of ``data`` (from :func:`~brightstar_gui.jobs.pixel.pixel_job`)."""
        self.data = data
        r0, r1, c0, c1 = data["box"]
        rr, cc = data["row"] - r0, data["col"] - c0
        raw, cal, sat, gdq = data["raw"], data["calibrated"], data["saturated"], data["groupdq"]
        values = cal if cal is not None else raw
        n = values.shape[0]
        x = np.arange(n, dtype=float)
        self.raw_curve.setData(x, raw[:, rr, cc].astype(float) if raw is not None else [])
        self.cal_curve.setData(x, cal[:, rr, cc].astype(float) if cal is not None else [])
        # Each read's DQ: red saturated, yellow other group flags, blue good.
        main = values[:, rr, cc].astype(float)
        is_sat = sat[:, rr, cc] if sat is not None else np.zeros(n, bool)
        is_flag = (gdq[:, rr, cc] != 0) & ~is_sat if gdq is not None else np.zeros(n, bool)
        good = ~is_sat & ~is_flag
        self.points.setData(x[good], main[good])
        self.sat_points.setData(x[is_sat], main[is_sat])
        self.flag_points.setData(x[is_flag], main[is_flag])
        onset = int(data["onset"][rr, cc]) if data["onset"] is not None else -1
        self.onset_line.setVisible(onset >= 0)
        if onset >= 0:
            self.onset_line.setPos(float(onset))
        slope = data["mean_slope"]
        if slope is not None and np.isfinite(slope):
            valid = np.ones(n, bool) if sat is None else ~sat[:, rr, cc]
            if not valid.any():
                valid[:] = True
            a = float(np.mean(main[valid] - slope * x[valid]))
            # Drawn over the reads it was measured on (not extrapolated past saturation).
            xs = x[: int(np.flatnonzero(valid)[-1]) + 1]
            self.slope_curve.setData(xs, a + slope * xs)
        else:
            self.slope_curve.setData([], [])
        self.plot.setTitle(f"pixel (row {data['row']}, col {data['col']})")
        good_x, good_y, sat_x, sat_y = [], [], [], []
        xs = np.linspace(0.0, 1.0, n)
        for r in range(3):
            for c in range(3):
                curve, _ = self.grid_curves[r][c]
                label = self.grid_labels[r][c]
                # Row 0 of the grid is the row above the pixel (drawn on top).
                gr, gc = rr + (r - 1), cc + (c - 1)
                if 0 <= gr < values.shape[1] and 0 <= gc < values.shape[2]:
                    y = values[:, gr, gc].astype(float)
                    lo, hi = float(y.min()), float(y.max())
                    yn = (y - lo) / (hi - lo) * 0.85 if hi > lo else np.full(n, 0.4)
                    px, py = c * 1.1 + xs, r * 1.1 + yn
                    curve.setData(px, py)
                    s_mask = sat[:, gr, gc] if sat is not None else np.zeros(n, bool)
                    # The segment into the first saturated read is red too.
                    red = s_mask | np.append(s_mask[1:], False)
                    good_x.append(np.append(px, np.nan)); good_y.append(np.append(np.where(s_mask, np.nan, py), np.nan))
                    sat_x.append(np.append(px, np.nan)); sat_y.append(np.append(np.where(red, py, np.nan), np.nan))
                    label.setText(f"{r0 + gr},{c0 + gc}")
                else:
                    curve.setData([], [])
                    label.setText("edge")
                label.setPos(c * 1.1, r * 1.1 + 1.05)
        cat = (lambda parts: np.concatenate(parts) if parts else np.empty(0))
        self.grid_good.setData(cat(good_x), cat(good_y))
        self.grid_sat.setData(cat(sat_x), cat(sat_y))
        self.set_frame(frame)

    def _update_readout(self, k: int) -> None:
        d = self.data
        r0, r1, c0, c1 = d["box"]
        rr, cc = d["row"] - r0, d["col"] - c0
        n = (d["calibrated"] if d["calibrated"] is not None else d["raw"]).shape[0]
        k = min(max(k, 0), n - 1)
        rows = [("pixel", f"row {d['row']}, col {d['col']}"), ("frame", str(k))]
        if d["times"] is not None and k < len(d["times"]):
            rows.append(("time", f"{d['times'][k]:.2f} s since first read"))
        if d["raw"] is not None:
            rows.append(("raw", f"{int(d['raw'][k, rr, cc])} DN"))
        if d["calibrated"] is not None:
            rows.append(("calibrated", f"{float(d['calibrated'][k, rr, cc]):.2f} DN"))
        if d["mean_slope"] is not None:
            rows.append(("mean slope", f"{d['mean_slope']:.3f} DN/frame"))
        onset = d["onset"][rr, cc] if d["onset"] is not None else None
        if onset is not None:
            rows.append(("saturation onset", "never" if onset < 0 else f"frame {int(onset)}"))
        if d["saturated"] is not None:
            rows.append(("saturated now", "yes" if d["saturated"][k, rr, cc] else "no"))
        rows.append(("pixel DQ", f"{d['pixeldq']} = {_decode(d['pixeldq'], 'pixel')}" if d["pixeldq"] is not None else "n/a"))
        if d["groupdq"] is not None:
            g = int(d["groupdq"][k, rr, cc])
            rows.append(("group DQ", f"{g} = {_decode(g, 'group')}"))
        text = "<table>" + "".join(
            f"<tr><td><b>{html.escape(a)}</b>&nbsp;</td><td>{html.escape(b)}</td></tr>" for a, b in rows) + "</table>"
        self.readout.setText(text)

    def ramp_table(self) -> dict | None:
        """The selected pixel's ramp as columns (for the CSV export)."""
        d = self.data
        if d is None:
            return None
        r0, _, c0, _ = d["box"]
        rr, cc = d["row"] - r0, d["col"] - c0
        values = d["calibrated"] if d["calibrated"] is not None else d["raw"]
        n = values.shape[0]
        return {
            "read": np.arange(n),
            "time_s": None if d["times"] is None else np.asarray(d["times"], float),
            "raw_dn": None if d["raw"] is None else d["raw"][:, rr, cc],
            "calibrated_dn": None if d["calibrated"] is None else d["calibrated"][:, rr, cc].astype(float),
            "groupdq": None if d["groupdq"] is None else d["groupdq"][:, rr, cc],
            "saturated": None if d["saturated"] is None else d["saturated"][:, rr, cc].astype(int),
            "header": {"row": d["row"], "col": d["col"], "mean_slope_dn_per_frame": d["mean_slope"],
                       "pixeldq": d["pixeldq"]},
        }
