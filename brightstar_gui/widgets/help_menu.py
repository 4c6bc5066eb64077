"""The Help menu: the keyboard shortcuts (read from the window's actions) and About (versions).

The shortcut list is built when it is opened, from every action of the
window that has a shortcut (and any bare QShortcut), with the menu it sits
in -- so it lists what the keys really do and cannot drift from them.
"""

from __future__ import annotations

import platform
from importlib import metadata

from PyQt6 import QtCore, QtGui, QtWidgets

#: Distributions whose versions About lists, in this order.
DISTRIBUTIONS = ("brightstar-gui", "romancal", "roman_datamodels", "asdf", "stcal", "numpy", "pyqtgraph", "PyQt6")

#: Mouse gestures on the panes (not actions, so not in the action list).
MOUSE = (
    ("Left click", "Select the pixel (ramp panel, pixel table)"),
    ("Right click", "Pane menu: copy value, go to pixel, set as cutout centre, pin pixel"),
    ("Wheel / right drag", "Zoom all panes"),
    ("Left drag", "Pan all panes"),
    ("Drag the green box", "Move or resize the cutout (raw pane)"),
)


def clean(text: str) -> str:
    """An action's text without its mnemonic '&' and trailing '...'."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(".").strip()


def _menu_actions(menu: QtWidgets.QMenu, path: str):
    for action in menu.actions():
        sub = action.menu()
        if sub is not None:
            yield from _menu_actions(sub, f"{path} > {clean(sub.title())}")
        elif not action.isSeparator():
            yield action, path


def shortcut_rows(window: QtWidgets.QMainWindow) -> list[tuple[str, str, str]]:
    """``(keys, action, menu)`` for every shortcut of ``window``, in menu order.

    Keys are in the platform's native text ("Ctrl+G"); several keys of one
    action are joined with ", ".  Actions outside the menus are listed
    under "(window)".
    """
    rows, seen = [], set()
    found = []
    for top in window.menuBar().actions():
        if top.menu() is not None:
            found.extend(_menu_actions(top.menu(), clean(top.menu().title())))
    found.extend((a, "(window)") for a in window.findChildren(QtGui.QAction))
    for action, path in found:
        if id(action) in seen or not action.shortcuts():
            continue
        seen.add(id(action))
        keys = ", ".join(s.toString(QtGui.QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
        rows.append((keys, clean(action.text()) or action.objectName(), path))
    local = (QtCore.Qt.ShortcutContext.WidgetShortcut, QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
    for sc in window.findChildren(QtGui.QShortcut):
        # A widget's own key (Return in a list) is that widget's business, unless it says what it does.
        if sc.isEnabled() and not sc.key().isEmpty() and (sc.context() not in local or sc.whatsThis()):
            rows.append((sc.key().toString(QtGui.QKeySequence.SequenceFormat.NativeText),
                         sc.whatsThis() or sc.objectName() or "(shortcut)", "(window)"))
    return rows


class ShortcutsDialog(QtWidgets.QDialog):
    """Help > Keyboard shortcuts: a table of the window's shortcuts and the mouse gestures."""

    def __init__(self, window: QtWidgets.QMainWindow):
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(window)
        self.table = QtWidgets.QTableWidget(len(rows) + len(MOUSE), 3)
        self.table.setHorizontalHeaderLabels(["Keys", "Does", "Menu"])
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        for i, row in enumerate(rows + [(k, d, "mouse, on the panes") for k, d in MOUSE]):
            for j, text in enumerate(row):
                self.table.setItem(i, j, QtWidgets.QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        for j, mode in enumerate((QtWidgets.QHeaderView.ResizeMode.ResizeToContents,
                                  QtWidgets.QHeaderView.ResizeMode.Stretch,
                                  QtWidgets.QHeaderView.ResizeMode.ResizeToContents)):
            header.setSectionResizeMode(j, mode)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.setWordWrap(False)
        note = QtWidgets.QLabel("Single keys work wherever the focus is, except while typing in a text field.")
        note.setWordWrap(True)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(720, min(700, 110 + (self.fontMetrics().height() + 6) * self.table.rowCount()))

    def rows(self) -> list[tuple[str, str, str]]:
        t = self.table
        return [tuple(t.item(i, j).text() for j in range(3)) for i in range(t.rowCount())]


def versions() -> dict[str, str]:
    """Version of each of :data:`DISTRIBUTIONS`, Qt and Python ("not installed" when absent)."""
    out = {}
    for name in DISTRIBUTIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["Qt"] = QtCore.qVersion()
    out["Python"] = platform.python_version()
    return out


def about_text() -> str:
    lines = ["brightstar-gui: a viewer for Roman WFI TVAC bright-star ramps", ""]
    lines += [f"{name} {version}" for name, version in versions().items()]
    return "\n".join(lines)


class AboutDialog(QtWidgets.QDialog):
    """Help > About: what this is and the versions in use (selectable, with a Copy button)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About brightstar-gui")
        self.text = about_text()
        label = QtWidgets.QLabel(self.text)
        label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        font = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        label.setFont(font)
        self.label = label
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy", QtWidgets.QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(lambda: QtWidgets.QApplication.clipboard().setText(self.text))
        buttons.rejected.connect(self.close)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(buttons)


def build_help_menu(window: QtWidgets.QMainWindow) -> QtWidgets.QMenu:
    """Add Help (Keyboard shortcuts F1, About) to ``window``'s menu bar; dialogs are kept on ``window``."""
    menu = window.menuBar().addMenu("&Help")

    def show(attr: str, make):
        old = getattr(window, attr, None)
        if old is not None:
            old.close()
        dlg = make()
        setattr(window, attr, dlg)
        dlg.show()
        dlg.raise_()

    window.shortcuts_action = menu.addAction("&Keyboard shortcuts", lambda: show("shortcuts_dialog",
                                                                              lambda: ShortcutsDialog(window)))
    window.shortcuts_action.setShortcut(QtGui.QKeySequence("F1"))
    window.about_action = menu.addAction("&About brightstar-gui", lambda: show("about_dialog",
                                                                           lambda: AboutDialog(window)))
    return menu
