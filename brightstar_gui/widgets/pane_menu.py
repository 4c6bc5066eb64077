"""The panes' context menu: right-click a pixel to copy its value, go to it, centre the cutout, pin it.

The menu only calls the controller (:mod:`brightstar_gui.controllers._navigation`);
"Copy value" puts the pane's value with its pixel, frame and units on the
clipboard (e.g. ``row 100, col 140, frame 5: raw 12345 DN``).
"""

from __future__ import annotations

from PyQt6 import QtCore, QtGui, QtWidgets


class PaneMenu(QtCore.QObject):
    """Right-click menu of the four panes.

    Parameters
    ----------
    panes : PaneGroup
    controller : ViewerController
    status : object with ``flash(text, ms)``

    Signals
    -------
    value_copied(str text)
        The clipboard now holds ``text``.
    """

    value_copied = QtCore.pyqtSignal(str)

    def __init__(self, panes, controller, status, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.panes = panes
        self.controller = controller
        self.status = status
        self.menu: QtWidgets.QMenu | None = None
        panes.graphics.scene().sigMouseClicked.connect(self._on_click)

    def _on_click(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.RightButton:
            return
        hit = self.pixel_at(event.scenePos())
        if hit is not None:
            self.popup(*hit, event.screenPos().toPoint())

    def pixel_at(self, scene_pos) -> tuple[str, int, int] | None:
        """(pane, row, col) of the data pixel at ``scene_pos``, or None off the data."""
        for kind, plot in self.panes.plots.items():
            vb = plot.getViewBox()
            if vb.sceneBoundingRect().contains(scene_pos):
                p = vb.mapSceneToView(scene_pos)
                row, col = int(p.y() // 1), int(p.x() // 1)
                h, w = self.controller.model.frame_shape
                if self.controller.dataset is not None and 0 <= row < h and 0 <= col < w:
                    return kind, row, col
        return None

    def menu_for(self, pane: str, row: int, col: int) -> QtWidgets.QMenu:
        """The menu for pixel (row, col) of ``pane`` (kept as :attr:`menu`)."""
        if self.menu is not None:
            self.menu.close()
            self.menu.deleteLater()
        c = self.controller
        menu = QtWidgets.QMenu(self.panes)
        menu.addSection(f"pixel (row {row}, col {col})")
        menu.addAction("&Copy value", lambda: self.copy_value(pane, row, col))
        menu.addAction("&Go to pixel", lambda: self._guard("Go to pixel", c.go_to_pixel, row, col))
        # Mnemonics unique: "&centre" shared C with "&Copy value", so C only moved between them.
        menu.addAction("Set as c&utout centre", lambda: c.set_cutout_centre(row, col))
        if (row, col) in c.model.pinned_pixels:
            menu.addAction("Un&pin pixel", lambda: c.unpin_pixel(row, col))
        else:
            menu.addAction("&Pin pixel", lambda: self._guard("Pin pixel", c.pin_pixel, row, col))
        self.menu = menu
        return menu

    def popup(self, pane: str, row: int, col: int, at: QtCore.QPoint) -> QtWidgets.QMenu:
        menu = self.menu_for(pane, row, col)
        menu.popup(at)
        return menu

    def action(self, text: str) -> QtGui.QAction:
        """The open menu's action whose text (without '&') is ``text`` (for tests and scripts)."""
        for a in self.menu.actions():
            if a.text().replace("&", "") == text:
                return a
        raise KeyError(text)

    def copy_value(self, pane: str, row: int, col: int) -> None:
        def done(text: str) -> None:
            QtWidgets.QApplication.clipboard().setText(text)
            self.status.flash(f"copied: {text}", 5000)
            self.value_copied.emit(text)

        self.controller.value_text(pane, row, col, done)

    def _guard(self, what: str, fn, *args) -> None:
        try:
            fn(*args)
        except ValueError as err:
            self.status.show_error(what, str(err))
