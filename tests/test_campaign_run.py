"""``brightstar campaign run`` on a real dask.distributed cluster (scheduler + two worker processes on 127.0.0.1).

Against a serial run and the synthetic campaign's truth; a damaged exposure;
a rerun that skips finished work.
"""

from __future__ import annotations

import shutil

import pytest

from processing.campaign.analysis import fit_persistence
from processing.campaign.index import build_index_job, write_index
from processing.campaign.run import load_results, result_path, run_on_client, run_serial
from processing.cli import main
from processing.progress import run


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, scheduler_kwargs={"dashboard": False},
                                  worker_dashboard_address=None) as lc, distributed.Client(lc) as client:
        yield lc, client


def test_cluster_equals_serial_and_recovers_the_truth(campaign, cluster, tmp_path):
    _, client = cluster
    assert len(client.scheduler_info()["workers"]) == 2
    rows = run(build_index_job(str(campaign["root"])))
    refs = campaign["root"] / "references"
    summary = run_on_client(client, rows, tmp_path / "dask", refs)
    assert len(summary.computed) == len(rows) and not summary.failed and not summary.skipped
    run_serial(rows, tmp_path / "serial", refs)
    on_dask, serial = load_results(tmp_path / "dask"), load_results(tmp_path / "serial")
    assert on_dask == serial
    assert all(r["status"] == "ok" for r in on_dask)

    by_name = {r["name"]: r for r in on_dask}
    truth = {e["path"].rsplit("/", 1)[-1]: e for e in campaign["illuminated"]}
    # Saturated area (last read) is ordered by magnitude, and equals the generator's count.
    sat = sorted((truth[n]["magnitude"], by_name[n]["growth"]["saturated"][-1], truth[n]["saturated_pixels"])
                 for n in truth)
    areas = [s[1] for s in sat]
    assert areas == sorted(areas, reverse=True) and areas[0] > areas[3] > 0
    assert [s[1] for s in sat] == [s[2] for s in sat]
    for n, e in truth.items():
        assert abs(by_name[n]["star_row"] - e["position"][0]) < 1 and abs(by_name[n]["star_col"] - e["position"][1]) < 1
    # Persistence time constants: every saturated footprint, within 10 % of the manifest's.
    fits = fit_persistence(on_dask)
    saturated = [e for e in campaign["illuminated"] if e["saturated_pixels"]]
    assert len(fits) == len(saturated)
    for e in saturated:
        fit = fits[str(campaign["root"] / e["path"])]
        assert fit["tau_s"] == pytest.approx(campaign["persistence"][e["detector"]]["tau_s"], rel=0.10)


def test_a_damaged_exposure_is_reported_and_a_rerun_skips_finished_work(campaign, cluster, tmp_path):
    lc, _ = cluster
    root = tmp_path / "campaign"
    shutil.copytree(campaign["root"], root)
    rows = run(build_index_job(str(root)))
    index = write_index(rows, tmp_path / "index.parquet")
    bad = root / campaign["illuminated"][2]["path"]
    bad.write_bytes(bad.read_bytes()[:100_000])  # damaged after indexing: the task meets it
    out = tmp_path / "results"
    args = ["campaign", "run", str(index), "--scheduler", lc.scheduler_address, "--out", str(out), "--quiet"]
    assert main(args) == 1
    results = {r["name"]: r for r in load_results(out)}
    assert len(results) == len(rows)
    failed = {n for n, r in results.items() if r["status"] != "ok"}
    assert failed == {bad.name}
    assert bad.name in results[bad.name]["error"]
    # The darks of that detector went on without its footprint, and say so.
    darks = [r for r in results.values() if r["exposure_type"] == "WFI_DARK" and r["detector"] == results[bad.name]["detector"]]
    assert darks and all(bad.name in d["unreadable_sources"] for d in darks)

    stamps = {n: result_path(out, {"name": n}).stat().st_mtime_ns for n in results}
    assert main(args) == 1  # still damaged: retried, fails again
    again = {n: result_path(out, {"name": n}).stat().st_mtime_ns for n in results}
    assert {n for n in results if again[n] != stamps[n]} == {bad.name}
    shutil.copy(campaign["root"] / campaign["illuminated"][2]["path"], bad)  # repaired
    assert main(args) == 0
    assert all(r["status"] == "ok" for r in load_results(out))


def test_cli_embedded_cluster(campaign, tmp_path, capsys):
    rows = run(build_index_job(str(campaign["root"])))[:2]
    index = write_index(rows, tmp_path / "two.csv")
    out = tmp_path / "results"
    assert main(["campaign", "run", str(index), "--workers", "1", "--out", str(out), "--quiet"]) == 0
    assert "2 analysed, 0 already done, 0 failed" in capsys.readouterr().out
    assert [r["name"] for r in load_results(out)] == [r["name"] for r in rows]
