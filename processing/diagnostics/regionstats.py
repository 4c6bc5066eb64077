"""Statistics of a region per read: rectangle, circle or annulus, DS9 region files.

Shapes and DS9 file input/output are the astropy-affiliated ``regions``
package's (pixel regions: ``x`` is the column, ``y`` the row, pixel centres at
integers); a pixel belongs to a region when its centre does (``mode="center"``).
Only the region's bounding box is read from an exposure.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..progress import CancelToken, Job, Progress, run
from .frames import BoxFrames, as_frame_source, check_same_shape, read_frame
from .ramp import OnProgress
from .thresholds import SaturationTest, align_saturation_threshold

#: ``roman_datamodels.dqflags.pixel.DO_NOT_USE`` (a test checks the value).
PIXELDQ_DO_NOT_USE = 1

#: Column names of :meth:`RegionStats.columns`, in order.
STATS_COLUMNS = ("read", "mean", "median", "std", "min", "max", "n_good", "n_saturated")


def rectangle(y0: int, y1: int, x0: int, x1: int):
    """A ``regions.RectanglePixelRegion`` covering rows ``y0:y1``, columns ``x0:x1`` exactly."""
    from regions import PixCoord, RectanglePixelRegion

    return RectanglePixelRegion(PixCoord(x=(x0 + x1 - 1) / 2, y=(y0 + y1 - 1) / 2), width=x1 - x0, height=y1 - y0)


def circle(row: float, col: float, radius: float):
    """A ``regions.CirclePixelRegion``: pixels whose centre is within ``radius`` of (row, col)."""
    from regions import CirclePixelRegion, PixCoord

    return CirclePixelRegion(PixCoord(x=col, y=row), radius=radius)


def annulus(row: float, col: float, inner: float, outer: float):
    """A ``regions.CircleAnnulusPixelRegion`` between radii ``inner`` and ``outer`` about (row, col)."""
    from regions import CircleAnnulusPixelRegion, PixCoord

    return CircleAnnulusPixelRegion(PixCoord(x=col, y=row), inner_radius=inner, outer_radius=outer)


def region_mask(region: Any, frame_shape: tuple[int, int]) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The region's pixels within a frame: its bounding box and the mask inside it.

    Parameters
    ----------
    region : regions.PixelRegion or (H, W) bool array
        A shape, or a mask of the frame's pixels (e.g. a star's footprint,
        ``np.isfinite(onset)``).
    frame_shape : (H, W)

    Returns
    -------
    box : (y0, y1, x0, x1)
        The bounding box clipped to the frame.
    mask : (y1 - y0, x1 - x0) bool
        True for the region's pixels.

    Raises
    ------
    ValueError
        If no pixel of the region lies in the frame.
    """
    h, w = frame_shape
    if isinstance(region, np.ndarray):
        if region.dtype != bool or region.shape != (h, w):
            raise ValueError(f"a mask region must be a ({h}, {w}) bool array like the frame; got {region.dtype} {region.shape}")
        rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
        if rows.size == 0:
            raise ValueError(f"the mask region has no pixel inside the {h} x {w} frame")
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        return (y0, y1, x0, x1), region[y0:y1, x0:x1].copy()
    rmask = region.to_mask(mode="center")
    bbox = rmask.bbox
    y0, y1 = max(0, bbox.iymin), min(h, bbox.iymax)
    x0, x1 = max(0, bbox.ixmin), min(w, bbox.ixmax)
    if y0 >= y1 or x0 >= x1:
        raise ValueError(f"the region {region} has no pixel inside the {h} x {w} frame")
    data = np.asarray(rmask.data, dtype=bool)[y0 - bbox.iymin : y1 - bbox.iymin, x0 - bbox.ixmin : x1 - bbox.ixmin]
    if not data.any():
        raise ValueError(f"the region {region} has no pixel inside the {h} x {w} frame")
    return (y0, y1, x0, x1), data


@dataclass(frozen=True)
class RegionStats:
    """Per-read statistics of a region's good pixels.

    Good pixels are in the region, finite, not DO_NOT_USE in ``pixeldq`` and
    not saturated in that read.  Every array has shape (N,); statistics are
    NaN in a read with no good pixel.  ``mean`` is the region's mean ramp.

    Attributes
    ----------
    read : int64
    mean, median, std, min, max : float64, DN
        ``std`` is the population standard deviation (ddof 0).
    n_good, n_saturated : int64, pixels
    n_pixels : int
        Pixels in the region (inside the frame).
    box : (y0, y1, x0, x1)
        Its bounding box, what was read.
    """

    read: np.ndarray
    mean: np.ndarray
    median: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray
    n_good: np.ndarray
    n_saturated: np.ndarray
    n_pixels: int
    box: tuple[int, int, int, int]

    def columns(self) -> dict[str, np.ndarray]:
        """The table as name -> (N,) column, in :data:`STATS_COLUMNS` order."""
        return {name: getattr(self, name) for name in STATS_COLUMNS}


def region_stats_job(values: Any, region: Any, *, sat_frames: Any = None, sat_dn: np.ndarray | None = None,
                     pixeldq: np.ndarray | None = None) -> Job[RegionStats]:
    """Generator form of :func:`region_stats`; yields progress after each read."""
    source = as_frame_source(values, "frames")
    n, h, w = source.shape
    box, inside = region_mask(region, (h, w))
    y0, y1, x0, x1 = box
    usable = inside.copy()
    if pixeldq is not None:
        check_same_shape("pixeldq", np.shape(pixeldq), "frame", (h, w))
        usable &= (np.asarray(pixeldq)[y0:y1, x0:x1] & PIXELDQ_DO_NOT_USE) == 0
    test = None
    box_values = sat_box = BoxFrames(source, box)
    if sat_dn is not None:
        if sat_frames is not None and sat_frames is not values:
            sat_source = as_frame_source(sat_frames, "raw_frames")
            check_same_shape("raw_frames", sat_source.shape, "frames", source.shape)
            sat_box = BoxFrames(sat_source, box)
        test = SaturationTest(align_saturation_threshold(sat_dn, (h, w))[y0:y1, x0:x1], (y1 - y0, x1 - x0))
    out = {name: np.full(n, np.nan) for name in ("mean", "median", "std", "min", "max")}
    n_good, n_sat = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for k in range(n):
        frame = read_frame(box_values, k)
        good = usable & np.isfinite(frame) if frame.dtype.kind == "f" else usable.copy()
        if test is not None:
            sat = test(read_frame(sat_box, k, "raw_frames")) & inside
            n_sat[k] = np.count_nonzero(sat)
            good &= ~sat
        picked = frame.ravel() if good.all() else frame[good]
        n_good[k] = picked.size
        if picked.size:
            for name, value in zip(("mean", "median", "std", "min", "max"), _statistics(picked)):
                out[name][k] = value
        yield Progress((k + 1) / n, f"region statistics: read {k + 1}/{n}")
    return RegionStats(np.arange(n, dtype=np.int64), out["mean"], out["median"], out["std"], out["min"], out["max"],
                       n_good, n_sat, int(inside.sum()), box)


def _statistics(values: np.ndarray) -> tuple[float, float, float, float, float]:
    """Mean, median, std (ddof 0), min and max of a non-empty 1-D array without NaN.

    Raw reads are uint16: one histogram of the possible values gives all five
    in a pass over the pixels plus a few over the (at most 65536) bins,
    instead of five passes and a partition.  Other dtypes use numpy, with the
    median partitioned in the array's own dtype (not a float64 copy).
    """
    n = values.size
    lo, hi = (n - 1) // 2, n // 2
    if values.dtype.kind in "ub" and values.dtype.itemsize <= 2:
        counts = np.bincount(values.astype(np.intp, copy=False) if values.dtype.kind == "b" else values)
        levels = np.flatnonzero(counts)
        weights = counts[levels].astype(np.float64)
        v = levels.astype(np.float64)
        # Sums, not np.dot: BLAS threads spinning up for a 10^4-element dot
        # product cost milliseconds of CPU per read on a busy machine.
        mean = float((weights * v).sum() / n)
        std = float(np.sqrt((weights * (v - mean) ** 2).sum() / n))
        cumulative = np.cumsum(weights)
        a, b = v[np.searchsorted(cumulative, [lo + 1, hi + 1])]
        return mean, (float(a) + float(b)) / 2, std, float(v[0]), float(v[-1])
    part = np.partition(values, [lo, hi])
    median = (float(part[lo]) + float(part[hi])) / 2
    return (float(values.mean(dtype=np.float64)), median, float(values.std(dtype=np.float64)),
            float(values.min()), float(values.max()))


def region_stats(values: Any, region: Any, *, sat_frames: Any = None, sat_dn: np.ndarray | None = None,
                 pixeldq: np.ndarray | None = None, on_progress: OnProgress = None,
                 cancel: CancelToken | None = None) -> RegionStats:
    """Mean, median, std, min, max and pixel counts of a region in every read.

    Parameters
    ----------
    values : (N, H, W) array or frame source, DN
        The reads (raw or calibrated).
    region : regions.PixelRegion or (H, W) bool array
        E.g. :func:`rectangle`, :func:`circle`, :func:`annulus`, one read by
        :func:`read_ds9`, or a mask such as a star's footprint.
    sat_frames : frame source, optional
        What the saturation test reads (default ``values``): raw DN, or
        :class:`~.saturated.FlaggedFrames`.
    sat_dn : (H, W) or (H + 8, W + 8) array, DN, optional
        Thresholds; without them no pixel counts as saturated.
    pixeldq : (H, W) uint32, optional
        Pixels flagged DO_NOT_USE are not good.
    on_progress, cancel
        As for :func:`~.growth.saturation_growth`.

    Returns
    -------
    RegionStats
    """
    job = region_stats_job(values, region, sat_frames=sat_frames, sat_dn=sat_dn, pixeldq=pixeldq)
    return run(job, on_progress, cancel)


def read_ds9(path: str | os.PathLike) -> list:
    """Pixel regions of a DS9 region file (image coordinates).

    Raises
    ------
    ValueError
        Naming the file, if it cannot be parsed or holds sky regions.
    """
    from regions import PixelRegion, Regions

    try:
        found = Regions.read(str(path), format="ds9")
    except Exception as err:  # regions raises several types for a bad file
        raise ValueError(f"{path}: not a readable DS9 region file ({type(err).__name__}: {err})") from err
    sky = [r for r in found if not isinstance(r, PixelRegion)]
    if sky:
        raise ValueError(f"{path}: holds {len(sky)} sky-coordinate region(s); only image (pixel) regions are supported")
    return list(found)


def write_ds9(path: str | os.PathLike, regions: list) -> Path:
    """Write pixel regions to a DS9 region file, atomically (temporary file, then rename)."""
    from regions import Regions

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        Regions(list(regions)).write(tmp, format="ds9", overwrite=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
