"""The saturation diagnostics through the controller, without a window.

Fake views record what the controller shows; SyncRunner runs the jobs.  The
growth plot, onset pane and contours, radial profile and pinned ramps must
equal what the processing functions (the CLI's) give on the generator's
files, and results for an exposure, kind or frame no longer shown must be
dropped.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from test_controller import FakeViews

from brightstar_gui.controllers import SyncRunner, ViewerController
from brightstar_gui.jobs.onset import NEVER_COLOR, onset_lut
from processing import figures
from processing.diagnostics.growth import saturation_growth
from processing.diagnostics.onset import onset_contours, onset_map
from processing.diagnostics.profile import star_profiles
from processing.io import open_exposure


class FakeGrowth:
    def __init__(self):
        self.growth = self.scope = self.frame = None
        self.messages = []
        self.shown = True

    def active(self):
        return self.shown

    def set_growth(self, growth, scope_text):
        self.growth, self.scope = growth, scope_text

    def set_frame(self, k):
        self.frame = k

    def set_message(self, text):
        self.messages.append(text)


class FakeProfile:
    def __init__(self):
        self.profile = self.kind = None
        self.messages = []

    def active(self):
        return True

    def set_profile(self, profile, kind):
        self.profile, self.kind = profile, kind

    def set_message(self, text):
        self.messages.append(text)


class FakePins:
    def __init__(self):
        self.pins = None

    def set_pins(self, pins):
        self.pins = pins


class FakeOverlay:
    def __init__(self):
        self.lines = None

    def set_contours(self, lines):
        self.lines = lines


def views():
    v = FakeViews()
    v.growth, v.profile, v.pins, v.onset_overlay = FakeGrowth(), FakeProfile(), FakePins(), FakeOverlay()
    return v


@pytest.fixture
def make():
    made = []

    def _make(deferred=False):
        v = views()
        runner = SyncRunner(deferred=deferred)
        c = ViewerController(v, runner)
        made.append(c)
        return c, v, runner

    yield _make
    for c in made:
        c.close()


@pytest.fixture(scope="module")
def truth(small_set):
    """The processing functions' answers on the small illuminated exposure (raw DN against the reference)."""
    sat_dn = figures.align_to_frame(
        figures.load_reference_array(small_set["references"]["saturation"], "data").astype(np.float32), (256, 256))
    with open_exposure(small_set["illuminated"]) as exp:
        cube = np.stack([exp.frame(k) for k in range(exp.shape[0])])
        times = exp.read_times
    return {"cube": cube, "sat_dn": sat_dn, "times": times,
            "full": saturation_growth(cube, sat_dn, read_times=times),
            "onset": onset_map(cube, sat_dn, read_times=times)}


def test_growth_of_cutout_and_full_frame_equal_the_cli_function(make, small_set, truth):
    c, v, _ = make()
    c.open(small_set["illuminated"])
    region = c.model.cutout.region(c.model.frame_shape)
    want = saturation_growth(truth["cube"], truth["sat_dn"], region=region, read_times=truth["times"])
    got = v.growth.growth
    assert got is not None and "cutout" in v.growth.scope
    for name, col in want.columns().items():
        np.testing.assert_array_equal(got.columns()[name], col, err_msg=name)
    assert got.saturated[-1] > 0  # the star saturates: the test is not vacuous
    c.diagnostics.growth_scope = "full"
    for name, col in truth["full"].columns().items():
        np.testing.assert_array_equal(v.growth.growth.columns()[name], col, err_msg=name)
    assert v.growth.scope.startswith("full frame")
    # The marker follows the slider.
    c.model.frame = 5
    assert v.growth.frame == 5


def test_growth_hidden_costs_nothing_and_is_computed_when_shown(make, small_set):
    c, v, runner = make()
    v.growth.shown = False
    c.open(small_set["illuminated"])
    assert "growth" not in runner.submitted and v.growth.growth is None
    v.growth.shown = True
    c.refresh_diagnostics()
    assert v.growth.growth is not None


def test_stale_growth_of_an_old_exposure_is_dropped(make, small_set):
    c, v, runner = make(deferred=True)
    c.open(small_set["illuminated"])
    runner.run_pending()
    v.growth.growth = None
    c.diagnostics.growth_scope = "full"  # a full-frame pass starts ...
    assert runner.busy("analysis")
    task = next(t for t in runner.pending if t.channel == "analysis")
    runner.pending.remove(task)
    c.open(small_set["darks"][0])  # ... and another exposure is opened before it ends
    runner.run_pending()
    dark_growth = v.growth.growth
    runner.run_one(task)  # the late result of the first exposure
    assert v.growth.growth is dark_growth
    assert dark_growth is None or dark_growth.saturated.max() < 50


def test_onset_pane_pixels_are_the_onset_map(make, small_set, truth):
    c, v, _ = make()
    c.open(small_set["illuminated"])
    c.diagnostics.onset_pane = "mask"
    image = c.last_onset_image
    assert image is not None
    y0, y1, x0, x1 = image.request.view
    step = image.request.step
    want = truth["onset"].onset[y0:y1:step, x0:x1:step]
    np.testing.assert_array_equal(image.values, want)
    assert np.isnan(want).any() and np.isfinite(want).any()
    np.testing.assert_array_equal(image.rgba, figures.colorize(want, (0.0, 7.0), onset_lut(), None, NEVER_COLOR))
    rgba, rect = v.panes.images["mask"]
    assert rgba is image.rgba
    assert tuple(image.rgba[np.isnan(want)][0]) == NEVER_COLOR
    assert "Onset" in v.panes.titles["mask"] and "never" in v.panes.titles["mask"]
    # Later renders leave the onset pane alone; choosing none gives the mask back.
    c.model.frame = 3
    assert v.panes.images["mask"][0] is image.rgba
    # The hover readout gives the onset of the pixel under the mouse.
    r, col = (int(x) for x in small_set["star_center"])
    c.hover(r, col)
    assert v.status.hover.endswith(f"onset read {int(truth['onset'].onset[r, col])}")
    c.hover(2, 2)
    assert np.isnan(truth["onset"].onset[2, 2]) and v.status.hover.endswith("onset: never saturated")
    c.diagnostics.onset_pane = ""
    c.hover(r, col)
    assert "onset" not in v.status.hover
    assert v.panes.images["mask"][0] is not image.rgba
    assert v.panes.titles["mask"].startswith("Saturation mask")


def test_contours_over_raw_are_the_onset_contours(make, small_set, truth):
    c, v, _ = make()
    c.open(small_set["illuminated"])
    c.diagnostics.contour_reads = (2, 6, 99)  # 99: past the last read, ignored
    y0, y1, x0, x1 = c.model.region()
    lines = v.onset_overlay.lines
    assert sorted(lines) == [2, 6]
    for k in (2, 6):
        want = onset_contours(truth["onset"].onset[y0:y1, x0:x1], k)
        assert len(lines[k]) == len(want) > 0
        for got, exp in zip(lines[k], want):
            np.testing.assert_allclose(got, exp + (y0, x0))
    c.diagnostics.contour_reads = ()
    assert v.onset_overlay.lines == {}


def test_profile_follows_the_slider_and_equals_the_cli_function(make, small_set, truth):
    c, v, _ = make()
    c.open(small_set["illuminated"])
    want = star_profiles(truth["cube"], truth["cube"], truth["sat_dn"], baseline=c.model.baseline)
    for k in (2, 6):
        c.model.frame = k
        got = v.profile.profile
        assert got.read == k
        np.testing.assert_allclose(got.center, want.center)
        ref = want.at(k)
        for name, col in ref.columns().items():
            np.testing.assert_array_equal(got.columns()[name], col, err_msg=name)
    c.diagnostics.profile_kind = "onset"
    assert v.profile.kind == "onset"


def test_profile_of_a_dark_says_no_source(make, small_set):
    c, v, _ = make()
    c.open(small_set["darks"][0])
    assert v.profile.profile is None
    assert v.profile.messages[-1].startswith("no source")


def test_stale_profile_of_a_left_frame_is_dropped(make, small_set):
    c, v, runner = make(deferred=True)
    c.open(small_set["illuminated"])
    runner.run_pending()
    c.model.frame = 2
    first = next(t for t in runner.pending if t.channel == "profile_at")
    runner.pending.remove(first)
    c.model.frame = 6
    runner.run_pending()
    runner.run_one(first)  # the answer for read 2 arrives after read 6's
    assert v.profile.profile.read == 6


def test_pins_overlay_the_files_ramps_and_export_together(make, small_set, truth, tmp_path):
    c, v, _ = make()
    c.open(small_set["illuminated"])
    r, col = small_set["star_center"]
    pins = [(int(r), int(col)), (int(r), int(col) + 12), (10, 10)]  # core, halo, background
    for p in pins:
        assert c.pin_pixel(*p)
    c.pin_pixel(*pins[0])  # pinning twice keeps one
    assert c.model.pinned_pixels == tuple(pins)
    got = v.pins.pins
    assert got.pixels == tuple(pins)
    for i, (pr, pc) in enumerate(pins):
        np.testing.assert_array_equal(got.ramps[i], truth["cube"][:, pr, pc].astype(float))
    out = tmp_path / "pins.csv"
    c.export_pins(str(out))
    with open(out) as fh:
        header = [line for line in fh if line.startswith("#")]
    with open(out) as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert any("pin 3 = row 10, col 10" in h for h in header)
    assert len(rows) == 3 * truth["cube"].shape[0]
    for i, (pr, pc) in enumerate(pins):
        mine = [row for row in rows if row["role"] == f"pin {i + 1}"]
        assert [(int(m["row"]), int(m["col"])) for m in mine] == [(pr, pc)] * len(mine)
        assert [int(m["raw_dn"]) for m in mine] == truth["cube"][:, pr, pc].tolist()
        sat = (truth["cube"][:, pr, pc] >= truth["sat_dn"][pr, pc]).astype(int).tolist()
        assert [int(m["saturated"]) for m in mine] == sat
    c.unpin_pixel(*pins[1])
    assert v.pins.pins.pixels == (pins[0], pins[2])
    c.clear_pins()
    assert v.pins.pins is None
    assert c.export_pins(str(tmp_path / "none.csv")) == -1
    assert "no pinned pixels" in v.status.errors[-1]


def test_selected_pixel_toggles_its_pin_and_pins_stay_for_the_next_exposure(make, small_set):
    c, v, _ = make()
    c.open(small_set["illuminated"])
    c.model.selected_pixel = (20, 30)
    c.toggle_pin_selected()
    assert c.model.pinned_pixels == ((20, 30),)
    c.toggle_pin_selected()
    assert c.model.pinned_pixels == ()
    for i in range(12):
        c.pin_pixel(i, i)
    assert len(c.model.pinned_pixels) == 10 and "at most 10" in v.status.flashes[-1]
    # Another exposure keeps the pins: the same pixels' ramps, now from it.
    c.open(small_set["darks"][0])
    assert len(c.model.pinned_pixels) == 10
    assert v.pins.pins.request.dataset_id == c.dataset.id
    with open_exposure(small_set["darks"][0]) as dark:
        np.testing.assert_array_equal(v.pins.pins.ramps[3], dark.cutout(3, 4, 3, 4)[:, 0, 0].astype(float))


def test_calibrated_growth_counts_the_groupdq_flags(make, small_set, tmp_path):
    """A RampModel opened directly: growth and onset come from its groupdq SATURATED flag."""
    import roman_datamodels.datamodels as rdm

    with open_exposure(small_set["illuminated"]) as exp:
        n, h, w = exp.shape
        raw = np.stack([exp.frame(k) for k in range(n)])
    m = rdm.RampModel.create_fake_data(shape=(n, h, w))
    m.data = raw.astype(np.float32)
    gdq = np.zeros((n, h, w), np.uint8)
    gdq[raw >= 50000] = 2
    gdq[:, 5, 5] = 1  # DO_NOT_USE only: not saturated
    m.groupdq = gdq
    m.pixeldq = np.zeros((h, w), np.uint32)
    path = tmp_path / "ramp.asdf"
    m.save(path)
    c, v, _ = make()
    c.open(path)
    assert c.dataset is not None and c.dataset.raw is None, v.status.errors  # only the flags say what saturated
    c.diagnostics.growth_scope = "full"
    np.testing.assert_array_equal(v.growth.growth.saturated, (gdq & 2).astype(bool).sum(axis=(1, 2)))
    onset = c.onset_map().onset
    sat = (gdq & 2) != 0
    want = np.where(sat.any(axis=0), sat.argmax(axis=0), np.nan)
    np.testing.assert_array_equal(onset, want.astype(np.float32))


def test_growth_reports_progress_and_a_cancel_leaves_nothing_half_shown(make, small_set, truth):
    c, v, runner = make(deferred=True)
    c.open(small_set["illuminated"])
    runner.run_pending()
    fractions = []
    v.status.on_task_progress = lambda channel, f, m: fractions.append((channel, f))
    v.growth.growth = None
    c.diagnostics.growth_scope = "full"
    assert runner.busy("analysis")
    c.cancel_task("analysis")
    runner.run_pending()
    assert v.growth.growth is None and c.onset_map() is None
    assert v.growth.messages[-1].startswith("not computed") and "Saturation diagnostics" in v.growth.messages[-1]
    c.refresh_diagnostics()  # the menu entry: starts it again
    runner.run_pending()
    assert [f for ch, f in fractions if ch == "analysis"][-1] == 1.0
    assert len([1 for ch, _ in fractions if ch == "analysis"]) == truth["cube"].shape[0]
    np.testing.assert_array_equal(v.growth.growth.saturated, truth["full"].saturated)
    np.testing.assert_array_equal(c.onset_map().onset, truth["onset"].onset)


class Circle:
    """A drawn region as the regions feature holds it: frozen, with ``to_region()``."""

    kind = "circle"

    def __init__(self, row, col, radius):
        self.row, self.col, self.radius = row, col, radius

    def to_region(self):
        from regions import CirclePixelRegion, PixCoord

        return CirclePixelRegion(PixCoord(x=self.col, y=self.row), radius=self.radius)


def test_growth_of_a_drawn_region_counts_inside_the_shape(make, small_set, truth):
    c, v, _ = make()
    c.open(small_set["illuminated"])
    r, col = (float(x) for x in small_set["star_center"])
    c.regions = {4: Circle(r + 3.0, col - 2.0, 18.0)}
    assert ("region 4 (circle)", "region:4") in c.growth_scopes()
    c.diagnostics.growth_scope = "region:4"
    want = saturation_growth(truth["cube"], truth["sat_dn"], region=c.regions[4].to_region(),
                             read_times=truth["times"])
    assert v.growth.scope.startswith("region 4 (circle)")
    np.testing.assert_array_equal(v.growth.growth.saturated, want.saturated)
    np.testing.assert_array_equal(v.growth.growth.nearby, want.nearby)
    box = saturation_growth(truth["cube"], truth["sat_dn"], region=want.region, read_times=truth["times"])
    assert (want.saturated < box.saturated).any()  # the shape, not its bounding box
    # The region removed: the cutout is counted again.
    c.regions = {}
    c.request_growth()
    assert "cutout" in v.growth.scope
    with pytest.raises(ValueError):
        c.diagnostics.growth_scope = "region:x"


def test_growth_follows_a_moved_region(make, small_set, truth):
    """The regions feature and the growth plot together: moving the counted region re-counts at once."""
    from processing.session_file import RegionShape

    c, v, _ = make()
    c.open(small_set["illuminated"])
    r, col = (float(x) for x in small_set["star_center"])
    rid = c.add_region(RegionShape("circle", x=col, y=r, radius=6.0))
    c.diagnostics.growth_scope = f"region:{rid}"
    small = v.growth.growth.saturated.copy()
    c.update_region(rid, RegionShape("circle", x=col, y=r, radius=20.0))
    want = saturation_growth(truth["cube"], truth["sat_dn"], region=c.regions[rid].to_region(),
                             read_times=truth["times"])
    np.testing.assert_array_equal(v.growth.growth.saturated, want.saturated)
    assert (v.growth.growth.saturated > small).any()


def test_growth_says_references_are_loading_while_they_load(make, small_set):
    """Open but the context job not run yet: the growth plot says why it waits, not 'open an exposure'."""
    c, v, runner = make(deferred=True)
    c.open(small_set["illuminated"])
    for channel in ("open", "render"):
        for t in [t for t in runner.pending if t.channel == channel]:
            runner.run_one(t)
    assert c.dataset is not None and c.context is None
    c.refresh_diagnostics()
    assert v.growth.messages and v.growth.messages[-1].startswith("loading reference files")
    runner.run_pending()
    assert c.context is not None and v.growth.growth is not None
    assert v.growth.messages[-1].startswith("computing the saturation growth")
