"""Regions drawn on the panes and their per-read statistics (a mixin of :class:`ViewerController`).

The controller owns the shapes (:class:`~processing.session_file.RegionShape`,
by id); the view draws each on all four panes and reports moves and resizes
with :meth:`update_region`.  Every change of a shape, of the exposure, of its
references or of raw/calibrated asks for that region's statistics on its own
channel (``region:<id>``: a newer request for the same region cancels the
older one), and a result is applied only if the region still has that shape
in that exposure.  DS9 region files go through the ``regions`` package.

The optional ``views.regions`` view (:class:`RegionsView`) shows them; the
controller tests run without one.
"""

from __future__ import annotations

from typing import Any, Protocol

from processing.session_file import RegionShape

from ..jobs.region_stats import RegionStatsResult, region_stats_job, region_stats_request


class RegionsView(Protocol):
    def set_regions(self, shapes: dict[int, RegionShape]) -> None: ...
    def set_region_stats(self, region_id: int, stats: Any) -> None:
        """``stats``: a :class:`~processing.diagnostics.regionstats.RegionStats`, or None (being computed)."""


class RegionsMixin:
    def _init_regions(self) -> None:
        self.regions: dict[int, RegionShape] = {}
        self.region_results: dict[int, Any] = {}
        self._next_region_id = 1
        # Statistics wait for the references (the saturation test); until then the old ones are gone.
        self.add_hook("opened", lambda ds: self._forget_region_stats())
        self.add_hook("context", lambda ctx: self._refresh_regions())
        self.model.events.data_kind.connect(lambda *_: self._refresh_regions())

    @property
    def _regions_view(self) -> RegionsView | None:
        return getattr(self.views, "regions", None)

    # -- editing -----------------------------------------------------------------------
    def add_region(self, shape: RegionShape) -> int:
        """Add a region; returns its id."""
        rid = self._next_region_id
        self._next_region_id += 1
        self.regions[rid] = shape
        self._regions_changed()
        self.request_region_stats(rid)
        return rid

    def default_region(self, kind: str, row: int | None = None, col: int | None = None) -> RegionShape:
        """A region of ``kind`` about pixel (row, col) (default: the cutout's centre), sized to the cutout."""
        c = self.model.cutout
        r = float(max(4, min(24, c.half // 6)))
        y, x = float(c.row if row is None else row), float(c.col if col is None else col)
        if kind == "rectangle":
            # Whole pixels: rows row - r .. row + r - 1 (the ROI snaps to the pixel grid).
            return RegionShape("rectangle", x=x - 0.5, y=y - 0.5, width=2 * r, height=2 * r)
        if kind == "circle":
            return RegionShape("circle", x=x, y=y, radius=r)
        return RegionShape("annulus", x=x, y=y, inner=r, outer=2 * r)

    def update_region(self, region_id: int, shape: RegionShape) -> None:
        """The user moved or resized region ``region_id``."""
        if region_id not in self.regions or self.regions[region_id] == shape:
            return
        self.regions[region_id] = shape
        self._regions_changed()
        self.request_region_stats(region_id)

    def remove_region(self, region_id: int) -> None:
        self.runner.cancel(f"region:{region_id}")
        self.regions.pop(region_id, None)
        self.region_results.pop(region_id, None)
        self._regions_changed()

    def set_regions(self, shapes) -> None:
        """Replace every region with ``shapes`` (a loaded file, a restored session)."""
        for rid in list(self.regions):
            self.remove_region(rid)
        for shape in shapes:
            self.add_region(shape)

    # -- DS9 files -----------------------------------------------------------------------
    def load_regions(self, path: str) -> bool:
        """Add the regions of a DS9 file (image coordinates); an unusable file is a message, nothing changes."""
        from processing.diagnostics.regionstats import read_ds9

        try:
            shapes = [RegionShape.from_region(r) for r in read_ds9(path)]
        except ValueError as err:
            text = str(err) if str(path) in str(err) else f"{path}: {err}"
            self._error("Load regions", text)
            return False
        if not shapes:
            self._error("Load regions", f"{path}: no regions in the file")
            return False
        for shape in shapes:
            self.add_region(shape)
        self.views.status.flash(f"{len(shapes)} region(s) from {path}", 5000)
        return True

    def save_regions(self, path: str) -> bool:
        from processing.diagnostics.regionstats import write_ds9

        if not self.regions:
            self._error("Save regions", "there are no regions to save (Analysis > Add region at the cutout centre adds one)")
            return False
        try:
            write_ds9(path, [s.to_region() for s in self.regions.values()])
        except OSError as err:
            self._error("Save regions", f"{path}: {err.strerror or err}")
            return False
        self.views.status.flash(f"wrote {len(self.regions)} region(s) to {path}", 5000)
        return True

    def save_region_stats(self, path: str) -> bool:
        """Every region's statistics per read as one CSV (columns ``region, read, time_s, mean, ...``)."""
        import numpy as np

        from processing.commands._analysis_input import write_csv
        from processing.diagnostics.regionstats import STATS_COLUMNS

        done = {rid: s for rid, s in self.region_results.items() if rid in self.regions}
        if not done:
            self._error("Save region statistics", "no region statistics yet (add a region, wait for its plot)")
            return False
        times = None if self.dataset is None else self.dataset.primary.read_times
        cols: dict[str, list] = {"region": [], "read": [], "time_s": []}
        cols.update({name: [] for name in STATS_COLUMNS[1:]})
        for rid, stats in done.items():
            n = len(stats.read)
            cols["region"] += [rid] * n
            cols["read"] += list(stats.read)
            cols["time_s"] += list(np.full(n, np.nan) if times is None else np.asarray(times, float)[:n])
            for name in STATS_COLUMNS[1:]:
                cols[name] += list(getattr(stats, name))
        try:
            write_csv(path, {k: np.asarray(v) for k, v in cols.items()})
        except OSError as err:
            self._error("Save region statistics", f"{path}: {err.strerror or err}")
            return False
        self.views.status.flash(f"wrote the statistics of {len(done)} region(s) to {path}", 5000)
        return True

    # -- statistics ----------------------------------------------------------------------
    def request_region_stats(self, region_id: int) -> None:
        shape = self.regions.get(region_id)
        req = None if shape is None else region_stats_request(self, region_id, shape)
        if req is None:
            return
        self.region_results.pop(region_id, None)
        view = self._regions_view
        if view is not None:
            view.set_region_stats(region_id, None)

        def failed(err):
            view = self._regions_view
            if view is not None and self.regions.get(region_id) == shape:
                view.set_region_stats(region_id, err)

        self.submit(f"region:{region_id}", lambda token: region_stats_job(req), self._apply_region_stats,
                    tag=req.dataset_id, on_error=failed)

    def _apply_region_stats(self, result: RegionStatsResult) -> None:
        req = result.request
        if (self.dataset is None or req.dataset_id != self.dataset.id or self.regions.get(req.region_id) != req.shape
                or req.kind != self.model.data_kind):
            return  # stale: the region moved, or another exposure or data kind is shown
        self.region_results[req.region_id] = result.stats
        view = self._regions_view
        if view is not None:
            view.set_region_stats(req.region_id, result.stats)
        self.views.status.notify("region_stats", req.region_id)

    def _refresh_regions(self) -> None:
        for rid in list(self.regions):
            self.request_region_stats(rid)

    def _forget_region_stats(self) -> None:
        self.region_results.clear()
        view = self._regions_view
        for rid in self.regions:
            if view is not None:
                view.set_region_stats(rid, None)

    def _regions_changed(self) -> None:
        view = self._regions_view
        if view is not None:
            view.set_regions(dict(self.regions))
        # A growth plot counting a region follows it when it moves, resizes or goes.
        if self.diagnostics.growth_scope.startswith("region:"):
            self.request_growth()
