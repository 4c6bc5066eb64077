"""Regions, compare and sessions in the controller alone: fake views, the synchronous runner (deferred).

What a window cannot show reliably: a statistics result for a region that
has moved since, or for an exposure no longer open, is dropped; a compare
result of an old request is dropped; a restored session that fails its
checks leaves the controller exactly as it was.
"""

from __future__ import annotations

from test_controller import FakeViews  # noqa: F401 - tests/ is on the path (no __init__.py)

from brightstar_gui.controllers import SyncRunner, ViewerController
from processing.session_file import RegionShape, Session


class Recorder:
    def __init__(self):
        self.shapes, self.stats, self.compare = {}, [], []

    def set_regions(self, shapes):
        self.shapes = shapes

    def set_region_stats(self, rid, stats):
        self.stats.append((rid, stats))

    def set_compare(self, result, message=""):
        self.compare.append((result, message))


def opened(small_set, deferred=True):
    views = FakeViews()
    views.regions = views.compare = Recorder()
    runner = SyncRunner(deferred=deferred)
    c = ViewerController(views, runner)
    c.open(str(small_set["illuminated"]))
    runner.run_pending()  # open, context, and the rest
    assert c.context is not None
    return c, views, runner


def test_stale_region_results_are_dropped(small_set):
    c, views, runner = opened(small_set)
    try:
        rid = c.add_region(RegionShape("circle", x=40.0, y=50.0, radius=5.0))
        first = [t for t in runner.pending if t.channel == f"region:{rid}"][0]
        c.update_region(rid, RegionShape("circle", x=80.0, y=90.0, radius=6.0))  # moved before it finished
        assert first not in runner.pending  # the newer request cancelled it
        runner.run_one(first)  # it finishes anyway: not applied
        assert rid not in c.region_results
        runner.run_pending()
        assert c.region_results[rid].n_pixels == sum(1 for y in range(256) for x in range(256)
                                                     if (y - 90) ** 2 + (x - 80) ** 2 < 36)
        # The region's statistics are recomputed for raw -> another exposure; a late result for the old one is dropped.
        c.request_region_stats(rid)
        late = [t for t in runner.pending if t.channel == f"region:{rid}"][0]
        c.open(str(small_set["darks"][0]))
        runner.run_pending()
        runner.run_one(late)
        assert c.region_results[rid].n_pixels > 0 and views.regions.shapes == {rid: c.regions[rid]}
        assert views.regions.stats[-1][0] == rid and views.regions.stats[-1][1] is c.region_results[rid]
    finally:
        c.close()


def test_compare_only_while_active_and_newest_wins(small_set):
    c, views, runner = opened(small_set)
    try:
        assert not [t for t in runner.submitted if t == "compare"]  # nothing while the view is hidden
        c.compare_active = True
        c.set_compare("read", read=0)
        c.model.frame = 5
        c.model.frame = 6
        runner.run_pending()
        result = c.compare_result
        assert (result.request.frame_a, result.request.frame_b) == (6, 0)
        assert views.compare.compare[-1][0] is result
    finally:
        c.close()


def test_failed_restore_changes_nothing(small_set, tmp_path):
    c, views, runner = opened(small_set)
    try:
        c.add_region(RegionShape("circle", x=10.0, y=10.0, radius=3.0))
        c.model.frame = 2
        runner.run_pending()
        before = c.session_state(view=(0.0, 1.0, 0.0, 1.0))
        submitted = len(runner.submitted)
        bad = Session(exposures=(str(small_set["illuminated"]),), displays={"raw": {"scale": "cubic"}})
        assert not c.restore_session(bad, source="s.json")
        assert "s.json: display settings of the raw pane" in views.status.errors[-1]
        gone = Session(exposures=(str(tmp_path / "gone.asdf"),))
        assert not c.restore_session(gone, source="t.json")
        assert "gone.asdf no longer exist" in views.status.errors[-1]
        assert not runner.pending and len(runner.submitted) == submitted  # nothing opened, nothing asked
        assert c.session_state(view=(0.0, 1.0, 0.0, 1.0)) == before
    finally:
        c.close()
