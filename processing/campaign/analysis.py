"""What one campaign task computes for one exposure (no dask here: a plain function of an index row).

Illuminated exposures: the saturation growth (:mod:`processing.diagnostics.growth`,
one streaming pass that also gives the onset map), the onset radius per read
(median distance from the star of the pixels first saturated in that read),
the star's centre (:func:`~processing.diagnostics.centroid.star_centre`) and
its peak.  Darks: the persistence excess at the footprint of every earlier
illuminated exposure of the same detector -- the pixels saturated in that
exposure's last read -- against the time since that last read.

Times: read ``k`` of an exposure is at ``start_s + frame_time + read_times[k]``
(the first read one frame time after the reset), so an exposure's end of
illumination is ``start_s + reads * frame_time`` for one frame per read.

The persistence estimator, for one dark and one footprint: ``(median over
the footprint - median over a ring 3-8 px outside it) of (last read - read
0)``, per second of ``t_last - t_0``.  The ring shares the footprint's rows
and channels, so the correlated read noise cancels.  For a current
``A exp(-t/tau)`` it is proportional to ``exp(-t0/tau)``: the log of it
against the time since illumination at read 0 is a line of slope ``-1/tau``
(:func:`fit_persistence`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExposureError, ReferenceFileError

#: Pixels 3..8 px outside a footprint are its sky.
RING_INNER, RING_OUTER = 3, 8


def saturation_reference(references: str | Path, detector: str) -> Path:
    """The saturation reference for ``detector``: ``references/<detector>/`` first, then ``references/``.

    Raises
    ------
    ReferenceFileError
        If neither holds a ``*saturation*.asdf``.
    """
    base = Path(references)
    for folder in (base / detector, base):
        found = sorted(folder.glob("*saturation*.asdf")) if folder.is_dir() else []
        if found:
            return found[-1]
    raise ReferenceFileError(f"{base}: no saturation reference (*saturation*.asdf) for {detector} in "
                             f"{base / detector} or {base}")


def _thresholds(references, detector: str, cache: dict) -> np.ndarray:
    from ..figures import load_reference_array

    if detector not in cache:
        cache[detector] = load_reference_array(saturation_reference(references, detector), "data").astype(np.float32)
    return cache[detector]


def read_time(row: dict, k: int) -> float:
    """Absolute time of read ``k`` of an index row, s since the index epoch."""
    return row["start_s"] + row["frame_time_s"] * (k + 1)


def _illuminated(row: dict, exp, sat: np.ndarray) -> dict:
    """Growth, onset, centre and peak; ``exp`` raw (tested against ``sat``) or calibrated (its groupdq)."""
    from ..diagnostics.centroid import NoSourceError, star_centre
    from ..diagnostics.growth import saturation_analysis_job
    from ..diagnostics.saturated import saturation_input
    from ..diagnostics.thresholds import SaturationTest
    from ..progress import run

    n, h, w = exp.shape
    times = exp.read_times
    frames, thresholds = saturation_input(exp, sat)
    growth, onset = run(saturation_analysis_job(frames, thresholds, read_times=times))
    last = exp.frame(n - 1)
    diff = last.astype(np.float32) - exp.frame(0)
    saturated = SaturationTest(thresholds, (h, w))(frames.frame(n - 1))
    guess = None
    if math.isfinite(row.get("star_row") or math.nan):
        guess = (row["star_row"], row["star_col"])
    out: dict[str, Any] = {"growth": {k: np.asarray(v).tolist() for k, v in growth.columns().items()}}
    try:
        centre = star_centre(diff, saturated=saturated, guess=guess, wing_width=8.0)
        cy, cx = centre.row, centre.col
        out.update(star_row=cy, star_col=cx, star_significance=centre.significance)
    except NoSourceError as err:
        out.update(star_row=math.nan, star_col=math.nan, star_significance=math.nan, note=str(err))
        return out
    y, x = int(round(cy)), int(round(cx))
    box = diff[max(0, y - 2):y + 3, max(0, x - 2):x + 3]
    out["peak_dn"] = float(np.max(box))
    out["peak_raw_dn"] = float(np.max(last[max(0, y - 2):y + 3, max(0, x - 2):x + 3]))
    yy, xx = np.indices((h, w))
    r = np.hypot(yy - cy, xx - cx)
    radii = []
    for k in range(n):
        sel = onset.onset == k
        radii.append(float(np.median(r[sel])) if sel.any() else math.nan)
    out["onset_radius_px"] = radii
    ever = np.isfinite(onset.onset)
    out["onset_outer_radius_px"] = float(np.percentile(r[ever], 95)) if ever.any() else 0.0
    return out


def _footprint(row: dict, references, cache: dict, endpoint_url) -> np.ndarray:
    from ..diagnostics.thresholds import SaturationTest
    from ..io import open_exposure

    with open_exposure(row["uri"], endpoint_url=endpoint_url) as exp:
        n, h, w = exp.shape
        return SaturationTest(_thresholds(references, row["detector"], cache), (h, w))(exp.frame(n - 1))


def _dark(row: dict, exp, earlier: list[dict], references, cache: dict, endpoint_url) -> dict:
    from scipy import ndimage

    n, h, w = exp.shape
    diff = exp.frame(n - 1).astype(np.float64) - exp.frame(0)
    duration = read_time(row, n - 1) - read_time(row, 0)
    prints, unreadable = [], {}
    for src in earlier:
        try:
            fp = _footprint(src, references, cache, endpoint_url)
        except (ExposureError, ValueError, OSError) as err:  # a damaged source: the dark goes on without it
            unreadable[src["name"]] = str(err)
            continue
        if fp.any():
            prints.append((src, fp))
    near_any = np.zeros((h, w), bool)
    for _, fp in prints:
        near_any |= ndimage.binary_dilation(fp, iterations=RING_INNER)
    found = []
    for src, fp in prints:
        ring = ndimage.binary_dilation(fp, iterations=RING_OUTER) & ~near_any
        if not ring.any():
            continue
        excess = float(np.median(diff[fp]) - np.median(diff[ring]))
        since = read_time(row, 0) - read_time(src, src["reads"] - 1)
        found.append({"source_uri": src["uri"], "source_name": src["name"], "time_since_s": since,
                      "excess_dn": excess, "rate_dn_s": excess / duration if duration > 0 else math.nan,
                      "n_pixels": int(fp.sum())})
    return {"persistence": found, "unreadable_sources": unreadable}


def calibration_references(references: str | Path, detector: str) -> Path:
    """The reference folder to calibrate ``detector`` with: ``references/<detector>/`` if there is one."""
    base = Path(references)
    return base / detector if (base / detector).is_dir() else base


def _calibrated(row: dict, references, endpoint_url) -> tuple[str, bool]:
    """Calibrate one exposure through the cache; (path of the RampModel, whether it was cached)."""
    from ..calibrate import calibrate_job
    from ..progress import run

    result = run(calibrate_job(row["uri"], refs=calibration_references(references, row["detector"]),
                               endpoint_url=endpoint_url))
    return str(result.path), result.from_cache


def analyse(row: dict, index_rows: list[dict], references: str | Path, endpoint_url: str | None = None,
            calibrate: bool = False) -> dict:
    """The result of one exposure (a JSON-ready dict); raises on a bad file (the runner records it).

    Parameters
    ----------
    row : dict
        Its index row (:mod:`.index`).
    index_rows : list of dict
        The whole index (a dark looks for the illuminated exposures before it).
    references : path
        Folder of reference files, per detector in sub-folders or flat.
    calibrate : bool
        Calibrate first (romancal's steps through :mod:`processing.calibrate`
        and its disk cache) and analyse the calibrated ramp: saturation from
        its group DQ, DN linearity-corrected.  The footprints a dark is
        measured at still come from the earlier exposures' raw last reads
        against the saturation reference (the same rule romancal applies),
        so that no task waits for another's calibration.  Darks are analysed
        raw even then: romancal cannot write them as a RampModel (rad's
        ``exposure_type`` enum for ramps has no ``WFI_DARK``, the TVAC dark
        type), and the tutorial measures persistence in raw DN anyway; the
        result says so (``calibrated: false`` with a ``calibration_note``).
    """
    from ..io import open_exposure

    if row.get("error"):
        raise ValueError(f"{row['uri']}: not indexed: {row['error']}")
    cache: dict = {}
    result = {k: row[k] for k in ("uri", "name", "activity", "detector", "filter", "exposure_type", "reads",
                                  "frame_time_s", "start_s")}
    source = row["uri"]
    dark = row["exposure_type"] == "WFI_DARK"
    result["calibrate_requested"] = calibrate
    result["calibrated"] = calibrate and not dark
    if calibrate and dark:
        result["calibration_note"] = "darks are analysed raw (romancal's RampModel has no WFI_DARK exposure type)"
    elif calibrate:
        source, result["calibration_from_cache"] = _calibrated(row, references, endpoint_url)
        result["calibrated_path"] = source
    with open_exposure(source, endpoint_url=None if result["calibrated"] else endpoint_url) as exp:  # the cache is local
        if dark:
            earlier = [r for r in index_rows if not r.get("error") and r["exposure_type"] != "WFI_DARK"
                       and r["detector"] == row["detector"] and r["start_s"] < row["start_s"]]
            result.update(_dark(row, exp, earlier, references, cache, endpoint_url))
        else:
            result.update(_illuminated(row, exp, _thresholds(references, row["detector"], cache)))
    return result


def fit_persistence(results: list[dict]) -> dict[str, dict]:
    """Time constant of each footprint's persistence, from the darks' results.

    A line through ``log(rate)`` against time since illumination, per source
    exposure (footprints with positive rates in at least three darks).

    Returns
    -------
    dict
        source uri -> ``{"detector", "tau_s", "amplitude_dn_s", "n_darks"}``.
    """
    series: dict[str, list[tuple[float, float, str]]] = {}
    for res in results:
        for p in res.get("persistence", []) or []:
            series.setdefault(p["source_uri"], []).append((p["time_since_s"], p["rate_dn_s"], res["detector"]))
    out = {}
    for uri, points in series.items():
        t = np.array([p[0] for p in points])
        rate = np.array([p[1] for p in points])
        good = np.isfinite(rate) & (rate > 0)
        if good.sum() < 3:
            continue
        slope, intercept = np.polyfit(t[good], np.log(rate[good]), 1)
        out[uri] = {"detector": points[0][2], "tau_s": float(-1.0 / slope) if slope < 0 else math.inf,
                    "amplitude_dn_s": float(math.exp(intercept)), "n_darks": int(good.sum())}
    return out
