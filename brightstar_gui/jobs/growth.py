"""Saturation growth (and, over the full frame, the onset map) of the open exposure (Qt-free job).

The computation is the CLI's: ``brightstar saturation`` runs
:func:`processing.diagnostics.growth.saturation_growth_job` and ``brightstar
onset`` runs :func:`~processing.diagnostics.onset.onset_map_job`, which is
:func:`~processing.diagnostics.growth.saturation_analysis_job`.  The
full-frame request uses that one pass for both, so the growth plot's full
frame and the onset pane cost one read of the exposure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .opening import Context, Dataset

Region = tuple[int, int, int, int]


def saturation_frames(dataset: Dataset, context: Context | None, calibrated: Any, kind: str) -> tuple[Any, Any]:
    """What the saturation test reads for ``kind``, as the CLI chooses it.

    Parameters
    ----------
    dataset : Dataset
    context : Context or None
    calibrated : Exposure or None
        The attached (or opened) calibrated RampModel.
    kind : {"raw", "calibrated"}

    Returns
    -------
    (frames, thresholds)
        Raw DN against the saturation reference (``raw``), or the groupdq
        SATURATED flag against 1 (``calibrated``), via
        :func:`processing.diagnostics.saturated.saturation_input`.

    Raises
    ------
    ValueError
        Nothing to test: no saturation reference for raw data, no calibrated ramp.
    """
    from processing.diagnostics.saturated import saturation_input

    if kind == "calibrated" and calibrated is not None:
        return saturation_input(calibrated)
    if dataset.raw is None:
        return saturation_input(dataset.calibrated)
    sat_dn = None if context is None else context.sat_dn
    if sat_dn is None:
        raise ValueError("no saturation reference: the saturation growth needs one (Analysis > Reference files)")
    return saturation_input(dataset.raw, sat_dn)


@dataclass(frozen=True)
class GrowthRequest:
    """Growth counts of one scope.

    Attributes
    ----------
    dataset_id : int
    kind : {"raw", "calibrated"}
    region : (y0, y1, x0, x1), ("region", id, shape) or None
        None: the full frame (then the onset map is made in the same pass).
        A drawn region's ``shape.to_region()`` (a ``regions`` pixel region)
        is counted inside the shape only.
    frames, thresholds
        From :func:`saturation_frames`.
    read_times : (N,) s or None
    """

    dataset_id: int
    kind: str
    region: Any
    frames: Any = field(compare=False)
    thresholds: Any = field(compare=False)
    read_times: Any = field(default=None, compare=False)


@dataclass(frozen=True, eq=False)
class GrowthResult:
    """Attributes: ``request``; ``growth`` (:class:`~processing.diagnostics.growth.SaturationGrowth`);
    ``onset`` (:class:`~processing.diagnostics.onset.OnsetMap` of the full frame, or None for a region)."""

    request: GrowthRequest
    growth: Any
    onset: Any = None


def growth_job(req: GrowthRequest):
    """A progress generator returning :class:`GrowthResult` (cancellable between reads)."""
    from processing.diagnostics.growth import saturation_analysis_job, saturation_growth_job

    times = None if req.read_times is None else np.asarray(req.read_times, np.float64)
    if req.region is None:
        growth, onset = yield from saturation_analysis_job(req.frames, req.thresholds, read_times=times)
        onset.onset.flags.writeable = False
        return GrowthResult(req, growth, onset)
    region = req.region
    if region[0] == "region":
        region = region[2].to_region()
    growth = yield from saturation_growth_job(req.frames, req.thresholds, region=region, read_times=times)
    return GrowthResult(req, growth)
