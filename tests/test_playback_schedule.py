"""Playback's schedule (widgets/frame_slider.py) and the panes' cached ring bounds (widgets/panes.py).

* Frame ``k`` is due ``k`` periods after playback started: a frame shown
  late does not move the ones after it (they come sooner) unless playback
  is more than ``MAX_BEHIND`` behind; a due time that finds the frame before
  still being rendered waits for it (re-tried) instead of being lost.
* The flag rings' and the selection marker's bounding rectangle, computed
  once per data and view, is the one pyqtgraph computes afresh.

The clock is a fake (no timed assertions): the tests drive ``_on_timer``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from brightstar_gui.models.view_model import ViewModel
from brightstar_gui.widgets import frame_slider
from brightstar_gui.widgets.frame_slider import FrameSlider
from brightstar_gui.widgets.panes import RingItem


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def playing(qtbot, monkeypatch):
    """A slider playing 10 frames at 50 fps (period 0.02 s) on a fake clock; ``advance`` says whether ticks advance."""
    clock = Clock()
    monkeypatch.setattr(frame_slider.time, "monotonic", clock)
    model = ViewModel()
    model.n_frames = 10
    model.frame = 0
    model.fps = 50.0
    slider = FrameSlider(model)
    qtbot.addWidget(slider)
    state = {"advance": True}

    def tick():
        if state["advance"]:
            model.frame = (model.frame + 1) % model.n_frames

    slider.on_tick = tick
    model.playing = True
    yield slider, model, clock, state
    model.playing = False


def test_a_late_frame_keeps_the_schedule(playing):
    slider, model, clock, _ = playing
    first_due = slider._next_due
    assert first_due == pytest.approx(100.02)
    clock.t = first_due + 0.05  # 2.5 periods late (a stall), less than MAX_BEHIND
    slider._on_timer()
    assert model.frame == 1
    # The next frame is due one period after the late one's due time, i.e. already: it comes at once.
    assert slider._next_due == pytest.approx(first_due + 0.02)
    assert slider.timer.remainingTime() <= 0 or slider.timer.interval() == 0


def test_far_behind_restarts_the_schedule(playing):
    slider, model, clock, _ = playing
    clock.t = slider._next_due + slider.MAX_BEHIND + 0.05
    slider._on_timer()
    assert model.frame == 1
    assert slider._next_due == pytest.approx(clock.t + 0.02)


def test_a_due_frame_waits_for_the_frame_before(playing):
    slider, model, clock, state = playing
    due = slider._next_due
    clock.t = due
    state["advance"] = False  # the controller's frame is still being rendered
    slider._on_timer()
    assert model.frame == 0
    assert slider._next_due == due  # not counted as shown
    assert slider.timer.isActive() and slider.timer.interval() == slider.RETRY_MS
    state["advance"] = True
    clock.t = due + 0.004
    slider._on_timer()
    assert model.frame == 1
    assert slider._next_due == pytest.approx(due + 0.02)  # the next one stays on schedule
    # Waiting past MAX_BEHIND counts the due time anyway: no re-try at 1 ms for ever.
    state["advance"] = False
    due = slider._next_due
    clock.t = due + slider.MAX_BEHIND + 0.001
    slider._on_timer()
    assert model.frame == 1 and slider._next_due == pytest.approx(due + 0.02)
    assert slider.timer.interval() != slider.RETRY_MS or slider._next_due <= clock.t


def test_ring_bounds_are_pyqtgraphs(qtbot):
    w = pg.PlotWidget()
    qtbot.addWidget(w)
    w.resize(300, 300)
    w.show()
    ring = RingItem(size=8, symbol="o", brush=None, pxMode=True)
    fresh = pg.ScatterPlotItem(size=8, symbol="o", brush=None, pxMode=True)
    for item in (ring, fresh):
        w.addItem(item)

    def same():
        a, b = ring.boundingRect(), fresh.boundingRect()
        return np.allclose([a.x(), a.y(), a.width(), a.height()], [b.x(), b.y(), b.width(), b.height()])

    for item in (ring, fresh):
        item.setData([1.5, 10.5], [2.5, 20.5])
    w.setRange(xRange=(0, 30), yRange=(0, 30), padding=0)
    qtbot.wait(50)
    assert same()
    before = ring.boundingRect()
    for item in (ring, fresh):
        item.setData([5.5, 40.5], [2.5, 60.5], pen=pg.mkPen("r", width=3))  # new points and spot size
    assert same() and ring.boundingRect() != before
    w.setRange(xRange=(0, 300), yRange=(0, 300), padding=0)  # pixels are 10x larger in data units
    qtbot.wait(50)
    assert same()
    for item in (ring, fresh):
        item.clear()
    assert same()


def test_containers_without_contents_still_show_their_children(qtbot):
    """Plots, titles and the layout are marked as drawing nothing; their children (titles' text, axes) still draw."""
    from PyQt6 import QtWidgets

    from brightstar_gui.widgets.panes import TITLE_HEIGHT, PaneGroup

    panes = PaneGroup()
    qtbot.addWidget(panes)
    panes.resize(900, 700)
    panes.show()
    qtbot.waitExposed(panes)
    flag = QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents
    for kind, plot in panes.plots.items():
        assert plot.flags() & flag and plot.titleLabel.flags() & flag
        assert panes.colorbars[kind].flags() & flag
    image = panes.graphics.grab().toImage()
    background = image.pixel(2, image.height() - 2)
    # The raw pane's title row (top left): its text is drawn over the background.
    title_row = [image.pixel(x, y) for y in range(4, TITLE_HEIGHT - 4) for x in range(0, image.width() // 2)]
    assert sum(p != background for p in title_row) > 50
    # The left axis of the raw pane (tick labels and line) is drawn too.
    axis = [image.pixel(x, y) for y in range(TITLE_HEIGHT, image.height() // 2) for x in range(0, 56)]
    assert sum(p != background for p in axis) > 50
