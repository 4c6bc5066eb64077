"""``brightstar campaign report``: the plots' data and the PDF read back."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from campaign_helpers import campaign  # noqa: F401  (pytest fixture)

from processing.campaign.index import build_index_job
from processing.campaign.report import report_data
from processing.campaign.run import load_results, run_serial
from processing.cli import main
from processing.progress import run


def test_report_plots_the_campaign(campaign, tmp_path, capsys):
    rows = run(build_index_job(str(campaign["root"])))
    run_serial(rows, tmp_path / "results", campaign["root"] / "references")
    data = report_data(load_results(tmp_path / "results"))
    assert data["magnitude_label"] == "magnitude"
    assert sorted(e["magnitude"] for e in data["exposures"].values()) == sorted(
        e["magnitude"] for e in campaign["illuminated"])
    by_mag = sorted(data["exposures"].values(), key=lambda e: e["magnitude"])
    outer = [e["onset_outer_radius_px"] for e in by_mag]
    assert outer == sorted(outer, reverse=True) and outer[0] > 30
    assert len(data["persistence"]) == 4
    for p in data["persistence"].values():
        assert len(p["time_since_s"]) == campaign["config"]["n_darks"] and p["tau_s"] > 0

    pdf = tmp_path / "campaign.pdf"
    assert main(["campaign", "report", str(tmp_path / "results"), str(pdf)]) == 0
    assert pdf.read_bytes()[:5] == b"%PDF-" and b"%%EOF" in pdf.read_bytes()[-64:]
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        for title in ("Saturated equivalent radius", "Saturated area", "Onset radius", "Persistence in the darks",
                      "time since end of illumination", "6 illuminated exposures"):
            assert title in text


def test_report_of_nothing_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["campaign", "report", str(tmp_path / "empty"), str(tmp_path / "x.pdf")]) == 2
    assert "holds no campaign results" in capsys.readouterr().err
    assert not (tmp_path / "x.pdf").exists()
