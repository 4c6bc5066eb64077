"""How the saturated area grows, read by read: counts of the tutorial's masks.

For each read this counts the pixels of the four masks of
:func:`~.masks.saturation_masks` -- saturated, newly saturated, 4-neighbours
and diagonal neighbours of saturation -- and gives the radius of the disc of
the same area, ``sqrt(N_saturated / pi)``.  It streams: one read at a time,
two (H, W) boolean masks kept, so a full 55 x 4096 x 4096 exposure costs a
few hundred MB.  The masks come from the package's one saturation rule
(:class:`~.thresholds.SaturationTest`) and neighbour code
(:class:`~.neighbours.Neighbours`); a calibrated ramp is handled through
:func:`~.saturated.saturation_input`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..progress import CancelToken, Job, Progress, run
from .frames import BoxFrames, as_frame_source, read_frame, release_pages_now
from .neighbours import Neighbours
from .onset import OnsetMap
from .ramp import OnProgress, onset_dtype
from .thresholds import SaturationTest, align_saturation_threshold

#: Column names of :meth:`SaturationGrowth.columns`, in order (the CLI's CSV header).
GROWTH_COLUMNS = ("read", "time_s", "saturated", "new", "nearby", "diagonal", "equivalent_radius_px")


@dataclass(frozen=True)
class SaturationGrowth:
    """Per-read counts of saturation and its neighbours.

    Attributes
    ----------
    read : (N,) int64
        Read index, 0-based.
    time_s : (N,) float64, s
        Time of each read since the first; NaN when the exposure does not say.
    saturated, new, nearby, diagonal : (N,) int64, pixels
        Pixels in each of the tutorial's masks (see :func:`~.masks.saturation_masks`).
    equivalent_radius_px : (N,) float64, pixels
        ``sqrt(saturated / pi)``.
    region : (y0, y1, x0, x1) or None
        The box counted (a shape's bounding box); None for the whole frame.
    """

    read: np.ndarray
    time_s: np.ndarray
    saturated: np.ndarray
    new: np.ndarray
    nearby: np.ndarray
    diagonal: np.ndarray
    equivalent_radius_px: np.ndarray
    region: tuple[int, int, int, int] | None = None

    def columns(self) -> dict[str, np.ndarray]:
        """The table as name -> (N,) column, in :data:`GROWTH_COLUMNS` order."""
        return {name: getattr(self, name) for name in GROWTH_COLUMNS}


def equivalent_radius(n_pixels: Any) -> np.ndarray:
    """Radius of a disc of ``n_pixels`` pixels: ``sqrt(n / pi)``, pixels."""
    return np.sqrt(np.asarray(n_pixels, dtype=np.float64) / np.pi)


def _window_around(mask: np.ndarray) -> tuple[slice, slice] | None:
    """The bounding box of ``mask`` grown by one pixel (clipped to the frame); None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    r0, r1 = rows[0], rows[-1] + 1
    cols = np.flatnonzero(mask[r0:r1].any(axis=0))
    c0, c1 = cols[0], cols[-1] + 1
    h, w = mask.shape
    return slice(max(0, r0 - 1), min(h, r1 + 1)), slice(max(0, c0 - 1), min(w, c1 + 1))


def _times(read_times: Any, n: int) -> np.ndarray:
    if read_times is None:
        return np.full(n, np.nan)
    times = np.asarray(read_times, dtype=np.float64)
    if times.shape != (n,):
        raise ValueError(f"read_times has shape {times.shape}; expected ({n},), one per read")
    return times


def _scan_job(frames: Any, sat_dn: np.ndarray, region: Any, read_times: Any,
              onset: bool) -> Job[tuple[SaturationGrowth, np.ndarray | None]]:
    """The growth counts (and, if asked, the first saturated read of each pixel) in one pass."""
    source = as_frame_source(frames, "frames")
    n, h, w = source.shape
    sat_full = align_saturation_threshold(sat_dn, (h, w))
    box = inside = None
    if region is not None:
        if hasattr(region, "to_mask"):  # a regions shape: its bounding box, counted inside the shape only
            from .regionstats import region_mask

            region, inside = region_mask(region, (h, w))
        source = BoxFrames(source, region)
        box = source.box
        y0, y1, x0, x1 = box
        sat_full = sat_full[y0:y1, x0:x1]
        h, w = y1 - y0, x1 - x0
    times = _times(read_times, n)
    test = SaturationTest(sat_full, (h, w))
    sat, before = np.empty((h, w), dtype=bool), np.zeros((h, w), dtype=bool)
    first = np.full((h, w), -1, dtype=onset_dtype(n)) if onset else None
    counts = np.zeros((4, n), dtype=np.int64)
    for k in range(n):
        test(read_frame(source, k, "frames"), out=sat)
        window = _window_around(sat)
        if window is not None:
            # Every count lives within one pixel of a saturated pixel, so only
            # that window is classified -- exactly the same counts, a fraction
            # of the work for a star (the whole frame with scattered hot pixels).
            s, b = sat[window], before[window]
            keep = None if inside is None else inside[window]
            nearby, diagonal = np.empty(s.shape, dtype=bool), np.empty(s.shape, dtype=bool)
            Neighbours(s.shape).classify(s, nearby, diagonal)
            # Read 0 has no previous read: all its saturated pixels are new (as in the tutorial).
            for i, mask in enumerate((s, np.greater(s, b), nearby, diagonal)):
                counts[i, k] = np.count_nonzero(mask if keep is None else mask & keep)
            if first is not None:
                seen = first[window]  # a view: written in place
                np.copyto(seen, k, where=s & (seen < 0))
        sat, before = before, sat
        release_pages_now(source, k)
        yield Progress((k + 1) / n, f"saturation growth: read {k + 1}/{n}")
    growth = SaturationGrowth(np.arange(n, dtype=np.int64), times, counts[0], counts[1], counts[2], counts[3],
                              equivalent_radius(counts[0]), box)
    return growth, first


def saturation_growth_job(frames: Any, sat_dn: np.ndarray, *, region: Any = None,
                          read_times: Any = None) -> Job[SaturationGrowth]:
    """Generator form of :func:`saturation_growth`; yields progress after each read."""
    growth, _ = yield from _scan_job(frames, sat_dn, region, read_times, onset=False)
    return growth


def saturation_analysis_job(frames: Any, sat_dn: np.ndarray, *, region: Any = None,
                            read_times: Any = None) -> Job[tuple[SaturationGrowth, OnsetMap]]:
    """Saturation growth and the onset map in one pass over the reads.

    Half the reading of :func:`saturation_growth` and
    :func:`~.onset.onset_map` one after the other, which is what a campaign
    over many 1.9 GB exposures wants.  Parameters as for
    :func:`saturation_growth`; the onset map covers the region's bounding box.

    Returns
    -------
    (SaturationGrowth, OnsetMap)
    """
    growth, first = yield from _scan_job(frames, sat_dn, region, read_times, onset=True)
    onset = first.astype(np.float32)
    onset[first < 0] = np.nan
    return growth, OnsetMap(onset, growth.time_s, growth.region)


def saturation_growth(frames: Any, sat_dn: np.ndarray, *, region: Any = None, read_times: Any = None,
                      on_progress: OnProgress = None, cancel: CancelToken | None = None) -> SaturationGrowth:
    """Per-read counts of saturated, newly saturated, 4-neighbour and diagonal pixels.

    Parameters
    ----------
    frames : (N, H, W) array or frame source, DN
        Raw frames, or :class:`~.saturated.FlaggedFrames` of a calibrated
        ramp (see :func:`~.saturated.saturation_input`).
    sat_dn : (H, W) or (H + 8, W + 8) array, DN
        Per-pixel saturation thresholds of the whole frame.
    region : (y0, y1, x0, x1) or regions.PixelRegion, optional
        Count only this box (half-open rows and columns), or only the pixels
        of this shape (a circle, an annulus; see :mod:`.regionstats`); only
        the bounding box is read when ``frames`` is an exposure.  As in the
        tutorial's cutouts, pixels outside the box count as unsaturated for
        the neighbour masks.
    read_times : (N,) array, s, optional
        E.g. :attr:`processing.io.Exposure.read_times`.
    on_progress : callable, optional
        Called with a :class:`~processing.progress.Progress` after each read.
    cancel : CancelToken, optional
        Checked after each read; raises :class:`~processing.progress.Cancelled`.

    Returns
    -------
    SaturationGrowth

    Raises
    ------
    ValueError
        If the region is not inside the frame or the shapes disagree.
    """
    return run(saturation_growth_job(frames, sat_dn, region=region, read_times=read_times), on_progress, cancel)
