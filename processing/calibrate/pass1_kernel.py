"""Pass 1 of the streaming engine compiled: dq_init's conversion, saturation, the offset sums, the linearity plan.

:func:`band` reads a row band's uint16 reads once and, row by row with the
reads outside and the row's pixels inside (so every per-pixel state stays
in L1), performs *the IEEE operations* of

* romancal's dq_init on the data: ``astype(float32)``, ``+= reference_read``
  (flight L1 data), ``-= data_encoding_offset``;
* romancal's SaturationStep (``stcal.saturation.flag_saturated_pixels`` with
  one read per resultant and no growth): the threshold's NO_SAT_CHECK and
  NaN handling (threshold ``atod_limit + 1``), SATURATED from the first read
  at or over the threshold on, AD_FLOOR | DO_NOT_USE on reads at or below
  zero, the second-group DO_NOT_USE test, ``pixeldq | sat_dq``;
* refpix's BAD_REF_PIXEL zeroing and the ``np.sum`` over reads of its offset
  fit (numpy's sum along the outer axis is a sequential float32 sum from
  +0, which the tests check against numpy on real sizes);
* :class:`~.linearity_pass.LinearityPlan`'s last valid read per pixel
  (``linearity_kernel._last_valid``'s rule, from the same flags);
* the all-saturated counts.

Why the arithmetic is the same: every float32 result is computed as
``float32(float64(a) op float64(b))``; for ``+`` and ``-`` of two float32
values this is the float32 operation itself (float64 has more than
2 x 24 + 2 significand bits, so the double rounding is innocuous), and
when numpy would compute in float64 (a float64 or int32 reference read, a
numpy-integer encoding offset) it is numpy's operation followed by its cast.
The caller passes the operands widened accordingly (:func:`widened_offset`).
No ``fastmath``: no reassociation, no FMA contraction.

The offset fit's other sum (``np.matmul``, OpenBLAS) stays numpy's: the
caller applies it to the float32 band this kernel writes.
"""

from __future__ import annotations

import numba
import numpy as np

from .linearity_kernel import last_valid_of

__all__ = ["band", "warm", "widened_offset", "widened_reference"]


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _convert_row(raw_row, ref_row, has_ref, off, has_off, out):
    """dq_init's data conversion of one row (branches outside the loops, which LLVM vectorises)."""
    ncols = raw_row.shape[0]
    if has_ref and has_off:
        for c in range(ncols):
            x = np.float32(np.float64(np.float32(raw_row[c])) + ref_row[c])
            out[c] = np.float32(np.float64(x) - off)
    elif has_ref:
        for c in range(ncols):
            out[c] = np.float32(np.float64(np.float32(raw_row[c])) + ref_row[c])
    elif has_off:
        for c in range(ncols):
            out[c] = np.float32(np.float64(np.float32(raw_row[c])) - off)
    else:
        for c in range(ncols):
            out[c] = np.float32(raw_row[c])


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _band(raw, ref, has_ref, off, has_off, gin, has_gin, thresh, tdq, pdq, consts, group2,
          data, gdq, pdq_out, sy, has_plan, last, first_sat, last_sat, counts):
    nreads, nrows, ncols = raw.shape
    sat8 = np.uint8(consts[0])
    low8 = np.uint8(consts[1])
    dnu8 = np.uint8(consts[2])
    nsc = np.uint32(consts[3])
    bad_ref = np.uint32(consts[4])
    pix_sat = np.uint32(consts[5])
    atod1 = np.float32(group2[0])
    mean0 = group2[1]  # np.mean(read_pattern[0]), float64
    last2 = group2[2]  # read_pattern[2][-1], widened to float64 as numpy does
    len1 = np.float32(group2[3])  # len(read_pattern[1]) as a weak Python int: float32
    prev = np.empty(ncols, np.uint8)
    bad = np.empty(ncols, np.uint8)
    count = np.empty(ncols, np.int32)
    d0 = np.empty(ncols, np.float32)
    d1 = np.empty(ncols, np.float32)
    zero32 = np.float32(0.0)
    no_ref = np.zeros(1, np.float64)
    unsat_pixels = 0
    unsat_pdq = 0
    for r in range(nrows):
        t_row = thresh[r]
        q_row = tdq[r]
        s_row = sy[r]
        ref_row = ref[r] if has_ref else no_ref
        for c in range(ncols):
            # stcal: NO_SAT_CHECK from the reference DQ, NaN thresholds get
            # it too, and both get a threshold above the A-to-D limit.
            q = q_row[c]
            no_check = (q & nsc) == nsc
            if np.isnan(t_row[c]):
                q |= nsc
                no_check = True
            if no_check:
                t_row[c] = atod1
            q_row[c] = q
            p = pdq[r, c] | q
            pdq_out[r, c] = p
            if (p & pix_sat) == 0:
                unsat_pdq += 1
            bad[c] = np.uint8((p & bad_ref) != 0)
            prev[c] = 0
            count[c] = 0
            s_row[c] = zero32
        for k in range(nreads):
            d_row = data[k, r]
            g_row = gdq[k, r]
            _convert_row(raw[k, r], ref_row, has_ref, off, has_off, d_row)
            if has_gin:
                g_row[:] = gin[k, r]
            else:
                g_row[:] = 0
            for c in range(ncols):
                # Every store unconditional (selects): the loop vectorises.
                x = d_row[c]
                p8 = prev[c] | np.uint8(x >= t_row[c])
                prev[c] = p8
                g = g_row[c] | (sat8 if p8 != 0 else np.uint8(0)) | (low8 if x <= zero32 else np.uint8(0))
                g_row[c] = g
                count[c] += np.int32((g & sat8) == 0)
                v = zero32 if bad[c] != 0 else x
                d_row[c] = v
                s_row[c] = s_row[c] + v
        if nreads > 2:
            # stcal's second-group pass (bias 0) on dq_init's values (before
            # the BAD_REF_PIXEL zeroing): float64 where it divides by np.mean
            # (a numpy float64), float32 elsewhere.
            _convert_row(raw[0, r], ref_row, has_ref, off, has_off, d0)
            _convert_row(raw[1, r], ref_row, has_ref, off, has_off, d1)
            for c in range(ncols):
                t = t_row[c]
                x0 = d0[c]
                m = ((np.float64(x0 - zero32) / mean0) * last2 + 0.0) < np.float64(t)
                m = m and (d1[c] - x0) > (t - x0) / len1
                m = m and (gdq[2, r, c] & sat8) != 0 and (gdq[1, r, c] & sat8) == 0
                if m:
                    gdq[1, r, c] |= dnu8
        for c in range(ncols):
            if count[c] > 0:
                unsat_pixels += 1
        if has_plan:
            for c in range(ncols):
                k = last_valid_of(count[c])  # the linearity kernel's rule
                last[r, c] = k
                first_sat[r, c] = (gdq[0, r, c] & sat8) != 0
                last_sat[r, c] = (gdq[k, r, c] & sat8) != 0
    counts[0] = unsat_pixels
    counts[1] = unsat_pdq


def widened_offset(encoding_offset) -> float:
    """The encoding offset as float64, rounded first to float32 where numpy's ``float32_array -= offset`` would.

    Returns 0.0 for a falsy offset (the subtraction is then skipped, as
    :func:`.steps.raw_to_float` skips it).
    """
    dtype = np.result_type(np.float32, encoding_offset)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"data_encoding_offset {encoding_offset!r} would be subtracted in {dtype}")
    return float(np.float64(dtype.type(encoding_offset)))


def widened_reference(reference_rows: np.ndarray) -> np.ndarray:
    """Reference-read rows as float64, rounded first to float32 where numpy's ``float32_array += ref`` would."""
    dtype = np.result_type(np.float32, reference_rows.dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"a {reference_rows.dtype} reference read would be added in {dtype}")
    return np.ascontiguousarray(reference_rows.astype(dtype).astype(np.float64))


_NO_REF = np.zeros((0, 0), np.float64)
_NO_GDQ = np.zeros((0, 0, 0), np.uint8)


def band(raw: np.ndarray, reference: np.ndarray | None, offset: float, resultant_dq: np.ndarray | None,
         threshold: np.ndarray, threshold_dq: np.ndarray, pixeldq: np.ndarray, flags: dict, read_pattern,
         atod_limit: float, data: np.ndarray, gdq: np.ndarray, sums: np.ndarray, plan_rows=None) -> tuple[np.ndarray, int, int]:
    """Pass 1 of one row band across all reads (see the module docstring).

    Parameters
    ----------
    raw : (N, h, W) uint16, DN, C-ordered
    reference : (h, W) float64 or None
        :func:`widened_reference` of the reference-read rows (flight L1 data).
    offset : float
        :func:`widened_offset` of ``data_encoding_offset``.
    resultant_dq : (N, h, W) uint8 or None
        The input's ``resultantdq`` rows (romancal starts the group DQ from it).
    threshold : (h, W) float32, DN
        SATURATION ``data`` rows, a copy: modified as stcal modifies its copy.
    threshold_dq : (h, W) uint32
        SATURATION ``dq`` rows, a copy (modified likewise).
    pixeldq : (h, W) uint32
        After dq_init.
    flags : dict
        Group SATURATED, AD_FLOOR, DO_NOT_USE; pixel NO_SAT_CHECK, BAD_REF_PIXEL, SATURATED.
    read_pattern : list of list of int
        One read per resultant.
    atod_limit : float
        romancal's ATOD_LIMIT.
    data : (N, h, W) float32, written
        dq_init's data with BAD_REF_PIXEL pixels zeroed (refpix's input).
    gdq : (N, h, W) uint8, written
        Group DQ after saturation.
    sums : (h, W) float32, written
        ``np.sum(data, axis=0)``.
    plan_rows : (last, first_sat, last_sat) of (h, W) int16, bool, bool, optional
        Written with each pixel's last valid read (:class:`.linearity_pass.LinearityPlan`).

    Returns
    -------
    pixeldq : (h, W) uint32
        ``pixeldq | sat_dq`` (stcal's result).
    unsaturated_pixels, unsaturated_pixeldq : int
        Pixels with at least one read not SATURATED; pixels whose pixel DQ
        is not SATURATED (0 and 0 mean romancal's "all saturated").
    """
    nreads = raw.shape[0]
    consts = np.array([flags["group_saturated"] & 0xFF, (flags["group_ad_floor"] | flags["group_do_not_use"]) & 0xFF,
                       flags["group_do_not_use"] & 0xFF, flags["no_sat_check"], flags["bad_ref_pixel"],
                       flags["pixel_saturated"]], np.int64)
    if nreads > 2:
        group2 = np.array([atod_limit + 1, float(np.mean(read_pattern[0])), float(np.float64(read_pattern[2][-1])),
                           float(len(read_pattern[1]))], np.float64)
    else:
        group2 = np.array([atod_limit + 1, 1.0, 1.0, 1.0], np.float64)
    pdq_out = np.empty(pixeldq.shape, np.uint32)
    counts = np.zeros(2, np.int64)
    if plan_rows is None:
        last, first_sat, last_sat = np.zeros((0, 0), np.int16), np.zeros((0, 0), np.bool_), np.zeros((0, 0), np.bool_)
    else:
        last, first_sat, last_sat = plan_rows
    _band(raw, _NO_REF if reference is None else reference, reference is not None, float(offset), bool(offset),
          _NO_GDQ if resultant_dq is None else resultant_dq, resultant_dq is not None, threshold, threshold_dq,
          np.ascontiguousarray(pixeldq, np.uint32), consts, group2, data, gdq, pdq_out, sums, plan_rows is not None,
          last, first_sat, last_sat, counts)
    return pdq_out, int(counts[0]), int(counts[1])


def stcal_flags(pixel) -> dict:
    """The flag values :func:`band` takes.  stcal gets romancal's *pixel* flags for the group DQ too."""
    return {"group_saturated": int(pixel.SATURATED), "group_ad_floor": int(pixel.AD_FLOOR),
            "group_do_not_use": int(pixel.DO_NOT_USE), "no_sat_check": int(pixel.NO_SAT_CHECK),
            "bad_ref_pixel": int(pixel.BAD_REF_PIXEL), "pixel_saturated": int(pixel.SATURATED)}


def warm() -> None:
    """Load (or compile) the kernel with the engine's argument types (tiny arrays)."""
    from roman_datamodels.dqflags import pixel

    n, h, w = 3, 2, 4
    plan = (np.zeros((8, w), np.int16)[2:4], np.zeros((8, w), np.bool_)[2:4], np.zeros((8, w), np.bool_)[2:4])
    band(np.zeros((n, h, w), np.uint16), None, 0.0, None, np.zeros((h, w), np.float32), np.zeros((h, w), np.uint32),
         np.zeros((8, w), np.uint32)[2:4], stcal_flags(pixel), [[1], [2], [3]], 65535.0, np.empty((n, h, w), np.float32),
         np.empty((n, h, w), np.uint8), np.empty((h, w), np.float32), plan)
