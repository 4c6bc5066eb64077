"""What the ramp panel's readout says about the selected pixel at one read (Qt-free).

The widget only lays the rows out; the wording and the numbers are decided
here, where the controller tests and the GUI tests read the same thing.
"""

from __future__ import annotations

import numpy as np


def decode(value: int | None, kind: str) -> str:
    """``"3 = DO_NOT_USE, SATURATED"``: the value and its flag names (roman_datamodels dqflags)."""
    if value is None:
        return "n/a"
    from processing.diagnostics import decode_dq

    try:
        return f"{int(value)} = {', '.join(decode_dq(int(value), kind))}"
    except ValueError:  # a readout must not fail on an odd DQ value
        return str(value)


def centre_index(d: dict) -> tuple[int, int]:
    """The selected pixel's index inside the 3 x 3 box of :class:`~.pixel.PixelRamps`."""
    r0, _, c0, _ = d["box"]
    return d["row"] - r0, d["col"] - c0


def onset_of(d: dict) -> int | None:
    """First saturated read of the selected pixel (-1: never; None: no saturation test)."""
    if d.get("onset") is None:
        return None
    rr, cc = centre_index(d)
    return int(d["onset"][rr, cc])


def saturated_from_start(d: dict) -> bool:
    """True when the selected pixel is saturated from its first read (no signal measured)."""
    return onset_of(d) == 0


def n_reads(d: dict) -> int:
    return (d["calibrated"] if d["calibrated"] is not None else d["raw"]).shape[0]


def frame_time(d: dict) -> float | None:
    """Seconds between reads (from the read times, i.e. the exposure's ``frame_time``), or None."""
    t = d.get("times")
    if t is None or len(t) < 2:
        return None
    dt = float(t[1] - t[0])
    return dt if dt > 0 else None


def readout_rows(d: dict, k: int) -> list[tuple[str, str]]:
    """(label, value) rows for the selected pixel at read ``k`` (clamped to the ramp).

    Parameters
    ----------
    d : dict
        :meth:`~.pixel.PixelRamps.as_dict`.
    k : int
        The read on screen.
    """
    rr, cc = centre_index(d)
    n = n_reads(d)
    k = min(max(int(k), 0), n - 1)
    rows = [("pixel", f"row {d['row']}, col {d['col']}"), ("read", f"{k} of 0..{n - 1}")]
    if d.get("times") is not None and k < len(d["times"]):
        rows.append(("time", f"{float(d['times'][k]):.2f} s since the first read"))
    if d["raw"] is not None:
        rows.append(("raw", f"{int(d['raw'][k, rr, cc])} DN"))
    if d["calibrated"] is not None:
        rows.append(("calibrated", f"{float(d['calibrated'][k, rr, cc]):.2f} DN"))
    thr = d.get("threshold_dn")
    rows.append(("saturation threshold", "n/a (no saturation reference)" if thr is None else f"{thr:.0f} DN"))
    onset = onset_of(d)
    if onset is not None:
        if onset == 0:
            text = "read 0: saturated from the first read, no unsaturated read"
        else:
            text = "never" if onset < 0 else f"read {onset}"
        rows.append(("saturation onset", text))
    if d["saturated"] is not None:
        rows.append(("saturated at this read", "yes" if d["saturated"][k, rr, cc] else "no"))
    slope, source = d.get("mean_slope"), d.get("slope_source")
    dt = frame_time(d)
    if source is not None:
        if slope is None:
            text = "n/a (no unsaturated difference)" if d.get("threshold_dn") is not None else "n/a"
        else:
            text = f"{slope:.2f} DN/frame" + (f" = {slope / dt:.2f} DN/s" if dt else "")
        rows.append((f"mean slope ({source})", text))
        raw_slope = d.get("mean_slope_raw")
        if source == "calibrated" and raw_slope is not None:
            rows.append(("mean slope (raw)", f"{raw_slope:.2f} DN/frame"))
    rows.append(("pixel DQ", decode(d.get("pixeldq"), "pixel")))
    if d["groupdq"] is not None:
        rows.append((f"group DQ (read {k})", decode(int(d["groupdq"][k, rr, cc]), "group")))
    return rows


def ramp_range(values: list[np.ndarray], threshold: float | None, from_start: bool) -> tuple[float, float]:
    """The y range of the main ramp plot, DN, computed once per click (no auto-range pass).

    A pixel saturated from its first read shows 0 .. above its threshold: its
    +-40 DN plateau noise then lies flat at the top instead of filling the axis.
    """
    finite = [v[np.isfinite(v)] for v in values if v is not None and np.size(v)]
    finite = [v for v in finite if v.size]
    if not finite:
        return 0.0, 1.0
    lo = float(min(v.min() for v in finite))
    hi = float(max(v.max() for v in finite))
    if from_start:
        top = max(hi, threshold or hi)
        return min(0.0, lo), top * 1.15 if top > 0 else 1.0
    if hi - lo < 1e-6:
        return lo - 1.0, hi + 1.0
    return lo, hi
