"""The panes' message lines ("computing the mean slope...", the empty window's hint): made, wrapped, checked.

A message is a :class:`pyqtgraph.TextItem` in the pane's view box, drawn in
screen pixels and clipped by the box: a line wider than the pane lost its
end ("computing the mean slope... 40%" in a 240-px pane at 1280 x 800).
Messages wrap to the width left right of where they start, long words (a
file's path) anywhere.
"""

from __future__ import annotations

import pyqtgraph as pg
from PyQt6 import QtGui


def make_message() -> pg.TextItem:
    """An empty message item that wraps at word boundaries or anywhere."""
    text = pg.TextItem("", color=(255, 220, 120), anchor=(0, 0))
    text.setZValue(20)
    option = text.textItem.document().defaultTextOption()
    option.setWrapMode(QtGui.QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    text.textItem.document().setDefaultTextOption(option)
    return text


def wrap(item: pg.TextItem, viewbox: pg.ViewBox) -> None:
    """Wrap ``item`` to the width of ``viewbox`` right of the item's position (screen pixels)."""
    (vx0, vx1), _ = viewbox.viewRange()
    width = viewbox.width()
    if not item.toPlainText() or width <= 0 or vx1 <= vx0:
        return
    start = (item.pos().x() - vx0) / (vx1 - vx0) * width
    item.setTextWidth(max(40.0, width - max(start, 0.0) - 6.0))


def fits(item: pg.TextItem, viewbox: pg.ViewBox) -> bool:
    """The whole message lies inside ``viewbox`` (an empty one always does)."""
    if not item.toPlainText():
        return True
    box = viewbox.sceneBoundingRect().adjusted(-0.5, -0.5, 0.5, 0.5)
    return box.contains(item.mapRectToScene(item.boundingRect()))
