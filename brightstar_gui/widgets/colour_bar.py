"""A pane's colour bar: the scale as drawn, the mask's categories, and the non-data colours.

pyqtgraph's ColorBarItem draws the colour table linearly in data values,
which for a log or asinh table is almost one colour.  This bar is drawn in
*stretched* coordinates (position ``s`` along it has the colour the table
gives data at ``inverse_stretch(s)``) with data-valued tick labels where the
stretch puts them (:func:`processing.scale_ticks.colour_bar_ticks`).  The
mask pane gets four labelled categories instead of a 0-3 scale.  Below the
bar, swatches list the colours that are not data (DQ-flagged, undefined).

Its width is fixed, so the colour-bar columns of the pane grid never grow
and never leave the window.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6 import QtGui, QtWidgets

from processing.scale_ticks import colour_bar_ticks, inverse_stretch, tick_label

#: Pixels of the colour-bar column (bar + tick labels such as "4-neighbour" or "-12345").
WIDTH = 100
#: Height of the bar's image (colour steps along the bar).
STEPS = 256
#: Vertical room of one legend swatch, in bar units (the bar is 0..1).
SWATCH = 0.13
#: Drawn axes kept per bar (a looped playback of 55 reads repeats 55 level pairs at most).
PICTURES = 128


class _BarAxis(pg.AxisItem):
    """The bar's labelled axis, keeping the drawn picture of each set of ticks it has shown.

    pyqtgraph lays out and draws an axis (``generateDrawSpecs`` +
    ``drawPicture``: 3-8 ms) whenever its ticks change, which playback does
    every frame for the percentile-scaled panes.  A looped playback shows
    the same few dozen level pairs again and again, so the picture is kept
    by everything it is drawn from (ticks, range, size, pens, font, label).
    """

    def __init__(self, orientation: str):
        super().__init__(orientation)
        self._pictures: dict[tuple, QtGui.QPicture] = {}

    def _picture_key(self) -> tuple:
        ticks = tuple(tuple(level) for level in (self._tickLevels or ()))
        size = self.size()
        return (ticks, tuple(self.range), size.width(), size.height(), self.pen().color().rgba(),
                self.textPen().color().rgba(), self.style["showValues"], self.labelText, id(self.style["tickFont"]))

    def paint(self, p, opt, widget):
        if self.picture is None:
            key = self._picture_key()
            picture = self._pictures.get(key)
            if picture is None:
                self._draw()
                picture = self.picture
                if len(self._pictures) >= PICTURES:
                    self._pictures.pop(next(iter(self._pictures)))
                self._pictures[key] = picture
            self.picture = picture
        self.picture.play(p)

    def _draw(self) -> None:
        picture = QtGui.QPicture()
        painter = QtGui.QPainter(picture)
        try:
            if self.style["tickFont"]:
                painter.setFont(self.style["tickFont"])
            specs = self.generateDrawSpecs(painter)
            if specs is not None:
                self.drawPicture(painter, *specs)
        finally:
            painter.end()
        self.picture = picture


class PaneColourBar(pg.PlotItem):
    """Colour bar of one pane (a small PlotItem: a gradient image and a labelled right axis)."""

    def __init__(self, parent=None):
        super().__init__(parent, axisItems={"right": _BarAxis("right")})
        self.setMenuEnabled(False)
        self.hideButtons()
        self.setMouseEnabled(False, False)
        for side in ("left", "bottom", "top"):
            self.hideAxis(side)
        self.showAxis("right")
        axis = self.getAxis("right")
        font = QtGui.QFont()
        font.setPointSizeF(8.0)
        axis.setTickFont(font)
        axis.setStyle(tickLength=4, tickTextOffset=3, autoExpandTextSpace=False)
        axis.setWidth(WIDTH - 22)
        axis.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setFixedWidth(WIDTH)
        # Draws nothing itself (its bar, axis and swatches do): Qt then skips its
        # Python boundingRect on every repaint of the panes (panes.no_contents).
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        self.titleLabel.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        self.getViewBox().setFixedWidth(14)
        self.bar = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.bar)
        self.swatches: list[pg.ImageItem] = []
        self._key = None
        self._shown_levels: tuple[float, float] | None = None
        self._legend: tuple = ()
        self._bar_ticks: list[tuple[float, str]] = []
        self._tick_cache: dict[tuple, list[tuple[float, str]]] = {}
        self.getViewBox().setXRange(0.0, 1.0, padding=0)
        self.set_range(0)

    # -- what tests and the panes read ---------------------------------------------------------
    @property
    def tick_labels(self) -> list[str]:
        """Labels along the bar, bottom to top (the legend's last)."""
        return [t for _, t in self._bar_ticks] + [label for label, _ in self._legend]

    def colours_along(self) -> np.ndarray:
        """(STEPS or 4, 4) uint8: the bar's colours, bottom to top."""
        img = self.bar.image
        return np.zeros((0, 4), np.uint8) if img is None else np.asarray(img)[:, 0, :]

    # -- drawing --------------------------------------------------------------------------------
    def set_range(self, n_swatches: int) -> None:
        self.getViewBox().setYRange(-SWATCH * n_swatches - 0.02, 1.0, padding=0.0)

    def set_scale(self, lut: np.ndarray, levels: tuple[float, float], scale: str,
                  legend: tuple[tuple[str, tuple], ...] = ()) -> None:
        """A continuous bar: ``lut`` (n, 4) uint8 (stretch folded in) between ``levels``, drawn as ``scale``.

        ``legend``: (label, rgba) swatches below the bar (flag and NaN colours).
        Only what changed is redone: percentile levels move a little every
        frame, and a change nobody can see must not cost an axis layout.
        """
        key = ("scale", id(lut), scale)
        if key != self._key:
            self._key = key
            self._shown_levels = None
            n = lut.shape[0]
            idx = np.round(inverse_stretch(np.linspace(0.0, 1.0, STEPS), scale) * (n - 1)).astype(np.intp)
            self._set_bar(np.ascontiguousarray(lut[idx][:, None, :]))
        levels = (float(levels[0]), float(levels[1]))
        old = self._shown_levels
        if old is None or max(abs(levels[0] - old[0]), abs(levels[1] - old[1])) > 0.005 * max(old[1] - old[0], 1e-12):
            self._shown_levels = levels
            self._bar_ticks = self._ticks_of(levels, scale)
            self._set_legend(tuple(legend), force=True)
        else:
            self._set_legend(tuple(legend))

    def _ticks_of(self, levels: tuple[float, float], scale: str) -> list[tuple[float, str]]:
        """(position along the bar, label) of ``levels`` drawn as ``scale``, kept for the levels seen."""
        key = (levels, scale)
        ticks = self._tick_cache.get(key)
        if ticks is None:
            ticks = [(pos, tick_label(v)) for pos, v in colour_bar_ticks(levels, scale)]
            if len(self._tick_cache) >= PICTURES:
                self._tick_cache.pop(next(iter(self._tick_cache)))
            self._tick_cache[key] = ticks
        return ticks

    def levels(self) -> tuple[float, float] | None:
        """The (low, high) data values the bar's ticks show, or None for a categorical bar."""
        return self._shown_levels

    def set_categories(self, colours: np.ndarray, labels: tuple[str, ...]) -> None:
        """A categorical bar: one block of ``colours[i]`` per ``labels[i]``, bottom to top."""
        key = ("categories", colours.tobytes(), tuple(labels))
        if key == self._key:
            return
        self._key = key
        self._shown_levels = None
        self._set_bar(np.ascontiguousarray(np.asarray(colours, np.uint8)[:, None, :]))
        n = len(labels)
        self._bar_ticks = [((i + 0.5) / n, label) for i, label in enumerate(labels)]
        self._set_legend((), force=True)

    def _set_bar(self, image: np.ndarray) -> None:
        self.bar.setImage(image, autoLevels=False, levels=None)
        self.bar.setRect(0.0, 0.0, 1.0, 1.0)

    def _set_legend(self, legend: tuple, force: bool = False) -> None:
        """Show ``legend``'s swatches (only when they changed) and the ticks (when they or ``force``)."""
        if legend == self._legend and not force:
            return
        if legend != self._legend:
            self._legend = legend
            while len(self.swatches) < len(legend):
                item = pg.ImageItem(axisOrder="row-major")
                self.addItem(item)
                self.swatches.append(item)
            for i, item in enumerate(self.swatches):
                if i < len(legend):
                    item.setImage(np.array([[tuple(legend[i][1])]], np.uint8), autoLevels=False, levels=None)
                    item.setRect(0.0, -SWATCH * (i + 1) + 0.02, 1.0, SWATCH - 0.04)
                    item.setVisible(True)
                else:
                    item.setVisible(False)
            self.set_range(len(legend))
        # A new level pair only moves the labels: the swatches and the range stay.
        ticks = list(self._bar_ticks) + [(-SWATCH * (i + 1) + SWATCH / 2, label) for i, (label, _) in enumerate(legend)]
        self.getAxis("right").setTicks([ticks, []])
