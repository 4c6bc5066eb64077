"""Display controls: stretch, levels, scale, colour map, flag colour, histogram;
data (raw/calibrated, baseline, superbias) and the cutout's numbers.

Every control writes to :class:`~brightstar_gui.models.ViewModel` and follows
its events; updates coming from the state are applied with the control's
signals blocked, so there is no feedback loop.

Manual levels start from the levels in force: typing a min keeps the max
the pane shows (and the other way round), switching to "manual" keeps both.
"Reset pane" / "Reset all" restore the default stretch; "lock levels" keeps
the levels for the next exposure and session (otherwise each exposure starts
from the default stretch).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from processing.figures import COLORMAPS, PANE_TITLES, PANES, SCALES
from processing.pane_colours import flag_colour

from ..models import Cutout, ViewModel as ViewState


def _blocked(widget, setter, *args):
    widget.blockSignals(True)
    try:
        setter(*args)
    finally:
        widget.blockSignals(False)


class HistogramPlot(pg.PlotWidget):
    """Histogram of the pane's good pixels with a draggable level range."""

    levels_dragged = QtCore.pyqtSignal(float, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("#202124")
        self.setMaximumHeight(140)
        self.setMinimumHeight(100)
        self.hideAxis("left")
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.curve = self.plot([], [], stepMode="center", fillLevel=0, brush=(90, 170, 255, 120), pen=pg.mkPen((90, 170, 255)))
        self.region = pg.LinearRegionItem(values=(0, 1), brush=(255, 255, 255, 30))
        self.addItem(self.region)
        self.region.sigRegionChangeFinished.connect(self._on_region)
        self._block = False
        self._show_values(False)  # no histogram yet: no fake 0..1 axis and level range

    def _show_values(self, on: bool) -> None:
        if self.getAxis("bottom").style["showValues"] != on:
            self.getAxis("bottom").setStyle(showValues=on)
            self.region.setVisible(on)

    def set_histogram(self, counts, edges, levels) -> None:
        if counts is None:
            self.curve.setData([], [])
            self._show_values(False)
            return
        self._show_values(True)
        self.curve.setData(np.asarray(edges, float), np.asarray(counts, float))
        self._block = True
        self.region.setRegion(levels)
        self._block = False
        self.setXRange(float(edges[0]), float(edges[-1]), padding=0)

    def _on_region(self) -> None:
        if self._block:
            return
        lo, hi = self.region.getRegion()
        self.levels_dragged.emit(float(lo), float(hi))


class DisplayControls(QtWidgets.QWidget):
    """Per-pane display settings, data choices and the cutout numbers."""

    calibrate_requested = QtCore.pyqtSignal()
    center_on_star_requested = QtCore.pyqtSignal()

    def __init__(self, state: ViewState, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self._histograms: dict[str, tuple] = {}
        self._levels: dict[str, tuple[float, float]] = {}
        self._hist_timer = QtCore.QTimer(self, singleShot=True, interval=200)
        self._hist_timer.timeout.connect(lambda: self._show_current_levels())

        # -- data ------------------------------------------------------------------------
        data_box = QtWidgets.QGroupBox("Data")
        self.kind = QtWidgets.QComboBox()
        self.kind.addItems(["raw", "calibrated"])
        self.kind.setToolTip("Show the raw ramp or its calibrated version (dq_init, saturation, refpix, linearity)")
        self.calibrate_button = QtWidgets.QPushButton("Calibrate")
        self.calibrate_button.setToolTip("Run romancal's exposure steps in the background")
        self.baseline = QtWidgets.QSpinBox()
        self.baseline.setToolTip("Frame subtracted in the difference pane (the tutorial's 1)")
        self.superbias = QtWidgets.QCheckBox("subtract superbias from raw")
        self.superbias.setEnabled(False)
        form = QtWidgets.QFormLayout(data_box)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.kind, 1)
        row.addWidget(self.calibrate_button)
        form.addRow("show", row)
        form.addRow("baseline frame", self.baseline)
        form.addRow(self.superbias)

        # -- cutout ------------------------------------------------------------------------
        cut_box = QtWidgets.QGroupBox("Cutout")
        self.cutout_enabled = QtWidgets.QCheckBox("show cutout (else full frame)")
        self.cut_row = QtWidgets.QSpinBox()
        self.cut_col = QtWidgets.QSpinBox()
        self.cut_half = QtWidgets.QSpinBox()
        for sb in (self.cut_row, self.cut_col):
            sb.setRange(0, 100000)
            sb.setKeyboardTracking(False)
        self.cut_half.setRange(4, 4096)
        self.cut_half.setKeyboardTracking(False)
        self.star_button = QtWidgets.QPushButton("Centre on star")
        grid = QtWidgets.QGridLayout(cut_box)
        grid.addWidget(self.cutout_enabled, 0, 0, 1, 4)
        grid.addWidget(QtWidgets.QLabel("row"), 1, 0)
        grid.addWidget(self.cut_row, 1, 1)
        grid.addWidget(QtWidgets.QLabel("col"), 1, 2)
        grid.addWidget(self.cut_col, 1, 3)
        grid.addWidget(QtWidgets.QLabel("half-size"), 2, 0)
        grid.addWidget(self.cut_half, 2, 1)
        grid.addWidget(self.star_button, 2, 2, 1, 2)

        # -- display --------------------------------------------------------------------------
        disp_box = QtWidgets.QGroupBox("Display")
        self.pane = QtWidgets.QComboBox()
        for kind in PANES:
            self.pane.addItem(PANE_TITLES[kind], kind)
        self.mode = QtWidgets.QComboBox()
        self.mode.addItems(["percentile", "manual"])
        self.low = QtWidgets.QDoubleSpinBox()
        self.high = QtWidgets.QDoubleSpinBox()
        for sb in (self.low, self.high):
            sb.setRange(0.0, 100.0)
            sb.setDecimals(1)
            sb.setSuffix(" %")
            sb.setKeyboardTracking(False)
        self.vmin = QtWidgets.QDoubleSpinBox()
        self.vmax = QtWidgets.QDoubleSpinBox()
        for sb in (self.vmin, self.vmax):
            sb.setRange(-1e9, 1e9)
            sb.setDecimals(3)
            sb.setKeyboardTracking(False)
            sb.setMinimumWidth(100)  # the +-1e9 range's width hint would widen the dock past a 1280 screen
        self.scale = QtWidgets.QComboBox()
        self.scale.addItems(list(SCALES))
        self.cmap = QtWidgets.QComboBox()
        self.cmap.addItems(list(COLORMAPS))
        self.flag_button = QtWidgets.QPushButton("flagged pixels")
        self.flag_button.setToolTip("Colour of DQ-flagged pixels (pixel DQ != 0); undefined (NaN) pixels "
                                    "have their own colour, listed under each colour bar")
        self.flag_auto = QtWidgets.QToolButton()
        self.flag_auto.setText("auto")
        self.flag_auto.setToolTip("Flag colour chosen per colour map (as in exported figures)")
        self.flag_marks = QtWidgets.QCheckBox("ring flagged pixels")
        self.flag_marks.setToolTip("Mark every DQ-flagged pixel in view; zoomed out, a block is drawn "
                                   "flagged only when most of its pixels are")
        self.reset_pane = QtWidgets.QPushButton("Reset pane")
        self.reset_pane.setToolTip("Default stretch, scale and colour map of this pane")
        self.reset_all = QtWidgets.QPushButton("Reset all")
        self.reset_all.setToolTip("Default stretch, scale and colour map of every pane")
        self.lock = QtWidgets.QCheckBox("lock levels")
        self.lock.setToolTip("Keep these levels for the next exposure and the next session "
                             "(otherwise each exposure starts from the default stretch)")
        self.visible_stretch = QtWidgets.QCheckBox("levels of visible area")
        self.visible_stretch.setToolTip("Percentile levels over what is visible when zoomed, "
                                        "not over the whole cutout / frame")
        self.histogram = HistogramPlot()
        dform = QtWidgets.QFormLayout(disp_box)
        dform.addRow("pane", self.pane)
        dform.addRow("levels", self.mode)
        pr = QtWidgets.QHBoxLayout()
        pr.addWidget(self.low)
        pr.addWidget(self.high)
        dform.addRow("percentiles", pr)
        mr = QtWidgets.QHBoxLayout()
        mr.addWidget(self.vmin)
        mr.addWidget(self.vmax)
        dform.addRow("min / max", mr)
        dform.addRow("scale", self.scale)
        dform.addRow("colour map", self.cmap)
        fr = QtWidgets.QHBoxLayout()
        fr.addWidget(self.flag_button, 1)
        fr.addWidget(self.flag_auto)
        dform.addRow("flag colour", fr)
        dform.addRow(self.flag_marks)
        lr = QtWidgets.QHBoxLayout()
        lr.addWidget(self.lock)
        lr.addWidget(self.visible_stretch)
        dform.addRow(lr)
        rr = QtWidgets.QHBoxLayout()
        rr.addWidget(self.reset_pane)
        rr.addWidget(self.reset_all)
        dform.addRow(rr)
        dform.addRow(self.histogram)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(data_box)
        layout.addWidget(cut_box)
        layout.addWidget(disp_box)
        layout.addStretch(1)

        # widget -> state
        self.kind.currentTextChanged.connect(self._on_kind)
        self.calibrate_button.clicked.connect(self.calibrate_requested)
        self.baseline.valueChanged.connect(lambda v: setattr(self.state, "baseline", v))
        self.superbias.toggled.connect(lambda on: setattr(self.state, "subtract_superbias", on))
        self.cutout_enabled.toggled.connect(self._on_cutout_widgets)
        for sb in (self.cut_row, self.cut_col, self.cut_half):
            sb.valueChanged.connect(self._on_cutout_widgets)
        self.star_button.clicked.connect(self.center_on_star_requested)
        self.pane.currentIndexChanged.connect(lambda _: self._show_pane())
        self.mode.currentTextChanged.connect(self._on_mode)
        self.low.valueChanged.connect(lambda v: self._set(low=v))
        self.high.valueChanged.connect(lambda v: self._set(high=v))
        # A typed min keeps the max in force (not the stored default), and the other way round.
        self.vmin.valueChanged.connect(lambda v: self._set(vmin=v, vmax=self._in_force()[1], mode="manual"))
        self.vmax.valueChanged.connect(lambda v: self._set(vmin=self._in_force()[0], vmax=v, mode="manual"))
        self.reset_pane.clicked.connect(lambda: self.state.reset_display(self.current_pane))
        self.reset_all.clicked.connect(lambda: self.state.reset_display())
        self.lock.toggled.connect(lambda on: setattr(self.state, "levels_locked", on))
        self.visible_stretch.toggled.connect(lambda on: setattr(self.state, "stretch_visible", on))
        self.flag_marks.toggled.connect(lambda on: setattr(self.state, "flag_overlay", on))
        self.flag_auto.clicked.connect(lambda: setattr(self.state, "flag_color", None))
        self.scale.currentTextChanged.connect(lambda v: self._set(scale=v))
        self.cmap.currentTextChanged.connect(lambda v: self._set(cmap=v))
        self.flag_button.clicked.connect(self._pick_flag_color)
        self.histogram.levels_dragged.connect(lambda lo, hi: self._set(vmin=lo, vmax=hi, mode="manual"))

        # state -> widget
        ev = state.events
        ev.displays.connect(lambda _: self._show_pane())
        ev.n_frames.connect(self._on_n_frames)
        ev.baseline.connect(lambda v: _blocked(self.baseline, self.baseline.setValue, v))
        ev.cutout.connect(self._on_cutout)
        ev.frame_shape.connect(self._on_frame_shape)
        ev.data_kind.connect(lambda v: _blocked(self.kind, self.kind.setCurrentText, v))
        ev.calibrated_available.connect(self._on_calibrated_available)
        ev.superbias_available.connect(lambda v: self.superbias.setEnabled(bool(v)))
        ev.subtract_superbias.connect(lambda v: _blocked(self.superbias, self.superbias.setChecked, v))
        ev.flag_color.connect(self._on_flag_color)
        ev.levels_locked.connect(lambda v: _blocked(self.lock, self.lock.setChecked, v))
        ev.stretch_visible.connect(lambda v: _blocked(self.visible_stretch, self.visible_stretch.setChecked, v))
        ev.flag_overlay.connect(lambda v: _blocked(self.flag_marks, self.flag_marks.setChecked, v))
        self.lock.setChecked(state.levels_locked)
        self._on_calibrated_available(False)
        self._on_flag_color(state.flag_color)
        self._show_pane()

    @property
    def current_pane(self) -> str:
        return self.pane.currentData()

    def _set(self, **changes) -> None:
        self.state.set_display(self.current_pane, **changes)

    def _in_force(self) -> tuple[float, float]:
        """Levels the current pane is drawn with: the manual ones, or the last render's percentile levels."""
        d = self.state.displays[self.current_pane]
        if d.mode == "manual":
            return d.vmin, d.vmax
        return self._levels.get(self.current_pane, (self.vmin.value(), self.vmax.value()))

    def _on_mode(self, mode: str) -> None:
        if mode == "manual":
            lo, hi = self._in_force()
            self._set(mode=mode, vmin=lo, vmax=hi)
        else:
            self._set(mode=mode)

    def _show_pane(self) -> None:
        d = self.state.displays[self.current_pane]
        # The mask is four categories: no levels, stretch or percentiles to set.
        continuous = self.current_pane != "mask"
        for w in (self.mode, self.vmin, self.vmax, self.scale):
            w.setEnabled(continuous)
        _blocked(self.mode, self.mode.setCurrentText, d.mode)
        _blocked(self.low, self.low.setValue, d.low)
        _blocked(self.high, self.high.setValue, d.high)
        lo, hi = (d.vmin, d.vmax) if d.mode == "manual" else self._levels.get(self.current_pane, (d.vmin, d.vmax))
        _blocked(self.vmin, self.vmin.setValue, lo)
        _blocked(self.vmax, self.vmax.setValue, hi)
        _blocked(self.scale, self.scale.setCurrentText, d.scale)
        _blocked(self.cmap, self.cmap.setCurrentText, d.cmap)
        self.low.setEnabled(continuous and d.mode == "percentile")
        self.high.setEnabled(continuous and d.mode == "percentile")
        self._show_histogram()

    def set_pane_levels(self, pane: str, levels, histogram) -> None:
        """Levels and histogram the renderer used (shown for the current pane, at most 5 times a second)."""
        self._levels[pane] = (float(levels[0]), float(levels[1]))
        if histogram is not None:
            self._histograms[pane] = histogram
        if pane == self.current_pane and not self._hist_timer.isActive():
            self._hist_timer.start()

    def _show_current_levels(self) -> None:
        pane = self.current_pane
        levels = self._levels.get(pane)
        if levels is not None:
            if self.state.displays[pane].mode == "percentile":
                _blocked(self.vmin, self.vmin.setValue, levels[0])
                _blocked(self.vmax, self.vmax.setValue, levels[1])
            self._show_histogram()

    def _show_histogram(self) -> None:
        pane = self.current_pane
        hist = self._histograms.get(pane)
        levels = self._levels.get(pane)
        if hist is None or levels is None:
            self.histogram.set_histogram(None, None, (0, 1))
        else:
            self.histogram.set_histogram(hist[0], hist[1], levels)

    def _on_kind(self, text: str) -> None:
        self.state.data_kind = text
        if self.state.data_kind != text:  # refused: not calibrated yet
            _blocked(self.kind, self.kind.setCurrentText, self.state.data_kind)

    def _on_calibrated_available(self, available: bool) -> None:
        item = self.kind.model().item(1)
        item.setEnabled(bool(available))
        # "Calibrated" beside "show: raw" read as a state that contradicts it; the button shows it.
        self.calibrate_button.setText("Show calibrated" if available else "Calibrate")

    def _on_n_frames(self, n: int) -> None:
        _blocked(self.baseline, self.baseline.setRange, 0, max(0, n - 1))
        _blocked(self.baseline, self.baseline.setValue, self.state.baseline)

    def _on_frame_shape(self, shape) -> None:
        h, w = shape
        _blocked(self.cut_row, self.cut_row.setRange, 0, max(0, h - 1))
        _blocked(self.cut_col, self.cut_col.setRange, 0, max(0, w - 1))
        _blocked(self.cut_half, self.cut_half.setRange, 4, max(4, max(h, w) // 2))

    def _on_cutout(self, cutout: Cutout) -> None:
        _blocked(self.cutout_enabled, self.cutout_enabled.setChecked, cutout.enabled)
        _blocked(self.cut_row, self.cut_row.setValue, cutout.row)
        _blocked(self.cut_col, self.cut_col.setValue, cutout.col)
        _blocked(self.cut_half, self.cut_half.setValue, cutout.half)

    def _on_cutout_widgets(self, *_):
        self.state.cutout = Cutout(self.cut_row.value(), self.cut_col.value(), self.cut_half.value(),
                                   self.cutout_enabled.isChecked())

    def _pick_flag_color(self) -> None:
        current = self.state.flag_color or flag_colour(self.state.displays[self.current_pane].cmap)[:3]
        color = QtWidgets.QColorDialog.getColor(QtGui.QColor(*current), self, "Colour of flagged pixels")
        if color.isValid():
            self.state.flag_color = (color.red(), color.green(), color.blue())

    def _on_flag_color(self, rgb) -> None:
        pix = QtGui.QPixmap(14, 14)
        if rgb is None:
            pix.fill(QtGui.QColor(*flag_colour(self.state.displays[self.current_pane].cmap)[:3]))
            self.flag_button.setText("auto (per colour map)")
        else:
            pix.fill(QtGui.QColor(*rgb))
            self.flag_button.setText("flagged pixels")
        self.flag_button.setIcon(QtGui.QIcon(pix))
