"""Wires navigation into the main window: Navigate and Help menus, zoom actions, pixel table, pane menu.

:func:`install_navigation` is called once by
:class:`~brightstar_gui.widgets.main_window.MainWindow` after its own menus.
It gives the window the controller's optional views ``navigator``
(:class:`~.navigation.ViewNavigator`) and ``pixel_table``
(:class:`~.pixel_table.PixelTableWidget`), and makes every key a window
action (``Qt.ShortcutContext.WindowShortcut``) listed by Help > Keyboard
shortcuts.
"""

from __future__ import annotations

from PyQt6 import QtCore, QtGui, QtWidgets

from .help_menu import build_help_menu
from .navigation import GoToPixelDialog, SpinBoxKeys, ViewNavigator
from .pane_menu import PaneMenu
from .pixel_table import PixelTableWidget


def _action(parent: QtWidgets.QWidget, text: str, slot, *keys, tip: str = "") -> QtGui.QAction:
    action = QtGui.QAction(text, parent)
    action.setShortcuts([QtGui.QKeySequence(k) for k in keys])
    action.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
    if tip:
        action.setToolTip(tip)
        action.setStatusTip(tip)
    action.triggered.connect(lambda *_: slot())
    return action


def _menu(window: QtWidgets.QMainWindow, title: str) -> QtWidgets.QMenu | None:
    for a in window.menuBar().actions():
        if a.menu() is not None and a.menu().title().replace("&", "") == title:
            return a.menu()
    return None


def install_navigation(window) -> None:
    """Add go-to-pixel, frame keys, zoom 1:1 / in / out and its readout, the pixel table, Help and the pane menu."""
    c, panes, slider = window.controller, window.panes, window.slider

    # -- zoom readout and the navigator view ------------------------------------------------
    window.zoom_label = QtWidgets.QLabel("zoom -")
    window.zoom_label.setMinimumWidth(78)
    window.statusBar().addPermanentWidget(window.zoom_label)
    window.navigator = ViewNavigator(panes.viewbox, window.zoom_label, window,
                                     shown=lambda: window.controller.dataset is not None)

    # -- pixel table dock (beside Display and Metadata; the ramp keeps the bottom) ---------------
    window.pixel_table = PixelTableWidget()
    dock = QtWidgets.QDockWidget("Pixel table", window)
    dock.setObjectName("dock-pixel-table")
    dock.setWidget(window.pixel_table)
    window.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, dock)
    if getattr(window, "controls_dock", None) is not None:
        window.tabifyDockWidget(window.controls_dock, dock)
        window.controls_dock.raise_()
    window.pixel_table_dock = dock

    # -- Navigate menu: go to, frames ----------------------------------------------------------
    def go_to() -> None:
        if c.dataset is None:
            window.flash("open an exposure first (File > Open exposure...)", 5000)
            return
        old = getattr(window, "go_to_dialog", None)
        if old is not None:
            old.close()
        dlg = GoToPixelDialog(c.model.frame_shape, c.model.selected_pixel, window)

        def accepted() -> None:
            try:
                c.go_to_pixel(*dlg.pixel())
            except ValueError as err:
                window.show_error("Go to pixel", str(err))

        dlg.accepted.connect(accepted)
        window.go_to_dialog = dlg
        dlg.open()

    nav = window.menuBar().addMenu("&Navigate")
    window.go_to_action = _action(window, "&Go to pixel...", go_to, "Ctrl+G",
                                  tip="Select a pixel by row and column and centre the panes on it")
    nav.addAction(window.go_to_action)
    nav.addAction(_action(window, "&Centre on the selected pixel", lambda: _centre_selected(c), "Ctrl+Shift+G"))
    nav.addSeparator()
    window.frame_actions = {
        "previous": _action(window, "&Previous frame", slider.step_back, "Left"),
        "next": _action(window, "&Next frame", slider.step_forward, "Right"),
        "first": _action(window, "&First frame", slider.first, "Home"),
        "last": _action(window, "&Last frame", slider.last, "End"),
        "play": _action(window, "Play / &pause", slider.toggle_play, "Space"),
    }
    for a in window.frame_actions.values():
        nav.addAction(a)

    # -- View menu: zoom 1:1, in, out next to Reset zoom; the pixel table's toggle ----------------
    navigator = window.navigator
    window.zoom_actions = {
        "one_to_one": _action(window, "Zoom &1:1", navigator.one_to_one, "Ctrl+1",
                              tip="One data pixel per screen pixel"),
        "in": _action(window, "Zoom &in", navigator.zoom_in, QtGui.QKeySequence.StandardKey.ZoomIn, "Ctrl+="),
        "out": _action(window, "Zoom &out", navigator.zoom_out, QtGui.QKeySequence.StandardKey.ZoomOut),
    }
    view = _menu(window, "View") or window.menuBar().addMenu("&View")
    actions = view.actions()
    reset = next((i for i, a in enumerate(actions) if "Reset zoom" in a.text().replace("&", "")), None)
    before = actions[reset + 1] if reset is not None and reset + 1 < len(actions) else None
    for a in window.zoom_actions.values():
        view.insertAction(before, a) if before is not None else view.addAction(a)
    view.addAction(dock.toggleViewAction())

    build_help_menu(window)

    # -- keys through spin boxes; the pane menu; the table follows ------------------------------
    window.spin_box_keys = SpinBoxKeys(window)
    QtWidgets.QApplication.instance().installEventFilter(window.spin_box_keys)
    window.pane_menu = PaneMenu(panes, c, window, window)
    panes.pixel_hovered.connect(c.table_hover)
    # The scene reports moves only inside it: leaving the panes must say so, or the
    # table (and the hover readout) would keep the last pixel the mouse crossed.
    window.pane_leave = _LeaveWatcher(lambda: panes.pixel_hovered.emit(-1, -1), window)
    panes.graphics.viewport().installEventFilter(window.pane_leave)
    window.pixel_table.follow_changed.connect(lambda *_: c.request_pixel_table())
    window.context_loaded.connect(lambda *_: c.request_pixel_table())
    window.exposure_opened.connect(lambda *_: c.request_pixel_table())
    c.start_navigation()


def _centre_selected(c) -> None:
    pixel = c.model.selected_pixel
    nav = getattr(c.views, "navigator", None)
    if pixel is not None and nav is not None:
        nav.center_on(*pixel)


class _LeaveWatcher(QtCore.QObject):
    """Calls ``on_leave()`` when the mouse leaves the watched widget."""

    def __init__(self, on_leave, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.on_leave = on_leave

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 - Qt name
        if event.type() == QtCore.QEvent.Type.Leave:
            self.on_leave()
        return False
