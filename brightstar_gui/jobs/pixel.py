"""The ramps of a clicked pixel and its 3 x 3 neighbours (Qt-free job)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import time

import numpy as np

from .opening import Context, Dataset


@dataclass(frozen=True)
class PixelRequest:
    dataset: Dataset
    context: Context | None
    calibrated: Any  # Exposure or None: the attached (or opened) calibrated ramp
    row: int
    col: int
    #: Mean slopes already known, kind ("raw" / "calibrated") -> DN/frame: the
    #: controller's summaries (same rule), so a click does not rescan 55 reads.
    known_slopes: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class PixelRamps:
    """Ramps of pixel (row, col) and its 3 x 3 neighbourhood, with DQ and saturation.

    Attributes
    ----------
    row, col : int
    box : (r0, r1, c0, c1)
        The neighbourhood (clipped at edges).
    raw, calibrated : (N, h, w) arrays or None, DN
    groupdq : (N, h, w) uint8 or None
    saturated : (N, h, w) bool or None
    onset : (h, w) int or None
        First saturated read, -1: never.
    mean_slope, mean_slope_raw : float or None, DN/frame
        The centre's mean slope (:func:`processing.diagnostics.mean_slope`, the one rule).
    pixeldq : int or None
    times : (N,) s or None
        Read times since the first read (the exposure's ``frame_time``).
    threshold_dn : float or None, DN
        The centre's saturation threshold (the saturation reference; None without one).
    slope_source : {"raw", "calibrated"} or None
        What ``mean_slope`` was measured on: the calibrated ramp when one is open.
    job_seconds : float
        Time the job took (the click -> ramp benchmark's first stage).
    job_started : float
        ``time.perf_counter()`` when the job started (the benchmark's queue stage).
    """

    row: int
    col: int
    box: tuple[int, int, int, int]
    raw: np.ndarray | None
    calibrated: np.ndarray | None
    groupdq: np.ndarray | None
    saturated: np.ndarray | None
    onset: np.ndarray | None
    mean_slope: float | None
    mean_slope_raw: float | None
    pixeldq: int | None
    times: np.ndarray | None = field(default=None)
    threshold_dn: float | None = None
    slope_source: str | None = None
    job_seconds: float = 0.0
    job_started: float = 0.0

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def pixel_job(req: PixelRequest) -> PixelRamps:
    """Read the 3 x 3 neighbourhood's ramps of every read and derive DQ, onset and mean slope."""
    from processing.diagnostics import mean_slope

    t0 = time.perf_counter()
    ds, ctx = req.dataset, req.context
    n, h, w = ds.shape
    row, col = req.row, req.col
    r0, r1, c0, c1 = max(row - 1, 0), min(row + 2, h), max(col - 1, 0), min(col + 2, w)
    raw = ds.raw.cutout(r0, r1, c0, c1) if ds.raw is not None else None
    cal_exp = req.calibrated
    cal = cal_exp.cutout(r0, r1, c0, c1) if cal_exp is not None else None
    gdq = cal_exp.arrays["groupdq"].cutout(r0, r1, c0, c1) if cal_exp is not None and "groupdq" in cal_exp.arrays else None
    sat = None
    sat_dn = None
    if ctx is not None and ctx.saturation is not None:
        sat_raw = raw if ctx.sat_source is ds.raw else ctx.sat_source.cutout(r0, r1, c0, c1)
        sat = np.stack([ctx.saturation.region(f, r0, c0) for f in sat_raw])
        sat_dn = np.asarray(ctx.saturation.sat_dn)[r0:r1, c0:c1]
        sat_frames = sat_raw
    elif gdq is not None:
        sat = (gdq & 2) != 0
    onset = np.where(sat.any(axis=0), sat.argmax(axis=0), -1) if sat is not None else None
    rr, cc = row - r0, col - c0

    def slope(values, kind):
        if values is None:
            return None
        known = req.known_slopes.get(kind)
        if known is not None:
            return float(known) if np.isfinite(known) else None
        if sat_dn is None:
            v = np.diff(np.asarray(values, np.float64)[:, rr, cc])
            return float(v.mean()) if v.size else None
        m = float(mean_slope(values, sat_frames, sat_dn)[rr, cc])
        return m if np.isfinite(m) else None

    main = cal if cal is not None else raw
    pixeldq = int(ctx.pixeldq[row, col]) if ctx is not None and ctx.pixeldq is not None else None
    threshold = float(sat_dn[rr, cc]) if sat_dn is not None else None
    main_slope = slope(main, "calibrated" if cal is not None else "raw")
    raw_slope = main_slope if main is raw else slope(raw, "raw")
    return PixelRamps(row, col, (r0, r1, c0, c1), raw, cal, gdq, sat, onset, main_slope, raw_slope, pixeldq,
                      ds.read_times,
                      threshold_dn=threshold, slope_source=None if main is None else ("calibrated" if cal is not None else "raw"),
                      job_seconds=time.perf_counter() - t0, job_started=t0)
