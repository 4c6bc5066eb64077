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
Each row is processed with the reads outside and the row's pixels inside:
one vectorised loop per row and read does a pixel's whole computation in
registers (the polynomials' degrees are compile-time constants: the
coefficients come as tuples of planes, one specialisation per degree pair;
the row's coefficients stay in L1/L2 across the reads), ``nogil``: the
engine's thread pool keeps both cores busy.

LinearityStep's clip of implausible values (``|x| > 1e6`` -> +-1e6 and
DO_NOT_USE) is folded in when ``clip`` is finite, saving two passes.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["correct", "correct_reads", "last_valid", "rates", "read_times"]

#: Terms of the LINEARITY and INVERSELINEARITY polynomials :func:`warm` compiles for.
WARM_TERMS = (6, 3)


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


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def last_valid_of(unsaturated):
    """Index of a pixel's last valid resultant from its count of unsaturated ones (stcal's rule).

    Unsaturated resultants minus one (the last may be partly saturated), at
    least two; the last valid one is the one before.  Used by this kernel and
    by pass 1's (:mod:`.pass1_kernel`), so the rule exists once.
    """
    n = unsaturated - 1
    if n < 2:
        n = 2
    return n - 1


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
            k = last_valid_of(count[c])
            last[r, c] = k
            first_sat[r, c] = (gdq[0, r, c] & sat) != 0
            last_sat[r, c] = (gdq[k, r, c] & sat) != 0


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


@numba.njit(nogil=True, cache=True, error_model="numpy", inline="always")
def _horner64_terms(terms, r, c, x):
    """stcal's apply_polynomial on one float64 value, the float32 coefficient planes ``terms`` widened per term.

    ``terms`` is a tuple of (h, W) planes: its length is part of the type,
    so every loop here has a constant trip count, which LLVM unrolls; the
    caller's pixel loop then vectorises with all the terms in registers.
    """
    n = len(terms)
    o = np.float64(terms[n - 1][r, c]) * x
    for j in range(n - 2, 0, -1):
        o = (o + np.float64(terms[j][r, c])) * x
    return o + np.float64(terms[0][r, c])


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _correct_reads(data, gdq, lin, ilin, first, rate, since_first, sat_flag, dnu_flag, clip):
    """Correct reads ``data[i]`` (each ``since_first[i]`` reads after the first) in place.

    One loop per row and read does every operation of a pixel in registers
    (``lin`` and ``ilin`` are tuples of coefficient planes, see
    :func:`_horner64_terms`): ~25 % less CPU than a loop per polynomial
    term with float64 rows in between, the same operations in the same
    order.  Each pixel's stores are selects, so the loop vectorises.
    """
    ngroups, nrows, ncols = data.shape
    sat = np.uint8(sat_flag)
    dnu = np.uint8(dnu_flag)
    clip32 = np.float32(clip)
    for r in range(nrows):
        first_r = first[r]
        rate_r = rate[r]
        for i in range(ngroups):
            step = since_first[i]
            drow = data[i, r]
            grow = gdq[i, r]
            for c in range(ncols):
                x = first_r[c] + rate_r[c] * step
                u = _horner64_terms(ilin, r, c, x)
                u = u + (np.float64(drow[c]) - (0.0 + u))  # np.mean over one read
                corr = _horner64_terms(lin, r, c, u)
                g = grow[c]
                v = drow[c] if (g & sat) != 0 else np.float32(0.0 + corr)
                if abs(v) > clip32:
                    v = clip32 if v > 0 else -clip32
                    g |= dnu
                drow[c] = v
                grow[c] = g


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
    _correct_reads(data, gdq, _planes(lin_coeffs), _planes(ilin_coeffs), first, rate,
                   np.ascontiguousarray(since_first, np.float64), int(sat_flag) & 0xFF, int(dnu_flag) & 0xFF, float(clip))
    return data


def _planes(coeffs: np.ndarray) -> tuple:
    """(n, h, W) coefficients as a tuple of n (h, W) planes: numba compiles :func:`_correct_reads` per degree pair."""
    return tuple(coeffs[j] for j in range(coeffs.shape[0]))


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
    # Row bands of whole coefficient planes ("A" layout), with the degrees of
    # the generator's (and the TVAC) LINEARITY and INVERSELINEARITY files;
    # other degrees compile (once, then numba's cache) on first use.
    lin = np.zeros((WARM_TERMS[0], 4, 4), np.float32)[:, 1:3]
    ilin = np.zeros((WARM_TERMS[1], 4, 4), np.float32)[:, 1:3]
    lin[1] = ilin[1] = 1
    last, first_sat, last_sat = last_valid(gdq, 2)
    first, rate = rates(data[0], data[1], first_sat, last_sat, last, lin, [[1], [2]])
    correct_reads(data, gdq, lin, ilin, first, rate, np.zeros(2), 2, 1, 1e6)
    any_nan(lin)
    # The compiled pass 1 runs before any of these: warm it on the same thread.
    from . import pass1_kernel

    pass1_kernel.warm()
