"""Navigation views: centre and zoom of the linked panes, the zoom readout, go-to-pixel, keys.

:class:`ViewNavigator` is the controller's ``navigator`` view (see
:mod:`brightstar_gui.controllers._navigation`): it centres the panes' shared
view box on a pixel and sets the zoom in screen pixels per data pixel
("zoom 1:1" is one data pixel per device pixel), and keeps a status-bar
readout of the zoom.  :class:`GoToPixelDialog` asks for (row, col).
:class:`SpinBoxKeys` lets the window's single-key shortcuts through spin
boxes (a focused spin box otherwise takes Left/Right/Home/End/Space/C as
editing keys); text fields keep every key.
"""

from __future__ import annotations

from PyQt6 import QtCore, QtGui, QtWidgets


def zoom_text(zoom: float | None) -> str:
    """The readout: "zoom 1:1", "zoom 2.0x", "zoom 0.25x" (screen pixels per data pixel)."""
    if zoom is None or not zoom > 0:
        return "zoom -"
    if abs(zoom - 1.0) < 0.01:
        return "zoom 1:1"
    return f"zoom {zoom:.1f}x" if zoom >= 1 else f"zoom {zoom:.2g}x"


class ViewNavigator(QtCore.QObject):
    """Centre and zoom of the panes' (linked) view box, and the zoom readout.

    Parameters
    ----------
    viewbox : pyqtgraph.ViewBox
        The first pane's view box; the others are linked to it.
    label : QLabel
        Shows :func:`zoom_text` of the current zoom.
    """

    #: Zoom factor of "Zoom in" / "Zoom out".
    STEP = 2.0

    def __init__(self, viewbox, label: QtWidgets.QLabel, parent: QtCore.QObject | None = None, shown=None):
        super().__init__(parent)
        self.viewbox = viewbox
        self.label = label
        # ``shown()``: an exposure is on screen (else the zoom of the empty panes' 0..4096 is no readout).
        self._shown = shown or (lambda: True)
        label.setToolTip("Screen pixels per data pixel (View > Zoom 1:1: one data pixel per screen pixel)")
        viewbox.sigRangeChanged.connect(lambda *_: self.update_label())
        viewbox.sigResized.connect(lambda *_: self.update_label())
        self.update_label()

    def _dpr(self) -> float:
        views = self.viewbox.scene().views() if self.viewbox.scene() is not None else []
        return float(views[0].devicePixelRatioF()) if views else 1.0

    def zoom(self) -> float | None:
        """Device pixels per data pixel (None before the view box is laid out)."""
        if self.viewbox.width() < 2 or self.viewbox.height() < 2:
            return None
        dx, dy = self.viewbox.viewPixelSize()  # data units per logical screen pixel
        size = max(dx, dy)
        return None if not size > 0 else 1.0 / (size * self._dpr())

    def update_label(self) -> None:
        self.label.setText(zoom_text(self.zoom() if self._shown() else None))

    def span(self) -> tuple[float, float] | None:
        """Visible (height, width) in data pixels."""
        (x0, x1), (y0, y1) = self.viewbox.viewRange()
        return (y1 - y0, x1 - x0) if self.viewbox.width() >= 2 else None

    def centre(self) -> tuple[float, float]:
        """The view's centre, data (y, x)."""
        (x0, x1), (y0, y1) = self.viewbox.viewRange()
        return 0.5 * (y0 + y1), 0.5 * (x0 + x1)

    def _show(self, cy: float, cx: float, h: float, w: float) -> None:
        self.viewbox.setRange(xRange=(cx - w / 2, cx + w / 2), yRange=(cy - h / 2, cy + h / 2), padding=0)

    def center_on(self, row: int, col: int, span: tuple[float, float] | None = None) -> None:
        """Centre on pixel (row, col) (its middle is at row + 0.5, col + 0.5), keeping the zoom or showing ``span``."""
        h, w = span or self.span() or (64.0, 64.0)
        self._show(row + 0.5, col + 0.5, h, w)

    def set_zoom(self, zoom: float) -> None:
        """``zoom`` device pixels per data pixel, about the view's centre."""
        per_px = self._dpr() / float(zoom)  # data pixels per logical pixel
        cy, cx = self.centre()
        self._show(cy, cx, self.viewbox.height() * per_px, self.viewbox.width() * per_px)

    def one_to_one(self) -> None:
        self.set_zoom(1.0)

    def zoom_in(self) -> None:
        z = self.zoom()
        if z is not None:
            self.set_zoom(z * self.STEP)

    def zoom_out(self) -> None:
        z = self.zoom()
        if z is not None:
            self.set_zoom(z / self.STEP)


class GoToPixelDialog(QtWidgets.QDialog):
    """Row and column of the pixel to go to (window-modal, non-blocking: :meth:`open`)."""

    def __init__(self, frame_shape: tuple[int, int], pixel: tuple[int, int] | None,
                 parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Go to pixel")
        h, w = frame_shape
        self.row = QtWidgets.QSpinBox()
        self.col = QtWidgets.QSpinBox()
        for box, top, name in ((self.row, h, "row (y)"), (self.col, w, "column (x)")):
            box.setRange(0, max(0, top - 1))
            box.setToolTip(f"{name}, 0-{max(0, top - 1)}")
        if pixel is not None:
            self.row.setValue(pixel[0])
            self.col.setValue(pixel[1])
        form = QtWidgets.QFormLayout()
        form.addRow("Row (y)", self.row)
        form.addRow("Column (x)", self.col)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(QtWidgets.QLabel(f"Detector rows 0-{max(0, h - 1)}, columns 0-{max(0, w - 1)}"))
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.row.setFocus()
        self.row.selectAll()

    def pixel(self) -> tuple[int, int]:
        return self.row.value(), self.col.value()


class SpinBoxKeys(QtCore.QObject):
    """Let ``window``'s single-key shortcuts win over a focused spin box.

    A spin box asks for Left/Right/Home/End (cursor keys of its text) and
    printable keys (Space, C) through a ShortcutOverride event, so the
    window's shortcuts never fire while one has focus -- and a spin box
    keeps focus after every edit.  Refusing the override for the keys of the
    window's own single-key shortcuts, and only in spin boxes, lets them
    fire; Up/Down, digits and every key in a text field are left alone.
    """

    def __init__(self, window: QtWidgets.QWidget):
        super().__init__(window)
        self.window = window

    def single_keys(self) -> set[int]:
        """Keys (no modifier) of the window's shortcuts, read from its actions now (they cannot drift)."""
        keys = set()
        for action in self.window.findChildren(QtGui.QAction):
            if not action.isEnabled():
                continue
            for seq in action.shortcuts():
                if seq.count() == 1:
                    combo = seq[0]
                    if combo.keyboardModifiers() in (QtCore.Qt.KeyboardModifier.NoModifier,
                                                     QtCore.Qt.KeyboardModifier.KeypadModifier):
                        keys.add(int(combo.key().value))
        return keys

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 - Qt name
        kind = event.type()
        if kind == QtCore.QEvent.Type.Close and obj is self.window:
            # An application filter sees every event of every window: none once this one is gone.
            QtWidgets.QApplication.instance().removeEventFilter(self)
            return False
        if kind != QtCore.QEvent.Type.ShortcutOverride or not isinstance(obj, QtWidgets.QWidget):
            return False
        spin = obj if isinstance(obj, QtWidgets.QAbstractSpinBox) else obj.parent()
        if not isinstance(spin, QtWidgets.QAbstractSpinBox) or spin.window() is not self.window:
            return False
        if event.modifiers() not in (QtCore.Qt.KeyboardModifier.NoModifier, QtCore.Qt.KeyboardModifier.KeypadModifier):
            return False
        if event.key() in self.single_keys():
            event.ignore()
            return True  # not overridden: the window's shortcut fires
        return False
