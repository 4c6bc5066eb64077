"""stcal's read-level linearity, one read per resultant, compiled (numba).

:func:`correct` performs, per pixel, *the IEEE operations of*
``stcal.linearity._linearity_correction_tile`` in the same order and the
same precisions, so its output is stcal's bit for bit (the tests compare
against stcal's own function with NaN, infinities, signed zeros, NO_LIN_CORR
and saturated pixels, and against the numpy re-expression on real bands):

* the first and last-unsaturated reads are linearised in float32 (stcal's
  ``apply_polynomial`` on float32 data and float32 coefficients);
* ``countrate = float64(last - first) / d_reads``;
* per read, ``first + countrate * reads_since_first``, the inverse
  polynomial, ``np.mean`` over one read (``0 + p``: it turns -0 into +0),
  the offset to the read, the forward polynomial and its ``np.mean``, all in
  float64 with the float32 coefficients widened (exactly) per term;
* saturated reads keep their value, the rest are rounded to float32.

It is compiled without ``fastmath``: LLVM then neither contracts ``a * b + c``
into a fused multiply-add nor drops ``0 + x``, so every rounding is numpy's.
Each row is processed with the reads outside and the row's pixels inside
(contiguous, vectorised loops; the row's coefficients stay in L1/L2 across
the 55 reads) and ``nogil``: the engine's thread pool keeps both cores busy.

LinearityStep's clip of implausible values (``|x| > 1e6`` -> +-1e6 and
DO_NOT_USE) is folded in when ``clip`` is finite, saving two passes.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["correct"]


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _horner32(coeffs, r, c, x):
    """stcal's apply_polynomial on one float32 value: c[n-1] x, (+ c[j]) x ..., + c[0], all float32."""
    n = coeffs.shape[0]
    out = coeffs[n - 1, r, c] * x
    for j in range(n - 2, 0, -1):
        out += coeffs[j, r, c]
        out *= x
    out += coeffs[0, r, c]
    return out


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _horner64_row(coeffs, r, x, out):
    """stcal's apply_polynomial on a float64 row: float32 coefficients widened per term."""
    n = coeffs.shape[0]
    w = x.shape[0]
    top = coeffs[n - 1, r]
    for c in range(w):
        out[c] = np.float64(top[c]) * x[c]
    for j in range(n - 2, 0, -1):
        cj = coeffs[j, r]
        for c in range(w):
            out[c] = (out[c] + np.float64(cj[c])) * x[c]
    c0 = coeffs[0, r]
    for c in range(w):
        out[c] = out[c] + np.float64(c0[c])


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _correct(data, gdq, lin, ilin, mean_read, since_first, sat_flag, dnu_flag, clip):
    ngroups, nrows, ncols = data.shape
    sat = np.uint8(sat_flag)
    dnu = np.uint8(dnu_flag)
    clip32 = np.float32(clip)
    n_unsat = np.empty(ncols, np.int32)
    first = np.empty(ncols, np.float64)
    rate = np.empty(ncols, np.float64)
    x = np.empty(ncols, np.float64)
    unlin = np.empty(ncols, np.float64)
    corr = np.empty(ncols, np.float64)
    for r in range(nrows):
        # Unsaturated resultants per pixel, minus one, at least two.
        n_unsat[:] = 0
        for g in range(ngroups):
            row = gdq[g, r]
            for c in range(ncols):
                if (row[c] & sat) == 0:
                    n_unsat[c] += 1
        for c in range(ncols):
            n = n_unsat[c] - 1
            if n < 2:
                n = 2
            last = n - 1
            d0 = data[0, r, c]
            f = d0 if (gdq[0, r, c] & sat) != 0 else _horner32(lin, r, c, d0)
            dl = data[last, r, c]
            lt = dl if (gdq[last, r, c] & sat) != 0 else _horner32(lin, r, c, dl)
            d_reads = mean_read[last] - mean_read[0]
            rate[c] = np.float64(lt - f) / d_reads
            first[c] = np.float64(f)
        for i in range(ngroups):
            step = since_first[i]
            for c in range(ncols):
                x[c] = first[c] + rate[c] * step
            _horner64_row(ilin, r, x, unlin)
            drow = data[i, r]
            for c in range(ncols):
                u = unlin[c]
                predicted = 0.0 + u  # np.mean over one read
                unlin[c] = u + (np.float64(drow[c]) - predicted)
            _horner64_row(lin, r, unlin, corr)
            grow = gdq[i, r]
            for c in range(ncols):
                if (grow[c] & sat) == 0:
                    drow[c] = np.float32(0.0 + corr[c])  # np.mean over one read, then float32
                v = drow[c]
                if abs(v) > clip32:
                    drow[c] = clip32 if v > 0 else -clip32
                    grow[c] |= dnu


def correct(data: np.ndarray, gdq: np.ndarray, lin_coeffs: np.ndarray, ilin_coeffs: np.ndarray, read_pattern,
            sat_flag: int, dnu_flag: int = 0, clip: float = np.inf) -> np.ndarray:
    """Correct ``data`` in place as stcal's read-level linearity does (one read per resultant).

    Parameters
    ----------
    data : (N, h, W) float32, DN
        After refpix; corrected in place (any strides).
    gdq : (N, h, W) uint8
        Group DQ: SATURATED reads keep their value.  Gets ``dnu_flag`` where
        a value was clipped.
    lin_coeffs, ilin_coeffs : (n, h, W) float32
        After ``prepare_coefficients``.
    read_pattern : list of list of int
        One read per resultant.
    sat_flag, dnu_flag : int
        SATURATED and DO_NOT_USE (both within the low byte).
    clip : float
        LinearityStep's bound (1e6); ``inf`` for stcal's correction alone.

    Returns
    -------
    (N, h, W) float32
        ``data``.
    """
    if lin_coeffs.dtype != np.float32 or ilin_coeffs.dtype != np.float32 or data.dtype != np.float32:
        raise TypeError("the compiled linearity takes float32 data and coefficients")
    mean_read = np.array([float(np.mean(reads)) for reads in read_pattern], dtype=np.float64)
    since_first = np.array([np.float64(reads[0]) - mean_read[0] for reads in read_pattern], dtype=np.float64)
    _correct(data, gdq, lin_coeffs, ilin_coeffs, mean_read, since_first, int(sat_flag) & 0xFF, int(dnu_flag) & 0xFF,
             float(clip))
    return data
