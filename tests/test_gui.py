"""The viewer, driven the way a user drives it (pytest-qt, offscreen).

Layers: the worker pool (cancel, stale results, queued channels, tags);
then the real window on the small synthetic set: open, slider and keys,
pixel click against the file, cutout drag, raw/calibrated, cancel a
calibration, export of every kind, metadata search, superbias, errors, and
closing with work in flight.  ``no_qt_leaks`` (conftest) fails any test that
leaves a worker thread or a Qt timer running.  The controller without a
window is tested in ``test_controller.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

import pyqtgraph as pg  # noqa: E402
from PyQt6 import QtCore, QtWidgets  # noqa: E402

from brightstar_gui import workers  # noqa: E402
from brightstar_gui.jobs import opening  # noqa: E402
from brightstar_gui.jobs.render import probe_values  # noqa: E402
from brightstar_gui.models import Cutout  # noqa: E402
from processing.io import open_exposure  # noqa: E402
from processing.progress import Progress  # noqa: E402

pg.setConfigOptions(imageAxisOrder="row-major")

WAIT = 20_000  # ms


# -- fixtures ---------------------------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("no_qt_leaks")


@pytest.fixture
def window(make_window):
    return make_window((1500, 950))


def open_and_wait(qtbot, w, uri):
    # The raw panes paint first; references and any cached calibration follow.
    with qtbot.waitSignals([w.exposure_opened, w.context_loaded], timeout=WAIT, order="strict"):
        w.open_uri(str(uri))
    qtbot.waitUntil(lambda: w.last_render is not None and not w.controller.render_inflight
                    and w.last_render.request.context is not None, timeout=WAIT)
    return w


def wait_render(qtbot, w, **expect):
    def ok():
        r = w.last_render
        if r is None or w.controller.render_inflight:
            return False
        return all(getattr(r.request, k) == v for k, v in expect.items())

    qtbot.waitUntil(ok, timeout=WAIT)
    return w.last_render


@pytest.fixture
def fake_ramp(small_set, tmp_path_factory):
    """A calibrated RampModel of the small illuminated exposure (raw - 10000 DN), with DQ."""
    import roman_datamodels.datamodels as rdm

    path = tmp_path_factory.mktemp("cal") / "illum_ramp.asdf"
    with open_exposure(small_set["illuminated"]) as exp:
        n, h, w = exp.shape
        raw = np.stack([exp.frame(k) for k in range(n)])
    m = rdm.RampModel.create_fake_data(shape=(n, h, w))
    m.data = raw.astype(np.float32) - 10000.0
    dq = np.zeros((h, w), np.uint32)
    dq[10, 20] = 1
    m.pixeldq = dq
    gdq = np.zeros((n, h, w), np.uint8)
    gdq[raw >= 58000] = 2
    m.groupdq = gdq
    m.save(path)
    return path


class FakeResult:
    def __init__(self, path):
        self.path = Path(path)
        self.cal_step = {}
        self.from_cache = False


def _calibrate_to(monkeypatch, ramp) -> None:
    """Make the viewer's calibration yield one progress step and return ``ramp`` (a calibrated file)."""
    def fake_calibration(uri, refs, endpoint_url=None):
        yield Progress(0.5, "dq_init")
        return FakeResult(ramp)

    monkeypatch.setattr(opening, "calibration_job", fake_calibration)


# -- workers ------------------------------------------------------------------------------------


def test_channel_cancels_old_jobs_and_drops_stale_results(qtbot):
    pool = workers.WorkerPool()
    results, cancels = [], []

    def slow(tag):
        def job(token):
            for i in range(200):
                time.sleep(0.01)
                yield Progress(i / 200, tag)
            return tag
        return job

    pool.submit("x", slow("first"), on_done=results.append, on_cancel=lambda: cancels.append("first"))
    time.sleep(0.05)
    pool.submit("x", lambda token: "second", on_done=results.append)
    qtbot.waitUntil(lambda: results == ["second"], timeout=WAIT)
    assert "first" not in results
    errors = []
    pool.errored.connect(lambda ch, err: errors.append(str(err)))
    pool.submit("y", lambda token: 1 / 0)
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT)
    assert "division" in errors[0]
    assert pool.shutdown(5000)
    pool.deleteLater()


# -- the window ------------------------------------------------------------------------------------


def test_open_slider_and_keys(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    assert w.state.n_frames == 8
    assert w.dataset.star is not None
    r0, c0 = w.dataset.star
    assert abs(r0 - small_set["star_center"][0]) <= 2 and abs(c0 - small_set["star_center"][1]) <= 2
    w.slider.slider.setValue(5)
    r = wait_render(qtbot, w, frame=5)
    assert set(r.panes) == {"raw", "difference", "ratio", "mask"}
    with open_exposure(small_set["illuminated"]) as exp:
        y0, y1, x0, x1 = r.request.view
        np.testing.assert_array_equal(r.probe["frame"], exp.frame(5)[y0:y1, x0:x1])
    assert w.slider.label.text().split() == ["frame", "5", "/", "7", "t", "=", "15.20", "s"]
    w.activateWindow()
    w.panes.setFocus()
    qtbot.keyClick(w.panes, QtCore.Qt.Key.Key_Right)
    assert w.state.frame == 6
    qtbot.keyClick(w.panes, QtCore.Qt.Key.Key_Home)
    assert w.state.frame == 0
    qtbot.keyClick(w.panes, QtCore.Qt.Key.Key_End)
    assert w.state.frame == 7
    wait_render(qtbot, w, frame=7)
    # Play advances frames, Space pauses.
    w.slider.fps.setValue(30)
    qtbot.keyClick(w.panes, QtCore.Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: w.state.frame not in (7,), timeout=WAIT)
    qtbot.keyClick(w.panes, QtCore.Qt.Key.Key_Space)
    assert not w.slider.playing


def test_levels_ignore_flagged_pixels(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    w.state.cutout = Cutout(*w.state.cutout.__dict__.values())  # unchanged
    r = wait_render(qtbot, w)
    y0, y1, x0, x1 = r.request.region
    assert r.request.view == r.request.region and r.request.step == 1
    frame = r.probe["frame"].astype(np.float32)
    bad = np.asarray(w.controller.context.bad[y0:y1, x0:x1])
    lo, hi = r.panes["raw"].levels
    # Hot pixels are flagged in the mask reference: the 98th percentile of good
    # pixels must be below the hottest pixel of the frame.
    assert bad.any()
    assert hi < frame.max()
    good = frame[~bad]
    assert np.percentile(good, 2) == pytest.approx(lo, rel=0.02)


def test_pixel_click_plots_the_files_ramp(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    vb = w.panes.plots["difference"].getViewBox()
    scene_pos = vb.mapViewToScene(QtCore.QPointF(140.5, 100.5))
    pos = w.panes.graphics.mapFromScene(scene_pos)
    # The widget position is whole screen pixels: the pixel under it is what gets picked.
    under = vb.mapSceneToView(w.panes.graphics.mapToScene(pos))
    row, col = int(np.floor(under.y())), int(np.floor(under.x()))
    assert abs(row - 100) <= 1 and abs(col - 140) <= 1
    with qtbot.waitSignal(w.ramp_plotted, timeout=WAIT):
        qtbot.mouseClick(w.panes.graphics.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    assert w.state.selected_pixel == (row, col)
    x, y = w.ramp.raw_curve.getData()
    with open_exposure(small_set["illuminated"]) as exp:
        expected = exp.cutout(row, row + 1, col, col + 1)[:, 0, 0].astype(float)
        neighbour = exp.cutout(row + 1, row + 2, col - 1, col)[:, 0, 0].astype(float)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(x, np.arange(8))
    # The neighbour grid is drawn like the image (rows up): cell [2][0] is (row + 1, col - 1),
    # the top row of cells, on the scale all nine share.
    from brightstar_gui.widgets.ramp_grid import PITCH

    lo, hi = w.ramp.grid.scale
    gx, gy = w.ramp.grid.cells[(2, 0)]
    np.testing.assert_allclose(gy, 2 * PITCH + (neighbour - lo) / (hi - lo))
    assert f"row {row}, col {col}" in w.ramp.readout.text()
    # The saturated core: onset marked at frame 0, red points.
    r, c = w.dataset.star
    with qtbot.waitSignal(w.ramp_plotted, timeout=WAIT):
        w.panes.click_pixel(r, c)
    assert w.ramp.onset_line.isVisible() and w.ramp.onset_line.value() == 0
    # Hovering updates the status bar readout.
    w.panes.pixel_hovered.emit(row, col)
    assert f"row {row}" in w.hover_label.text() and "DN" in w.hover_label.text()


def test_drag_cutout_and_full_frame(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    w.controls.cut_half.setValue(40)
    wait_render(qtbot, w)
    old = w.state.cutout
    # What a drag does: the rectangle moves and reports when released.
    x, y = w.panes.roi.pos()
    w.panes.roi.setPos((x + 30, y - 20), finish=True)
    qtbot.waitUntil(lambda: w.state.cutout.col == old.col + 30 and w.state.cutout.row == old.row - 20, timeout=WAIT)
    region = w.state.region()
    r = wait_render(qtbot, w, region=region)
    assert r.request.region == (old.row - 20 - 40, old.row - 20 + 40, old.col + 30 - 40, old.col + 30 + 40)
    assert w.controls.cut_col.value() == old.col + 30  # numbers follow the rectangle
    # Numeric entry moves the rectangle.
    w.controls.cut_row.setValue(60)
    qtbot.waitUntil(lambda: w.state.cutout.row == 60, timeout=WAIT)
    assert w.panes.roi.pos()[1] == 60 - w.state.cutout.half
    w.controls.cutout_enabled.setChecked(False)
    r = wait_render(qtbot, w, region=(0, 256, 0, 256))
    assert r.panes["mask"].rgba is not None


def test_switch_raw_and_calibrated(qtbot, window, small_set, fake_ramp, monkeypatch):
    _calibrate_to(monkeypatch, fake_ramp)
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    assert not w.state.calibrated_available
    with qtbot.waitSignal(w.calibration_finished, timeout=WAIT) as blocker:
        w.controls.calibrate_button.click()
    assert blocker.args == [True]
    assert w.state.data_kind == "calibrated"
    r = wait_render(qtbot, w, kind="calibrated")
    with open_exposure(small_set["illuminated"]) as exp:
        y0, y1, x0, x1 = r.request.view
        raw = exp.frame(r.request.frame)[y0:y1, x0:x1]
    np.testing.assert_allclose(r.probe["frame"], raw.astype(np.float32) - 10000.0)
    assert "calibrated" in w.panes._titles["raw"]
    w.controls.kind.setCurrentText("raw")
    r = wait_render(qtbot, w, kind="raw")
    np.testing.assert_array_equal(r.probe["frame"], raw)
    # The pixel ramp now has both curves.
    with qtbot.waitSignal(w.ramp_plotted, timeout=WAIT):
        w.panes.click_pixel(50, 60)
    assert len(w.ramp.cal_curve.getData()[1]) == 8


def test_cancel_calibration(qtbot, window, small_set, monkeypatch):
    started = []

    def slow_calibration(uri, refs, endpoint_url=None):
        started.append(uri)
        for i in range(1000):
            time.sleep(0.02)
            yield Progress(i / 1000, f"refpix {i}")
        return FakeResult("never")

    monkeypatch.setattr(opening, "calibration_job", slow_calibration)
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    w.start_calibration()
    qtbot.waitUntil(lambda: "calibrate" in w._tasks and w._tasks["calibrate"].bar.value() > 0, timeout=WAIT)
    t0 = time.perf_counter()
    with qtbot.waitSignal(w.calibration_finished, timeout=WAIT) as blocker:
        w._tasks["calibrate"].cancel.click()
    assert blocker.args == [False]
    assert time.perf_counter() - t0 < 2.0
    qtbot.waitUntil(lambda: not w.pool.busy("calibrate"), timeout=WAIT)
    assert not w.state.calibrated_available and "calibrate" not in w._tasks


def test_real_calibration_refusal_is_a_message(qtbot, window, small_set):
    """processing.calibrate needs 4096 columns (refpix); the small set gets a clear message, no crash."""
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    with qtbot.waitSignal(w.error_shown, timeout=120_000) as blocker:
        w.start_calibration()
    assert "4096" in blocker.args[0]
    assert not w.state.calibrated_available and w.state.data_kind == "raw"


def test_export_every_kind(qtbot, window, small_set, tmp_path):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    qtbot.waitUntil(lambda: w.controller.mean_slope("raw", w.state.region()) is not None, timeout=WAIT)
    with qtbot.waitSignal(w.ramp_plotted, timeout=WAIT):
        w.panes.click_pixel(120, 100)
    dlg = w.show_export_dialog()
    jobs = [("pane", "png"), ("group", "svg"), ("differences", "pdf"), ("rows", "png"), ("pane", "pdf")]
    for kind, fmt in jobs:
        path = tmp_path / f"{kind}.{fmt}"
        with qtbot.waitSignal(w.export_finished, timeout=60_000):
            w.export(kind, str(path), pane="ratio", frames=[2, 4, 7])
        data = path.read_bytes()
        assert len(data) > 1000
        if fmt == "png":
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
        elif fmt == "svg":
            assert b"<svg" in data[:2000]
        else:
            assert data[:5] == b"%PDF-"
        assert Path(str(path) + ".json").exists()  # the settings that made it
    # Through the dialog: the ramp CSV.
    dlg.kind.setCurrentIndex(dlg.kind.findData("ramp-csv"))
    dlg.path.setText(str(tmp_path / "ramp.csv"))
    with qtbot.waitSignal(w.export_finished, timeout=WAIT):
        dlg.export_button.click()
    lines = (tmp_path / "ramp.csv").read_text().splitlines()
    header = [ln for ln in lines if not ln.startswith("#")]
    assert header[0].startswith("row,col,role,read,time_s,raw_dn")
    rows = [ln.split(",") for ln in header[1:]]
    with open_exposure(small_set["illuminated"]) as exp:
        expected = exp.cutout(120, 121, 100, 101)[:, 0, 0]
        n = exp.shape[0]
    selected = [r for r in rows if r[2] == "selected"]
    assert [(int(r[0]), int(r[1])) for r in selected] == [(120, 100)] * n
    assert [int(r[5]) for r in selected] == expected.tolist()
    assert len(rows) == 9 * n  # the pixel and its 8 neighbours
    # The cutout cube: a Roman file that open_exposure reads, with the region recorded.
    import asdf

    path = tmp_path / "cube.asdf"
    with qtbot.waitSignal(w.export_finished, timeout=WAIT):
        w.export("cutout-asdf", str(path))
    y0, y1, x0, x1 = w.state.region()
    with open_exposure(path) as cut, open_exposure(small_set["illuminated"]) as exp:
        np.testing.assert_array_equal(cut.data.read(), exp.cutout(y0, y1, x0, x1))
        np.testing.assert_array_equal(cut.arrays["pixeldq"].read(), np.asarray(w.controller.context.pixeldq)[y0:y1, x0:x1])
    with asdf.open(path) as af:
        region = af["brightstar_cutout"]["region"]
        assert (region["y0"], region["y1"], region["x0"], region["x1"]) == (y0, y1, x0, x1)
    # Exporting again to the same file is refused (the dialog asks before replacing).
    w.export("cutout-asdf", str(path))
    qtbot.waitUntil(lambda: "exists" in dlg.status.text(), timeout=WAIT)


def test_metadata_search(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    w.metadata.search.setText("frame_time")

    def filtered():
        keys = [k for k in w.metadata.visible_keys() if k]
        return any(k.endswith("exposure.frame_time") for k in keys) and not any(k.endswith("instrument.detector") for k in keys)

    qtbot.waitUntil(filtered, timeout=WAIT)


def test_folder_browser_lists_exposures(qtbot, window, small_set):
    w = window
    w.scan_folder(str(small_set["root"]))
    qtbot.waitUntil(lambda: w.browser.table.topLevelItemCount() >= 4, timeout=WAIT)
    kinds = [w.browser.table.topLevelItem(i).text(0) for i in range(w.browser.table.topLevelItemCount())]
    assert kinds == ["illuminated", "dark", "dark", "dark"]  # from the metadata, illuminated first


def test_superbias_subtracted_from_raw(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    dlg = w.show_superbias_dialog()
    assert dlg.darks.count() == 3  # found through the data set's manifest
    with qtbot.waitSignal(dlg.superbias_ready, timeout=60_000):
        dlg.compute_button.click()
    assert w.state.superbias_available
    dlg.subtract.setChecked(True)
    r = wait_render(qtbot, w, subtract_superbias=True)
    row, col = w.state.region()[0] + 5, w.state.region()[2] + 5
    v = probe_values(r, row, col)
    expected = float(r.probe["frame"][5, 5]) - float(w.controller.superbias[row, col])
    assert v["value"] == pytest.approx(expected)
    assert abs(np.nanmedian(w.controller.superbias) - 11000) < 1500  # the bias level


def test_bad_file_is_a_message_not_a_crash(qtbot, window, tmp_path):
    bad = tmp_path / "not.asdf"
    bad.write_text("hello")
    with qtbot.waitSignal(window.error_shown, timeout=WAIT) as blocker:
        window.open_uri(str(bad))
    assert "not.asdf" in blocker.args[0]
    assert window.dataset is None


def test_closing_cancels_and_joins_workers(qtbot, small_set, monkeypatch):
    from brightstar_gui.widgets.main_window import MainWindow

    def endless(uri, refs, endpoint_url=None):
        while True:
            time.sleep(0.01)
            yield Progress(0.1, "working")

    monkeypatch.setattr(opening, "calibration_job", endless)
    w = MainWindow()
    qtbot.addWidget(w)  # deleted at teardown, not whenever Python collects it
    w.show()
    open_and_wait(qtbot, w, small_set["illuminated"])
    w.start_calibration()
    qtbot.waitUntil(lambda: w.pool.busy("calibrate"), timeout=WAIT)
    t0 = time.perf_counter()
    w.close()
    assert time.perf_counter() - t0 < 5
    assert not [t for t in workers.live_threads() if t.isRunning()]


def test_hover_readout_follows_the_frame(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    cy, cx = small_set["star_center"]
    w.panes.pixel_hovered.emit(cy, cx + 20)
    assert f"frame {w.state.frame}" in w.hover_label.text()
    target = (w.state.frame + 3) % w.state.n_frames
    w.state.frame = target
    wait_render(qtbot, w, frame=target)
    assert f"frame {target}" in w.hover_label.text()
    with open_exposure(small_set["illuminated"]) as exp:
        assert f"value {float(exp.frame(target)[cy, cx + 20]):.1f} DN (raw)" in w.hover_label.text()


def test_hover_readout_says_raw_calibrated_or_superbias(qtbot, window, small_set, fake_ramp, monkeypatch):
    """The status bar's value says which values it is: the same DN number means different things."""
    _calibrate_to(monkeypatch, fake_ramp)
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    cy, cx = small_set["star_center"]
    row, col = cy, cx + 20
    w.panes.pixel_hovered.emit(row, col)
    assert "DN (raw)" in w.hover_label.text() and "calibrated" not in w.hover_label.text()
    with qtbot.waitSignal(w.calibration_finished, timeout=WAIT):
        w.controls.calibrate_button.click()
    r = wait_render(qtbot, w, kind="calibrated")
    w.panes.pixel_hovered.emit(row, col)
    v = probe_values(r, row, col)
    assert f"value {v['value']:.1f} DN (calibrated)" in w.hover_label.text()
    w.controls.kind.setCurrentText("raw")
    wait_render(qtbot, w, kind="raw")
    w.panes.pixel_hovered.emit(row, col)
    assert "DN (raw)" in w.hover_label.text()


def test_demo_opens_first_look_then_writes_darks(qtbot, window):
    from processing import paths, synth

    folder = paths.demo_dir() / "n3-s128"
    with qtbot.waitSignals([window.exposure_opened, window.context_loaded], timeout=120_000, order="strict"):
        window.start_demo(frames=3, size=128)
    assert window.dataset.uri.endswith(synth.exposure_filename(synth.ILLUM_STAMP))
    assert window.controller.context.sat_dn is not None  # references came with the first look
    qtbot.waitUntil(lambda: (synth.read_manifest(folder) or {}).get("complete") is True, timeout=120_000)
    qtbot.waitUntil(lambda: "darks" not in window._tasks, timeout=20_000)  # the darks job has ended
    manifest = synth.read_manifest(folder)
    assert all((folder / d).exists() for d in manifest["darks"])
    assert len(window.dark_candidates()) == 3
