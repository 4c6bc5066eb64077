"""The Compare dock: blink two reads or two exposures at a rate, side by side, the difference of two exposures.

Driven from the dock's own controls on the small synthetic set; the images'
values are checked against numpy on the files read independently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

import pyqtgraph as pg  # noqa: E402

from processing.io import open_exposure  # noqa: E402

pg.setConfigOptions(imageAxisOrder="row-major")
pytestmark = pytest.mark.usefixtures("no_qt_leaks")
WAIT = 20_000


def open_and_wait(qtbot, w, uri):
    with qtbot.waitSignals([w.exposure_opened, w.context_loaded], timeout=WAIT, order="strict"):
        w.open_uri(str(uri))
    qtbot.waitUntil(lambda: w.last_render is not None and not w.controller.render_inflight, timeout=WAIT)


def wait_compare(qtbot, w, **expect):
    def ok():
        r = w.compare_widget.result
        return r is not None and all(getattr(r.request, k) == v for k, v in expect.items())

    qtbot.waitUntil(ok, timeout=WAIT)
    return w.compare_widget.result


def frame(uri, k):
    with open_exposure(uri) as exp:
        return np.array(exp.frame(k))


def test_blink_two_reads_at_the_chosen_rate(qtbot, window, small_set):
    w = window
    open_and_wait(qtbot, w, small_set["illuminated"])
    cw = w.compare_widget
    assert not cw.timer.isActive() and w.compare_widget.result is None  # nothing computed while hidden
    w.compare_action.trigger()
    qtbot.waitUntil(lambda: w.compare_dock.isVisible(), timeout=WAIT)
    cw.read.setValue(1)
    w.model.frame = 6
    r = wait_compare(qtbot, w, frame_a=6, frame_b=1)
    y0, y1, x0, x1 = w.model.region()
    np.testing.assert_array_equal(r.values["A"], frame(small_set["illuminated"], 6)[y0:y1, x0:x1])
    np.testing.assert_array_equal(r.values["B"], frame(small_set["illuminated"], 1)[y0:y1, x0:x1])
    cw.rate.setValue(10.0)
    assert cw.timer.isActive() and cw.timer.interval() == 100
    cw.blink_log.clear()
    qtbot.wait(1500)
    log = list(cw.blink_log)
    phases = [p for _, p in log]
    assert all(a != b for a, b in zip(phases, phases[1:]))  # A, B, A, B ...
    gaps = np.diff([t for t, _ in log])
    # 10 swaps a second: 15 in 1.5 s on a quiet machine; a loaded one may drop a few ticks, never add any.
    assert 8 <= len(log) <= 16 and np.median(gaps) == pytest.approx(0.1, abs=0.03)
    # The left pane really shows the read it says, the right one the difference.
    with qtbot.waitSignal(cw.blinked, timeout=WAIT) as sig:
        pass
    shown = cw.result
    assert cw.uploaded["left"] is shown.rgba[sig.args[0]] and cw.shown("left") == sig.args[0]
    np.testing.assert_array_equal(cw.images["left"].image, shown.rgba[sig.args[0]])
    np.testing.assert_array_equal(cw.images["right"].image, shown.rgba["A - B"])
    np.testing.assert_array_equal(shown.values["A - B"], r.values["A"].astype(float) - r.values["B"])
    # Slower: the interval follows the rate; hiding the dock stops the timer.
    cw.rate.setValue(2.0)
    assert cw.timer.interval() == 500
    w.compare_dock.hide()
    qtbot.waitUntil(lambda: not cw.timer.isActive(), timeout=WAIT)


def test_exposure_difference_pane_equals_numpy(qtbot, window, small_set):
    w = window
    open_and_wait(qtbot, w, small_set["illuminated"])
    w.compare_action.trigger()
    cw = w.compare_widget
    dark = str(small_set["darks"][0])
    assert cw.other.findText(dark) >= 0  # the data set's darks are offered
    cw.other.setCurrentText(dark)
    cw.mode.setCurrentIndex(2)  # "another exposure"
    w.model.frame = 5
    r = wait_compare(qtbot, w, frame_a=5, frame_b=5)
    qtbot.waitUntil(lambda: w.controller.compare_exposure is not None, timeout=WAIT)
    y0, y1, x0, x1 = w.model.region()
    a = frame(small_set["illuminated"], 5)[y0:y1, x0:x1].astype(np.float64)
    b = frame(dark, 5)[y0:y1, x0:x1].astype(np.float64)
    np.testing.assert_array_equal(r.values["A - B"], a - b)  # no uint16 wrap-around
    assert (r.values["A - B"] < 0).any()
    assert Path(dark).name.removesuffix("_uncal.asdf")[-22:] in r.request.label_b
    # Side by side with the same geometry: the compare panes follow the main panes' zoom.
    w.panes.viewbox.setRange(xRange=(100, 140), yRange=(90, 130), padding=0)
    qtbot.wait(50)
    (mx0, mx1), (my0, my1) = w.panes.viewbox.viewRange()
    for side in ("left", "right"):
        (vx0, vx1), (vy0, vy1) = cw.plots[side].getViewBox().viewRange()
        # The same area, centred, widened on one axis where the pane's aspect differs.
        assert vx0 <= mx0 + 0.5 and vx1 >= mx1 - 0.5 and vy0 <= my0 + 0.5 and vy1 >= my1 - 0.5
        assert abs((vx0 + vx1) - (mx0 + mx1)) < 1 and abs((vy0 + vy1) - (my0 + my1)) < 1
    # The frame moves A and B together.
    w.model.frame = 2
    r2 = wait_compare(qtbot, w, frame_a=2, frame_b=2)
    np.testing.assert_array_equal(r2.values["B"], frame(dark, 2)[y0:y1, x0:x1])
    # A mismatched exposure is refused by name; B stays the dark.
    from processing import synth
    from processing.progress import run

    other_root = small_set["root"].parent / "compare_other"
    manifest = run(synth.write_dataset_job(other_root, synth.SynthConfig(frames=5, size=64, seed=3)))
    other = other_root / manifest["illuminated"]
    with qtbot.waitSignal(w.error_shown, timeout=WAIT) as sig:
        w.controller.set_compare("exposure", uri=str(other))
    assert other.name in sig.args[0] and "frame sizes differ" in sig.args[0]
    assert w.controller.compare_uri == dark


@pytest.fixture
def fake_ramp(small_set, tmp_path_factory):
    """A calibrated RampModel of the small illuminated exposure: raw - 10000 DN (as test_gui's)."""
    import roman_datamodels.datamodels as rdm

    path = tmp_path_factory.mktemp("cal") / "illum_ramp.asdf"
    with open_exposure(small_set["illuminated"]) as exp:
        n, h, w = exp.shape
        raw = np.stack([exp.frame(k) for k in range(n)])
    m = rdm.RampModel.create_fake_data(shape=(n, h, w))
    m.data = raw.astype(np.float32) - 10000.0
    m.pixeldq = np.zeros((h, w), np.uint32)
    m.groupdq = np.zeros((n, h, w), np.uint8)
    m.save(path)
    return path


def test_blink_raw_and_calibrated(qtbot, window, small_set, fake_ramp, monkeypatch):
    from brightstar_gui.jobs import opening
    from processing.progress import Progress

    class Result:
        path, cal_step, from_cache = fake_ramp, {}, False

    def fake_calibration(uri, refs, endpoint_url=None):
        yield Progress(0.5, "dq_init")
        return Result()

    monkeypatch.setattr(opening, "calibration_job", fake_calibration)
    w = window
    open_and_wait(qtbot, w, small_set["illuminated"])
    w.compare_action.trigger()
    cw = w.compare_widget
    cw.mode.setCurrentIndex(1)  # "its calibrated ramp": none yet
    qtbot.waitUntil(lambda: "Calibrate exposure" in cw.plots["left"].titleLabel.text, timeout=WAIT)
    with qtbot.waitSignal(w.calibration_finished, timeout=WAIT):
        w.controller.start_calibration()
    w.model.frame = 4
    r = wait_compare(qtbot, w, frame_a=4, frame_b=4)
    assert "raw" in r.request.label_a and "calibrated" in r.request.label_b
    y0, y1, x0, x1 = w.model.region()
    raw = frame(small_set["illuminated"], 4)[y0:y1, x0:x1]
    np.testing.assert_array_equal(r.values["A"], raw)
    np.testing.assert_allclose(r.values["A - B"], 10000.0)  # raw - (raw - 10000)
    cw.rate.setValue(5.0)
    with qtbot.waitSignals([cw.blinked, cw.blinked], timeout=WAIT):
        pass
    assert cw.timer.interval() == 200
