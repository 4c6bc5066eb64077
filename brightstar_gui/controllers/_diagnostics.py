"""The controller's saturation diagnostics: growth plot, onset pane and contours, radial profile, pins.

A mixin of :class:`~brightstar_gui.controllers.ViewerController` (pins in its base, :mod:`._pins`), placed
before :class:`._rendering.RenderingMixin` in its bases so that it can keep
the pane chosen for the onset map out of the render requests and draw that
pane itself after every render.  Each analysis is a job of
:mod:`brightstar_gui.jobs` (frozen request, frozen result) running the
CLI's own function; results carry the dataset id and what they were asked
for, and one no longer wanted (another exposure, data kind, cutout or
frame) is dropped.  The views are optional attributes of ``views``
(``growth``, ``profile``, ``pins``, ``onset_overlay``; protocols in
:mod:`._protocols`): a view that is missing or hidden (``active()`` False)
costs nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

from ..jobs.growth import GrowthRequest, GrowthResult, growth_job, saturation_frames
from ..jobs.onset import NEVER_NAME, ContoursRequest, OnsetImageRequest, contours_job, onset_image_job, onset_lut
from ..jobs.profile import ProfilePrep, ProfileRequest, profile_at_job, profile_prep_job
from ..models.diagnostics import DiagnosticsModel
from ..models.pacing import FrameFollower
from ._pins import PinsMixin

#: Cutout growth results kept per exposure (a full-frame one is kept besides).
MAX_GROWTHS = 8
RESTART_HINT = "Analysis > Saturation diagnostics starts it again"
#: Two lines as the panes' own titles (name, then what the values are); one line was clipped at 1280 px.
ONSET_TITLE = f"Onset map\nfirst saturated read, {NEVER_NAME}: never"


class DiagnosticsMixin(PinsMixin):
    def _install_diagnostics(self) -> None:
        self.diagnostics = DiagnosticsModel()
        self._growths: dict[tuple, GrowthResult] = {}
        self._onsets: dict[tuple[int, str], tuple[int, Any]] = {}  # (dataset, kind) -> (serial, OnsetMap)
        self._serial = itertools.count(1)
        self._analysis_key: tuple | None = None
        self._profile_prep: ProfilePrep | None = None
        self._profile_key: tuple | None = None
        self._onset_image_key: tuple | None = None
        self.last_onset_image = None
        self.last_contours = None
        self.last_pins = None
        self.last_profile = None
        ev = self.model.events
        # Growth marker and star profile: paced while playing (models.pacing).
        self._diag_follower = FrameFollower(self.model, self._diag_on_frame)
        ev.baseline.connect(lambda *_: self.request_profile())
        ev.data_kind.connect(lambda *_: self.refresh_diagnostics())
        ev.cutout.connect(lambda *_: (self.request_growth(), self.request_contours()))
        ev.pinned_pixels.connect(lambda *_: self.request_pins())
        d = self.diagnostics.events
        d.onset_pane.connect(self._on_onset_pane)
        d.contour_reads.connect(lambda *_: self.request_contours())
        d.growth_scope.connect(lambda *_: self.request_growth())
        d.profile_kind.connect(lambda *_: self._show_profile())

    def _view(self, name: str, need_active: bool = False):
        view = getattr(self.views, name, None)
        if view is None or (need_active and not view.active()):
            return None
        return view

    def refresh_diagnostics(self) -> None:
        """Ask for every analysis a shown view needs (references loaded, kind changed, a dock shown)."""
        self.request_growth()
        self.request_onset_views()
        self.request_profile()
        self.request_pins()

    def _saturation_input(self, kind: str):
        return saturation_frames(self.dataset, self.context, self.calibrated_exposure(), kind)

    def _ready(self) -> bool:
        return self.dataset is not None and self.context is not None

    # -- saturation growth (and the full-frame onset map) -------------------------------------
    def growth_region(self):
        """What the growth plot counts: None (full frame), the cutout's box, or ``("region", id, shape)``.

        A drawn region (the controller's ``regions``, id -> shape with
        ``to_region()``) that no longer
        exists falls back to the cutout.
        """
        scope = self.diagnostics.growth_scope
        if scope == "full":
            return None
        if scope.startswith("region:"):
            rid = int(scope.split(":", 1)[1])
            shape = self.regions.get(rid)
            if shape is not None:
                return ("region", rid, shape)
        return self.model.cutout.region(self.model.frame_shape)

    def growth_scopes(self) -> list[tuple[str, str]]:
        """(label, scope) choices for the growth plot: cutout, full frame, then each drawn region."""
        out = [("cutout", "cutout"), ("full frame", "full")]
        for rid, shape in sorted(self.regions.items()):
            out.append((f"region {rid} ({shape.kind})", f"region:{rid}"))
        return out

    def request_growth(self) -> None:
        view = self._view("growth", need_active=True)
        if view is None or not self._ready():
            if view is not None and self.dataset is not None:
                # Open, references still loading: not "open an exposure".
                view.set_message("loading reference files (the saturation test needs them)...")
            return
        key = (self.dataset.id, self.model.data_kind, self.growth_region())
        if key in self._growths:
            self._show_growth(self._growths[key])
            return
        self._run_growth(key, view)

    def _run_growth(self, key: tuple, view=None) -> None:
        ds_id, kind, region = key
        try:
            frames, thresholds = self._saturation_input(kind)
        except ValueError as err:
            if view is not None:
                view.set_message(str(err))
            return
        if region is None:
            if self._analysis_key == key and self.runner.busy("analysis"):
                return  # the full-frame pass is already running (for the onset map)
            self._analysis_key = key
        if view is not None:
            view.set_message("computing the saturation growth of the "
                             + _scope_text(region) + "...")
        req = GrowthRequest(ds_id, kind, region, frames, thresholds, self.dataset.primary.read_times)

        def dropped(*_):
            if region is None and self._analysis_key == key:
                self._analysis_key = None
            if view is not None and key == (ds_id, self.model.data_kind, self.growth_region()):
                view.set_message(f"not computed: {RESTART_HINT}")

        self.submit("analysis" if region is None else "growth", lambda token: growth_job(req), self._apply_growth,
                    tag=ds_id, task=True, on_cancel=dropped, on_error=dropped)

    def _apply_growth(self, result: GrowthResult) -> None:
        req = result.request
        if self.dataset is None or req.dataset_id != self.dataset.id:
            return  # for an exposure no longer open
        key = (req.dataset_id, req.kind, req.region)
        if req.region is None:
            self._analysis_key = None
        cutouts = [k for k in self._growths if k[2] is not None and k != key]
        for old in cutouts[: max(0, len(cutouts) - MAX_GROWTHS + 1)]:
            del self._growths[old]
        self._growths[key] = result
        if result.onset is not None:
            self._onsets[(req.dataset_id, req.kind)] = (next(self._serial), result.onset)
            self.request_onset_views()
        if key == (self.dataset.id, self.model.data_kind, self.growth_region()):
            self._show_growth(result)
        self.views.status.notify("growth_ready", result)

    def _show_growth(self, result: GrowthResult) -> None:
        view = self._view("growth")
        if view is None:
            return
        view.set_growth(result.growth, f"{_scope_text(result.request.region, boxes=True)} ({result.request.kind})")
        view.set_frame(self.model.frame)
        self.last_growth = result

    def _diag_on_frame(self, k: int) -> None:
        view = self._view("growth")
        if view is not None:
            view.set_frame(k)
        self._show_profile()

    # -- onset map: a pane, and contours over the raw pane ------------------------------------
    def onset_map(self):
        """The full-frame :class:`~processing.diagnostics.onset.OnsetMap` of the shown kind, or None."""
        if self.dataset is None:
            return None
        found = self._onsets.get((self.dataset.id, self.model.data_kind))
        return None if found is None else found[1]

    def request_onset_views(self) -> None:
        self._update_onset_pane()
        self.request_contours()

    def _ensure_onset(self) -> bool:
        """True if the onset map is known; otherwise start the full-frame pass that makes it."""
        if self.onset_map() is not None:
            return True
        if self._ready():
            self._run_growth((self.dataset.id, self.model.data_kind, None))
        return False

    def build_render_request(self, frame=None, histogram_pane=None):
        req = super().build_render_request(frame, histogram_pane)
        pane = self.diagnostics.onset_pane
        if pane:
            req = replace(req, panes=tuple(p for p in req.panes if p != pane))
        return req

    def _apply_render(self, result) -> None:
        super()._apply_render(result)
        if self.diagnostics.onset_pane and self.dataset is not None and result.request.dataset is self.dataset:
            self._update_onset_pane()

    def _on_onset_pane(self, pane: str, old: str = "") -> None:
        self._onset_image_key = None
        self.request_render()  # gives the old pane back its own content
        self._update_onset_pane()

    def _update_onset_pane(self) -> None:
        pane = self.diagnostics.onset_pane
        if not pane or self.dataset is None:
            return
        panes = self.views.panes
        if self.onset_map() is None:
            panes.set_image(pane, None, (0.0, 0.0, 1.0, 1.0))
            panes.set_title(pane, ONSET_TITLE)
            panes.set_message(pane, "computing the onset map..." if self._ready() else "loading reference files...")
            self._ensure_onset()  # this method runs again when the map arrives
            return
        serial, onset = self._onsets[(self.dataset.id, self.model.data_kind)]
        if self.last_render is not None:
            view, step = self.last_render.request.view, self.last_render.request.step
        else:
            view, step = self.render_view(self.model.region())
        key = (serial, view, step, pane)
        if key == self._onset_image_key:
            # The onset map is on screen: a render's message for the pane it covers
            # ("computing the mean slope...") is not about it.
            panes.set_message(pane, "")
            return
        self._onset_image_key = key
        req = OnsetImageRequest(onset.onset, serial, view, step, self.model.n_frames)

        def done(image):
            current = self._onsets.get((self.dataset.id, self.model.data_kind)) if self.dataset else None
            if current is None or current[0] != image.request.onset_id or self.diagnostics.onset_pane != pane:
                return
            self.last_onset_image = image
            panes.set_image(pane, image.rgba, image.rect)
            panes.set_colorbar(pane, onset_lut(), image.levels)
            panes.set_title(pane, ONSET_TITLE)
            panes.set_message(pane, "")
            self.views.status.notify("onset_shown", image)

        self.submit("onset_image", lambda token: onset_image_job(req), done, tag=self.dataset.id)

    def hover_parts(self, row: int, col: int) -> list[str]:
        """The hover readout's onset entry while the onset map is shown (pane or contours)."""
        d = self.diagnostics
        onset = self.onset_map() if d.onset_pane or d.contour_reads else None
        if onset is None or not (0 <= row < onset.onset.shape[0] and 0 <= col < onset.onset.shape[1]):
            return []
        v = float(onset.onset[row, col])
        return ["onset: never saturated" if v != v else f"onset read {int(v)}"]

    def request_contours(self) -> None:
        overlay = self._view("onset_overlay")
        if overlay is None or self.dataset is None:
            return
        n = self.model.n_frames
        reads = tuple(k for k in self.diagnostics.contour_reads if k < n)
        if not reads:
            self.last_contours = None
            overlay.set_contours({})
            return
        if not self._ensure_onset():
            return
        serial, onset = self._onsets[(self.dataset.id, self.model.data_kind)]
        req = ContoursRequest(onset.onset, serial, self.model.region(), reads)

        def done(result):
            current = self._onsets.get((self.dataset.id, self.model.data_kind)) if self.dataset else None
            if (current is None or current[0] != result.request.onset_id or result.request.region != self.model.region()
                    or result.request.reads != tuple(k for k in self.diagnostics.contour_reads if k < n)):
                return
            self.last_contours = result
            overlay.set_contours(result.lines)

        self.submit("contours", lambda token: contours_job(req), done, tag=self.dataset.id)

    # -- radial profile ---------------------------------------------------------------------
    def request_profile(self) -> None:
        view = self._view("profile", need_active=True)
        if view is None or not self._ready():
            return
        kind = self.model.data_kind
        key = (self.dataset.id, kind, self.model.baseline)
        if self._profile_key == key:
            self._show_profile()
            return
        self._profile_key = key
        self._profile_prep = None
        try:
            frames, thresholds = self._saturation_input(kind)
        except ValueError as err:
            view.set_message(str(err))
            return
        req = ProfileRequest(self.dataset.id, kind, self.model.baseline, self.values_source(kind), frames, thresholds)
        view.set_message("finding the star and reading the box about it...")

        def done(prep: ProfilePrep):
            r = prep.request
            if self.dataset is None or (r.dataset_id, r.kind, r.baseline) != self._profile_key:
                return
            self._profile_prep = prep
            self._show_profile()

        def dropped(*_):
            if self._profile_key == key:
                self._profile_key = None
                view.set_message(f"not computed: {RESTART_HINT}")

        self.submit("profile", lambda token: profile_prep_job(req), done, tag=self.dataset.id, task=True,
                    on_cancel=dropped, on_error=dropped)

    def _show_profile(self) -> None:
        prep, view = self._profile_prep, self._view("profile", need_active=True)
        if prep is None or view is None:
            return
        if prep.profiles is None:
            self.last_profile = None
            view.set_message(prep.no_source if prep.no_source.startswith("no source")
                             else f"no source: {prep.no_source}")
            return
        k = self.model.frame

        def done(profile):
            # Playing, a profile a few frames old is shown (the dock follows at most
            # every DOCK_PLAYBACK_INTERVAL); paused, only the frame on screen's.
            if self._profile_prep is not prep or (self.model.frame != profile.read and not self.model.playing):
                return
            self.last_profile = profile
            view.set_profile(profile, self.diagnostics.profile_kind)
            self.views.status.notify("profile_shown", profile)

        self.submit("profile_at", lambda token: profile_at_job(prep, k), done, tag=self.dataset.id)


def _scope_text(region, boxes: bool = False) -> str:
    if region is None:
        return "full frame"
    if region[0] == "region":
        return f"region {region[1]} ({getattr(region[2], 'kind', 'shape')})"
    if not boxes:
        return "cutout"
    y0, y1, x0, x1 = region
    return f"cutout rows {y0}:{y1}, cols {x0}:{x1}"
