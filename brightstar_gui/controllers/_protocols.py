"""What the controller needs of its views: small protocols, no Qt.

The Qt window implements them (:mod:`brightstar_gui.widgets.main_window`);
the controller tests implement them with plain recording objects.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

Region = tuple[int, int, int, int]


class PanesView(Protocol):
    """The four image panes."""

    def show_empty(self, text: str) -> None: ...
    def clear(self) -> None: ...
    def set_image(self, kind: str, pixels: np.ndarray | None, rect: tuple[float, float, float, float],
                  opaque: bool = False) -> None: ...
    def set_colorbar(self, kind: str, lut: np.ndarray, levels: tuple[float, float], scale: str = "linear",
                     legend: tuple = ()) -> None: ...
    def set_categories(self, kind: str, colours: np.ndarray, labels: tuple[str, ...]) -> None: ...
    def set_flag_marks(self, positions: np.ndarray | None, colours: dict | None = None) -> None: ...
    def set_message(self, kind: str, text: str) -> None: ...
    def set_title(self, kind: str, title: str) -> None: ...
    def set_cutout_rect(self, region: Region, visible: bool = True) -> None: ...
    def set_data_bounds(self, region: Region, auto_range: bool = False) -> None: ...
    def set_selected(self, pixel: tuple[int, int] | None) -> None: ...

    def visible(self) -> tuple[tuple[float, float, float, float], float] | None:
        """Visible data rectangle (y0, y1, x0, x1) and data pixels per screen pixel, or None (not shown)."""


class RampView(Protocol):
    def set_ramps(self, data: dict, frame: int) -> None: ...
    def set_frame(self, k: int) -> None: ...


class StatusView(Protocol):
    """The window around the panes: errors, messages, tasks, readouts."""

    def show_error(self, what: str, text: str, details: str | None = None) -> None: ...
    def flash(self, text: str, timeout_ms: int = 0) -> None: ...
    def task_started(self, channel: str, title: str) -> None: ...
    def on_task_progress(self, channel: str, fraction: float, message: str) -> None: ...
    def task_ended(self, channel: str) -> None: ...
    def set_hover_text(self, text: str) -> None: ...
    def set_exposure(self, uri: str, meta: dict | None, read_times: np.ndarray | None) -> None: ...
    def set_pane_levels(self, kind: str, levels: tuple[float, float], histogram: Any) -> None: ...
    def set_playback_rate(self, fps: float | None) -> None: ...
    def set_references(self, text: str) -> None: ...
    def notify(self, event: str, *args: Any) -> None:
        """Tell listeners (tests, benchmarks) that ``event`` happened: "opened", "rendered", ..."""


class GrowthView(Protocol):
    """The saturation growth plot (optional ``views.growth``)."""

    def active(self) -> bool: ...
    def set_growth(self, growth: Any, scope_text: str) -> None:
        """Show a :class:`processing.diagnostics.growth.SaturationGrowth` counted over ``scope_text``."""
    def set_frame(self, k: int) -> None: ...
    def set_message(self, text: str) -> None: ...


class ProfileView(Protocol):
    """The radial profile plot (optional ``views.profile``)."""

    def active(self) -> bool: ...
    def set_profile(self, profile: Any, kind: str) -> None:
        """Show one :class:`processing.diagnostics.profile.ReadProfile`, the ``kind`` profile of it."""
    def set_message(self, text: str) -> None: ...


class PinsView(Protocol):
    """The pinned pixels' ramps overlaid in the ramp panel (optional ``views.pins``)."""

    def set_pins(self, pins: Any) -> None:
        """A :class:`brightstar_gui.jobs.pins.PinnedRamps`, or None (no pins)."""


class OnsetOverlayView(Protocol):
    """Contours of the onset map over the raw pane (optional ``views.onset_overlay``)."""

    def set_contours(self, lines: dict) -> None:
        """read -> list of (M, 2) (row, col) closed polylines, frame pixels."""


class Views(Protocol):
    panes: PanesView
    ramp: RampView
    status: StatusView
