"""The controller's render cycle and playback (a mixin of :class:`ViewerController`).

Rendering: the visible part of the data region at screen resolution
(:meth:`render_view`), a frozen request (:meth:`build_render_request`), the
job on the ``render`` channel, and :meth:`_apply_render` on the UI thread.
Playback: :meth:`tick` advances only once the frame is on screen; the next
frame is rendered ahead on the ``ahead`` channel and its reads prefetched on
``prefetch``, both cancelled on a jump or a pause.  See the request cycle at
the top of :mod:`._viewer`.
"""

from __future__ import annotations

import math
import time

from processing.figures import PANES

from ..jobs.pane_value import kind_label
from ..jobs.render import PaneStyle, RenderRequest, RenderResult, prefetch_job, probe_values, render_job

#: Reads prefetched ahead during playback.
PREFETCH_FRAMES = 2
#: Distinct frames shown before the mapped file pages are released (bounded RSS).
FRAMES_BEFORE_RELEASE = 12


class RenderingMixin:
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
            styles=styles, flag_color=m.flag_color, subtract_superbias=self.superbias_applies(),
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
        for kind, pane in result.panes.items():
            panes.set_image(kind, pane.argb, pane.rect, pane.opaque)  # ARGB32: blitted as it is
            self.show_pane_decorations(kind, req, pane)  # title, colour bar (controllers/_display.py)
            panes.set_message(kind, pane.message if pane.rgba is None or pane.message else "")
            if pane.histogram is not None:
                self.views.status.set_pane_levels(kind, pane.levels, pane.histogram)
        if self._first_render:
            # The layout has settled by now: fit the data and draw at screen resolution.
            self._first_render = False
            self.reset_zoom()
        if self.hover_pixel is not None:
            self.hover(*self.hover_pixel)
        self.update_flag_marks()
        self._release_pages_now_and_then(req.frame)
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
            # The next frame is advanced by the slider's schedule (widgets/frame_slider.py),
            # which re-tries a due frame every millisecond while this one was on its way.

    def _release_pages_now_and_then(self, frame: int) -> None:
        """Every :data:`FRAMES_BEFORE_RELEASE` distinct frames shown, drop the mapped file pages.

        Scrubbing 55 full frames maps most of a 1.85 GB file into the process;
        ``release_pages`` (MADV_DONTNEED on a read-only file mapping) drops the
        page-table entries only -- the pages stay in the OS page cache, and
        arrays already handed out stay valid -- so the resident set stays as
        small as it was before the redesign.
        """
        seen = self.__dict__.setdefault("_frames_since_release", set())
        seen.add(frame)
        if len(seen) < FRAMES_BEFORE_RELEASE:
            return
        seen.clear()
        for exp in (self.dataset.raw, self.dataset.calibrated, self.attached.exposure if self.attached else None):
            release = getattr(exp, "release_pages", None)
            if release is not None:
                release()

    # -- playback --------------------------------------------------------------------
    def tick(self) -> None:
        """Advance one frame if the last one is on screen (called by the view's timer)."""
        m = self.model
        if not m.playing or self.dataset is None or self.render_inflight:
            return
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
        if not reads_are_remote(req):
            # A local read is a pread from the page cache (~1 ms for a cutout
            # band): reading it ahead saves the render job that much but wakes
            # one more thread every frame, which fights the UI thread for the GIL.
            return
        n = self.model.n_frames
        # The frame after this one is read by the render-ahead job; read the ones after it.
        frames = tuple((req.frame + i) % n for i in range(2, PREFETCH_FRAMES + 2))
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
        # Which values these are (raw, calibrated, raw - superbias): the same DN number means
        # different things, and the status bar is read without looking at the kind choice.
        probe = self.last_render.probe
        kind = kind_label(probe.get("kind", "raw"), "superbias" in probe)
        parts = [f"row {row}  col {col}", f"frame {v['frame']}", f"value {v['value']:.1f} DN ({kind})"]
        if "difference" in v:
            parts.append(f"diff {v['difference']:.1f} DN ({probe.get('kind', 'raw')})")
        if "ratio" in v:
            parts.append(f"ratio {v['ratio']:.3f}")
        if "mask" in v:
            parts.append(f"mask {v['mask']}")
        if "pixeldq" in v:
            from processing.diagnostics import decode_dq

            dq = v["pixeldq"]
            parts.append(f"DQ {'|'.join(decode_dq(dq)) if dq else 'GOOD'}")
        parts += getattr(self, "hover_parts", lambda r, c: [])(row, col)  # e.g. the onset map's value
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

def reads_are_remote(req: RenderRequest) -> bool:
    """The request's frames come over the network (S3: worth reading ahead)."""
    source = getattr(req.values, "source", None)
    return getattr(source, "stats", None) is not None


def _same(a: RenderRequest, b: RenderRequest) -> bool:
    """``a`` renders what ``b`` asks (the mean slope counts by presence: it never changes once known)."""
    return a == b and (a.mean_slope is None) == (b.mean_slope is None) and (a.superbias is None) == (b.superbias is None)
