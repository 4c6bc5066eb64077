"""Radial profiles about the star, per read (Qt-free jobs).

:func:`profile_prep_job` runs the CLI's computation (``brightstar profile``:
:func:`processing.diagnostics.profile.star_profiles_job`) once per exposure
and data kind: the star's sub-pixel centre from its wings and one read of
the box about it.  :func:`profile_at_job` then gives any read's profiles in
milliseconds, so the plot follows the slider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The profiles the plot offers: choice -> (ReadProfile attribute, axis label).
PROFILE_KINDS = {
    "frame": ("frame_dn", "frame [DN]"),
    "difference": ("difference_dn", "difference [DN]"),
    "slope ratio": ("slope_ratio", "slope / mean slope"),
    "onset": ("onset_read", "onset [read]"),
}


@dataclass(frozen=True)
class ProfileRequest:
    """Attributes: ``dataset_id``, ``kind``; ``values`` (the reads profiled), ``frames`` and
    ``thresholds`` (the saturation test, :func:`.growth.saturation_frames`); ``baseline`` read."""

    dataset_id: int
    kind: str
    baseline: int
    values: Any = field(compare=False)
    frames: Any = field(compare=False)
    thresholds: Any = field(compare=False)
    max_radius: float = 128.0


@dataclass(frozen=True, eq=False)
class ProfilePrep:
    """Attributes: ``request``; ``profiles`` (:class:`~processing.diagnostics.profile.StarProfiles`)
    or None; ``no_source`` the plain reason when there is no star (e.g. a dark)."""

    request: ProfileRequest
    profiles: Any
    no_source: str = ""


def profile_prep_job(req: ProfileRequest):
    """A progress generator returning :class:`ProfilePrep`; no star is a result, not an error."""
    from processing.diagnostics.centroid import NoSourceError
    from processing.diagnostics.profile import star_profiles_job

    try:
        profiles = yield from star_profiles_job(req.values, req.frames, req.thresholds, baseline=req.baseline,
                                                max_radius=req.max_radius)
    except NoSourceError as err:
        return ProfilePrep(req, None, str(err))
    return ProfilePrep(req, profiles)


def profile_at_job(prep: ProfilePrep, k: int):
    """Read ``k``'s :class:`~processing.diagnostics.profile.ReadProfile` (``prep`` must have profiles)."""
    return prep.profiles.at(int(k))
