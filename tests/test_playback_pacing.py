"""What playback leaves out per frame, and what it must still show.

* Docks that follow the frame (ramp readout and frame line, growth marker,
  region plot and table, pixel table) update at most every
  ``DOCK_PLAYBACK_INTERVAL`` while playing and show the frame on screen
  exactly once paused (:mod:`brightstar_gui.models.pacing`).
* Colour bars keep the axis they drew for each set of ticks: what a bar
  shows after a level change, from its cache or not, is what a new bar
  draws for those levels.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from brightstar_gui.models.pacing import DOCK_PLAYBACK_INTERVAL, FrameFollower
from brightstar_gui.models.view_model import ViewModel

WAIT = 20_000  # ms


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def model_of(n_frames=40):
    m = ViewModel()
    m.n_frames = n_frames
    return m


def test_follower_calls_every_frame_paused_and_paced_while_playing():
    m, clock, calls = model_of(), Clock(), []
    follower = FrameFollower(m, calls.append, interval=0.25, clock=clock)
    m.frame = 3
    m.frame = 4
    assert calls == [3, 4]  # paused: every change, at once
    calls.clear()
    m.playing = True
    for k in range(5, 25):  # 20 frames, 20 ms apart: 0.4 s
        m.frame = k
        clock.t += 0.02
    # The first played frame at once, then one 0.25 s later (13 frames on: 18).
    assert calls == [5, 18]
    m.playing = False
    assert calls == [5, 18, 24]  # paused: the frame on screen, once
    assert follower.shown == m.frame == 24
    m.playing = True
    m.frame = 25
    assert calls[-1] == 25  # a new playback shows its first frame at once, whatever the clock says
    m.playing = False
    assert calls.count(25) == 1  # already showing the frame on screen: not called again


def test_follower_stops_when_disconnected():
    m, calls = model_of(), []
    follower = FrameFollower(m, calls.append)
    follower.disconnect()
    m.frame = 2
    assert calls == []


def test_follower_lets_its_view_go():
    import gc

    class View:
        def __init__(self):
            self.frames = []

        def set_frame(self, k):
            self.frames.append(k)

    m, view = model_of(), View()
    follower = FrameFollower(m, view.set_frame)
    m.frame = 1
    assert view.frames == [1]
    del view
    gc.collect()
    m.frame = 2  # the view is gone: nothing is called, the follower lets go of the model
    assert follower.shown == 1
    assert len(m.events.frame) == 0


# -- the real window ---------------------------------------------------------------------------
pytest.importorskip("pytestqt")


@pytest.fixture
def window(qtbot, no_qt_leaks):
    from brightstar_gui.widgets.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def test_docks_follow_playback_paced_and_show_the_paused_frame(qtbot, window, small_set):
    from processing.io import open_exposure

    w = window
    with qtbot.waitSignals([w.exposure_opened, w.context_loaded], timeout=WAIT, order="strict"):
        w.open_uri(str(small_set["illuminated"]))
    qtbot.waitUntil(lambda: w.last_render is not None and not w.controller.render_inflight, timeout=WAIT)
    r, c = 100, 110
    w.panes.click_pixel(r, c)
    qtbot.waitUntil(lambda: w.ramp.data is not None and w.ramp.data["row"] == r, timeout=WAIT)
    ramp_frames, growth_frames, region_frames = [], [], []
    ramp_set, growth_set = w.ramp.set_frame, w.growth.set_frame
    w.ramp.set_frame = lambda k: (ramp_frames.append(k), ramp_set(k))[1]
    w.growth.set_frame = lambda k: (growth_frames.append(k), growth_set(k))[1]
    region_line = w.regions_panel.frame_line.setPos
    w.regions_panel.frame_line.setPos = lambda k: (region_frames.append(k), region_line(k))[1]
    shown = []
    w.frame_rendered.connect(lambda *_: shown.append(w.model.frame))
    w.model.fps = 60
    w.model.playing = True
    t0 = time.monotonic()
    qtbot.waitUntil(lambda: len(shown) >= 20, timeout=WAIT)  # 8 reads: two loops and more
    seconds = time.monotonic() - t0
    w.model.playing = False
    # Playing: the panes showed every frame, the docks at most one every 0.25 s.
    for calls in (ramp_frames, growth_frames, region_frames):
        assert 1 <= len(calls) <= seconds / DOCK_PLAYBACK_INTERVAL + 2
        assert len(calls) < len(shown)
    # Paused: every dock shows the frame on screen, the readout its values from the file.
    k, n = w.model.frame, w.model.n_frames
    assert ramp_frames[-1] == growth_frames[-1] == region_frames[-1] == k
    assert w.ramp.frame == k
    assert w.ramp.frame_line.value() == pytest.approx(w.ramp._x()[k])
    assert w.growth.marker.value() == k and w.regions_panel.frame_line.value() == k
    with open_exposure(small_set["illuminated"]) as exp:
        value = int(np.asarray(exp.frame(k))[r, c])
    text = w.ramp.readout.text()
    assert f"{k} of 0..{n - 1}" in text and f"{value} DN" in text
    # Stepping while paused: every frame at once.
    w.model.frame = (k + 1) % n
    assert w.ramp.frame == w.growth.marker.value() == (k + 1) % n


def bar_image(bar_widget):
    img = bar_widget.grab().toImage().convertToFormat(bar_widget.grab().toImage().Format.Format_RGB32)
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    return np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())[:, : 4 * img.width()].copy()


def test_colour_bar_shows_the_levels_drawn_from_its_cache(qtbot, no_qt_leaks):
    import pyqtgraph as pg

    from brightstar_gui.widgets.colour_bar import PaneColourBar
    from brightstar_gui.jobs.render import lut as make_lut
    from processing.scale_ticks import colour_bar_ticks, tick_label

    lut = make_lut("gray", "linear")
    legend = (("DQ flag", (255, 0, 0, 255)), ("NaN", (0, 0, 255, 255)))
    views = []

    def bar():
        view = pg.GraphicsLayoutWidget()
        qtbot.addWidget(view)
        view.resize(110, 300)
        item = PaneColourBar()
        view.addItem(item)
        view.show()
        qtbot.waitExposed(view)
        views.append(view)
        return view, item

    def shows(view, item, levels):
        item.set_scale(lut, levels, "linear", legend)
        qtbot.wait(30)
        return bar_image(view)

    a, b = (100.0, 2000.0), (5000.0, 40000.0)
    view, item = bar()
    first_a = shows(view, item, a)
    first_b = shows(view, item, b)
    again_a = shows(view, item, a)  # from the cache
    assert item.levels() == a
    want = [tick_label(v) for _, v in colour_bar_ticks(a, "linear")] + ["DQ flag", "NaN"]
    assert item.tick_labels == want
    assert not np.array_equal(first_a, first_b)  # the labels moved
    np.testing.assert_array_equal(again_a, first_a)
    # A bar that never saw other levels draws the same picture.
    fresh_view, fresh = bar()
    np.testing.assert_array_equal(shows(fresh_view, fresh, a), again_a)
    np.testing.assert_array_equal(shows(view, item, b), first_b)
    for v in views:
        v.close()
