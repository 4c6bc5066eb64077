"""The star's sub-pixel centre and its per-read radial profiles; ``brightstar profile``."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import numpy as np
import pytest
from analysis_helpers import exact_saturated, load_small, tutorial_masks

from processing import synth
from processing.cli import main as cli_main
from processing.diagnostics.centroid import NoSourceError, star_centre
from processing.diagnostics.profile import PROFILE_COLUMNS, find_centre, star_profiles
from processing.figures import load_reference_array
from processing.io import open_exposure


@pytest.fixture(scope="module")
def small(small_set):
    return load_small(small_set)


def moffat(shape, cy, cx, peak=1e6, alpha=2.5, beta=1.5, sky=1000.0, noise=5.0, seed=0):
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    rng = np.random.default_rng(seed)
    return peak * (1 + ((y - cy) ** 2 + (x - cx) ** 2) / alpha**2) ** -beta + sky + rng.normal(0, noise, shape)


@pytest.mark.parametrize("cy,cx", [(100.3, 120.7), (64.5, 64.5), (130.9, 90.1), (128.0, 127.25)])
def test_centre_of_a_saturated_star_is_sub_pixel(cy, cx):
    image = moffat((256, 256), cy, cx)
    saturated = image >= 50000
    assert saturated.sum() > 100
    found = star_centre(np.minimum(image, 50000).astype(np.float32), saturated)
    assert abs(found.row - cy) < 0.02 and abs(found.col - cx) < 0.02
    assert found.inner_radius > math.sqrt(saturated.sum() / math.pi), "the wings start outside the saturated core"


def test_centre_of_an_unsaturated_star():
    image = moffat((200, 200), 77.6, 101.2, peak=2000.0, sky=0.0)
    found = star_centre(image.astype(np.float32))
    assert abs(found.row - 77.6) < 0.05 and abs(found.col - 101.2) < 0.05
    assert found.significance > 50


@pytest.fixture(scope="module")
def off_grid(small_set, tmp_path_factory):
    """A generator exposure of the small set's detector with the star at (120.3, 131.7)."""
    path = tmp_path_factory.mktemp("offgrid") / "star.asdf"
    cfg = small_set["config"]
    synth.write_exposure(path, frames=6, size=cfg["size"], seed=cfg["seed"], star_center=(120.3, 131.7))
    return path


def test_centre_in_a_generator_exposure_is_sub_pixel(off_grid, small_set):
    # Measured on the generator's 256 x 256 exposures: <= 0.025 px.
    sat = load_reference_array(small_set["references"]["saturation"], "data")
    with open_exposure(off_grid) as exp:
        for read in (1, 3, 5):
            found = find_centre(exp, exp, sat, read)
            assert math.hypot(found.row - 120.3, found.col - 131.7) < 0.05, (read, found)


def test_a_dark_has_no_source(small_set, small):
    _, sat, _ = small
    for dark in small_set["darks"]:
        with open_exposure(dark) as exp, pytest.raises(NoSourceError, match="no source"):
            find_centre(exp, exp, sat)


# -- profiles against loops ---------------------------------------------------------------------


def naive_profiles(cube, sat_dn, center, k, max_radius, bin_width, baseline):
    """Every profile of read k by loops over pixels, with the tutorial's slope and masks."""
    n, h, w = cube.shape
    sat, nearby, _, _ = tutorial_masks(exact_saturated(cube, sat_dn))
    cubef = cube.astype(np.float64)
    valid = ~(sat[1:] | nearby[1:])
    diffs = np.diff(cubef, axis=0)
    den = valid.sum(axis=0)
    mean = np.where(den > 0, (diffs * valid).sum(axis=0) / np.maximum(den, 1), np.nan)
    m = math.ceil(max_radius / bin_width)
    sums = {name: np.zeros(m) for name in ("frame", "diff", "ratio", "onset", "sat")}
    counts = {name: np.zeros(m, int) for name in sums}
    for y in range(h):
        for x in range(w):
            d = math.hypot(y - center[0], x - center[1])
            if d >= max_radius:
                continue
            j = int(d / bin_width)
            hits = np.flatnonzero(sat[:, y, x])
            ratio = np.nan
            if k >= 1 and np.isfinite(mean[y, x]) and mean[y, x] != 0:
                ratio = np.float32(np.float32(cubef[k, y, x] - cubef[k - 1, y, x]) / np.float32(mean[y, x]))
            values = {"frame": cubef[k, y, x], "diff": cubef[k, y, x] - cubef[baseline, y, x], "ratio": ratio,
                      "onset": hits[0] if hits.size else np.nan, "sat": float(sat[k, y, x])}
            for name, v in values.items():
                if np.isfinite(v):
                    sums[name][j] += v
                    counts[name][j] += 1
    out = {name: np.where(counts[name] > 0, sums[name] / np.maximum(counts[name], 1), np.nan) for name in sums}
    out["n"] = counts["frame"]
    return out


@pytest.mark.parametrize("k", [0, 1, 4, 7])
def test_profiles_match_loops_over_pixels(small, small_set, k):
    cube, sat_dn, _ = small
    # 70 px reaches past the small set's saturated core (~46 px by read 7) into its unsaturated wings.
    with open_exposure(small_set["illuminated"]) as exp:
        profiles = star_profiles(exp, exp, sat_dn, max_radius=70.0, bin_width=2.5)
    r, c = small_set["star_center"]
    assert math.hypot(profiles.center[0] - r, profiles.center[1] - c) < 0.05
    got = profiles.at(k)
    want = naive_profiles(cube, sat_dn, profiles.center, k, 70.0, 2.5, 1)
    np.testing.assert_array_equal(got.n_pixels, want["n"])
    np.testing.assert_allclose(got.radius_px, (np.arange(28) + 0.5) * 2.5)
    np.testing.assert_allclose(got.frame_dn, want["frame"], rtol=1e-12)
    np.testing.assert_allclose(got.difference_dn, want["diff"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got.slope_ratio, want["ratio"], rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(got.onset_read, want["onset"], rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(got.saturated_fraction, want["sat"], rtol=1e-6)
    assert got.saturated_fraction[0] == 1.0 and got.saturated_fraction[-1] < 1.0, "the core saturates, not all the rings"


def test_profile_reads_only_the_box_about_the_star(small, small_set):
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
    profiles = star_profiles(src, src, sat_dn, center=(119.0, 119.0), max_radius=20.0)
    assert src.cutouts == [(99, 140, 99, 140)] and profiles.box == (99, 140, 99, 140)


def test_profile_errors_name_the_problem(small):
    cube, sat_dn, _ = small
    with pytest.raises(ValueError, match="baseline read 9"):
        star_profiles(cube, cube, sat_dn, center=(100, 100), baseline=9)
    profiles = star_profiles(cube, cube, sat_dn, center=(100, 100), max_radius=10)
    with pytest.raises(ValueError, match="read 8 is out of range"):
        profiles.at(8)


# -- the command -------------------------------------------------------------------------------


def test_profile_command_csv_is_the_profile(small_set, small, tmp_path):
    cube, sat_dn, _ = small
    out = tmp_path / "p.csv"
    assert cli_main(["profile", str(small_set["illuminated"]), "--frame", "5", "--center", "119.5,118.25",
                     "--max-radius", "30", "--csv", str(out), "--quiet"]) == 0
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(PROFILE_COLUMNS)
    table = np.array([[float(v) for v in r] for r in rows[1:]])
    want = naive_profiles(cube, sat_dn, (119.5, 118.25), 5, 30.0, 1.0, 1)
    np.testing.assert_array_equal(table[:, 1], want["n"])
    np.testing.assert_allclose(table[:, 2], want["frame"], rtol=1e-9)
    np.testing.assert_allclose(table[:, 4], want["ratio"], rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(table[:, 5], want["onset"], rtol=1e-6, equal_nan=True)


def test_profile_command_on_a_dark_says_there_is_no_source(small_set):
    proc = subprocess.run([sys.executable, "-m", "processing.cli", "profile", str(small_set["darks"][0]),
                           "--frame", "3", "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "no source" in proc.stderr and "--center" in proc.stderr and "Traceback" not in proc.stderr


def test_profile_command_checks_frame_and_center(small_set, capsys):
    assert cli_main(["profile", str(small_set["illuminated"]), "--frame", "8", "--quiet"]) == 2
    assert "--frame 8 is out of range" in capsys.readouterr().err
    assert cli_main(["profile", str(small_set["illuminated"]), "--frame", "2", "--center", "300,1", "--quiet"]) == 2
    assert "outside the 256 x 256 frame" in capsys.readouterr().err
