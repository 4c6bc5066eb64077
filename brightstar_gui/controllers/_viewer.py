"""The viewer controller: owns the view model, the open exposure and the jobs.

The request cycle
-----------------
1. A user edit (a view writes the model: ``model.frame = 5``) or a finished
   job changes the :class:`~brightstar_gui.models.ViewModel`.
2. The model emits the field's event; the controller's handler asks for what
   that field affects: :meth:`request_render`, :meth:`request_pixel`,
   :meth:`ensure_summary`.  Inside ``model.batch()`` (opening a file) every
   field emits once, and the controller renders once.
3. ``request_render`` freezes everything the job needs into a
   :class:`~brightstar_gui.jobs.render.RenderRequest` (the frame, region,
   view and step, the pane styles, the dataset and its context, the mean
   slope) and submits :func:`~brightstar_gui.jobs.render.render_job` to the
   runner's ``render`` channel, tagged with the dataset's id.  A newer
   request cancels the one in flight (the runner delivers only the newest
   generation of a channel).
4. The job runs in a worker thread, reads only the rows and columns the view
   shows, and returns a frozen :class:`~brightstar_gui.jobs.render.RenderResult`.
5. :meth:`_apply_render` runs on the UI thread; a result for another
   dataset is dropped; the panes view uploads the RGBA images.  While
   playing, the next frames' reads are prefetched (bounded, cancelled on a
   jump).

Opening another exposure cancels every job tagged with the old dataset
(exports and calibrations are detached: they finish with the old exposure,
which is closed when they end, and their results are not applied to the new
one).  Every job error reaches :meth:`_error`, the one error sink.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from processing.figures import PANES

from ..jobs import opening
from ..jobs.reads import RegionReads
from ..jobs.render import PaneStyle, RenderRequest, RenderResult, lut, prefetch_job, probe_values, render_job
from ..models import Cutout, ViewModel
from ._analysis import AnalysisMixin
from ._protocols import Views
from ._runner import JobRunner

#: Long tasks shown with a progress row and a cancel button.
TASK_TITLES = {"open": "Opening", "context": "Reference files", "summary": "Mean slope", "calibrate": "Calibration",
               "demo": "Demo data", "scan": "Scanning", "export": "Export", "attach": "Calibrated ramp"}
#: Channels whose jobs use the open dataset and are cancelled when another is opened.
DATASET_CHANNELS = ("render", "ahead", "prefetch", "pixel", "hover", "summary", "context", "cached", "attach")
#: Reads prefetched ahead during playback.
PREFETCH_FRAMES = 2


@dataclass(frozen=True)
class StartOptions:
    """What the command line asks of the first exposure (``brightstar-gui URI --frame ...``)."""

    frame: int | None = None
    cutout: tuple[int, int, int] | None = None  # row, col, half
    full_frame: bool = False
    calibrated: bool = False
    play_fps: float | None = None


class ViewerController(AnalysisMixin):
    """Opens exposures, renders the panes of the model's state, runs the analyses.

    Parameters
    ----------
    views : Views
        ``panes``, ``ramp`` and ``status`` (protocols in :mod:`._protocols`).
    runner : JobRunner
    model : ViewModel, optional
    endpoint_url : str, optional
        S3 endpoint for ``s3://`` URIs.
    trace : callable ``(event, **fields)``, optional
        Receives "opened", "rendered" and "error" events (``--trace``).
    """

    def __init__(self, views: Views, runner: JobRunner, model: ViewModel | None = None,
                 endpoint_url: str | None = None, trace=None, cutout_half: int = 256):
        self.views = views
        self.runner = runner
        self.model = model or ViewModel()
        self.endpoint_url = endpoint_url
        self.trace = trace
        self.cutout_half = cutout_half
        self.references_override: dict | None = None
        self.dataset: opening.Dataset | None = None
        self.context: opening.Context | None = None
        self.attached: opening.Attached | None = None
        self.superbias = None
        self.summaries: list = []
        self.last_render: RenderResult | None = None
        self.render_inflight = False
        self.hover_pixel: tuple[int, int] | None = None
        self.start_options: StartOptions | None = None
        self._reads = RegionReads()
        self._retired: list[opening.Dataset] = []
        self._first_render = True
        self._render_times: deque[float] = deque(maxlen=90)
        self._hold_render = False
        self._ahead: tuple[RenderRequest, RenderResult | None] | None = None
        self._waiting_for_ahead = False
        self._last_advance = 0.0
        self._applying = False
        # Colour tables come from matplotlib, whose import takes a second or
        # more: build the default ones in the pool now, not in the first render.
        self.runner.submit("warm", lambda token: warm_job(self.model.displays))
        ev = self.model.events
        for name in ("frame", "baseline", "displays", "flag_color", "subtract_superbias"):
            ev[name].connect(self._on_render_field)
        ev.data_kind.connect(self._on_data_kind)
        ev.cutout.connect(self._on_cutout)
        ev.selected_pixel.connect(self._on_selected_pixel)
        ev.frame.connect(self._on_frame)
        ev.playing.connect(self._on_playing)

    # -- jobs ------------------------------------------------------------------------
    def submit(self, channel: str, job, on_done=None, *, on_progress=None, on_cancel=None, on_error=None,
               tag=None, task: bool = False, queue: bool = False) -> int:
        """Run ``job(token)`` on ``channel``; errors go to the one error sink (then ``on_error``)."""
        status = self.views.status
        title = TASK_TITLES.get(channel, channel)
        if task:
            status.task_started(channel, title)

        def done(result):
            if task:
                status.task_ended(channel)
            if on_done is not None:
                on_done(result)

        def progress(fraction, message):
            if task:
                status.task_progress(channel, fraction, message)
            if on_progress is not None:
                on_progress(fraction, message)

        def cancelled():
            if task:
                status.task_ended(channel)
                status.flash(f"{title} cancelled", 5000)
            if on_cancel is not None:
                on_cancel()

        def failed(err):
            if task:
                status.task_ended(channel)
            self._error(title, err)
            if on_error is not None:
                on_error(err)

        return self.runner.submit(channel, job, on_done=done, on_progress=progress, on_cancel=cancelled,
                                  on_error=failed, tag=tag, queue=queue)

    def cancel_task(self, channel: str) -> None:
        self.runner.cancel(channel)

    def _error(self, what: str, err: BaseException | str) -> None:
        """The one place errors go: the status view's message box, and the trace."""
        text = str(err) if not isinstance(err, BaseException) else (str(err) or type(err).__name__)
        self.views.status.show_error(what, text, getattr(err, "__traceback_text__", None))
        self._trace("error", what=what, message=text)

    def _trace(self, event: str, **fields: Any) -> None:
        if self.trace is not None:
            self.trace(event, **fields)

    # -- opening ---------------------------------------------------------------------
    def open(self, uri: str, options: StartOptions | None = None) -> None:
        """Open an exposure in the background (local path or s3://)."""
        uri = str(uri)
        self.start_options = options
        req = opening.OpenRequest(uri, self.endpoint_url, self.references_override)
        self.views.status.flash(f"opening {uri}")
        self._open_t0 = time.perf_counter()
        self.submit("open", lambda token: opening.open_job(req), self._on_opened, task=True)

    def _on_opened(self, ds: opening.Dataset) -> None:
        self._retire()
        self.dataset = ds
        self._reads = RegionReads()
        self._trace("opened", uri=ds.uri, shape=list(ds.shape), model_type=ds.primary.model_type,
                    seconds=round(time.perf_counter() - getattr(self, "_open_t0", time.perf_counter()), 4))
        n, h, w = ds.shape
        self.views.panes.clear()
        self._hold_render = True  # the batch's events ask for one render, made below
        try:
            with self.model.batch():
                self.model.reset_for(n, (h, w), ds.star, half=self.cutout_half)
                self._apply_start_options(ds)
        finally:
            self._hold_render = False
        self.views.status.set_exposure(ds.uri, ds.primary.meta, ds.primary.read_times)
        self.views.status.set_references("references: loading...")
        self._first_render = True
        self._apply_region(auto_range=True)
        self.views.status.notify("opened", ds.uri)
        req = opening.ContextRequest(ds, self.endpoint_url)
        self.submit("context", lambda token: opening.context_job(req), self._on_context, tag=ds.id, task=True)

    def _apply_start_options(self, ds: opening.Dataset) -> None:
        opts = self.start_options
        if opts is None:
            return
        m = self.model
        if opts.frame is not None:
            m.frame = opts.frame
        if opts.cutout is not None:
            row, col, half = opts.cutout
            m.cutout = Cutout(row, col, half, True)
        if opts.full_frame:
            m.cutout = replace(m.cutout, enabled=False)
        if ds.calibrated is not None and ds.raw is None:
            m.calibrated_available = True
            m.data_kind = "calibrated"

    def _retire(self) -> None:
        """Cancel the old dataset's jobs; close its exposures unless a detached job still uses them."""
        old = self.dataset
        if old is not None:
            self.runner.cancel_tag(old.id, keep=("export", "calibrate"))
            for channel in DATASET_CHANNELS:
                self.views.status.task_ended(channel)
            self._retired.append(old)
            if self.attached is not None:
                self._retired.append(self.attached)
        self.dataset = self.context = self.attached = None
        self._ahead = None
        self._waiting_for_ahead = False
        self.superbias = None
        self.summaries = []
        self.last_render = None
        self.render_inflight = False
        self._close_retired()

    def _close_retired(self) -> None:
        if self.runner.busy("export"):
            return  # an export in flight still reads them; closed when it ends
        for item in self._retired:
            for exp in (getattr(item, "raw", None), getattr(item, "calibrated", None), getattr(item, "exposure", None)):
                if exp is not None:
                    try:
                        exp.close()
                    except Exception:  # noqa: BLE001 - closing must not fail an open
                        pass
        self._retired.clear()

    def _on_context(self, ctx: opening.Context) -> None:
        ds = self.dataset
        if ds is None or ctx.dataset_id != ds.id:
            return  # another exposure was opened meanwhile
        self.context = ctx
        used = ", ".join(sorted(ctx.references)) or "none"
        self.views.status.set_references(f"references ({ctx.references_from or 'not found'}): {used}")
        for note in ctx.notes:
            self.views.status.flash(note, 10000)
        if ds.raw is not None:
            req = opening.CachedRequest(ds.id, ds.uri, dict(ctx.references), self.endpoint_url)
            self.submit("cached", lambda token: opening.cached_calibration_job(req), self._on_cached, tag=ds.id)
        self.request_render()
        self.ensure_summary()
        self.request_pixel()
        self.views.status.notify("context_loaded", ds.uri)

    def _on_cached(self, found: tuple[int, Path | None]) -> None:
        ds_id, path = found
        if self.dataset is None or self.dataset.id != ds_id:
            return
        if path is not None:
            self.views.status.flash(f"using the cached calibration {path.name}", 5000)
            self.attach_calibrated(path)
        elif self.start_options is not None and self.start_options.calibrated:
            self.start_calibration()

    def close(self) -> None:
        """Cancel everything, join the workers and close the files (the window is closing)."""
        self.model.playing = False
        self.runner.shutdown()
        self._retire()
        self._retired_busy_ok = True
        for item in self._retired:
            for exp in (getattr(item, "raw", None), getattr(item, "calibrated", None), getattr(item, "exposure", None)):
                if exp is not None:
                    exp.close()
        self._retired.clear()

    # -- model events ----------------------------------------------------------------
    def _on_render_field(self, *_: Any) -> None:
        self.request_render()

    def _on_data_kind(self, *_: Any) -> None:
        self.request_render()
        self.ensure_summary()
        self.request_pixel()

    def _on_cutout(self, cutout: Cutout, old: Cutout | None = None) -> None:
        toggled = old is not None and cutout.enabled != old.enabled
        self._apply_region(auto_range=cutout.enabled or toggled)
        self.ensure_summary()

    def _on_selected_pixel(self, pixel, *_: Any) -> None:
        self.views.panes.set_selected(pixel)
        self.request_pixel()

    def _on_frame(self, k: int, *_: Any) -> None:
        self.views.ramp.set_frame(k)

    def _on_playing(self, playing: bool, *_: Any) -> None:
        self._render_times.clear()
        if not playing:
            self.runner.cancel("prefetch")
            self._drop_ahead()
            self.views.status.set_playback_rate(None)
            self.request_render()  # with the histogram playback leaves out

    def _apply_region(self, auto_range: bool) -> None:
        if self.dataset is None:
            return
        h, w = self.model.frame_shape
        self.views.panes.set_cutout_rect(self.model.cutout.region((h, w)))
        self.views.panes.set_data_bounds(self.model.region(), auto_range=auto_range)
        self.request_render()

    def center_on_star(self) -> None:
        if self.dataset is not None and self.dataset.star is not None:
            r, c = self.dataset.star
            self.model.cutout = replace(self.model.cutout, row=r, col=c)

    def toggle_cutout(self) -> None:
        self.model.cutout = replace(self.model.cutout, enabled=not self.model.cutout.enabled)

    def reset_zoom(self) -> None:
        self.views.panes.set_data_bounds(self.model.region(), auto_range=True)

    # -- rendering -------------------------------------------------------------------
    def values_source(self, kind: str):
        ds = self.dataset
        if kind == "calibrated":
            if self.attached is not None:
                return self.attached.exposure
            if ds.calibrated is not None:
                return ds.calibrated
        return ds.primary

    def calibrated_exposure(self):
        if self.attached is not None:
            return self.attached.exposure
        return self.dataset.calibrated if self.dataset is not None else None

    def render_view(self, region) -> tuple[tuple[int, int, int, int], int]:
        """Part of ``region`` to draw (visible area plus margin) and the pixel step."""
        y0, y1, x0, x1 = region
        vis = self.views.panes.visible()
        fallback = (region, max(1, math.ceil(max(y1 - y0, x1 - x0) / 1024)))
        if vis is None:
            return fallback
        (vy0, vy1, vx0, vx1), per_px = vis
        if not all(map(math.isfinite, (vy0, vy1, vx0, vx1, per_px))) or per_px <= 0:
            return fallback
        step = max(1, int(per_px))
        my, mx = 0.5 * (vy1 - vy0), 0.5 * (vx1 - vx0)
        ry0, ry1 = max(y0, int(math.floor(vy0 - my))), min(y1, int(math.ceil(vy1 + my)))
        rx0, rx1 = max(x0, int(math.floor(vx0 - mx))), min(x1, int(math.ceil(vx1 + mx)))
        if ry1 <= ry0 or rx1 <= rx0:
            return fallback
        # Align to the step so that re-rendering a moved view keeps the pixel grid.
        ry0 = y0 + (ry0 - y0) // step * step
        rx0 = x0 + (rx0 - x0) // step * step
        return (ry0, ry1, rx0, rx1), step

    def build_render_request(self, frame: int | None = None, histogram_pane: str | None = None) -> RenderRequest:
        m = self.model
        styles = tuple((k, PaneStyle(d.mode, d.low, d.high, d.vmin, d.vmax, d.cmap, d.scale))
                       for k, d in ((k, m.displays[k]) for k in PANES))
        region = m.region()
        view, step = self.render_view(region)
        summary = self.summary_for(m.data_kind, region)
        k = m.frame if frame is None else frame
        sat_box = "unknown"
        onset = next((s for s in self.summaries if s.onset_boxes is not None and s.covers(s.kind, view)), None)
        if onset is not None:
            sat_box = onset.saturated_box(k)
        return RenderRequest(
            dataset=self.dataset, context=self.context, values=self.values_source(m.data_kind), kind=m.data_kind,
            frame=k, baseline=m.baseline, region=region, view=view, step=step, saturated_box=sat_box,
            styles=styles, flag_color=m.flag_color, subtract_superbias=m.subtract_superbias and self.superbias is not None,
            mean_slope=None if summary is None else summary.mean_slope_of(region),
            superbias=self.superbias,
            # No histogram during playback: the controls show it when paused.
            histogram_pane="" if m.playing else (histogram_pane or getattr(self, "histogram_pane", None)),
            reads=self._reads,
        )

    def request_render(self) -> None:
        """Ask for the panes of the current state (the newest request wins).

        During playback the next frame is already being rendered ahead
        (:meth:`_render_ahead`): if that is the request, its result is used
        (now, or when it arrives) instead of a new job.
        """
        ds = self.dataset
        if ds is None or self._hold_render:
            return
        req = self.build_render_request()
        ahead = self._ahead
        if ahead is not None and _same(ahead[0], req):
            self.render_inflight = True
            if ahead[1] is not None:
                self._ahead = None
                self._apply_render(ahead[1])
            else:
                self._waiting_for_ahead = True
            return
        self._drop_ahead()
        self.render_inflight = True
        self.submit("render", lambda token: render_job(req, token), self._apply_render, tag=ds.id,
                    on_cancel=self._render_dropped, on_error=lambda err: self._render_dropped())

    def _render_dropped(self) -> None:
        self.render_inflight = False

    def _render_ahead(self, shown: RenderRequest) -> None:
        """Playing: start rendering the frame after ``shown`` now, in parallel with uploading this one."""
        n = self.model.n_frames
        req = self.build_render_request(frame=(shown.frame + 1) % n)
        self._ahead = (req, None)
        self._waiting_for_ahead = False

        def done(result: RenderResult):
            if self._ahead is None or self._ahead[0] is not req:
                return
            if self._waiting_for_ahead:
                self._ahead = None
                self._waiting_for_ahead = False
                self._apply_render(result)
            else:
                self._ahead = (req, result)

        def dropped(*_):
            if self._ahead is not None and self._ahead[0] is req:
                self._ahead = None
                if self._waiting_for_ahead:
                    self._waiting_for_ahead = False
                    self.render_inflight = False
                    self.request_render()

        self.submit("ahead", lambda token: render_job(req, token), done, tag=self.dataset.id, on_cancel=dropped,
                    on_error=dropped)

    def _drop_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead = None
            self._waiting_for_ahead = False
            self.runner.cancel("ahead")

    def _apply_render(self, result: RenderResult) -> None:
        req = result.request
        if self.dataset is None or req.dataset is not self.dataset:
            return  # stale: for an exposure no longer open
        self.last_render = result
        self.render_inflight = False
        panes = self.views.panes
        titles = {
            "raw": "Raw frame" + (" - superbias" if req.subtract_superbias else ""),
            "difference": f"Difference: frame - frame {req.baseline}",
            "ratio": "Frame slope / mean slope",
            "mask": "Saturated (3) / 4-neighbour (2) / diagonal (1)",
        }
        cal = " (calibrated)" if req.kind == "calibrated" else ""
        for kind, pane in result.panes.items():
            style = req.style(kind)
            panes.set_image(kind, pane.rgba, pane.rect)
            panes.set_colorbar(kind, lut(style.cmap, style.scale), pane.levels)
            panes.set_message(kind, pane.message if pane.rgba is None or pane.message else "")
            panes.set_title(kind, titles[kind] + (cal if kind != "mask" else ""))
            if pane.histogram is not None:
                self.views.status.set_pane_levels(kind, pane.levels, pane.histogram)
        if self._first_render:
            # The layout has settled by now: fit the data and draw at screen resolution.
            self._first_render = False
            self.reset_zoom()
        if self.hover_pixel is not None:
            self.hover(*self.hover_pixel)
        now = time.monotonic()
        self._trace("rendered", frame=req.frame, data_kind=req.kind,
                    panes={k: list(req.view) for k, p in result.panes.items() if p.rgba is not None},
                    bytes_fetched=self.bytes_fetched(), seconds=round(result.seconds, 5))
        self.views.status.notify("rendered", result)
        if self.model.playing:
            self._render_times.append(now)
            self.views.status.set_playback_rate(self.achieved_rate())
            self._render_ahead(req)
            self._prefetch(req)
            # Advance as soon as the frame is due, not at the timer's next tick
            # (not from inside a nested apply: a result ready at once would recurse).
            if not self._applying and now - self._last_advance >= 1.0 / self.model.fps - 0.002:
                self._applying = True
                try:
                    self.tick()
                finally:
                    self._applying = False

    # -- playback --------------------------------------------------------------------
    def tick(self) -> None:
        """Advance one frame if the last one is on screen (called by the view's timer)."""
        m = self.model
        if not m.playing or self.dataset is None or self.render_inflight:
            return
        self._last_advance = time.monotonic()
        m.frame = (m.frame + 1) % m.n_frames if m.n_frames else 0

    def achieved_rate(self) -> float | None:
        """Frames put on screen per second during playback, over the last ~1.5 s."""
        t = self._render_times
        if len(t) < 3:
            return None
        recent = [x for x in t if x >= t[-1] - 1.5]
        if len(recent) < 3:
            recent = list(t)[-3:]
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    def _prefetch(self, req: RenderRequest) -> None:
        n = self.model.n_frames
        frames = tuple((req.frame + i) % n for i in range(1, PREFETCH_FRAMES + 1))
        self.submit("prefetch", lambda token: prefetch_job(req, frames, token), tag=req.dataset.id)

    def bytes_fetched(self) -> int:
        """Bytes fetched from S3 for the open exposure so far (0 for local files)."""
        ds = self.dataset
        total = 0
        for exp in (ds.primary if ds else None, self.attached.exposure if self.attached else None):
            stats = getattr(getattr(exp, "source", None), "stats", None)
            if stats is not None:
                total += int(stats.snapshot()["bytes_fetched"])
        return total

    def fetch_text(self) -> str:
        ds = self.dataset
        stats = getattr(getattr(ds.primary, "source", None), "stats", None) if ds is not None else None
        if stats is None:
            return ""
        snap = stats.snapshot()
        return (f"S3: {snap['bytes_fetched'] / 1e6:,.1f} MB in {snap['requests']} requests"
                f" (+{snap['cache_bytes'] / 1e6:,.1f} MB from cache)")

    # -- hover -----------------------------------------------------------------------
    def hover(self, row: int, col: int) -> None:
        """Status-bar readout of the pixel under the mouse ((-1, -1): none)."""
        self.hover_pixel = (row, col) if row >= 0 else None
        status = self.views.status
        if row < 0 or self.last_render is None:
            status.set_hover_text("")
            return
        v = probe_values(self.last_render, row, col)
        if v is None:
            status.set_hover_text(f"row {row}  col {col}")
            return
        parts = [f"row {row}  col {col}", f"frame {v['frame']}", f"value {v['value']:.1f} DN"]
        if "difference" in v:
            parts.append(f"diff {v['difference']:.1f} DN")
        if "ratio" in v:
            parts.append(f"ratio {v['ratio']:.3f}")
        if "mask" in v:
            parts.append(f"mask {v['mask']}")
        if "pixeldq" in v:
            from processing.diagnostics import decode_dq

            dq = v["pixeldq"]
            parts.append(f"DQ {'|'.join(decode_dq(dq)) if dq else 'GOOD'}")
        status.set_hover_text("   ".join(parts))

    def view_changed(self) -> None:
        """The visible area changed: re-render if what is drawn no longer covers it at screen resolution."""
        if self.dataset is None or self.last_render is None:
            return
        req = self.last_render.request
        view, step = self.render_view(req.region)
        y0, y1, x0, x1 = req.view
        covered = view[0] >= y0 and view[1] <= y1 and view[2] >= x0 and view[3] <= x1
        vis = self.views.panes.visible()
        need = step
        if not covered or need < req.step or need >= 2 * req.step or vis is None:
            self.request_render()

    def references_folder(self, folder: str) -> dict:
        """Use the reference files in ``folder`` (reopens the exposure); raises ValueError if unusable."""
        from processing import figures

        refs = figures.references_in_folder(folder)
        if "saturation" not in refs:
            raise ValueError(f"{folder} has no roman_wfi_saturation_*.asdf")
        self.references_override = refs
        if self.dataset is not None:
            self.open(self.dataset.uri)
        return refs

    def dark_candidates(self) -> list[str]:
        ds = self.dataset
        if ds is None or "://" in ds.uri:
            return []
        from processing import synth

        for parent in list(Path(ds.uri).resolve().parents)[:5]:
            manifest = synth.read_manifest(parent)
            if manifest is not None:
                return [str(parent / d) for d in manifest.get("darks", []) if (parent / d).exists()]
        return []


def _same(a: RenderRequest, b: RenderRequest) -> bool:
    """``a`` renders what ``b`` asks (the mean slope counts by presence: it never changes once known)."""
    return a == b and (a.mean_slope is None) == (b.mean_slope is None) and (a.superbias is None) == (b.superbias is None)


def warm_job(displays: dict) -> int:
    """Build the colour tables of ``displays`` and import the diagnostics (the first render's slow parts)."""
    import processing.diagnostics  # noqa: F401 - scipy.ndimage, needed by the first open

    for d in displays.values():
        lut(d.cmap, d.scale)
    return len(displays)
