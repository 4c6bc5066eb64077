"""The controller's analyses: mean slope, pixel ramps, calibration, export.

A mixin of :class:`~brightstar_gui.controllers.ViewerController`, kept apart
so each file stays readable; it uses the controller's ``submit``, ``model``,
``dataset``, ``context`` and ``views``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from processing import figures
from processing.figures import PANES

from ..jobs import opening
from ..jobs.export import ExportRequest, export_job
from ..jobs.pixel import PixelRequest, pixel_job
from ..jobs.summary import SummaryRequest, summary_job

#: Mean-slope summaries kept per dataset (a full-frame one serves every cutout).
MAX_SUMMARIES = 4


class AnalysisMixin:
    # -- mean slope ------------------------------------------------------------------
    def summary_for(self, kind: str, region):
        for s in self.summaries:
            if s.covers(kind, region):
                return s
        return None

    def mean_slope(self, kind: str, region):
        s = self.summary_for(kind, region)
        return None if s is None else s.mean_slope_of(region)

    def ensure_summary(self, full: bool = False) -> None:
        """Compute the mean slope of the shown region (or the full frame) if not known."""
        ds, ctx = self.dataset, self.context
        if ds is None or ctx is None or ctx.saturation is None:
            return
        kind = self.model.data_kind
        h, w = self.model.frame_shape
        region = (0, h, 0, w) if full else self.model.region()
        if self.summary_for(kind, region) is not None:
            return
        req = SummaryRequest(ds.id, kind, region, self.values_source(kind), ctx)

        def progress(fraction, message):
            if self.diagnostics.onset_pane == "ratio":
                return  # the onset map covers the ratio pane: the progress is in the status bar
            self.views.panes.set_message("ratio", f"computing the mean slope... {fraction * 100:.0f}%")

        self.submit("summary", lambda token: summary_job(req), self._apply_summary, on_progress=progress,
                    tag=ds.id, task=True)

    def _apply_summary(self, result) -> None:
        if self.dataset is None or result.dataset_id != self.dataset.id:
            return
        h, w = self.model.frame_shape
        others = [s for s in self.summaries if (s.kind, s.region) != (result.kind, result.region)]
        fulls = [s for s in others if s.region == (0, h, 0, w)]
        cutouts = [s for s in others if s.region != (0, h, 0, w)]
        self.summaries = [result] + fulls + cutouts[: max(0, MAX_SUMMARIES - 1 - len(fulls))]
        self.request_render()
        self.request_pixel()
        self.views.status.notify("summary_ready")

    # -- pixel ramps -----------------------------------------------------------------
    def request_pixel(self) -> None:
        ds, pixel = self.dataset, self.model.selected_pixel
        if ds is None or pixel is None or self._hold_render:
            return
        row, col = int(pixel[0]), int(pixel[1])
        req = PixelRequest(ds, self.context, self.calibrated_exposure(), row, col, self._known_slopes(row, col))
        self.submit("pixel", lambda token: pixel_job(req), self._apply_pixel, tag=ds.id)

    def _known_slopes(self, row: int, col: int) -> dict:
        """Mean slopes of (row, col) from the summaries, kind -> DN/frame.

        Only where the pixel lies inside a summary's region, off its border:
        there its 4-neighbours, which the saturation rule looks at, were in
        the summary too, and the value is the one the 3 x 3 job would compute.
        """
        out = {}
        for kind in ("raw", "calibrated"):
            s = self.summary_for(kind, (row - 1, row + 2, col - 1, col + 2))
            if s is not None:
                out[kind] = float(s.mean_slope_of((row, row + 1, col, col + 1))[0, 0])
        return out

    def _apply_pixel(self, ramps) -> None:
        if self.dataset is None or self.model.selected_pixel != (ramps.row, ramps.col):
            return
        self.last_ramps = ramps
        self.views.ramp.set_ramps(ramps.as_dict(), self.model.frame)
        self.views.status.notify("ramp_plotted", ramps)

    # -- calibration -----------------------------------------------------------------
    def start_calibration(self) -> None:
        ds = self.dataset
        if ds is None:
            self._error("Calibration", "open an exposure first")
            return
        if ds.raw is None:
            self.views.status.flash("this file is already a calibrated ramp", 5000)
            return
        if self.calibrated_exposure() is not None:
            self.model.data_kind = "calibrated"
            return
        refs = dict(self.context.references) if self.context is not None else None
        uri, endpoint, ds_id = ds.uri, self.endpoint_url, ds.id

        def done(result):
            path = getattr(result, "path", result)
            self.views.status.flash(f"calibrated ramp: {path}", 8000)
            if self.dataset is not None and self.dataset.id == ds_id:
                self.attach_calibrated(path)

        self.submit("calibrate", lambda token: opening.calibration_job(uri, refs or None, endpoint), done, tag=ds_id,
                    task=True, on_cancel=lambda: self.views.status.notify("calibration_finished", False),
                    on_error=lambda err: self.views.status.notify("calibration_finished", False))

    def attach_calibrated(self, path, show: bool = True) -> None:
        """Use the calibrated ramp at ``path`` for this exposure; ``show``: switch the panes to it.

        A ramp found in the cache is only made available (``show=False``): the panes
        switching to calibrated DN a minute after opening, under a user clicking raw
        pixels, changed every number on screen unasked.
        """
        ds = self.dataset
        req = opening.AttachRequest(ds.id, Path(path), ds.shape)

        def done(att: opening.Attached):
            if self.dataset is None or att.dataset_id != self.dataset.id:
                att.exposure.close()
                return
            if self.attached is not None:
                self._retired.append(self.attached)
                self._close_retired()
            self.attached = att
            if att.pixeldq is not None and self.context is not None:
                from dataclasses import replace

                self.context = replace(self.context, pixeldq=att.pixeldq, bad=opening.readonly(att.pixeldq != 0))
            self.summaries = [s for s in self.summaries if s.kind != "calibrated"]
            self.model.calibrated_available = True
            if show:
                self.model.data_kind = "calibrated"
            self.request_pixel()
            self.views.status.notify("calibration_finished", True)

        self.submit("attach", lambda token: opening.attach_job(req), done, tag=ds.id, task=True,
                    on_error=lambda err: self.views.status.notify("calibration_finished", False))

    # (the superbias: controllers/_superbias.py)

    # -- export ----------------------------------------------------------------------
    def figure_data(self) -> figures.FigureData:
        ds, ctx, m = self.dataset, self.context, self.model
        region = m.region()
        det = ds.primary.get_meta("instrument.detector") or ""
        title = f"SCA {det[3:].lstrip('0')}" if det.startswith("WFI") else det
        return figures.FigureData(
            frames=self.values_source(m.data_kind), raw=None if ctx is None else ctx.sat_source, region=region,
            sat_dn=None if ctx is None or ctx.saturation is None else ctx.saturation.sat_dn,
            pixeldq=None if ctx is None else ctx.pixeldq, mean_slope=self.mean_slope(m.data_kind, region), title=title,
            superbias=self.superbias if self.superbias_applies() else None,
            data_kind="calibrated" if m.data_kind == "calibrated" and self.calibrated_exposure() is not None else "raw",
            # The exposure the user opened names the figure (the calibrated ramp's cache file is a
            # hash: "SCA 11 - frame 27 - 063066b1...asdf"); the titles say calibrated DN, and the
            # sidecar records the calibrated file (export settings, "calibrated_file").
            source=ds.uri,
            references={k: str(v) for k, v in (ctx.references if ctx is not None else {}).items()},
        )

    def export(self, kind: str, path: str, pane: str = "difference", frames: list[int] | None = None,
               ramp: dict | None = None, on_progress=None, on_done=None, on_error=None, overwrite: bool = False,
               size: dict | None = None) -> int:
        """Export in the background (detached from later openings); ``on_done(path)`` when written.

        An existing file is kept (the export fails) unless ``overwrite``: the
        dialog asks first.  ``size``: ``dpi`` / ``width`` of a figure (the
        export dialog's size settings).
        """
        ds = self.dataset
        if ds is None:
            self._error("Export", "open an exposure first")
            return -1
        m = self.model
        specs = {}
        for k in PANES:
            d = m.displays[k]
            levels = (d.vmin, d.vmax) if d.mode == "manual" else None
            # A flag colour the user picked is kept; otherwise files get the one the
            # screen shows, chosen outside the colour map (pane_colours).
            flag = None if m.flag_color is None else (*m.flag_color, 255)
            specs[k] = figures.PaneSpec(k, cmap=d.cmap, scale=d.scale, levels=levels, percentiles=(d.low, d.high),
                                        flag_color=flag)
        n = m.n_frames
        frames = [f for f in (frames or figures.default_frames(n)) if 0 <= f < n]
        last = self.last_render
        region = m.region()
        times = ds.primary.read_times
        req = ExportRequest(
            kind=kind, path=Path(path), data=self.figure_data(), pane=pane, specs=specs, frame=m.frame,
            baseline=m.baseline, frames=frames, ramp=ramp, cube_source=self.values_source(m.data_kind), region=region,
            overwrite=overwrite, raw_source=ds.raw, calibrated_source=self.calibrated_exposure(), **(size or {}),
            pinned=list(m.pinned_pixels),
            meta={"source": ds.uri, "kind": m.data_kind, "read_times": None if times is None else [float(t) for t in times]},
            settings={"uri": ds.uri, "kind": m.data_kind, "frame": m.frame, "baseline": m.baseline, "region": region,
                      "calibrated_file": (str(self.attached.path) if self.attached is not None and m.data_kind == "calibrated"
                                          else None),
                      "frames": frames, "displays": {k: _plain(v) for k, v in m.displays.items()},
                      "levels": {k: p.levels for k, p in (last.panes.items() if last else [])},
                      "references": {k: str(v) for k, v in (self.context.references if self.context else {}).items()}},
        )

        def done(out):
            self.views.status.flash(f"wrote {out}", 8000)
            if on_done is not None:
                on_done(out)
            self.views.status.notify("export_finished", str(out))
            self._close_retired()

        def ended(*_):
            self._close_retired()

        # Queued: a second export waits for the first instead of cancelling it (a figure
        # the user asked for was silently never written).
        return self.submit("export", lambda token: export_job(req), done, on_progress=on_progress, task=True,
                           tag=ds.id, on_cancel=ended, queue=True,
                           on_error=lambda err: (on_error(err) if on_error else None, ended()))


def _plain(v: Any) -> dict:
    return {f: getattr(v, f) for f in v.__dataclass_fields__}
