"""Regions on the four panes: pyqtgraph ROIs, the Regions dock, menus (a thin view).

Each region is drawn on every pane (a ``RectROI``, a ``CircleROI``, or two
concentric ``CircleROI`` for an annulus); moving or resizing it on any pane
reports the new shape to the controller (:meth:`ViewerController.update_region`),
which sends the shapes back and the copies on the other panes follow.  A
rectangle snaps to whole pixels.

Coordinates: a pane draws pixel (row, col) over ``[col, col + 1) x [row, row + 1)``;
a :class:`~processing.session_file.RegionShape` has pixel centres at integers
(the ``regions`` package's convention), hence the half-pixel shifts below.

:func:`install_regions` builds it all into the main window with one call.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from processing.session_file import RegionShape

#: Region colours, in order of creation (distinct from the panes' cyan marker and green cutout).
PALETTE = ((255, 120, 60), (240, 80, 200), (120, 200, 255), (255, 230, 80), (170, 120, 255), (80, 230, 160))


def region_color(region_id: int) -> tuple[int, int, int]:
    return PALETTE[(region_id - 1) % len(PALETTE)]


class _RegionItems:
    """One region's ROI(s) on one pane."""

    def __init__(self, shape: RegionShape, color, plot: pg.PlotItem, on_finished, on_remove):
        self.kind = shape.kind
        pen = pg.mkPen(color, width=2)
        hover = pg.mkPen(color, width=3)
        opts = dict(pen=pen, hoverPen=hover, handlePen=pg.mkPen(color), removable=True, movable=True)
        if shape.kind == "rectangle":
            roi = pg.RectROI((0, 0), (1, 1), translateSnap=True, scaleSnap=True, snapSize=1.0, **opts)
            self.rois = [roi]
        elif shape.kind == "circle":
            self.rois = [pg.CircleROI((0, 0), radius=1, **opts)]
        else:
            self.rois = [pg.CircleROI((0, 0), radius=2, **opts), pg.CircleROI((0, 0), radius=1, **opts)]
            # Moving either circle moves the other: an annulus keeps one centre.
            for a, b in ((0, 1), (1, 0)):
                self.rois[a].sigRegionChanged.connect(lambda _, a=a, b=b: self._follow(a, b))
        self._block = False
        for roi in self.rois:
            roi.setZValue(19)
            plot.addItem(roi, ignoreBounds=True)
            roi.sigRegionChangeFinished.connect(lambda *_: None if self._block else on_finished(self.shape()))
            roi.sigRemoveRequested.connect(lambda *_: on_remove())
        self.plot = plot
        self.set_shape(shape)

    def _follow(self, a: int, b: int) -> None:
        if self._block:
            return
        ca = _circle_centre(self.rois[a])
        rb = self.rois[b].size()[0] / 2
        self._block = True
        try:
            self.rois[b].setPos((ca[0] - rb, ca[1] - rb), update=True, finish=False)
        finally:
            self._block = False

    def set_shape(self, shape: RegionShape) -> None:
        self._block = True
        try:
            cx, cy = shape.x + 0.5, shape.y + 0.5  # scene coordinates of the centre
            if shape.kind == "rectangle":
                w, h = shape.width, shape.height
                self.rois[0].setPos((cx - w / 2, cy - h / 2), update=False, finish=False)
                self.rois[0].setSize((w, h), update=True, finish=False)
            else:
                radii = (shape.radius,) if shape.kind == "circle" else (shape.outer, shape.inner)
                for roi, r in zip(self.rois, radii):
                    roi.setPos((cx - r, cy - r), update=False, finish=False)
                    roi.setSize((2 * r, 2 * r), update=True, finish=False)
        finally:
            self._block = False

    def shape(self) -> RegionShape:
        if self.kind == "rectangle":
            (x, y), (w, h) = self.rois[0].pos(), self.rois[0].size()
            return RegionShape("rectangle", x=x + w / 2 - 0.5, y=y + h / 2 - 0.5, width=max(1.0, w), height=max(1.0, h))
        cx, cy = _circle_centre(self.rois[0])
        if self.kind == "circle":
            return RegionShape("circle", x=cx - 0.5, y=cy - 0.5, radius=max(0.5, self.rois[0].size()[0] / 2))
        a, b = self.rois[0].size()[0] / 2, self.rois[1].size()[0] / 2
        inner, outer = sorted((a, b))
        return RegionShape("annulus", x=cx - 0.5, y=cy - 0.5, inner=inner, outer=max(outer, inner + 0.5))

    def remove(self) -> None:
        for roi in self.rois:
            self.plot.removeItem(roi)


def _circle_centre(roi: pg.ROI) -> tuple[float, float]:
    (x, y), (w, h) = roi.pos(), roi.size()
    return x + w / 2, y + h / 2


class RegionOverlay(QtCore.QObject):
    """Every region on every pane of a :class:`~.panes.PaneGroup`.

    Signals
    -------
    region_edited(int id, object RegionShape)
    remove_requested(int id)
    """

    region_edited = QtCore.pyqtSignal(int, object)
    remove_requested = QtCore.pyqtSignal(int)

    def __init__(self, plots: dict[str, pg.PlotItem], parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.plots = plots
        self.items: dict[int, dict[str, _RegionItems]] = {}

    def set_regions(self, shapes: dict[int, RegionShape]) -> None:
        for rid in [r for r in self.items if r not in shapes or shapes[r].kind != self._kind(r)]:
            for item in self.items.pop(rid).values():
                item.remove()
        for rid, shape in shapes.items():
            per_pane = self.items.get(rid)
            if per_pane is None:
                color = region_color(rid)
                self.items[rid] = {
                    kind: _RegionItems(shape, color, plot, lambda s, rid=rid: self.region_edited.emit(rid, s),
                                       lambda rid=rid: self.remove_requested.emit(rid))
                    for kind, plot in self.plots.items()}
            else:
                for item in per_pane.values():
                    if item.shape() != shape:
                        item.set_shape(shape)

    def _kind(self, rid: int) -> str:
        return next(iter(self.items[rid].values())).kind


class RegionsViews:
    """The controller's ``views.regions``: the overlay, the Regions dock and the mean ramps in the ramp panel."""

    def __init__(self, overlay: RegionOverlay, panel, ramp_plot: pg.PlotWidget):
        self.overlay, self.panel, self.ramp_plot = overlay, panel, ramp_plot
        self.ramp_curves: dict[int, pg.PlotDataItem] = {}

    def set_regions(self, shapes: dict[int, RegionShape]) -> None:
        self.overlay.set_regions(shapes)
        self.panel.set_regions(shapes)
        for rid in [r for r in self.ramp_curves if r not in shapes]:
            self.ramp_plot.removeItem(self.ramp_curves.pop(rid))

    def set_region_stats(self, region_id: int, stats: Any) -> None:
        self.panel.set_region_stats(region_id, stats)
        curve = self.ramp_curves.get(region_id)
        if curve is None:
            pen = pg.mkPen(region_color(region_id), width=2, style=QtCore.Qt.PenStyle.DashLine)
            curve = self.ramp_curves[region_id] = self.ramp_plot.plot([], [], pen=pen, name=f"region {region_id} mean")
        if stats is None or isinstance(stats, BaseException):
            curve.setData([], [])
        else:
            curve.setData(stats.read.astype(float), stats.mean, connect="finite")


def install_regions(window) -> RegionsViews:
    """Build the regions' overlay, dock and menus into ``window`` (a :class:`~.main_window.MainWindow`)."""
    from .region_stats_plot import RegionsPanel

    c = window.controller
    overlay = RegionOverlay(window.panes.plots, window)
    panel = RegionsPanel(window.model)
    views = RegionsViews(overlay, panel, window.ramp.plot)
    window.regions = views
    window.regions_panel = panel
    overlay.region_edited.connect(c.update_region)
    overlay.remove_requested.connect(c.remove_region)
    panel.add_requested.connect(lambda kind: c.add_region(c.default_region(kind)))

    def clicked(row: int, col: int) -> None:
        kind = panel.tool
        if kind is not None:  # a drawing tool is waiting: place the shape at the click
            panel.end_tool()
            c.add_region(c.default_region(kind, row, col))

    window.panes.pixel_clicked.connect(clicked)
    panel.remove_requested.connect(c.remove_region)
    panel.load_requested.connect(lambda: choose_region_file(window, save=False))
    panel.save_requested.connect(lambda: choose_region_file(window, save=True))
    panel.csv_requested.connect(lambda: choose_stats_file(window))
    window.regions_dock = window._dock("Regions", panel, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
    if window.settings.value("window/state") is None:
        # Tabbed with the ramp once the window is laid out: tabified before its first show, Qt
        # left a stray copy of the tab bar over the Exposures dock.  A saved layout places it itself.
        timer = QtCore.QTimer(window, singleShot=True, interval=0)
        timer.timeout.connect(lambda: (window.tabifyDockWidget(window.ramp_dock, window.regions_dock),
                                       window.ramp_dock.raise_()))
        timer.start()

    menus = {a.text(): a.menu() for a in window.menuBar().actions() if a.menu() is not None}
    file_menu, analysis, view = menus.get("&File"), menus.get("&Analysis"), menus.get("&View")
    if file_menu is not None:
        before = next((a for a in file_menu.actions() if a.text() == "&Quit"), None)
        load = QtGui.QAction("Load &regions (DS9)...", window, triggered=lambda: choose_region_file(window, False))
        save = QtGui.QAction("Save re&gions (DS9)...", window, triggered=lambda: choose_region_file(window, True))
        for action in (load, save):
            file_menu.insertAction(before, action)
        file_menu.insertSeparator(before)
    if analysis is not None:
        sub = analysis.addMenu("Add re&gion at the cutout centre")
        for kind in ("rectangle", "circle", "annulus"):
            sub.addAction(kind.capitalize(), lambda kind=kind: c.add_region(c.default_region(kind)))
    if view is not None:
        view.addAction(window.regions_dock.toggleViewAction())
    return views


def choose_stats_file(window) -> None:
    folder = window.settings.value("regions/folder", "") or ""
    path, _ = QtWidgets.QFileDialog.getSaveFileName(window, "Save region statistics", folder,
                                                    "CSV (*.csv);;All files (*)")
    if path:
        window.controller.save_region_stats(path if path.lower().endswith(".csv") else path + ".csv")


def choose_region_file(window, save: bool) -> None:
    folder = window.settings.value("regions/folder", "") or ""
    filters = "DS9 regions (*.reg);;All files (*)"
    if save:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(window, "Save regions", folder, filters)
    else:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(window, "Load regions", folder, filters)
    if not path:
        return
    from pathlib import Path

    window.settings.setValue("regions/folder", str(Path(path).parent))
    if save:
        window.controller.save_regions(path)
    else:
        window.controller.load_regions(path)
