"""``brightstar campaign run --calibrate``: each task calibrates through the cache, then analyses the ramp.

Calibration (refpix) needs the full 4096-column detector, so the small
256-px campaign can only show the clear per-exposure error; a four-read
campaign of full-width exposures (one star, one dark per detector) shows
the real thing: saturation from romancal's group DQ equals the raw
threshold test's, a second run is served by the cache; darks are analysed
raw (romancal cannot write a WFI_DARK ramp) and say so.
"""

from __future__ import annotations

from processing.campaign.index import build_index_job, write_index
from processing.campaign.run import load_results, run_serial
from processing.cli import main
from processing.progress import run


def test_calibrate_on_narrow_frames_is_a_clear_error_per_exposure(campaign, tmp_path, capsys):
    rows = run(build_index_job(str(campaign["root"])))
    index = write_index(rows[:2], tmp_path / "index.parquet")
    code = main(["campaign", "run", str(index), "--serial", "--calibrate", "--out", str(tmp_path / "res"), "--quiet"])
    assert code == 1
    results = load_results(tmp_path / "res")
    assert len(results) == 2 and all(r["status"] == "error" for r in results)
    assert all("4096 detector columns" in r["error"] and "256" in r["error"] for r in results)
    assert "2 failed" in capsys.readouterr().out


def test_calibrated_campaign_uses_romancals_flags_and_the_cache(wide_campaign, wide_calibrated, tmp_path, monkeypatch):
    # wide_calibrated: the serial --calibrate run (shared with test_campaign_external), into its own cache.
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(wide_calibrated["cache"]))
    root = wide_campaign["root"]
    rows = wide_calibrated["rows"]
    assert len(rows) == 3
    refs = root / "references"
    first = wide_calibrated["summary"]
    assert len(first.computed) == 3 and not first.failed, first.failed
    raw = run_serial(rows, tmp_path / "raw", refs)
    assert not raw.failed
    cal = {r["name"]: r for r in load_results(wide_calibrated["out"])}
    plain = {r["name"]: r for r in load_results(tmp_path / "raw")}
    illuminated = [n for n, r in cal.items() if r["exposure_type"] != "WFI_DARK"]
    assert len(illuminated) == 1
    assert all(r["calibrate_requested"] for r in cal.values()) and not any(r["calibrate_requested"] for r in plain.values())
    assert all(cal[n]["calibrated"] and not cal[n]["calibration_from_cache"] for n in illuminated)
    # Darks stay raw: romancal cannot write a WFI_DARK RampModel (the result says why).
    assert all(not r["calibrated"] and "WFI_DARK" in r["calibration_note"] for n, r in cal.items() if n not in illuminated)
    assert not any(r["calibrated"] for r in plain.values())

    star = wide_campaign["illuminated"][0]
    name = star["path"].rsplit("/", 1)[-1]
    # romancal's SATURATED group flags are the threshold test on the same raw DN.
    assert cal[name]["growth"]["saturated"] == plain[name]["growth"]["saturated"]
    assert cal[name]["growth"]["saturated"][-1] == star["saturated_pixels"] > 0
    assert abs(cal[name]["star_row"] - star["position"][0]) < 1 and abs(cal[name]["star_col"] - star["position"][1]) < 1
    # The calibrated file is a RampModel in the cache.
    from processing.io import open_exposure

    with open_exposure(cal[name]["calibrated_path"]) as exp:
        assert exp.model_type == "RampModel" and exp.shape == (4, 4096, 4096)

    dark = next(r for r in cal.values() if r["exposure_type"] == "WFI_DARK" and r["detector"] == "WFI11")
    [p_cal] = dark["persistence"]
    assert p_cal["source_name"] == name and p_cal["excess_dn"] > 0
    assert dark["persistence"] == plain[dark["name"]]["persistence"]  # the same raw measurement

    # A raw result is not a calibrated one: the calibrated run is redone, from the cache.
    again = run_serial(rows, tmp_path / "raw", refs, calibrate=True)
    assert len(again.computed) == 3 and not again.skipped
    redone = {r["name"]: r for r in load_results(tmp_path / "raw")}
    assert all(redone[n]["calibration_from_cache"] for n in illuminated)
    strip = lambda r: {k: v for k, v in r.items() if k != "calibration_from_cache"}  # noqa: E731
    assert {k: strip(v) for k, v in redone.items()} == {k: strip(v) for k, v in cal.items()}
    assert set(run_serial(rows, tmp_path / "raw", refs, calibrate=True).skipped) == set(redone)
