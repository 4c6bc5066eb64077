"""The fused saturation and linearity are bit for bit stcal's own functions.

Random ramps with the awkward values (NaN, +-inf, -0.0, zeros, reads over
the threshold, NaN thresholds, NO_SAT_CHECK, NO_LIN_CORR pixels) through
both implementations; every output is compared with ``np.array_equal``
on the raw bits, not within a tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
from roman_datamodels.dqflags import pixel

from processing.calibrate import fused, steps


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint8)


def _ramp(rng, n=12, h=21, w=37):
    slope = rng.uniform(-50, 9000, (h, w)).astype(np.float32)
    data = (rng.uniform(-20, 200, (h, w)) + slope * np.arange(1, n + 1)[:, None, None]).astype(np.float32)
    data[:, 0, 0] = np.nan
    data[3, 1, 1] = np.inf
    data[4, 1, 2] = -np.inf
    data[:, 2, 3] = -0.0
    data[:, 2, 4] = 0.0
    data[5:, 3, 5] = 70000  # saturates mid-ramp
    data[1, 4, 6] = 64000  # a jump in the second read
    return data


def _thresholds(rng, h, w):
    thresh = rng.uniform(30000, 60000, (h, w)).astype(np.float32)
    thresh[6, 7] = np.nan
    dq = np.zeros((h, w), np.uint32)
    dq[7, 8] = pixel.NO_SAT_CHECK
    dq[8, 9] = pixel.DO_NOT_USE
    return thresh, dq


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_saturation_is_stcals_bit_for_bit(seed):
    from stcal.saturation.saturation import flag_saturated_pixels

    rng = np.random.default_rng(seed)
    data = _ramp(rng)
    n, h, w = data.shape
    thresh, sat_dq = _thresholds(rng, h, w)
    gdq0 = rng.choice(np.array([0, 0, 0, 1, 4], np.uint8), data.shape)
    pdq0 = rng.choice(np.array([0, 0, pixel.DEAD], np.uint32), (h, w))
    pattern = [[i + 1] for i in range(n)]
    want_g, want_p, _ = flag_saturated_pixels(data[None].copy(), gdq0[None].copy(), pdq0[None].copy(), thresh.copy(),
                                              sat_dq.copy(), 65535.0, pixel, n_pix_grow_sat=0, read_pattern=pattern)
    got_g, got_p = fused.flag_saturated(data.copy(), gdq0.copy(), pdq0.copy(), thresh.copy(), sat_dq.copy(), 65535.0, pixel, pattern)
    np.testing.assert_array_equal(got_g, want_g[0])
    np.testing.assert_array_equal(got_p, want_p[0])
    assert got_g.dtype == np.uint8 and np.count_nonzero(got_g & pixel.SATURATED) > 0


def test_saturation_band_uses_stcal_for_averaged_resultants():
    rng = np.random.default_rng(4)
    data = _ramp(rng, n=6)
    thresh, sat_dq = _thresholds(rng, *data.shape[1:])
    pattern = [[1], [2, 3], [4], [5, 6, 7], [8], [9]]
    assert not fused.single_reads(pattern)
    g, p = steps.saturation_band(data, np.zeros(data.shape, np.uint8), np.zeros(data.shape[1:], np.uint32), thresh, sat_dq, pattern)
    assert np.count_nonzero(g & pixel.DO_NOT_USE) > 0  # the backward (dilution) pass ran


def _linearity_case(rng, n=12, h=21, w=37):
    from stcal.linearity.linearity import prepare_coefficients

    data = _ramp(rng, n, h, w)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[6:, 5:9] |= pixel.SATURATED
    gdq[:, 9, 10] |= pixel.SATURATED  # saturated from the first read
    gdq[2:, 10, 11] |= pixel.SATURATED
    gdq[1:, 14, 15] |= pixel.SATURATED  # fewer than two usable reads
    lin = np.stack([rng.normal(0, 1, (h, w)), 1 + rng.normal(0, 1e-3, (h, w)), rng.normal(0, 1e-7, (h, w)),
                    rng.normal(0, 1e-12, (h, w)), rng.normal(0, 1e-17, (h, w)), rng.normal(0, 1e-22, (h, w))]).astype(np.float32)
    ilin = np.stack([rng.normal(0, 1, (h, w)), 1 - rng.normal(0, 1e-3, (h, w)), rng.normal(0, 1e-7, (h, w))]).astype(np.float32)
    # Signed zeros out of the polynomials: np.mean's 0 + x turns -0 into +0.
    # (pixel 2, 3 reads -0.0: its inverse polynomial gives -0.0, its
    # forward one -0.0 again.)
    lin[:, 2, 3] = [-0.0, 1, -0.0, -0.0, -0.0, -0.0]
    ilin[:, 2, 3] = [-0.0, -1, 0]
    lin[:, 11, 12] = np.nan
    lin[1, 12, 13] = 0
    # Values the correction takes past LinearityStep's 1e6 clip (both signs).
    lin[2, 15, 16] = 1e-3
    lin[2, 16, 17] = -1e-3
    data[:, 15:17, 16:18] = (40_000 + 1000 * np.arange(n, dtype=np.float32))[:, None, None]
    lin_dq = np.zeros((h, w), np.uint32)
    lin_dq[13, 14] = pixel.NO_LIN_CORR
    pdq = np.zeros((h, w), np.uint32)
    lin_p, pdq1 = prepare_coefficients(lin.copy(), lin_dq, pdq, pixel)
    ilin_p, _ = prepare_coefficients(ilin.copy(), lin_dq, pdq1, pixel)
    return data, gdq, lin, lin_dq, ilin, lin_p, ilin_p, [[i + 1] for i in range(n)]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("shape", [(12, 21, 37), (55, 18, 4096)])
def test_linearity_is_stcals_bit_for_bit(seed, shape):
    from stcal.linearity.linearity import linearity_correction_int

    from processing.calibrate import linearity_kernel

    rng = np.random.default_rng(seed)
    data, gdq, _, _, _, lin_p, ilin_p, pattern = _linearity_case(rng, *shape)
    want = linearity_correction_int(data.copy(), gdq, lin_p, pixel, ilin_coeffs=ilin_p, read_pattern=pattern, tile_rows=64)
    got_gdq = gdq.copy()
    got = linearity_kernel.correct(data.copy(), got_gdq, lin_p, ilin_p, pattern, pixel.SATURATED)
    np.testing.assert_array_equal(_bits(got), _bits(want))
    np.testing.assert_array_equal(got_gdq, gdq)  # no clip asked for: group DQ untouched
    assert not np.array_equal(want, data)  # the correction did something
    # A strided view (a band of a larger cube) gives the same bits.
    wide = np.zeros((shape[0], shape[1], shape[2] + 5), np.float32)
    wide[:, :, 2:-3] = data
    linearity_kernel.correct(wide[:, :, 2:-3], gdq.copy(), lin_p, ilin_p, pattern, pixel.SATURATED)
    np.testing.assert_array_equal(_bits(wide[:, :, 2:-3]), _bits(want))


@pytest.mark.parametrize("n_lin, n_ilin", [(2, 2), (4, 5), (7, 4), (8, 3), (5, 7)])
def test_linearity_of_every_polynomial_degree_is_stcals(n_lin, n_ilin):
    """The kernel's per-degree loops (3-7 terms) and its general one (others) give stcal's bits."""
    from stcal.linearity.linearity import linearity_correction_int

    from processing.calibrate import linearity_kernel

    rng = np.random.default_rng(n_lin * 10 + n_ilin)
    data = _ramp(rng, 9, 17, 45)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[5:, 5:9] |= pixel.SATURATED
    scale = np.array([1, 1, 1e-7, 1e-12, 1e-17, 1e-22, 1e-27, 1e-32])
    lin = np.stack([rng.normal(0, scale[j], (17, 45)) + (j == 1) for j in range(n_lin)]).astype(np.float32)
    ilin = np.stack([rng.normal(0, scale[j], (17, 45)) + (j == 1) for j in range(n_ilin)]).astype(np.float32)
    pattern = [[i + 1] for i in range(data.shape[0])]
    want = linearity_correction_int(data.copy(), gdq, lin, pixel, ilin_coeffs=ilin, read_pattern=pattern, tile_rows=64)
    got = linearity_kernel.correct(data.copy(), gdq.copy(), lin, ilin, pattern, pixel.SATURATED)
    np.testing.assert_array_equal(_bits(got), _bits(want))
    assert not np.array_equal(want, data)


def test_linearity_band_is_romancals_step_with_its_clip():
    """steps.linearity_band (compiled, clip folded in) == stcal + LinearityStep's clip and DO_NOT_USE."""
    from roman_datamodels.dqflags import group
    from stcal.linearity.linearity import linearity_correction_int

    rng = np.random.default_rng(7)
    data, gdq, lin, lin_dq, ilin, lin_p, ilin_p, pattern = _linearity_case(rng)
    pdq = np.zeros(data.shape[1:], np.uint32)
    want = linearity_correction_int(data.copy(), gdq.copy(), lin_p, pixel, ilin_coeffs=ilin_p, read_pattern=pattern, tile_rows=64)
    want_gdq = gdq.copy()
    m = np.abs(want) > 1e6
    assert m[:, 15, 16].any() and m[:, 16, 17].any() and (want[:, 15, 16] > 0).any() and (want[:, 16, 17] < 0).any()
    want[m] = np.clip(want[m], -1e6, 1e6)
    want_gdq[m] |= group.DO_NOT_USE
    got, got_gdq, got_pdq = steps.linearity_band(data.copy(), gdq.copy(), pdq, lin.copy(), lin_dq, ilin.copy(), pattern)
    np.testing.assert_array_equal(_bits(got), _bits(want))
    np.testing.assert_array_equal(got_gdq, want_gdq)
    assert got_pdq[13, 14] & pixel.NO_LIN_CORR


@pytest.mark.parametrize("rows", [1, 7, 64])
def test_refpix_offsets_are_romancals_bit_for_bit(rows):
    from romancal.refpix._data import StandardView

    from processing.calibrate.refpix_streaming import offset_band

    rng = np.random.default_rng(rows)
    n = 55
    det = (11_000 + rng.normal(0, 30, (n, rows, 4096)) + 37.3 * np.arange(n)[:, None, None]).astype(np.float32)
    det[:, 0, :9] = 0  # zeroed BAD_REF_PIXEL pixels
    amp = (11_200 + rng.normal(0, 8, (n, rows, 128))).astype(np.float32)
    want = StandardView(np.concatenate([det, amp], axis=2)).remove_offset().offset
    got = offset_band(det, amp)
    assert got.dtype == want.dtype == np.float32 and got.shape == (rows, 4224)
    np.testing.assert_array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("repair", ["none", "flag", "nan", "zero", "all"])
def test_prepare_coefficients_is_stcals(repair):
    """steps.prepare_coefficients skips only repairs that would change nothing: same coefficients, same pixel DQ."""
    from stcal.linearity.linearity import prepare_coefficients

    rng = np.random.default_rng(3)
    coeffs = rng.normal(0, 1, (4, 9, 11)).astype(np.float32)
    coeffs[1] += 3
    lin_dq = rng.choice(np.array([0, 0, pixel.DEAD], np.uint32), (9, 11))
    pdq = rng.choice(np.array([0, pixel.SATURATED], np.uint32), (9, 11))
    if repair in ("flag", "all"):
        lin_dq[2, 3] |= pixel.NO_LIN_CORR
    if repair in ("nan", "all"):
        coeffs[2, 4, 5] = np.nan
    if repair in ("zero", "all"):
        coeffs[1, 6, 7] = 0
    want_c, want_p = prepare_coefficients(coeffs.copy(), lin_dq, pdq.copy(), pixel)
    got_c, got_p = steps.prepare_coefficients(coeffs.copy(), lin_dq, pdq.copy())
    np.testing.assert_array_equal(_bits(got_c), _bits(want_c))
    np.testing.assert_array_equal(got_p, want_p)
    assert got_p.dtype == want_p.dtype
    if repair != "none":
        assert not np.array_equal(_bits(want_c), _bits(coeffs))  # the case did need a repair
