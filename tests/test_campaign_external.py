"""``brightstar campaign run --scheduler`` on an external cluster: a ``dask scheduler`` and two ``dask worker`` processes.

Nothing of the cluster runs in the test process: the scheduler and the
workers are the ``dask`` command line's, on 127.0.0.1; the campaign run is
``brightstar campaign run`` in its own process, connected through a
counting TCP proxy, so every byte between the client and the scheduler is
counted.  The scheduler loads ``campaign_scheduler_probe`` and records what
each task carries.  Checked: results equal a serial run and the synthetic
campaign's truth; the client sends index rows, not pixels; the workers read
an ``s3://`` prefix themselves from the loopback moto server; a scheduler
that does not answer is a one-line error naming it within the timeout; the
Campaign dock runs on the same cluster from its scheduler field.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from s3_server import TcpProxy, free_port, make_public_bucket, s3_server, upload  # noqa: F401  (pytest fixtures)

from processing.campaign.analysis import fit_persistence
from processing.campaign.index import build_index_job, read_index, write_index
from processing.campaign.run import load_results
from processing.cli import main
from processing.progress import run

distributed = pytest.importorskip("distributed")
from campaign_cluster import ExternalCluster, serial_reference, subprocess_env  # noqa: E402

#: The campaign's 16 tasks must carry no more than this each (an index row and a few options pickled).
TASK_BYTES_MAX = 4096


@pytest.fixture(scope="module")
def external(tmp_path_factory):
    """``dask scheduler`` (with the probe) + two ``dask worker`` programs on 127.0.0.1, shared by this file's tests.

    The workers calibrate into their own cache (``worker-cache``), not the
    test process's.  Yields the cluster's facts; at the end every process of
    the cluster is stopped and checked gone.
    """
    tmp = tmp_path_factory.mktemp("external-dask")
    cluster = ExternalCluster(tmp, workers=2, preload="campaign_scheduler_probe",
                              env={"BRIGHTSTAR_CACHE_DIR": str(tmp / "worker-cache")})
    try:
        yield {"address": cluster.address, "port": cluster.port, "client": cluster.client, "log": cluster.log_path,
               "cache": tmp / "worker-cache"}
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def serial(campaign, tmp_path_factory):
    """The index rows and a serial run's results (the reference)."""
    return serial_reference(campaign, tmp_path_factory)


def _records(external, since: int = 0) -> list[dict]:
    from campaign_scheduler_probe import probe_records

    return [r for r in external["client"].run_on_scheduler(probe_records)[since:] if r["func"] == "run_one"]


def _run_cli(args: list[str], timeout: float = 180, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "processing.cli", "campaign", "run", *args],
                          env=subprocess_env(), capture_output=True, text=True, timeout=timeout, cwd=cwd)


def _check_truth(results: list[dict], campaign) -> None:
    by_name = {r["name"]: r for r in results}
    truth = {e["path"].rsplit("/", 1)[-1]: e for e in campaign["illuminated"]}
    # Saturated area (last read) ordered by magnitude and equal to the generator's count; stars within 1 px.
    sat = sorted((e["magnitude"], by_name[n]["growth"]["saturated"][-1], e["saturated_pixels"]) for n, e in truth.items())
    assert [s[1] for s in sat] == sorted((s[1] for s in sat), reverse=True) and sat[0][1] > sat[3][1] > 0
    assert [s[1] for s in sat] == [s[2] for s in sat]
    for n, e in truth.items():
        assert abs(by_name[n]["star_row"] - e["position"][0]) < 1 and abs(by_name[n]["star_col"] - e["position"][1]) < 1
    # Persistence time constants within 10 % of the manifest's, for every footprint that saturated.
    fits = fit_persistence(results)
    saturated = [e for e in campaign["illuminated"] if e["saturated_pixels"]]
    assert len(fits) == len(saturated) == 4
    for e in saturated:
        fit = next(f for uri, f in fits.items() if uri.endswith(e["path"]))
        assert fit["tau_s"] == pytest.approx(campaign["persistence"][e["detector"]]["tau_s"], rel=0.10)


def _check_payloads(records: list[dict], rows: list[dict]) -> None:
    assert sorted(r["uri"] for r in records) == sorted(row["uri"] for row in rows)
    for r in records:
        # run_one(row, index, out, references, endpoint_url, calibrate): a dict row, a reference to the
        # index (one task, sent once), strings and a flag -- no array, no bytes.
        assert r["arg_types"][0] == "dict" and r["arg_types"][2:4] == ["str", "str"], r
        assert not {"ndarray", "bytes", "memoryview", "bytearray"} & set(r["arg_types"]), r
        assert r["task_bytes"] < TASK_BYTES_MAX, r
        assert r["dependency_nbytes"] and 0 < max(r["dependency_nbytes"]) < 64 * 1024, r  # the index, sent once


def test_cli_on_an_external_cluster_equals_serial_and_sends_no_pixels(campaign, external, serial, tmp_path, capsys,
                                                                     monkeypatch):
    rows, reference = serial
    # Relative paths, as a user types them: the workers run in another working folder, so the index's
    # URIs and the results folder must reach them absolute.
    monkeypatch.chdir(tmp_path)
    prefix = os.path.relpath(campaign["root"], tmp_path)
    assert main(["campaign", "index", prefix, "--out", "index.parquet", "--quiet"]) == 0
    index, out = tmp_path / "index.parquet", tmp_path / "results"
    assert [r["uri"] for r in read_index(index)] == [r["uri"] for r in rows]  # absolute, as the serial run's
    proxy = TcpProxy(external["port"])  # the CLI's only way to the cluster
    before = len(external["client"].run_on_scheduler(__import__("campaign_scheduler_probe").probe_records))
    try:
        done = _run_cli(["index.parquet", "--scheduler", f"tcp://127.0.0.1:{proxy.port}", "--out", "results"],
                        cwd=tmp_path)
    finally:
        proxy.stop()
    assert done.returncode == 0, done.stderr
    assert f"{len(rows)} analysed, 0 already done, 0 failed" in done.stdout
    assert "] | 100% Completed |" in done.stdout  # dask's progress bar, as a user at a terminal sees it
    results = load_results(out)
    assert results == reference
    _check_truth(results, campaign)
    _check_payloads(_records(external, before), rows)
    # Client <-> scheduler: the index once, 16 small tasks, 16 small answers and dask's chatter. The
    # campaign's pixels are ~20 MB; one 256 x 256 read alone is 128 KiB.
    pixels = sum(r["size_bytes"] for r in rows)
    sent = proxy.counts.bytes_up
    assert sent < 128 * 1024 and sent < 0.01 * pixels, (sent, pixels)
    assert proxy.counts.bytes_down < 128 * 1024

    # A rerun on the same cluster does nothing again (this time from this process: the same code).
    stamps = sorted(p.stat().st_mtime_ns for p in out.glob("*.json"))
    assert main(["campaign", "run", str(index), "--scheduler", external["address"], "--out", str(out), "--quiet"]) == 0
    assert f"0 analysed, {len(rows)} already done" in capsys.readouterr().out
    assert sorted(p.stat().st_mtime_ns for p in out.glob("*.json")) == stamps


def test_an_unreachable_scheduler_is_named_within_the_timeout(campaign, serial, tmp_path, capsys):
    rows, _ = serial
    index = write_index(rows, tmp_path / "index.csv")
    address = f"tcp://127.0.0.1:{free_port()}"
    out = tmp_path / "results"
    t = time.monotonic()
    code = main(["campaign", "run", str(index), "--scheduler", address, "--connect-timeout", "2", "--out", str(out),
                 "--quiet"])
    elapsed = time.monotonic() - t
    err = capsys.readouterr().err
    assert code == 2 and elapsed < 15, (code, elapsed)
    assert err.startswith(f"brightstar: error: {address}: no dask scheduler answered within 2 s") and err.count("\n") == 1
    assert not out.exists() or not any(out.iterdir())  # nothing written that could read as a result


BUCKET = "brightstar-external"


def test_workers_read_an_s3_prefix_themselves(campaign, external, serial, s3_server, tmp_path):
    rows_local, reference = serial
    client = s3_server.client()
    make_public_bucket(client, BUCKET)
    # One detector's exposures (its darks' footprints are its own illuminated exposures): half the work.
    detector = "WFI04"
    reference = [r for r in reference if r["detector"] == detector]
    for entry in [e for e in campaign["illuminated"] + campaign["darks"] if e["detector"] == detector]:
        upload(client, campaign["root"] / entry["path"], "tvac/" + entry["path"], bucket=BUCKET)
    s3 = TcpProxy(s3_server.port)  # counts what the workers read from S3
    dask_proxy = TcpProxy(external["port"])
    try:
        prefix = f"s3://{BUCKET}/tvac/"
        rows = run(build_index_job(prefix, endpoint_url=s3.endpoint_url))
        index = write_index(rows, tmp_path / "s3.parquet")
        s3.reset()
        before = len(external["client"].run_on_scheduler(__import__("campaign_scheduler_probe").probe_records))
        out = tmp_path / "results"
        # This time the client is this process (the CLI's code, without a second interpreter's imports).
        code = main(["campaign", "run", str(index), "--scheduler", f"tcp://127.0.0.1:{dask_proxy.port}", "--out", str(out),
                     "--references", str(campaign["root"] / "references"), "--endpoint-url", s3.endpoint_url, "--quiet"])
        read_from_s3 = s3.counts.bytes_down
    finally:
        s3.stop()
        dask_proxy.stop()
    assert code == 0
    local = str(campaign["root"]) + "/"
    as_local = [json.loads(json.dumps(r).replace(prefix, local)) for r in load_results(out)]
    assert as_local == reference
    records = _records(external, before)
    _check_payloads(records, rows)
    assert all(r["uri"].startswith(prefix) for r in records)
    # The workers fetched the pixels (at least the first and last read of every exposure), while the
    # client sent and received next to nothing.
    frame = 256 * 256 * 2
    assert read_from_s3 >= len(rows) * 2 * frame
    assert dask_proxy.counts.bytes_up < 128 * 1024 and dask_proxy.counts.bytes_down < 128 * 1024


def _files(folder) -> dict:
    """Every file under ``folder`` -> its modification time (ns)."""
    return {str(f.relative_to(folder)): f.stat().st_mtime_ns for f in Path(folder).rglob("*") if f.is_file()}


def test_calibrate_on_the_external_cluster_in_the_workers_cache(wide_campaign, wide_calibrated, external, tmp_path):
    # Full-width exposures (refpix needs 4096 columns): one star and two darks, 4 reads of 32 MiB each.
    rows = wide_calibrated["rows"]
    index = write_index(rows, tmp_path / "wide.parquet")
    mine = _files(os.environ["BRIGHTSTAR_CACHE_DIR"]) if Path(os.environ["BRIGHTSTAR_CACHE_DIR"]).is_dir() else {}
    proxy = TcpProxy(external["port"])
    before = len(external["client"].run_on_scheduler(__import__("campaign_scheduler_probe").probe_records))
    try:
        done = _run_cli([str(index), "--scheduler", f"tcp://127.0.0.1:{proxy.port}", "--calibrate",
                         "--out", str(tmp_path / "results"), "--quiet"], timeout=300)
    finally:
        proxy.stop()
    assert done.returncode == 0, done.stderr
    assert "3 analysed, 0 already done, 0 failed" in done.stdout
    # The workers calibrated the star themselves, into their own cache: nothing came from the serial
    # run's cache (another folder) and nothing went through this process's.
    results = {r["name"]: r for r in load_results(tmp_path / "results")}
    reference = {r["name"]: r for r in load_results(wide_calibrated["out"])}
    [star] = [n for n, r in results.items() if r["exposure_type"] != "WFI_DARK"]
    assert results[star]["calibrated"] and not results[star]["calibration_from_cache"]
    assert Path(results[star]["calibrated_path"]).is_relative_to(external["cache"])
    assert Path(reference[star]["calibrated_path"]).is_relative_to(wide_calibrated["cache"])
    # Equal to the serial --calibrate run, field for field, but for where each cache put the ramp.
    strip = lambda r: {k: v for k, v in r.items() if k != "calibrated_path"}  # noqa: E731
    assert {n: strip(r) for n, r in results.items()} == {n: strip(r) for n, r in reference.items()}
    mine_after = _files(os.environ["BRIGHTSTAR_CACHE_DIR"]) if Path(os.environ["BRIGHTSTAR_CACHE_DIR"]).is_dir() else {}
    assert mine_after == mine
    # No pixels through the client: three 4-read 4096 x 4096 exposures are 384 MiB.
    records = _records(external, before)
    assert sorted(r["uri"] for r in records) == sorted(row["uri"] for row in rows)
    assert all(r["arg_types"][-1] == "bool" and r["task_bytes"] < TASK_BYTES_MAX for r in records), records
    assert proxy.counts.bytes_up < 128 * 1024 and proxy.counts.bytes_down < 128 * 1024

    # A rerun does no finished work again: no task reaches the cluster, no result or cache file changes.
    stamps, cache = _files(tmp_path / "results"), _files(external["cache"])
    assert str(Path(results[star]["calibrated_path"]).relative_to(external["cache"])) in cache
    before = len(external["client"].run_on_scheduler(__import__("campaign_scheduler_probe").probe_records))
    again = _run_cli([str(index), "--scheduler", external["address"], "--calibrate", "--out", str(tmp_path / "results"),
                      "--quiet"])
    assert again.returncode == 0, again.stderr
    assert "0 analysed, 3 already done, 0 failed" in again.stdout
    assert _records(external, before) == []
    assert _files(tmp_path / "results") == stamps and _files(external["cache"]) == cache


# -- the Campaign dock on the same cluster (pytest-qt) ------------------------------------------
@pytest.fixture
def window(make_window):
    w = make_window()  # conftest: shown, exposed, closed after the test
    w.campaign_dock.raise_()
    return w


def _click_index_and_run(qtbot, monkeypatch, dock, prefix: str, out: str, scheduler: str) -> None:
    from PyQt6 import QtCore, QtWidgets

    answers = iter([prefix, out])  # the two folder dialogs: exposures, then results
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: next(answers)))
    dock.scheduler_edit.clear()
    qtbot.keyClicks(dock.scheduler_edit, scheduler)
    qtbot.mouseClick(dock.run_button, QtCore.Qt.MouseButton.LeftButton)


@pytest.mark.usefixtures("no_qt_leaks")
def test_the_dock_runs_on_the_external_scheduler(qtbot, window, monkeypatch, campaign, external, serial, tmp_path):
    rows, reference = serial
    dock = window.campaign
    # A scheduler that does not answer: a message naming it, within the (shortened) timeout, nothing written.
    dock.controller.connect_timeout = 2.0
    address = f"tcp://127.0.0.1:{free_port()}"
    t = time.monotonic()
    with qtbot.waitSignal(window.error_shown, timeout=60_000) as shown:
        _click_index_and_run(qtbot, monkeypatch, dock, str(campaign["root"]), str(tmp_path / "nowhere"), address)
    assert address in shown.args[0] and "no dask scheduler answered within 2 s" in shown.args[0]
    assert time.monotonic() - t < 30
    assert not list((tmp_path / "nowhere").glob("*.json"))

    # The external cluster typed in the same field: its workers do the tasks.
    before = len(external["client"].run_on_scheduler(__import__("campaign_scheduler_probe").probe_records))
    with qtbot.waitSignal(dock.table_shown, timeout=240_000) as shown:
        _click_index_and_run(qtbot, monkeypatch, dock, str(campaign["root"]), str(tmp_path / "gui"), external["address"])
    assert shown.args == [len(rows)] and dock.proxy.rowCount() == len(rows)
    assert load_results(tmp_path / "gui") == reference
    _check_payloads(_records(external, before), rows)
    # The plots: a curve per illuminated exposure, the darks' points per saturated footprint.
    assert len(dock.radius_plot.listDataItems()) == len(campaign["illuminated"]) == len(dock.area_plot.listDataItems())
    assert len(dock.persistence_plot.listDataItems()) == 4

    # A click on a row opens that exposure at its last read, the cutout on its star.
    from PyQt6 import QtCore

    truth = {e["path"].rsplit("/", 1)[-1]: e for e in campaign["illuminated"]}
    names = [dock.proxy.index(r, 0).data() for r in range(dock.proxy.rowCount())]
    row = next(r for r, n in enumerate(names) if n in truth and truth[n]["saturated_pixels"])
    star = truth[names[row]]
    window.controller.cutout_half = 24
    index = dock.proxy.index(row, 0)
    dock.table.scrollTo(index)
    with qtbot.waitSignal(window.exposure_opened, timeout=60_000) as opened:
        qtbot.mouseClick(dock.table.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=dock.table.visualRect(index).center())
    assert opened.args[0].endswith(names[row])
    cut = window.model.cutout
    assert cut.enabled and abs(cut.row - star["position"][0]) <= 1 and abs(cut.col - star["position"][1]) <= 1
    assert window.model.frame == campaign["config"]["frames"] - 1
    qtbot.waitUntil(lambda: window.last_render is not None and not window.controller.render_inflight, timeout=60_000)
