"""Opening shows the exposure's pixels first; what follows the first frame still arrives.

Controller (fake views, a deferred synchronous runner): the reference files
(the context job) and the "shown" hooks wait for the first frame, and run
when that render fails too; those of an exposure closed meanwhile are
dropped; the panes hold their repaints from the open's result to the first
frame.  Real window (small set): after opening, the mask and ratio panes,
the compare dock's darks, the Exposures list, the star, the title are those
of the exposure; the panes paint again; the status bar keeps its height
while task rows come and go.
"""

from __future__ import annotations

import numpy as np
import pytest

from brightstar_gui.controllers import SyncRunner, ViewerController

from test_controller import FakeViews

WAIT = 20_000  # ms


def deferred_controller(views=None):
    views = views or FakeViews()
    runner = SyncRunner(deferred=True)
    return ViewerController(views, runner), views, runner


def run_channel(runner, channel):
    """Run the pending jobs of ``channel`` (oldest first); how many ran."""
    tasks = [t for t in runner.pending if t.channel == channel]
    for t in tasks:
        runner.run_one(t)
    return len(tasks)


def test_references_and_shown_hooks_wait_for_the_first_frame(small_set):
    c, views, runner = deferred_controller()
    shown = []
    c.add_hook("shown", lambda ds: shown.append((ds.uri, c.last_render is not None)))
    try:
        c.open(small_set["illuminated"])
        assert run_channel(runner, "open") == 1
        ds = c.dataset
        # Opened: the first render is asked for; the references are not, yet.
        assert "render" in {t.channel for t in runner.pending}
        assert "context" not in runner.submitted and shown == []
        assert run_channel(runner, "render") == 1
        drawn = {k for k, (pixels, _) in views.panes.images.items() if pixels is not None}
        assert drawn == {"raw", "difference"}  # the mask and ratio panes need the references
        # The first frame is on screen: now the references, and the hooks (once).
        assert "context" in {t.channel for t in runner.pending}
        assert shown == [(str(small_set["illuminated"]), True)]
        runner.run_pending()
        assert c.context is not None and c.context.dataset_id == ds.id
        assert "saturation" in c.context.references
        assert all(views.panes.images[k][0] is not None for k in ("raw", "difference", "ratio", "mask"))
        assert runner.submitted.count("context") == 1 and len(shown) == 1
        assert views.status.errors == []
    finally:
        c.close()


def test_a_failed_first_render_does_not_hold_the_references_back(small_set, monkeypatch):
    import brightstar_gui.controllers._rendering as rendering

    c, views, runner = deferred_controller()
    real = rendering.render_job
    calls = {"n": 0}

    def failing_once(req, token):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk went away")
        return real(req, token)

    monkeypatch.setattr(rendering, "render_job", failing_once)
    try:
        c.open(small_set["illuminated"])
        run_channel(runner, "open")
        run_channel(runner, "render")
        assert calls["n"] == 1 and views.status.errors  # the failure reached the one sink
        runner.run_pending()
        assert c.context is not None and "saturation" in c.context.references
        # Once the references are there, the panes render (now without failing).
        assert c.last_render is not None and views.panes.images["mask"][0] is not None
    finally:
        c.close()


def test_work_queued_for_an_exposure_opened_over_is_dropped(small_set):
    c, views, runner = deferred_controller()
    shown = []
    c.add_hook("shown", lambda ds: shown.append(ds.uri))
    dark = small_set["darks"][0]
    try:
        c.open(small_set["illuminated"])
        run_channel(runner, "open")
        first = c.dataset
        c.open(dark)  # before the illuminated exposure's first frame
        run_channel(runner, "open")
        runner.run_pending()
        assert c.dataset.uri == str(dark) and c.dataset is not first
        assert shown == [str(dark)]
        assert c.context is not None and c.context.dataset_id == c.dataset.id
        assert c.dataset.star is None  # a dark: no star, the cutout centred on the frame
    finally:
        c.close()


class PaintingViews(FakeViews):
    """Fake views with the window's ``hold_paint`` and ``after_paint``: the test paints."""

    def __init__(self):
        super().__init__()
        self.held: list[bool] = []
        self.panes.hold_paint = self.held.append
        self.waiting: list = []
        self.status.after_paint = self.waiting.append


def test_panes_are_painted_once_with_the_first_frame_and_work_follows_the_paint(small_set):
    views = PaintingViews()
    c, _, runner = deferred_controller(views)
    try:
        c.open(small_set["illuminated"])
        run_channel(runner, "open")
        assert views.held == [True]  # re-titled and re-ranged without painting
        run_channel(runner, "render")
        assert views.held == [True, False]  # painted with the first frame
        assert len(views.waiting) == 1 and "context" not in runner.submitted
        views.waiting.pop()()  # the panes painted
        assert "context" in {t.channel for t in runner.pending}
        runner.run_pending()
        assert c.context is not None
    finally:
        c.close()


# -- the real window ---------------------------------------------------------------------------

@pytest.mark.usefixtures("no_qt_leaks")
def test_window_after_open_shows_the_exposure_and_what_follows(qtbot, make_window, small_set):
    from PyQt6 import QtWidgets

    from brightstar_gui.widgets.compare import CompareWidget
    from processing.io import open_exposure

    w = make_window((1280, 800))
    bar = w.statusBar()
    height = bar.height()
    uri = small_set["illuminated"]
    with qtbot.waitSignals([w.exposure_opened, w.frame_rendered, w.context_loaded], timeout=WAIT, order="strict"):
        w.open_uri(str(uri))
    c = w.controller
    four = ("raw", "difference", "ratio", "mask")

    def all_drawn():
        # A render with the references can still lack the ratio (its mean slope follows): wait for the one with all four.
        r = w.last_render
        return (r is not None and not c.render_inflight and r.request.context is not None
                and all(k in r.panes and r.panes[k].rgba is not None for k in four))

    qtbot.waitUntil(all_drawn, timeout=WAIT)
    # The star where the generator put it; the title names the file.
    (r, col), (r0, c0) = c.dataset.star, small_set["star_center"]
    assert abs(r - r0) <= 2 and abs(col - c0) <= 2
    assert w.windowTitle().startswith(uri.name)
    # Every pane drawn from the file, the mask and ratio panes included (the deferred references).
    result = w.last_render
    assert all(result.panes[k].rgba is not None for k in four)
    with open_exposure(uri) as exp:
        y0, y1, x0, x1 = result.request.view
        np.testing.assert_array_equal(result.probe["frame"], np.asarray(exp.frame(result.request.frame))[y0:y1, x0:x1])
    assert "saturation" in c.context.references
    # The panes paint again (their hold released), and the list and the compare dock's darks follow.
    assert w.panes.graphics.updatesEnabled()
    darks = sorted(str(d) for d in small_set["darks"])
    combo = w.findChild(CompareWidget).other
    qtbot.waitUntil(lambda: sorted(combo.itemText(i) for i in range(combo.count())) == darks, timeout=WAIT)
    qtbot.waitUntil(lambda: w.browser.table.topLevelItemCount() == 1 + len(small_set["darks"]), timeout=WAIT)
    # Task rows came and went (opening, references, mean slope): the bar never changed height.
    assert bar.height() == height
    w.status_area.task_started("probe", "Probe")
    QtWidgets.QApplication.processEvents()
    assert bar.height() == height
    w.status_area.task_ended("probe")
