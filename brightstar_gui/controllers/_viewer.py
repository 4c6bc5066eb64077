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

import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..jobs import opening
from ..jobs.reads import RegionReads
from ..models.pacing import FrameFollower
from ..jobs.render import RenderRequest, RenderResult, lut
from ..models import Cutout, ViewModel
from ._display import DisplayMixin
from ._first_frame import FirstFrameMixin
from ._analysis import AnalysisMixin
from ._compare import CompareMixin
from ._diagnostics import DiagnosticsMixin
from ._navigation import NavigationMixin
from ._regions import RegionsMixin
from ._session import SessionMixin
from ._rendering import RenderingMixin
from ._superbias import SuperbiasMixin
from ._protocols import Views
from ._references_wait import ReferencesWaitMixin
from ._runner import JobRunner

#: Long tasks shown with a progress row and a cancel button.
TASK_TITLES = {"open": "Opening", "context": "Reference files", "summary": "Mean slope", "calibrate": "Calibration",
               "demo": "Demo: first look", "darks": "Demo: darks", "scan": "Scanning", "export": "Export", "attach": "Calibrated ramp",
               "verify": "Checksums", "analysis": "Saturation growth + onset", "growth": "Saturation growth",
               "profile": "Radial profile"}
#: Channels whose jobs use the open dataset and are cancelled when another is opened.
DATASET_CHANNELS = ("render", "ahead", "prefetch", "pixel", "hover", "summary", "context", "cached", "attach",
                    "verify", "analysis", "growth", "profile", "profile_at", "onset_image", "contours", "pins")


@dataclass(frozen=True)
class StartOptions:
    """What the command line asks of the first exposure (``brightstar-gui URI --frame ...``)."""

    frame: int | None = None
    cutout: tuple[int, int, int] | None = None  # row, col, half
    full_frame: bool = False
    calibrated: bool = False
    play_fps: float | None = None


class ViewerController(FirstFrameMixin, DisplayMixin, ReferencesWaitMixin, DiagnosticsMixin, RenderingMixin, SuperbiasMixin,
                       AnalysisMixin, NavigationMixin, RegionsMixin, SessionMixin, CompareMixin):
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
        self.superbias_detector: str | None = None
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
        #: Running and queued task jobs per channel: a channel's task row goes with its last one.
        self._task_counts: dict[str, int] = {}
        # Colour tables come from matplotlib, whose import takes a second or
        # more: build the default ones in the pool now, not in the first render.
        self.runner.submit("warm", lambda token: warm_job(self.model.displays))
        ev = self.model.events
        for name in ("frame", "baseline", "displays", "flag_color", "subtract_superbias"):
            ev[name].connect(self._on_render_field)
        ev.data_kind.connect(self._on_data_kind)
        ev.cutout.connect(self._on_cutout)
        ev.selected_pixel.connect(self._on_selected_pixel)
        # The ramp's frame line and readout: paced while playing (models.pacing).
        self._ramp_follower = FrameFollower(self.model, self._on_frame)
        ev.playing.connect(self._on_playing)
        self.install_display_rules()
        self._install_diagnostics()
        self._hooks: dict[str, list] = {}
        self._init_first_frame()
        self._init_regions()
        self._init_session()
        self._init_compare()

    # -- jobs ------------------------------------------------------------------------
    def submit(self, channel: str, job, on_done=None, *, on_progress=None, on_cancel=None, on_error=None,
               tag=None, task: bool = False, queue: bool = False) -> int:
        """Run ``job(token)`` on ``channel``; errors go to the one error sink (then ``on_error``)."""
        status = self.views.status
        title = TASK_TITLES.get(channel, channel)
        # Queued jobs of one channel share its task row: it goes when the last of them ends.
        counts = self._task_counts
        if task:
            status.task_started(channel, title)
            counts[channel] = (counts.get(channel, 0) + 1) if queue else 1

        def task_ended():
            counts[channel] = max(counts.get(channel, 1) - 1, 0)
            if not counts[channel]:
                status.task_ended(channel)

        def done(result):
            if task:
                task_ended()
            if on_done is not None:
                on_done(result)

        def progress(fraction, message):
            if task:
                status.on_task_progress(channel, fraction, message)
            if on_progress is not None:
                on_progress(fraction, message)

        def cancelled():
            if task:
                task_ended()
                status.flash(f"{title} cancelled", 5000)
            if on_cancel is not None:
                on_cancel()

        def failed(err):
            if task:
                task_ended()
            self._error(title, err)
            if on_error is not None:
                on_error(err)

        return self.runner.submit(channel, job, on_done=done, on_progress=progress, on_cancel=cancelled,
                                  on_error=failed, tag=tag, queue=queue)

    def add_hook(self, event: str, hook) -> None:
        """Call ``hook(arg)`` after ``event``: "opened" (the Dataset), "shown" (the Dataset, once its
        first panes are on screen: for views the first paint does not need), "context" (the Context)."""
        self._hooks.setdefault(event, []).append(hook)

    def remove_hook(self, event: str, hook) -> None:
        if hook in self._hooks.get(event, ()):
            self._hooks[event].remove(hook)

    def _run_hooks(self, event: str, arg) -> None:
        for hook in list(self._hooks.get(event, ())):  # a hook may remove itself
            hook(arg)

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
        self.hold_panes(True)  # painted once, with the first frame (controllers/_first_frame.py)
        self.views.panes.clear()
        self._hold_render = True  # the batch's events ask for one render, made below
        try:
            with self.model.batch():
                self.model.reset_for(n, (h, w), ds.star, half=self.cutout_half)
                self._apply_start_options(ds)
        finally:
            self._hold_render = False
        self._keep_superbias_for(ds)
        self.views.status.set_exposure(ds.uri, ds.primary.meta, ds.read_times)
        if ds.star is None and ds.star_note:
            self.views.status.flash(ds.star_note, 10000)  # a dark: "no source", not a noise pixel
        self.views.status.set_references("references: loading...")
        self._first_render = True
        self._apply_region(auto_range=True)
        self.views.status.notify("opened", ds.uri)
        self._run_hooks("opened", ds)
        if self._references_pending == ds.uri:
            self.views.status.set_references("references: being written...")
        else:
            # After the first panes, not racing them for the CPU (controllers/_first_frame.py).
            self.after_first_frame(lambda: self._load_context(ds))
        self.after_first_frame(lambda: self._run_hooks("shown", ds))

    def _load_context(self, ds: opening.Dataset) -> None:
        if ds is not self.dataset or self.context is not None or getattr(self, "_context_asked", None) == ds.id:
            return  # another exposure is open, or its context is loaded or on the way
        self._context_asked = ds.id
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
        self._drop_first_frame_work()  # before cancelling: a dropped render runs that work
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
        self.summaries = []  # the superbias stays: it belongs to a detector (_keep_superbias_for)
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
        self.refresh_diagnostics()
        self.views.status.notify("context_loaded", ds.uri)
        self._run_hooks("context", ctx)

    def _on_cached(self, found: tuple[int, Path | None]) -> None:
        ds_id, path = found
        if self.dataset is None or self.dataset.id != ds_id:
            return
        if path is not None:
            asked = self.start_options is not None and self.start_options.calibrated
            self.views.status.flash("a calibrated ramp of this exposure is in the cache: choose "
                                    "'show: calibrated' in the Display dock to see it" if not asked else f"using the cached calibration {path.name}", 10000)
            self.attach_calibrated(path, show=asked or self.model.data_kind == "calibrated")
        elif self.start_options is not None and self.start_options.calibrated:
            self.start_calibration()

    def close(self) -> None:
        """Cancel everything, join the workers and close the files (the window is closing)."""
        self.model.playing = False
        self.runner.shutdown()
        self._run_hooks("close", None)
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

    def _on_frame(self, k: int) -> None:
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
        ds = self.dataset
        if ds is not None and ds.star is None:
            self.views.status.flash(ds.star_note or "no star found in this exposure", 8000)
        if ds is not None and ds.star is not None:
            r, c = ds.star
            self.model.cutout = replace(self.model.cutout, row=r, col=c)

    def toggle_cutout(self) -> None:
        self.model.cutout = replace(self.model.cutout, enabled=not self.model.cutout.enabled)

    def reset_zoom(self) -> None:
        self.views.panes.set_data_bounds(self.model.region(), auto_range=True)

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
                # A demo set lists dark paths; a campaign manifest lists {"path", "detector", ...}.
                darks = [d["path"] if isinstance(d, dict) else d for d in manifest.get("darks", [])]
                return [str(parent / d) for d in darks if (parent / d).exists()]
        return []



def warm_job(displays: dict) -> int:
    """Build the colour tables of ``displays`` and import the diagnostics (the first render's slow parts)."""
    import processing.diagnostics  # noqa: F401 - scipy.ndimage, needed by the first open

    for d in displays.values():
        lut(d.cmap, d.scale)
    return len(displays)
