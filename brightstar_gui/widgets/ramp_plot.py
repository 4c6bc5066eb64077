"""Pixel inspection: the clicked pixel's ramp, its 3 x 3 neighbours, and a readout.

The click -> ramp path is kept short (the target is 50 ms on a full-size
exposure): every plot item is made once and only given new data; the
ranges are computed from the arrays and set once (no auto-range pass); the
legend changes only when the set of curves present does; the neighbour
labels are axis ticks (:mod:`.ramp_grid`), not text items.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

from ..jobs import pixel_readout as ro
from .ramp_grid import NeighbourGrid

RAW_PEN = pg.mkPen((90, 170, 255), width=2)
CAL_PEN = pg.mkPen((255, 170, 60), width=2)
SLOPE_PEN = pg.mkPen((200, 200, 200), width=1, style=QtCore.Qt.PenStyle.DashLine)
ONSET_PEN = pg.mkPen((230, 40, 40), width=1.5)
GOOD_BRUSH = pg.mkBrush(90, 170, 255)
#: Good reads of a calibrated ramp: its curve's orange (blue dots made it read as a second raw ramp).
CAL_GOOD_BRUSH = pg.mkBrush(255, 170, 60)
SAT_BRUSH = pg.mkBrush(230, 40, 40)
FLAG_BRUSH = pg.mkBrush(250, 220, 40)
SAT_COLOUR = "#ff6060"


class _RampPlotWidget(pg.PlotWidget):
    """The ramp plot: a curve added or removed by other code (pinned ramps) refits the range.

    The panel sets its range itself (no auto-range), so an overlay must say
    when it changes what is drawn; adding or removing the item is that.
    """

    def __init__(self, panel: "RampPanel"):
        super().__init__()
        self._panel = panel
        # PlotWidget binds plotItem.addItem / removeItem on the instance; these methods take over.
        del self.addItem, self.removeItem

    def addItem(self, item, *args, **kwargs):  # noqa: N802 - Qt/pyqtgraph name
        self.plotItem.addItem(item, *args, **kwargs)  # (PlotWidget forwards through __getattr__)
        self._refit(item)

    def removeItem(self, item):  # noqa: N802 - Qt/pyqtgraph name
        self.plotItem.removeItem(item)
        self._refit(item)

    def _refit(self, item) -> None:
        if isinstance(item, pg.PlotDataItem) and getattr(self._panel, "_own_range", None) is not None:
            self._panel.fit_range()


class RampPanel(QtWidgets.QWidget):
    """Ramp plot, neighbour grid and readout of one pixel.

    ``set_ramps(data)`` takes the dict of :func:`brightstar_gui.jobs.pixel.pixel_job`.

    Attributes
    ----------
    legend : pg.LegendItem
        In its own column right of the data (never over a ramp); lists only the
        curves the pixel has (see :meth:`legend_labels`).
    x_unit : {"read", "s"}
        The x axis: read number or seconds since the first read.

    Signals
    -------
    x_unit_changed(str unit)
        The x axis changed unit (curves other code draws, the pinned ramps, follow it).
    """

    x_unit_changed = QtCore.pyqtSignal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.data: dict | None = None
        self.frame = 0
        self.x_unit = "read"
        self.plot = _RampPlotWidget(self)
        self.plot.setBackground("#202124")
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "read")
        item.setLabel("left", "DN")
        # No grid lines: drawn by the (cached) axes across the whole plot, they made
        # the axes' cache plot-sized, redrawn on every click's new range (half the paint).
        item.getViewBox().disableAutoRange()
        for name in ("left", "bottom"):
            # Plain DN and read numbers: no "(x0.001)" prefix, no label re-layout per range.
            item.getAxis(name).enableAutoSIPrefix(False)
        # The legend lives in the plot's layout, a column right of the axes: outside the data.
        self.legend = pg.LegendItem(offset=None, labelTextColor=(220, 220, 220), labelTextSize="8pt",
                                    verSpacing=-4)
        item.layout.addItem(self.legend, 2, 3)
        # The title spans the legend's column too, so it is never what widens the plot.
        item.layout.removeItem(item.titleLabel)
        item.layout.addItem(item.titleLabel, 0, 0, 1, 4)
        item.legend = self.legend  # curves others add with name= are listed there too
        self.raw_curve = self.plot.plot([], [], pen=RAW_PEN)
        self.cal_curve = self.plot.plot([], [], pen=CAL_PEN)
        self.points = pg.ScatterPlotItem(size=7, pen=None, brush=GOOD_BRUSH)
        self.sat_points = pg.ScatterPlotItem(size=7, pen=None, brush=SAT_BRUSH)
        self.flag_points = pg.ScatterPlotItem(size=7, pen=None, brush=FLAG_BRUSH)
        for it in (self.points, self.sat_points, self.flag_points):
            self.plot.addItem(it)
        self.slope_curve = self.plot.plot([], [], pen=SLOPE_PEN)
        self.threshold_line = pg.InfiniteLine(angle=0, pen=pg.mkPen((230, 40, 40, 140), width=1,
                                                                    style=QtCore.Qt.PenStyle.DotLine))
        self.onset_line = pg.InfiniteLine(angle=90, pen=ONSET_PEN)
        self.frame_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((255, 255, 255, 120), width=1))
        for it in (self.threshold_line, self.onset_line, self.frame_line):
            self.plot.addItem(it)
        self.onset_line.setVisible(False)
        self.threshold_line.setVisible(False)
        # Legend samples for the lines (an InfiniteLine has no sample of its own).
        self._onset_sample = pg.PlotDataItem(pen=ONSET_PEN)
        self._threshold_sample = pg.PlotDataItem(pen=self.threshold_line.pen)
        self._entries = [  # (item whose data says "present", legend sample, label)
            (self.raw_curve, self.raw_curve, "raw DN"),
            (self.cal_curve, self.cal_curve, "calibrated DN"),
            (self.sat_points, self.sat_points, "saturated read"),
            (self.flag_points, self.flag_points, "flagged read"),
            (self.slope_curve, self.slope_curve, "mean slope"),
            (self.threshold_line, self._threshold_sample, "threshold"),
            (self.onset_line, self._onset_sample, "onset"),
        ]
        self._legend_key: tuple = ()
        self._legend_rows: dict = {}
        self._title = None
        self._has_times = True
        self._own_range: tuple | None = None

        self.grid = NeighbourGrid()

        self.x_choice = QtWidgets.QComboBox()
        self.x_choice.addItems(["x: read", "x: seconds"])
        # Narrow when the dock is: the panel's minimum width stays what it was.
        self.x_choice.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.x_choice.setMinimumContentsLength(3)
        self.x_choice.setToolTip("x axis of the ramps: read number, or seconds since the first read "
                                 "(the exposure's frame time)")
        self.x_choice.currentIndexChanged.connect(lambda i: self.set_x_unit("s" if i == 1 else "read"))
        self.readout = QtWidgets.QLabel("Click a pixel to see its ramp.")
        self.readout.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.readout.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.readout.setWordWrap(True)
        self.readout.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setMinimumWidth(170)  # values such as "59777 DN" fit; the ramp plot keeps its room

        from .panes import cache_axes

        cache_axes(item)
        cache_axes(self.grid.getPlotItem())
        self._set_decorated(False)  # no pixel yet: no axes of fake 0..1 ranges
        # The x choice scrolls with the readout: a scroll area adds nothing to the
        # panel's minimum width (the window's layout stays as it was).
        inner = QtWidgets.QWidget()
        sv = QtWidgets.QVBoxLayout(inner)
        sv.setContentsMargins(0, 0, 0, 0)
        sv.addWidget(self.x_choice)
        sv.addWidget(self.readout, 1)
        side = QtWidgets.QScrollArea()
        side.setWidgetResizable(True)
        side.setWidget(inner)
        # The readout is what a scientist reads (value, threshold, onset, slope): at 1280 px
        # the splitter gave it 145 px and cut every value.
        side.setMinimumWidth(self.readout.minimumWidth() + 14)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        splitter = QtWidgets.QSplitter()
        splitter.addWidget(self.plot)
        splitter.addWidget(self.grid)
        splitter.addWidget(side)
        splitter.setSizes([560, 300, 300])
        layout.addWidget(splitter)

    # -- public ------------------------------------------------------------------------------
    def set_frame(self, k: int) -> None:
        self.frame = int(k)
        x = self._x()
        if x is not None and len(x):
            self.frame_line.setPos(float(x[min(max(self.frame, 0), len(x) - 1)]))
        else:
            self.frame_line.setPos(self.frame)
        if self.data is not None:
            self._update_readout(self.frame)

    def set_x_unit(self, unit: str) -> None:
        """Reads (``"read"``) or seconds since the first read (``"s"``; needs the frame time)."""
        if unit not in ("read", "s"):
            raise ValueError(f"x unit must be 'read' or 's'; got {unit!r}")
        changed = unit != self.x_unit
        self.x_unit = unit
        self.x_choice.blockSignals(True)
        self.x_choice.setCurrentIndex(1 if unit == "s" else 0)
        self.x_choice.blockSignals(False)
        if self.data is not None:
            self.set_ramps(self.data, self.frame)
        else:
            self.plot.getPlotItem().setLabel("bottom", "time since the first read (s)" if unit == "s" else "read")
        if changed:
            self.x_unit_changed.emit(unit)

    def legend_labels(self) -> list[str]:
        """The labels the legend shows, top to bottom."""
        return [label.text for _, label in self.legend.items if label.isVisible()]

    def set_ramps(self, data: dict, frame: int) -> None:
        """Show the ramps of ``data`` (from :func:`~brightstar_gui.jobs.pixel.pixel_job`)."""
        self.data = data
        self.frame = int(frame)
        self._set_decorated(True)
        has_times = data.get("times") is not None
        if has_times != self._has_times:  # seconds need the exposure's frame time
            self._has_times = has_times
            self.x_choice.model().item(1).setEnabled(has_times)
            self.x_choice.setItemData(1, None if has_times else "the file gives no frame time",
                                      QtCore.Qt.ItemDataRole.ToolTipRole)
        r0, _, c0, _ = data["box"]
        rr, cc = ro.centre_index(data)
        raw, cal, sat, gdq = data["raw"], data["calibrated"], data["saturated"], data["groupdq"]
        values = cal if cal is not None else raw
        n = values.shape[0]
        x = self._x()
        raw_y = raw[:, rr, cc].astype(float) if raw is not None else None
        cal_y = cal[:, rr, cc].astype(float) if cal is not None else None
        self.raw_curve.setData(x, raw_y) if raw_y is not None else self.raw_curve.setData([], [])
        self.cal_curve.setData(x, cal_y) if cal_y is not None else self.cal_curve.setData([], [])
        # Each read's DQ: red saturated, yellow other group flags, blue good.
        main = values[:, rr, cc].astype(float)
        is_sat = sat[:, rr, cc] if sat is not None else np.zeros(n, bool)
        is_flag = (gdq[:, rr, cc] != 0) & ~is_sat if gdq is not None else np.zeros(n, bool)
        good = ~is_sat & ~is_flag
        # The dots are on the curve the readout describes (calibrated when there is one): its colour.
        self.points.setData(x[good], main[good], brush=CAL_GOOD_BRUSH if cal is not None else GOOD_BRUSH)
        self.sat_points.setData(x[is_sat], main[is_sat])
        self.flag_points.setData(x[is_flag], main[is_flag])
        onset = ro.onset_of(data)
        self.onset_line.setVisible(onset is not None and onset >= 0)
        if onset is not None and onset >= 0:
            self.onset_line.setPos(float(x[onset]))
        thr = data.get("threshold_dn")
        # The threshold is drawn when the ramp reaches it (else it would squash the ramp).
        show_thr = thr is not None and (onset is not None and onset >= 0)
        self.threshold_line.setVisible(show_thr)
        if show_thr:
            self.threshold_line.setPos(thr)
        self._draw_slope(data, x, main, is_sat, raw is not None and cal is None)
        from_start = ro.saturated_from_start(data)
        # The title changes only with the pixel's kind (a new title is an HTML layout);
        # the pixel's coordinates are in the readout and on the neighbour grid's axes.
        title = ("SATURATED FROM READ 0: no signal" if from_start else "ramp of the selected pixel")
        if title != self._title:
            self._title = title
            self.plot.setTitle(title, color=SAT_COLOUR if from_start else "#dddddd", size="9pt")
        lo, hi = ro.ramp_range([raw_y, cal_y], thr, from_start)
        if show_thr:
            hi = max(hi, thr)  # a threshold listed in the legend is in view
        self._own_range = (float(x[0]), float(x[-1]), lo, hi)
        self.fit_range()
        self._sync_legend()
        self.grid.set_ramps(values, sat, rr, cc, r0, c0, self._x_ends(x))
        self.set_frame(frame)

    def fit_range(self) -> None:
        """Set the view to this pixel's ramp and any curve other code added (pinned ramps), once.

        No auto-range pass: the bounds are min/max of the arrays.
        """
        if self._own_range is None:
            return
        x0, x1, lo, hi = self._own_range
        mine = {id(it) for it, _, _ in self._entries}
        for item in self.plot.getPlotItem().listDataItems():
            if id(item) in mine or not item.isVisible():
                continue
            xd, yd = item.getData()
            if yd is None or not len(yd):
                continue
            yd = np.asarray(yd, float)
            yd = yd[np.isfinite(yd)]
            if yd.size:
                lo, hi = min(lo, float(yd.min())), max(hi, float(yd.max()))
                x1 = max(x1, float(np.nanmax(xd)))
        pad = 0.04 * (hi - lo)
        vb = self.plot.getViewBox()
        vb.setRange(xRange=(x0, x1), yRange=(lo - pad, hi + pad), padding=0.02)
        # The view's transform now, not at paint time: pyqtgraph defers it to the paint
        # (prepareForPaint), where changing it dirties the scene again and the plot was
        # painted twice per click (the second time ~5 ms of the UI thread, seen under xcb).
        vb.updateMatrix()

    # -- internals ---------------------------------------------------------------------------
    def _set_decorated(self, on: bool) -> None:
        """Axis values and the neighbour grid's frame: only once a pixel is shown."""
        if getattr(self, "_decorated", None) == on:
            return
        self._decorated = on
        for name in ("left", "bottom"):
            self.plot.getPlotItem().getAxis(name).setStyle(showValues=on)
        grid = self.grid.getPlotItem()
        for name in ("left", "bottom", "top", "right"):
            grid.getAxis(name).setStyle(showValues=on)
        self.grid.frame_box.setVisible(on)

    def _x(self) -> np.ndarray | None:
        d = self.data
        if d is None:
            return None
        n = ro.n_reads(d)
        if self.x_unit == "s" and d.get("times") is not None and len(d["times"]) == n:
            return np.asarray(d["times"], float)
        return np.arange(n, dtype=float)

    def _x_ends(self, x: np.ndarray) -> tuple[str, str]:
        seconds = self.x_unit == "s" and self.data.get("times") is not None
        label = "time since the first read (s)" if seconds else "read"
        for plot, text in ((self.plot.getPlotItem(), label), (self.grid.getPlotItem(), ("s" if seconds else "read")
                                                                + " (every cell)")):
            if plot.getAxis("bottom").labelText != text:
                plot.setLabel("bottom", text)
        return (f"{x[0]:.0f}", f"{x[-1]:.0f}" + ("s" if seconds else ""))

    def _draw_slope(self, data, x, main, is_sat, _raw_only) -> None:
        slope = data["mean_slope"]
        n = len(x)
        if slope is None or not np.isfinite(slope) or ro.saturated_from_start(data):
            self.slope_curve.setData([], [])
            return
        valid = ~is_sat
        if not valid.any():
            valid = np.ones(n, bool)
        reads = np.arange(n, dtype=float)
        a = float(np.mean(main[valid] - slope * reads[valid]))
        # Drawn over the reads it was measured on (not extrapolated past saturation).
        last = int(np.flatnonzero(valid)[-1]) + 1
        self.slope_curve.setData(x[:last], a + slope * reads[:last])

    def _sync_legend(self) -> None:
        """List the curves this pixel has; touch the legend only when that set changes.

        The rows (sample + label) are made once and only moved in and out of
        the legend's layout: making a label costs an HTML layout (ms).
        """
        present = []
        for item, sample, label in self._entries:
            if isinstance(item, pg.InfiniteLine):
                on = item.isVisible()
            else:
                xd, _ = item.getData()
                on = xd is not None and len(xd) > 0
            if on:
                present.append(label)
        key = tuple(present)
        if key == self._legend_key:
            return
        self._legend_key = key
        legend = self.legend
        if not self._legend_rows:
            for _, sample, label in self._entries:
                legend.addItem(sample, label)
                self._legend_rows[label] = legend.items[-1]
        mine = set(self._legend_rows.values())
        others = [pair for pair in legend.items if pair not in mine]  # curves other code added with name=
        for s, lab in legend.items:
            legend.layout.removeItem(s)
            legend.layout.removeItem(lab)
        rows = [self._legend_rows[label] for label in present] + others
        for s, lab in self._legend_rows.values():
            s.setVisible(False)
            lab.setVisible(False)
        for i, (s, lab) in enumerate(rows):
            legend.layout.addItem(s, i, 0)
            legend.layout.addItem(lab, i, 1)
            s.setVisible(True)
            lab.setVisible(True)
        legend.items = rows
        legend.updateSize()

    def _update_readout(self, k: int) -> None:
        rows = ro.readout_rows(self.data, k)
        warn = ro.saturated_from_start(self.data)
        head = (f"<p style='color:{SAT_COLOUR}'><b>Saturated from the first read</b>: every read is at the "
                f"saturation plateau; this pixel has no measured signal.</p>") if warn else ""
        self.readout.setText(head + "<table>" + "".join(
            f"<tr><td><b>{html.escape(a)}</b>&nbsp;</td><td>{html.escape(b)}</td></tr>" for a, b in rows) + "</table>")

    def ramp_table(self) -> dict | None:
        """The selected pixel's ramp as columns (for the CSV export)."""
        d = self.data
        if d is None:
            return None
        rr, cc = ro.centre_index(d)
        n = ro.n_reads(d)
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
