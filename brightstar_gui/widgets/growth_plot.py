"""The saturation growth plot: per read, saturated / new / 4-neighbour / diagonal counts, or the radius.

A thin view (:class:`~brightstar_gui.controllers._protocols.GrowthView`):
the controller hands it a :class:`processing.diagnostics.growth.SaturationGrowth`.
A vertical line marks the read on screen; a click on the plot jumps to the
nearest read (``read_clicked``).  The scope (cutout or full frame) and the
onset choices -- which pane shows the onset map, which reads are outlined
over the raw pane -- are written to the diagnostics model.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

from ..models.diagnostics import ONSET_PANES, DiagnosticsModel

#: Count curves: (attribute, legend name, colour).
COUNTS = (
    ("saturated", "saturated", (230, 40, 40)),
    ("new", "newly saturated", (255, 170, 60)),
    ("nearby", "4-neighbour", (90, 170, 255)),
    ("diagonal", "diagonal", (150, 220, 120)),
)
RADIUS_COLOR = (220, 220, 220)


def parse_reads(text: str) -> tuple[int, ...]:
    """``"3, 5 10"`` -> (3, 5, 10); raises ValueError naming the bad item."""
    out = []
    for part in text.replace(",", " ").replace(";", " ").split():
        try:
            out.append(int(part))
        except ValueError:
            raise ValueError(f"{part!r} is not a read number") from None
        if out[-1] < 0:
            raise ValueError(f"read {out[-1]} is negative")
    return tuple(out)


class ScopeBox(QtWidgets.QComboBox):
    """The scope choice; ``provider()`` (label, scope) pairs are re-read each time it opens (drawn regions)."""

    provider = None

    def set_choices(self, choices) -> None:
        current = self.currentData()
        if [(self.itemText(i), self.itemData(i)) for i in range(self.count())] == list(choices):
            return
        self.blockSignals(True)  # the model keeps its scope; only the list changes
        self.clear()
        for label, scope in choices:
            self.addItem(label, scope)
        i = self.findData(current)
        self.setCurrentIndex(i if i >= 0 else 0)
        self.blockSignals(False)

    def showPopup(self) -> None:  # noqa: N802 - Qt name
        if self.provider is not None:
            self.set_choices(self.provider())
        super().showPopup()


class GrowthPlot(QtWidgets.QWidget):
    """Signals: ``read_clicked(int k)`` -- the user clicked the plot near read k."""

    read_clicked = QtCore.pyqtSignal(int)

    def __init__(self, diagnostics: DiagnosticsModel, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.diagnostics = diagnostics
        self.growth = None
        self.scope = ScopeBox()
        self.scope.set_choices([("cutout", "cutout"), ("full frame", "full")])
        self.quantity = QtWidgets.QComboBox()
        self.quantity.addItems(["pixel counts", "equivalent radius"])
        # The new / neighbour counts are a few per cent of the saturated ones.
        self.log_y = QtWidgets.QCheckBox("log y")
        self.onset_pane = QtWidgets.QComboBox()
        self.onset_pane.addItem("no pane", "")
        for pane in ONSET_PANES:
            self.onset_pane.addItem(f"{pane} pane", pane)
        self.onset_pane.setToolTip("Show the onset map (first saturated read of each pixel) in this pane")
        self.contours = QtWidgets.QLineEdit()
        self.contours.setPlaceholderText("e.g. 3, 10, 30")
        self.contours.setToolTip("Outline the area saturated by these reads over the raw pane (Enter to apply)")
        self.contours.setMaximumWidth(120)
        self.plot = pg.PlotWidget()
        # Axes (and grid) blitted from a pixmap: the frame marker moves on every frame of playback,
        # and replaying the axes' pictures was most of each repaint.
        from .panes import cache_axes

        cache_axes(self.plot.getPlotItem())
        self.plot.setBackground("#202124")
        self.plot.setLabel("bottom", "read (frame)")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setMenuEnabled(False)
        # Pixel counts are whole numbers: no "(x0.001)" scale on the axis (a dark's
        # all-zero counts auto-ranged to -0.4..0.4 and were labelled so).
        self.plot.getPlotItem().getAxis("left").enableAutoSIPrefix(False)
        # The key is a line of coloured names above the plot: a legend inside a
        # 200-pixel-high plot covers the curves.
        self.key = QtWidgets.QLabel()
        self.key.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.key.setStyleSheet("background: #202124; padding: 2px")
        self.curves = {attr: self.plot.plot([], [], pen=pg.mkPen(color, width=2), symbol="o",
                                            symbolSize=4, symbolBrush=color, symbolPen=None)
                       for attr, name, color in COUNTS}
        self.radius_curve = self.plot.plot([], [], pen=pg.mkPen(RADIUS_COLOR, width=2),
                                           symbol="o", symbolSize=4, symbolBrush=RADIUS_COLOR, symbolPen=None)
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen((255, 255, 255, 150), width=1.5))
        self.plot.addItem(self.marker, ignoreBounds=True)  # the range is the data's: a marker moving it re-draws the axes every frame
        self.message = QtWidgets.QLabel("Open an exposure to see how the saturated area grows.")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #bbb")

        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Count"))
        top.addWidget(self.scope)
        top.addWidget(self.quantity)
        top.addWidget(self.log_y)
        top.addStretch(1)
        onset = QtWidgets.QHBoxLayout()
        onset.addWidget(QtWidgets.QLabel("Onset map in"))
        onset.addWidget(self.onset_pane)
        onset.addWidget(QtWidgets.QLabel("contours of reads"))
        onset.addWidget(self.contours)
        onset.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addLayout(onset)
        layout.addWidget(self.message)
        layout.addWidget(self.key)
        layout.addWidget(self.plot, 1)

        self.scope.currentIndexChanged.connect(lambda _: setattr(diagnostics, "growth_scope", self.scope.currentData()))
        self.quantity.currentIndexChanged.connect(lambda _: self._draw())
        self.log_y.toggled.connect(lambda _: self._draw())
        self.onset_pane.currentIndexChanged.connect(
            lambda _: setattr(diagnostics, "onset_pane", self.onset_pane.currentData()))
        self.contours.editingFinished.connect(self._on_contours)
        diagnostics.events.growth_scope.connect(self._on_scope)
        diagnostics.events.onset_pane.connect(self._on_onset_pane)
        diagnostics.events.contour_reads.connect(self._on_contour_reads)
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self._draw()

    # -- GrowthView --------------------------------------------------------------------------
    def active(self) -> bool:
        return self.isVisible()

    def set_growth(self, growth, scope_text: str) -> None:
        self.growth = growth
        self.plot.setTitle(f"saturation growth: {scope_text}", size="9pt")
        self.message.setText("")
        self.message.setVisible(False)
        self._draw()

    def set_frame(self, k: int) -> None:
        self.marker.setPos(float(k))

    def set_message(self, text: str) -> None:
        """Say ``text`` instead of the counts (computing, not computed, no reference)."""
        if text:
            # No curve of another exposure, kind or scope may stay under the message.
            self.growth = None
            self.plot.setTitle("")
            self._draw()
        self._note(text)

    def _note(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # -- drawing -----------------------------------------------------------------------------
    def _draw(self) -> None:
        g = self.growth
        radius = self.quantity.currentIndex() == 1
        self.plot.setLabel("left", "equivalent radius [pix]" if radius else "pixels")
        entries = [("equivalent radius sqrt(N / pi)", RADIUS_COLOR)] if radius else [(n, col) for _, n, col in COUNTS]
        self.key.setText(" &nbsp; ".join(f'<span style="color: rgb{col}">&#9632; {name}</span>'
                                         for name, col in entries))
        for attr, curve in self.curves.items():
            curve.setVisible(not radius)
            if g is None:
                curve.setData([], [])
        self.radius_curve.setVisible(radius)
        log = self.log_y.isChecked()
        self.plot.setLogMode(y=log)
        for name in ("left", "bottom"):  # no counts: no axis values of a fake 0..1 range
            axis = self.plot.getPlotItem().getAxis(name)
            if axis.style["showValues"] != (g is not None):
                axis.setStyle(showValues=g is not None)
        if g is None:
            self.radius_curve.setData([], [])
            return
        x = g.read.astype(float)
        for attr, curve in self.curves.items():
            y = getattr(g, attr).astype(float)
            curve.setData(x, np.where(y > 0, y, np.nan) if log else y)  # zero has no logarithm
        r = np.asarray(g.equivalent_radius_px, float)
        self.radius_curve.setData(x, np.where(r > 0, r, np.nan) if log else r)
        shown = r if radius else np.concatenate([getattr(g, attr).astype(float) for attr in self.curves])
        if not log and shown.size and np.nanmax(shown) <= 0:
            # Nothing saturated (a dark): a 0..1 range says "none" plainly, not a
            # symmetric range around zero.
            self.plot.setYRange(0, 1, padding=0.05)
        else:
            self.plot.enableAutoRange(axis="y")

    def curve_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(read, value) drawn for ``name`` (a count attribute or "equivalent_radius_px"; tests)."""
        curve = self.radius_curve if name == "equivalent_radius_px" else self.curves[name]
        x, y = curve.getData()
        return (np.empty(0), np.empty(0)) if x is None else (np.asarray(x), np.asarray(y))

    def click_read(self, k: int) -> None:
        """What a click near read ``k`` does (tests and scripts)."""
        self.read_clicked.emit(int(k))

    def _on_click(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or self.growth is None:
            return
        vb = self.plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        x = vb.mapSceneToView(event.scenePos()).x()
        n = len(self.growth.read)
        self.read_clicked.emit(int(min(max(round(x), 0), n - 1)))

    # -- model -> widgets (no echo: the combo only changes when the value differs) ----------
    def _on_scope(self, scope: str, *_) -> None:
        if self.scope.findData(scope) < 0 and self.scope.provider is not None:
            self.scope.set_choices(self.scope.provider())
        i = self.scope.findData(scope)
        if i != self.scope.currentIndex():
            self.scope.setCurrentIndex(i)

    def _on_onset_pane(self, pane: str, *_) -> None:
        i = self.onset_pane.findData(pane)
        if i != self.onset_pane.currentIndex():
            self.onset_pane.setCurrentIndex(i)

    def _on_contours(self) -> None:
        try:
            reads = parse_reads(self.contours.text())
        except ValueError as err:
            self._note(f"contours: {err}")
            return
        if self.message.text().startswith("contours:"):
            self._note("")
        self.diagnostics.contour_reads = reads

    def _on_contour_reads(self, reads, *_) -> None:
        text = ", ".join(str(k) for k in reads)
        if parse_reads_or_none(self.contours.text()) != tuple(reads):
            self.contours.setText(text)


def parse_reads_or_none(text: str):
    try:
        return parse_reads(text)
    except ValueError:
        return None
