"""The radial profile plot about the star's centre, for the read on screen.

A thin view (:class:`~brightstar_gui.controllers._protocols.ProfileView`):
the controller hands it a :class:`processing.diagnostics.profile.ReadProfile`
whenever the frame changes.  The choice of profile (frame, difference,
slope ratio, onset) is the diagnostics model's ``profile_kind``.  When there
is no star (a dark) it says so instead of plotting.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtWidgets

from ..jobs.profile import PROFILE_KINDS
from ..models.diagnostics import DiagnosticsModel

PEN = pg.mkPen((255, 170, 60), width=2)
SAT_PEN = pg.mkPen((230, 40, 40), width=1.5)


class ProfilePlot(QtWidgets.QWidget):
    def __init__(self, diagnostics: DiagnosticsModel, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.diagnostics = diagnostics
        self.profile = None
        self.kind = QtWidgets.QComboBox()
        for name in PROFILE_KINDS:
            self.kind.addItem(name, name)
        self.log_y = QtWidgets.QCheckBox("log y")
        self.centre = QtWidgets.QLabel("")
        self.centre.setStyleSheet("color: #bbb")
        self.plot = pg.PlotWidget()
        # Axes (and grid) blitted from a pixmap: the frame marker moves on every frame of playback,
        # and replaying the axes' pictures was most of each repaint.
        from .panes import cache_axes

        cache_axes(self.plot.getPlotItem())
        self.plot.setBackground("#202124")
        self.plot.setLabel("bottom", "radius from the star's centre [pix]")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setMenuEnabled(False)
        self.curve = self.plot.plot([], [], pen=PEN, symbol="o", symbolSize=3, symbolBrush=(255, 170, 60),
                                    symbolPen=None, connect="finite")
        # Where the rings are more than half saturated: the core.
        self.core = pg.InfiniteLine(angle=90, pen=SAT_PEN, label="saturated core",
                                    labelOpts={"position": 0.9, "color": (230, 40, 40)})
        self.plot.addItem(self.core)
        self.core.setVisible(False)
        self.message = QtWidgets.QLabel("Open an exposure with a star to see its radial profile.")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #ffdc78")
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Profile of"))
        top.addWidget(self.kind)
        top.addWidget(self.log_y)
        top.addWidget(self.centre, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.plot, 1)
        self.kind.currentIndexChanged.connect(lambda _: setattr(diagnostics, "profile_kind", self.kind.currentData()))
        self.log_y.toggled.connect(lambda _: self._draw())
        diagnostics.events.profile_kind.connect(self._on_kind)

    # -- ProfileView ---------------------------------------------------------------------------
    def active(self) -> bool:
        return self.isVisible()

    def set_profile(self, profile, kind: str) -> None:
        self.profile = profile
        self.message.setVisible(False)
        cy, cx = profile.center
        self.centre.setText(f"centre row {cy:.2f}, col {cx:.2f}; read {profile.read}")
        self._draw()

    def set_message(self, text: str) -> None:
        """Say ``text`` instead of a profile (no source, computing, not computed)."""
        self.message.setText(text)
        self.message.setVisible(bool(text))
        if text:
            # No curve of another exposure or kind may stay under the message.
            self.profile = None
            self.centre.setText("")
            self._draw()

    def curve_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(radius, value) drawn (tests)."""
        x, y = self.curve.getData()
        return (np.empty(0), np.empty(0)) if x is None else (np.asarray(x), np.asarray(y))

    def _draw(self) -> None:
        p = self.profile
        attr, label = PROFILE_KINDS[self.diagnostics.profile_kind]
        self.plot.setLabel("left", label)
        log = self.log_y.isChecked() and attr in ("frame_dn", "difference_dn")
        self.plot.setLogMode(y=log)
        if p is None:
            self.curve.setData([], [])
            self.core.setVisible(False)
            return
        y = np.asarray(getattr(p, attr), float)
        if log:
            y = np.where(y > 0, y, np.nan)
        self.curve.setData(np.asarray(p.radius_px, float), y)
        frac = np.asarray(p.saturated_fraction, float)
        inside = np.flatnonzero(frac > 0.5)
        self.core.setVisible(inside.size > 0)
        if inside.size:
            self.core.setPos(float(p.radius_px[inside[-1]]))

    def _on_kind(self, kind: str, *_) -> None:
        i = self.kind.findData(kind)
        if i != self.kind.currentIndex():
            self.kind.setCurrentIndex(i)
        self._draw()
