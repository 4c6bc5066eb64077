"""The Campaign dock: a results table (sortable, filterable) and the campaign's four plots.

A thin view of :class:`~brightstar_gui.controllers._campaign.CampaignController`:
"Load results..." tabulates a folder of ``brightstar campaign run``;
"Index + run..." indexes a folder of exposures and analyses it on an
embedded dask cluster, or on the existing scheduler typed in the scheduler
field (``tcp://HOST:PORT``), with progress in the status bar and here; a click on
a row opens that exposure at its star.  The plots are the report's
(:func:`processing.campaign.report.report_data`): equivalent radius and
saturated area against time coloured by magnitude, onset radius against
magnitude, persistence against time since illumination (log).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from ..controllers._campaign import CampaignController

_ROLE_SORT = QtCore.Qt.ItemDataRole.UserRole + 1


def _colour(norm: float) -> QtGui.QColor:
    return pg.colormap.get("viridis").map(min(max(norm, 0.0), 1.0), mode="qcolor")


def colour_key_html(magnitudes, norm) -> str:
    """Rich text naming each magnitude in the colour its curves and points are drawn in ("" without any)."""
    if not magnitudes:
        return ""
    swatches = " ".join(f'<span style="color:{_colour(norm(m)).name()}">&#9632;</span>&nbsp;{m:g}' for m in magnitudes)
    return f"colour = magnitude: {swatches}"


class _BlanksLast(QtCore.QSortFilterProxyModel):
    """Sorts by :data:`_ROLE_SORT` (numbers as numbers); empty cells last in either order."""

    def lessThan(self, left: QtCore.QModelIndex, right: QtCore.QModelIndex) -> bool:
        a, b = left.data(_ROLE_SORT), right.data(_ROLE_SORT)
        if a is None or b is None:
            if a is None and b is None:
                return False
            return (a is None) == (self.sortOrder() == QtCore.Qt.SortOrder.DescendingOrder)
        return a < b


class CampaignDock(QtWidgets.QWidget):
    """Table + plots of one campaign.

    Signals
    -------
    table_shown(int rows)
        A table was loaded (tests wait on it).
    """

    table_shown = QtCore.pyqtSignal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.controller: CampaignController | None = None
        self.load_button = QtWidgets.QPushButton("Load results...")
        self.run_button = QtWidgets.QPushButton("Index + run...")
        self.calibrate_box = QtWidgets.QCheckBox("calibrate")
        self.scheduler_edit = QtWidgets.QLineEdit(placeholderText="embedded cluster, or tcp://HOST:PORT")
        self.scheduler_edit.setToolTip("Run on this existing dask scheduler (its workers open the files themselves); "
                                       "empty: an embedded cluster on this machine")
        self.filter_edit = QtWidgets.QLineEdit(placeholderText="filter rows (any column)")
        self.progress_label = QtWidgets.QLabel("No campaign loaded.")
        # The dock shares the bottom with the Saturation dock (~650 px at 1280 x 800): the fields keep a
        # usable width and the status text gives way (its full text is in the tooltip).
        self.scheduler_edit.setMinimumWidth(200)
        self.filter_edit.setMinimumWidth(120)
        self.progress_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        bar = QtWidgets.QHBoxLayout()
        for w in (self.load_button, self.run_button, self.calibrate_box, self.scheduler_edit, self.filter_edit):
            bar.addWidget(w)
        bar.addWidget(self.progress_label, 1)

        self.source = QtGui.QStandardItemModel(0, 0, self)
        self.proxy = _BlanksLast(self)
        self.proxy.setSourceModel(self.source)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(QtCore.Qt.CaseSensitivity.CaseInsensitive)
        self.table = QtWidgets.QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)

        # One plot per tab: a bottom dock at 1280 x 800 is too short for a 2 x 2 grid.
        # Titles short enough for the ~330 px a plot gets there (axes and legend say the rest).
        self.plots = QtWidgets.QTabWidget()
        self.plots.setTabPosition(QtWidgets.QTabWidget.TabPosition.West)
        self.radius_plot = self._plot_tab("Radius", "Equivalent radius √(N/π)")
        self.area_plot = self._plot_tab("Area", "Saturated area")
        self.onset_plot = self._plot_tab("Onset", "Onset radius (outer 95 %)")
        self.persistence_plot = self._plot_tab("Persistence", "Persistence in the darks")
        self.radius_plot.setLabels(bottom="time (s)", left="radius (px)")
        self.area_plot.setLabels(bottom="time (s)", left="saturated (px)")
        self.onset_plot.setLabels(bottom="magnitude", left="radius (px)")
        self.persistence_plot.setLabels(bottom="since illumination (s)", left="DN/s")
        self.persistence_plot.setLogMode(y=True)

        # The plots' colour key: which colour is which magnitude (filled by _plot).
        self.colour_key = QtWidgets.QLabel("")
        self.colour_key.setWordWrap(True)
        self.colour_key.setTextFormat(QtCore.Qt.TextFormat.RichText)
        plots_box = QtWidgets.QWidget()
        plots_layout = QtWidgets.QVBoxLayout(plots_box)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.setSpacing(1)
        plots_layout.addWidget(self.colour_key)
        plots_layout.addWidget(self.plots, 1)

        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(plots_box)
        split.setSizes([560, 640])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(split, 1)

        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.table.clicked.connect(self._clicked)
        self.load_button.clicked.connect(self._choose_results)
        self.run_button.clicked.connect(self._choose_exposures)

    def _plot_tab(self, tab: str, title: str) -> pg.PlotItem:
        widget = pg.PlotWidget(title=title)
        widget.showGrid(x=True, y=True, alpha=0.2)
        self.plots.addTab(widget, tab)
        return widget.getPlotItem()

    # -- user -> controller ----------------------------------------------------------------------
    def _clicked(self, index: QtCore.QModelIndex) -> None:
        if self.controller is not None and index.isValid():
            self.controller.open_row(self.proxy.mapToSource(index).row())

    def _choose_results(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Campaign results folder")
        if folder and self.controller is not None:
            self.controller.load(folder)

    def _choose_exposures(self) -> None:
        prefix = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder of exposures to index")
        if not prefix:
            return
        out = QtWidgets.QFileDialog.getExistingDirectory(self, "Results folder (finished results are kept)")
        if out and self.controller is not None:
            self.controller.index_and_run(prefix, out, calibrate=self.calibrate_box.isChecked(),
                                          scheduler=self.scheduler_edit.text())

    # -- controller -> view ----------------------------------------------------------------------
    def show_progress(self, fraction: float, message: str) -> None:
        self.progress_label.setText(f"{100 * fraction:.0f} %  {message}")
        self.progress_label.setToolTip(self.progress_label.text())

    def show_campaign(self, table) -> None:
        self.source.clear()
        self.source.setHorizontalHeaderLabels(list(table.columns))
        for values in table.rows:
            items = []
            for v in values:
                item = QtGui.QStandardItem("" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v)))
                item.setData(v, _ROLE_SORT)  # numbers sort as numbers
                items.append(item)
            self.source.appendRow(items)
        self.proxy.sort(-1)
        self._plot(table.plots)
        self.progress_label.setText(f"{len(table.rows)} exposures from {table.folder}")
        self.progress_label.setToolTip(self.progress_label.text())
        self.table_shown.emit(len(table.rows))

    def _plot(self, data: dict) -> None:
        for p in (self.radius_plot, self.area_plot, self.onset_plot, self.persistence_plot):
            p.clear()
        exposures = data["exposures"]
        mags = [e["magnitude"] for e in exposures.values()] or [0.0]
        lo, hi = min(mags), max(mags)
        norm = (lambda m: (m - lo) / (hi - lo)) if hi > lo else (lambda m: 0.5)
        self.onset_plot.setLabels(bottom=data["magnitude_label"])
        self.colour_key.setText(colour_key_html(sorted(set(mags)) if exposures else [], norm))
        for name, e in sorted(exposures.items(), key=lambda kv: kv[1]["magnitude"]):
            pen = pg.mkPen(_colour(norm(e["magnitude"])), width=2)
            t = np.array(e["time_s"], dtype=float)
            self.radius_plot.plot(t, np.array(e["equivalent_radius_px"], dtype=float), pen=pen, name=name)
            self.area_plot.plot(t, np.array(e["saturated"], dtype=float), pen=pen, name=name)
            self.onset_plot.plot([e["magnitude"]], [e["onset_outer_radius_px"]], pen=None, symbol="o",
                                 symbolBrush=_colour(norm(e["magnitude"])), symbolSize=9)
        for name, p in sorted(data["persistence"].items()):
            rate = np.array(p["rate_dn_s"], dtype=float)
            t = np.array(p["time_since_s"], dtype=float)
            good = np.isfinite(rate) & (rate > 0)
            colour = _colour(norm(p["magnitude"])) if math.isfinite(p["magnitude"]) else QtGui.QColor("grey")
            self.persistence_plot.plot(t[good], rate[good], pen=pg.mkPen(colour), symbol="o", symbolBrush=colour,
                                       symbolSize=7, name=name)


def install_campaign_dock(window) -> CampaignDock:
    """Add the Campaign dock to ``window`` (bottom, tabbed with the ramp) and its View-menu toggle."""
    view = CampaignDock()
    view.controller = CampaignController(window.controller, view)
    dock = window._dock("Campaign", view, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
    window.tabifyDockWidget(window.ramp_dock, dock)
    window.ramp_dock.raise_()
    for action in window.menuBar().actions():
        if action.text().replace("&", "") == "View" and action.menu() is not None:
            action.menu().addAction(dock.toggleViewAction())
    window.campaign_dock, window.campaign = dock, view
    return view
