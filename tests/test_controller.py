"""The controller without a window: fake views record what they are told, jobs run synchronously.

Covers opening (first paint, then references), frame steps, cutout and full
frame, raw/calibrated, errors reaching the one sink, stale results dropped,
jobs of an old exposure cancelled when another is opened, playback's
achieved rate, and that every job is a pure function of its request.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from brightstar_gui.controllers import StartOptions, SyncRunner, ViewerController
from brightstar_gui.jobs import opening
from brightstar_gui.jobs.render import render_job
from brightstar_gui.models import Cutout
from processing.io import open_exposure
from processing.progress import Progress


class FakePanes:
    def __init__(self, visible=None):
        self.images, self.messages, self.titles, self.calls = {}, {}, {}, []
        self._visible = visible

    def show_empty(self, text):
        self.calls.append(("empty", text))

    def clear(self):
        self.images.clear()
        self.calls.append(("clear",))

    def set_image(self, kind, rgba, rect, opaque=False):
        self.images[kind] = (rgba, rect)

    def set_colorbar(self, kind, lut, levels, scale="linear", legend=()):
        pass

    def set_categories(self, kind, colours, labels):
        pass

    def set_flag_marks(self, positions, colours=None):
        self.calls.append(("flag_marks", None if positions is None else len(positions)))

    def set_message(self, kind, text):
        self.messages[kind] = text

    def set_title(self, kind, title):
        self.titles[kind] = title

    def set_cutout_rect(self, region, visible=True):
        self.calls.append(("cutout_rect", region))

    def set_data_bounds(self, region, auto_range=False):
        self.calls.append(("bounds", region, auto_range))

    def set_selected(self, pixel):
        self.calls.append(("selected", pixel))

    def visible(self):
        return self._visible


class FakeRamp:
    def __init__(self):
        self.data = None
        self.frame = None

    def set_ramps(self, data, frame):
        self.data, self.frame = data, frame

    def set_frame(self, k):
        self.frame = k


class FakeStatus:
    def __init__(self):
        self.errors, self.events, self.tasks, self.flashes = [], [], {}, []
        self.hover = ""
        self.rate = None
        self.references = ""

    def show_error(self, what, text, details=None):
        self.errors.append(f"{what}: {text}")

    def flash(self, text, timeout_ms=0):
        self.flashes.append(text)

    def task_started(self, channel, title):
        self.tasks[channel] = 0.0

    def on_task_progress(self, channel, fraction, message):
        self.tasks[channel] = fraction

    def task_ended(self, channel):
        self.tasks.pop(channel, None)

    def set_hover_text(self, text):
        self.hover = text

    def set_exposure(self, uri, meta, read_times):
        self.uri = uri

    def set_pane_levels(self, kind, levels, histogram):
        pass

    def set_playback_rate(self, fps):
        self.rate = fps

    def set_references(self, text):
        self.references = text

    def notify(self, event, *args):
        self.events.append(event)


class FakeViews:
    def __init__(self, visible=None):
        self.panes, self.ramp, self.status = FakePanes(visible), FakeRamp(), FakeStatus()


@pytest.fixture
def make(tmp_path):
    made = []

    def _make(deferred=False, visible=None, trace=None):
        views = FakeViews(visible)
        runner = SyncRunner(deferred=deferred)
        c = ViewerController(views, runner, trace=trace)
        made.append(c)
        return c, views, runner

    yield _make
    for c in made:
        c.close()


def frame_of(path, k, region):
    y0, y1, x0, x1 = region
    with open_exposure(path) as exp:
        return np.array(exp.frame(k)[y0:y1, x0:x1])


def test_open_renders_raw_first_then_every_pane(make, small_set):
    events = []
    c, views, runner = make(trace=lambda event, **f: events.append((event, f)))
    c.open(small_set["illuminated"])
    assert c.dataset is not None and c.context is not None
    r0, c0 = c.dataset.star
    assert abs(r0 - small_set["star_center"][0]) <= 2 and abs(c0 - small_set["star_center"][1]) <= 2
    m = c.model
    assert m.n_frames == 8 and m.frame == 4 and m.cutout.enabled
    result = c.last_render
    assert set(views.panes.images) == {"raw", "difference", "ratio", "mask"}
    assert all(views.panes.images[k][0] is not None for k in ("raw", "difference", "ratio", "mask"))
    np.testing.assert_array_equal(result.probe["frame"], frame_of(small_set["illuminated"], 4, result.request.view))
    assert "saturation" in c.context.references and "synthetic set" in views.status.references  # the references in use
    # The first paint came before the references: raw and difference only.
    rendered = [f for e, f in events if e == "rendered"]
    assert set(rendered[0]["panes"]) == {"raw", "difference"}
    assert set(rendered[-1]["panes"]) == {"raw", "difference", "ratio", "mask"}
    assert rendered[-1]["data_kind"] == "raw" and rendered[-1]["bytes_fetched"] == 0
    assert [e for e, _ in events][0] == "opened"
    assert views.status.errors == []


def test_frame_steps_and_cutout_and_full_frame(make, small_set):
    c, views, _ = make()
    c.open(small_set["illuminated"])
    c.model.frame = 6
    assert c.last_render.request.frame == 6
    c.model.frame = 99  # clamped
    assert c.model.frame == 7 and c.last_render.request.frame == 7
    c.model.cutout = Cutout(100, 120, 20, True)
    req = c.last_render.request
    assert req.region == (80, 120, 100, 140) == req.view
    rgba, rect = views.panes.images["raw"]
    assert rgba.shape[:2] == (40, 40) and rect == (100.0, 80.0, 40.0, 40.0)
    np.testing.assert_array_equal(c.last_render.probe["frame"], frame_of(small_set["illuminated"], 7, req.region))
    c.toggle_cutout()
    assert c.last_render.request.region == (0, 256, 0, 256)
    assert ("bounds", (0, 256, 0, 256), True) in views.panes.calls


def test_zoomed_out_view_reads_at_screen_resolution(make, small_set):
    # The panes show the whole 256 x 256 frame at 4 data pixels per screen pixel.
    c, views, _ = make(visible=((0.0, 256.0, 0.0, 256.0), 4.0))
    c.open(small_set["illuminated"], StartOptions(full_frame=True))
    req = c.last_render.request
    assert req.step == 4 and req.view == (0, 256, 0, 256)
    rgba, rect = views.panes.images["raw"]
    assert rgba.shape[:2] == (64, 64) and rect == (0.0, 0.0, 256.0, 256.0)
    np.testing.assert_array_equal(c.last_render.probe["frame"], frame_of(small_set["illuminated"], req.frame, req.view)[::4, ::4])
    # The mask keeps every saturated pixel (block maximum), it is not a strided sample.
    codes = c.last_render.probe["mask_codes"]
    assert codes.shape == (64, 64) and codes.max() == 3


def test_start_options_frame_and_cutout(make, small_set):
    c, _, _ = make()
    c.open(small_set["illuminated"], StartOptions(frame=2, cutout=(50, 60, 16)))
    assert c.model.frame == 2 and c.model.region() == (34, 66, 44, 76)
    assert c.last_render.request.region == (34, 66, 44, 76)


def test_raw_and_calibrated(make, small_set, tmp_path, monkeypatch):
    import roman_datamodels.datamodels as rdm

    with open_exposure(small_set["illuminated"]) as exp:
        n, h, w = exp.shape
        raw = np.stack([exp.frame(k) for k in range(n)])
    ramp = rdm.RampModel.create_fake_data(shape=(n, h, w))
    ramp.data = raw.astype(np.float32) - 10000.0
    ramp.pixeldq = np.zeros((h, w), np.uint32)
    ramp.groupdq = np.where(raw >= 58000, 2, 0).astype(np.uint8)
    path = tmp_path / "ramp.asdf"
    ramp.save(path)

    def fake_calibration(uri, refs, endpoint_url=None):
        yield Progress(0.5, "linearity")
        return path

    monkeypatch.setattr(opening, "calibration_job", fake_calibration)
    c, views, _ = make()
    c.open(small_set["illuminated"])
    c.model.data_kind = "calibrated"
    assert c.model.data_kind == "raw"  # refused: nothing calibrated yet
    c.start_calibration()
    assert "calibration_finished" in views.status.events
    assert c.model.calibrated_available and c.model.data_kind == "calibrated"
    req = c.last_render.request
    assert req.kind == "calibrated" and views.panes.titles["raw"] == "Frame\ncalibrated DN"
    np.testing.assert_allclose(c.last_render.probe["frame"],
                               frame_of(small_set["illuminated"], req.frame, req.view).astype(np.float32) - 10000)
    c.model.data_kind = "raw"
    np.testing.assert_array_equal(c.last_render.probe["frame"], frame_of(small_set["illuminated"], req.frame, req.view))
    c.model.selected_pixel = (50, 60)
    assert views.ramp.data["calibrated"].shape == (8, 3, 3) and views.ramp.data["raw"].shape == (8, 3, 3)


def test_errors_reach_the_one_sink(make, tmp_path):
    events = []
    c, views, _ = make(trace=lambda event, **f: events.append((event, f)))
    bad = tmp_path / "not.asdf"
    bad.write_text("hello")
    c.open(bad)
    assert c.dataset is None
    assert len(views.status.errors) == 1 and "not.asdf" in views.status.errors[0]
    assert events[-1][0] == "error" and "not.asdf" in events[-1][1]["message"]
    assert "open" not in views.status.tasks  # the task row is gone


def test_stale_render_results_are_dropped(make, small_set):
    c, views, runner = make(deferred=True)
    c.open(small_set["illuminated"])
    runner.run_pending()  # open, context, first renders...
    assert c.last_render is not None
    c.model.frame = 1
    c.model.frame = 2
    c.model.frame = 3  # three requests: only the newest is still pending
    renders = [t for t in runner.pending if t.channel == "render"]
    assert len(renders) == 1
    runner.run_pending()
    assert c.last_render.request.frame == 3
    # A result delivered for an exposure no longer open is not applied.
    old = c.last_render
    c.open(small_set["illuminated"])
    runner.run_pending()
    new_ds = c.dataset
    assert new_ds is not old.request.dataset
    c._apply_render(old)
    assert c.last_render.request.dataset is new_ds


def test_reopening_cancels_the_old_exposures_jobs(make, small_set):
    c, views, runner = make(deferred=True)
    c.open(small_set["illuminated"])
    runner.run_pending()
    old = c.dataset
    c.model.frame = 6
    c.model.selected_pixel = (10, 10)
    c.ensure_summary(full=True)
    busy = {t.channel for t in runner.pending if t.tag == old.id}
    assert {"render", "pixel"} <= busy
    c.open(small_set["illuminated"])
    runner.run_one([t for t in runner.pending if t.channel == "open"][0])
    assert not [t for t in runner.pending if t.tag == old.id]
    assert {ch for ch, _ in runner.cancelled} >= {"render", "pixel"}
    assert old.raw._closed  # its file is closed
    runner.run_pending()
    assert c.last_render.request.dataset is c.dataset


def test_playback_advances_only_when_shown_and_reports_the_rate(make, small_set, monkeypatch):
    from brightstar_gui.controllers import _rendering

    c, views, runner = make(deferred=True)
    c.open(small_set["illuminated"])
    runner.run_pending()
    c.model.playing = True
    start = c.model.frame
    c.tick()
    assert c.model.frame == start + 1
    c.tick()  # the frame is not on screen yet: no advance
    assert c.model.frame == start + 1
    for _ in range(6):
        runner.run_pending()
        c.tick()
    runner.run_pending()
    assert views.status.rate is not None and views.status.rate > 0
    # Local frames are not read ahead (a pread from the page cache); remote ones are.
    assert "prefetch" not in runner.submitted
    monkeypatch.setattr(_rendering, "reads_are_remote", lambda req: True)
    runner.run_pending()
    c.tick()
    runner.run_pending()
    assert "prefetch" in runner.submitted
    c.model.playing = False
    assert views.status.rate is None


def test_jobs_are_pure_functions_of_their_request(make, small_set):
    c, _, _ = make()
    c.open(small_set["illuminated"])
    c.model.frame = 5
    req = c.build_render_request()
    a, b = render_job(req), render_job(req)
    for kind in a.panes:
        np.testing.assert_array_equal(a.panes[kind].rgba, b.panes[kind].rgba)
        assert a.panes[kind].levels == b.panes[kind].levels
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.frame = 3  # type: ignore[misc]
    assert not req.context.sat_dn.flags.writeable and not req.context.bad.flags.writeable
    # The controller moving on does not change what the request renders.
    c.model.frame = 2
    np.testing.assert_array_equal(render_job(req).panes["raw"].rgba, a.panes["raw"].rgba)


def test_model_batches_events():
    from brightstar_gui.models import ViewModel

    m = ViewModel()
    seen = []
    m.events.frame.connect(lambda v: seen.append(("frame", v)))
    m.events.cutout.connect(lambda v: seen.append(("cutout", v)))
    m.reset_for(8, (256, 256), (119, 119))
    assert seen == [("frame", 4), ("cutout", Cutout(119, 119, 128, True))]
    seen.clear()
    m.frame = 99
    assert m.frame == 7 and seen == [("frame", 7)]
    m.frame = 7
    assert seen == [("frame", 7)]
    m.cutout = Cutout(500, -5, 10_000, True)
    assert m.cutout == Cutout(255, 0, 128, True) and m.region() == (127, 256, 0, 128)
    m.selected_pixel = (300, 3)  # off the detector: kept
    assert m.selected_pixel == (119, 119)
    m.calibrated_available = True
    m.data_kind = "calibrated"
    kinds = []
    m.events.data_kind.connect(lambda v: kinds.append((v, m.calibrated_available)))
    m.calibrated_available = False
    assert m.data_kind == "raw" and kinds == [("raw", False)]  # emitted after the flag is stored


def test_pausing_while_a_frame_is_rendered_ahead_still_renders(make, small_set):
    c, views, runner = make(deferred=True)
    c.open(small_set["illuminated"])
    runner.run_pending()
    c.model.playing = True
    c.tick()
    runner.run_one([t for t in runner.pending if t.channel == "render"][0])
    # The frame is shown; the next one is being rendered ahead (not finished).
    assert c._ahead is not None and c._ahead[1] is None and runner.busy("ahead")
    c.tick()  # advance onto the frame rendered ahead: waiting for it
    assert c.render_inflight and not runner.busy("render")
    c.model.playing = False  # pause before it arrives
    runner.run_pending()
    assert not c.render_inflight and c.last_render.request.frame == c.model.frame
    assert c.last_render.request.histogram_pane != ""  # paused: the histogram is back
