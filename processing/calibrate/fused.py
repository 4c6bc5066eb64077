"""stcal's saturation, same arithmetic, fewer passes over memory.

stcal writes the step as whole-array numpy expressions: every operation
allocates a temporary and the logging-only counts take extra passes over
the band.  :func:`flag_saturated` performs *the same IEEE operations on the
same values in the same order* -- so the results are bit for bit stcal's
(the tests compare against stcal's own function, NaN, infinities, signed
zeros and NaN thresholds included) -- but in place, read by read, into a
few preallocated buffers, without the counts.

Only one read per resultant (the TVAC exposures' read pattern) is
re-expressed; averaged resultants, saturation growth or backing-up go to
stcal's own code (:mod:`.steps` dispatches).  The read-level linearity of
the same case is compiled (:mod:`.linearity_kernel`).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

def single_reads(read_pattern) -> bool:
    """True when every resultant is one read (the case re-expressed here)."""
    return all(len(reads) == 1 for reads in read_pattern)


# -- saturation ---------------------------------------------------------------


def flag_saturated(data: np.ndarray, gdq: np.ndarray, pdq: np.ndarray, sat_thresh: np.ndarray, sat_dq: np.ndarray,
                   atod_limit: float, dqflags, read_pattern) -> tuple[np.ndarray, np.ndarray]:
    """``stcal.saturation.flag_saturated_pixels`` for one integration, one read per resultant, no growth.

    Parameters
    ----------
    data : (N, h, W) float32, DN
    gdq : (N, h, W) uint8
        Modified in place (and returned).
    pdq : (h, W) uint32
    sat_thresh : (h, W) float32, DN
        A copy (modified, as stcal modifies romancal's copy).
    sat_dq : (h, W) uint32
        A copy (modified likewise).
    atod_limit : float
    dqflags : mapping
        DO_NOT_USE, SATURATED, AD_FLOOR, NO_SAT_CHECK.
    read_pattern : list of list of int
        One read per resultant (see :func:`single_reads`).

    Returns
    -------
    gdq : (N, h, W) uint8
    pdq : (h, W) uint32
    """
    ngroups = data.shape[0]
    dnu = int(dqflags["DO_NOT_USE"])
    saturated = int(dqflags["SATURATED"])
    ad_floor = int(dqflags["AD_FLOOR"])
    no_sat_check = int(dqflags["NO_SAT_CHECK"])
    # stcal ORs uint32 flag arrays into the uint8 group DQ (same_kind
    # casting keeps the low byte): these flags fit in it.
    sat8, low8 = np.uint8(saturated & 0xFF), np.uint8((ad_floor | dnu) & 0xFF)

    no_sat_check_mask = np.bitwise_and(sat_dq, no_sat_check) == no_sat_check
    nan = np.isnan(sat_thresh)
    sat_dq[nan] |= no_sat_check
    no_sat_check_mask |= nan
    sat_thresh[no_sat_check_mask] = atod_limit + 1

    # Forward pass: SATURATED from the first read at or over the threshold
    # on; AD_FLOOR | DO_NOT_USE on reads at or below zero.
    previously = np.zeros(data.shape[1:], dtype=bool)
    hit = np.empty(data.shape[1:], dtype=bool)
    flags = np.empty(data.shape[1:], dtype=np.uint8)
    for g in range(ngroups):
        plane = data[g]
        np.greater_equal(plane, sat_thresh, out=hit)
        previously |= hit
        np.multiply(previously, sat8, out=flags)
        gdq[g] |= flags
        np.less_equal(plane, 0, out=hit)
        np.multiply(hit, low8, out=flags)
        gdq[g] |= flags
    # The backward pass only acts where a group averages several reads
    # (dilution factor != 1): never with one read per resultant.

    # The second-group pass, verbatim (once per band: cheap).
    if ngroups > 2:
        bias_grp2 = 0.0
        dq2 = gdq[1]
        dq3 = gdq[2]
        scigp1 = data[0] - bias_grp2
        mask = ((scigp1 / np.mean(read_pattern[0])) * read_pattern[2][-1]) + bias_grp2 < sat_thresh
        scigp2 = data[1] - data[0]
        mask &= scigp2 > (sat_thresh - data[0]) / len(read_pattern[1])
        gp3mask = (np.bitwise_and(dq3, saturated) != 0) & (np.bitwise_and(dq2, saturated) == 0)
        mask &= gp3mask
        flagarray = (mask * dnu).astype(np.uint32)
        np.bitwise_or(gdq[1], flagarray, gdq[1])
    return gdq, np.bitwise_or(pdq, sat_dq)


# -- linearity ----------------------------------------------------------------
# The read-level linearity (one read per resultant) is compiled: see
# :mod:`.linearity_kernel` (numpy cannot keep its ~20 float64 operations per
# pixel and read in registers; the per-operation passes over memory were
# most of the engine's time).
