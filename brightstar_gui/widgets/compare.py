"""The Compare dock: two panes side by side, following the main panes' zoom: A, B, A - B, or A and B blinking.

What A and B are is the controller's (:mod:`..controllers._compare`): another
read, the calibrated ramp, or another exposure such as a dark.  Each pane has
a choice of what it shows; "blink A / B" swaps A and B at the chosen rate
(a child QTimer, running only while the dock is visible).  Both panes show
the main panes' visible area (zoom and pan there), so the geometry is the same everywhere.
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from ..jobs.compare import CompareResult

BLINK = "blink A / B"
CHOICES = (BLINK, "A", "B", "A - B")
MODE_LABELS = {"read": "another read", "calibrated": "its calibrated ramp", "exposure": "another exposure"}


class CompareWidget(QtWidgets.QWidget):
    """Signals
    -------
    blinked(str which)
        A blinking pane now shows "A" or "B".
    """

    blinked = QtCore.pyqtSignal(str)

    def __init__(self, controller, link_to: pg.ViewBox | None = None, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.result: CompareResult | None = None
        self.phase = "A"
        self.uploaded: dict[str, np.ndarray] = {}  # side -> the RGBA array on it
        self.blink_log: deque[tuple[float, str]] = deque(maxlen=256)

        self.mode = QtWidgets.QComboBox()
        for mode, label in MODE_LABELS.items():
            self.mode.addItem(label, mode)
        self.read = QtWidgets.QSpinBox()
        self.read.setRange(0, 0)
        self.read.setToolTip("B's read (another read of the same exposure)")
        self.other = QtWidgets.QComboBox()
        self.other.setEditable(True)
        self.other.setMinimumWidth(180)
        self.other.setToolTip("The exposure to compare with (darks of the same data set are listed)")
        browse = QtWidgets.QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        self.rate = QtWidgets.QDoubleSpinBox()
        self.rate.setRange(0.5, 20.0)
        self.rate.setSingleStep(0.5)
        self.rate.setValue(2.0)
        self.rate.setSuffix(" /s")
        self.rate.setToolTip("Blink rate: swaps between A and B per second")
        self.choice = {}
        for side, default in (("left", BLINK), ("right", "A - B")):
            box = QtWidgets.QComboBox()
            box.addItems(CHOICES)
            box.setCurrentText(default)
            box.currentTextChanged.connect(lambda _: self._settings_changed())
            self.choice[side] = box

        self.other.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.other.setMinimumContentsLength(24)
        top = QtWidgets.QHBoxLayout()
        for w in (QtWidgets.QLabel("B:"), self.mode, self.read, self.other, browse, QtWidgets.QLabel("left:"),
                  self.choice["left"], QtWidgets.QLabel("right:"), self.choice["right"], QtWidgets.QLabel("blink"),
                  self.rate):
            top.addWidget(w)
        top.addStretch(1)
        self.other.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#202124")
        self.plots, self.images = {}, {}
        for col, side in enumerate(("left", "right")):
            plot = self.graphics.addPlot(row=0, col=col)
            plot.setAspectLocked(True)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setMouseEnabled(False, False)  # the geometry is the main panes': zoom and pan there
            image = pg.ImageItem(axisOrder="row-major")
            plot.addItem(image)
            self.plots[side], self.images[side] = plot, image
        # Not pyqtgraph's X/Y links: with locked aspects, a low, wide dock linked on both axes
        # widens X by the boxes' aspect ratio.  Each compare pane shows the main panes' visible
        # area instead, centred, fitted into its own box.
        self.link_to = link_to
        if link_to is not None:
            link_to.sigRangeChanged.connect(lambda *_: self.follow())
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)

        self.timer = QtCore.QTimer(self)
        self.timer.setObjectName("compare-blink")
        self.timer.timeout.connect(self._blink)
        self.rate.valueChanged.connect(lambda _: self._settings_changed())
        self.mode.currentIndexChanged.connect(lambda _: self._choose_b())
        self.read.valueChanged.connect(lambda _: self._choose_b() if self._mode() == "read" else None)
        self.other.activated.connect(lambda _: self._choose_b())
        self.other.lineEdit().returnPressed.connect(self._choose_b)
        controller.model.events.n_frames.connect(lambda n, *_: self.read.setRange(0, max(0, n - 1)))
        self._update_controls()

    def follow(self) -> None:
        """Show the main panes' visible area in both compare panes."""
        if self.link_to is None:
            return
        (x0, x1), (y0, y1) = self.link_to.viewRange()
        for plot in self.plots.values():
            plot.getViewBox().setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt name
        super().showEvent(event)
        self.follow()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt name
        super().resizeEvent(event)
        self.follow()

    # -- the user's choices --------------------------------------------------------------
    def _mode(self) -> str:
        return self.mode.currentData()

    def _choose_b(self) -> None:
        self._update_controls()
        mode = self._mode()
        if mode == "exposure":
            uri = self.other.currentText().strip()
            if uri:
                self.controller.set_compare("exposure", uri=uri)
            else:
                self.set_compare(None, "choose the exposure to compare with (B)")
        else:
            self.controller.set_compare(mode, read=self.read.value())

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Exposure to compare with", "", "ASDF (*.asdf)")
        if path:
            self.other.setCurrentText(path)
            self.mode.setCurrentIndex(list(MODE_LABELS).index("exposure"))
            self._choose_b()

    def set_candidates(self, uris: list[str]) -> None:
        current = self.other.currentText()
        self.other.clear()
        self.other.addItems(uris)
        self.other.setCurrentText(current)

    def _update_controls(self) -> None:
        mode = self._mode()
        self.read.setEnabled(mode == "read")
        self.other.setEnabled(mode == "exposure")

    def _settings_changed(self) -> None:
        self.controller.compare_view_settings = self.settings()
        self._draw()
        self.update_timer()

    def settings(self) -> dict:
        return {"left": self.choice["left"].currentText(), "right": self.choice["right"].currentText(),
                "rate": float(self.rate.value())}

    def apply_settings(self, settings: dict) -> None:
        for side in ("left", "right"):
            if settings.get(side) in CHOICES:
                self.choice[side].setCurrentText(settings[side])
        if isinstance(settings.get("rate"), (int, float)):
            self.rate.setValue(float(settings["rate"]))
        c = self.controller
        self.mode.blockSignals(True)
        self.mode.setCurrentIndex(list(MODE_LABELS).index(c.compare_mode))
        self.mode.blockSignals(False)
        if c.compare_uri:
            self.other.setCurrentText(c.compare_uri)
        self._update_controls()

    # -- blinking ------------------------------------------------------------------------
    def update_timer(self) -> None:
        """Run the blink timer only while a pane blinks and the view is shown."""
        blinking = BLINK in (self.choice["left"].currentText(), self.choice["right"].currentText())
        if blinking and self.controller.compare_active and self.result is not None:
            self.timer.setInterval(max(1, round(1000.0 / self.rate.value())))
            if not self.timer.isActive():
                self.timer.start()
        else:
            self.timer.stop()

    def _blink(self) -> None:
        self.phase = "B" if self.phase == "A" else "A"
        self.blink_log.append((time.monotonic(), self.phase))
        self._draw()
        self.blinked.emit(self.phase)

    # -- from the controller ---------------------------------------------------------------
    def set_compare(self, result: CompareResult | None, message: str = "") -> None:
        self.result = result
        if result is None:
            self.uploaded.clear()
            for side in ("left", "right"):
                self.images[side].clear()
                self.plots[side].setTitle(message)
        self._draw()
        self.update_timer()

    def shown(self, side: str) -> str | None:
        """What ``side``'s pane shows now: "A", "B" or "A - B" (None: nothing)."""
        if self.result is None:
            return None
        choice = self.choice[side].currentText()
        return self.phase if choice == BLINK else choice

    def _draw(self) -> None:
        r = self.result
        if r is None:
            return
        labels = {"A": f"A: {r.request.label_a}", "B": f"B: {r.request.label_b}",
                  "A - B": "A - B"}
        for side in ("left", "right"):
            what = self.shown(side)
            image = self.images[side]
            rgba = r.rgba[what]
            if self.uploaded.get(side) is not rgba:  # a blink uploads only the pane that changed
                image.setImage(rgba, autoLevels=False, levels=None)
                image.setRect(QtCore.QRectF(*r.rect))
                self.uploaded[side] = rgba
            blink = " (blinking)" if self.choice[side].currentText() == BLINK else ""
            lo, hi = r.levels[what]
            self.plots[side].setTitle(f"{labels[what]}{blink}   [{lo:.4g}, {hi:.4g}]")


class CompareViews:
    """The controller's ``views.compare``."""

    def __init__(self, widget: CompareWidget):
        self.widget = widget

    def set_compare(self, result, message: str = "") -> None:
        self.widget.set_compare(result, message)

    def apply_settings(self, settings: dict) -> None:
        self.widget.apply_settings(settings)


def install_compare(window) -> CompareWidget:
    """The Compare dock (View > Compare), hidden until asked for: it computes only while shown."""
    c = window.controller
    widget = CompareWidget(c, link_to=window.panes.viewbox)
    window.compare = CompareViews(widget)
    window.compare_widget = widget
    # Added hidden and tabbed with the ramp only when first shown: hiding a dock already in
    # the ramp's tab group left a stray copy of the group's tab bar over the Exposures dock.
    dock = window.compare_dock = QtWidgets.QDockWidget("Compare", window)
    dock.setObjectName("dock-compare")
    dock.setWidget(widget)
    dock.hide()
    window.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, dock)

    def show_dock() -> None:
        if not getattr(dock, "_placed", False) and not dock.isFloating():
            dock._placed = True
            window.tabifyDockWidget(window.ramp_dock, dock)
        dock.show()
        dock.raise_()

    def visibility(visible: bool) -> None:
        c.compare_active = bool(visible)
        if visible:
            widget.set_candidates(c.dark_candidates())
            c.request_compare()
        widget.update_timer()

    dock.visibilityChanged.connect(visibility)
    c.add_hook("shown", lambda ds: widget.set_candidates(c.dark_candidates()))  # after the first panes
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    # Show and raise (not a toggle): a dock tabbed behind the ramp counts as open but is not seen.
    action = QtGui.QAction("Co&mpare (blink, side by side, difference)", window, triggered=show_dock)
    view.addAction(action)
    window.compare_action = action
    return widget
