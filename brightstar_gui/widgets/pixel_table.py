"""The pixel table dock: the 9 x 9 values around the cursor or the selected pixel (DS9's Pixel Table).

A thin view of :class:`~brightstar_gui.jobs.pixel_table.PixelTable` (the
controller reads the values in a job).  Rows are drawn as the panes draw
them, the highest row on top; the headers give the row and column numbers.
The centre cell is outlined and bold, flagged cells (pixel DQ != 0) have an
orange background and the decoded DQ in their tooltip, NaN cells read "NaN"
on purple, cells off the detector are blank and grey.
"""

from __future__ import annotations

import numpy as np
from PyQt6 import QtCore, QtGui, QtWidgets

from ..jobs.pane_value import kind_label
from ..jobs.pixel_table import TABLE_HALF, PixelTable

FLAGGED_BG = QtGui.QColor(150, 80, 0)
NAN_BG = QtGui.QColor(110, 40, 130)
CENTRE_BG = QtGui.QColor(0, 90, 110)
OFF_BG = QtGui.QColor(60, 60, 60)


class _CentreOutline(QtWidgets.QStyledItemDelegate):
    """Outlines the centre cell, whatever its background (a flagged centre stays findable)."""

    def paint(self, painter: QtGui.QPainter, option, index) -> None:
        super().paint(painter, option, index)
        if index.row() == TABLE_HALF and index.column() == TABLE_HALF:
            painter.save()
            painter.setPen(QtGui.QPen(QtGui.QColor(0, 255, 255), 2))
            painter.drawRect(option.rect.adjusted(1, 1, -1, -1))
            painter.restore()


class PixelTableWidget(QtWidgets.QWidget):
    """A 9 x 9 table of one read's values with a "follow the cursor" switch.

    Attributes
    ----------
    table : QTableWidget
    follow : QCheckBox
        Checked: the table follows the mouse over the panes (the selected
        pixel when the mouse leaves them); unchecked: the selected pixel only.
    shown : PixelTable or None
        What is on screen.
    """

    #: The "follow the cursor" switch changed (the controller asks for the table again).
    follow_changed = QtCore.pyqtSignal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        n = 2 * TABLE_HALF + 1
        self.shown: PixelTable | None = None
        self.caption = QtWidgets.QLabel("no pixel")
        self.follow = QtWidgets.QCheckBox("Follow cursor")
        self.follow.setChecked(True)
        self.follow.setToolTip("Show the pixels under the mouse; unchecked (or off the panes): the selected pixel")
        self.follow.toggled.connect(self.follow_changed)
        self.table = QtWidgets.QTableWidget(n, n)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ContiguousSelection)
        # The table is read, not typed into: keys stay the window's shortcuts.
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        font = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        self.table.setFont(font)
        for header in (self.table.horizontalHeader(), self.table.verticalHeader()):
            header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
            header.setMinimumSectionSize(20)
            header.setFont(font)
        self.table.verticalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        # As tall as its nine rows (the legend follows), no scroll bars.
        self.table.setSizeAdjustPolicy(QtWidgets.QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
        self.table.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._outline = _CentreOutline(self.table)
        self.table.setItemDelegate(self._outline)
        self._items = [[QtWidgets.QTableWidgetItem("") for _ in range(n)] for _ in range(n)]
        for i in range(n):
            for j in range(n):
                item = self._items[i][j]
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.follow)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(top)
        layout.addWidget(self.table)
        legend = QtWidgets.QLabel(
            "<span style='color:#0ff'>&#9633;</span> centre &nbsp; "
            f"<span style='background:{FLAGGED_BG.name()}'>&nbsp;&nbsp;&nbsp;</span> flagged (pixel DQ) &nbsp; "
            f"<span style='background:{NAN_BG.name()}'>&nbsp;&nbsp;&nbsp;</span> NaN &nbsp; "
            f"<span style='background:{OFF_BG.name()}'>&nbsp;&nbsp;&nbsp;</span> off the detector")
        legend.setWordWrap(True)
        self.legend = legend
        layout.addWidget(legend)
        layout.addStretch(1)

    @property
    def follow_cursor(self) -> bool:
        return self.follow.isChecked()

    def cell(self, row: int, col: int) -> QtWidgets.QTableWidgetItem | None:
        """The item showing data pixel (row, col), or None if it is not in the table."""
        t = self.shown
        if t is None:
            return None
        i, j = t.half - (row - t.row), col - t.col + t.half  # highest row on top
        n = 2 * t.half + 1
        return self._items[i][j] if 0 <= i < n and 0 <= j < n else None

    def set_table(self, table: PixelTable | None) -> None:
        """Show ``table`` (None: nothing selected)."""
        self.shown = table
        n = 2 * TABLE_HALF + 1
        if table is None or 2 * table.half + 1 != n:
            self.caption.setText("no pixel")
            for row in self._items:
                for item in row:
                    item.setText("")
                    item.setBackground(QtGui.QBrush())
            return
        h = table.half
        self.caption.setText(f"({table.row}, {table.col})  frame {table.frame}  "
                             f"{kind_label(table.kind, table.superbias_subtracted)} DN")
        # Rows sized to their contents once for the whole fill: left on, every
        # one of the ~400 item changes re-measured all rows (~200 ms a table,
        # paid on every frame of playback and every frame step).
        header = self.table.verticalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
        self.table.setUpdatesEnabled(False)
        try:
            labels = ([str(table.col - h + j) for j in range(n)], [str(table.row + h - i) for i in range(n)])
            # A new pixel's header labels, inside the Fixed mode too: each new vertical
            # header item re-measured every row (~3 ms of the UI thread per click, py-spy).
            if labels != getattr(self, "_labels", None):
                self._labels = labels
                self.table.setHorizontalHeaderLabels(labels[0])
                self.table.setVerticalHeaderLabels(labels[1])
            self._fill(table, n, h)
        finally:
            self.table.setUpdatesEnabled(True)
            header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)

    def _fill(self, table: PixelTable, n: int, h: int) -> None:
        from processing.diagnostics import decode_dq

        integral = table.kind == "raw" and not table.superbias_subtracted
        bold = QtGui.QFont(self.table.font())
        bold.setBold(True)
        for ti in range(n):  # table row ti shows data row (row + h - ti)
            i = n - 1 - ti
            for j in range(n):
                item = self._items[ti][j]
                r, c = table.pixel(i, j)
                v = float(table.values[i, j])
                dq = int(table.dq[i, j])
                tip = f"row {r}, col {c}"
                if not table.inside[i, j]:
                    item.setText("")
                    item.setBackground(OFF_BG)
                    item.setToolTip(tip + ": off the detector")
                    continue
                item.setText("NaN" if np.isnan(v) else (f"{v:.0f}" if integral else f"{v:.1f}"))
                tip += f": {item.text()} DN"
                if dq:
                    tip += f"\npixel DQ {dq}: {'|'.join(decode_dq(dq))}"
                item.setToolTip(tip)
                centre = i == h and j == h
                item.setFont(bold if centre else self.table.font())
                if np.isnan(v):
                    item.setBackground(NAN_BG)
                elif dq:
                    item.setBackground(FLAGGED_BG)
                elif centre:
                    item.setBackground(CENTRE_BG)
                else:
                    item.setBackground(QtGui.QBrush())
