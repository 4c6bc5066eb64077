"""The controller's pinned pixels: pin, unpin, the pins' ramps for the overlay, their joint export.

Part of :class:`._diagnostics.DiagnosticsMixin` (its base).  The pins are
the view model's ``pinned_pixels``; the ramps are read by
:func:`brightstar_gui.jobs.pins.pins_job` and shown by the optional
``views.pins`` (:class:`._protocols.PinsView`).
"""

from __future__ import annotations

from ..jobs.pins import PinsRequest, pins_job
from ..models.view_model import MAX_PINS


class PinsMixin:
    @property
    def pins(self) -> tuple[tuple[int, int], ...]:
        """The pinned pixels, (row, col) in pin order (the model's ``pinned_pixels``)."""
        return self.model.pinned_pixels

    def pin_pixel(self, row: int, col: int) -> bool:
        """Pin pixel (row, col): its ramp is overlaid in the ramp panel.  False if not pinned."""
        pins = self.model.pinned_pixels
        if (int(row), int(col)) in pins:
            return True
        if len(pins) >= MAX_PINS:
            self.views.status.flash(f"at most {MAX_PINS} pinned pixels: unpin one first", 5000)
            return False
        self.model.pinned_pixels = pins + ((int(row), int(col)),)
        pinned = (int(row), int(col)) in self.model.pinned_pixels
        if pinned:
            self.views.status.flash(f"pin {len(self.model.pinned_pixels)}: pixel (row {row}, col {col}); its ramp is "
                                    "overlaid in the ramp panel", 5000)
        return pinned

    def unpin_pixel(self, row: int, col: int) -> None:
        self.model.pinned_pixels = tuple(p for p in self.model.pinned_pixels if p != (int(row), int(col)))

    def clear_pins(self) -> None:
        self.model.pinned_pixels = ()

    def toggle_pin_selected(self) -> None:
        """Pin the selected pixel, or unpin it if pinned (the P key)."""
        pixel = self.model.selected_pixel
        if pixel is None:
            self.views.status.flash("click a pixel first, then pin it", 5000)
        elif pixel in self.model.pinned_pixels:
            self.unpin_pixel(*pixel)
        else:
            self.pin_pixel(*pixel)

    def request_pins(self) -> None:
        view = self._view("pins")
        if view is None or self.dataset is None:
            return
        pixels = self.model.pinned_pixels
        if not pixels:
            self.last_pins = None
            view.set_pins(None)
            return
        kind = self.model.data_kind
        req = PinsRequest(self.dataset.id, kind, pixels, self.values_source(kind), self.dataset.read_times)

        def done(result):
            if (self.dataset is None or result.request.dataset_id != self.dataset.id
                    or result.pixels != self.model.pinned_pixels or result.request.kind != self.model.data_kind):
                return
            self.last_pins = result
            view.set_pins(result)
            self.views.status.notify("pins_plotted", result)

        self.submit("pins", lambda token: pins_job(req), done, tag=self.dataset.id)

    def export_pins(self, path: str, **kwargs) -> int:
        """Write the pinned pixels' ramps together as one CSV (keyword arguments as for :meth:`export`)."""
        if not self.model.pinned_pixels:
            self._error("Export", "no pinned pixels: pin a pixel first (P, or the pane's context menu)")
            return -1
        return self.export("pins-csv", path, **kwargs)
