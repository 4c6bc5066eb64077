"""The tutorial's analyses as a library: exact, fast, streaming and Qt-free.

The WFI TVAC bright-star tutorial computes saturation masks, a mean slope, a
per-frame slope ratio and a superbias on one in-memory cutout.  This package
gives the same results on cutouts or full 4096 x 4096 exposures, reading
frames one at a time from any *frame source* (``.shape -> (N, H, W)``,
``.frame(k) -> (H, W)``; :func:`processing.io.open_exposure` returns one, and
an ``(N, H, W)`` ndarray is accepted everywhere too).

Long reductions come in two forms: a generator ``*_job(...)`` that yields
:class:`~processing.progress.Progress` after each frame (drive it with
:func:`processing.progress.run`, or from a GUI worker) and a plain function
of the same name without ``_job`` that runs it and accepts ``on_progress``
and ``cancel``.

Modules
-------
masks
    :func:`saturation_masks`, :func:`saturation_masks_at`.
ramp
    One-pass reductions: :func:`mean_slope`, :func:`saturation_onset`,
    :func:`saturated_count`, :func:`ramp_summary`; and :func:`slope_ratio`.
bias
    :func:`bias_intercept`, :func:`superbias`.
star
    :func:`brightest_source`, :func:`radial_profile`.
dq
    :func:`decode_dq`.
growth, onset
    Saturation analysis: :func:`~.growth.saturation_growth` (per-read mask
    counts, equivalent radius), :func:`~.onset.onset_map` (first saturated
    read as a float map) and its ASDF file.
centroid, profile
    :func:`~.centroid.star_centre` (sub-pixel, from the unsaturated wings;
    :class:`~.centroid.NoSourceError` on a dark) and per-read radial profiles
    :func:`~.profile.star_profiles`.
regionstats
    Per-read statistics of rectangle/circle/annulus regions (``regions``
    package shapes, DS9 files).
compare
    :class:`~.compare.DifferenceFrames`: two exposures differenced read by read, checked.
saturated
    :func:`~.saturated.saturation_input`: raw thresholds or a calibrated ramp's groupdq.
thresholds, neighbours, frames
    The exact threshold test, neighbour masks by shifted slices, frame sources.
"""

from .bias import bias_intercept, bias_intercept_job, superbias, superbias_job
from .dq import decode_dq
from .frames import ArrayFrames, FrameSource, as_frame_source
from .masks import saturation_masks, saturation_masks_at
from .ramp import (
    RampSummary,
    mean_slope,
    mean_slope_job,
    ramp_summary,
    ramp_summary_job,
    saturated_count,
    saturated_count_job,
    saturation_onset,
    saturation_onset_job,
    slope_ratio,
)
from .star import brightest_source, radial_profile
from .thresholds import SaturationTest, align_saturation_threshold

__all__ = [
    "ArrayFrames",
    "FrameSource",
    "RampSummary",
    "SaturationTest",
    "align_saturation_threshold",
    "as_frame_source",
    "bias_intercept",
    "bias_intercept_job",
    "brightest_source",
    "decode_dq",
    "mean_slope",
    "mean_slope_job",
    "radial_profile",
    "ramp_summary",
    "ramp_summary_job",
    "saturated_count",
    "saturated_count_job",
    "saturation_masks",
    "saturation_masks_at",
    "saturation_onset",
    "saturation_onset_job",
    "slope_ratio",
    "superbias",
    "superbias_job",
]
