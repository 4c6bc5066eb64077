"""Colour-bar ticks that follow a display stretch (linear, log, asinh).

A colour table with a log or asinh stretch folded in (:func:`processing.figures.lookup_table`)
spends most of its length on one end's colour, so a colour bar drawn
linearly in data values shows almost one colour.  The viewer's colour bars
are drawn in *stretched* coordinates instead -- position ``s`` in 0..1 has
the colour map's colour at ``s`` -- with tick labels in data values at
``stretch((v - lo) / (hi - lo))``, as matplotlib draws a colour bar of a
non-linear norm.
"""

from __future__ import annotations

import math

import numpy as np

from .figures import stretch

__all__ = ["inverse_stretch", "colour_bar_ticks", "tick_label"]


def inverse_stretch(s: np.ndarray, scale: str) -> np.ndarray:
    """Data fraction x in [0, 1] whose ``stretch(x, scale)`` is ``s`` (the constants of :func:`stretch`)."""
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)
    if scale == "linear":
        return s
    from .figures import ASINH_A, LOG_A

    if scale == "log":
        return np.expm1(s * np.log1p(LOG_A)) / LOG_A
    if scale == "asinh":
        return ASINH_A * np.sinh(s * np.arcsinh(1.0 / ASINH_A))
    raise ValueError(f"unknown scale {scale!r}; expected linear, log or asinh")


def colour_bar_ticks(levels: tuple[float, float], scale: str, n: int = 5) -> list[tuple[float, float]]:
    """Ticks ``[(position 0..1 along the bar, data value), ...]`` for a colour bar of ``levels``.

    Linear: round values (matplotlib's MaxNLocator).  Log and asinh: the two
    levels, and values at evenly spaced stretched positions (rounded)
    placed where the stretch puts them, so they spread along the bar.
    """
    lo, hi = float(levels[0]), float(levels[1])
    span = hi - lo
    if not (math.isfinite(lo) and math.isfinite(hi)) or span <= 0:
        return []
    if scale == "linear":
        from matplotlib.ticker import MaxNLocator

        values = [float(v) for v in MaxNLocator(n).tick_values(lo, hi) if lo - 1e-9 * span <= v <= hi + 1e-9 * span]
    else:
        # The ends, and between them values at even stretched steps rounded to
        # one significant figure of their offset from the low level.
        values = [lo]
        for f in inverse_stretch(np.linspace(0.0, 1.0, n), scale)[1:-1]:
            d = span * float(f)
            unit = 10.0 ** math.floor(math.log10(max(d, span * 1e-4)))
            v = round((lo + d) / unit) * unit
            if lo < v < hi:
                values.append(float(v))
        values.append(hi)
    out, last = [], -1.0
    for v in values:
        pos = float(stretch((v - lo) / span, scale))
        if pos - last >= 0.08:  # labels closer than this overlap on a short bar
            out.append((pos, v))
            last = pos
    return out


def tick_label(v: float) -> str:
    """Short label of a tick value: ``65000``, ``1.25``, ``-300``, ``1.2e+06``."""
    if v == 0:
        return "0"
    return f"{v:.5g}" if abs(v) < 1e5 else f"{v:.3g}"
