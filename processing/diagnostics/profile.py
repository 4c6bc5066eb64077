"""Radial profiles of the star, read by read: frame, difference, slope ratio, onset.

:func:`star_profiles_job` finds the star's sub-pixel centre
(:func:`~.centroid.star_centre`), reads the box of reads around it once, and
makes one pass over that box for the mean slope and the saturation onset
(:func:`~.ramp.ramp_summary_job`).  :meth:`StarProfiles.at` then gives the
profiles of any read in milliseconds -- what a plot following the viewer's
frame slider needs -- using :func:`~.star.radial_profile` for the binning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..progress import CancelToken, Job, Progress, run
from .centroid import StarCentre, star_centre
from .frames import BoxFrames, as_frame_source, difference_dtype, read_frame
from .ramp import OnProgress, ramp_summary_job, slope_ratio
from .star import radial_profile
from .thresholds import SaturationTest, align_saturation_threshold

#: Column names of :meth:`ReadProfile.columns`, in order (the CLI's CSV header).
PROFILE_COLUMNS = ("radius_px", "n_pixels", "frame_dn", "difference_dn", "slope_ratio", "onset_read",
                   "saturated_fraction")


@dataclass(frozen=True)
class ReadProfile:
    """Azimuthal means about the star's centre for one read.

    Every array has shape (M,), one value per ring ``[j, j + 1) * bin_width``.

    Attributes
    ----------
    read : int
    center : (row, col) float, pixels (frame coordinates)
    radius_px : ring centres, pixels
    n_pixels : pixels in each ring (inside the frame)
    frame_dn : mean of read ``read``, DN
    difference_dn : mean of ``read - baseline``, DN
    slope_ratio : mean of the read's slope over the mean slope (NaN for read 0
        and where the mean slope is undefined)
    onset_read : mean first saturated read of the ring's pixels that saturate (NaN if none)
    saturated_fraction : fraction of the ring's pixels saturated in this read
    """

    read: int
    center: tuple[float, float]
    radius_px: np.ndarray
    n_pixels: np.ndarray
    frame_dn: np.ndarray
    difference_dn: np.ndarray
    slope_ratio: np.ndarray
    onset_read: np.ndarray
    saturated_fraction: np.ndarray

    def columns(self) -> dict[str, np.ndarray]:
        """The table as name -> (M,) column, in :data:`PROFILE_COLUMNS` order."""
        return {name: getattr(self, name) for name in PROFILE_COLUMNS}


@dataclass(frozen=True)
class StarProfiles:
    """What the per-read profiles are computed from (see :func:`star_profiles_job`).

    Attributes
    ----------
    centre : StarCentre or None
        How the centre was found (None when the caller gave it).
    center : (row, col) float, pixels, frame coordinates
    box : (y0, y1, x0, x1)
        The part of the frame read.
    values : (N, h, w) array, DN
        The box's reads.
    saturated : (N, h, w) bool
    mean_slope : (h, w) float32, DN/read
    onset : (h, w) int16, first saturated read, -1 never
    max_radius, bin_width : float, pixels
    baseline : int
        Read subtracted for ``difference_dn``.
    """

    centre: StarCentre | None
    center: tuple[float, float]
    box: tuple[int, int, int, int]
    values: np.ndarray
    saturated: np.ndarray
    mean_slope: np.ndarray
    onset: np.ndarray
    max_radius: float
    bin_width: float
    baseline: int

    @property
    def n_reads(self) -> int:
        return self.values.shape[0]

    def at(self, k: int) -> ReadProfile:
        """The profiles of read ``k`` (0 <= k < N)."""
        n = self.n_reads
        if not 0 <= k < n:
            raise ValueError(f"read {k} is out of range: the exposure has reads 0..{n - 1}")
        y0, _, x0, _ = self.box
        c = (self.center[0] - y0, self.center[1] - x0)

        def prof(image, mask=None):
            return radial_profile(image, c, self.max_radius, self.bin_width, mask=mask, return_counts=True)

        frame = self.values[k]
        radii, frame_dn, counts = prof(frame)
        base = self.values[self.baseline]
        diff = np.subtract(frame, base, dtype=difference_dtype(frame.dtype, base.dtype))
        ratio = slope_ratio(self.values, self.mean_slope, k) if k >= 1 else np.full(frame.shape, np.nan, np.float32)
        onset = np.where(self.onset >= 0, self.onset, np.nan).astype(np.float32)
        return ReadProfile(
            read=int(k), center=self.center, radius_px=radii, n_pixels=counts, frame_dn=frame_dn,
            difference_dn=prof(diff)[1], slope_ratio=prof(ratio)[1], onset_read=prof(onset)[1],
            saturated_fraction=prof(self.saturated[k].astype(np.float32))[1],
        )


def _box_about(center: tuple[float, float], radius: float, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    h, w = shape
    y0, y1 = max(0, int(np.floor(center[0] - radius))), min(h, int(np.ceil(center[0] + radius)) + 1)
    x0, x1 = max(0, int(np.floor(center[1] - radius))), min(w, int(np.ceil(center[1] + radius)) + 1)
    if y0 >= y1 or x0 >= x1:
        raise ValueError(f"centre {center} with radius {radius} lies outside the {h} x {w} frame")
    return y0, y1, x0, x1


def find_centre(values: Any, sat_frames: Any, sat_dn: np.ndarray, read: int | None = None) -> StarCentre:
    """The star's centre in read ``read`` (default 1) minus read 0, from its wings.

    Read 1 is the default because its saturated core is the smallest: later
    reads of a bright star saturate the projector's ghost out to ~170 px,
    leaving only faint wings (where the ghost's rim and the non-symmetric
    projector rings compete with the star) to measure the centre from.

    Raises
    ------
    NoSourceError
        When there is no star (e.g. a dark).
    """
    values = as_frame_source(values, "frames")
    sat_frames = as_frame_source(sat_frames, "raw_frames")
    n, h, w = values.shape
    k = 1 if read is None else int(read)
    if n < 2:
        raise ValueError("finding the star needs at least two reads (a read minus read 0)")
    k = max(1, min(k, n - 1))
    cur, first = read_frame(values, k), read_frame(values, 0)
    diff = np.subtract(cur, first, dtype=difference_dtype(cur.dtype, first.dtype))
    saturated = SaturationTest(sat_dn, (h, w))(read_frame(sat_frames, k, "raw_frames"))
    return star_centre(diff, saturated)


def star_profiles_job(values: Any, sat_frames: Any, sat_dn: np.ndarray, *, center: tuple[float, float] | None = None,
                      max_radius: float = 128.0, bin_width: float = 1.0, baseline: int = 1,
                      centre_read: int | None = None) -> Job[StarProfiles]:
    """Prepare the star's per-read radial profiles, reading only the box about it.

    Parameters
    ----------
    values : (N, H, W) array or frame source, DN
        The reads to profile (raw, or calibrated).
    sat_frames : (N, H, W) array or frame source
        What the saturation test reads: raw DN, or
        :class:`~.saturated.FlaggedFrames` (see :func:`~.saturated.saturation_input`).
        May be ``values`` itself.
    sat_dn : (H, W) or (H + 8, W + 8) array, DN
        Thresholds of the whole frame.
    center : (row, col), optional, pixels
        The centre; default: found by :func:`find_centre`.
    max_radius, bin_width : float, pixels
    baseline : int
        Read subtracted for the difference profile (the tutorial's 1).
    centre_read : int, optional
        Read the centre is measured in (default 1, see :func:`find_centre`).

    Returns
    -------
    StarProfiles

    Raises
    ------
    NoSourceError
        No ``center`` given and no star found.
    ValueError
        Bad read indices, radius or centre.
    """
    values = as_frame_source(values, "frames")
    sat_frames = values if sat_frames is values else as_frame_source(sat_frames, "raw_frames")
    n, h, w = values.shape
    if not 0 <= baseline < n:
        raise ValueError(f"baseline read {baseline} is out of range: the exposure has reads 0..{n - 1}")
    if not (max_radius > 0 and bin_width > 0):
        raise ValueError(f"max_radius and bin_width must be positive; got {max_radius} and {bin_width}")
    sat_full = align_saturation_threshold(sat_dn, (h, w))
    found = None
    if center is None:
        yield Progress(0.0, "finding the star")
        found = find_centre(values, sat_frames, sat_full, centre_read)
        center = found.center
    center = (float(center[0]), float(center[1]))
    box = _box_about(center, max_radius, (h, w))
    y0, y1, x0, x1 = box
    box_values = BoxFrames(values, box)
    box_sat = box_values if sat_frames is values else BoxFrames(sat_frames, box)
    cube = np.stack([read_frame(box_values, k) for k in range(n)])
    sat_cube = cube if sat_frames is values else np.stack([read_frame(box_sat, k) for k in range(n)])
    summary = yield from ramp_summary_job(cube, sat_cube, sat_full[y0:y1, x0:x1])
    test = SaturationTest(sat_full[y0:y1, x0:x1], (y1 - y0, x1 - x0))
    saturated = np.stack([test(sat_cube[k]) for k in range(n)])
    return StarProfiles(found, center, box, cube, saturated, summary.mean_slope, summary.onset,
                        float(max_radius), float(bin_width), int(baseline))


def star_profiles(values: Any, sat_frames: Any, sat_dn: np.ndarray, *, on_progress: OnProgress = None,
                  cancel: CancelToken | None = None, **kwargs) -> StarProfiles:
    """Run :func:`star_profiles_job` to completion (same keyword arguments)."""
    return run(star_profiles_job(values, sat_frames, sat_dn, **kwargs), on_progress, cancel)
