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

__all__ = ["correct", "correct_reads", "last_valid", "rates", "read_times"]


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
    """stcal's apply_polynomial on a float64 row: float32 coefficients widened per term.

    The usual degrees get one loop with the terms in registers (~30 % faster
    than a pass per term); the operations and their order are the same.
    """
    n = coeffs.shape[0]
    w = x.shape[0]
    if n == 3:
        c0, c1, c2 = coeffs[0, r], coeffs[1, r], coeffs[2, r]
        for c in range(w):
            xc = x[c]
            o = np.float64(c2[c]) * xc
            o = (o + np.float64(c1[c])) * xc
            out[c] = o + np.float64(c0[c])
        return
    if n == 4:
        c0, c1, c2, c3 = coeffs[0, r], coeffs[1, r], coeffs[2, r], coeffs[3, r]
        for c in range(w):
            xc = x[c]
            o = np.float64(c3[c]) * xc
            o = (o + np.float64(c2[c])) * xc
            o = (o + np.float64(c1[c])) * xc
            out[c] = o + np.float64(c0[c])
        return
    if n == 5:
        c0, c1, c2, c3, c4 = coeffs[0, r], coeffs[1, r], coeffs[2, r], coeffs[3, r], coeffs[4, r]
        for c in range(w):
            xc = x[c]
            o = np.float64(c4[c]) * xc
            o = (o + np.float64(c3[c])) * xc
            o = (o + np.float64(c2[c])) * xc
            o = (o + np.float64(c1[c])) * xc
            out[c] = o + np.float64(c0[c])
        return
    if n == 6:
        c0, c1, c2, c3, c4, c5 = coeffs[0, r], coeffs[1, r], coeffs[2, r], coeffs[3, r], coeffs[4, r], coeffs[5, r]
        for c in range(w):
            xc = x[c]
            o = np.float64(c5[c]) * xc
            o = (o + np.float64(c4[c])) * xc
            o = (o + np.float64(c3[c])) * xc
            o = (o + np.float64(c2[c])) * xc
            o = (o + np.float64(c1[c])) * xc
            out[c] = o + np.float64(c0[c])
        return
    if n == 7:
        c0, c1, c2, c3, c4, c5, c6 = coeffs[0, r], coeffs[1, r], coeffs[2, r], coeffs[3, r], coeffs[4, r], coeffs[5, r], coeffs[6, r]
        for c in range(w):
            xc = x[c]
            o = np.float64(c6[c]) * xc
            o = (o + np.float64(c5[c])) * xc
            o = (o + np.float64(c4[c])) * xc
            o = (o + np.float64(c3[c])) * xc
            o = (o + np.float64(c2[c])) * xc
            o = (o + np.float64(c1[c])) * xc
            out[c] = o + np.float64(c0[c])
        return
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
def _last_valid(gdq, sat_flag, last, first_sat, last_sat):
    """Per pixel: stcal's last valid resultant and whether it and the first are SATURATED."""
    ngroups, nrows, ncols = gdq.shape
    sat = np.uint8(sat_flag)
    count = np.empty(ncols, np.int32)
    for r in range(nrows):
        count[:] = 0
        for g in range(ngroups):
            row = gdq[g, r]
            for c in range(ncols):
                if (row[c] & sat) == 0:
                    count[c] += 1
        for c in range(ncols):
            # Unsaturated resultants, minus one (the last may be partly
            # saturated), at least two; the last valid one is the one before.
            n = count[c] - 1
            if n < 2:
                n = 2
            last[r, c] = n - 1
            first_sat[r, c] = (gdq[0, r, c] & sat) != 0
            last_sat[r, c] = (gdq[n - 1, r, c] & sat) != 0


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _rates(first_read, last_read, first_sat, last_sat, last, lin, mean_read, first, rate):
    """firstread_lin (float32, widened) and countrate (float64) per pixel, as stcal computes them."""
    nrows, ncols = first_read.shape
    for r in range(nrows):
        for c in range(ncols):
            d0 = first_read[r, c]
            f = d0 if first_sat[r, c] else _horner32(lin, r, c, d0)
            dl = last_read[r, c]
            lt = dl if last_sat[r, c] else _horner32(lin, r, c, dl)
            d_reads = mean_read[last[r, c]] - mean_read[0]
            rate[r, c] = np.float64(lt - f) / d_reads
            first[r, c] = np.float64(f)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _correct_reads(data, gdq, lin, ilin, first, rate, since_first, sat_flag, dnu_flag, clip):
    """Correct reads ``data[i]`` (each ``since_first[i]`` reads after the first) in place."""
    ngroups, nrows, ncols = data.shape
    sat = np.uint8(sat_flag)
    dnu = np.uint8(dnu_flag)
    clip32 = np.float32(clip)
    x = np.empty(ncols, np.float64)
    unlin = np.empty(ncols, np.float64)
    corr = np.empty(ncols, np.float64)
    for r in range(nrows):
        first_r = first[r]
        rate_r = rate[r]
        for i in range(ngroups):
            step = since_first[i]
            for c in range(ncols):
                x[c] = first_r[c] + rate_r[c] * step
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


@numba.njit(nogil=True, cache=True)
def _any_nan(flat):
    for v in flat:
        if v != v:
            return True
    return False


def any_nan(arr: np.ndarray) -> bool:
    """Whether a float array holds a NaN (one pass, no temporary; stops at the first)."""
    return bool(_any_nan(arr.reshape(-1))) if arr.dtype.kind == "f" else False


def _check(data, lin_coeffs, ilin_coeffs) -> None:
    if lin_coeffs.dtype != np.float32 or ilin_coeffs.dtype != np.float32 or data.dtype != np.float32:
        raise TypeError("the compiled linearity takes float32 data and coefficients")


def read_times(read_pattern) -> tuple[np.ndarray, np.ndarray]:
    """``mean_read_resultant`` and each resultant's ``reads_since_first`` (float64), as stcal computes them."""
    mean_read = np.array([float(np.mean(reads)) for reads in read_pattern], dtype=np.float64)
    since_first = np.array([np.float64(reads[0]) - mean_read[0] for reads in read_pattern], dtype=np.float64)
    return mean_read, since_first


def last_valid(gdq: np.ndarray, sat_flag: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which read stcal linearises as each pixel's last, from the group DQ of all reads.

    Parameters
    ----------
    gdq : (N, h, W) uint8
    sat_flag : int
        SATURATED.

    Returns
    -------
    last : (h, W) int16
        Index of the last valid resultant (at least 1).
    first_sat, last_sat : (h, W) bool
        Whether read 0 and read ``last`` are SATURATED (they are then not
        linearised).
    """
    shape = gdq.shape[1:]
    last, first_sat, last_sat = np.empty(shape, np.int16), np.empty(shape, np.bool_), np.empty(shape, np.bool_)
    _last_valid(gdq, int(sat_flag) & 0xFF, last, first_sat, last_sat)
    return last, first_sat, last_sat


def rates(first_read: np.ndarray, last_read: np.ndarray, first_sat: np.ndarray, last_sat: np.ndarray, last: np.ndarray,
          lin_coeffs: np.ndarray, read_pattern) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's linearised first read and count rate (DN per read), from its first and last valid reads.

    Parameters
    ----------
    first_read, last_read : (h, W) float32, DN
        Read 0 and read ``last`` of each pixel.
    first_sat, last_sat, last : (h, W)
        From :func:`last_valid`.
    lin_coeffs : (n, h, W) float32
        After ``prepare_coefficients``.

    Returns
    -------
    first, rate : (h, W) float64
    """
    mean_read, _ = read_times(read_pattern)
    first, rate = np.empty(first_read.shape), np.empty(first_read.shape)
    _rates(first_read, last_read, first_sat, last_sat, last, lin_coeffs, mean_read, first, rate)
    return first, rate


def correct_reads(data: np.ndarray, gdq: np.ndarray, lin_coeffs: np.ndarray, ilin_coeffs: np.ndarray, first: np.ndarray,
                  rate: np.ndarray, since_first: np.ndarray, sat_flag: int, dnu_flag: int = 0,
                  clip: float = np.inf) -> np.ndarray:
    """Correct some reads of all rows, in place, given each pixel's ``first`` and ``rate`` (see :func:`rates`).

    Parameters
    ----------
    data : (G, h, W) float32, DN
    gdq : (G, h, W) uint8
    since_first : (G,) float64
        ``reads_since_first`` of each of these reads (:func:`read_times`).
    """
    _check(data, lin_coeffs, ilin_coeffs)
    _correct_reads(data, gdq, lin_coeffs, ilin_coeffs, first, rate, np.ascontiguousarray(since_first, np.float64),
                   int(sat_flag) & 0xFF, int(dnu_flag) & 0xFF, float(clip))
    return data


def correct(data: np.ndarray, gdq: np.ndarray, lin_coeffs: np.ndarray, ilin_coeffs: np.ndarray, read_pattern,
            sat_flag: int, dnu_flag: int = 0, clip: float = np.inf) -> np.ndarray:
    """Correct ``data`` in place as stcal's read-level linearity does (one read per resultant).

    :func:`last_valid`, :func:`rates` and :func:`correct_reads` on the
    same rows (the streaming engine calls them on different pieces).

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
    _check(data, lin_coeffs, ilin_coeffs)
    last, first_sat, last_sat = last_valid(gdq, sat_flag)
    last_read = np.take_along_axis(data, last[np.newaxis].astype(np.intp), axis=0)[0]
    first, rate = rates(data[0], last_read, first_sat, last_sat, last, lin_coeffs, read_pattern)
    return correct_reads(data, gdq, lin_coeffs, ilin_coeffs, first, rate, read_times(read_pattern)[1], sat_flag,
                         dnu_flag, clip)


def warm() -> None:
    """Load the compiled kernels (from numba's cache, or compile them) with the engine's argument types.

    A fresh process spends about 1.5 s of CPU on the first call (LLVM start-up
    and loading the cached machine code); the engine calls this on a helper
    thread while romancal is imported, instead of inside pass 1.  Tiny arrays:
    no work beyond that.
    """
    gdq = np.zeros((2, 2, 4), np.uint8)
    data = np.zeros((2, 2, 4), np.float32)
    coeffs = np.zeros((3, 4, 4), np.float32)[:, 1:3]  # a row band of whole coefficient planes: "A" layout
    coeffs[1] = 1
    last, first_sat, last_sat = last_valid(gdq, 2)
    first, rate = rates(data[0], data[1], first_sat, last_sat, last, coeffs, [[1], [2]])
    correct_reads(data, gdq, coeffs, coeffs, first, rate, np.zeros(2), 2, 1, 1e6)
    any_nan(coeffs)
    # The compiled pass 1 runs before any of these: warm it on the same thread.
    from . import pass1_kernel

    pass1_kernel.warm()
