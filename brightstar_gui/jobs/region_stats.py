"""Per-read statistics of a drawn region, as a job (Qt-free).

The statistics are :func:`processing.diagnostics.regionstats.region_stats_job`'s
(the one implementation, also behind the library); this module only freezes
what it needs -- the shape, the frames shown, what the saturation test reads
and the pixel DQ -- so the job can run in a worker while the user moves on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from processing.session_file import RegionShape


@dataclass(frozen=True)
class RegionStatsRequest:
    """One region's statistics over every read.

    Attributes
    ----------
    dataset_id, region_id : int
        Echoed in the result (a result for a moved region or another exposure is dropped).
    shape : RegionShape
    kind : {"raw", "calibrated"}
    values : frame source
        The reads shown (raw DN, or the calibrated ramp).
    sat_frames : frame source or None
        What the saturation test reads (raw DN, or groupdq flags).
    sat_dn : (H, W) float or None, DN
        Thresholds; None: no pixel counts as saturated.
    pixeldq : (H, W) uint32 or None
    """

    dataset_id: int
    region_id: int
    shape: RegionShape
    kind: str
    values: Any = field(compare=False)
    sat_frames: Any = field(default=None, compare=False)
    sat_dn: np.ndarray | None = field(default=None, compare=False)
    pixeldq: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RegionStatsResult:
    request: RegionStatsRequest
    stats: Any  # processing.diagnostics.regionstats.RegionStats


def region_stats_request(controller, region_id: int, shape: RegionShape) -> RegionStatsRequest | None:
    """Freeze what the statistics of ``shape`` need from the controller's open exposure (None: nothing open)."""
    ds, ctx = controller.dataset, controller.context
    if ds is None:
        return None
    kind = controller.model.data_kind
    values = controller.values_source(kind)
    sat_frames = sat_dn = None
    pixeldq = None if ctx is None else ctx.pixeldq
    if ctx is not None:
        if values is ds.raw and ctx.sat_dn is not None:
            sat_frames, sat_dn = ds.raw, ctx.sat_dn
        elif "groupdq" in (getattr(values, "arrays", None) or {}):
            # A calibrated ramp: its own SATURATED flags (the package's one rule).
            from processing.diagnostics.saturated import saturation_input

            sat_frames, sat_dn = saturation_input(values)
        elif ctx.sat_dn is not None and ds.raw is not None:
            sat_frames, sat_dn = ds.raw, ctx.sat_dn
    return RegionStatsRequest(ds.id, region_id, shape, kind, values, sat_frames, sat_dn, pixeldq)


def region_stats_job(req: RegionStatsRequest):
    """Progress generator returning a :class:`RegionStatsResult`."""
    from processing.diagnostics.regionstats import region_stats_job as _stats_job

    stats = yield from _stats_job(req.values, req.shape.to_region(), sat_frames=req.sat_frames, sat_dn=req.sat_dn,
                                  pixeldq=req.pixeldq)
    return RegionStatsResult(req, stats)
