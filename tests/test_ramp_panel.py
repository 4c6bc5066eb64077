"""The ramp panel: legend, shared neighbour scale, saturated-from-read-0, readout against the generator.

The panel is fed what :func:`~brightstar_gui.jobs.pixel.pixel_job` gives for
pixels of the small synthetic set (the core saturated from read 0, the
background never saturated); the truth is read back from the files: the
saturation reference, the raw reads, the mask's DQ decoded with
``roman_datamodels.dqflags`` directly.
"""

from __future__ import annotations

import numpy as np
import pytest

from brightstar_gui.jobs import opening
from brightstar_gui.jobs import pixel_readout as ro
from brightstar_gui.jobs.pixel import PixelRequest, pixel_job
from processing import figures
from processing.io import open_exposure
from processing.progress import run

from test_gui import fake_ramp  # noqa: F401  (fixture)

pytestmark = pytest.mark.usefixtures("no_qt_leaks")


@pytest.fixture(scope="module")
def opened(small_set):
    ds = run(opening.open_job(opening.OpenRequest(str(small_set["illuminated"]))))
    ctx = run(opening.context_job(opening.ContextRequest(ds)))
    yield ds, ctx
    ds.primary.close()


@pytest.fixture(scope="module")
def truth(small_set):
    with open_exposure(small_set["illuminated"]) as exp:
        n, h, w = exp.shape
        raw = np.stack([exp.frame(k) for k in range(n)])
        times = exp.read_times
    sat_dn = figures.align_to_frame(figures.load_reference_array(small_set["references"]["saturation"], "data"), (h, w))
    mask = figures.align_to_frame(figures.load_reference_array(small_set["references"]["mask"], "dq"), (h, w))
    return {"raw": raw, "sat_dn": np.asarray(sat_dn, np.float64), "mask": np.asarray(mask), "times": times}


def ramps(opened, row, col, calibrated=None):
    ds, ctx = opened
    return pixel_job(PixelRequest(ds, ctx, calibrated, row, col)).as_dict()


def background_pixel(truth, star):
    """A pixel far from the star, never saturated, with no saturated 4-neighbour, DQ clean."""
    raw, sat = truth["raw"], truth["sat_dn"]
    for row, col in ((star[0] + 90, star[1] - 80), (30, 30), (200, 40)):
        box = raw[:, row - 1:row + 2, col - 1:col + 2]
        if (box < sat[row - 1:row + 2, col - 1:col + 2]).all() and truth["mask"][row, col] == 0:
            return row, col
    raise AssertionError("no clean background pixel")


@pytest.fixture
def panel(qtbot):
    from brightstar_gui.widgets.ramp_plot import RampPanel

    p = RampPanel()
    qtbot.addWidget(p)
    p.resize(1200, 260)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_legend_lists_only_present_curves_outside_the_data(qtbot, panel, opened, truth, small_set):
    star = opened[0].star
    bg = ramps(opened, *background_pixel(truth, star))
    panel.set_ramps(bg, 4)
    qtbot.wait(20)
    # A raw-only, never-saturated pixel: its ramp and slope, nothing that is not drawn.
    assert panel.legend_labels() == ["raw DN", "mean slope"]
    vb = panel.plot.getPlotItem().getViewBox()
    # (The view box's bounding rect includes half a pixel of its border pen.)
    legend_rect, data_rect = panel.legend.sceneBoundingRect(), vb.sceneBoundingRect().adjusted(1, 1, -1, -1)
    assert legend_rect.width() > 20 and not legend_rect.intersects(data_rect)
    assert legend_rect.left() >= data_rect.right()
    # The core: saturated reads, onset and threshold; no slope (no unsaturated difference).
    core = ramps(opened, *star)
    panel.set_ramps(core, 4)
    qtbot.wait(20)
    assert panel.legend_labels() == ["raw DN", "saturated read", "threshold", "onset"]
    qtbot.waitUntil(lambda: not panel.legend.sceneBoundingRect().intersects(
        vb.sceneBoundingRect().adjusted(1, 1, -1, -1)), timeout=2000)


def test_neighbour_ramps_on_one_shared_scale_with_labelled_axes(qtbot, panel, opened, truth):
    star = opened[0].star
    row, col = star[0] + 14, star[1] + 3  # the halo's edge: very different neighbours
    d = ramps(opened, row, col)
    panel.set_ramps(d, 4)
    values = truth["raw"][:, row - 1:row + 2, col - 1:col + 2].astype(np.float64)
    lo, hi = panel.grid.scale
    assert (lo, hi) == (values.min(), values.max())
    for r in range(3):
        for c in range(3):
            _, y = panel.grid.cells[(r, c)]
            band = r * 1.18  # row - 1 at the bottom, row + 1 on top: y up, as the image panes
            # Every cell maps DN through the same lo..hi (not its own min..max).
            np.testing.assert_allclose(y - band, (values[:, r, c] - lo) / (hi - lo))
    item = panel.grid.getPlotItem()
    left = [label for level in item.getAxis("left")._tickLevels for _, label in level]
    from brightstar_gui.widgets.ramp_grid import compact

    assert compact(lo) in left and compact(hi) in left
    assert "DN" in item.getAxis("left").labelText
    top = [label for level in item.getAxis("top")._tickLevels for _, label in level]
    right = [label for level in item.getAxis("right")._tickLevels for _, label in level]
    assert top == [f"{col - 1}", f"{col}", f"{col + 1}"] and item.getAxis("top").labelText == "col"
    assert right == [f"{row - 1}", f"{row}", f"{row + 1}"] and item.getAxis("right").labelText == "row"
    ticks = dict((label, pos) for level in item.getAxis("right")._tickLevels for pos, label in level)
    assert ticks[f"{row + 1}"] > ticks[f"{row}"] > ticks[f"{row - 1}"]  # the higher row is drawn higher


def test_pixel_saturated_from_read_0_says_so_and_stays_flat(qtbot, panel, opened, truth):
    row, col = opened[0].star
    assert truth["raw"][0, row, col] >= truth["sat_dn"][row, col]  # the generator's core saturates at once
    d = ramps(opened, row, col)
    assert ro.saturated_from_start(d)
    panel.set_ramps(d, 4)
    assert "SATURATED FROM READ 0" in panel.plot.getPlotItem().titleLabel.text
    assert "Saturated from the first read" in panel.readout.text()
    # The y axis runs from 0 to above the threshold: the plateau's read-to-read noise
    # (tens of DN) is a flat line, not a ramp filling the axis.
    (_, _), (y0, y1) = panel.plot.getViewBox().viewRange()
    ramp = truth["raw"][:, row, col].astype(float)
    assert y0 <= 0 and y1 >= truth["sat_dn"][row, col]
    assert np.ptp(ramp) / (y1 - y0) < 0.05
    assert panel.slope_curve.getData()[0] is None or len(panel.slope_curve.getData()[0]) == 0


def test_x_axis_in_reads_or_seconds(qtbot, panel, opened, truth):
    d = ramps(opened, *background_pixel(truth, opened[0].star))
    panel.set_ramps(d, 3)
    x, _ = panel.raw_curve.getData()
    np.testing.assert_array_equal(x, np.arange(8))
    panel.x_choice.setCurrentIndex(1)  # "x: seconds", as the user picks it
    x, _ = panel.raw_curve.getData()
    np.testing.assert_allclose(x, truth["times"])
    assert truth["times"][1] == pytest.approx(3.04)  # the generator's frame time
    assert "(s)" in panel.plot.getPlotItem().getAxis("bottom").labelText
    assert panel.frame_line.value() == pytest.approx(truth["times"][3])


def test_readout_fields_against_the_generators_truth(opened, truth, small_set):
    from roman_datamodels import dqflags

    star = opened[0].star
    raw, sat_dn = truth["raw"], truth["sat_dn"]
    # A halo pixel that saturates during the ramp: threshold and onset from the files.
    n = raw.shape[0]
    halo = next((r, c) for r in range(star[0], star[0] + 60) for c in (star[1],)
                if 0 < np.argmax(raw[:, r, c] >= sat_dn[r, c]) and (raw[:, r, c] >= sat_dn[r, c]).any())
    d = ramps(opened, *halo)
    rows = dict(ro.readout_rows(d, n - 1))
    onset = int(np.argmax(raw[:, halo[0], halo[1]] >= sat_dn[halo]))
    assert rows["saturation threshold"] == f"{sat_dn[halo]:.0f} DN"
    assert rows["saturation onset"] == f"read {onset}"
    assert rows["raw"] == f"{int(raw[n - 1, halo[0], halo[1]])} DN"
    assert rows["saturated at this read"] == "yes"
    # A background pixel: never saturated; its mean slope is the mean read-to-read difference, raw.
    bg = background_pixel(truth, star)
    rows = dict(ro.readout_rows(ramps(opened, *bg), 2))
    slope = (float(raw[-1, bg[0], bg[1]]) - float(raw[0, bg[0], bg[1]])) / (n - 1)
    assert rows["saturation onset"] == "never"
    assert rows["mean slope (raw)"] == f"{slope:.2f} DN/frame = {slope / 3.04:.2f} DN/s"
    assert rows["pixel DQ"] == "0 = GOOD"
    # A flagged pixel of the mask reference, decoded with roman_datamodels' own names.
    ys, xs = np.nonzero(truth["mask"][1:-1, 1:-1])
    r, c = int(ys[0]) + 1, int(xs[0]) + 1
    value = int(truth["mask"][r, c])
    names = [f.name for f in dqflags.pixel if f.value and value & f.value]
    rows = dict(ro.readout_rows(ramps(opened, r, c), 0))
    assert rows["pixel DQ"] == f"{value} = {', '.join(names)}"


def test_readout_of_a_calibrated_ramp_names_its_slope_source_and_group_dq(opened, truth, tmp_path):
    import roman_datamodels.datamodels as rdm

    raw = truth["raw"]
    n, h, w = raw.shape
    path = tmp_path / "ramp.asdf"
    m = rdm.RampModel.create_fake_data(shape=(n, h, w))
    m.data = raw.astype(np.float32) * 1.1 - 10000.0
    m.pixeldq = np.zeros((h, w), np.uint32)
    gdq = np.zeros((n, h, w), np.uint8)
    gdq[raw >= truth["sat_dn"]] = 2
    m.groupdq = gdq
    m.save(path)
    bg = background_pixel(truth, opened[0].star)
    row, col = opened[0].star[0] + 14, opened[0].star[1]
    with open_exposure(path) as cal:
        d = ramps(opened, *bg, calibrated=cal)
        rows = dict(ro.readout_rows(d, 1))
        slope_raw = (float(raw[-1, bg[0], bg[1]]) - float(raw[0, bg[0], bg[1]])) / (n - 1)
        assert d["slope_source"] == "calibrated"
        assert rows["mean slope (calibrated)"].startswith(f"{1.1 * slope_raw:.2f} DN/frame")
        assert rows["mean slope (raw)"] == f"{slope_raw:.2f} DN/frame"
        assert rows["group DQ (read 1)"] == "0 = GOOD"
        k = int(np.argmax(gdq[:, row, col] != 0))
        assert gdq[k, row, col] == 2
        rows = dict(ro.readout_rows(ramps(opened, row, col, calibrated=cal), k))
        assert rows[f"group DQ (read {k})"] == "2 = SATURATED"


def test_slope_taken_from_the_summary_equals_the_one_computed(opened, truth):
    """The click path reuses the cutout's mean slope (same rule); it must be the 3 x 3 job's value."""
    from test_controller import FakeViews

    from brightstar_gui.controllers import SyncRunner, ViewerController

    ds = opened[0]
    c = ViewerController(FakeViews(), SyncRunner())
    try:
        c.open(ds.uri)
        region = c.model.region()
        assert c.summary_for("raw", region) is not None
        for row, col in (ds.star, (ds.star[0] + 14, ds.star[1] + 3), background_pixel(truth, ds.star)):
            c.model.selected_pixel = (row, col)
            got = c.last_ramps
            assert c._known_slopes(row, col).keys() == {"raw"}
            computed = ramps((c.dataset, c.context), row, col)
            assert got.mean_slope == pytest.approx(computed["mean_slope"], rel=1e-6) if computed["mean_slope"] else (
                got.mean_slope is None)
    finally:
        c.close()


def test_curves_other_code_adds_are_kept_in_view(qtbot, panel, opened, truth):
    """The panel sets its range itself; a pinned ramp added later (widgets/pins.py) is fitted in."""
    import pyqtgraph as pg

    d = ramps(opened, *background_pixel(truth, opened[0].star))
    panel.set_ramps(d, 3)
    (_, _), (y0, y1) = panel.plot.getViewBox().viewRange()
    assert y1 < 30000
    pin = pg.PlotDataItem(np.arange(8.0), np.linspace(20000, 60000, 8))
    panel.plot.addItem(pin)
    (_, _), (y0, y1) = panel.plot.getViewBox().viewRange()
    assert y1 >= 60000
    panel.plot.removeItem(pin)
    assert panel.plot.getViewBox().viewRange()[1][1] < 30000



def test_good_reads_are_dotted_in_the_colour_of_the_curve_they_lie_on(qtbot, panel, opened, truth, fake_ramp):
    """Raw only: blue dots on the blue raw curve; with a calibrated ramp the dots are on the calibrated
    curve, so they are orange like it (blue dots made it read as a second raw ramp)."""
    from brightstar_gui.widgets import ramp_plot

    def dot_colours():
        default = panel.points.opts["brush"]
        return {tuple((b or default).color().getRgb()[:3]) for b in panel.points.data["brush"]}

    bg = background_pixel(truth, opened[0].star)
    panel.set_ramps(ramps(opened, *bg), 3)
    assert dot_colours() == {ramp_plot.RAW_PEN.color().getRgb()[:3]}
    np.testing.assert_array_equal(panel.points.getData()[1], panel.raw_curve.getData()[1])
    with open_exposure(fake_ramp) as cal:
        d = ramps(opened, *bg, calibrated=cal)
    panel.set_ramps(d, 3)
    assert dot_colours() == {ramp_plot.CAL_PEN.color().getRgb()[:3]}
    np.testing.assert_array_equal(panel.points.getData()[1], panel.cal_curve.getData()[1])


def test_a_new_pixel_paints_the_ramp_plot_once(qtbot, panel, opened, truth, small_set, monkeypatch):
    """A click's new range is the view's transform before the paint: one paint of the ramp plot, not two.

    (pyqtgraph defers the transform to the paint, which then dirtied the
    scene and painted the plot a second time on every click.)
    """
    import pyqtgraph.widgets.GraphicsView as gv

    painted = []
    original = gv.GraphicsView.paintEvent
    monkeypatch.setattr(gv.GraphicsView, "paintEvent",
                        lambda self, ev: (painted.append(self), original(self, ev))[1])
    bg = background_pixel(truth, small_set["star_center"])
    # The first pixel lays the panel out (axes' values, legend, title); then pixels of the same kind.
    for i, (row, col) in enumerate((bg, (bg[0] + 1, bg[1]), (bg[0] + 5, bg[1] + 7))):
        painted.clear()
        panel.set_ramps(ramps(opened, row, col), 0)
        qtbot.waitUntil(lambda: panel.plot in painted, timeout=5000)
        for _ in range(5):  # whatever the paint left to do
            qtbot.wait(20)
        if i:
            assert painted.count(panel.plot) == 1
    lo, hi = panel.plot.getViewBox().viewRange()[1]
    assert lo < float(truth["raw"][:, bg[0] + 5, bg[1] + 7].min()) <= hi  # and it is the new range
