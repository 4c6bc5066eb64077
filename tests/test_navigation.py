"""Navigation, driven as a user drives it: go to a pixel, the pixel table, 1:1 zoom, keys, Help, pane menu.

Values are checked against the file read independently with
roman_datamodels; view centres and zoom against the panes' view box.
"""

from __future__ import annotations

import dataclasses
from importlib import metadata

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PyQt6 import QtCore, QtGui, QtWidgets  # noqa: E402

from s3_server import s3_bucket, s3_server  # noqa: E402,F401  (pytest fixtures)

from brightstar_gui.jobs.pixel_table import PixelTableRequest, pixel_table_job  # noqa: E402
from brightstar_gui.widgets.pixel_table import FLAGGED_BG, OFF_BG  # noqa: E402

WAIT = 20_000  # ms
Key = QtCore.Qt.Key
Ctrl = QtCore.Qt.KeyboardModifier.ControlModifier

pytestmark = pytest.mark.usefixtures("no_qt_leaks")


def open_and_wait(qtbot, w, uri):
    with qtbot.waitSignals([w.exposure_opened, w.context_loaded], timeout=WAIT, order="strict"):
        w.open_uri(str(uri))
    qtbot.waitUntil(lambda: w.last_render is not None and not w.controller.render_inflight
                    and w.last_render.request.context is not None, timeout=WAIT)
    return w


def file_frame(path, k: int) -> np.ndarray:
    """Read ``k`` of the file, read with roman_datamodels (not the viewer's reader)."""
    import roman_datamodels.datamodels as rdm

    with rdm.open(path) as m:
        return np.array(m.data[k], dtype=np.float64)


def view_centre(w) -> tuple[float, float]:
    (x0, x1), (y0, y1) = w.panes.viewbox.viewRange()
    return 0.5 * (y0 + y1), 0.5 * (x0 + x1)


def focus(qtbot, w, widget) -> None:
    w.activateWindow()
    widget.setFocus()
    qtbot.waitUntil(lambda: widget.hasFocus() or (widget.focusProxy() is not None and widget.focusProxy().hasFocus()),
                    timeout=WAIT)


def shown_table(qtbot, w, **expect):
    def ok():
        t = w.pixel_table.shown
        return t is not None and all(getattr(t, k) == v for k, v in expect.items())

    qtbot.waitUntil(ok, timeout=WAIT)
    return w.pixel_table.shown


# -- go to pixel -------------------------------------------------------------------------------


def test_go_to_pixel_selects_and_centres(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    w.controls.cut_half.setValue(40)
    qtbot.waitUntil(lambda: w.state.cutout.half == 40, timeout=WAIT)
    focus(qtbot, w, w.panes)
    qtbot.keyClick(w.panes, Key.Key_G, Ctrl)
    dlg = w.go_to_dialog
    qtbot.waitUntil(dlg.isVisible, timeout=WAIT)
    dlg.row.setValue(180)
    dlg.col.setValue(75)
    with qtbot.waitSignal(w.ramp_plotted, timeout=WAIT):
        dlg.accept()
    assert w.state.selected_pixel == (180, 75)
    assert (w.state.cutout.row, w.state.cutout.col) == (180, 75)  # the cutout moved to it
    assert view_centre(w) == pytest.approx((180.5, 75.5), abs=0.01)
    assert "row 180, col 75" in w.ramp.readout.text()
    # Full frame, zoomed in: the view moves to the pixel and keeps its zoom; the cutout stays.
    w.controls.cutout_enabled.setChecked(False)
    qtbot.waitUntil(lambda: not w.state.cutout.enabled, timeout=WAIT)
    w.zoom_actions["one_to_one"].trigger()
    before = w.navigator.span()
    w.controller.go_to_pixel(20, 230)
    assert w.state.selected_pixel == (20, 230)
    assert (w.state.cutout.row, w.state.cutout.col) == (180, 75)
    assert view_centre(w) == pytest.approx((20.5, 230.5), abs=0.01)
    assert w.navigator.span() == pytest.approx(before, rel=1e-6)
    assert w.zoom_label.text() == "zoom 1:1"
    with pytest.raises(ValueError, match="off the detector: rows are 0-255"):
        w.controller.go_to_pixel(256, 3)
    assert w.state.selected_pixel == (20, 230)


# -- pixel table ------------------------------------------------------------------------------


def test_pixel_table_shows_the_files_values_and_follows_the_frame(qtbot, window, small_set, monkeypatch):
    path = small_set["illuminated"]
    w = open_and_wait(qtbot, window, path)
    w.pixel_table.follow.setChecked(False)
    # The values are read in a worker, never on the UI thread (an S3 read would freeze it).
    import threading

    from brightstar_gui.controllers import _navigation

    threads = []
    job = _navigation.pixel_table_job

    def recording(req):
        threads.append(threading.current_thread())
        return job(req)

    monkeypatch.setattr(_navigation, "pixel_table_job", recording)
    r, c = 120, 90
    w.panes.click_pixel(r, c)
    k = w.state.frame
    t = shown_table(qtbot, w, row=r, col=c, frame=k)
    frame = file_frame(path, k)
    np.testing.assert_array_equal(t.values, frame[r - 4:r + 5, c - 4:c + 5])
    assert threads and threading.main_thread() not in threads
    # The cells read as the panes draw them: highest row on top, centre bold.
    assert w.pixel_table.table.verticalHeaderItem(0).text() == str(r + 4)
    assert w.pixel_table.table.horizontalHeaderItem(0).text() == str(c - 4)
    assert w.pixel_table.cell(r + 4, c - 4).text() == f"{frame[r + 4, c - 4]:.0f}"
    assert w.pixel_table.cell(r, c) is w.pixel_table.table.item(4, 4) and w.pixel_table.cell(r, c).font().bold()
    assert f"frame {k}" in w.pixel_table.caption.text() and "raw DN" in w.pixel_table.caption.text()
    # Another pixel: its headers (set while the rows' sizes are fixed), rows still sized to their contents.
    w.panes.click_pixel(r + 7, c + 3)
    shown_table(qtbot, w, row=r + 7, col=c + 3, frame=k)
    table = w.pixel_table.table
    assert [table.verticalHeaderItem(i).text() for i in range(9)] == [str(r + 7 + 4 - i) for i in range(9)]
    assert [table.horizontalHeaderItem(j).text() for j in range(9)] == [str(c + 3 - 4 + j) for j in range(9)]
    assert table.verticalHeader().sectionResizeMode(0) == QtWidgets.QHeaderView.ResizeMode.ResizeToContents
    w.panes.click_pixel(r, c)
    shown_table(qtbot, w, row=r, col=c, frame=k)
    # It follows the frame slider.
    w.slider.slider.setValue(6)
    t = shown_table(qtbot, w, row=r, col=c, frame=6)
    np.testing.assert_array_equal(t.values, file_frame(path, 6)[r - 4:r + 5, c - 4:c + 5])
    # Flagged pixels are marked (pixel DQ from the mask reference), with the flags decoded.
    dq = np.asarray(w.controller.context.pixeldq)
    fr, fc = map(int, np.argwhere(dq[10:-10, 10:-10] != 0)[0] + 10)
    w.panes.click_pixel(fr, fc)
    shown_table(qtbot, w, row=fr, col=fc, frame=6)
    cell = w.pixel_table.cell(fr, fc)
    assert cell.background().color() == FLAGGED_BG
    assert f"pixel DQ {dq[fr, fc]}" in cell.toolTip()
    # Following the cursor: the pixel under the mouse, back to the selected one when it leaves.
    w.pixel_table.follow.setChecked(True)
    w.panes.pixel_hovered.emit(30, 200)
    t = shown_table(qtbot, w, row=30, col=200)
    np.testing.assert_array_equal(t.values, file_frame(path, 6)[26:35, 196:205])
    # The mouse leaving the panes (the scene reports no move then).
    QtWidgets.QApplication.sendEvent(w.panes.graphics.viewport(), QtCore.QEvent(QtCore.QEvent.Type.Leave))
    shown_table(qtbot, w, row=fr, col=fc)
    # At the corner the cells off the detector are blank.
    w.controller.go_to_pixel(0, 255)
    t = shown_table(qtbot, w, row=0, col=255)
    assert t.inside.sum() == 5 * 5
    assert w.pixel_table.cell(-1, 255).text() == "" and w.pixel_table.cell(-1, 255).background().color() == OFF_BG
    assert w.pixel_table.cell(0, 255).text() == f"{file_frame(path, 6)[0, 255]:.0f}"


def test_pixel_table_of_a_calibrated_ramp(qtbot, window, small_set, tmp_path):
    """A RampModel opened directly: the table shows calibrated float DN, NaN marked."""
    import roman_datamodels.datamodels as rdm

    from processing.io import open_exposure

    path = tmp_path / "ramp.asdf"
    with open_exposure(small_set["illuminated"]) as exp:
        n, h, wd = exp.shape
        raw = np.stack([exp.frame(k) for k in range(n)]).astype(np.float32)
    m = rdm.RampModel.create_fake_data(shape=(n, h, wd))
    m.data = raw - 10000.5
    m.data[:, 50, 51] = np.nan
    m.pixeldq = np.zeros((h, wd), np.uint32)
    m.groupdq = np.zeros((n, h, wd), np.uint8)
    m.save(path)
    w = open_and_wait(qtbot, window, path)
    w.pixel_table.follow.setChecked(False)
    w.controller.go_to_pixel(50, 50)
    k = w.state.frame
    t = shown_table(qtbot, w, row=50, col=50, frame=k, kind="calibrated")
    expected = file_frame(path, k)[46:55, 46:55]
    np.testing.assert_array_equal(t.values, expected)
    assert w.pixel_table.cell(50, 50).text() == f"{expected[4, 4]:.1f}"
    assert w.pixel_table.cell(50, 51).text() == "NaN"
    assert "calibrated DN" in w.pixel_table.caption.text()


def test_controller_go_to_and_table_without_a_window(small_set):
    """The controller with fake views: go-to keeps the zoom, the table follows frame and pixel."""
    from test_controller import FakeViews

    from brightstar_gui.controllers import SyncRunner, ViewerController

    class Nav:
        calls = []

        def span(self):
            return (40.0, 60.0)

        def center_on(self, row, col, span=None):
            self.calls.append((row, col, span))

    class Table:
        follow_cursor = False
        shown = []

        def set_table(self, table):
            self.shown.append(table)

    views = FakeViews()
    views.navigator, views.pixel_table = Nav(), Table()
    c = ViewerController(views, SyncRunner())
    try:
        c.start_navigation()
        c.open(small_set["illuminated"])
        c.go_to_pixel(40, 200)
        assert c.model.selected_pixel == (40, 200) and (c.model.cutout.row, c.model.cutout.col) == (40, 200)
        assert Nav.calls == [(40, 200, (40.0, 60.0))]
        c.model.frame = 2
        t = Table.shown[-1]
        assert (t.row, t.col, t.frame, t.kind) == (40, 200, 2, "raw")
        np.testing.assert_array_equal(t.values, file_frame(small_set["illuminated"], 2)[36:45, 196:205])
        with pytest.raises(ValueError, match="columns 0-255"):
            c.go_to_pixel(3, -1)
        # Copy value of a pixel the last render did not read (outside the cutout): computed in a job, and said.
        c.model.cutout = dataclasses.replace(c.model.cutout, half=20)
        copied = []
        c.value_text("raw", 5, 7, copied.append)
        assert copied == [f"row 5, col 7, frame 2: raw {file_frame(small_set['illuminated'], 2)[5, 7]:.0f} DN "
                          "(outside the cutout: not drawn)"]
    finally:
        c.close()


def test_pixel_table_job_reads_one_read_of_the_box():
    class Source:
        calls = []

        def frame_region(self, k, y0, y1, x0, x1, step=1):
            self.calls.append((k, y0, y1, x0, x1))
            return np.arange(10 * 10, dtype=np.uint16).reshape(10, 10)[y0:y1, x0:x1] + 1000 * k

    dq = np.zeros((10, 10), np.uint32)
    dq[1, 0] = 4
    t = pixel_table_job(PixelTableRequest(1, Source(), "raw", 3, 1, 0, (10, 10), dq))
    assert Source.calls == [(3, 0, 6, 0, 5)]  # only the box, clipped at the edge
    assert t.values[4, 4] == 3000 + 10 and t.value_at(5, 4) == 3000 + 54 and t.value_at(6, 4) is None
    assert not t.inside[:3].any() and not t.inside[:, :4].any() and t.inside[3:, 4:].all()
    assert np.isnan(t.values[0, 0]) and t.flagged[4, 4] and t.flagged.sum() == 1


# -- zoom ----------------------------------------------------------------------------------------


def test_one_to_one_zoom_and_readout(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    vb = w.panes.viewbox
    focus(qtbot, w, w.panes)
    qtbot.keyClick(w.panes, Key.Key_1, Ctrl)
    assert vb.viewPixelSize() == pytest.approx((1.0, 1.0), rel=1e-3)
    assert w.zoom_label.text() == "zoom 1:1"
    # The render follows: one data pixel per screen pixel is drawn at full resolution.
    qtbot.waitUntil(lambda: not w.controller.render_inflight and w.last_render.request.step == 1, timeout=WAIT)
    w.zoom_actions["in"].trigger()
    assert vb.viewPixelSize() == pytest.approx((0.5, 0.5), rel=1e-3)
    assert w.zoom_label.text() == "zoom 2.0x"
    w.zoom_actions["out"].trigger()
    w.zoom_actions["out"].trigger()
    w.zoom_actions["out"].trigger()
    assert vb.viewPixelSize() == pytest.approx((4.0, 4.0), rel=1e-3)
    assert w.zoom_label.text() == "zoom 0.25x"
    w.controller.reset_zoom()
    from brightstar_gui.widgets.navigation import zoom_text

    # Whatever fitting the cutout made of it, the readout says the view box's scale.
    assert w.zoom_label.text() == zoom_text(1 / vb.viewPixelSize()[0]) != "zoom 0.25x"


# -- keys ------------------------------------------------------------------------------------------


def test_keys_work_from_a_spin_box_but_not_while_typing(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    spin = w.controls.cut_half
    focus(qtbot, w, spin)
    w.state.frame = 3
    qtbot.keyClick(spin, Key.Key_Right)
    assert w.state.frame == 4
    qtbot.keyClick(spin, Key.Key_Left)
    qtbot.keyClick(spin, Key.Key_Left)
    assert w.state.frame == 2
    qtbot.keyClick(spin, Key.Key_End)
    assert w.state.frame == 7
    qtbot.keyClick(spin, Key.Key_Home)
    assert w.state.frame == 0
    assert w.state.cutout.enabled
    qtbot.keyClick(spin, Key.Key_C)
    assert not w.state.cutout.enabled
    qtbot.keyClick(spin, Key.Key_C)
    assert w.state.cutout.enabled
    # The spin box still takes its own keys: Down steps it.
    half = spin.value()
    qtbot.keyClick(spin, Key.Key_Down)
    assert spin.value() == half - 1
    # Typing in a text field: the keys are text, not shortcuts.
    w.metadata_dock.show()
    w.metadata_dock.raise_()
    field = w.metadata.search
    focus(qtbot, w, field)
    w.state.frame = 3
    qtbot.keyClicks(field, "c c")
    qtbot.keyClick(field, Key.Key_Left)
    qtbot.keyClick(field, Key.Key_Home)
    assert field.text() == "c c"
    assert w.state.frame == 3 and w.state.cutout.enabled and not w.state.playing
    # A click on the panes takes the focus from the text field: the keys are shortcuts again.
    qtbot.mouseClick(w.panes.graphics.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(5, 5))
    qtbot.waitUntil(lambda: not field.hasFocus(), timeout=WAIT)
    qtbot.keyClick(w.panes.graphics.viewport(), Key.Key_Right)
    assert w.state.frame == 4


# -- Help ------------------------------------------------------------------------------------------


def test_help_lists_the_real_shortcuts_and_about_the_versions(qtbot, window):
    w = window
    focus(qtbot, w, w.panes)
    qtbot.keyClick(w.panes, Key.Key_F1)
    dlg = w.shortcuts_dialog
    qtbot.waitUntil(dlg.isVisible, timeout=WAIT)
    rows = dlg.rows()
    for expected in [("Ctrl+G", "Go to pixel", "Navigate"), ("Right", "Next frame", "Navigate"),
                     ("Space", "Play / pause", "Navigate"), ("C", "Toggle cutout / full frame", "View"),
                     ("Ctrl+1", "Zoom 1:1", "View"), ("Ctrl+0", "Reset zoom", "View"),
                     ("Ctrl+O", "Open exposure", "File"), ("F1", "Keyboard shortcuts", "Help")]:
        assert expected in rows
    # Every action with a key is listed with that key: the list is the actions.
    for action in w.findChildren(QtGui.QAction):
        if action.shortcuts():
            keys = ", ".join(s.toString(QtGui.QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
            assert keys in [r[0] for r in rows], action.text()
    # ... so a changed key shows up changed.
    w.go_to_action.setShortcut(QtGui.QKeySequence("Ctrl+J"))
    w.shortcuts_action.trigger()
    assert ("Ctrl+J", "Go to pixel", "Navigate") in w.shortcuts_dialog.rows()
    w.about_action.trigger()
    text = w.about_dialog.label.text()
    for name in ("brightstar-gui", "romancal", "roman_datamodels", "asdf", "numpy", "pyqtgraph", "PyQt6"):
        assert f"{name} {metadata.version(name)}" in text
    assert f"Qt {QtCore.qVersion()}" in text


# -- pane context menu ----------------------------------------------------------------------------


def right_click(qtbot, w, pane: str, row: int, col: int):
    vb = w.panes.plots[pane].getViewBox()
    scene_pos = vb.mapViewToScene(QtCore.QPointF(col + 0.5, row + 0.5))
    pos = w.panes.graphics.mapFromScene(scene_pos)
    under = vb.mapSceneToView(w.panes.graphics.mapToScene(pos))
    old = w.pane_menu.menu
    if old is not None:
        old.close()  # a triggered action leaves the offscreen menu up: wait for this click's own menu
    qtbot.mouseClick(w.panes.graphics.viewport(), QtCore.Qt.MouseButton.RightButton, pos=pos)
    qtbot.waitUntil(lambda: w.pane_menu.menu is not None and w.pane_menu.menu is not old
                    and w.pane_menu.menu.isVisible(), timeout=WAIT)
    return int(np.floor(under.y())), int(np.floor(under.x()))


def test_pane_menu_copies_values_and_moves_the_cutout(qtbot, window, small_set):
    path = small_set["illuminated"]
    w = open_and_wait(qtbot, window, path)
    # 1:1, so the render read every pixel and each pane's own value is copied (a
    # downsampled view copies the data value read in a job, labelled as such).
    w.zoom_actions["one_to_one"].trigger()
    qtbot.waitUntil(lambda: not w.controller.render_inflight and w.last_render.request.step == 1, timeout=WAIT)
    k = w.state.frame
    clipboard = QtWidgets.QApplication.clipboard()
    clipboard.setText("")
    row, col = right_click(qtbot, w, "raw", 130, 110)
    assert abs(row - 130) <= 1 and abs(col - 110) <= 1
    with qtbot.waitSignal(w.pane_menu.value_copied, timeout=WAIT):
        w.pane_menu.action("Copy value").trigger()
    value = file_frame(path, k)[row, col]
    assert clipboard.text() == f"row {row}, col {col}, frame {k}: raw {value:.0f} DN"
    # The difference pane copies the difference, with both frames named.
    row, col = right_click(qtbot, w, "difference", 128, 100)
    with qtbot.waitSignal(w.pane_menu.value_copied, timeout=WAIT):
        w.pane_menu.action("Copy value").trigger()
    diff = np.float32(file_frame(path, k)[row, col]) - np.float32(file_frame(path, 1)[row, col])
    assert clipboard.text() == f"row {row}, col {col}, frame {k}: difference (frame {k} - frame 1) {diff:.0f} DN (raw)"
    # Set as cutout centre, go to, pin.
    row, col = right_click(qtbot, w, "mask", 140, 120)
    w.pane_menu.action("Set as cutout centre").trigger()
    assert (w.state.cutout.row, w.state.cutout.col) == (row, col)
    row, col = right_click(qtbot, w, "ratio", 135, 125)
    w.pane_menu.action("Go to pixel").trigger()
    assert w.state.selected_pixel == (row, col)
    row, col = right_click(qtbot, w, "raw", 100, 100)
    w.pane_menu.action("Pin pixel").trigger()
    # The pinned-pixel work keeps pins in the model; until it is merged, the controller's hook keeps them.
    pins = getattr(w.state, "pinned_pixels", None)
    assert (row, col) in (pins if pins is not None else w.controller.pinned_pixels)
    w.pane_menu.menu.close()


# -- S3 -------------------------------------------------------------------------------------------


def test_pixel_table_over_s3(qtbot, make_window, s3_bucket):
    """On S3 the table's box is fetched in a job (a read no render has fetched): the file's values."""
    w = make_window(endpoint_url=s3_bucket["endpoint_url"])
    try:
        open_and_wait(qtbot, w, s3_bucket["uri"]["none"])
        w.pixel_table.follow.setChecked(False)
        w.controls.cutout_enabled.setChecked(False)
        w.controller.go_to_pixel(17, 1020)
        w.state.frame = 7
        t = shown_table(qtbot, w, row=17, col=1020, frame=7)
        np.testing.assert_array_equal(t.values[:, :-1], file_frame(s3_bucket["local"]["none"], 7)[13:22, 1016:1024])
        assert not t.inside[:, -1].any() and t.inside[:, :-1].all()
    finally:
        w.close()
