"""Reductions over a whole ramp, one frame at a time: mean slope, onset, counts.

All of them come out of one loop (:func:`_scan_job`) that reads each frame
once and keeps only the previous frame and a few (H, W) accumulators, so a
55 x 4096 x 4096 exposure needs a few hundred MB, not the 3.7 GB float cube.
Each public reduction is a generator (``*_job``) that yields a
:class:`~processing.progress.Progress` after every frame -- the point where a
:class:`~processing.progress.CancelToken` can stop it -- plus a plain function
that runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..progress import CancelToken, Job, Progress, run
from .frames import FrameSource, as_frame_source, check_same_shape, difference_dtype, read_frame, release_pages_now
from .neighbours import Neighbours
from .thresholds import SaturationTest

OnProgress = Callable[[Progress], None] | None


@dataclass(frozen=True)
class RampSummary:
    """What one pass over a ramp yields.

    Attributes
    ----------
    mean_slope : (H, W) float32, DN/frame
        See :func:`mean_slope`.
    onset : (H, W) int16 (int32 if N > 32767)
        See :func:`saturation_onset`.
    saturated_count : (N,) int64
        See :func:`saturated_count`.
    """

    mean_slope: np.ndarray
    onset: np.ndarray
    saturated_count: np.ndarray


def onset_dtype(n_frames: int) -> np.dtype:
    """Smallest signed integer type holding frame indices 0..N-1 and -1."""
    return np.dtype(np.int16) if n_frames <= np.iinfo(np.int16).max else np.dtype(np.int32)


def _count_dtype(n_max: int) -> np.dtype:
    # A per-pixel count of used differences; uint16 halves the memory of int32
    # on full frames and holds any real ramp.
    return np.dtype(np.uint16) if n_max <= np.iinfo(np.uint16).max else np.dtype(np.int64)


def _scan_job(
    values: FrameSource | None,
    raw: FrameSource,
    sat_dn: np.ndarray,
    *,
    slope: bool,
    onset: bool,
    counts: bool,
    label: str,
) -> Job[dict[str, np.ndarray]]:
    """One pass over the ramp computing the requested reductions."""
    n, h, w = raw.shape
    test = SaturationTest(sat_dn, (h, w))
    sat = np.empty((h, w), dtype=bool)
    result: dict[str, np.ndarray] = {}
    if slope:
        neighbours = Neighbours((h, w))
        valid = np.empty((h, w), dtype=bool)
        num = np.zeros((h, w), dtype=np.float64)
        den = np.zeros((h, w), dtype=_count_dtype(n - 1))
        diff: np.ndarray | None = None
        prev: np.ndarray | None = None
    if onset:
        first = np.full((h, w), -1, dtype=onset_dtype(n))
        ever = np.zeros((h, w), dtype=bool)
        newly = np.empty((h, w), dtype=bool)
    if counts:
        per_frame = np.zeros(n, dtype=np.int64)

    for k in range(n):
        raw_k = read_frame(raw, k, "raw_frames")
        test(raw_k, out=sat)
        if counts:
            per_frame[k] = np.count_nonzero(sat)
        if onset:
            np.greater(sat, ever, out=newly)
            np.copyto(first, k, where=newly)
            np.logical_or(ever, sat, out=ever)
        if slope:
            cur = raw_k if values is raw else read_frame(values, k, "frames")
            if prev is not None:
                work = difference_dtype(cur.dtype, prev.dtype)
                if diff is None or diff.dtype != work:
                    diff = np.empty((h, w), dtype=work)
                np.subtract(cur, prev, out=diff, dtype=work)
                # The later frame of a difference decides: saturated or next to
                # saturation there means the difference is not a slope.
                np.logical_not(neighbours.dilate4(sat, out=valid), out=valid)
                # Multiply rather than select, as the tutorial does: a NaN
                # difference poisons the mean even where masked (0 * NaN).
                np.multiply(diff, valid, out=diff)
                np.add(num, diff, out=num)
                np.add(den, valid, out=den)
            prev = cur
        release_pages_now(raw, k)  # views already handed out stay valid (re-read from the page cache)
        yield Progress((k + 1) / n, f"{label}: frame {k + 1}/{n}")

    if slope:
        mean = np.full((h, w), np.nan, dtype=np.float32)
        np.divide(num, den, out=mean, where=den > 0)
        result["mean_slope"] = mean
    if onset:
        result["onset"] = first
    if counts:
        result["saturated_count"] = per_frame
    return result


def _slope_sources(frames: Any, raw_frames: Any) -> tuple[FrameSource, FrameSource]:
    values = as_frame_source(frames, "frames")
    raw = values if raw_frames is frames else as_frame_source(raw_frames, "raw_frames")
    check_same_shape("frames", values.shape, "raw_frames", raw.shape)
    return values, raw


def ramp_summary_job(frames: Any, raw_frames: Any, sat_dn: np.ndarray) -> Job[RampSummary]:
    """Mean slope, saturation onset and saturated counts in one pass.

    Reading an exposure is the slow part on full frames, so a viewer that
    wants all three should use this rather than three separate passes.

    Parameters
    ----------
    frames, raw_frames, sat_dn
        As for :func:`mean_slope`.

    Returns
    -------
    RampSummary
        (via ``StopIteration.value``; drive with :func:`processing.progress.run`)
    """
    values, raw = _slope_sources(frames, raw_frames)
    out = yield from _scan_job(values, raw, sat_dn, slope=True, onset=True, counts=True, label="ramp summary")
    return RampSummary(out["mean_slope"], out["onset"], out["saturated_count"])


def ramp_summary(
    frames: Any, raw_frames: Any, sat_dn: np.ndarray, *, on_progress: OnProgress = None, cancel: CancelToken | None = None
) -> RampSummary:
    """Run :func:`ramp_summary_job` to completion."""
    return run(ramp_summary_job(frames, raw_frames, sat_dn), on_progress, cancel)


def mean_slope_job(frames: Any, raw_frames: Any, sat_dn: np.ndarray) -> Job[np.ndarray]:
    """Generator form of :func:`mean_slope`; yields progress after each frame."""
    values, raw = _slope_sources(frames, raw_frames)
    out = yield from _scan_job(values, raw, sat_dn, slope=True, onset=False, counts=False, label="mean slope")
    return out["mean_slope"]


def mean_slope(
    frames: Any, raw_frames: Any, sat_dn: np.ndarray, *, on_progress: OnProgress = None, cancel: CancelToken | None = None
) -> np.ndarray:
    """Mean frame-to-frame difference, excluding saturation and its neighbours.

    Same result as the tutorial's ``make_mean_debiased_difference_image_dn``:
    the mean over k of ``frames[k] - frames[k-1]``, leaving out each
    difference whose later frame ``k`` is saturated, or a 4-neighbour of a
    saturated pixel, in ``raw_frames``.  Differences of integer frames are
    taken in float (no uint16 wrap-around).

    Parameters
    ----------
    frames : (N, H, W) array or frame source, DN
        Processed frames (e.g. bias-subtracted, float32) whose slope is wanted.
    raw_frames : (N, H, W) array or frame source, DN
        Raw frames aligned with ``frames``, used for the saturation test.  May
        be the same object as ``frames`` (then each frame is read once).
    sat_dn : (H, W) or (H + 8, W + 8) array, DN
        Per-pixel saturation thresholds (see :func:`saturation_masks`).
    on_progress : callable, optional
        Called with a :class:`~processing.progress.Progress` after each frame.
    cancel : CancelToken, optional
        Checked after each frame; raises :class:`~processing.progress.Cancelled`.

    Returns
    -------
    (H, W) float32, DN/frame
        NaN where no difference is left.  As in the tutorial, a non-finite
        difference makes the pixel non-finite even where it is masked.

    Raises
    ------
    ValueError
        If the shapes of ``frames``, ``raw_frames`` and ``sat_dn`` disagree.
    """
    return run(mean_slope_job(frames, raw_frames, sat_dn), on_progress, cancel)


def saturation_onset_job(frames: Any, sat_dn: np.ndarray) -> Job[np.ndarray]:
    """Generator form of :func:`saturation_onset`; yields progress after each frame."""
    raw = as_frame_source(frames, "frames")
    out = yield from _scan_job(None, raw, sat_dn, slope=False, onset=True, counts=False, label="saturation onset")
    return out["onset"]


def saturation_onset(
    frames: Any, sat_dn: np.ndarray, *, on_progress: OnProgress = None, cancel: CancelToken | None = None
) -> np.ndarray:
    """Index of the first saturated frame of each pixel.

    Parameters
    ----------
    frames : (N, H, W) array or frame source, DN
        Raw frames.
    sat_dn : (H, W) or (H + 8, W + 8) array, DN
        Per-pixel saturation thresholds (see :func:`saturation_masks`).
    on_progress, cancel
        As for :func:`mean_slope`.

    Returns
    -------
    (H, W) int16 (int32 if N > 32767)
        First ``k`` with ``frames[k] >= sat_dn``; -1 where the pixel never
        saturates.
    """
    return run(saturation_onset_job(frames, sat_dn), on_progress, cancel)


def saturated_count_job(frames: Any, sat_dn: np.ndarray) -> Job[np.ndarray]:
    """Generator form of :func:`saturated_count`; yields progress after each frame."""
    raw = as_frame_source(frames, "frames")
    out = yield from _scan_job(None, raw, sat_dn, slope=False, onset=False, counts=True, label="saturated count")
    return out["saturated_count"]


def saturated_count(
    frames: Any, sat_dn: np.ndarray, *, on_progress: OnProgress = None, cancel: CancelToken | None = None
) -> np.ndarray:
    """Number of saturated pixels in each frame.

    Parameters
    ----------
    frames : (N, H, W) array or frame source, DN
        Raw frames.
    sat_dn : (H, W) or (H + 8, W + 8) array, DN
    on_progress, cancel
        As for :func:`mean_slope`.

    Returns
    -------
    (N,) int64
    """
    return run(saturated_count_job(frames, sat_dn), on_progress, cancel)


def slope_ratio(frames: Any, mean_slope: np.ndarray, i: int) -> np.ndarray:
    """Frame ``i``'s slope over the mean slope: the tutorial's ratio panel.

    Reads only frames ``i - 1`` and ``i``.

    Parameters
    ----------
    frames : (N, H, W) array or frame source, DN
        The frames :func:`mean_slope` was computed from.
    mean_slope : (H, W) array, DN/frame
        From :func:`mean_slope`.
    i : int
        Frame index, ``1 <= i < N``.

    Returns
    -------
    (H, W) float32
        ``(frames[i] - frames[i-1]) / mean_slope``; NaN where the mean is 0 or
        not finite.
    """
    source = as_frame_source(frames, "frames")
    n, h, w = source.shape
    mean = np.asarray(mean_slope)
    check_same_shape("mean_slope", mean.shape, "frame", (h, w))
    if not 1 <= i < n:
        raise ValueError(f"frame index {i} has no previous frame in frames of shape {tuple(source.shape)}; need 1 <= i < {n}")
    cur = read_frame(source, i, "frames")
    prev = read_frame(source, i - 1, "frames")
    diff = np.subtract(cur, prev, dtype=difference_dtype(cur.dtype, prev.dtype))
    ratio = np.full((h, w), np.nan, dtype=np.float32)
    np.divide(diff, mean, out=ratio, where=np.isfinite(mean) & (mean != 0))
    return ratio
