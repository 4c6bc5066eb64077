"""Four linked image panes: raw, difference, slope ratio, mask.

One :class:`pyqtgraph.GraphicsLayoutWidget` holds four plots of equal size
(identical axes; titles that never widen a column; colour-bar columns of
fixed width) whose view boxes show exactly the first one's range
(:class:`.view_sync.RangeSync`), each with a colour bar
(:class:`.colour_bar.PaneColourBar`: the stretch as drawn, the mask's
categories, the flag and NaN colours), a crosshair that follows the mouse in every pane, a marker on the selected
pixel and a line of text for messages ("computing the mean slope...").  The
raw pane carries the cutout rectangle.

The panes never compute: they upload RGBA images rendered by a worker
(:func:`brightstar_gui.jobs.render.render_job`) and report what the user does
(``pixel_clicked``, ``pixel_hovered``, ``cutout_edited``, ``view_changed``).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from processing.figures import PANE_TITLES, PANES

from . import colour_bar, pane_messages
from .view_sync import RangeSync

#: Height of the two-line pane titles, pixels.
TITLE_HEIGHT = 34


class PaneImageItem(pg.ImageItem):
    """An :class:`pyqtgraph.ImageItem` that also shows ready ARGB32 pixels without converting them.

    :meth:`set_argb` wraps a ``(h, w)`` uint32 array of ``0xAARRGGBB`` words
    (coloured by the render job, off the UI thread) in a ``QImage`` sharing
    its memory; painting then blits it (premultiplied when opaque: the
    raster engine's own format, read without conversion).  pyqtgraph's own
    path (``setImage`` of RGBA bytes) makes an RGBA8888 ``QImage`` that Qt
    converts pixel by pixel on every paint.  Everything else (bounds,
    transforms, ``clear``) is the base class's.

    An opaque image is drawn with ``CompositionMode_Source`` (the same
    result as SourceOver for opaque pixels): Qt then samples it through the
    same transformed-texture fill as the RGBA8888 image before, so the
    screen shows exactly the same pixels.  Its SourceOver shortcut for
    premultiplied images (``qt_scale_image_argb32``) rounds the source
    position differently and shows the neighbouring data pixel at about
    1 in 30 pixel boundaries (``tests/test_pane_upload.py``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._argb: np.ndarray | None = None
        self._argb_opaque = False

    def set_argb(self, argb: np.ndarray, opaque: bool) -> None:
        """Show ``argb`` ((h, w) uint32, C-contiguous); the array is kept alive while shown."""
        argb = np.ascontiguousarray(argb, dtype=np.uint32)
        if self.image is None or self.image.shape[:2] != argb.shape:
            self.prepareGeometryChange()
            self.image = argb
            self.informViewBoundsChanged()
        self.image = argb
        self._argb, self._argb_opaque = argb, bool(opaque)
        self.paintMode = QtGui.QPainter.CompositionMode.CompositionMode_Source if opaque else None
        self._imageHasNans = False
        self._make_qimage()
        self.update()

    def _make_qimage(self) -> None:
        h, w = self._argb.shape
        fmt = QtGui.QImage.Format.Format_ARGB32_Premultiplied if self._argb_opaque else QtGui.QImage.Format.Format_ARGB32
        self.qimage = QtGui.QImage(self._argb.data, w, h, 4 * w, fmt)
        self._renderRequired = False
        self._unrenderable = False

    def setImage(self, image=None, autoLevels=None, **kwargs):
        if image is not None and self._argb is not None:
            self._argb = None  # pyqtgraph's own path from here on
            self.paintMode = None
        super().setImage(image, autoLevels, **kwargs)

    def paint(self, painter, *args):
        """Blit the ready ARGB32 image (the base class's paint without its profiler and checks, ~4x less Python)."""
        if self._argb is None:
            super().paint(painter, *args)
            return
        if self._renderRequired:
            self.render()
        if self.paintMode is not None:
            painter.setCompositionMode(self.paintMode)
        h, w = self._argb.shape
        painter.drawImage(QtCore.QRectF(0, 0, w, h), self.qimage)  # the base class's call, the same pixels

    def render(self):
        if self._argb is not None:
            self._make_qimage()  # levels / LUT do not apply to coloured pixels
            return
        super().render()

    def clear(self):
        self._argb = None
        self.paintMode = None
        super().clear()


class RingItem(pg.ScatterPlotItem):
    """A :class:`pyqtgraph.ScatterPlotItem` whose bounding rectangle is computed once per data and view.

    Qt asks every painted item for its ``boundingRect`` on every paint of
    the panes (each image upload in playback); pyqtgraph's recomputes the
    data bounds and the pixel vectors in Python each time (~0.1 ms, most of
    what the flag rings and the selection marker cost a frame).  It changes
    only when the points or their sizes change (a new ``data`` array, new
    spot widths: the cache is keyed by them) or the view's transform does
    (``viewTransformChanged``, ``prepareGeometryChange``: the cache is dropped).
    """

    _rect: tuple | None = None

    def boundingRect(self):  # noqa: N802 - Qt name
        cached = self._rect
        if (cached is None or cached[0] is not self.data or cached[1] != self._maxSpotPxWidth
                or cached[2] != self._maxSpotWidth):
            cached = self._rect = (self.data, self._maxSpotPxWidth, self._maxSpotWidth, super().boundingRect())
        return cached[3]

    def prepareGeometryChange(self):  # noqa: N802 - Qt name
        self._rect = None
        super().prepareGeometryChange()

    def viewTransformChanged(self):  # noqa: N802 - pyqtgraph name
        self._rect = None
        super().viewTransformChanged()

    def informViewBoundsChanged(self):  # noqa: N802 - pyqtgraph name
        self._rect = None
        super().informViewBoundsChanged()


def no_contents(item: QtWidgets.QGraphicsItem) -> None:
    """Mark a container that draws nothing itself (a layout, a plot, a title box) as such.

    Qt then neither paints it nor asks for its bounding rectangle when it
    repaints the panes (pyqtgraph's ``GraphicsWidget.boundingRect`` is
    Python: called for every container on every paint, ~37 calls a frame);
    its children are drawn as before.  Only for items without a ``paint``
    of their own (pyqtgraph's GraphicsLayout, PlotItem, LabelItem).
    """
    item.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)


def cache_axes(plot: pg.PlotItem) -> None:
    """Draw the plot's axes from a pixmap cache (repainted only when they change)."""
    for axis in plot.axes.values():
        axis["item"].setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)


def _narrow_min(label: pg.LabelItem) -> None:
    """``LabelItem.updateMin`` asking for the text's height only: a title never widens its pane."""
    height = label.itemRect().height()
    label.setMinimumWidth(0)
    label.setMinimumHeight(height)
    label._sizeHint = {
        QtCore.Qt.SizeHint.MinimumSize: (0, height),
        QtCore.Qt.SizeHint.PreferredSize: (0, height),
        QtCore.Qt.SizeHint.MaximumSize: (-1, -1),
        QtCore.Qt.SizeHint.MinimumDescent: (0, 0),
    }
    label.updateGeometry()


class PaneGroup(QtWidgets.QWidget):
    """The four panes.

    Signals
    -------
    pixel_clicked(int row, int col)
    pixel_hovered(int row, int col)
        (-1, -1) when the mouse leaves the data.
    cutout_edited(int row, int col, int half)
        The user moved or resized the cutout rectangle.
    view_changed()
        The visible range changed (debounced).
    """

    pixel_clicked = QtCore.pyqtSignal(int, int)
    pixel_hovered = QtCore.pyqtSignal(int, int)
    cutout_edited = QtCore.pyqtSignal(int, int, int)
    view_changed = QtCore.pyqtSignal()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#202124")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.plots: dict[str, pg.PlotItem] = {}
        self.images: dict[str, pg.ImageItem] = {}
        self.colorbars: dict[str, colour_bar.PaneColourBar] = {}
        self.messages: dict[str, pg.TextItem] = {}
        self.crosshairs: dict[str, tuple[pg.InfiniteLine, pg.InfiniteLine]] = {}
        self.markers: dict[str, pg.ScatterPlotItem] = {}
        self._titles: dict[str, str] = dict(PANE_TITLES)
        self._rects: dict[str, tuple] = {}
        pen = pg.mkPen((255, 255, 255, 110), width=1, style=QtCore.Qt.PenStyle.DashLine)
        for i, kind in enumerate(PANES):
            row, col = divmod(i, 2)
            plot = self.graphics.addPlot(row=row, col=2 * col)
            self._show_title(plot, self._titles[kind])
            # The title spans the y axis too (the view box alone is narrow on a laptop).
            plot.layout.removeItem(plot.titleLabel)
            plot.layout.addItem(plot.titleLabel, 0, 0, 1, 3)
            # Identical decorations of fixed size on every pane, so the four
            # view boxes are the same size (the range itself is synced exactly).
            # Axis labels as in the figure files.
            plot.setLabel("bottom", "x [pixel]")
            plot.setLabel("left", "y [pixel]")
            plot.getAxis("left").setWidth(56)
            plot.getAxis("bottom").setHeight(36)
            plot.showGrid(False, False)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            image = PaneImageItem(axisOrder="row-major")
            plot.addItem(image)
            cbar = colour_bar.PaneColourBar()
            self.graphics.addItem(cbar, row=row, col=2 * col + 1)
            text = pane_messages.make_message()  # wraps to the pane (pane_messages)
            plot.addItem(text, ignoreBounds=True)
            vline = pg.InfiniteLine(angle=90, movable=False, pen=pen)
            hline = pg.InfiniteLine(angle=0, movable=False, pen=pen)
            for line in (vline, hline):
                line.setZValue(15)
                line.setVisible(False)
                plot.addItem(line, ignoreBounds=True)
            marker = RingItem(size=11, symbol="s", pen=pg.mkPen((0, 255, 255), width=2), brush=None, pxMode=True)
            marker.setZValue(16)
            marker.setVisible(False)  # until a pixel is selected (set_selected)
            # Painted once into a pixmap and blitted while the image under it changes
            # (a scatter item costs 0.5-1 ms of Python per paint).  Not the flag rings:
            # cached, their first paint re-lays out the main window once.
            marker.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            plot.addItem(marker, ignoreBounds=True)
            self.plots[kind], self.images[kind], self.colorbars[kind] = plot, image, cbar
            self.messages[kind], self.crosshairs[kind], self.markers[kind] = text, (vline, hline), marker
        # Colour-bar columns keep their width when the window narrows (the
        # plots shrink instead), so tick labels are never clipped; the two
        # plot columns and the two rows share the rest equally.
        grid = self.graphics.ci.layout
        for column in (1, 3):
            grid.setColumnFixedWidth(column, colour_bar.WIDTH)
        for column in (0, 2):
            grid.setColumnStretchFactor(column, 1)
            grid.setColumnMinimumWidth(column, 120)
        for r in (0, 1):
            grid.setRowStretchFactor(r, 1)
        for kind in PANES:
            self.plots[kind].getViewBox().sigResized.connect(lambda _vb, k=kind: self._wrap_message(k))
        first = self.plots[PANES[0]].getViewBox()
        self.range_sync = RangeSync(first, [self.plots[k].getViewBox() for k in PANES[1:]])
        self.viewbox = first
        # Axes are painted once into a pixmap and blitted afterwards: replaying
        # their tick labels on every frame was most of a playback frame's paint.
        for plot in self.plots.values():
            cache_axes(plot)
            no_contents(plot)
            no_contents(plot.titleLabel)
        no_contents(self.graphics.ci)
        self.flag_marks: dict[str, pg.ScatterPlotItem] = {}
        for kind, plot in self.plots.items():
            marks = RingItem(size=8, symbol="o", brush=None, pxMode=True)
            marks.setZValue(14)
            marks.setVisible(False)  # until there are flagged pixels to ring (set_flag_marks)
            plot.addItem(marks, ignoreBounds=True)
            self.flag_marks[kind] = marks

        self.roi = pg.RectROI([0, 0], [10, 10], pen=pg.mkPen((0, 255, 120), width=2), movable=True, resizable=True,
                              rotatable=False, removable=False)
        self.roi.addScaleHandle([0, 0], [1, 1])
        self.roi.setZValue(18)
        self.plots["raw"].addItem(self.roi, ignoreBounds=True)
        self.roi.sigRegionChangeFinished.connect(self._on_roi_finished)
        self._roi_block = False

        scene = self.graphics.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)
        self._view_timer = QtCore.QTimer(self, singleShot=True, interval=60)
        self._view_timer.timeout.connect(self.view_changed)
        first.sigRangeChanged.connect(lambda *_: self._view_timer.start())
        self._data_bounds = (0, 1, 0, 1)

    # -- drawing -------------------------------------------------------------------------
    def set_image(self, kind: str, pixels: np.ndarray | None, rect: tuple[float, float, float, float],
                  opaque: bool = False) -> None:
        """Upload one rendered pane placed at ``rect`` (x, y, w, h) in pixels.

        ``pixels``: ``(h, w)`` uint32 ARGB32 words (:attr:`PaneImage.argb
        <brightstar_gui.jobs.render.PaneImage>`, blitted as they are;
        ``opaque``: all alphas 255) or ``(h, w, 4)`` uint8 RGBA (pyqtgraph's path).
        """
        image = self.images[kind]
        if pixels is None:
            image.clear()
            self._rects.pop(kind, None)
            return
        if pixels.ndim == 2 and pixels.dtype == np.uint32:
            image.set_argb(pixels, opaque)
        else:
            image.setImage(pixels, autoLevels=False, levels=None)
        # The same place as the last frame (always, in playback): no new
        # transform, so no bounds change rippling through the view box.
        if self._rects.get(kind) != (rect, pixels.shape[:2]):
            self._rects[kind] = (rect, pixels.shape[:2])
            image.setRect(QtCore.QRectF(*rect))

    def set_colorbar(self, kind: str, lut: np.ndarray, levels: tuple[float, float], scale: str = "linear",
                     legend: tuple = ()) -> None:
        """Show ``lut`` between ``levels`` drawn as ``scale``, with ``legend`` swatches ((label, rgba), ...)."""
        self.colorbars[kind].set_scale(lut, levels, scale, legend)

    def set_categories(self, kind: str, colours: np.ndarray, labels: tuple[str, ...]) -> None:
        """A categorical colour bar (the mask pane's)."""
        self.colorbars[kind].set_categories(colours, labels)

    def set_flag_marks(self, positions: np.ndarray | None, colours: dict[str, tuple] | None = None) -> None:
        """Ring every DQ-flagged pixel at ``positions`` ((n, 2) row, col); None hides the rings."""
        for kind, marks in self.flag_marks.items():
            # An empty scatter item still costs ~0.6 ms of Python per paint of its pane.
            marks.setVisible(positions is not None and len(positions) > 0)
            if positions is None or len(positions) == 0:
                marks.clear()
                continue
            rgba = (colours or {}).get(kind, (255, 0, 0, 255))
            marks.setData(positions[:, 1] + 0.5, positions[:, 0] + 0.5, pen=pg.mkPen(rgba, width=1.5), brush=None)

    def set_message(self, kind: str, text: str) -> None:
        item = self.messages[kind]
        if not text and not item.toPlainText():
            return
        # Work in progress reads in grey; only problems are in the warning colour.
        busy = text.startswith(("loading", "computing", "Writing", "No exposure"))
        item.setColor((205, 205, 205) if busy else (255, 220, 120))
        item.setText(text)
        if text:
            y0, y1, x0, x1 = self._data_bounds
            (vx0, vx1), (vy0, vy1) = self.viewbox.viewRange()
            item.setPos(max(vx0, x0), min(vy1, y1))
            self._wrap_message(kind)

    def _wrap_message(self, kind: str) -> None:
        pane_messages.wrap(self.messages[kind], self.plots[kind].getViewBox())

    def message_fits(self, kind: str) -> bool:
        """The pane's whole message lies inside its view box (for tests)."""
        return pane_messages.fits(self.messages[kind], self.plots[kind].getViewBox())

    def set_title(self, kind: str, title: str) -> None:
        """``title``: one or two lines ("\\n"): what the pane is, then what its values are."""
        if title != self._titles.get(kind):
            self._titles[kind] = title
            self._show_title(self.plots[kind], title)

    @staticmethod
    def _show_title(plot: pg.PlotItem, title: str) -> None:
        """Set a title that never widens its column (a long title used to push the colour bars out)."""
        lines = title.split("\n")
        html = lines[0] + "".join(f"<br><span style='font-size:8pt; color:#b0b0b0'>{t}</span>" for t in lines[1:])
        plot.setTitle(html, size="9pt")
        plot.layout.setRowFixedHeight(0, TITLE_HEIGHT)
        label = plot.titleLabel
        label.setMaximumHeight(TITLE_HEIGHT)
        if getattr(label, "updateMin", None) is not _narrow_min.__get__(label):
            # LabelItem asks for its text's width on every text change and resize.
            label.updateMin = _narrow_min.__get__(label)
        label.updateMin()

    def title_fits(self, kind: str) -> bool:
        """The whole title text lies inside its pane (for tests)."""
        label = self.plots[kind].titleLabel
        return label.item.boundingRect().width() <= self.plots[kind].width() + 0.5

    def set_selected(self, pixel: tuple[int, int] | None) -> None:
        for marker in self.markers.values():
            if pixel is None:
                marker.clear()
            else:
                marker.setData([pixel[1] + 0.5], [pixel[0] + 0.5])
            # An empty scatter item still costs ~0.3 ms of Python per paint of its pane.
            marker.setVisible(pixel is not None)

    def set_cutout_rect(self, region: tuple[int, int, int, int], visible: bool = True) -> None:
        """Place the cutout rectangle on ``region`` (y0, y1, x0, x1) without echo."""
        y0, y1, x0, x1 = region
        self._roi_block = True
        try:
            self.roi.setPos((x0, y0), update=False, finish=False)
            self.roi.setSize((x1 - x0, y1 - y0), update=True, finish=False)
        finally:
            self._roi_block = False
        self.roi.setVisible(visible)

    def set_data_bounds(self, region: tuple[int, int, int, int], auto_range: bool = False) -> None:
        self._data_bounds = region
        if auto_range:
            y0, y1, x0, x1 = region
            self.viewbox.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.02)

    # -- what is visible -------------------------------------------------------------------
    def visible(self) -> tuple[tuple[float, float, float, float], float] | None:
        """Visible range ``(y0, y1, x0, x1)`` and data pixels per screen pixel (None: not shown)."""
        if not self.isVisible():
            return None
        (x0, x1), (y0, y1) = self.viewbox.viewRange()
        rect = self.viewbox.sceneBoundingRect()
        dpr = self.devicePixelRatioF() or 1.0
        wpx = max(1.0, rect.width() * dpr)
        hpx = max(1.0, rect.height() * dpr)
        per_px = min((x1 - x0) / wpx, (y1 - y0) / hpx)
        return (y0, y1, x0, x1), per_px

    # -- mouse ----------------------------------------------------------------------------------
    def _pixel_at(self, scene_pos) -> tuple[str, int, int] | None:
        for kind, plot in self.plots.items():
            vb = plot.getViewBox()
            if vb.sceneBoundingRect().contains(scene_pos):
                p = vb.mapSceneToView(scene_pos)
                return kind, int(math.floor(p.y())), int(math.floor(p.x()))
        return None

    def _on_mouse_moved(self, scene_pos) -> None:
        hit = self._pixel_at(scene_pos)
        y0, y1, x0, x1 = self._data_bounds
        if hit is None or not (y0 <= hit[1] < y1 and x0 <= hit[2] < x1):
            for v, h in self.crosshairs.values():
                v.setVisible(False)
                h.setVisible(False)
            self.pixel_hovered.emit(-1, -1)
            return
        _, row, col = hit
        for v, h in self.crosshairs.values():
            v.setPos(col + 0.5)
            h.setPos(row + 0.5)
            v.setVisible(True)
            h.setVisible(True)
        self.pixel_hovered.emit(row, col)

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or event.isAccepted() and event.double():
            return
        hit = self._pixel_at(event.scenePos())
        if hit is None:
            return
        _, row, col = hit
        y0, y1, x0, x1 = self._data_bounds
        if y0 <= row < y1 and x0 <= col < x1:
            self.pixel_clicked.emit(row, col)

    def click_pixel(self, row: int, col: int) -> None:
        """What a click on pixel (row, col) does (for tests and scripting)."""
        self.pixel_clicked.emit(row, col)

    def _on_roi_finished(self, roi) -> None:
        if self._roi_block:
            return
        x, y = roi.pos()
        w, h = roi.size()
        half = max(4, int(round(max(w, h) / 2)))
        self.cutout_edited.emit(int(round(y + h / 2)), int(round(x + w / 2)), half)

    def show_empty(self, text: str) -> None:
        """No exposure open: a hint on the raw pane; no cutout box, no axes, no colour bars.

        Axes and colour bars of no data would be fake: -2000..6000 pixels on an
        aspect-locked pane, a 0..1 colour bar labelled "(x0.001)".
        """
        self.roi.setVisible(False)
        self.set_data_bounds((0, 4096, 0, 4096), auto_range=True)
        self._set_decorations(False)
        for kind in PANES:
            self.images[kind].clear()
            self._rects.pop(kind, None)
            self.set_message(kind, text if kind == PANES[0] else "")
        (vx0, _), (_, vy1) = self.viewbox.viewRange()
        self.messages[PANES[0]].setPos(vx0, vy1)
        self._wrap_message(PANES[0])

    def hold_paint(self, hold: bool) -> None:
        """Hold repaints (True) while an exposure's first frame is on its way; False paints once, whole.

        The panes are re-titled, cleared and re-ranged when an exposure opens:
        painted then, their axes and colour bars are drawn for nothing just
        before the first frame draws them again (controllers/_first_frame.py).
        """
        self.graphics.setUpdatesEnabled(not hold)

    def clear(self) -> None:
        self._set_decorations(True)
        for kind in PANES:
            self.images[kind].clear()
            self._rects.pop(kind, None)
            self.set_message(kind, "")

    def is_empty_state(self) -> bool:
        """True while :meth:`show_empty` holds (no axes, no colour bars)."""
        return not self._decorated

    def _set_decorations(self, on: bool) -> None:
        if getattr(self, "_decorated", True) == on:
            return
        self._decorated = on
        for kind in PANES:
            for name in ("left", "bottom"):
                # Values and labels go, the axis keeps its size: the panes' geometry stays.
                axis = self.plots[kind].getAxis(name)
                axis.setStyle(showValues=on)
                axis.showLabel(on)
                axis.setPen() if on else axis.setPen(None)  # setPen(): the default foreground
            # The colour bar stays in the layout and only its contents go: a bar hidden
            # through the window's first layout came back with a zero-width axis under
            # xcb (the mask's category labels stayed undrawn until the window resized),
            # whatever re-layout was asked for.
            bar = self.colorbars[kind]
            bar.getViewBox().setOpacity(1.0 if on else 0.0)
            axis = bar.getAxis("right")
            axis.setStyle(showValues=on)
            axis.setPen() if on else axis.setPen(None)

    def colour_bar_shown(self, kind: str) -> bool:
        """The pane's colour bar is drawn (colours and labels), not blank as in the empty state."""
        bar = self.colorbars[kind]
        return bar.isVisible() and bar.getViewBox().opacity() > 0 and bar.getAxis("right").style["showValues"]
