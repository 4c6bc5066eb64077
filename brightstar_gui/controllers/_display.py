"""Display rules of the controller (a mixin of :class:`ViewerController`).

* pane titles and colour bars: the stretch as drawn (log and asinh bars
  with their ticks), the mask's four categories, and the legend of the
  colours that are not data -- DQ-flagged and undefined pixels, one colour
  each, chosen by :func:`processing.pane_colours.screen_colours` exactly as
  for figure files;
* levels over the visible area when the user asks (``stretch_visible``):
  the request's ``level_region`` follows zoom and pan;
* the overlay of DQ-flagged positions (``flag_overlay``): at full frame a
  screen pixel is many data pixels and a block is drawn flagged only when
  most of it is (:func:`processing.panes.flag_blocks`), so isolated flagged
  pixels are ringed instead (as many as leave the image visible, :data:`RING_SPACING`; beyond
  that the status bar says how many, and zooming in rings them).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from processing import pane_colours
from processing.panes import flag_positions, markable_flags

from ..jobs.render import RenderRequest, lut
from ..models.titles import pane_title


#: Most flagged pixels ringed at once (more would cover the view).
MAX_MARKS = 3000
#: Screen pixels between rings, on average, at the most (a 7-px ring every 24 px).
RING_SPACING = 24


class DisplayMixin:
    def install_display_rules(self) -> None:
        """Follow the model's display switches (called once from ``__init__``)."""
        ev = self.model.events
        ev.stretch_visible.connect(lambda *_: self.request_render())
        ev.flag_overlay.connect(lambda *_: self.update_flag_marks(force=True))
        self._flag_marks_key = None

    # -- the request -------------------------------------------------------------------------
    def build_render_request(self, frame: int | None = None, histogram_pane: str | None = None) -> RenderRequest:
        req = super().build_render_request(frame, histogram_pane)
        box = self.visible_level_region(req.region)
        return req if box is None else replace(req, level_region=box)

    def visible_level_region(self, region):
        """The visible part of ``region`` (whole pixels) when levels follow the view, else None."""
        if not self.model.stretch_visible:
            return None
        vis = self.views.panes.visible()
        if vis is None:
            return None
        (vy0, vy1, vx0, vx1), _ = vis
        if not all(map(math.isfinite, (vy0, vy1, vx0, vx1))):
            return None
        y0, y1, x0, x1 = region
        box = (max(y0, math.floor(vy0)), min(y1, math.ceil(vy1)), max(x0, math.floor(vx0)), min(x1, math.ceil(vx1)))
        if box[1] - box[0] < 2 or box[3] - box[2] < 2 or box == tuple(region):
            return None
        return box

    def view_changed(self) -> None:
        super().view_changed()
        last = self.last_render
        if last is not None and self.model.stretch_visible and not self.render_inflight:
            if self.visible_level_region(last.request.region) != last.request.level_region:
                self.request_render()
        self.update_flag_marks()

    # -- what a render result shows besides its pixels -------------------------------------------------
    def show_pane_decorations(self, kind: str, req: RenderRequest, pane) -> None:
        """Title and colour bar of pane ``kind`` for the result of ``req``."""
        panes = self.views.panes
        style = req.style(kind)
        panes.set_title(kind, pane_title(kind, req.kind, req.baseline, req.subtract_superbias))
        if pane.histogram is None:
            # The controls start manual levels from the levels in force of every pane,
            # not only of the one whose histogram they show.
            self.views.status.set_pane_levels(kind, pane.levels, None)
        if kind == "mask":
            panes.set_categories(kind, pane_colours.mask_colours(style.cmap), pane_colours.MASK_LABELS)
            return
        flag, nan = pane_colours.screen_colours(style.cmap, req.flag_color)
        panes.set_colorbar(kind, lut(style.cmap, style.scale), pane.levels, style.scale,
                           (("DQ flag", flag), ("NaN", nan)))

    def update_flag_marks(self, force: bool = False) -> None:
        """Ring the DQ-flagged pixels in view, reference pixels aside (or hide the rings)."""
        panes = self.views.panes
        ctx = self.context
        dq = None if ctx is None else ctx.pixeldq
        if not self.model.flag_overlay or dq is None or self.dataset is None:
            if force or self._flag_marks_key is not None:
                self._flag_marks_key = None
                panes.set_flag_marks(None)
            return
        region = self.model.region()
        vis = panes.visible()
        limit = MAX_MARKS
        if vis is not None:
            (vy0, vy1, vx0, vx1), per_px = vis
            if per_px > 0 and math.isfinite(per_px):
                # About one ring per RING_SPACING^2 screen pixels: denser rings hide the image.
                screen = (vx1 - vx0) * (vy1 - vy0) / per_px**2
                limit = int(min(MAX_MARKS, max(20, screen / RING_SPACING**2)))
            y0, y1, x0, x1 = region
            if all(map(math.isfinite, (vy0, vy1, vx0, vx1))):
                region = (max(y0, math.floor(vy0)), min(y1, math.ceil(vy1)), max(x0, math.floor(vx0)),
                          min(x1, math.ceil(vx1)))
        if getattr(self, "_markable", (None, None))[0] is not dq:
            self._markable = (dq, markable_flags(dq))
        bad = self._markable[1]
        colours = {k: pane_colours.screen_colours(d.cmap, self.model.flag_color)[0]
                   for k, d in self.model.displays.items()}
        key = (id(bad), region, tuple(sorted(colours.items())))
        if key == self._flag_marks_key and not force:
            return
        self._flag_marks_key = key
        if region[1] <= region[0] or region[3] <= region[2]:
            panes.set_flag_marks(None)
            return
        y0, y1, x0, x1 = region
        n = int(np.count_nonzero(np.asarray(bad[y0:y1, x0:x1])))
        if n > limit:
            # Rings of thousands of hot pixels would carpet the frame: say how many, zoom in to see them.
            panes.set_flag_marks(None)
            self.views.status.flash(f"{n:,} DQ-flagged pixels in view: zoom in to ring them (up to {limit:,} here)",
                                    5000)
            return
        panes.set_flag_marks(flag_positions(bad, region, limit), colours)
