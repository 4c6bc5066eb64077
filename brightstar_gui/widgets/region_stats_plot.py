"""The Regions dock: the list of regions and one statistic of each plotted against read (a thin view).

It shows what the controller sends (:meth:`set_regions`, :meth:`set_region_stats`)
and reports what the user asks (add, remove, load, save).  A line marks the
read on screen (from the view model); the table beside the plot gives every
statistic of every region at that read (a column per region).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from processing.diagnostics.regionstats import STATS_COLUMNS
from processing.session_file import RegionShape

from ..models.pacing import FrameFollower
from .regions import region_color

#: Statistic -> axis label.
STAT_LABELS = {"mean": "mean [DN]", "median": "median [DN]", "std": "std [DN]", "min": "min [DN]", "max": "max [DN]",
               "n_good": "good pixels", "n_saturated": "saturated pixels"}


class RegionsPanel(QtWidgets.QWidget):
    """Region list, statistic plot and table.

    Signals
    -------
    add_requested(str kind)
        Add at the cutout's centre (a double-click on a tool).
    remove_requested(int id)
    load_requested(), save_requested()
        DS9 region files.
    csv_requested()
        Save the statistics as CSV.
    """

    add_requested = QtCore.pyqtSignal(str)
    remove_requested = QtCore.pyqtSignal(int)
    load_requested = QtCore.pyqtSignal()
    save_requested = QtCore.pyqtSignal()
    csv_requested = QtCore.pyqtSignal()

    def __init__(self, model, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.shapes: dict[int, RegionShape] = {}
        self.stats: dict[int, Any] = {}
        self.curves: dict[int, pg.PlotDataItem] = {}

        buttons = QtWidgets.QHBoxLayout()
        self.add_buttons = {}
        # Drawing tools: checked, the next click on any pane places the shape there.
        self.tools = QtWidgets.QButtonGroup(self)
        self.tools.setExclusive(False)
        for kind in ("rectangle", "circle", "annulus"):
            b = QtWidgets.QPushButton(f"+ {kind}")
            b.setCheckable(True)
            b.setToolTip(f"Then click on any pane to place a {kind} there; drag it or its handles to move and "
                         "resize it; right-click it to remove it")
            b.toggled.connect(lambda on, kind=kind: self._tool_toggled(kind, on))
            self.tools.addButton(b)
            buttons.addWidget(b)
            self.add_buttons[kind] = b
        self.remove_button = QtWidgets.QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove_selected)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        load, save = QtWidgets.QPushButton("Load DS9..."), QtWidgets.QPushButton("Save DS9...")
        load.clicked.connect(self.load_requested)
        save.clicked.connect(self.save_requested)
        self.csv_button = QtWidgets.QPushButton("Statistics CSV...")
        self.csv_button.clicked.connect(self.csv_requested)
        buttons.addWidget(load)
        buttons.addWidget(save)
        buttons.addWidget(self.csv_button)
        self.stat = QtWidgets.QComboBox()
        self.stat.addItems(list(STAT_LABELS))
        self.stat.currentTextChanged.connect(lambda _: self._redraw())
        buttons.addWidget(QtWidgets.QLabel("plot:"))
        buttons.addWidget(self.stat)

        self.list = QtWidgets.QListWidget()
        self.plot = pg.PlotWidget()
        # Axes (and grid) blitted from a pixmap: the frame marker moves on every frame of playback,
        # and replaying the axes' pictures was most of each repaint.
        from .panes import cache_axes

        cache_axes(self.plot.getPlotItem())
        self.plot.setBackground("#202124")
        self.plot.setLabel("bottom", "read (frame)")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.frame_line = pg.InfiniteLine(angle=90, pen=pg.mkPen((255, 255, 255, 120), width=1))
        self.plot.addItem(self.frame_line, ignoreBounds=True)  # the range is the data's: a marker moving it re-draws the axes every frame
        # One row per statistic, one column per region: fits beside the plot in a low dock.
        self.table = QtWidgets.QTableWidget(len(STATS_COLUMNS) - 1, 0)
        self.table.setVerticalHeaderLabels(list(STATS_COLUMNS[1:]))
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(18)
        self.table.horizontalHeader().setDefaultSectionSize(78)
        self.table.setToolTip("Statistics of the good pixels (not flagged DO_NOT_USE, not saturated) at the shown read")

        body = QtWidgets.QSplitter()
        body.addWidget(self.list)
        body.addWidget(self.plot)
        body.addWidget(self.table)
        body.setStretchFactor(1, 1)
        body.setSizes([220, 600, 300])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(buttons)
        layout.addWidget(body, 1)
        self._redraw()
        # The frame line and the table follow the frame, paced while playing (models.pacing).
        self._frame_follower = FrameFollower(model, self._on_frame)

    # -- from the controller ------------------------------------------------------------
    def set_regions(self, shapes: dict[int, RegionShape]) -> None:
        self.shapes = dict(shapes)
        for rid in [r for r in self.stats if r not in shapes]:
            self.stats.pop(rid)
        for rid in [r for r in self.curves if r not in shapes]:
            self.plot.removeItem(self.curves.pop(rid))
        selected = self.selected_id()
        self.list.clear()
        for rid, shape in shapes.items():
            item = QtWidgets.QListWidgetItem(f"{rid}: {shape.describe()}")
            item.setData(QtCore.Qt.ItemDataRole.UserRole, rid)
            item.setForeground(QtGui.QColor(*region_color(rid)))
            self.list.addItem(item)
            if rid == selected:
                item.setSelected(True)
        self._redraw()

    def set_region_stats(self, region_id: int, stats: Any) -> None:
        """``stats``: RegionStats, None (being computed) or an exception (failed)."""
        self.stats[region_id] = stats
        self._redraw()

    # -- drawing ---------------------------------------------------------------------------
    def _redraw(self) -> None:
        name = self.stat.currentText()
        self.plot.setLabel("left", STAT_LABELS[name])
        for rid in self.shapes:
            stats = self.stats.get(rid)
            curve = self.curves.get(rid)
            if curve is None:
                curve = self.curves[rid] = self.plot.plot([], [], pen=pg.mkPen(region_color(rid), width=2),
                                                          symbol="o", symbolSize=4,
                                                          symbolBrush=pg.mkBrush(region_color(rid)), symbolPen=None)
            if stats is None or isinstance(stats, BaseException):
                curve.setData([], [])
            else:
                curve.setData(stats.read.astype(float), np.asarray(getattr(stats, name), float), connect="finite")
        self._fill_table()

    def _fill_table(self) -> None:
        k = self.model.frame
        self.table.setColumnCount(len(self.shapes))
        self.table.setHorizontalHeaderLabels([f"region {rid}" for rid in self.shapes])
        for col, rid in enumerate(self.shapes):
            self.table.horizontalHeaderItem(col).setForeground(QtGui.QColor(*region_color(rid)))
            stats = self.stats.get(rid)
            if isinstance(stats, BaseException):
                cells = [f"failed: {stats}"] + [""] * (len(STATS_COLUMNS) - 2)
            elif stats is None or k >= len(stats.read):
                cells = ["computing..."] + [""] * (len(STATS_COLUMNS) - 2)
            else:
                cells = []
                for name in STATS_COLUMNS[1:]:
                    v = getattr(stats, name)[k]
                    cells.append(str(int(v)) if name.startswith("n_") else ("-" if not math.isfinite(v) else f"{v:.2f}"))
            for row, text in enumerate(cells):
                self.table.setItem(row, col, QtWidgets.QTableWidgetItem(text))

    def _on_frame(self, k: int) -> None:
        self.frame_line.setPos(k)
        self._fill_table()

    @property
    def tool(self) -> str | None:
        """The drawing tool waiting for a click on a pane, or None."""
        return next((k for k, b in self.add_buttons.items() if b.isChecked()), None)

    def _tool_toggled(self, kind: str, on: bool) -> None:
        if on:
            for other, b in self.add_buttons.items():
                if other != kind:
                    b.setChecked(False)

    def end_tool(self) -> None:
        for b in self.add_buttons.values():
            b.setChecked(False)

    def selected_id(self) -> int | None:
        items = self.list.selectedItems()
        return items[0].data(QtCore.Qt.ItemDataRole.UserRole) if items else None

    def _remove_selected(self) -> None:
        rid = self.selected_id()
        if rid is None and self.shapes:
            rid = list(self.shapes)[-1]
        if rid is not None:
            self.remove_requested.emit(rid)
