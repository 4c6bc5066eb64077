"""stcal's saturation and read-level linearity, same arithmetic, fewer passes over memory.

stcal writes both steps as whole-array numpy expressions: every operation
allocates a temporary, mixes float32 references with float64 working
values (numpy then casts in small buffered chunks, inside every
operation), and the linearity step evaluates two polynomials per read
with about thirty passes over its tile.  That is most of the engine's
time (about 0.6 s of CPU per 64 x 4096 band of 55 reads).

The functions here perform *the same IEEE operations on the same values
in the same order* -- so the results are bit for bit stcal's (the tests
compare against stcal's own functions, NaN, infinities, signed zeros and
saturated pixels included) -- but

* in place, into a few preallocated tile buffers that stay in the CPU cache;
* with the reference coefficients cast to float64 once per tile (the cast
  is exact) instead of inside each of the 55 x 9 polynomial terms;
* without stcal's logging-only counts (two extra passes over the band).

Only one read per resultant (the TVAC exposures' read pattern) is
re-expressed; averaged resultants, saturation growth or backing-up go to
stcal's own code (:mod:`.steps` dispatches).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

#: Rows per linearity tile: 8 rows of 4096 float64 (256 KiB) per buffer,
#: so the four buffers and the tile's coefficients stay in L2/L3.
TILE_ROWS = 8


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


def _horner(coeffs: np.ndarray, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """stcal's ``apply_polynomial(x, coeffs)`` (no DQ), into ``out``: c[n-1] x, then (+ c[j]) x, then + c[0]."""
    n = coeffs.shape[0]
    np.multiply(coeffs[n - 1], x, out=out)
    for j in range(n - 2, 0, -1):
        out += coeffs[j]
        out *= x
    out += coeffs[0]
    return out


def linearity_tile(data: np.ndarray, gdq: np.ndarray, lin_coeffs: np.ndarray, ilin_coeffs: np.ndarray, dqflags,
                   read_pattern) -> None:
    """``stcal.linearity._linearity_correction_tile`` (no satval, no additional correction), in place.

    Parameters
    ----------
    data : (N, h, W) float32, DN
        Corrected in place.
    gdq : (N, h, W) uint8
    lin_coeffs, ilin_coeffs : (n, h, W) float32
        After ``prepare_coefficients``.
    dqflags : mapping
    read_pattern : list of list of int
        One read per resultant.
    """
    from stcal.linearity.linearity import apply_polynomial

    ngroups, nrows, ncols = data.shape
    sat_flag = dqflags["SATURATED"]
    mean_read_resultant = np.array([np.mean(reads) for reads in read_pattern])

    # Everything before the per-resultant loop is stcal's code, verbatim.
    n_unsaturated = np.zeros((nrows, ncols), dtype=np.int32)
    for g in range(ngroups):
        n_unsaturated += (gdq[g] & sat_flag) == 0
    any_saturated = bool(np.any(n_unsaturated < ngroups))
    n_unsaturated -= 1
    n_unsaturated[n_unsaturated < 2] = 2
    firstread_lin = apply_polynomial(data[0], lin_coeffs, gdq[0], dqflags)
    lastvalidresultant = n_unsaturated - 1
    idx = lastvalidresultant[np.newaxis]
    last_data = np.take_along_axis(data, idx, axis=0)[0]
    last_gdq = np.take_along_axis(gdq, idx, axis=0)[0]
    lastread_lin = apply_polynomial(last_data, lin_coeffs, last_gdq, dqflags)
    d_reads = mean_read_resultant[lastvalidresultant] - mean_read_resultant[0]
    countrate = (lastread_lin - firstread_lin) / d_reads

    # float32 -> float64 is exact: numpy would do these casts inside every term.
    lin = lin_coeffs.astype(np.float64)
    lin[0] += 0.0  # see corrected_resultant below
    ilin = ilin_coeffs.astype(np.float64)
    first = firstread_lin.astype(np.float64)
    x = np.empty((nrows, ncols))
    unlin = np.empty_like(x)
    offset = np.empty_like(x)
    corrected = np.empty_like(x)
    keep = np.empty((nrows, ncols), dtype=bool)
    dq = np.empty((nrows, ncols), dtype=gdq.dtype)
    for i in range(ngroups):
        # reads_linearized = firstread_lin + countrate * reads_since_first
        # (a + b == b + a exactly in IEEE arithmetic).
        reads_since_first = np.float64(read_pattern[i][0]) - mean_read_resultant[0]
        np.multiply(countrate, reads_since_first, out=x)
        x += first
        _horner(ilin, x, unlin)
        # predicted_cts = np.mean over one read, an add reduction (0 + p:
        # -0 becomes +0) divided by 1 (exact).  Using p itself changes
        # offset and unlin only in the sign of a zero (p = d = -0), which
        # the forward polynomial's own "+ 0" below removes again.
        np.subtract(data[i], unlin, out=offset)
        unlin += offset
        # corrected_resultant = np.mean(...) = poly + 0: folded into c[0]
        # (r + c0) + 0 == r + (c0 + 0) for every r, signed zeros included.
        _horner(lin, unlin, corrected)
        # data[i] = where(saturated, data[i], corrected): float64 -> float32
        # (most tiles hold no saturated read at all: a plain cast then).
        if not any_saturated:
            np.copyto(data[i], corrected, casting="same_kind")
            continue
        np.bitwise_and(gdq[i], sat_flag, out=dq)
        np.equal(dq, 0, out=keep)
        np.copyto(data[i], corrected, casting="same_kind", where=keep)


def linearity_correction(data: np.ndarray, gdq: np.ndarray, lin_coeffs: np.ndarray, ilin_coeffs: np.ndarray,
                         dqflags, read_pattern, tile_rows: int = TILE_ROWS) -> np.ndarray:
    """``stcal.linearity.linearity_correction_int`` (read-level, no satval), by tiles of rows, in place.

    Per pixel the correction depends only on that pixel's reads and
    coefficients, so the tile size changes nothing but speed.

    Returns
    -------
    (N, h, W) float32
        ``data``, corrected.
    """
    for r0 in range(0, data.shape[1], tile_rows):
        r1 = min(r0 + tile_rows, data.shape[1])
        linearity_tile(data[:, r0:r1], gdq[:, r0:r1], lin_coeffs[:, r0:r1], ilin_coeffs[:, r0:r1], dqflags, read_pattern)
    return data
