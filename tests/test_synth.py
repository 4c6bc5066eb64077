"""processing.synth: the synthetic set is laid out like the tutorial's, looks
physically like TVAC data, and romancal's own steps accept it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import roman_datamodels as rdm
from roman_datamodels.dqflags import group as gflags
from roman_datamodels.dqflags import pixel as pflags

from processing import io, synth


def _cube(path):
    with io.open_exposure(path) as exp:
        return np.array(exp.cutout(0, exp.shape[1], 0, exp.shape[2]))


@pytest.fixture(scope="module")
def cubes(small_set):
    return {
        "illum": _cube(small_set["illuminated"]),
        "dark": _cube(small_set["darks"][0]),
    }


@pytest.fixture(scope="module")
def refs(small_set):
    out = {}
    with rdm.open(small_set["references"]["saturation"]) as m:
        out["sat"] = np.array(m.data)
        out["sat_dq"] = np.array(m.dq)
    with rdm.open(small_set["references"]["mask"]) as m:
        out["mask"] = np.array(m.dq)
    with rdm.open(small_set["references"]["linearity"]) as m:
        out["lin"] = np.array(m.coeffs)
    with rdm.open(small_set["references"]["inverselinearity"]) as m:
        out["ilin"] = np.array(m.coeffs)
    return out


def test_layout_matches_the_tutorial(small_set):
    root = small_set["root"]
    illum = small_set["illuminated"]
    assert illum.relative_to(root).parts[:2] == ("OTP00651_BrightStar_TV2b_R1_MCEB", "Activity_22")
    assert illum.name == "TVAC2_TOHOTQUAL_WFISAT_20240506204523_WFI11_uncal.asdf"
    assert [d.name for d in small_set["darks"]] == [
        "TVAC2_TOHOTQUAL_WFISAT_20240506225304_WFI11_uncal.asdf",
        "TVAC2_TOHOTQUAL_WFISAT_20240506225611_WFI11_uncal.asdf",
        "TVAC2_TOHOTQUAL_WFISAT_20240506225917_WFI11_uncal.asdf",
    ]
    assert all(d.parent.name == "Activity_40" for d in small_set["darks"])
    assert set(small_set["references"]) == set(synth.REFERENCE_TYPES)
    assert synth.read_manifest(root)["star_center"] == list(small_set["star_center"])


def test_meta_a_scientist_expects(small_set):
    with rdm.open(small_set["illuminated"]) as m:
        assert type(m).__name__ == "TvacModel"
        assert m.meta.instrument.detector == "WFI11"
        assert m.meta.instrument.optical_element == "F146"
        assert m.meta.exposure.type == "WFI_IMAGE"
        assert m.meta.exposure.frame_time == pytest.approx(3.04)
        assert m.meta.exposure.read_pattern == [[i + 1] for i in range(8)]
        assert m.data.unit.to_string() == "DN" and m.data.dtype == np.uint16
        assert m.amp33.shape == (8, 256, 128)
    with rdm.open(small_set["darks"][0]) as m:
        assert m.meta.exposure.type == "WFI_DARK"


def test_bias_and_read_noise(cubes):
    dark = cubes["dark"].astype(np.float64)
    assert 10_000 < np.median(dark[0]) < 12_000
    # Per-pixel bias structure: frames agree pixel by pixel far better than
    # pixels agree with each other.
    assert np.std(dark[0]) > 60
    diff = dark[2] - dark[1]
    diff -= np.median(diff, axis=1, keepdims=True)  # remove the row common mode
    diff -= np.median(diff, axis=0, keepdims=True)  # and the channel offsets
    read_noise = np.std(diff[4:-4, 4:-4]) / np.sqrt(2)
    assert 4.0 < read_noise < 7.0


def test_correlated_noise_shows_in_reference_pixels_and_amp33(small_set, cubes):
    dark = cubes["dark"].astype(np.float64)
    with io.open_exposure(small_set["darks"][0]) as exp:
        amp33 = exp.arrays["amp33"].read().astype(np.float64)
    # Row-wise common mode between two reads: left border columns vs amp33.
    border = (dark[3, :, :4] - dark[2, :, :4]).mean(axis=1)
    amp = (amp33[3] - amp33[2]).mean(axis=1)
    assert np.corrcoef(border, amp)[0, 1] > 0.5


def test_star_core_saturates_in_first_read_and_halo_later(small_set, cubes, refs):
    cy, cx = small_set["star_center"]
    illum = cubes["illum"]
    sat = illum >= np.where(np.isnan(refs["sat"]), np.inf, refs["sat"])
    assert sat[0, cy, cx]
    counts = sat.reshape(len(sat), -1).sum(axis=1)
    assert counts[0] > 20
    assert np.all(np.diff(counts) >= 0) and counts[-1] > 1.5 * counts[0]
    # A saturated core is flat: its differences are near zero (the "dark core").
    assert abs(float(illum[5, cy, cx]) - float(illum[4, cy, cx])) < 50
    # The saturated core of frame 0 is a disc centred on the star, and the
    # brightest pixel (bias removed) lies in it.
    rows, cols = np.nonzero(sat[0])
    assert abs(rows.mean() - cy) < 1.5 and abs(cols.mean() - cx) < 1.5
    signal = illum[0].astype(np.float64) - cubes["dark"][0]
    assert sat[0][np.unravel_index(np.argmax(signal), signal.shape)]


def test_darks_have_no_source(small_set, cubes):
    cy, cx = small_set["star_center"]
    dark = cubes["dark"].astype(np.float64)
    assert abs(dark[-1, cy, cx] - dark[0, cy, cx]) < 60


def test_reference_files(refs):
    sat, sat_dq, mask = refs["sat"], refs["sat_dq"], refs["mask"]
    assert sat.shape == mask.shape == (256, 256)
    nan = np.isnan(sat)
    assert 0 < nan.sum() < 50
    assert np.all(sat_dq[nan] & pflags.NO_SAT_CHECK)
    finite = sat[~nan]
    assert 50_000 < np.median(finite) < 65_535
    assert np.all(mask[:4] & pflags.REFERENCE_PIXEL) and np.all(mask[:, -4:] & pflags.REFERENCE_PIXEL)
    assert np.any(mask & pflags.HOT) and np.any(mask & pflags.DEAD)
    # Linearity undoes the inverse linearity to < 0.1 % below full well.
    lin, ilin = refs["lin"], refs["ilin"]
    s = np.linspace(0, 45_000, 50)[:, None]
    measured = sum(ilin[i, 100, 100] * s**i for i in range(len(ilin)))
    corrected = sum(lin[i, 100, 100] * measured**i for i in range(len(lin)))
    np.testing.assert_allclose(corrected, s, rtol=1e-3, atol=1.0)


def test_same_seed_same_data(tmp_path):
    a = synth.write_exposure(tmp_path / "a.asdf", frames=3, size=128, seed=11)
    b = synth.write_exposure(tmp_path / "b.asdf", frames=3, size=128, seed=11)
    c = synth.write_exposure(tmp_path / "c.asdf", frames=3, size=128, seed=12)
    np.testing.assert_array_equal(_cube(a), _cube(b))
    assert not np.array_equal(_cube(a), _cube(c))


def test_romancal_dq_init_and_saturation_accept_the_set(small_set, cubes, refs):
    from processing import crds_env

    crds_env.configure()
    from romancal.dq_init import DQInitStep
    from romancal.saturation import SaturationStep

    with crds_env.guard_exit("dq_init + saturation"):
        model = DQInitStep.call(str(small_set["illuminated"]), override_mask=str(small_set["references"]["mask"]))
        model = SaturationStep.call(model, override_saturation=str(small_set["references"]["saturation"]))
    assert model.meta.cal_step.dq_init == "COMPLETE"
    assert model.meta.cal_step.saturation == "COMPLETE"
    pixeldq = np.asarray(model.pixeldq)
    assert np.all(pixeldq[refs["mask"] != 0] & refs["mask"][refs["mask"] != 0])
    groupdq = np.asarray(model.groupdq)
    flagged = (groupdq & gflags.SATURATED) != 0
    cy, cx = small_set["star_center"]
    assert flagged[0, cy, cx]  # the core is flagged in frame 0
    counts = flagged.reshape(len(flagged), -1).sum(axis=1)
    assert counts[-1] > 1.5 * counts[0]  # the halo saturates later
    # romancal flags exactly the pixels at or over their threshold.
    expected = cubes["illum"] >= np.where(np.isnan(refs["sat"]), np.inf, refs["sat"])
    np.testing.assert_array_equal(flagged, expected)


def test_cli_writes_the_set(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "processing.cli", "synth", str(tmp_path), "--frames", "3", "--size", "128", "--seed", "4"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.split()
    assert len(printed) == 4 + len(synth.REFERENCE_TYPES)
    assert "100%" in result.stderr  # the progress bar
    manifest = synth.read_manifest(tmp_path)
    with io.open_exposure(tmp_path / manifest["illuminated"]) as exp:
        assert exp.shape == (3, 128, 128)


def test_cli_reports_bad_input(tmp_path):
    bad = tmp_path / "bad.asdf"
    bad.write_text("nope")
    result = subprocess.run([sys.executable, "-m", "processing.cli", "info", str(bad)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "not an ASDF file" in result.stderr and str(bad) in result.stderr


def test_first_look_then_darks(tmp_path):
    """The demo's two stages: something to look at first, the darks after."""
    from processing.progress import run

    cfg = synth.SynthConfig(frames=3, size=128, seed=5)
    first = run(synth.write_first_look_job(tmp_path, cfg))
    assert first["complete"] is False
    assert (tmp_path / first["illuminated"]).exists()
    assert all((tmp_path / p).exists() for p in first["references"].values())
    assert not any((tmp_path / d).exists() for d in first["darks"])
    assert synth.read_manifest(tmp_path)["complete"] is False
    done = run(synth.write_darks_job(tmp_path, cfg))
    assert done["complete"] is True and all((tmp_path / d).exists() for d in done["darks"])
    # Same bytes as writing the set in one go (same seed, same detector).
    whole = tmp_path / "whole"
    run(synth.write_dataset_job(whole, cfg))
    np.testing.assert_array_equal(_cube(tmp_path / done["darks"][1]), _cube(whole / done["darks"][1]))
