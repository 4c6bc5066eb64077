"""Tests for processing.diagnostics against the tutorial's own functions.

``tutorial_*`` below are copied verbatim from the WFI TVAC bright-star
tutorial (convolve2d and all).  They cast the thresholds to the frame dtype,
which is lossless for float frames with float32 thresholds and for uint16
frames with integer thresholds, and there the library must agree bit for bit.
Elsewhere the cast truncates fractional thresholds and turns NaN (-> inf) into
an undefined integer, so ``reference_saturation_masks`` is the same code with
the comparison done exactly; that is the documented meaning the library
implements, and the property tests compare against it on random data.
"""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import convolve2d

from processing import diagnostics as dg
from processing.progress import CancelToken, Cancelled, run

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------
# The tutorial's functions, verbatim
# ---------------------------------------------------------------------------


def _align_sat_dn(sat_dn, frames_hw):
    H, W = frames_hw
    sh, sw = sat_dn.shape
    if (sh, sw) == (H, W):
        return sat_dn
    if (sh - H == 8) and (sw - W == 8):
        return sat_dn[4:-4, 4:-4]
    raise ValueError(f"sat_dn shape {sat_dn.shape} does not match frames {(H, W)}")


def _tutorial_neighbours(sat_mask):
    """The tutorial's convolve2d neighbour logic, given the saturation cube."""
    N = sat_mask.shape[0]
    kernel_4 = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=np.uint8)
    kernel_diag = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1]], dtype=np.uint8)
    nearby_sat_mask = np.zeros_like(sat_mask, dtype=bool)
    diag_sat_mask = np.zeros_like(sat_mask, dtype=bool)
    new_sat_mask = np.zeros_like(sat_mask, dtype=bool)
    for i in range(N):
        s = sat_mask[i]
        conv4 = convolve2d(s.astype(np.uint8), kernel_4, mode="same", boundary="fill", fillvalue=0) > 0
        convdg = convolve2d(s.astype(np.uint8), kernel_diag, mode="same", boundary="fill", fillvalue=0) > 0
        nearby_sat_mask[i] = (~s) & conv4
        diag_sat_mask[i] = (~s) & (~nearby_sat_mask[i]) & convdg
        if i == 0:
            new_sat_mask[i] = s
        else:
            new_sat_mask[i] = s & (~sat_mask[i - 1])
    return sat_mask, nearby_sat_mask, new_sat_mask, diag_sat_mask


def tutorial_saturation_masks(frames_dn, sat_dn):
    """make_saturation_mask_dn, verbatim."""
    assert frames_dn.ndim == 3, "frames_dn must be (N,H,W)"
    N, H, W = frames_dn.shape
    sat_dn_use = _align_sat_dn(np.asarray(sat_dn), (H, W))
    sat_dn_use = np.where(np.isfinite(sat_dn_use), sat_dn_use, np.inf).astype(frames_dn.dtype, copy=False)
    sat_mask = frames_dn >= sat_dn_use
    return _tutorial_neighbours(sat_mask)


def reference_saturation_masks(frames_dn, sat_dn):
    """make_saturation_mask_dn with the threshold test done exactly (no cast)."""
    assert frames_dn.ndim == 3
    N, H, W = frames_dn.shape
    sat = _align_sat_dn(np.asarray(sat_dn, dtype=np.float64), (H, W))
    with np.errstate(invalid="ignore"):
        sat_mask = (frames_dn.astype(np.float64) >= sat) & np.isfinite(sat)
    return _tutorial_neighbours(sat_mask)


def tutorial_mean_slope(frames_dn, raw_frames_dn, sat_dn, masks=tutorial_saturation_masks):
    """make_mean_debiased_difference_image_dn, verbatim (masks function swappable)."""
    assert frames_dn.shape == raw_frames_dn.shape
    frame_diffs = np.diff(frames_dn, axis=0)
    sat_mask, nearby_mask, _, _ = masks(raw_frames_dn, sat_dn)
    valid = ~(sat_mask[1:] | nearby_mask[1:])
    w = valid.astype(np.float32)
    num = (frame_diffs * w).sum(axis=0, dtype=np.float64)
    den = w.sum(axis=0, dtype=np.float64)
    return np.divide(num, den, out=np.full(den.shape, np.nan, dtype=np.float32), where=den > 0).astype(
        np.float32, copy=False
    )


def tutorial_ratio(frames, mean_slope_image, i):
    """The tutorial's ratio panel."""
    difference_images = np.diff(frames, axis=0)
    return np.divide(
        difference_images[i - 1],
        mean_slope_image,
        out=np.full_like(difference_images[i - 1], np.nan, dtype=np.float32),
        where=np.isfinite(mean_slope_image) & (mean_slope_image != 0),
    )


def tutorial_bias_intercept(cube, drop_first=True, chunk=(512, 512), out_dtype=np.float32):
    """bias_intercept_from_cube, verbatim."""
    cube = np.asarray(cube)
    N_total, rows, cols = cube.shape
    start = 1 if drop_first else 0
    t = np.arange(start, N_total, dtype=np.float64)
    n = t.size
    if n < 2:
        raise ValueError("Need at least 2 frames (after dropping reset) to fit a line.")
    sum_t = t.sum()
    sum_t2 = (t * t).sum()
    den = n * sum_t2 - sum_t * sum_t
    B = np.empty((rows, cols), dtype=out_dtype)
    rt, ct = chunk
    for r0 in range(0, rows, rt):
        r1 = min(rows, r0 + rt)
        for c0 in range(0, cols, ct):
            c1 = min(cols, c0 + ct)
            arr = cube[start:, r0:r1, c0:c1].astype(np.float32, copy=False)
            sY = arr.sum(axis=0, dtype=np.float64)
            sTY = np.tensordot(t, arr, axes=(0, 0))
            slope = (n * sTY - sum_t * sY) / den
            intercept = (sY - slope * sum_t) / n
            B[r0:r1, c0:c1] = intercept.astype(out_dtype, copy=False)
    return B


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


class FrameSource:
    """A frame source over an ndarray that hands out copies and counts reads."""

    def __init__(self, cube):
        self._cube = np.asarray(cube)
        self.shape = self._cube.shape
        self.reads = 0

    def frame(self, k):
        self.reads += 1
        return self._cube[k].copy()


def assert_masks_equal(actual, expected):
    for name, a, e in zip(("sat", "nearby", "new", "diag"), actual, expected):
        assert a.dtype == bool, name
        np.testing.assert_array_equal(a, e, err_msg=name)


def random_thresholds(rng, shape, levels, nan_fraction, fractional=True):
    """Thresholds near the frame values, with NaN/inf and off-by-a-little values."""
    sat = rng.integers(0, levels + 2, shape).astype(np.float64)
    if fractional:
        sat += rng.choice([0.0, 0.0, 0.5, -0.5, 1e-9, -1e-9], shape)
    special = rng.random(shape)
    sat[special < nan_fraction] = np.nan
    sat[(special >= nan_fraction) & (special < nan_fraction + 0.03)] = np.inf
    sat[(special >= nan_fraction + 0.03) & (special < nan_fraction + 0.05)] = -np.inf
    return sat


def bordered(rng, sat, border):
    """Embed ``sat`` in a map ``border`` pixels larger on each side, with junk in the border."""
    if not border:
        return sat
    out = rng.uniform(-5, 5, (sat.shape[0] + 2 * border, sat.shape[1] + 2 * border))
    out[border:-border, border:-border] = sat
    return out


@st.composite
def mask_cases(draw):
    n = draw(st.integers(1, 5))
    h = draw(st.integers(1, 9))
    w = draw(st.integers(1, 9))
    dtype = np.dtype(draw(st.sampled_from(["uint16", "float32", "float64", "int32", "uint8"])))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    levels = draw(st.sampled_from([1, 3, 20]))
    frames = rng.integers(0, levels + 1, (n, h, w)).astype(dtype)
    if dtype.kind == "f":
        frames += rng.choice([0.0, 0.0, 0.25, -0.5], frames.shape).astype(dtype)
        frames[rng.random(frames.shape) < 0.05] = np.nan
    sat = random_thresholds(rng, (h, w), levels, draw(st.sampled_from([0.0, 0.2, 1.0])))
    sat = bordered(rng, sat, draw(st.sampled_from([0, 4])))
    return frames, sat


# ---------------------------------------------------------------------------
# saturation_masks
# ---------------------------------------------------------------------------


@PROPERTY
@given(mask_cases())
def test_masks_match_exact_reference(case):
    frames, sat = case
    assert_masks_equal(dg.saturation_masks(frames, sat), reference_saturation_masks(frames, sat))


@PROPERTY
@given(mask_cases(), st.sampled_from(["uint16", "float32", "float64"]))
def test_masks_match_tutorial_verbatim_where_its_cast_is_lossless(case, kind):
    frames, sat = case
    rng = np.random.default_rng(int(frames.size))
    if kind == "uint16":
        # Integer thresholds in the uint16 range, no NaN: the tutorial's cast is exact.
        frames = frames.astype(np.uint16) if frames.dtype.kind in "iu" else rng.integers(0, 20, frames.shape).astype(np.uint16)
        sat = np.where(np.isfinite(sat), np.clip(np.round(sat), 0, 65535), 7.0)
    else:
        frames = np.nan_to_num(frames.astype(kind), nan=3.0)
        sat = sat.astype(np.float32)  # float32 thresholds are exact in float32 and float64
    assert_masks_equal(dg.saturation_masks(frames, sat), tutorial_saturation_masks(frames, sat))


def test_single_saturated_pixel_neighbours():
    frames = np.zeros((1, 5, 5), np.uint16)
    frames[0, 2, 2] = 100
    sat, nearby, new, diag = dg.saturation_masks(frames, np.full((5, 5), 50.0))
    assert np.argwhere(sat[0]).tolist() == [[2, 2]]
    assert np.argwhere(nearby[0]).tolist() == [[1, 2], [2, 1], [2, 3], [3, 2]]
    assert np.argwhere(diag[0]).tolist() == [[1, 1], [1, 3], [3, 1], [3, 3]]
    assert np.array_equal(new, sat)


def test_corner_and_edge_pixels_do_not_wrap():
    frames = np.zeros((1, 4, 6), np.float32)
    frames[0, 0, 0] = 1.0  # corner
    frames[0, 3, 3] = 1.0  # bottom edge
    sat, nearby, _, diag = dg.saturation_masks(frames, np.full((4, 6), 1.0))
    assert np.argwhere(nearby[0]).tolist() == [[0, 1], [1, 0], [2, 3], [3, 2], [3, 4]]
    assert np.argwhere(diag[0]).tolist() == [[1, 1], [2, 2], [2, 4]]
    # A np.roll-style shift would have marked the opposite edges.
    assert not nearby[0, 0, 5] and not nearby[0, 3, 0] and not diag[0, 0, 4]


def test_diag_excludes_pixels_already_nearby():
    frames = np.zeros((1, 3, 3), np.uint16)
    frames[0, 0, 0] = frames[0, 0, 2] = 10
    sat, nearby, _, diag = dg.saturation_masks(frames, np.full((3, 3), 10))
    # (0, 1) is a 4-neighbour of both, (1, 1) a diagonal of both.
    assert nearby[0].tolist() == [[False, True, False], [True, False, True], [False, False, False]]
    assert diag[0].tolist() == [[False, False, False], [False, True, False], [False, False, False]]


def test_new_in_frame_zero_is_everything_saturated_and_resaturation_counts_again():
    frames = np.array([[[60, 0]], [[60, 60]], [[0, 60]], [[60, 60]]], np.uint16)
    sat, _, new, _ = dg.saturation_masks(frames, np.full((1, 2), 50.0))
    assert new[:, 0, 0].tolist() == [True, False, False, True]
    assert new[:, 0, 1].tolist() == [False, True, False, False]
    assert np.array_equal(new[0], sat[0])


@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.int32])
def test_non_finite_or_unreachable_thresholds_never_saturate(dtype):
    top = np.iinfo(np.uint16).max
    frames = np.full((2, 1, 5), top, dtype=dtype)
    sat_dn = np.array([[np.nan, np.inf, -np.inf, 70000.0, float(top)]])
    sat, *_ = dg.saturation_masks(frames, sat_dn)
    assert sat[:, 0].tolist() == [[False, False, False, False, True]] * 2


def test_tutorial_cast_would_flag_nan_thresholds_on_uint16():
    """Why the library does not copy the tutorial's cast (documented deviation)."""
    frames = np.full((1, 1, 2), 1000, np.uint16)
    sat_dn = np.array([[1000.5, 1001.0]])
    assert dg.saturation_masks(frames, sat_dn)[0].tolist() == [[[False, False]]]
    # The tutorial truncates 1000.5 to 1000 and calls the first pixel saturated.
    assert tutorial_saturation_masks(frames, sat_dn)[0].tolist() == [[[True, False]]]


def test_float32_frames_against_float64_threshold_just_above():
    value = np.float32(1.1)
    frames = np.full((1, 1, 3), value, np.float32)
    above = np.nextafter(float(value), np.inf)  # above in float64, equal after a float32 cast
    sat_dn = np.array([[float(value), above, float(value) - 1e-12]])
    assert dg.saturation_masks(frames, sat_dn)[0].tolist() == [[[True, False, True]]]


def test_threshold_map_8_larger_is_centre_cropped():
    frames = np.zeros((2, 4, 5), np.uint16)
    sat_dn = np.full((12, 13), 1.0e9)
    sat_dn[4 + 1, 4 + 2] = 0  # frame pixel (1, 2)
    sat_dn[0, 0] = sat_dn[-1, -1] = 0  # in the reference border: must be ignored
    sat, *_ = dg.saturation_masks(frames, sat_dn)
    assert np.argwhere(sat[0]).tolist() == [[1, 2]]


def test_full_size_4096_map_on_4088_frames():
    frames = np.zeros((1, 4088, 4088), np.uint16)
    sat_dn = np.full((4096, 4096), 60000.0, np.float32)
    sat_dn[4, 4] = sat_dn[4091, 4091] = 0
    sat_dn[0:4, :] = 0  # reference rows
    sat, nearby, new, diag = dg.saturation_masks(frames, sat_dn)
    assert np.argwhere(sat[0]).tolist() == [[0, 0], [4087, 4087]]
    assert nearby.sum() == 4 and diag.sum() == 2


@pytest.mark.parametrize("shape", [(4, 6), (11, 13), (12, 12), (13, 12)])
def test_mismatched_threshold_shape_names_both_shapes(shape):
    with pytest.raises(ValueError) as info:
        dg.saturation_masks(np.zeros((2, 4, 5), np.uint16), np.zeros(shape))
    assert str(shape) in str(info.value) and "(4, 5)" in str(info.value)


def test_bad_dimensions_name_the_shape():
    with pytest.raises(ValueError, match=r"\(4, 5\)"):
        dg.saturation_masks(np.zeros((4, 5)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"\(2, 4, 5\)"):
        dg.saturation_masks(np.zeros((2, 4, 5)), np.zeros((2, 4, 5)))


@PROPERTY
@given(mask_cases(), st.data())
def test_masks_at_one_frame_match_the_cube(case, data):
    frames, sat = case
    k = data.draw(st.integers(0, frames.shape[0] - 1))
    full = dg.saturation_masks(frames, sat)
    source = FrameSource(frames)
    one = dg.saturation_masks_at(source, sat, k)
    assert_masks_equal(one, [m[k] for m in full])
    assert source.reads == (1 if k == 0 else 2)


def test_masks_at_rejects_out_of_range_frame():
    with pytest.raises(ValueError, match=r"\(3, 2, 2\)"):
        dg.saturation_masks_at(np.zeros((3, 2, 2)), np.ones((2, 2)), 3)


# ---------------------------------------------------------------------------
# mean_slope, slope_ratio, onset, counts
# ---------------------------------------------------------------------------


@st.composite
def slope_cases(draw, lossless=False):
    n = draw(st.integers(1, 6))
    h = draw(st.integers(1, 8))
    w = draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    start = rng.integers(0, 1000, (h, w))
    flux = rng.integers(0, 400, (h, w))
    raw = (start + flux * np.arange(n)[:, None, None] + rng.integers(-30, 30, (n, h, w))).clip(0, 65535)
    raw = raw.astype(np.uint16)
    frames = (raw - start).astype(np.float32) * np.float32(draw(st.sampled_from([1.0, 1.03])))
    if draw(st.booleans()):
        frames[rng.random(frames.shape) < 0.03] = np.nan
    sat = random_thresholds(rng, (h, w), 2000, draw(st.sampled_from([0.0, 0.2])), fractional=not lossless)
    if lossless:
        sat = np.where(np.isfinite(sat), np.clip(sat, 0, 65535), 65535.0)
    sat = bordered(rng, sat, draw(st.sampled_from([0, 4])))
    return frames, raw, sat


@PROPERTY
@given(slope_cases(lossless=True))
def test_mean_slope_matches_tutorial_verbatim_bit_for_bit(case):
    frames, raw, sat = case
    expected = tutorial_mean_slope(frames, raw, sat)
    actual = dg.mean_slope(frames, raw, sat)
    assert actual.dtype == np.float32 and actual.shape == frames.shape[1:]
    np.testing.assert_array_equal(actual, expected)


@PROPERTY
@given(slope_cases(), st.sampled_from(["float32", "float64", "uint16"]))
def test_mean_slope_matches_exact_reference(case, dtype):
    frames, raw, sat = case
    frames = raw.copy() if dtype == "uint16" else frames.astype(dtype)
    # The reference takes uint16 differences in float32, as the issue asks.
    ref_frames = frames.astype(np.float32) if dtype == "uint16" else frames
    expected = tutorial_mean_slope(ref_frames, raw, sat, masks=reference_saturation_masks)
    np.testing.assert_array_equal(dg.mean_slope(frames, raw, sat), expected)


@PROPERTY
@given(slope_cases())
def test_streaming_summary_equals_in_memory_forms(case):
    frames, raw, sat = case
    n = frames.shape[0]
    values, raws = FrameSource(frames), FrameSource(raw)
    summary = dg.ramp_summary(values, raws, sat)
    assert values.reads == n and raws.reads == n  # one pass, each frame read once
    np.testing.assert_array_equal(summary.mean_slope, dg.mean_slope(frames, raw, sat))
    np.testing.assert_array_equal(summary.onset, dg.saturation_onset(raw, sat))
    np.testing.assert_array_equal(summary.saturated_count, dg.saturated_count(raw, sat))
    np.testing.assert_array_equal(dg.mean_slope(FrameSource(frames), FrameSource(raw), sat), summary.mean_slope)

    sat_mask = reference_saturation_masks(raw, sat)[0]
    expected_onset = np.where(sat_mask.any(axis=0), sat_mask.argmax(axis=0), -1)
    np.testing.assert_array_equal(summary.onset, expected_onset)
    assert summary.onset.dtype == np.int16
    np.testing.assert_array_equal(summary.saturated_count, sat_mask.sum(axis=(1, 2)))
    assert summary.saturated_count.dtype == np.int64

    for i in range(1, n):
        expected = tutorial_ratio(frames, summary.mean_slope, i)
        np.testing.assert_array_equal(dg.slope_ratio(FrameSource(frames), summary.mean_slope, i), expected)


def test_mean_slope_hand_case_excludes_saturated_and_neighbours():
    # Three pixels in a row ramping by 10, 20, 30 DN/frame; the middle one
    # saturates at frame 2, which removes difference 2-1 (and 3-2) for it and
    # for its neighbours.
    raw = np.array([[[0, 0, 0]], [[10, 20, 30]], [[20, 40, 60]], [[30, 60, 90]]], np.uint16)
    sat = np.array([[1000.0, 40.0, 1000.0]])
    slope = dg.mean_slope(raw.astype(np.float32), raw, sat)
    assert slope.tolist() == [[10.0, 20.0, 30.0]]
    sat = np.array([[1000.0, 20.0, 1000.0]])  # saturated from frame 1 on
    assert np.isnan(dg.mean_slope(raw.astype(np.float32), raw, sat)).all()


def test_nan_difference_poisons_the_mean_even_where_masked_as_in_the_tutorial():
    raw = np.array([[[0, 0]], [[10, 10]], [[20, 20]]], np.uint16)
    frames = raw.astype(np.float32)
    frames[2, 0, 0] = np.nan  # its difference is masked (saturated at frame 2)
    sat = np.array([[15.0, 100.0]])
    expected = tutorial_mean_slope(frames, raw, sat)
    assert np.isnan(expected[0, 0])  # 0 * NaN in the tutorial's weighted sum
    np.testing.assert_array_equal(dg.mean_slope(frames, raw, sat), expected)


def test_uint16_differences_do_not_wrap():
    raw = np.array([[[100]], [[90]], [[80]]], np.uint16)
    sat = np.full((1, 1), 60000.0)
    assert dg.mean_slope(raw, raw, sat).tolist() == [[-10.0]]
    assert dg.slope_ratio(raw, np.array([[-10.0]], np.float32), 1).tolist() == [[1.0]]
    # np.diff in uint16, as the tutorial would do on raw frames, wraps:
    assert np.diff(raw, axis=0)[0, 0, 0] == 65526


def test_mean_slope_of_a_single_frame_is_nan():
    assert np.isnan(dg.mean_slope(np.ones((1, 2, 2)), np.ones((1, 2, 2)), np.ones((2, 2)) * 9)).all()


def test_mean_slope_mismatched_shapes_name_both():
    with pytest.raises(ValueError, match=r"\(3, 4, 4\).*\(3, 4, 5\)"):
        dg.mean_slope(np.zeros((3, 4, 4)), np.zeros((3, 4, 5)), np.zeros((4, 4)))


def test_slope_ratio_nan_where_mean_is_zero_or_not_finite_and_checks_index():
    frames = np.array([[[0, 0, 0, 0]], [[2, 2, 2, 2]]], np.float32)
    mean = np.array([[1.0, 0.0, np.nan, np.inf]], np.float32)
    ratio = dg.slope_ratio(frames, mean, 1)
    assert ratio.dtype == np.float32
    assert ratio[0, 0] == 2.0 and np.isnan(ratio[0, 1:]).all()
    for bad in (0, 2, -1):
        with pytest.raises(ValueError, match=r"\(2, 1, 4\)"):
            dg.slope_ratio(frames, mean, bad)
    with pytest.raises(ValueError, match=r"\(1, 3\).*\(1, 4\)"):
        dg.slope_ratio(frames, mean[:, :3], 1)


def test_onset_and_counts_hand_case():
    raw = np.array([[[0, 5, 9]], [[5, 5, 0]], [[9, 0, 9]]], np.uint16)
    onset = dg.saturation_onset(raw, np.full((1, 3), 5.0))
    assert onset.tolist() == [[1, 0, 0]]
    assert dg.saturation_onset(raw, np.full((1, 3), 10.0)).tolist() == [[-1, -1, -1]]
    assert dg.saturated_count(raw, np.full((1, 3), 5.0)).tolist() == [2, 2, 2]


def test_streaming_reductions_report_progress_and_can_be_cancelled():
    rng = np.random.default_rng(3)
    raw = rng.integers(0, 100, (6, 8, 8)).astype(np.uint16)
    sat = np.full((8, 8), 90.0)
    reports = []
    dg.mean_slope(raw, raw, sat, on_progress=reports.append)
    fractions = [r.fraction for r in reports]
    assert len(fractions) == 6 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert "frame 6/6" in reports[-1].message

    for job in (
        dg.mean_slope_job(raw, raw, sat),
        dg.ramp_summary_job(raw, raw, sat),
        dg.saturation_onset_job(raw, sat),
        dg.saturated_count_job(raw, sat),
        dg.bias_intercept_job(raw),
        dg.superbias_job([raw, raw]),
    ):
        token = CancelToken()
        seen = []

        def cancel_after_two(report, seen=seen, token=token):
            seen.append(report)
            if len(seen) == 2:
                token.cancel()

        with pytest.raises(Cancelled):
            run(job, cancel_after_two, token)
        assert len(seen) == 2


def test_streaming_memory_stays_at_a_few_frames():
    """Peak allocation must not grow with the number of frames."""
    n, h, w = 30, 384, 384
    frame_bytes = h * w * 4
    rng = np.random.default_rng(5)
    cube = (rng.integers(0, 3000, (h, w)) * np.arange(n)[:, None, None] // 10).astype(np.uint16)

    class Generated:
        shape = (n, h, w)

        def frame(self, k):
            return cube[k].copy()

    sat = np.full((h, w), 20000.0)
    for job in (
        lambda: dg.ramp_summary(Generated(), Generated(), sat),
        lambda: dg.bias_intercept(Generated()),
    ):
        tracemalloc.start()
        try:
            job()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 12 * frame_bytes, f"peak {peak / frame_bytes:.1f} float32 frames"


# ---------------------------------------------------------------------------
# bias_intercept, superbias
# ---------------------------------------------------------------------------


@PROPERTY
@given(
    st.integers(2, 7),
    st.integers(1, 9),
    st.integers(1, 9),
    st.integers(0, 2**32 - 1),
    st.booleans(),
    st.sampled_from([(512, 512), (2, 3), (1, 1)]),
)
def test_bias_intercept_matches_tutorial(n, h, w, seed, drop_first, chunk):
    if drop_first and n < 3:
        n = 3
    rng = np.random.default_rng(seed)
    # uint16 darks: every sum is an exact integer in float64, so bit-identical.
    cube = rng.integers(0, 65536, (n, h, w)).astype(np.uint16)
    expected = tutorial_bias_intercept(cube, drop_first, chunk)
    np.testing.assert_array_equal(dg.bias_intercept(cube, drop_first), expected)
    np.testing.assert_array_equal(dg.bias_intercept(FrameSource(cube), drop_first), expected)
    # float data: BLAS may sum in another order; equal to float32 rounding.
    floats = rng.normal(1e4, 30, (n, h, w))
    np.testing.assert_allclose(
        dg.bias_intercept(floats, drop_first), tutorial_bias_intercept(floats, drop_first, chunk), rtol=1e-6, atol=1e-3
    )


def test_bias_intercept_of_exact_lines_and_dropped_first_frame():
    t = np.arange(6, dtype=np.float32)[:, None, None]
    cube = np.float32(1000.0) + np.float32(7.5) * t + np.zeros((1, 2, 3), np.float32)
    cube[0] = 55555.0  # reset frame garbage: dropped by default
    np.testing.assert_allclose(dg.bias_intercept(cube), np.full((2, 3), 1000.0), atol=1e-9)
    assert not np.allclose(dg.bias_intercept(cube, drop_first=False), 1000.0)
    with pytest.raises(ValueError, match=r"\(2, 2, 3\)"):
        dg.bias_intercept(cube[:2])
    with pytest.raises(ValueError, match=r"\(6, 6\)"):
        dg.bias_intercept(np.zeros((6, 6)))


def test_superbias_median_and_mean_like_the_tutorial():
    rng = np.random.default_rng(11)
    darks = [rng.integers(9000, 11000, (5, 4, 6)).astype(np.uint16) for _ in range(3)]
    darks[1] = FrameSource(darks[1])
    biases = np.stack([tutorial_bias_intercept(np.asarray(d._cube if isinstance(d, FrameSource) else d)) for d in darks])
    np.testing.assert_array_equal(dg.superbias(darks), np.nanmedian(biases, axis=0).astype(np.float32))
    np.testing.assert_array_equal(dg.superbias(darks, "mean"), np.nanmean(biases, axis=0).astype(np.float32))
    assert dg.superbias(darks).dtype == np.float32

    nan_dark = np.full((5, 4, 6), np.nan, np.float32)
    combined = dg.superbias([nan_dark, nan_dark])
    assert np.isnan(combined).all()


def test_superbias_bad_input():
    with pytest.raises(ValueError, match="method"):
        dg.superbias([np.zeros((3, 2, 2))], "mode")
    with pytest.raises(ValueError, match="at least one"):
        dg.superbias([])
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 2\)"):
        dg.superbias([np.zeros((3, 2, 2)), np.zeros((4, 2, 3))])


# ---------------------------------------------------------------------------
# brightest_source, radial_profile
# ---------------------------------------------------------------------------


def star_frame(size, center, sigma=6.0, peak=40000.0, saturate=None, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.ogrid[:size, :size]
    star = peak * np.exp(-((yy - center[0]) ** 2 + (xx - center[1]) ** 2) / (2 * sigma**2))
    frame = 1000.0 + rng.normal(0, 10, (size, size)) + star
    if saturate is not None:
        frame = np.minimum(frame, saturate)
    return frame


def add_defects(frame, rng):
    h, w = frame.shape
    n_hot = max(10, h * w // 100)  # 1 % of the pixels
    top = 65535.0
    frame[rng.integers(0, h, n_hot), rng.integers(0, w, n_hot)] = top  # hot pixels
    r, c = rng.integers(0, h - 2), rng.integers(0, w - 2)
    frame[r : r + 2, c : c + 2] = top  # a 2 x 2 hot cluster
    frame[:, w // 7] = top / 2  # a bad column
    return frame


@pytest.mark.parametrize("size,center", [(64, (40, 21)), (512, (300.4, 120.6)), (1000, (13, 987))])
def test_brightest_source_ignores_hot_pixels(size, center):
    rng = np.random.default_rng(size)
    frame = add_defects(star_frame(size, center), rng)
    frame[rng.integers(0, size, 20), rng.integers(0, size, 20)] = np.nan
    row, col = dg.brightest_source(frame)
    assert abs(row - center[0]) <= 1 and abs(col - center[1]) <= 1


def test_brightest_source_finds_the_centre_of_a_saturated_plateau_and_of_a_ring():
    frame = star_frame(400, (150, 260), sigma=25, peak=5e6, saturate=65535.0)
    frame = add_defects(frame, np.random.default_rng(2)).astype(np.uint16)
    assert dg.brightest_source(frame) == (150, 260)
    # A difference image whose core saturated in frame 0 is dark in the middle.
    ring = star_frame(400, (150, 260), sigma=25, peak=5e4) - 1000.0
    yy, xx = np.ogrid[:400, :400]
    ring[(yy - 150) ** 2 + (xx - 260) ** 2 < 30**2] = 0.0
    row, col = dg.brightest_source(ring)
    assert abs(row - 150) <= 1 and abs(col - 260) <= 1


def test_brightest_source_full_frame_is_fast():
    rng = np.random.default_rng(4)
    frame = np.full((4096, 4096), 1000, np.uint16)
    yy, xx = np.ogrid[-40:41, -40:41]
    frame[1900 - 40 : 1900 + 41, 2100 - 40 : 2100 + 41] += (30000 * np.exp(-(yy**2 + xx**2) / 200.0)).astype(np.uint16)
    frame[rng.integers(0, 4096, 5000), rng.integers(0, 4096, 5000)] = 65535
    dg.brightest_source(frame[:64, :64])  # warm-up (imports, caches)
    times = []
    for _ in range(3):  # best of three: the machine is shared (one run failed at 1.09 s under load)
        t0 = time.perf_counter()
        assert dg.brightest_source(frame) == (1900, 2100)
        times.append(time.perf_counter() - t0)
    assert min(times) < 1.0, f"{min(times):.2f} s on 4096 x 4096 (best of {times})"


def test_brightest_source_bad_input():
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        dg.brightest_source(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="finite"):
        dg.brightest_source(np.full((8, 8), np.nan))


def brute_force_profile(frame, center, max_radius, bin_width, mask=None):
    n_bins = int(np.ceil(max_radius / bin_width))
    sums, counts = np.zeros(n_bins), np.zeros(n_bins)
    for r in range(frame.shape[0]):
        for c in range(frame.shape[1]):
            d = np.hypot(r - center[0], c - center[1])
            if d < max_radius and np.isfinite(frame[r, c]) and (mask is None or not mask[r, c]):
                sums[int(d / bin_width)] += frame[r, c]
                counts[int(d / bin_width)] += 1
    with np.errstate(invalid="ignore"):
        return sums / counts


@PROPERTY
@given(
    st.integers(1, 20),
    st.integers(1, 20),
    st.floats(-3, 23),
    st.floats(-3, 23),
    st.floats(0.5, 15),
    st.sampled_from([1.0, 0.7, 2.5]),
    st.integers(0, 2**32 - 1),
)
def test_radial_profile_matches_brute_force(h, w, cy, cx, max_radius, bin_width, seed):
    rng = np.random.default_rng(seed)
    frame = rng.normal(0, 100, (h, w)).astype(np.float32)
    frame[rng.random((h, w)) < 0.1] = np.nan
    mask = rng.random((h, w)) < 0.1
    radii, profile = dg.radial_profile(frame, (cy, cx), max_radius=max_radius, bin_width=bin_width, mask=mask)
    expected = brute_force_profile(frame, (cy, cx), max_radius, bin_width, mask)
    np.testing.assert_allclose(profile, expected, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(radii, (np.arange(len(expected)) + 0.5) * bin_width)


def test_radial_profile_hand_case_and_default_radius():
    frame = np.zeros((5, 5))
    frame[2, 2] = 9.0
    frame[1, 2] = frame[3, 2] = frame[2, 1] = frame[2, 3] = 4.0
    radii, profile = dg.radial_profile(frame, (2, 2), max_radius=2)
    assert radii.tolist() == [0.5, 1.5]
    # Bin [1, 2) holds the four 4-neighbours (4 DN) and the four diagonals (0 DN, at 1.41).
    assert profile.tolist() == [9.0, 2.0]
    radii, profile = dg.radial_profile(np.ones((7, 9)), (0, 0))
    assert np.nanmax(profile) == 1.0 and radii[-1] >= np.hypot(6, 8) - 1
    with pytest.raises(ValueError, match="positive"):
        dg.radial_profile(frame, (2, 2), bin_width=0)
    with pytest.raises(ValueError, match=r"\(4, 4\).*\(5, 5\)"):
        dg.radial_profile(frame, (2, 2), mask=np.zeros((4, 4), bool))


# ---------------------------------------------------------------------------
# decode_dq, Qt-freedom, a synthetic exposure
# ---------------------------------------------------------------------------


def test_decode_dq():
    assert dg.decode_dq(0) == ["GOOD"]
    assert dg.decode_dq(1 | 2) == ["DO_NOT_USE", "SATURATED"]
    assert dg.decode_dq(np.uint32(2**31 + 2048)) == ["HOT", "REFERENCE_PIXEL"]
    assert dg.decode_dq(2**14) == ["BIT_14"]  # no pixel flag has that bit
    assert dg.decode_dq(4 | 128, kind="group") == ["JUMP_DET", "WFI18_TRANSIENT"]
    with pytest.raises(ValueError, match="kind"):
        dg.decode_dq(1, kind="frame")
    with pytest.raises(ValueError, match="unsigned"):
        dg.decode_dq(-1)


def test_diagnostics_import_no_qt():
    code = (
        "import sys, processing.diagnostics as d; d.decode_dq(1);"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PyQt6', 'PyQt5', 'PySide6', 'pyqtgraph', 'qtpy')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_streaming_from_a_synthetic_exposure_equals_in_memory(tmp_path):
    io = pytest.importorskip("processing.io")
    synth = pytest.importorskip("processing.synth")
    path = synth.write_exposure(tmp_path / "ramp_uncal.asdf", frames=6, size=256, seed=1)
    with io.open_exposure(path) as exposure:
        n, h, w = exposure.shape
        cube = np.stack([exposure.frame(k) for k in range(n)])
        assert cube.dtype == np.uint16
        # A threshold that some pixels of the last frame reach, some fractional, some NaN.
        sat = np.full((h, w), np.percentile(cube[-1], 99.5) + 0.5)
        sat[::17, ::13] = np.nan
        calibrated = cube.astype(np.float32) - cube[0].astype(np.float32)

        summary = dg.ramp_summary(calibrated, exposure, sat)
        np.testing.assert_array_equal(summary.mean_slope, dg.mean_slope(calibrated, cube, sat))
        np.testing.assert_array_equal(summary.mean_slope, tutorial_mean_slope(calibrated, cube, sat, reference_saturation_masks))
        np.testing.assert_array_equal(summary.onset, dg.saturation_onset(cube, sat))
        np.testing.assert_array_equal(summary.saturated_count, dg.saturated_count(cube, sat))
        np.testing.assert_array_equal(dg.mean_slope(exposure, exposure, sat), dg.mean_slope(cube, cube, sat))
        assert_masks_equal(dg.saturation_masks(exposure, sat), reference_saturation_masks(cube, sat))
        for k in (0, n - 1):
            assert_masks_equal(dg.saturation_masks_at(exposure, sat, k), [m[k] for m in dg.saturation_masks(cube, sat)])
        np.testing.assert_array_equal(dg.bias_intercept(exposure), tutorial_bias_intercept(cube))
        np.testing.assert_array_equal(dg.slope_ratio(exposure, summary.mean_slope, 3), dg.slope_ratio(cube, summary.mean_slope, 3))
        assert summary.saturated_count[-1] > 0
