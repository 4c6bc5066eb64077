"""Navigation: go to a pixel, the pixel table, and what the panes' context menu does.

A mixin of :class:`~brightstar_gui.controllers.ViewerController` (it uses the
controller's ``model``, ``dataset``, ``context``, ``submit``, ``views`` and
``values_source``).  Two optional views join the controller's (``views``):

``navigator`` (:class:`NavigatorView`)
    Centres and zooms the linked panes (the window's view boxes).
``pixel_table`` (:class:`PixelTableView`)
    Shows a :class:`~brightstar_gui.jobs.pixel_table.PixelTable`.

:meth:`start_navigation` connects the model's events (the window calls it
once its views exist; the controller tests call it with fakes).  The table
follows the frame, the data kind, the superbias subtraction, the selected
pixel and -- when the view asks (``follow_cursor``) -- the pixel under the
mouse; each change submits :func:`~brightstar_gui.jobs.pixel_table.pixel_table_job`
on the ``pixeltable`` channel (the newest request wins), never reading on
the UI thread.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Protocol

from ..jobs.pane_value import fmt_value, kind_label, pane_value_job, pane_value_request
from ..jobs.pane_value import value_text as pane_value_text
from ..jobs.pixel_table import PixelTable, PixelTableRequest, pixel_table_job
from ..jobs.render import probe_values
from ..models.pacing import DOCK_PLAYBACK_INTERVAL, FrameFollower


class NavigatorView(Protocol):
    """The panes' shared view: centre and zoom."""

    def span(self) -> tuple[float, float] | None:
        """Visible (height, width) in data pixels, or None before the panes are laid out."""

    def center_on(self, row: int, col: int, span: tuple[float, float] | None = None) -> None:
        """Centre the view on pixel (row, col), keeping the zoom (or showing ``span``)."""


class PixelTableView(Protocol):
    follow_cursor: bool

    def set_table(self, table: PixelTable | None) -> None: ...


class NavigationMixin:
    # -- wiring ------------------------------------------------------------------------
    def start_navigation(self) -> None:
        """Follow the model's fields that change the pixel table (call once the views exist)."""
        ev = self.model.events
        for name in ("data_kind", "selected_pixel", "subtract_superbias"):
            ev[name].connect(self._on_table_field)
        # Playing, the table follows the frame at most every DOCK_PLAYBACK_INTERVAL
        # seconds (the docks' one pace): 81 cells (and their headers, which re-lay out the window)
        # refilled at 60 Hz cost more than the frame itself, and nobody reads them.
        self._table_follower = FrameFollower(self.model, lambda _k: self.request_pixel_table(),
                                             DOCK_PLAYBACK_INTERVAL)
        ev.playing.connect(self._on_table_field)  # paused: the table shows the frame on screen
        self._table_key = None
        self._table_hover: tuple[int, int] | None = None

    def _on_table_field(self, *_: Any) -> None:
        self.request_pixel_table()

    # -- go to -------------------------------------------------------------------------
    def go_to_pixel(self, row: int, col: int) -> None:
        """Select pixel (row, col) and centre the panes on it, keeping the zoom.

        In cutout mode the cutout is moved to centre on the pixel first.

        Raises
        ------
        ValueError
            No exposure is open, or the pixel is off the detector (the
            message gives the valid ranges).
        """
        m = self.model
        if self.dataset is None:
            raise ValueError("open an exposure first")
        h, w = m.frame_shape
        row, col = int(row), int(col)
        if not (0 <= row < h and 0 <= col < w):
            raise ValueError(f"pixel (row {row}, col {col}) is off the detector: rows are 0-{h - 1}, "
                             f"columns 0-{w - 1}")
        nav = getattr(self.views, "navigator", None)
        span = nav.span() if nav is not None else None
        m.selected_pixel = (row, col)
        if m.cutout.enabled:
            self.set_cutout_centre(row, col)  # re-fits the view to the moved cutout
        if nav is not None:
            nav.center_on(row, col, span)

    def set_cutout_centre(self, row: int, col: int) -> None:
        """Move the cutout to centre on (row, col) (clamped to the detector by the model)."""
        self.model.cutout = replace(self.model.cutout, row=int(row), col=int(col))

    # -- pixel table -------------------------------------------------------------------
    def table_hover(self, row: int, col: int) -> None:
        """The mouse is over pixel (row, col) ((-1, -1): left the data): the table may follow it."""
        self._table_hover = (row, col) if row >= 0 else None
        view = getattr(self.views, "pixel_table", None)
        if view is not None and view.follow_cursor:
            self.request_pixel_table()

    def table_target(self) -> tuple[int, int] | None:
        """The table's centre: the pixel under the mouse when following it, else the selected pixel."""
        view = getattr(self.views, "pixel_table", None)
        hover = getattr(self, "_table_hover", None)
        if view is not None and view.follow_cursor and hover is not None:
            return hover
        return self.model.selected_pixel

    def pixel_table_request(self, row: int, col: int, half: int | None = None) -> PixelTableRequest:
        """A frozen request for the box around (row, col) of the frame, data kind and subtraction shown."""
        m, ds, ctx = self.model, self.dataset, self.context
        # What the values are: a calibrated ramp opened on its own is calibrated whatever the kind says.
        kind = "calibrated" if ds.raw is None or (m.data_kind == "calibrated" and self.calibrated_exposure()
                                                   is not None) else "raw"
        superbias = self.superbias if self.superbias_applies() and kind == "raw" else None
        extra = {} if half is None else {"half": int(half)}
        return PixelTableRequest(ds.id, self.values_source(kind), kind, m.frame, int(row), int(col),
                                 tuple(m.frame_shape), None if ctx is None else ctx.pixeldq, superbias, **extra)

    def request_pixel_table(self) -> None:
        view = getattr(self.views, "pixel_table", None)
        if view is None or self.dataset is None or self._hold_render:
            return
        target = self.table_target()
        if target is None:
            view.set_table(None)
            return
        req = self.pixel_table_request(*target)
        key = (req.dataset_id, req.kind, req.frame, req.row, req.col, req.pixeldq is not None,
               req.superbias is not None)
        if key == getattr(self, "_table_key", None):
            return  # already shown or on its way (hover moves within a pixel)
        self._table_key = key
        self.submit("pixeltable", lambda token: pixel_table_job(req), self._apply_pixel_table, tag=req.dataset_id,
                    on_cancel=self._forget_table_key, on_error=lambda err: self._forget_table_key())

    def _forget_table_key(self) -> None:
        self._table_key = None

    def _apply_pixel_table(self, table: PixelTable) -> None:
        if self.dataset is None or table.dataset_id != self.dataset.id:
            return
        self.last_pixel_table = table
        view = getattr(self.views, "pixel_table", None)
        if view is not None:
            view.set_table(table)

    # -- copy value --------------------------------------------------------------------
    def value_text(self, pane: str, row: int, col: int, done: Callable[[str], None]) -> None:
        """``done(text)`` with pixel (row, col)'s value in ``pane`` at full resolution, its frame and units.

        From the last render when it read that pixel (exact values of every
        pane); otherwise (a downsampled full frame, a pixel outside the
        cutout) the pane's own quantity is computed for that one pixel in a
        job (:func:`~brightstar_gui.jobs.pane_value.pane_value_job`), and the
        text says it is the pixel's own value, not the block the pane shows.
        """
        if self.dataset is None:
            return
        m = self.model
        where = f"row {row}, col {col}, frame {m.frame}"
        last = self.last_render
        if last is None:
            req = self.pixel_table_request(row, col, half=0)

            def read(table: PixelTable) -> None:
                value = table.value_at(row, col)
                done(f"{where}: {kind_label(table.kind, table.superbias_subtracted)} {fmt_value(value)} DN")

            self.submit("copyvalue", lambda token: pixel_table_job(req), read, tag=req.dataset_id)
            return
        v = probe_values(last, row, col) if last.request.frame == m.frame else None
        if v is not None:
            done(f"{where}: {pane_value_text(pane, v, last.request)}")
            return
        box = (row, row + 1, col, col + 1)
        summary = self.summary_for(last.request.kind, box) if pane == "ratio" else None
        mean = None if summary is None else summary.mean_slope_of(box)
        req = pane_value_request(last.request, pane, row, col, m.frame, mean)
        step = int(last.request.step)
        y0, y1, x0, x1 = last.request.region
        inside = y0 <= row < y1 and x0 <= col < x1

        def computed(v: dict) -> None:
            text = pane_value_text(pane, v, req, step if inside else 1)
            if not inside:
                text += " (outside the cutout: not drawn)"
            done(f"{where}: {text}")

        self.submit("copyvalue", lambda token: pane_value_job(req), computed, tag=self.dataset.id)
