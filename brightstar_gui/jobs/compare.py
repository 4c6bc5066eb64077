"""The compare view's images: A, B and A - B over the shown region, coloured (Qt-free).

A is a read of the open exposure; B is another read of it, the same read of
its calibrated ramp, or the same read of another exposure (a dark).  A and B
share one pair of levels (percentiles over both), so blinking between them
shows a real change, not a change of stretch; the difference is
``processing.diagnostics.compare.DifferenceFrames`` (float, no uint16
wrap-around) with levels symmetric about zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from processing import figures, pane_colours

from .render import lut

Region = tuple[int, int, int, int]
#: What a compare pane can show.
COMPARE_PANES = ("A", "B", "A - B")


@dataclass(frozen=True)
class CompareRequest:
    """Attributes
    ----------
    a, b : frame sources with ``frame_region`` (Exposure), DN
    frame_a, frame_b : int
    region : (y0, y1, x0, x1)
        Pixels drawn (the main panes' cutout or full frame).
    step : int
        Every ``step``-th pixel (a full 4096 x 4096 frame at screen size).
    label_a, label_b : str
    cmap, diff_cmap : str
    low, high : float
        Percentiles of A's and B's levels.
    bad : (H, W) bool or None
        Flagged pixels, drawn in ``flag_color``.
    """

    generation: int
    a: Any = field(compare=False)
    b: Any = field(compare=False)
    frame_a: int
    frame_b: int
    region: Region
    step: int
    label_a: str
    label_b: str
    cmap: str = "viridis"
    diff_cmap: str = "RdBu_r"
    low: float = 2.0
    high: float = 98.0
    bad: np.ndarray | None = field(default=None, compare=False)
    flag_color: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class CompareResult:
    """``values`` and ``rgba`` keyed by :data:`COMPARE_PANES`; ``rect`` is (x, y, w, h) in pixels."""

    request: CompareRequest
    values: dict
    rgba: dict
    levels: dict
    rect: tuple[float, float, float, float]


def compare_step(region: Region, max_pixels: int = 1024) -> int:
    y0, y1, x0, x1 = region
    return max(1, math.ceil(max(y1 - y0, x1 - x0) / max_pixels))


def compare_job(req: CompareRequest) -> CompareResult:
    from processing.diagnostics.compare import DifferenceFrames

    y0, y1, x0, x1 = req.region
    s = max(1, int(req.step))
    a = np.asarray(req.a.frame_region(req.frame_a, y0, y1, x0, x1, s))
    b = np.asarray(req.b.frame_region(req.frame_b, y0, y1, x0, x1, s))
    diff = DifferenceFrames(a[None], b[None]).frame(0)
    bad = None if req.bad is None else figures.block_reduce(np.asarray(req.bad[y0:y1, x0:x1]), s, "any")
    both = np.concatenate([a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)], axis=0)
    both_bad = None if bad is None else np.concatenate([bad, bad], axis=0)
    lo, hi = figures.good_levels(both, both_bad, req.low, req.high)
    d_abs = figures.good_levels(np.abs(diff.astype(np.float64)), bad, 0.0, req.high)[1]
    d_abs = d_abs if d_abs > 0 else 1.0
    levels = {"A": (lo, hi), "B": (lo, hi), "A - B": (-d_abs, d_abs)}
    values = {"A": a, "B": b, "A - B": diff}
    rgba = {}
    for k, v in values.items():
        # Flag and NaN colours as on the panes and in figure files (one rule: pane_colours).
        cmap = req.diff_cmap if k == "A - B" else req.cmap
        flag, nan = pane_colours.screen_colours(cmap, req.flag_color)
        rgba[k] = pane_colours.colour_pane(v, levels[k], lut(cmap, "linear"), bad, flag, nan)
    rect = (float(x0), float(y0), float(-(-(x1 - x0) // s) * s), float(-(-(y1 - y0) // s) * s))
    return CompareResult(req, values, rgba, levels, rect)
