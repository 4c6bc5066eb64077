"""Pinned pixels: their ramps overlaid in the ramp panel, and a list to unpin and export them.

:class:`PinOverlay` is a layer of curves added to the ramp panel's plot (the
panel itself is not changed); :class:`PinsPanel` lists the pins in their
colours with buttons to pin the selected pixel, unpin, clear and export.
Together they are the controller's ``pins`` view
(:class:`~brightstar_gui.controllers._protocols.PinsView`).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

#: One colour per pin, in pin order: none is the ramp panel's raw blue,
#: calibrated orange, saturated red or flag yellow.
PIN_COLORS = (
    (80, 200, 80), (170, 120, 230), (240, 120, 200), (40, 210, 220), (200, 200, 60),
    (190, 120, 90), (235, 235, 235), (0, 150, 130), (255, 140, 120), (150, 255, 170),
)


def pin_color(i: int) -> tuple[int, int, int]:
    return PIN_COLORS[i % len(PIN_COLORS)]


class PinOverlay:
    """Curves of the pinned ramps on ``plot`` (a pyqtgraph PlotWidget or PlotItem), in :data:`PIN_COLORS`.

    On the ramp panel's plot the curves follow its x axis (reads or seconds
    since the first read): they are redrawn when the panel's ``x_unit_changed``
    fires.
    """

    def __init__(self, plot):
        self.plot = plot
        self.curves: list[pg.PlotDataItem] = []
        self.labels: list[pg.TextItem] = []
        self.pins = None
        self.panel = getattr(plot, "_panel", None)  # the RampPanel whose plot this is
        if self.panel is not None:
            self.panel.x_unit_changed.connect(lambda _unit: self.set_pins(self.pins))

    def x_of(self, pins) -> np.ndarray:
        """The pins' x values: read numbers, or seconds when the panel shows seconds and the file has them."""
        n = pins.ramps.shape[1]
        times = getattr(pins, "read_times", None)
        if self.panel is not None and self.panel.x_unit == "s" and times is not None and len(times) == n:
            return np.asarray(times, float)
        return np.arange(n, dtype=float)

    def set_pins(self, pins) -> None:
        self.pins = pins
        for item in self.curves + self.labels:
            self.plot.removeItem(item)
        self.curves, self.labels = [], []
        if pins is None:
            return
        x = self.x_of(pins)
        for i, ramp in enumerate(pins.ramps):
            color = pin_color(i)
            # Not in the ramp panel's legend (ten entries would cover the plot):
            # a numbered label at the end of each curve, as in the pins list.
            curve = pg.PlotDataItem(x, np.asarray(ramp, float), pen=pg.mkPen(color, width=1.5), symbol="t",
                                    symbolSize=5, symbolBrush=color, symbolPen=None)
            curve.setZValue(-1)  # under the selected pixel's ramp
            label = pg.TextItem(f"pin {i + 1}", color=color, anchor=(0.0, 0.5))
            label.setPos(x[-1], float(ramp[-1]))
            self.plot.addItem(curve)
            self.plot.addItem(label, ignoreBounds=True)
            self.curves.append(curve)
            self.labels.append(label)


class PinsPanel(QtWidgets.QWidget):
    """The pins list.  ``controller``: ``toggle_pin_selected``, ``unpin_pixel``, ``clear_pins``, ``export_pins``.

    ``overlay``: the :class:`PinOverlay` drawn in the ramp panel.
    """

    def __init__(self, controller, overlay: PinOverlay, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.overlay = overlay
        self.pins = None
        self.list = QtWidgets.QListWidget()
        self.list.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
        self.pin_button = QtWidgets.QPushButton("Pin selected (P)")
        self.pin_button.setToolTip("Pin the selected pixel (or unpin it if pinned): its ramp stays in the ramp panel")
        self.unpin_button = QtWidgets.QPushButton("Unpin")
        self.clear_button = QtWidgets.QPushButton("Clear")
        self.export_button = QtWidgets.QPushButton("Export CSV...")
        self.hint = QtWidgets.QLabel("Pin pixels (core, halo, background) to compare their ramps.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #bbb")
        buttons = QtWidgets.QVBoxLayout()
        for b in (self.pin_button, self.unpin_button, self.clear_button, self.export_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.hint, 0, 0, 1, 2)
        layout.addWidget(self.list, 1, 0)
        layout.addLayout(buttons, 1, 1)
        self.pin_button.clicked.connect(controller.toggle_pin_selected)
        self.unpin_button.clicked.connect(self._unpin_chosen)
        self.clear_button.clicked.connect(controller.clear_pins)
        self.export_button.clicked.connect(self._export)

    # -- PinsView --------------------------------------------------------------------------
    def set_pins(self, pins) -> None:
        self.pins = pins
        self.overlay.set_pins(pins)
        self.list.clear()
        for i, (r, c) in enumerate(() if pins is None else pins.pixels):
            item = QtWidgets.QListWidgetItem(f"pin {i + 1}: row {r}, col {c}")
            pix = QtGui.QPixmap(12, 12)
            pix.fill(QtGui.QColor(*pin_color(i)))
            item.setIcon(QtGui.QIcon(pix))
            item.setData(QtCore.Qt.ItemDataRole.UserRole, (r, c))
            self.list.addItem(item)
        self.export_button.setEnabled(pins is not None)

    def _unpin_chosen(self) -> None:
        chosen = [it.data(QtCore.Qt.ItemDataRole.UserRole) for it in self.list.selectedItems()]
        if not chosen and self.controller.model.selected_pixel in self.controller.model.pinned_pixels:
            chosen = [self.controller.model.selected_pixel]
        for r, c in chosen:
            self.controller.unpin_pixel(r, c)

    def _export(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export pinned ramps", "pinned-ramps.csv", "CSV (*.csv)")
        if path:
            # The file dialog has asked before replacing a file.
            self.controller.export_pins(path, overwrite=True)
