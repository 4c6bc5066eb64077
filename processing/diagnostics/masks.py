"""Saturation masks: saturated pixels, their neighbours, and new saturation."""

from __future__ import annotations

from typing import Any

import numpy as np

from .frames import as_frame_source, read_frame
from .neighbours import Neighbours
from .thresholds import SaturationTest

Masks = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def saturation_masks(frames: Any, sat_dn: np.ndarray) -> Masks:
    """The tutorial's four saturation masks for every frame of a ramp.

    Same result as the tutorial's ``make_saturation_mask_dn``, without its
    per-frame 2-D convolutions.  The outputs hold the whole ramp, so use this
    on cutouts; for one frame of a full exposure use
    :func:`saturation_masks_at`.

    Parameters
    ----------
    frames : (N, H, W) array or frame source, DN
        Raw (or minimally processed) ramp frames, any integer or float dtype.
    sat_dn : (H, W) or (H + 8, W + 8) array, DN
        Per-pixel saturation thresholds; a map 8 pixels larger in each axis
        (the 4096 x 4096 reference file for 4088 x 4088 frames) is
        centre-cropped by 4.  Non-finite thresholds never saturate.

    Returns
    -------
    sat : (N, H, W) bool
        ``frames >= sat_dn``.
    nearby : (N, H, W) bool
        4-neighbours of saturated pixels that are not saturated themselves.
    new : (N, H, W) bool
        Saturated in this frame and not in the previous one (frame 0: all
        saturated pixels).
    diag : (N, H, W) bool
        Diagonal neighbours of saturated pixels that are neither saturated
        nor in ``nearby``.

    Raises
    ------
    ValueError
        If ``frames`` is not 3-D or ``sat_dn`` does not fit its frames.
    """
    source = as_frame_source(frames, "frames")
    n, h, w = source.shape
    test = SaturationTest(sat_dn, (h, w))
    sat, nearby, new, diag = (np.empty((n, h, w), dtype=bool) for _ in range(4))
    neighbours = Neighbours((h, w))
    for k in range(n):
        test(read_frame(source, k, "frames"), out=sat[k])
        neighbours.classify(sat[k], nearby[k], diag[k])
        if k == 0:
            new[0] = sat[0]
        else:
            np.greater(sat[k], sat[k - 1], out=new[k])  # saturated now, not before
    return sat, nearby, new, diag


def saturation_masks_at(frames: Any, sat_dn: np.ndarray, k: int) -> Masks:
    """The four saturation masks of frame ``k`` alone, reading frames k-1 and k.

    This is the streaming form of :func:`saturation_masks` that a viewer uses
    to draw the mask of the frame on screen.

    Parameters
    ----------
    frames : (N, H, W) array or frame source, DN
    sat_dn : (H, W) or (H + 8, W + 8) array, DN
    k : int
        Frame index, ``0 <= k < N``.

    Returns
    -------
    sat, nearby, new, diag : (H, W) bool
        Frame ``k`` of each of :func:`saturation_masks`' outputs.
    """
    source = as_frame_source(frames, "frames")
    n, h, w = source.shape
    if not 0 <= k < n:
        raise ValueError(f"frame index {k} is out of range for frames of shape {tuple(source.shape)}")
    test = SaturationTest(sat_dn, (h, w))
    sat = test(read_frame(source, k, "frames"))
    nearby = np.empty((h, w), dtype=bool)
    diag = np.empty((h, w), dtype=bool)
    Neighbours((h, w)).classify(sat, nearby, diag)
    if k == 0:
        new = sat.copy()
    else:
        new = np.greater(sat, test(read_frame(source, k - 1, "frames")))
    return sat, nearby, new, diag
