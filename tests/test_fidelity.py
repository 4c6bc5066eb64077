"""What the viewer says is what it is: copied values of downsampled panes, pins in seconds, messages that fit.

Values are checked against the files read independently (roman_datamodels,
the library's saturation test and mean-slope rule on those arrays); what
fits is checked on the text items' own widths against their pane's.
"""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PyQt6 import QtWidgets  # noqa: E402

from processing import figures  # noqa: E402

from s3_server import s3_bucket, s3_server  # noqa: E402,F401  (fixtures)
from test_gui import fake_ramp  # noqa: E402,F401  (fixture)

WAIT = 30_000  # ms

pytestmark = pytest.mark.usefixtures("no_qt_leaks")


@pytest.fixture
def window(qtbot):
    from brightstar_gui.widgets.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def open_and_wait(qtbot, w, uri):
    with qtbot.waitSignals([w.exposure_opened, w.context_loaded], timeout=WAIT, order="strict"):
        w.open_uri(str(uri))
    settle(qtbot, w)
    return w


def settle(qtbot, w, **expect):
    def ok():
        last = w.last_render
        return (last is not None and not w.controller.render_inflight and last.request.context is not None
                and all(getattr(last.request, k) == v for k, v in expect.items()))

    qtbot.waitUntil(ok, timeout=WAIT)


def file_cube(path) -> np.ndarray:
    import roman_datamodels.datamodels as rdm

    with rdm.open(path) as m:
        return np.array(m.data, dtype=np.float64)


def copied(qtbot, w, pane, row, col) -> str:
    w.pane_menu.menu_for(pane, row, col)
    with qtbot.waitSignal(w.pane_menu.value_copied, timeout=WAIT) as blocker:
        w.pane_menu.action("Copy value").trigger()
    w.pane_menu.menu.close()
    assert QtWidgets.QApplication.clipboard().text() == blocker.args[0]
    return blocker.args[0]


def number(text: str, after: str) -> float:
    return float(re.search(re.escape(after) + r" (-?[0-9.]+|NaN)", text).group(1))


def test_copy_value_of_a_downsampled_pane_is_that_panes_quantity_at_full_resolution(qtbot, window, small_set):
    """Full frame zoomed out: the panes show every n-th pixel; Copy value gives the pixel's own raw,
    difference, ratio and mask category, each as computed from the file, and says so."""
    from processing.diagnostics import SaturationTest, mean_slope

    path = small_set["illuminated"]
    w = open_and_wait(qtbot, window, path)
    if w.state.cutout.enabled:
        w.controller.toggle_cutout()
    for _ in range(3):
        w.zoom_actions["out"].trigger()
    qtbot.waitUntil(lambda: w.last_render is not None and w.last_render.request.step > 1
                    and w.last_render.request.region == (0, 256, 0, 256), timeout=WAIT)
    w.controller.ensure_summary(full=True)
    qtbot.waitUntil(lambda: w.controller.summary_for("raw", (0, 256, 0, 256)) is not None, timeout=WAIT)
    w.state.frame = 6
    settle(qtbot, w, frame=6)
    req = w.last_render.request
    step, (vy0, _, vx0, _) = req.step, req.view
    k, b = 6, req.baseline
    cube = file_cube(path)
    sat_dn = figures.align_to_frame(figures.load_reference_array(small_set["references"]["saturation"], "data"),
                                    (256, 256))
    codes = figures.mask_codes(SaturationTest(sat_dn, (256, 256))(cube[k].astype(np.uint16)))
    slope = mean_slope(cube.astype(np.uint16), cube.astype(np.uint16), sat_dn)

    def off_grid(rows, cols):
        """The first pixel of the candidates the downsampled render did not read."""
        for r, c in zip(rows, cols):
            if (r - vy0) % step and (c - vx0) % step:
                return int(r), int(c)
        raise AssertionError("no off-grid pixel")

    sy, sx = small_set["star_center"]
    bg = off_grid([sy + 61, sy + 62, 41], [sx - 53, sx - 50, 43])
    sat_px = off_grid(*np.nonzero(codes == 3))
    near_px = off_grid(*np.nonzero(codes == 2))
    for pixel in (bg, sat_px, near_px):
        assert w.controller.last_render.probe["step"] > 1
        from brightstar_gui.jobs.render import probe_values

        assert probe_values(w.last_render, *pixel) is None  # the render did not read it: a job must
    where = lambda p: f"row {p[0]}, col {p[1]}, frame {k}: "  # noqa: E731
    full = f"(this pixel at full resolution; the pane shows every {step}th pixel)"

    text = copied(qtbot, w, "raw", *bg)
    assert text == f"{where(bg)}raw {cube[k][bg]:.0f} DN {full}"
    text = copied(qtbot, w, "difference", *bg)
    diff = np.float32(cube[k][bg]) - np.float32(cube[b][bg])
    assert text == f"{where(bg)}difference (frame {k} - frame {b}) {diff:.0f} DN (raw) {full}"
    text = copied(qtbot, w, "ratio", *bg)
    expected = (np.float32(cube[k][bg]) - np.float32(cube[k - 1][bg])) / slope[bg]
    assert text.startswith(f"{where(bg)}frame slope / mean slope ") and text.endswith(full)
    assert number(text, "frame slope / mean slope") == pytest.approx(float(expected), abs=1e-4)
    assert number(text, "over a mean slope of") == pytest.approx(float(slope[bg]), abs=1e-3)
    for pixel, code, name in ((sat_px, 3, "saturated"), (near_px, 2, "4-neighbour"), (bg, 0, "none")):
        text = copied(qtbot, w, "mask", *pixel)
        assert text == f"{where(pixel)}saturation mask {code} ({name}) {full}"
        assert codes[pixel] == code
    # Frame 0 has no previous frame: the ratio says there is no value, and why.
    w.state.frame = 0
    settle(qtbot, w, frame=0)
    assert copied(qtbot, w, "ratio", *bg) == f"row {bg[0]}, col {bg[1]}, frame 0: slope ratio: no value " \
                                             "(frame 0 has no previous frame)"


def drawn_labels(axis) -> list[str]:
    """The tick labels pyqtgraph would paint on ``axis`` now (it drops those that do not fit)."""
    from PyQt6 import QtGui

    image = QtGui.QImage(200, 800, QtGui.QImage.Format.Format_ARGB32)
    painter = QtGui.QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [] if specs is None else [text for _, _, text in specs[2]]


def test_colour_bars_keep_their_layout_through_the_empty_state(qtbot, window, small_set):
    """The empty state blanks the bars but keeps their axes' width, so the mask's category labels
    are drawn as soon as an exposure opens (a bar hidden through the first layout kept a
    zero-width axis under xcb until the window was resized)."""
    from brightstar_gui.widgets import colour_bar

    w = window
    assert w.panes.is_empty_state()
    for kind in w.panes.plots:
        assert not w.panes.colour_bar_shown(kind)
        assert w.panes.colorbars[kind].getAxis("right").size().width() == colour_bar.WIDTH - 22
        assert drawn_labels(w.panes.colorbars[kind].getAxis("right")) == []  # no fake 0..1 ticks
    open_and_wait(qtbot, w, small_set["illuminated"])
    bar = w.panes.colorbars["mask"]
    assert w.panes.colour_bar_shown("mask")
    assert bar.getAxis("right").size().width() == colour_bar.WIDTH - 22
    assert drawn_labels(bar.getAxis("right")) == ["none", "diagonal", "4-neighbour", "saturated"]
    assert drawn_labels(w.panes.colorbars["raw"].getAxis("right"))[-2:] == ["DQ flag", "NaN"]


def file_read_times(path) -> np.ndarray:
    """Seconds since the first read from the file's own metadata (read pattern x frame time)."""
    import roman_datamodels.datamodels as rdm

    with rdm.open(path) as m:
        pattern = [list(p) for p in m.meta.exposure.read_pattern]
        ft = float(m.meta.exposure.frame_time)
    means = np.array([np.mean(p) for p in pattern])
    return (means - means[0]) * ft


def test_pinned_ramps_follow_the_x_axis_in_seconds_and_export_with_times(qtbot, window, small_set, tmp_path):
    path = small_set["illuminated"]
    w = open_and_wait(qtbot, window, path)
    c = w.controller
    cube, times = file_cube(path), file_read_times(path)
    assert times[-1] > len(times)  # seconds and reads differ, so the test can tell them apart
    sy, sx = small_set["star_center"]
    pins = [(sy + 20, sx), (40, 50)]
    for p in pins:
        c.pin_pixel(*p)
    overlay = w.pins.overlay
    qtbot.waitUntil(lambda: c.last_pins is not None and c.last_pins.pixels == tuple(pins)
                    and len(overlay.curves) == 2, timeout=WAIT)
    w.panes.click_pixel(sy + 30, sx + 30)
    qtbot.waitUntil(lambda: w.ramp.data is not None and w.ramp.data["row"] == sy + 30, timeout=WAIT)
    for curve, (r, col) in zip(overlay.curves, pins):
        x, y = curve.getData()
        np.testing.assert_array_equal(x, np.arange(len(times)))
        np.testing.assert_array_equal(y, cube[:, r, col])
    # The user picks "x: seconds" in the panel: the pins move with the selected pixel's ramp.
    w.ramp.x_choice.setCurrentIndex(1)
    assert w.ramp.x_unit == "s"
    for curve, label, (r, col) in zip(overlay.curves, overlay.labels, pins):
        x, y = curve.getData()
        np.testing.assert_allclose(x, times, rtol=1e-12)
        np.testing.assert_array_equal(y, cube[:, r, col])
        assert label.pos().x() == pytest.approx(times[-1])
    np.testing.assert_allclose(w.ramp.raw_curve.getData()[0], times, rtol=1e-12)
    (x0, x1), _ = w.ramp.plot.getViewBox().viewRange()
    assert x0 < 1 and times[-1] <= x1 < times[-1] * 1.1  # the view spans the seconds, not reads
    # Pins made while in seconds are drawn in seconds too; back to reads, all go back.
    c.pin_pixel(100, 100)
    qtbot.waitUntil(lambda: len(overlay.curves) == 3, timeout=WAIT)
    np.testing.assert_allclose(overlay.curves[2].getData()[0], times, rtol=1e-12)
    w.ramp.x_choice.setCurrentIndex(0)
    assert all(np.array_equal(cv.getData()[0], np.arange(len(times))) for cv in overlay.curves)
    # The export of the pins gives each read's time next to its number, from the file's metadata.
    out = tmp_path / "pins.csv"
    done = []
    w.ramp.x_choice.setCurrentIndex(1)
    c.export("pins-csv", str(out), on_done=done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)
    with open(out, newline="") as f:
        rows = [r for r in csv.reader(line for line in f if not line.startswith("#"))]
    header, body = rows[0], rows[1:]
    col_of = {name: i for i, name in enumerate(header)}
    for i, (r, col) in enumerate(pins + [(100, 100)]):
        mine = [b for b in body if b[col_of["role"]] == f"pin {i + 1}"]
        assert [int(b[col_of["row"]]) for b in mine] == [r] * len(times)
        np.testing.assert_allclose([float(b[col_of["time_s"]]) for b in mine], times, atol=1e-6)
        np.testing.assert_array_equal([float(b[col_of["raw_dn"]]) for b in mine], cube[:, r, col])



#: What the panes say while they have no image (the render job's, the controller's, the demo's).
PANE_MESSAGES = (
    "computing the mean slope... 100%", "loading reference files...", "frame 0 has no previous frame",
    "no saturation reference: no mean slope", "computing the onset map...",
)


def assert_all_fit(w, where):
    for kind in w.panes.plots:
        assert w.panes.title_fits(kind), (where, kind, w.panes._titles[kind])
        assert w.panes.message_fits(kind), (where, kind, w.panes.messages[kind].toPlainText())


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1200)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_pane_title_and_message_fits_in_every_mode(qtbot, window, small_set, fake_ramp, monkeypatch, size):
    """Titles and messages lie wholly inside their panes: raw, calibrated, superbias-subtracted,
    cutout and full frame, the onset map in a pane, and every message a pane shows."""
    from brightstar_gui.jobs import opening

    from test_gui import FakeResult

    def fake_calibration(uri, refs, endpoint_url=None):
        return FakeResult(fake_ramp)
        yield  # a generator, as the real job

    monkeypatch.setattr(opening, "calibration_job", fake_calibration)
    w = window
    w.resize(*size)
    qtbot.wait(50)
    # The empty window while the demo set is written: its hint, with a long cache path.
    from processing.synth import ILLUM_STAMP

    from brightstar_gui import demo as demo_mod

    progress = demo_mod.TaskProgress(demo_mod.FIRST_LOOK, stream=None)
    progress.update(0.09, f"TVAC2_TOHOTQUAL_WFISAT_{ILLUM_STAMP}_WFI11_uncal.asdf: read 5/55")
    w.panes.show_empty(progress.empty_text("/home/scientist/.cache/brightstar-gui/demo/n55-s4096"))
    qtbot.wait(10)
    assert_all_fit(w, "empty, writing the demo")
    w = open_and_wait(qtbot, w, small_set["illuminated"])
    assert w.width() <= size[0]
    c = w.controller

    def check_messages(where):
        for text in PANE_MESSAGES:
            for kind in w.panes.plots:
                w.panes.set_message(kind, text)
            qtbot.wait(10)
            assert_all_fit(w, f"{where}: {text!r}")
        for kind in w.panes.plots:
            w.panes.set_message(kind, "")

    # The real states first: frame 0's ratio message, as the render gives it.
    w.state.frame = 0
    settle(qtbot, w, frame=0)
    assert w.panes.messages["ratio"].toPlainText() == "frame 0 has no previous frame"
    assert_all_fit(w, "raw, frame 0")
    w.state.frame = 5
    settle(qtbot, w, frame=5)
    check_messages("raw cutout")
    c.toggle_cutout()
    settle(qtbot, w, region=(0, 256, 0, 256))
    assert_all_fit(w, "raw full frame")
    check_messages("raw full frame")
    c.toggle_cutout()
    with qtbot.waitSignal(w.calibration_finished, timeout=WAIT):
        w.controls.calibrate_button.click()
    settle(qtbot, w, kind="calibrated")
    assert_all_fit(w, "calibrated")
    w.controls.kind.setCurrentText("raw")
    c.set_superbias(np.full(w.dataset.shape[1:], 100.0, np.float32))
    w.state.subtract_superbias = True
    settle(qtbot, w, subtract_superbias=True, kind="raw")
    assert "superbias-subtracted" in w.panes._titles["raw"]
    assert_all_fit(w, "superbias-subtracted")
    # The onset map chosen for a pane: its title and its "computing" message fit too.
    c.diagnostics.onset_pane = "ratio"
    qtbot.waitUntil(lambda: w.panes._titles["ratio"].startswith("Onset map"), timeout=WAIT)
    assert_all_fit(w, "onset pane")
    qtbot.waitUntil(lambda: getattr(c, "last_onset_image", None) is not None, timeout=WAIT)
    assert_all_fit(w, "onset pane drawn")
    c.diagnostics.onset_pane = ""


def test_growth_plot_has_no_fake_axes_until_it_has_counts(qtbot, window, small_set):
    """Before the counts (no exposure, or computing) the growth plot shows no 0..1 axis values."""
    w = window
    axes = [w.growth.plot.getPlotItem().getAxis(n) for n in ("left", "bottom")]
    assert not any(a.style["showValues"] for a in axes)
    w.growth.set_message("computing the saturation growth of the cutout...")
    assert not any(a.style["showValues"] for a in axes)
    open_and_wait(qtbot, w, small_set["illuminated"])
    qtbot.waitUntil(lambda: w.growth.growth is not None, timeout=WAIT)
    assert all(a.style["showValues"] for a in axes)
    x, y = w.growth.curves["saturated"].getData()
    assert len(x) == 8 and np.nanmax(y) > 0
    assert not axes[0].autoSIPrefix  # whole pixel counts, no "(x0.001)"
    # A dark saturates nothing: its counts are drawn on 0..1, not around zero.
    open_and_wait(qtbot, w, small_set["darks"][-1])
    qtbot.waitUntil(lambda: w.growth.growth is not None and w.growth.growth.saturated.max() == 0, timeout=WAIT)
    y0, y1 = w.growth.plot.getPlotItem().getViewBox().viewRange()[1]
    assert -0.1 <= y0 <= 0 and 1 <= y1 <= 1.1


def test_superbias_dialog_names_the_darks_apart_and_has_no_fake_axes(qtbot, small_set):
    """The dark list elides the folder, not the timestamp that tells darks apart; before a bias is
    computed the plot has no axis values and no colour bar; after, it has both."""
    from PyQt6 import QtCore

    from brightstar_gui.widgets.superbias_dialog import SuperbiasDialog
    from brightstar_gui.workers import WorkerPool

    pool = WorkerPool()
    darks = [str(p) for p in small_set["darks"]]
    d = SuperbiasDialog(pool, darks)
    qtbot.addWidget(d)
    d.resize(500, 600)
    d.show()
    qtbot.waitExposed(d)
    try:
        assert d.paths() == darks
        assert d.darks.textElideMode() == QtCore.Qt.TextElideMode.ElideMiddle
        assert [d.darks.item(i).toolTip() for i in range(d.darks.count())] == darks
        assert not d.axes_shown()
        assert d.plot.getPlotItem().getAxis("left").labelText == "y [pix]"
        bias = np.full((256, 256), 1000.0, np.float32)
        bias[:, 128:] = 1010.0
        d._done(bias)
        assert d.axes_shown()
        assert d.plot.getPlotItem().getAxis("left").autoSIPrefix is False
        assert d.status.text() == f"superbias: median {np.nanmedian(bias):.1f} DN"
    finally:
        d.close()
        pool.shutdown()


def test_superbias_is_subtracted_from_raw_only(qtbot, window, small_set, fake_ramp, monkeypatch):
    """Ticked with a calibrated ramp shown, the superbias is not subtracted from calibrated DN (it was,
    titled "calibrated DN, superbias-subtracted"); back on raw it is, and the panes, the pixel
    table and the exported figure's data agree."""
    from brightstar_gui.jobs import opening
    from brightstar_gui.jobs.render import probe_values

    from test_gui import FakeResult

    def fake_calibration(uri, refs, endpoint_url=None):
        return FakeResult(fake_ramp)
        yield  # a generator, as the real job

    monkeypatch.setattr(opening, "calibration_job", fake_calibration)
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    c = w.controller
    with qtbot.waitSignal(w.calibration_finished, timeout=WAIT):
        w.controls.calibrate_button.click()
    settle(qtbot, w, kind="calibrated")
    c.set_superbias(np.full(w.dataset.shape[1:], 100.0, np.float32))
    w.state.subtract_superbias = True
    qtbot.wait(200)
    settle(qtbot, w, kind="calibrated")
    req = w.last_render.request
    assert not req.subtract_superbias and w.panes._titles["raw"] == "Frame\ncalibrated DN"
    assert c.figure_data().superbias is None
    k = w.state.frame
    row, col = req.view[0] + 3, req.view[2] + 4
    calibrated = file_cube(fake_ramp)[k, row, col]
    assert probe_values(w.last_render, row, col)["value"] == pytest.approx(calibrated)
    assert c.pixel_table_request(row, col).superbias is None
    w.controls.kind.setCurrentText("raw")
    settle(qtbot, w, kind="raw", subtract_superbias=True)
    assert w.panes._titles["raw"] == "Frame\nraw DN, superbias-subtracted"
    raw = file_cube(small_set["illuminated"])[k, row, col]
    assert probe_values(w.last_render, row, col)["value"] == pytest.approx(raw - 100.0)
    assert c.figure_data().superbias is not None and c.pixel_table_request(row, col).superbias is not None


def test_exported_calibrated_figure_is_named_after_the_exposure(qtbot, window, small_set, fake_ramp, monkeypatch,
                                                                tmp_path):
    """A figure of the calibrated ramp says which exposure it is (the calibrated cache file's name is a
    hash), its panes say calibrated DN, and its sidecar records the calibrated file; read back from
    the PDF's text and the PNG's pixels."""
    import json

    import pypdf
    from PIL import Image

    from brightstar_gui.jobs import opening

    from test_gui import FakeResult

    def fake_calibration(uri, refs, endpoint_url=None):
        return FakeResult(fake_ramp)
        yield  # a generator, as the real job

    monkeypatch.setattr(opening, "calibration_job", fake_calibration)
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    c = w.controller
    with qtbot.waitSignal(w.calibration_finished, timeout=WAIT):
        w.controls.calibrate_button.click()
    settle(qtbot, w, kind="calibrated")
    done = []
    for i, name in enumerate(("four.pdf", "four.png")):
        c.export("group", str(tmp_path / name), on_done=done.append)
        qtbot.waitUntil(lambda: len(done) == i + 1, timeout=60_000)
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(tmp_path / "four.pdf").pages)
    text = " ".join(text.split())
    assert small_set["illuminated"].name in text and fake_ramp.name not in text
    assert "calibrated DN" in text and "superbias" not in text
    side = json.loads((tmp_path / "four.png.json").read_text())
    assert side["source"] == str(small_set["illuminated"]) and side["data_kind"] == "calibrated"
    assert side["viewer"]["calibrated_file"] == str(fake_ramp)
    with Image.open(tmp_path / "four.png") as im:
        assert list(im.size) == side["size_px"]


def test_s3_tab_can_be_pointed_at_another_endpoint_and_opens_from_it(qtbot, window, s3_bucket, monkeypatch):
    """Started without --endpoint-url, the user types the mirror's URL in the S3 tab: it lists the bucket
    there, says so, and a file opened from the listing is read from that endpoint (the file's values)."""
    from PyQt6 import QtCore

    for key in ("BRIGHTSTAR_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    w = window
    b = w.s3_browser
    assert w.controller.endpoint_url is None and b.endpoint_label.text().startswith("endpoint: AWS S3")
    url = s3_bucket["endpoint_url"]
    # An s3:// location typed into the endpoint field is refused with a message saying where it goes.
    b.endpoint_edit.setText("s3://brightstar-test/OTP00651_BrightStar_TV2b_R1_MCEB/Activity_22/")
    qtbot.keyClick(b.endpoint_edit, QtCore.Qt.Key.Key_Return)
    assert "is not an endpoint" in b.status.text() and "s3:// locations go in the field below" in b.status.text()
    assert b.endpoint_url is None and w.controller.endpoint_url is None
    width = w.s3_dock.width()
    b.endpoint_edit.setText(url)
    qtbot.keyClick(b.endpoint_edit, QtCore.Qt.Key.Key_Return)
    assert b.endpoint_label.text() == f"endpoint: {url} (anonymous)" and "from the S3 tab" in b.endpoint_label.toolTip()
    assert w.controller.endpoint_url == url
    assert w.s3_dock.width() == width  # the label does not widen the dock
    uri = s3_bucket["uri"]["zlib"]
    folder = uri.rsplit("/", 1)[0] + "/"
    with qtbot.waitSignal(b.listing_finished, timeout=WAIT):
        b.set_location(folder)
    names = [b.tree.topLevelItem(i).text(0) for i in range(b.tree.topLevelItemCount())]
    name = uri.rsplit("/", 1)[1]
    assert name in names
    item = b.tree.topLevelItem(names.index(name))
    with qtbot.waitSignal(w.exposure_opened, timeout=WAIT):
        b.tree.itemDoubleClicked.emit(item, 0)
    settle_raw = lambda: w.last_render is not None and not w.controller.render_inflight  # noqa: E731
    qtbot.waitUntil(settle_raw, timeout=WAIT)
    assert w.dataset.uri == uri
    k = w.state.frame
    np.testing.assert_array_equal(np.asarray(w.dataset.primary.frame(k), np.float64),
                                  file_cube(s3_bucket["local"]["zlib"])[k])


def test_a_cached_calibration_is_offered_not_switched_to(qtbot, window, small_set, fake_ramp, monkeypatch):
    """Opening a raw exposure whose calibration is in the cache makes calibrated available and says so;
    the panes stay on raw DN until the user chooses calibrated (they switched by themselves)."""
    from brightstar_gui.jobs import opening

    monkeypatch.setattr(opening, "cached_calibration_job", lambda req: (req.dataset_id, fake_ramp))
    flashes = []
    w = window
    real_flash = w.flash
    monkeypatch.setattr(w, "flash", lambda text, *a, **k: (flashes.append(text), real_flash(text, *a, **k)))
    open_and_wait(qtbot, w, small_set["illuminated"])
    qtbot.waitUntil(lambda: w.state.calibrated_available, timeout=WAIT)
    settle(qtbot, w)
    assert w.state.data_kind == "raw" and w.last_render.request.kind == "raw"
    assert w.panes._titles["raw"] == "Frame\nraw DN"
    assert any("in the cache" in f and "show: calibrated" in f for f in flashes), flashes
    assert w.controls.calibrate_button.text() == "Show calibrated"
    w.controls.kind.setCurrentText("calibrated")
    settle(qtbot, w, kind="calibrated")
    assert w.panes._titles["raw"] == "Frame\ncalibrated DN"


def test_onset_map_in_the_ratio_pane_carries_no_mean_slope_message(qtbot, window, small_set):
    """With the onset map in the ratio pane, a render without a mean slope (a new region, its pass
    still running) does not leave "computing the mean slope..." written over the map, nor does the
    pass's progress."""
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    c = w.controller
    c.diagnostics.onset_pane = "ratio"
    qtbot.waitUntil(lambda: getattr(c, "last_onset_image", None) is not None, timeout=WAIT)
    settle(qtbot, w)
    assert "ratio" not in w.last_render.request.panes  # the map covers it: no ratio render
    seen = []
    real = w.panes.set_message
    w.panes.set_message = lambda kind, text: (seen.append((kind, text)), real(kind, text))
    c.summaries = []  # a new mean-slope pass, as for a new region
    c.ensure_summary()
    qtbot.waitUntil(lambda: c.summary_for("raw", w.state.region()) is not None, timeout=WAIT)
    settle(qtbot, w)
    w.panes.set_message = real
    assert w.panes._titles["ratio"].startswith("Onset map")
    assert w.panes.messages["ratio"].toPlainText() == ""  # it stayed over the map, renders never clear it
    assert not any(k == "ratio" and "mean slope" in t for k, t in seen), seen


def test_empty_window_shows_no_zoom_and_no_fake_histogram(qtbot, window, small_set):
    """No exposure: the zoom readout says "zoom -" (it gave the empty panes' 0.08x) and the
    histogram has no 0..1 axis or level range; both appear with an exposure."""
    w = window
    qtbot.wait(50)
    assert w.zoom_label.text() == "zoom -"
    hist = w.controls.histogram
    assert not hist.getAxis("bottom").style["showValues"] and not hist.region.isVisible()
    open_and_wait(qtbot, w, small_set["illuminated"])
    qtbot.waitUntil(lambda: w.zoom_label.text() != "zoom -", timeout=WAIT)
    assert w.zoom_label.text().startswith("zoom ")
    qtbot.waitUntil(lambda: hist.getAxis("bottom").style["showValues"], timeout=WAIT)
    assert hist.region.isVisible()


def test_pane_menu_mnemonics_are_unique(qtbot, window, small_set):
    """Each item of the pane menu has its own key (C was both Copy value and cutout centre, so
    pressing it in the menu moved between them and copied nothing)."""
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    for pinned in (False, True):
        if pinned:
            w.controller.pin_pixel(10, 10)
        menu = w.pane_menu.menu_for("raw", 10, 10)
        keys = []
        for a in menu.actions():
            text = a.text()
            if a.isSeparator() or "&" not in text:
                continue
            keys.append(text[text.index("&") + 1].lower())
        assert len(keys) == 4 and len(set(keys)) == len(keys), keys
        assert keys[0] == "c" and w.pane_menu.action("Copy value").text() == "&Copy value"
