"""The viewer's state: a small evented model, Qt-free and testable without a window.

Widgets observe :class:`ViewState` and write user edits back into it; the
state validates and clamps every value and emits an event only when a value
really changes, so a widget updating itself from an event cannot loop
(napari's ``_on_<attr>_change`` pattern; ndv's evented models).

Events are :class:`Event` objects: ``state.events.frame.connect(callback)``;
``state.events.changed`` fires for any field with ``(name, value)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from processing.figures import COLORMAPS, DEFAULT_CMAPS, PANES, SCALES


class Event:
    """A list of callbacks called with the event's arguments (an observer)."""

    def __init__(self, name: str):
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []
        self._blocked = 0

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any] | None = None) -> None:
        if callback is None:
            self._callbacks.clear()
        elif callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        if self._blocked:
            return
        for callback in list(self._callbacks):
            callback(*args)

    def blocked(self):
        """Context manager: no emission while inside."""
        event = self

        class _Block:
            def __enter__(self):
                event._blocked += 1

            def __exit__(self, *exc):
                event._blocked -= 1

        return _Block()


@dataclass(frozen=True)
class Cutout:
    """A square cutout: centre (row, col) and half-size, pixels.

    ``enabled`` switches the panes between the cutout and the full frame.
    """

    row: int = 0
    col: int = 0
    half: int = 256
    enabled: bool = True

    def region(self, frame_shape: tuple[int, int]) -> tuple[int, int, int, int]:
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


def default_displays() -> dict[str, PaneDisplay]:
    """The tutorial's look: 2-98 % stretch; ratio fixed at 0.75-1.25; mask 0-3."""
    out = {kind: PaneDisplay(cmap=DEFAULT_CMAPS[kind]) for kind in PANES}
    out["ratio"] = PaneDisplay(mode="manual", vmin=0.75, vmax=1.25, cmap=DEFAULT_CMAPS["ratio"])
    out["mask"] = PaneDisplay(mode="manual", vmin=0.0, vmax=3.0, cmap=DEFAULT_CMAPS["mask"])
    return out


DATA_KINDS = ("raw", "calibrated")


class _Events:
    def __init__(self, names):
        for name in names:
            setattr(self, name, Event(name))
        self.changed = Event("changed")


class ViewState:
    """Frame, baseline, cutout, display, selected pixel and data kind.

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
    flag_color : (r, g, b)
        Colour of flagged (pixel DQ != 0) and non-finite pixels; white as in
        the tutorial.
    selected_pixel : (row, col) or None
    data_kind : {"raw", "calibrated"}
    calibrated_available : bool
    subtract_superbias : bool
    """

    _FIELDS = ("n_frames", "frame_shape", "frame", "baseline", "cutout", "displays", "flag_color",
               "selected_pixel", "data_kind", "calibrated_available", "subtract_superbias", "superbias_available")

    def __init__(self) -> None:
        self.events = _Events(self._FIELDS)
        self._values: dict[str, Any] = {
            "n_frames": 0,
            "frame_shape": (0, 0),
            "frame": 0,
            "baseline": 1,
            "cutout": Cutout(),
            "displays": default_displays(),
            "flag_color": (255, 255, 255),
            "selected_pixel": None,
            "data_kind": "raw",
            "calibrated_available": False,
            "subtract_superbias": False,
            "superbias_available": False,
        }
        self.version = 0  # bumped on every change: the render generation

    # -- generic access -------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._FIELDS:
            self._set(name, value)
        else:
            super().__setattr__(name, value)

    def _set(self, name: str, value: Any) -> None:
        validate = getattr(self, f"_validate_{name}", None)
        if validate is not None:
            value = validate(value)
        if self._values[name] == value:
            return
        self._values[name] = value
        self.version += 1
        after = getattr(self, f"_after_{name}", None)
        if after is not None:
            after()
        getattr(self.events, name).emit(value)
        self.events.changed.emit(name, value)

    def update(self, **values: Any) -> None:
        """Set several fields (in the order given)."""
        for name, value in values.items():
            setattr(self, name, value)

    # -- validation -------------------------------------------------------------------
    def _clamp_frame(self, k: int) -> int:
        n = self._values["n_frames"]
        return 0 if n <= 0 else min(max(int(k), 0), n - 1)

    def _validate_n_frames(self, n: int) -> int:
        return max(0, int(n))

    def _after_n_frames(self) -> None:
        self.frame = self._values["frame"]  # clamped by the validators
        self.baseline = self._values["baseline"]

    def _validate_frame(self, k: int) -> int:
        return self._clamp_frame(k)

    def _validate_baseline(self, k: int) -> int:
        return self._clamp_frame(k)

    def _validate_frame_shape(self, shape) -> tuple[int, int]:
        return (int(shape[0]), int(shape[1]))

    def _validate_cutout(self, cutout: Cutout) -> Cutout:
        h, w = self._values["frame_shape"]
        half = max(4, int(cutout.half))
        row, col = int(cutout.row), int(cutout.col)
        if h > 0 and w > 0:
            half = min(half, max(h, w) // 2)
            row = min(max(row, 0), h - 1)
            col = min(max(col, 0), w - 1)
        return Cutout(row, col, half, bool(cutout.enabled))

    def _validate_displays(self, displays: dict[str, PaneDisplay]) -> dict[str, PaneDisplay]:
        return {kind: displays[kind].validated() for kind in PANES}

    def _validate_flag_color(self, color) -> tuple[int, int, int]:
        r, g, b = (min(max(int(c), 0), 255) for c in tuple(color)[:3])
        return (r, g, b)

    def _validate_selected_pixel(self, pixel):
        if pixel is None:
            return None
        h, w = self._values["frame_shape"]
        row, col = int(pixel[0]), int(pixel[1])
        if not (0 <= row < h and 0 <= col < w):
            return self._values["selected_pixel"]  # off the detector: keep the old one
        return (row, col)

    def _validate_data_kind(self, kind: str) -> str:
        if kind not in DATA_KINDS:
            raise ValueError(f"data kind must be one of {DATA_KINDS}, not {kind!r}")
        if kind == "calibrated" and not self._values["calibrated_available"]:
            return "raw"
        return kind

    def _validate_calibrated_available(self, flag: bool) -> bool:
        flag = bool(flag)
        if not flag and self._values["data_kind"] == "calibrated":
            self._values["data_kind"] = "raw"
            self.events.data_kind.emit("raw")
        return flag

    def _validate_subtract_superbias(self, flag: bool) -> bool:
        return bool(flag) and self._values["superbias_available"]

    # -- helpers --------------------------------------------------------------------------
    def set_display(self, pane: str, **changes: Any) -> None:
        """Change some attributes of one pane's display."""
        displays = dict(self._values["displays"])
        displays[pane] = replace(displays[pane], **changes)
        self.displays = displays

    def region(self) -> tuple[int, int, int, int]:
        """Data region shown by the panes: the cutout, or the whole frame."""
        h, w = self._values["frame_shape"]
        cutout: Cutout = self._values["cutout"]
        if cutout.enabled:
            return cutout.region((h, w))
        return (0, h, 0, w)

    def reset_for(self, n_frames: int, frame_shape: tuple[int, int], star: tuple[int, int] | None, half: int = 256) -> None:
        """Defaults for a newly opened exposure."""
        self._values["frame_shape"] = (int(frame_shape[0]), int(frame_shape[1]))
        self._values["calibrated_available"] = False
        self._values["data_kind"] = "raw"
        self._values["subtract_superbias"] = False
        self._values["selected_pixel"] = None
        self._values["n_frames"] = -1  # so that the event fires even for the same count
        self.n_frames = n_frames
        h, w = frame_shape
        row, col = star if star is not None else (h // 2, w // 2)
        self.update(
            frame=min(n_frames - 1, max(2, n_frames // 2)),
            baseline=1 if n_frames > 1 else 0,
            cutout=Cutout(row, col, half, True),
            selected_pixel=(row, col),
        )
        for name in ("frame_shape", "calibrated_available", "data_kind", "subtract_superbias"):
            getattr(self.events, name).emit(self._values[name])
        self.version += 1
