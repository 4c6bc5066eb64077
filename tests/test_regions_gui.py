"""Regions in the viewer, driven as a user drives them (pytest-qt on the small synthetic set).

Draw a rectangle, circle and annulus, move and resize them on a pane, and
check the per-read statistics against numpy on the file's own data (good:
not DO_NOT_USE in the mask reference, not saturated by the saturation
reference); the ROIs follow on all four panes; DS9 files written from the
File menu equal the ``regions`` package's own file, read back, and a
hand-written 1-based DS9 box selects the pixels it names.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("pytestqt")

import pyqtgraph as pg  # noqa: E402
from PyQt6 import QtCore, QtWidgets  # noqa: E402

from processing.figures import align_to_frame, load_reference_array  # noqa: E402
from processing.io import open_exposure  # noqa: E402
from processing.session_file import RegionShape  # noqa: E402

pg.setConfigOptions(imageAxisOrder="row-major")
pytestmark = pytest.mark.usefixtures("no_qt_leaks")
WAIT = 20_000


def open_and_wait(qtbot, w, uri):
    with qtbot.waitSignals([w.exposure_opened, w.context_loaded], timeout=WAIT, order="strict"):
        w.open_uri(str(uri))
    qtbot.waitUntil(lambda: w.last_render is not None and not w.controller.render_inflight, timeout=WAIT)


@pytest.fixture(scope="module")
def truth(small_set):
    """The file's cube, saturation mask and DO_NOT_USE mask, read independently of the viewer."""
    with open_exposure(small_set["illuminated"]) as exp:
        cube = np.stack([np.array(exp.frame(k)) for k in range(exp.shape[0])])
    h, w = cube.shape[1:]
    sat = align_to_frame(load_reference_array(small_set["references"]["saturation"], "data"), (h, w)).astype(float)
    saturated = cube.astype(float) >= sat
    dq = align_to_frame(load_reference_array(small_set["references"]["mask"], "dq"), (h, w)).astype(np.uint32)
    return cube, saturated, (dq & 1) != 0


def expected_stats(truth, inside):
    cube, saturated, dnu = truth
    out = {k: [] for k in ("mean", "median", "std", "min", "max", "n_good", "n_saturated")}
    for k in range(cube.shape[0]):
        good = inside & ~saturated[k] & ~dnu
        v = cube[k][good].astype(float)
        out["n_good"].append(v.size)
        out["n_saturated"].append(int((inside & saturated[k]).sum()))
        for name, f in (("mean", np.mean), ("median", np.median), ("std", np.std), ("min", np.min), ("max", np.max)):
            out[name].append(f(v) if v.size else math.nan)
    return {k: np.array(v) for k, v in out.items()}


def disk(shape, row, col, r_in, r_out):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    d = np.hypot(yy - row, xx - col)
    return (d >= r_in) & (d < r_out)


def click_on_pane(qtbot, w, kind, row, col):
    """A real mouse click on pixel (row, col) of pane ``kind``."""
    vb = w.panes.plots[kind].getViewBox()
    scene = vb.mapViewToScene(QtCore.QPointF(col + 0.5, row + 0.5))
    view = w.panes.graphics
    pos = view.mapFromScene(scene)
    qtbot.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)


def drag_on_pane(w, kind, start, end, steps=8):
    """A real mouse drag on pane ``kind`` from data point ``start`` to ``end`` ((x, y) in pixels)."""
    from PyQt6 import QtGui, QtTest

    vb = w.panes.plots[kind].getViewBox()
    view = w.panes.graphics
    viewport = view.viewport()

    def at(x, y):
        return QtCore.QPointF(view.mapFromScene(vb.mapViewToScene(QtCore.QPointF(x, y))))

    left, none = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.NoButton
    mods = QtCore.Qt.KeyboardModifier.NoModifier

    def send(kind_, pos, button, buttons):
        event = QtGui.QMouseEvent(kind_, pos, viewport.mapToGlobal(pos), button, buttons, mods)
        QtWidgets.QApplication.sendEvent(viewport, event)

    p0 = at(*start)
    send(QtCore.QEvent.Type.MouseButtonPress, p0, left, left)
    for i in range(1, steps + 1):
        f = i / steps
        send(QtCore.QEvent.Type.MouseMove, at(start[0] + f * (end[0] - start[0]), start[1] + f * (end[1] - start[1])),
             none, left)
        QtTest.QTest.qWait(10)  # paced as a hand moves (~100 Hz), with the event loop running between moves
    send(QtCore.QEvent.Type.MouseButtonRelease, at(*end), left, none)
    QtWidgets.QApplication.processEvents()


def wait_stats(qtbot, w, rid, shape):
    qtbot.waitUntil(lambda: rid in w.controller.region_results and w.controller.regions[rid] == shape, timeout=WAIT)
    return w.controller.region_results[rid]


def assert_stats(stats, exp):
    for name, values in exp.items():
        np.testing.assert_allclose(getattr(stats, name), values, rtol=1e-9, atol=1e-9, err_msg=name)


def test_draw_move_and_resize_regions_stats_equal_numpy(qtbot, window, small_set, truth, tmp_path, monkeypatch):
    w = window
    open_and_wait(qtbot, w, small_set["illuminated"])
    panel = w.regions_panel
    # Pick the rectangle tool, then click on the ratio pane: the box is placed about that pixel.
    qtbot.mouseClick(panel.add_buttons["rectangle"], QtCore.Qt.MouseButton.LeftButton)
    assert panel.tool == "rectangle" and not w.controller.regions
    click_on_pane(qtbot, w, "ratio", 60, 70)
    assert list(w.controller.regions) == [1] and panel.tool is None
    placed = w.controller.regions[1]
    # The click picked the pixel under the mouse (within the screen's resolution of a 256-px frame) ...
    row, col = w.model.selected_pixel
    assert abs(row - 60) <= 1 and abs(col - 70) <= 1
    # ... and the box is whole pixels about it.
    assert (placed.y, placed.x) == (row - 0.5, col - 0.5) and placed.width == placed.height
    # Drag it with the mouse on the difference pane (its body moves it) to start at (row 20, col 30).
    roi = w.regions.overlay.items[1]["difference"].rois[0]
    (x0, y0), (bw, bh) = roi.pos(), roi.size()
    grab = (x0 + bw / 2 + 0.3, y0 + bh / 4 + 0.3)  # inside, away from the handles
    drag_on_pane(w, "difference", grab, (grab[0] + 30 - x0, grab[1] + 20 - y0))
    qtbot.waitUntil(lambda: w.controller.regions[1] != placed, timeout=WAIT)
    moved = w.controller.regions[1]
    dx, dy = moved.x - placed.x, moved.y - placed.y
    assert dx == round(dx) and dy == round(dy)  # snapped to whole pixels
    assert abs(dx - (30 - x0)) <= 1 and abs(dy - (20 - y0)) <= 1 and moved.width == placed.width
    for kind, item in w.regions.overlay.items[1].items():  # every pane's copy followed the drag
        assert item.shape() == moved, kind
    # Then resize it exactly (what the size handle's drag ends in).
    roi.setPos((30, 20), finish=False)
    roi.setSize((21, 13), finish=True)
    shape = RegionShape.rectangle(20, 33, 30, 51)
    stats = wait_stats(qtbot, w, 1, shape)
    inside = np.zeros(truth[0].shape[1:], bool)
    inside[20:33, 30:51] = True
    assert_stats(stats, expected_stats(truth, inside))
    assert stats.n_pixels == 13 * 21
    # The copies on the other panes followed.
    for kind, item in w.regions.overlay.items[1].items():
        assert tuple(item.rois[0].pos()) == (30, 20) and tuple(item.rois[0].size()) == (21, 13), kind

    # A circle on the star (saturated core) and an annulus around it, from the Analysis menu.
    star_r, star_c = small_set["star_center"]
    menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Analysis")
    add = next(a.menu() for a in menu.actions() if a.menu() is not None and a.text().startswith("Add re&gion"))
    next(a for a in add.actions() if a.text() == "Circle").trigger()
    next(a for a in add.actions() if a.text() == "Annulus").trigger()
    circle = w.regions.overlay.items[2]["ratio"].rois[0]
    circle.setSize((16, 16), finish=False)
    circle.setPos((star_c + 0.5 - 8, star_r + 0.5 - 8), finish=True)
    outer, inner = w.regions.overlay.items[3]["raw"].rois
    outer.setSize((40, 40), finish=False)
    outer.setPos((star_c + 0.5 - 20, star_r + 0.5 - 20), finish=True)  # the inner circle follows its centre
    inner.setSize((20, 20), finish=False)
    inner.setPos((star_c + 0.5 - 10, star_r + 0.5 - 10), finish=True)
    c_shape = RegionShape("circle", x=star_c, y=star_r, radius=8)
    a_shape = RegionShape("annulus", x=star_c, y=star_r, inner=10, outer=20)
    c_stats, a_stats = wait_stats(qtbot, w, 2, c_shape), wait_stats(qtbot, w, 3, a_shape)
    shape2d = truth[0].shape[1:]
    assert_stats(c_stats, expected_stats(truth, disk(shape2d, star_r, star_c, 0, 8)))
    assert_stats(a_stats, expected_stats(truth, disk(shape2d, star_r, star_c, 10, 20)))
    assert c_stats.n_saturated[-1] > 0  # the star's core saturates: those pixels are not "good"
    # The dock plots the mean against read; the ramp panel shows each region's mean ramp.
    x, y = panel.curves[2].getData()
    np.testing.assert_array_equal(y, c_stats.mean)
    rx, ry = w.regions.ramp_curves[3].getData()
    np.testing.assert_array_equal(ry, a_stats.mean)
    # The table gives the statistics at the current read.
    k = w.model.frame
    assert np.isfinite(stats.mean[k]) and panel.table.item(0, 0).text() == f"{stats.mean[k]:.2f}"
    w.model.frame = 1
    assert panel.table.item(0, 0).text() == f"{stats.mean[1]:.2f}" and panel.frame_line.value() == 1

    # The statistics as CSV from the dock, read back.
    import csv

    out = tmp_path / "stats.csv"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    qtbot.mouseClick(panel.csv_button, QtCore.Qt.MouseButton.LeftButton)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 3 * truth[0].shape[0]
    for rid, st in ((1, stats), (2, c_stats), (3, a_stats)):
        mine = [r for r in rows if r["region"] == str(rid)]
        np.testing.assert_allclose([float(r["mean"]) for r in mine], st.mean, rtol=1e-9)
        assert [int(r["n_saturated"]) for r in mine] == list(st.n_saturated)
    np.testing.assert_allclose([float(r["time_s"]) for r in rows[:8]], w.dataset.primary.read_times)

    # Remove from the dock: the ROIs leave every pane.
    panel.list.item(1).setSelected(True)
    qtbot.mouseClick(panel.remove_button, QtCore.Qt.MouseButton.LeftButton)
    assert list(w.controller.regions) == [1, 3]
    assert 2 not in w.regions.overlay.items
    assert all(circle not in p.items for p in w.panes.plots.values())


def test_ds9_files_from_the_file_menu(qtbot, window, small_set, truth, tmp_path, monkeypatch):
    from regions import Regions

    w = window
    open_and_wait(qtbot, w, small_set["illuminated"])
    shapes = [RegionShape.rectangle(40, 52, 30, 47), RegionShape("circle", x=120.0, y=110.0, radius=9.5),
              RegionShape("annulus", x=128.0, y=128.0, inner=5.0, outer=12.0)]
    for s in shapes:
        w.controller.add_region(s)
    path = tmp_path / "mine.reg"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    file_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&File")
    next(a for a in file_menu.actions() if a.text().startswith("Save re&gions")).trigger()
    theirs = tmp_path / "theirs.reg"
    Regions([s.to_region() for s in shapes]).write(str(theirs), format="ds9")
    assert path.read_text() == theirs.read_text()
    assert "box(39.00000000,46.50000000,17.00000000,12.00000000,0.00000000)" in path.read_text()  # 1-based centre

    w.controller.set_regions([])
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    next(a for a in file_menu.actions() if a.text().startswith("Load &regions")).trigger()
    assert list(w.controller.regions.values()) == shapes

    # A hand-written DS9 box in DS9's 1-based image coordinates: centre (11, 21), 5 x 7.
    hand = tmp_path / "hand.reg"
    hand.write_text("# Region file format: DS9\nimage\nbox(11,21,5,7,0)\n")
    w.controller.set_regions([])
    w.controller.load_regions(str(hand))
    (rid, shape), = w.controller.regions.items()
    assert (shape.x, shape.y, shape.width, shape.height) == (10.0, 20.0, 5.0, 7.0)
    stats = wait_stats(qtbot, w, rid, shape)
    inside = np.zeros(truth[0].shape[1:], bool)
    inside[17:24, 8:13] = True  # rows 21 +- 3 and columns 11 +- 2, 1-based
    assert_stats(stats, expected_stats(truth, inside))
    # Drawn over exactly those pixels on the panes.
    roi = w.regions.overlay.items[rid]["mask"].rois[0]
    assert tuple(roi.pos()) == (8, 17) and tuple(roi.size()) == (5, 7)


def test_bad_region_files_are_named_and_change_nothing(qtbot, window, small_set, tmp_path):
    w = window
    open_and_wait(qtbot, w, small_set["illuminated"])
    w.controller.add_region(RegionShape("circle", x=50.0, y=60.0, radius=4.0))
    before = dict(w.controller.regions)
    sky = tmp_path / "sky.reg"
    sky.write_text("# Region file format: DS9\nfk5\ncircle(10.0,20.0,3\")\n")
    poly = tmp_path / "poly.reg"
    poly.write_text("# Region file format: DS9\nimage\npolygon(1,1,5,1,5,5)\n")
    for bad, words in ((sky, "sky"), (poly, "PolygonPixelRegion"), (tmp_path / "missing.reg", "missing.reg")):
        with qtbot.waitSignal(w.error_shown, timeout=WAIT) as sig:
            assert not w.controller.load_regions(str(bad))
        assert str(bad) in sig.args[0] and words in sig.args[0]
        assert w.controller.regions == before
