"""The four panes show one data rectangle, and their titles and colour bars stay in the window.

Driven as a user would: open the small synthetic exposure, size the window
as on a laptop (1280 x 800), the old default (1560 x 900) and a large
screen (1920 x 1200), pick a 24-px cutout or the full frame, zoom, switch
to calibrated data and to superbias subtraction; then every pane's view
range is compared and every colour bar and title is checked to lie inside
the window.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PyQt6 import QtCore  # noqa: E402

from brightstar_gui.jobs import opening  # noqa: E402
from brightstar_gui.models import Cutout  # noqa: E402
from processing.figures import PANE_TITLES, PANES  # noqa: E402

from test_gui import FakeResult, fake_ramp, open_and_wait, wait_render  # noqa: E402,F401

pytestmark = pytest.mark.usefixtures("no_qt_leaks")

SIZES = [(1280, 800), (1560, 900), (1920, 1200)]


@pytest.fixture
def window(make_window):
    return make_window(size=None)


def settle(qtbot, w):
    qtbot.wait(150)
    qtbot.waitUntil(lambda: not w.controller.render_inflight, timeout=20_000)
    qtbot.wait(100)


def ranges(w):
    return {k: np.array(p.getViewBox().viewRange(), float) for k, p in w.panes.plots.items()}


def assert_one_rectangle(w):
    r = ranges(w)
    for kind in PANES[1:]:
        np.testing.assert_allclose(r[kind], r["raw"], atol=1e-6, err_msg=f"{kind} shows another range")
    widths = [w.panes.plots[k].getViewBox().width() for k in PANES]
    heights = [w.panes.plots[k].getViewBox().height() for k in PANES]
    assert max(widths) - min(widths) <= 1.0, widths
    assert max(heights) - min(heights) <= 1.0, heights


def assert_inside_window(w, size):
    width, height = size
    # The window fits the screen size it was given (no minimum size wider than a laptop).
    assert w.width() <= width and w.height() <= height, (w.size(), size)
    view = w.panes.graphics
    visible = QtCore.QRectF(view.rect())
    top_left = view.mapTo(w, QtCore.QPoint(0, 0))
    assert top_left.x() + view.width() <= w.width()
    for kind in PANES:
        for item in (w.panes.colorbars[kind], w.panes.plots[kind]):
            rect = view.mapFromScene(item.sceneBoundingRect()).boundingRect()
            assert visible.contains(QtCore.QRectF(rect).adjusted(1, 1, -1, -1)), (kind, rect, visible)
        assert w.panes.title_fits(kind), (kind, w.panes._titles[kind])
        assert w.panes.colorbars[kind].width() == pytest.approx(w.panes.colorbars[PANES[0]].width())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_panes_show_one_rectangle_at_every_size_and_cutout(qtbot, window, small_set, size):
    w = window
    w.resize(*size)
    w = open_and_wait(qtbot, w, small_set["illuminated"])
    row, col = small_set["star_center"]
    for cutout in (Cutout(row, col, 12, True), Cutout(row, col, 128, False)):  # 24 px, the whole 256-px frame
        w.state.cutout = cutout
        w.controller.reset_zoom()
        settle(qtbot, w)
        assert_one_rectangle(w)
        assert_inside_window(w, size)
        # The rectangle is the data region (aspect kept: one axis fits, the other is wider).
        (x0, x1), (y0, y1) = w.panes.viewbox.viewRange()
        ry0, ry1, rx0, rx1 = w.state.region()
        assert x0 <= rx0 and x1 >= rx1 and y0 <= ry0 and y1 >= ry1
        # Zoom and pan in another pane: the four still agree.
        vb = w.panes.plots["mask"].getViewBox()
        vb.scaleBy((0.5, 0.5))
        vb.translateBy((1.5, -2.0))
        settle(qtbot, w)
        assert_one_rectangle(w)
    # Back to a narrow window from a wide one: nothing is left outside.
    w.resize(1280, 800)
    settle(qtbot, w)
    assert_one_rectangle(w)
    assert_inside_window(w, (1280, 800))


def test_titles_and_colour_bars_in_every_mode(qtbot, window, small_set, fake_ramp, monkeypatch):
    def fake_calibration(uri, refs, endpoint_url=None):
        return FakeResult(fake_ramp)
        yield  # a generator, as the real job

    monkeypatch.setattr(opening, "calibration_job", fake_calibration)
    w = window
    w.resize(1280, 800)
    w = open_and_wait(qtbot, w, small_set["illuminated"])
    settle(qtbot, w)
    assert w.panes._titles["raw"] == "Frame\nraw DN"
    assert_inside_window(w, (1280, 800))
    with qtbot.waitSignal(w.calibration_finished, timeout=20_000):
        w.controls.calibrate_button.click()
    wait_render(qtbot, w, kind="calibrated")
    settle(qtbot, w)
    titles = w.panes._titles
    assert titles["raw"] == "Frame\ncalibrated DN"
    assert titles["difference"] == "Difference\nframe \N{MINUS SIGN} frame 1, calibrated DN"
    assert not any("raw" in titles[k].lower() for k in ("raw", "difference", "ratio")), titles
    assert_inside_window(w, (1280, 800))
    assert_one_rectangle(w)
    w.controls.kind.setCurrentText("raw")
    w.controller.set_superbias(np.full(w.dataset.shape[1:], 100.0, np.float32))
    w.state.subtract_superbias = True
    wait_render(qtbot, w, subtract_superbias=True, kind="raw")
    settle(qtbot, w)
    assert w.panes._titles["raw"] == "Frame\nraw DN, superbias-subtracted"
    assert "calibrated" not in " ".join(w.panes._titles.values())
    assert_inside_window(w, (1280, 800))
    assert_one_rectangle(w)


def test_pane_selector_and_titles_use_one_name(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    for i, kind in enumerate(PANES):
        assert w.controls.pane.itemText(i) == PANE_TITLES[kind]
        assert w.panes._titles[kind].split("\n")[0] == PANE_TITLES[kind]
    assert PANE_TITLES["mask"] == "Saturation mask"
    # Axis labels say what the figure files say.
    assert w.panes.plots["raw"].getAxis("bottom").labelText == "x [pixel]"
    assert w.panes.plots["raw"].getAxis("left").labelText == "y [pixel]"
