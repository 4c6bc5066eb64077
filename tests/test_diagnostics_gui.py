"""The saturation diagnostics in the window, driven as a user drives them (pytest-qt, offscreen).

Clicking the growth plot moves the frame; the onset pane shows the onset
map's values; contours typed in are drawn over the raw pane; the profile
follows the slider; three pinned pixels give three overlaid curves with the
file's values, and the pins' export button writes them all (read back).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

pytest.importorskip("pytestqt")

import pyqtgraph as pg  # noqa: E402
from PyQt6 import QtCore, QtWidgets  # noqa: E402

from test_gui import WAIT, open_and_wait  # noqa: E402

from brightstar_gui.jobs.onset import NEVER_COLOR, onset_lut  # noqa: E402
from brightstar_gui.widgets.diagnostics_docks import show_tab  # noqa: E402
from brightstar_gui.widgets.pins import pin_color  # noqa: E402
from processing import figures  # noqa: E402
from processing.diagnostics.growth import saturation_growth  # noqa: E402
from processing.diagnostics.onset import onset_map  # noqa: E402
from processing.io import open_exposure  # noqa: E402

pg.setConfigOptions(imageAxisOrder="row-major")
pytestmark = pytest.mark.usefixtures("no_qt_leaks")


@pytest.fixture(scope="module")
def truth(small_set):
    sat_dn = figures.align_to_frame(
        figures.load_reference_array(small_set["references"]["saturation"], "data").astype(np.float32), (256, 256))
    with open_exposure(small_set["illuminated"]) as exp:
        cube = np.stack([exp.frame(k) for k in range(exp.shape[0])])
    return {"cube": cube, "sat_dn": sat_dn, "onset": onset_map(cube, sat_dn).onset}


def click_plot_at(qtbot, plot: pg.PlotWidget, x: float, y: float) -> None:
    """A left click on ``plot`` where its data coordinates are (x, y)."""
    vb = plot.getPlotItem().getViewBox()
    scene = vb.mapViewToScene(QtCore.QPointF(x, y))
    qtbot.mouseClick(plot.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=plot.mapFromScene(scene))


def test_clicking_the_growth_plot_jumps_to_that_read(qtbot, window, small_set, truth):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    c = w.controller
    qtbot.waitUntil(lambda: getattr(c, "last_growth", None) is not None, timeout=WAIT)
    region = w.model.cutout.region(w.model.frame_shape)
    want = saturation_growth(truth["cube"], truth["sat_dn"], region=region)
    x, y = w.growth.curve_data("saturated")
    np.testing.assert_array_equal(x, np.arange(truth["cube"].shape[0]))
    np.testing.assert_array_equal(y, want.saturated)
    assert y[-1] > 0
    qtbot.wait(50)
    for k in (2, 6):
        assert w.model.frame != k
        click_plot_at(qtbot, w.growth.plot, k + 0.2, float(np.mean(y)))
        qtbot.waitUntil(lambda: w.model.frame == k, timeout=WAIT)
        assert w.growth.marker.value() == k
        assert w.slider.slider.value() == k
    # The full-frame count, asked from the scope box.
    w.growth.scope.setCurrentIndex(w.growth.scope.findData("full"))
    qtbot.waitUntil(lambda: c.last_growth.request.region is None, timeout=WAIT)
    np.testing.assert_array_equal(w.growth.curve_data("new")[1], saturation_growth(truth["cube"], truth["sat_dn"]).new)


def test_onset_pane_shows_the_onset_map_and_contours_are_drawn(qtbot, window, small_set, truth):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    c = w.controller
    combo = w.growth.onset_pane
    combo.setCurrentIndex(combo.findData("mask"))
    qtbot.waitUntil(lambda: c.last_onset_image is not None, timeout=WAIT)
    image = c.last_onset_image
    y0, y1, x0, x1 = image.request.view
    s = image.request.step
    want = truth["onset"][y0:y1:s, x0:x1:s]
    np.testing.assert_array_equal(image.values, want)
    shown = w.panes.images["mask"].image
    np.testing.assert_array_equal(shown, figures.colorize(want, image.levels, onset_lut(), None, NEVER_COLOR))
    never = np.isnan(want)
    assert never.any() and (~never).any()
    assert (shown[never] == NEVER_COLOR).all()
    assert "never" in w.panes.plots["mask"].titleLabel.text
    # The pane keeps the onset map when the frame moves.
    w.model.frame = 2
    qtbot.waitUntil(lambda: w.last_render.request.frame == 2 and not c.render_inflight, timeout=WAIT)
    assert "mask" not in w.last_render.panes
    np.testing.assert_array_equal(w.panes.images["mask"].image, shown)

    edit = w.growth.contours
    edit.setFocus()
    qtbot.keyClicks(edit, "3, 6")
    qtbot.keyClick(edit, QtCore.Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: set(w.onset_overlay.curves) == {3, 6}, timeout=WAIT)
    xs, ys = w.onset_overlay.curves[6].getData()
    ok = np.isfinite(xs)
    # Marching squares on the saturated-by-read-6 mask: every vertex lies half-way
    # between two neighbouring pixel centres, one saturated by read 6 and one not.
    rows, cols = ys[ok] - 0.5, xs[ok] - 0.5
    sat = np.pad(truth["onset"] <= 6, 1)  # padded by one: index + 1
    assert rows.size > 20
    for r, col in zip(rows, cols):
        if float(r).is_integer():
            a, b = (int(r) + 1, int(np.floor(col)) + 1), (int(r) + 1, int(np.ceil(col)) + 1)
        else:
            assert float(col).is_integer()
            a, b = (int(np.floor(r)) + 1, int(col) + 1), (int(np.ceil(r)) + 1, int(col) + 1)
        assert a != b and sat[a] != sat[b]
    combo.setCurrentIndex(combo.findData(""))
    qtbot.waitUntil(lambda: "mask" in w.last_render.panes and not c.render_inflight, timeout=WAIT)


def test_profile_follows_the_slider_and_a_dark_says_no_source(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    c = w.controller
    show_tab(w, w.profile)
    qtbot.waitUntil(lambda: c.last_profile is not None, timeout=WAIT)
    for k in (3, 5):
        w.model.frame = k
        qtbot.waitUntil(lambda: c.last_profile.read == k, timeout=WAIT)
        x, y = w.profile.curve_data()
        np.testing.assert_array_equal(x, c.last_profile.radius_px)
        np.testing.assert_array_equal(y, c.last_profile.frame_dn)
    w.profile.kind.setCurrentIndex(w.profile.kind.findData("difference"))
    qtbot.waitUntil(lambda: np.array_equal(w.profile.curve_data()[1], c.last_profile.difference_dn, equal_nan=True),
                    timeout=WAIT)
    # A dark has no star: the plot says so, and no curve of the star stays.
    open_and_wait(qtbot, w, small_set["darks"][0])
    qtbot.waitUntil(lambda: w.profile.message.text().startswith("no source"), timeout=WAIT)
    assert w.profile.message.isVisible() and w.profile.curve_data()[0].size == 0


def test_three_pinned_pixels_overlay_their_ramps_and_export_together(qtbot, window, small_set, truth, tmp_path,
                                                                     monkeypatch):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    c = w.controller
    r, col = (int(v) for v in small_set["star_center"])
    pins = [(r, col), (r, col + 15), (12, 200)]
    w.activateWindow()
    for p in pins:
        w.panes.click_pixel(*p)
        qtbot.waitUntil(lambda: w.model.selected_pixel == p, timeout=WAIT)
        w.panes.setFocus()
        qtbot.keyClick(w.panes, QtCore.Qt.Key.Key_P)  # the shortcut, wherever focus is
    qtbot.waitUntil(lambda: c.last_pins is not None and len(c.last_pins.pixels) == 3, timeout=WAIT)
    curves = w.pins.overlay.curves
    assert len(curves) == 3 and all(curve in w.ramp.plot.getPlotItem().items for curve in curves)
    colours = set()
    for i, (curve, (pr, pc)) in enumerate(zip(curves, pins)):
        x, y = curve.getData()
        np.testing.assert_array_equal(y, truth["cube"][:, pr, pc].astype(float))
        colours.add(curve.opts["pen"].color().getRgb()[:3])
        assert curve.opts["pen"].color().getRgb()[:3] == pin_color(i)
    assert len(colours) == 3
    assert w.pins.list.count() == 3

    out = tmp_path / "pins.csv"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "CSV (*.csv)"))
    with qtbot.waitSignal(w.export_finished, timeout=WAIT):
        qtbot.mouseClick(w.pins.export_button, QtCore.Qt.MouseButton.LeftButton)
    with open(out) as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    n = truth["cube"].shape[0]
    assert len(rows) == 3 * n
    for i, (pr, pc) in enumerate(pins):
        mine = [row for row in rows if row["role"] == f"pin {i + 1}"]
        assert {(int(m["row"]), int(m["col"])) for m in mine} == {(pr, pc)}
        assert [int(m["raw_dn"]) for m in mine] == truth["cube"][:, pr, pc].tolist()

    # The pane's context menu offers to unpin a pinned pixel (and pin it again).
    w.pane_menu.menu_for("raw", *pins[2])
    w.pane_menu.action("Unpin pixel").trigger()
    qtbot.waitUntil(lambda: c.last_pins.pixels == tuple(pins[:2]), timeout=WAIT)
    w.pane_menu.menu_for("raw", *pins[2])
    w.pane_menu.action("Pin pixel").trigger()
    qtbot.waitUntil(lambda: c.last_pins.pixels == tuple(pins), timeout=WAIT)
    # Unpin the second from the list; the overlay follows.
    w.pins.list.item(1).setSelected(True)
    qtbot.mouseClick(w.pins.unpin_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: c.last_pins is not None and c.last_pins.pixels == (pins[0], pins[2]), timeout=WAIT)
    assert len(w.pins.overlay.curves) == 2
    qtbot.mouseClick(w.pins.clear_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.pins.overlay.curves, timeout=WAIT)
