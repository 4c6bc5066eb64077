"""Saturation growth and the onset map, against the tutorial's convolve2d masks; their CLI commands."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import asdf
import numpy as np
import pytest
from analysis_helpers import exact_saturated, load_small, tutorial_masks, write_ramp_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processing.cli import main as cli_main
from processing.diagnostics.frames import BoxFrames
from processing.diagnostics.growth import GROWTH_COLUMNS, saturation_growth, saturation_growth_job
from processing.diagnostics.onset import onset_map, read_onset_map, write_onset_map
from processing.diagnostics.saturated import GROUPDQ_SATURATED, FlaggedFrames, saturation_input
from processing.io import open_exposure
from processing.progress import CancelToken, Cancelled, run


@pytest.fixture(scope="module")
def small(small_set):
    return load_small(small_set)


@pytest.fixture(scope="module")
def ramp_model(small_set, tmp_path_factory):
    path = tmp_path_factory.mktemp("ramp") / "illum_cal.asdf"
    return write_ramp_model(path, small_set["illuminated"], small_set["references"]["saturation"])


def expected_counts(sat_cube):
    sat, nearby, new, diag = tutorial_masks(sat_cube)
    return [m.sum(axis=(1, 2)) for m in (sat, new, nearby, diag)]


# -- the computation ------------------------------------------------------------------------


def test_growth_of_the_small_set_matches_the_tutorial_masks(small):
    cube, sat_dn, times = small
    sat = exact_saturated(cube, sat_dn)
    assert sat[-1].sum() > 100, "the generator's star saturates"
    growth = saturation_growth(cube, sat_dn, read_times=times)
    for name, expected in zip(("saturated", "new", "nearby", "diagonal"), expected_counts(sat)):
        np.testing.assert_array_equal(getattr(growth, name), expected, err_msg=name)
    np.testing.assert_array_equal(growth.read, np.arange(cube.shape[0]))
    np.testing.assert_allclose(growth.equivalent_radius_px, [math.sqrt(n / math.pi) for n in growth.saturated])
    np.testing.assert_array_equal(growth.time_s, times)
    assert np.all(np.diff(growth.saturated) >= 0), "a bright star's saturated area only grows"
    assert growth.region is None


def test_growth_of_a_region_is_the_tutorial_on_the_cutout(small, small_set):
    cube, sat_dn, _ = small
    r, c = small_set["star_center"]
    box = (r - 20, r + 13, c - 7, c + 30)  # off-centre, so the star's core crosses the edge
    with open_exposure(small_set["illuminated"]) as exp:
        growth = saturation_growth(exp, sat_dn, region=box)
    y0, y1, x0, x1 = box
    sat = exact_saturated(cube[:, y0:y1, x0:x1], sat_dn[y0:y1, x0:x1])
    for name, expected in zip(("saturated", "new", "nearby", "diagonal"), expected_counts(sat)):
        np.testing.assert_array_equal(getattr(growth, name), expected, err_msg=name)
    assert growth.region == box
    assert np.all(np.isnan(growth.time_s))


class _CountingExposure:
    """An exposure that records which reads were fetched whole and which boxes were cut out."""

    def __init__(self, cube):
        self.cube, self.shape, self.dtype = cube, cube.shape, cube.dtype
        self.frames_read, self.cutouts = [], []

    def frame(self, k):
        self.frames_read.append(k)
        return self.cube[k]

    def cutout(self, y0, y1, x0, x1):
        self.cutouts.append((y0, y1, x0, x1))
        return self.cube[:, y0:y1, x0:x1].copy()


def test_a_region_reads_only_its_box(small):
    cube, sat_dn, _ = small
    src = _CountingExposure(cube)
    saturation_growth(src, sat_dn, region=(10, 50, 20, 90))
    assert src.frames_read == [] and src.cutouts == [(10, 50, 20, 90)]


@pytest.mark.parametrize("box", [(0, 0, 0, 10), (-1, 5, 0, 5), (0, 5, 250, 257), (10, 5, 0, 5), (1, 2, 3)])
def test_a_bad_region_is_refused_naming_it(small, box):
    cube, sat_dn, _ = small
    with pytest.raises(ValueError, match="region"):
        saturation_growth(cube, sat_dn, region=box)


@st.composite
def ramps(draw):
    n, h, w = draw(st.integers(1, 4)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    frames = np.cumsum(rng.integers(0, 4, (n, h, w)), axis=0).astype(np.uint16)
    sat = rng.integers(1, 8, (h, w)).astype(np.float64) + rng.choice([0.0, 0.5], (h, w))
    sat[rng.random((h, w)) < 0.1] = np.nan
    return frames, sat


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ramps())
def test_growth_matches_the_tutorial_on_random_ramps(case):
    frames, sat_dn = case
    growth = saturation_growth(frames, sat_dn)
    for name, expected in zip(("saturated", "new", "nearby", "diagonal"), expected_counts(exact_saturated(frames, sat_dn))):
        np.testing.assert_array_equal(getattr(growth, name), expected, err_msg=name)


def test_growth_reports_progress_per_read_and_cancels(small):
    cube, sat_dn, _ = small
    reports = []
    saturation_growth(cube, sat_dn, on_progress=reports.append)
    assert [r.fraction for r in reports] == pytest.approx([(k + 1) / cube.shape[0] for k in range(cube.shape[0])])
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run(saturation_growth_job(cube, sat_dn), cancel=token)


def test_read_times_of_the_wrong_length_are_refused(small):
    cube, sat_dn, _ = small
    with pytest.raises(ValueError, match="read_times"):
        saturation_growth(cube, sat_dn, read_times=[0.0, 1.0])


# -- calibrated ramps: groupdq ------------------------------------------------------------------


def test_groupdq_saturated_is_romancals_flag_value():
    from roman_datamodels.dqflags import group

    assert GROUPDQ_SATURATED == int(group.SATURATED)


def test_calibrated_growth_counts_romancals_saturated_flag_only(ramp_model):
    path, groupdq = ramp_model
    assert (groupdq[:, 5, 7] & 1).all() and not (groupdq[:, 5, 7] & 2).any()
    with open_exposure(path) as exp:
        frames, thresholds = saturation_input(exp)
        assert isinstance(frames, FlaggedFrames)
        growth = saturation_growth(frames, thresholds)
        box = (100, 160, 90, 170)
        part = saturation_growth(frames, thresholds, region=box)
    flagged = (groupdq & 2) != 0
    assert flagged.sum() > 0
    for name, expected in zip(("saturated", "new", "nearby", "diagonal"), expected_counts(flagged)):
        np.testing.assert_array_equal(getattr(growth, name), expected, err_msg=name)
    y0, y1, x0, x1 = box
    np.testing.assert_array_equal(part.nearby, expected_counts(flagged[:, y0:y1, x0:x1])[2])


def test_a_raw_exposure_without_thresholds_is_refused(small_set):
    with open_exposure(small_set["illuminated"]) as exp, pytest.raises(ValueError, match="saturation thresholds"):
        saturation_input(exp)


# -- onset map ---------------------------------------------------------------------------------------


def naive_onset(sat_cube):
    n, h, w = sat_cube.shape
    out = np.full((h, w), np.nan, dtype=np.float32)
    for y in range(h):
        for x in range(w):
            hits = [k for k in range(n) if sat_cube[k, y, x]]
            if hits:
                out[y, x] = hits[0]
    return out


def test_onset_map_is_the_first_saturated_read(small, small_set):
    cube, sat_dn, times = small
    result = onset_map(cube, sat_dn, read_times=times)
    expected = naive_onset(exact_saturated(cube, sat_dn))
    assert result.onset.dtype == np.float32
    np.testing.assert_array_equal(result.onset, expected)  # NaN where never, equal positions
    assert np.isnan(result.onset).any() and (result.onset == 0).any() and (result.onset > 0).any()
    seconds = result.onset_seconds()
    k = int(np.nanmax(result.onset))
    assert np.all(seconds[result.onset == k] == times[k])
    with open_exposure(small_set["illuminated"]) as exp:
        part = onset_map(exp, sat_dn, region=(100, 140, 110, 170))
    np.testing.assert_array_equal(part.onset, expected[100:140, 110:170])


def test_onset_file_round_trips_with_checksums(small, tmp_path):
    cube, sat_dn, times = small
    result = onset_map(cube, sat_dn, read_times=times)
    path = write_onset_map(tmp_path / "onset.asdf", result, {"source": "x"})
    assert [p.name for p in tmp_path.iterdir()] == ["onset.asdf"], "no temporary file left behind"
    back = read_onset_map(path)
    np.testing.assert_array_equal(back.onset, result.onset)
    np.testing.assert_array_equal(back.read_times, times)
    with asdf.open(path) as af:
        checksums = [b.header["checksum"] for b in af._blocks.blocks]
    assert all(any(c) for c in checksums), "every block has a real MD5 checksum"


def test_an_interrupted_onset_write_leaves_no_file(small, tmp_path, monkeypatch):
    cube, sat_dn, _ = small
    result = onset_map(cube, sat_dn)

    def boom(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(asdf.AsdfFile, "write_to", boom)
    with pytest.raises(OSError, match="disk full"):
        write_onset_map(tmp_path / "onset.asdf", result)
    assert list(tmp_path.iterdir()) == []


# -- the commands -----------------------------------------------------------------------------------


def read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def test_saturation_command_writes_the_documented_csv(small, small_set, tmp_path, capsys):
    cube, sat_dn, times = small
    out = tmp_path / "growth.csv"
    assert cli_main(["saturation", str(small_set["illuminated"]), "--csv", str(out), "--quiet"]) == 0
    header, rows = read_csv(out)
    assert header == list(GROWTH_COLUMNS) == "read,time_s,saturated,new,nearby,diagonal,equivalent_radius_px".split(",")
    sat, new, nearby, diag = expected_counts(exact_saturated(cube, sat_dn))
    assert [int(r[0]) for r in rows] == list(range(cube.shape[0]))
    np.testing.assert_allclose([float(r[1]) for r in rows], times)
    assert [int(r[2]) for r in rows] == list(sat)
    assert [int(r[3]) for r in rows] == list(new)
    assert [int(r[4]) for r in rows] == list(nearby)
    assert [int(r[5]) for r in rows] == list(diag)
    np.testing.assert_allclose([float(r[6]) for r in rows], np.sqrt(sat / np.pi), rtol=1e-9)


def test_saturation_command_region_and_calibrated_input(ramp_model, small_set, tmp_path):
    path, groupdq = ramp_model
    out = tmp_path / "g.csv"
    assert cli_main(["saturation", str(path), "--region", "100,160,90,170", "--csv", str(out), "--quiet"]) == 0
    _, rows = read_csv(out)
    flagged = (groupdq[:, 100:160, 90:170] & 2) != 0
    assert [int(r[2]) for r in rows] == list(flagged.sum(axis=(1, 2)))
    assert float(rows[1][1]) == pytest.approx(3.04)


def test_saturation_command_prints_a_table_without_csv(small_set, capsys):
    assert cli_main(["saturation", str(small_set["illuminated"]), "--region", "0,10,0,10", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == list(GROWTH_COLUMNS)
    assert len(lines) == 1 + small_set["config"]["frames"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "processing.cli", *args], capture_output=True, text=True)


def test_saturation_command_bad_region_is_one_clear_line(small_set, tmp_path):
    out = tmp_path / "g.csv"
    proc = _cli("saturation", str(small_set["illuminated"]), "--region", "0,300,0,10", "--csv", str(out), "--quiet")
    assert proc.returncode == 2
    assert "--region rows 0:300" in proc.stderr and "256 x 256" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
    proc = _cli("saturation", str(small_set["illuminated"]), "--region", "0,3", "--quiet")
    assert proc.returncode == 2 and "Y0,Y1,X0,X1" in proc.stderr


def test_saturation_command_without_references_says_so(small_set, tmp_path):
    lone = tmp_path / "lone.asdf"
    lone.write_bytes(small_set["illuminated"].read_bytes())
    proc = _cli("saturation", str(lone), "--quiet")
    assert proc.returncode == 2
    assert "no saturation reference" in proc.stderr and "--references" in proc.stderr
    only_saturation = tmp_path / "refs"
    only_saturation.mkdir()
    sat = small_set["references"]["saturation"]
    (only_saturation / sat.name).write_bytes(sat.read_bytes())
    proc = _cli("saturation", str(lone), "--references", str(only_saturation), "--quiet")
    assert proc.returncode == 0, proc.stderr  # the saturation reference is all it needs


def test_onset_command_writes_the_map_and_times(small, small_set, ramp_model, tmp_path):
    cube, sat_dn, times = small
    out = tmp_path / "o" / "onset.asdf"
    assert cli_main(["onset", str(small_set["illuminated"]), "--out", str(out), "--quiet"]) == 0
    with asdf.open(out, validate_checksums=True) as af:
        onset = np.array(af["onset"])
        assert onset.dtype == np.float32 and onset.shape == cube.shape[1:]
        np.testing.assert_array_equal(onset, naive_onset(exact_saturated(cube, sat_dn)))
        np.testing.assert_array_equal(af["read_times"], times)
    path, groupdq = ramp_model
    assert cli_main(["onset", str(path), "--calibrated", "--out", str(out), "--quiet"]) == 0
    np.testing.assert_array_equal(read_onset_map(out).onset, naive_onset((groupdq & 2) != 0))


def test_box_frames_slices_without_cutout_for_plain_sources(small):
    cube, _, _ = small

    class Plain:
        shape, dtype = cube.shape, cube.dtype

        def frame(self, k):
            return cube[k]

    box = BoxFrames(Plain(), (3, 9, 4, 20))
    np.testing.assert_array_equal(box.frame(2), cube[2, 3:9, 4:20])
    assert box.shape == (cube.shape[0], 6, 16)


@pytest.mark.slow
def test_saturation_command_calibrates_a_raw_exposure_first(tmp_path_factory, tmp_path):
    from test_calibrate import full_size_exposure, full_size_refs

    from processing.calibrate import calibrate_job

    refs, raw = full_size_refs(tmp_path_factory), full_size_exposure(tmp_path_factory, 3)
    out = tmp_path / "cal.csv"
    assert cli_main(["saturation", str(raw), "--calibrated", "--references", str(refs), "--csv", str(out), "--quiet"]) == 0
    calibrated = run(calibrate_job(raw, refs=refs))  # the cached result the command used
    assert calibrated.from_cache
    with open_exposure(calibrated.path) as exp:
        flagged = np.stack([(np.asarray(exp.arrays["groupdq"].frame(k)) & 2) != 0 for k in range(exp.shape[0])])
    _, rows = read_csv(out)
    sat, new, nearby, diag = expected_counts(flagged)
    assert [int(r[2]) for r in rows] == list(sat) and [int(r[4]) for r in rows] == list(nearby)
    assert sat[-1] > 0


def test_growth_inside_a_circle_counts_only_its_pixels(small, small_set):
    from processing.diagnostics.regionstats import circle

    cube, sat_dn, _ = small
    r, c = small_set["star_center"]
    shape = circle(r + 3.2, c - 4.1, 30.5)
    growth = saturation_growth(cube, sat_dn, region=shape)
    box = growth.region
    y0, y1, x0, x1 = box
    yy, xx = np.mgrid[y0:y1, x0:x1]
    inside = np.hypot(yy - (r + 3.2), xx - (c - 4.1)) < 30.5
    masks = tutorial_masks(exact_saturated(cube[:, y0:y1, x0:x1], sat_dn[y0:y1, x0:x1]))
    expected = [(m & inside).sum(axis=(1, 2)) for m in (masks[0], masks[2], masks[1], masks[3])]
    for name, want in zip(("saturated", "new", "nearby", "diagonal"), expected):
        np.testing.assert_array_equal(getattr(growth, name), want, err_msg=name)
    assert 0 < growth.saturated[-1] < exact_saturated(cube, sat_dn)[-1].sum()


@pytest.mark.parametrize("read", [0, 3, 7])
def test_onset_contours_enclose_exactly_the_pixels_saturated_by_the_read(small, read):
    from matplotlib.path import Path as MplPath

    from processing.diagnostics.onset import onset_contours

    cube, sat_dn, _ = small
    onset = onset_map(cube, sat_dn).onset
    onset[3:6, 0:4] = 0  # an area touching the frame edge must be closed too
    onset[200, 200] = 1  # an isolated pixel
    lines = onset_contours(onset, read)
    assert lines and all(np.array_equal(line[0], line[-1]) for line in lines)
    yy, xx = np.mgrid[0 : onset.shape[0], 0 : onset.shape[1]]
    centres = np.column_stack([yy.ravel(), xx.ravel()])
    crossings = sum(MplPath(line).contains_points(centres).astype(int) for line in lines)
    with np.errstate(invalid="ignore"):
        expected = (onset <= read).ravel()
    np.testing.assert_array_equal(crossings % 2 == 1, expected)


def test_onset_contours_of_nothing_saturated_are_empty():
    from processing.diagnostics.onset import onset_contours

    assert onset_contours(np.full((5, 5), np.nan, np.float32), 3) == []


def test_calibrated_on_a_raw_exposure_that_cannot_be_calibrated_says_why(small_set, capsys):
    assert cli_main(["saturation", str(small_set["illuminated"]), "--calibrated", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(small_set["illuminated"]) in err and "refpix needs 4096" in err


def test_growth_and_onset_in_one_pass_equal_the_two_passes(small, small_set):
    from processing.diagnostics.growth import saturation_analysis_job
    from processing.diagnostics.regionstats import annulus

    cube, sat_dn, times = small
    for region in (None, (90, 150, 100, 170), annulus(119.0, 119.0, 10.5, 40.2)):
        src = _CountingExposure(cube)
        growth, onset = run(saturation_analysis_job(src, sat_dn, region=region, read_times=times))
        assert len(src.frames_read) + len(src.cutouts) * cube.shape[0] == cube.shape[0], "one pass"
        alone = saturation_growth(cube, sat_dn, region=region, read_times=times)
        for name in GROWTH_COLUMNS:
            np.testing.assert_array_equal(getattr(growth, name), getattr(alone, name), err_msg=name)
        y0, y1, x0, x1 = growth.region or (0, cube.shape[1], 0, cube.shape[2])
        expected = naive_onset(exact_saturated(cube[:, y0:y1, x0:x1], sat_dn[y0:y1, x0:x1]))
        np.testing.assert_array_equal(onset.onset, expected)
        assert onset.region == growth.region


def test_a_box_too_big_for_one_cutout_is_read_one_read_at_a_time(small, monkeypatch):
    from processing.diagnostics import frames as frames_module

    cube, sat_dn, _ = small

    class RegionReads(_CountingExposure):
        regions = []

        def frame_region(self, k, y0, y1, x0, x1):
            self.regions.append((k, y0, y1, x0, x1))
            return self.cube[k, y0:y1, x0:x1]

    monkeypatch.setattr(frames_module, "BOX_CUTOUT_BUDGET", 0)
    src = RegionReads(cube)
    growth = saturation_growth(src, sat_dn, region=(90, 150, 100, 170))
    assert src.cutouts == [] and src.frames_read == []
    assert src.regions == [(k, 90, 150, 100, 170) for k in range(cube.shape[0])]
    np.testing.assert_array_equal(growth.saturated, saturation_growth(cube, sat_dn, region=(90, 150, 100, 170)).saturated)
    flagged = FlaggedFrames(np.full(cube.shape, 3, np.uint8))
    np.testing.assert_array_equal(flagged.frame_region(2, 5, 9, 1, 4), np.ones((4, 3), np.uint8))
