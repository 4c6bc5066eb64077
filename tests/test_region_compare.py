"""Region statistics (rectangle, circle, annulus; DS9 files) and the comparison of two exposures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from analysis_helpers import exact_saturated, load_small, write_ramp_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processing.diagnostics.compare import DifferenceFrames, PairingError, check_pair
from processing.diagnostics.regionstats import (
    PIXELDQ_DO_NOT_USE,
    annulus,
    circle,
    read_ds9,
    rectangle,
    region_stats,
    write_ds9,
)
from processing.diagnostics.saturated import saturation_input
from processing.io import open_exposure


@pytest.fixture(scope="module")
def small(small_set):
    return load_small(small_set)


def naive_inside(kind, params, shape):
    h, w = shape
    out = np.zeros(shape, bool)
    for y in range(h):
        for x in range(w):
            if kind == "rect":
                y0, y1, x0, x1 = params
                out[y, x] = y0 <= y < y1 and x0 <= x < x1
            else:
                d = math.hypot(y - params[0], x - params[1])
                out[y, x] = d < params[2] if kind == "circle" else params[2] <= d < params[3]
    return out


def naive_stats(cube, inside, saturated=None, bad=None):
    rows = []
    for k in range(cube.shape[0]):
        vals = []
        n_sat = 0
        for y, x in zip(*np.nonzero(inside)):
            if saturated is not None and saturated[k, y, x]:
                n_sat += 1
                continue
            if bad is not None and bad[y, x]:
                continue
            v = float(cube[k, y, x])
            if math.isfinite(v):
                vals.append(v)
        v = np.array(vals)
        rows.append((v.mean(), np.median(v), v.std(), v.min(), v.max(), len(vals), n_sat) if len(vals)
                    else (np.nan,) * 5 + (0, n_sat))
    return np.array(rows, dtype=float)


def as_table(stats):
    return np.column_stack([stats.mean, stats.median, stats.std, stats.min, stats.max, stats.n_good, stats.n_saturated])


SHAPES = {
    "rect": lambda: rectangle(100, 140, 95, 160),
    "circle": lambda: circle(119.3, 118.6, 17.7),
    "annulus": lambda: annulus(119.3, 118.6, 20.4, 31.2),
}
PARAMS = {"rect": (100, 140, 95, 160), "circle": (119.3, 118.6, 17.7), "annulus": (119.3, 118.6, 20.4, 31.2)}


@pytest.mark.parametrize("kind", list(SHAPES))
def test_region_statistics_match_loops(small, small_set, kind):
    cube, sat_dn, _ = small
    pixeldq = np.zeros(cube.shape[1:], np.uint32)
    pixeldq[110:113, 100:140] = PIXELDQ_DO_NOT_USE | 4
    pixeldq[125, 120] = 4  # another flag: still good
    with open_exposure(small_set["illuminated"]) as exp:
        stats = region_stats(exp, SHAPES[kind](), sat_dn=sat_dn, pixeldq=pixeldq)
    inside = naive_inside(kind, PARAMS[kind], cube.shape[1:])
    saturated = exact_saturated(cube, sat_dn)
    want = naive_stats(cube, inside, saturated, (pixeldq & 1) != 0)
    np.testing.assert_allclose(as_table(stats), want, rtol=1e-12, equal_nan=True)
    assert stats.n_pixels == inside.sum()
    assert (stats.n_saturated > 0).any(), "the star saturates inside the region"
    np.testing.assert_array_equal(stats.read, np.arange(cube.shape[0]))


def test_without_thresholds_nothing_counts_as_saturated(small):
    cube, _, _ = small
    stats = region_stats(cube, rectangle(10, 30, 40, 45))
    np.testing.assert_allclose(as_table(stats), naive_stats(cube, naive_inside("rect", (10, 30, 40, 45), cube.shape[1:])))


def test_a_region_reads_only_its_bounding_box(small):
    cube, sat_dn, _ = small

    class Counting:
        shape, dtype = cube.shape, cube.dtype
        cutouts: list = []

        def frame(self, k):
            raise AssertionError("a whole frame was read")

        def cutout(self, *box):
            self.cutouts.append(box)
            return cube[:, box[0] : box[1], box[2] : box[3]]

    src = Counting()
    stats = region_stats(src, circle(50.0, 60.0, 10.5), sat_dn=sat_dn)
    assert src.cutouts == [(40, 61, 50, 71)] == [stats.box]


def test_calibrated_statistics_use_groupdq(small_set, tmp_path):
    path, groupdq = write_ramp_model(tmp_path / "cal.asdf", small_set["illuminated"], small_set["references"]["saturation"])
    with open_exposure(path) as exp:
        frames, thresholds = saturation_input(exp)
        stats = region_stats(exp, circle(119.0, 119.0, 30.5), sat_frames=frames, sat_dn=thresholds)
        cube = exp.cutout(0, 256, 0, 256)
    inside = naive_inside("circle", (119.0, 119.0, 30.5), cube.shape[1:])
    want = naive_stats(cube, inside, (groupdq & 2) != 0)
    np.testing.assert_allclose(as_table(stats), want, rtol=1e-6, equal_nan=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.sampled_from(["rect", "circle", "annulus"]))
def test_random_regions_on_random_float_cubes(seed, kind):
    rng = np.random.default_rng(seed)
    n, h, w = 3, int(rng.integers(5, 20)), int(rng.integers(5, 20))
    cube = rng.normal(100, 10, (n, h, w)).astype(np.float32)
    cube[rng.random(cube.shape) < 0.1] = np.nan
    sat_dn = rng.uniform(95, 130, (h, w))
    if kind == "rect":
        y0, x0 = int(rng.integers(0, h - 1)), int(rng.integers(0, w - 1))
        params = (y0, int(rng.integers(y0 + 1, h + 1)), x0, int(rng.integers(x0 + 1, w + 1)))
        region = rectangle(*params)
    else:
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r1 = rng.uniform(1.3, 6.0)
        params = (cy, cx, r1) if kind == "circle" else (cy, cx, r1, r1 + rng.uniform(1.1, 4.0))
        region = circle(*params) if kind == "circle" else annulus(*params)
    inside = naive_inside(kind, params, (h, w))
    if not inside.any():
        with pytest.raises(ValueError, match="no pixel"):
            region_stats(cube, region, sat_dn=sat_dn)
        return
    stats = region_stats(cube, region, sat_dn=sat_dn)
    want = naive_stats(cube, inside, exact_saturated(cube, sat_dn))
    np.testing.assert_allclose(as_table(stats), want, rtol=1e-6, atol=1e-9, equal_nan=True)


def test_a_region_outside_the_frame_is_refused(small):
    cube, _, _ = small
    with pytest.raises(ValueError, match="no pixel inside the 256 x 256 frame"):
        region_stats(cube, circle(-50.0, 10.0, 5.0))


def test_pixeldq_flag_value_is_romancals():
    from roman_datamodels.dqflags import pixel

    assert PIXELDQ_DO_NOT_USE == int(pixel.DO_NOT_USE)


# -- DS9 files ------------------------------------------------------------------------------------


def test_ds9_files_round_trip(small, tmp_path):
    cube, sat_dn, _ = small
    shapes = [SHAPES[k]() for k in SHAPES]
    path = write_ds9(tmp_path / "r.reg", shapes)
    assert [p.name for p in tmp_path.iterdir()] == ["r.reg"]
    back = read_ds9(path)
    assert len(back) == 3
    for a, b in zip(shapes, back):
        np.testing.assert_array_equal(as_table(region_stats(cube, a, sat_dn=sat_dn)),
                                      as_table(region_stats(cube, b, sat_dn=sat_dn)))


def test_a_ds9_file_uses_ds9s_one_based_image_coordinates(small, tmp_path):
    cube, _, _ = small
    path = tmp_path / "hand.reg"
    path.write_text('# Region file format: DS9 version 4.1\nimage\ncircle(120,130,10.5)\n')
    (region,) = read_ds9(path)
    inside = naive_inside("circle", (129.0, 119.0, 10.5), cube.shape[1:])  # DS9 (x=120, y=130) is (row 129, col 119)
    np.testing.assert_allclose(as_table(region_stats(cube, region)), naive_stats(cube, inside))


def test_a_bad_ds9_file_names_itself(tmp_path):
    path = tmp_path / "bad.reg"
    path.write_text("image\ncircle(1,2\n")
    with pytest.raises(ValueError, match="bad.reg"):
        read_ds9(path)
    sky = tmp_path / "sky.reg"
    sky.write_text("fk5\ncircle(10.0,20.0,0.01)\n")
    with pytest.raises(ValueError, match="sky-coordinate"):
        read_ds9(sky)


# -- comparing two exposures ---------------------------------------------------------------------------


def test_difference_of_two_exposures_is_read_by_read(small_set):
    with open_exposure(small_set["illuminated"]) as a, open_exposure(small_set["darks"][0]) as b:
        diff = DifferenceFrames(a, b)
        assert diff.shape == a.shape and diff.dtype == np.float32
        for k in (0, 3, a.shape[0] - 1):
            expected = a.frame(k).astype(np.float64) - b.frame(k).astype(np.float64)
            np.testing.assert_array_equal(diff.frame(k), expected)
            assert (diff.frame(k) < 0).any(), "no uint16 wrap-around"
        np.testing.assert_array_equal(diff.cutout(10, 20, 30, 50)[2], diff.frame(2)[10:20, 30:50])
        stats = region_stats(diff, rectangle(10, 20, 30, 50))
        assert stats.mean[2] == pytest.approx(float(diff.frame(2)[10:20, 30:50].mean()))


class _Meta:
    def __init__(self, cube, uri, detector):
        self.cube, self.shape, self.dtype, self.uri, self.detector = cube, cube.shape, cube.dtype, uri, detector

    def frame(self, k):
        return self.cube[k]

    def get_meta(self, dotted):
        return self.detector if dotted == "instrument.detector" else None


def test_mismatched_pairs_are_refused_naming_both():
    a = _Meta(np.zeros((4, 8, 8), np.uint16), "a.asdf", "WFI11")
    with pytest.raises(PairingError, match=r"a\.asdf \(8 x 8 frames\) with b\.asdf \(8 x 9 frames\)"):
        check_pair(a, _Meta(np.zeros((4, 8, 9), np.uint16), "b.asdf", "WFI11"))
    with pytest.raises(PairingError, match=r"\(4 reads\) with b\.asdf \(5 reads\)"):
        DifferenceFrames(a, _Meta(np.zeros((5, 8, 8), np.uint16), "b.asdf", "WFI11"))
    with pytest.raises(PairingError, match="detector WFI11.*detector WFI02"):
        DifferenceFrames(a, _Meta(np.zeros((4, 8, 8), np.uint16), "b.asdf", "WFI02"))
    check_pair(a, _Meta(np.ones((4, 8, 8), np.float32), "b.asdf", None))  # unknown detector: allowed


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300), st.sampled_from(["uint16", "uint8", "float32", "float64", "int32"]), st.integers(0, 2**32 - 1))
def test_the_fast_statistics_are_numpys(n, dtype, seed):
    from processing.diagnostics.regionstats import _statistics

    rng = np.random.default_rng(seed)
    values = rng.normal(100, 40, n).clip(0, 250).astype(dtype)
    v = values.astype(np.float64)
    mean, median, std, lo, hi = _statistics(values)
    assert median == float(np.median(v)) and lo == v.min() and hi == v.max()
    assert mean == pytest.approx(v.mean(), rel=1e-13) and std == pytest.approx(v.std(), rel=1e-9, abs=1e-12)


def test_a_mask_region_such_as_a_footprint(small):
    from processing.diagnostics.onset import onset_map

    cube, sat_dn, _ = small
    footprint = np.isfinite(onset_map(cube, sat_dn).onset)
    stats = region_stats(cube, footprint)
    assert stats.n_pixels == footprint.sum()
    np.testing.assert_allclose(as_table(stats), naive_stats(cube, footprint))
    with pytest.raises(ValueError, match="no pixel"):
        region_stats(cube, np.zeros(cube.shape[1:], bool))
    with pytest.raises(ValueError, match=r"\(256, 256\) bool array"):
        region_stats(cube, np.ones((4, 4), bool))


@pytest.mark.parametrize("which", ["stats", "profile", "onset", "analysis"])
def test_every_analysis_job_reports_progress_to_one_and_cancels(small, which):
    from processing.diagnostics.growth import saturation_analysis_job
    from processing.diagnostics.onset import onset_map_job
    from processing.diagnostics.profile import star_profiles_job
    from processing.diagnostics.regionstats import region_stats_job
    from processing.progress import CancelToken, Cancelled, run

    cube, sat_dn, _ = small
    make = {
        "stats": lambda: region_stats_job(cube, circle(119.0, 119.0, 20.5), sat_dn=sat_dn),
        "profile": lambda: star_profiles_job(cube, cube, sat_dn, max_radius=30.0),
        "onset": lambda: onset_map_job(cube, sat_dn),
        "analysis": lambda: saturation_analysis_job(cube, sat_dn),
    }[which]
    reports = []
    run(make(), on_progress=reports.append)
    assert reports[-1].fraction == 1.0 and all(0 <= r.fraction <= 1 for r in reports)
    token = CancelToken()
    seen = []

    def cancel_after_two(report):
        seen.append(report)
        if len(seen) == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        run(make(), on_progress=cancel_after_two, cancel=token)
    assert len(seen) == 2
