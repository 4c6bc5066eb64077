"""The mean slope (and saturation onset) of a region, for the slope-ratio pane (Qt-free job)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from processing.progress import Progress

from .opening import Context, readonly

Region = tuple[int, int, int, int]


class RegionSource:
    """Frame source over a region: ``frame(k)`` reads only the region's rows (region reads)."""

    def __init__(self, source: Any, region: Region):
        self.source = source
        self.region = region
        y0, y1, x0, x1 = region
        self.shape = (source.shape[0], y1 - y0, x1 - x0)

    def frame(self, k: int) -> np.ndarray:
        return np.asarray(self.source.frame_region(k, *self.region))


@dataclass(frozen=True)
class SummaryRequest:
    dataset_id: int
    kind: str
    region: Region
    values: Any  # frame source of the values (raw or calibrated)
    context: Context


@dataclass(frozen=True, eq=False)
class SummaryResult:
    """Mean slope (DN/frame) and saturation onset of ``region``, read-only arrays."""

    dataset_id: int
    kind: str
    region: Region
    mean_slope: np.ndarray
    onset: np.ndarray | None
    onset_boxes: np.ndarray | None = None

    def saturated_box(self, k: int) -> tuple[int, int, int, int] | None:
        """Bounding box (absolute y0, y1, x0, x1) of every pixel of the region saturated at read ``k``.

        Every pixel saturated at ``k`` has its onset at or before ``k``, so it
        lies in this box; None: none saturated (an empty box).
        """
        if self.onset_boxes is None:
            raise ValueError("no saturation onset")
        y0, y1, x0, x1 = (int(v) for v in self.onset_boxes[min(max(k, 0), len(self.onset_boxes) - 1)])
        return None if y1 <= y0 else (y0, y1, x0, x1)

    def covers(self, kind: str, region: Region) -> bool:
        y0, y1, x0, x1 = region
        r = self.region
        return kind == self.kind and r[0] <= y0 and r[1] >= y1 and r[2] <= x0 and r[3] >= x1

    def mean_slope_of(self, region: Region) -> np.ndarray:
        y0, y1, x0, x1 = region
        r = self.region
        return self.mean_slope[y0 - r[0] : y1 - r[0], x0 - r[2] : x1 - r[2]]


def summary_job(req: SummaryRequest):
    """Mean slope, saturation onset and counts over the region (a progress generator)."""
    from processing.diagnostics import ramp_summary_job

    ctx = req.context
    if ctx.saturation is None:
        raise ValueError("the mean slope needs saturation thresholds: open the saturation reference file")
    y0, y1, x0, x1 = req.region
    values = RegionSource(req.values, req.region)
    raw = values if ctx.sat_source is req.values else RegionSource(ctx.sat_source, req.region)
    sat = np.asarray(ctx.saturation.sat_dn)[y0:y1, x0:x1]
    job = ramp_summary_job(values, raw, sat)
    full = (y1 - y0) * (x1 - x0) > 4_000_000
    i = 0
    try:
        while True:
            report = next(job)
            i += 1
            if full and i % 4 == 0:  # keep the resident set small on full frames
                for exp in {id(req.values): req.values, id(ctx.sat_source): ctx.sat_source}.values():
                    release = getattr(exp, "release_pages", None)
                    if release is not None:
                        release()
            yield Progress(report.fraction, report.message)
    except StopIteration as stop:
        summary = stop.value
    n = req.values.shape[0]
    boxes = onset_boxes(summary.onset, n, (y0, x0)) if summary.onset is not None else None
    return SummaryResult(req.dataset_id, req.kind, req.region, readonly(summary.mean_slope), readonly(summary.onset),
                         readonly(boxes))


def onset_boxes(onset: np.ndarray, n: int, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """For each read k, the bounding box of the pixels whose saturation onset is at or before k.

    Parameters
    ----------
    onset : (h, w) int
        First saturated read of each pixel, -1: never.
    n : int
        Reads.
    origin : (y, x)
        Absolute position of ``onset[0, 0]``.

    Returns
    -------
    (n, 4) int64
        ``[y0, y1, x0, x1]`` (absolute, end exclusive); ``[0, 0, 0, 0]`` when
        no pixel has saturated by read k.
    """
    onset = np.asarray(onset)
    ys, xs = np.nonzero(onset >= 0)
    out = np.zeros((n, 4), np.int64)
    if ys.size == 0:
        return out
    ks = onset[ys, xs].astype(np.int64)
    order = np.argsort(ks, kind="stable")
    ys, xs, ks = ys[order], xs[order], ks[order]
    y_lo, y_hi = np.minimum.accumulate(ys), np.maximum.accumulate(ys)
    x_lo, x_hi = np.minimum.accumulate(xs), np.maximum.accumulate(xs)
    last = np.searchsorted(ks, np.arange(n), side="right") - 1  # index of the last pixel with onset <= k
    some = last >= 0
    i = last[some]
    oy, ox = origin
    out[some] = np.stack([y_lo[i] + oy, y_hi[i] + 1 + oy, x_lo[i] + ox, x_hi[i] + 1 + ox], axis=1)
    return out
