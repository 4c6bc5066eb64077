"""Installs the saturation diagnostics in the main window: docks, overlays, menu entries, the P key.

:func:`install_diagnostics` builds the growth plot, the radial profile and
the pinned-pixels list as tabs of one dock beside the ramp panel, the onset
contours over the raw pane and the pins' ramps over the ramp plot, and
makes them the controller's ``growth``, ``profile``, ``pins`` and
``onset_overlay`` views (attributes of the window, which is the
controller's ``views``).
"""

from __future__ import annotations

from PyQt6 import QtCore, QtGui, QtWidgets

from .growth_plot import GrowthPlot
from .onset_overlay import ContourLayer
from .pins import PinOverlay, PinsPanel
from .profile_plot import ProfilePlot

BOTTOM = QtCore.Qt.DockWidgetArea.BottomDockWidgetArea


def _menu(window, title: str):
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text().replace("&", "") == title:
            return action.menu()
    return window.menuBar().addMenu(title)


def install_diagnostics(window) -> None:
    """Add the diagnostics views to ``window`` (a :class:`~.main_window.MainWindow`)."""
    c = window.controller
    diag = c.diagnostics
    window.growth = GrowthPlot(diag)
    window.profile = ProfilePlot(diag)
    window.pins = PinsPanel(c, PinOverlay(window.ramp.plot))
    window.onset_overlay = ContourLayer(window.panes.plots["raw"])
    window.growth.scope.provider = c.growth_scopes
    window.growth.read_clicked.connect(lambda k: setattr(window.model, "frame", k))

    # One dock of tabs beside the ramp panel (QMainWindow's own dock tabs left a
    # stray tab bar on screen under xcb).
    window.diagnostics_tabs = tabs = QtWidgets.QTabWidget()
    tabs.setDocumentMode(True)
    tabs.addTab(window.growth, "Saturation growth")
    tabs.addTab(window.profile, "Radial profile")
    tabs.addTab(window.pins, "Pinned pixels")
    window.diagnostics_dock = window._dock("Saturation", tabs, BOTTOM)
    window.splitDockWidget(window.ramp_dock, window.diagnostics_dock, QtCore.Qt.Orientation.Horizontal)
    # A hidden plot is not computed; showing it asks for what it lacks.
    tabs.currentChanged.connect(lambda _: c.refresh_diagnostics())
    window.diagnostics_dock.visibilityChanged.connect(lambda visible: visible and c.refresh_diagnostics())

    analysis = _menu(window, "Analysis")
    analysis.addSeparator()
    analysis.addAction("Saturation &diagnostics", lambda: (show_tab(window, window.growth), c.refresh_diagnostics()))
    window.pin_action = analysis.addAction("&Pin / unpin the selected pixel", c.toggle_pin_selected)
    window.pin_action.setShortcut(QtGui.QKeySequence("P"))
    analysis.addAction("Clear pinned pixels", c.clear_pins)
    analysis.addAction("Export pinned ramps...", window.pins._export)
    _menu(window, "View").addAction(window.diagnostics_dock.toggleViewAction())


def show_tab(window, widget) -> None:
    """Bring the diagnostics tab holding ``widget`` to the front (and the dock, if hidden)."""
    window.diagnostics_dock.show()
    window.diagnostics_dock.raise_()
    window.diagnostics_tabs.setCurrentWidget(widget)
