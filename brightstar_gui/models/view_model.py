"""The view state: frame, baseline, cutout, displays, selected pixel, data kind.

A psygnal evented dataclass (as ndv's and napari's models): every field has a
signal ``model.events.<field>`` emitted with ``(new, old)`` only when the
value really changes, so a widget updating itself from an event cannot loop.
Values are validated and clamped on assignment.  :meth:`ViewModel.batch`
holds every signal and emits each changed field once at the end (opening a
file changes ten fields; the controller renders once).

Nothing here knows about Qt, files or threads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from psygnal import evented

from processing.figures import COLORMAPS, DEFAULT_CMAPS, PANES, SCALES

DATA_KINDS = ("raw", "calibrated")
#: Pinned pixels at most (each gets its own colour in the ramp panel).
MAX_PINS = 10
Region = tuple[int, int, int, int]


@dataclass(frozen=True)
class Cutout:
    """A square cutout: centre (row, col) and half-size, pixels.

    ``enabled`` switches the panes between the cutout and the full frame.
    """

    row: int = 0
    col: int = 0
    half: int = 256
    enabled: bool = True

    def region(self, frame_shape: tuple[int, int]) -> Region:
        """``(y0, y1, x0, x1)`` clipped to the frame."""
        h, w = frame_shape
        y0, y1 = max(0, self.row - self.half), min(h, self.row + self.half)
        x0, x1 = max(0, self.col - self.half), min(w, self.col + self.half)
        return y0, max(y1, y0 + 1), x0, max(x1, x0 + 1)


@dataclass(frozen=True)
class PaneDisplay:
    """How one pane maps values to colours.

    Attributes
    ----------
    mode : {"percentile", "manual"}
    low, high : float
        Percentiles over good pixels (percentile mode), 0-100.
    vmin, vmax : float
        Levels in data units (manual mode).
    scale : {"linear", "log", "asinh"}
    cmap : str
    """

    mode: str = "percentile"
    low: float = 2.0
    high: float = 98.0
    vmin: float = 0.0
    vmax: float = 1.0
    scale: str = "linear"
    cmap: str = "viridis"

    def validated(self) -> PaneDisplay:
        if self.mode not in ("percentile", "manual"):
            raise ValueError(f"mode must be 'percentile' or 'manual', not {self.mode!r}")
        if self.scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, not {self.scale!r}")
        if self.cmap not in COLORMAPS:
            raise ValueError(f"colour map must be one of {COLORMAPS}, not {self.cmap!r}")
        low = min(max(float(self.low), 0.0), 100.0)
        high = min(max(float(self.high), 0.0), 100.0)
        if high <= low:
            high = min(100.0, low + 0.1)
        vmin, vmax = float(self.vmin), float(self.vmax)
        if vmax <= vmin:
            vmax = vmin + 1e-6
        return replace(self, low=low, high=high, vmin=vmin, vmax=vmax)


def default_levels(pane: str) -> dict[str, Any]:
    """The default stretch of ``pane`` (mode, percentiles, levels), without its colour map and scale."""
    d = default_displays()[pane]
    return {"mode": d.mode, "low": d.low, "high": d.high, "vmin": d.vmin, "vmax": d.vmax}


def default_displays() -> dict[str, PaneDisplay]:
    """The tutorial's look: 2-98 % stretch; ratio fixed at 0.75-1.25; mask 0-3."""
    out = {kind: PaneDisplay(cmap=DEFAULT_CMAPS[kind]) for kind in PANES}
    out["ratio"] = PaneDisplay(mode="manual", vmin=0.75, vmax=1.25, cmap=DEFAULT_CMAPS["ratio"])
    out["mask"] = PaneDisplay(mode="manual", vmin=0.0, vmax=3.0, cmap=DEFAULT_CMAPS["mask"])
    return out


@evented
@dataclass
class ViewModel:
    """What the panes show.

    Attributes
    ----------
    n_frames : int
        Reads of the open exposure (0: nothing open); clamps ``frame``.
    frame_shape : (H, W)
        Clamps the cutout and the selected pixel.
    frame : int
        Read on screen, ``0 <= frame < n_frames``.
    baseline : int
        Frame subtracted in the difference pane (the tutorial's 1).
    cutout : Cutout
    displays : dict of pane -> PaneDisplay
    flag_color : (r, g, b) or None
        Colour of flagged (pixel DQ != 0) pixels; None: chosen per colour
        map, distinct from the colour of undefined (NaN) pixels
        (:func:`processing.pane_colours.screen_colours`).
    levels_locked : bool
        Keep the levels (stretch) when another exposure opens and between
        sessions; otherwise every exposure starts from the default stretch.
    stretch_visible : bool
        Percentile levels over the visible area (when zoomed) instead of the
        whole cutout / frame.
    flag_overlay : bool
        Mark every DQ-flagged pixel in view (findable at full frame, where a
        screen pixel is many data pixels).
    selected_pixel : (row, col) or None
    data_kind : {"raw", "calibrated"}
        "calibrated" only while ``calibrated_available``.
    calibrated_available, superbias_available : bool
    subtract_superbias : bool
        Only while ``superbias_available``.
    playing : bool
    fps : float
        Asked playback rate, frames per second.
    pinned_pixels : tuple of (row, col)
        Pixels whose ramps are overlaid in the ramp panel, in pin order (at
        most :data:`MAX_PINS`, inside the frame, no repeats).
    """

    n_frames: int = 0
    frame_shape: tuple[int, int] = (0, 0)
    frame: int = 0
    baseline: int = 1
    cutout: Cutout = field(default_factory=Cutout)
    displays: dict[str, PaneDisplay] = field(default_factory=default_displays)
    flag_color: tuple[int, int, int] | None = None
    levels_locked: bool = False
    stretch_visible: bool = False
    flag_overlay: bool = False
    selected_pixel: tuple[int, int] | None = None
    data_kind: str = "raw"
    calibrated_available: bool = False
    superbias_available: bool = False
    subtract_superbias: bool = False
    playing: bool = False
    fps: float = 5.0
    pinned_pixels: tuple[tuple[int, int], ...] = ()

    # -- validation on assignment -----------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        check = getattr(type(self), f"_check_{name}", None)
        if check is not None and "frame_shape" in self.__dict__:  # after __init__ set the fields
            value = check(self, value)
        super().__setattr__(name, value)
        if name == "n_frames" and "frame" in self.__dict__:
            self.frame, self.baseline = self.frame, self.baseline  # re-clamp
        elif name == "calibrated_available" and not value and self.__dict__.get("data_kind") == "calibrated":
            self.data_kind = "raw"  # after the flag is stored: the check sees it
        elif name == "superbias_available" and not value and self.__dict__.get("subtract_superbias"):
            self.subtract_superbias = False

    def _clamp(self, k: int) -> int:
        n = self.n_frames
        return 0 if n <= 0 else min(max(int(k), 0), n - 1)

    def _check_n_frames(self, n: int) -> int:
        return max(0, int(n))

    def _check_frame(self, k: int) -> int:
        return self._clamp(k)

    def _check_baseline(self, k: int) -> int:
        return self._clamp(k)

    def _check_frame_shape(self, shape) -> tuple[int, int]:
        return (int(shape[0]), int(shape[1]))

    def _check_cutout(self, cutout: Cutout) -> Cutout:
        h, w = self.frame_shape
        half = max(4, int(cutout.half))
        row, col = int(cutout.row), int(cutout.col)
        if h > 0 and w > 0:
            half = min(half, max(h, w) // 2)
            row = min(max(row, 0), h - 1)
            col = min(max(col, 0), w - 1)
        return Cutout(row, col, half, bool(cutout.enabled))

    def _check_displays(self, displays: dict[str, PaneDisplay]) -> dict[str, PaneDisplay]:
        return {kind: displays[kind].validated() for kind in PANES}

    def _check_flag_color(self, color) -> tuple[int, int, int] | None:
        if color is None:
            return None
        r, g, b = (min(max(int(c), 0), 255) for c in tuple(color)[:3])
        return (r, g, b)

    def _check_selected_pixel(self, pixel):
        if pixel is None:
            return None
        h, w = self.frame_shape
        row, col = int(pixel[0]), int(pixel[1])
        if not (0 <= row < h and 0 <= col < w):
            return self.selected_pixel  # off the detector: keep the old one
        return (row, col)

    def _check_data_kind(self, kind: str) -> str:
        if kind not in DATA_KINDS:
            raise ValueError(f"data kind must be one of {DATA_KINDS}, not {kind!r}")
        if kind == "calibrated" and not self.calibrated_available:
            return "raw"
        return kind

    def _check_calibrated_available(self, flag: bool) -> bool:
        return bool(flag)

    def _check_subtract_superbias(self, flag: bool) -> bool:
        return bool(flag) and self.superbias_available

    def _check_fps(self, fps: float) -> float:
        return min(max(float(fps), 0.5), 120.0)

    def _check_pinned_pixels(self, pixels) -> tuple[tuple[int, int], ...]:
        h, w = self.frame_shape
        out: list[tuple[int, int]] = []
        for r, c in pixels:
            p = (int(r), int(c))
            if 0 <= p[0] < h and 0 <= p[1] < w and p not in out:
                out.append(p)
        return tuple(out[:MAX_PINS])

    # -- helpers -----------------------------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Hold every event; emit each changed field once (its last value) on exit."""
        group = self.events
        with contextlib.ExitStack() as stack:
            for name in group:
                stack.enter_context(group[name].paused(lambda a, b: b))
            yield

    def set_display(self, pane: str, **changes: Any) -> None:
        """Change some attributes of one pane's display."""
        displays = dict(self.displays)
        displays[pane] = replace(displays[pane], **changes)
        self.displays = displays

    def reset_display(self, pane: str | None = None) -> None:
        """The default stretch, colour map and scale of ``pane`` (None: every pane)."""
        defaults = default_displays()
        displays = dict(self.displays)
        for kind in PANES if pane is None else (pane,):
            displays[kind] = defaults[kind]
        self.displays = displays

    def reset_levels(self) -> None:
        """Every pane back to its default stretch, keeping its colour map and scale."""
        self.displays = {k: replace(d, **default_levels(k)) for k, d in self.displays.items()}

    def region(self) -> Region:
        """Data region shown by the panes: the cutout, or the whole frame."""
        h, w = self.frame_shape
        if self.cutout.enabled:
            return self.cutout.region((h, w))
        return (0, h, 0, w)

    def reset_for(self, n_frames: int, frame_shape: tuple[int, int], star: tuple[int, int] | None,
                  half: int = 256) -> None:
        """Defaults for a newly opened exposure (one batch of events)."""
        h, w = int(frame_shape[0]), int(frame_shape[1])
        row, col = star if star is not None else (h // 2, w // 2)
        with self.batch():
            self.playing = False
            self.calibrated_available = False
            self.superbias_available = False
            self.frame_shape = (h, w)
            self.n_frames = n_frames
            self.frame = min(n_frames - 1, max(2, n_frames // 2))
            self.baseline = 1 if n_frames > 1 else 0
            self.cutout = Cutout(row, col, half, True)
            self.selected_pixel = (row, col)
            if not self.levels_locked:
                self.reset_levels()
            # Pins stay (the same pixels of a dark, say), less any outside the new frame.
            self.pinned_pixels = self.pinned_pixels
