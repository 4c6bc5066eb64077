"""Processes killed under ``brightstar campaign run --scheduler`` on an external cluster.

Each test has its own cluster (``dask scheduler`` + two ``dask worker``
programs, :mod:`campaign_cluster`): killing processes would spoil the one
``test_campaign_external`` shares.  The campaign run is the CLI in its own
process.  A worker plugin (``HoldFirstTask``) makes the first task wait
inside ``analyse`` so the kill lands while a task runs.

* A worker process (a nanny's child) SIGKILLed mid-task: dask reruns the
  task elsewhere, every exposure finishes, no result is half-written, the
  results equal a serial run.
* The scheduler SIGKILLed mid-run: the CLI ends within seconds with one
  error line naming the scheduler (no hang, no traceback), exit 2; every
  result file on disk is complete; a rerun against a new scheduler does only
  the exposures not finished and ends equal to the serial run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from processing.campaign.index import write_index
from processing.campaign.run import load_results, read_result

distributed = pytest.importorskip("distributed")
from campaign_cluster import ExternalCluster, HoldFirstTask, serial_reference, subprocess_env, wait_for  # noqa: E402


@pytest.fixture(scope="module")
def serial(campaign, tmp_path_factory):
    """The index rows and a serial run's results (the reference)."""
    return serial_reference(campaign, tmp_path_factory)


@pytest.fixture
def clusters(tmp_path):
    """Starts clusters on demand (``clusters(name)``); stops them all at the end, none left running."""
    started: list[ExternalCluster] = []

    def start(name: str) -> ExternalCluster:
        started.append(ExternalCluster(tmp_path / name, workers=2))
        return started[-1]

    yield start
    for c in started:
        c.stop()


def _cli(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "processing.cli", "campaign", "run", *args], env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _holding(marks):
    """(pid, exposure name) of the held task once it holds."""
    found = [(int(p.name.split("-")[1]), p.read_text()) for p in marks.glob("holding-*")]
    return found[0] if found and found[0][1] else None


def _ok_results(out) -> dict:
    """name -> mtime of every result file saying ``ok``; asserts every file there is complete JSON."""
    files = sorted(out.glob("*.json")) if out.exists() else []
    results = {p.name: read_result(p) for p in files}
    assert all(r is not None for r in results.values()), results  # never a half-written file under the name
    return {n: (out / n).stat().st_mtime_ns for n, r in results.items() if r["status"] == "ok"}


def test_a_worker_killed_mid_task_on_the_external_cluster_loses_nothing(campaign, serial, clusters, tmp_path):
    rows, reference = serial
    cluster = clusters("kill-worker")
    marks = tmp_path / "marks"
    marks.mkdir()
    cluster.client.register_plugin(HoldFirstTask(str(marks), 60.0))
    pids_before = cluster.worker_pids()
    index = write_index(rows, tmp_path / "index.parquet")
    out = tmp_path / "results"
    cli = _cli([str(index), "--scheduler", cluster.address, "--out", str(out), "--quiet"])
    try:
        victim, held = wait_for(lambda: _holding(marks), 120, "a task to hold")
        assert victim in pids_before  # a worker process, the child of a `dask worker` nanny
        os.kill(victim, signal.SIGKILL)  # in the middle of analyse(): its result is not written
        stdout, stderr = cli.communicate(timeout=240)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 0, stderr
    assert f"{len(rows)} analysed, 0 already done, 0 failed" in stdout
    # dask ran the lost task again (on the other worker or the nanny's new one), which finished it.
    started = sorted(p.name for p in marks.glob(f"started-*-{held}"))
    assert len(started) == 2 and f"started-{victim}-{held}" in started, started
    pids_after = wait_for(lambda: (lambda p: p if len(p) == 2 else None)(cluster.worker_pids()), 60, "the new worker")
    assert victim not in pids_after
    assert not list(out.glob(".*partial*"))
    assert len(_ok_results(out)) == len(rows)
    assert load_results(out) == reference


def test_the_scheduler_killed_mid_run_is_named_and_a_new_one_does_the_rest(campaign, serial, clusters, tmp_path):
    rows, reference = serial
    doomed = clusters("doomed")
    marks = tmp_path / "marks"
    marks.mkdir()
    doomed.client.register_plugin(HoldFirstTask(str(marks), 120.0))  # never finishes before the kill
    index = write_index(rows, tmp_path / "index.parquet")
    out = tmp_path / "results"
    # With the progress bar, as a user at a terminal runs it.
    cli = _cli([str(index), "--scheduler", doomed.address, "--out", str(out)])
    try:
        wait_for(lambda: _holding(marks), 120, "a task to hold")
        wait_for(lambda: len(_ok_results(out)) >= 3, 120, "three finished results")
        t = time.monotonic()
        doomed.kill_scheduler()
        stdout, stderr = cli.communicate(timeout=120)
        elapsed = time.monotonic() - t
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    lines = stderr.strip().splitlines()
    assert cli.returncode == 2, stderr
    assert lines[-1].startswith(f"brightstar: error: {doomed.address}: the dask scheduler stopped answering mid-run"), stderr
    assert "rerun to do the rest" in lines[-1] and "Traceback" not in stderr, stderr
    assert elapsed < 60, elapsed  # dask gives up its reconnect within the connect timeout (20 s)
    doomed.stop()  # its workers are ending on their own (no scheduler); the held task never wrote
    finished = _ok_results(out)
    assert 3 <= len(finished) < len(rows)
    # The count said is the finished results when the CLI gave up; the other worker's task running then may
    # still have finished (a worker ends its task before it closes for want of a scheduler).
    said = re.search(r"; (\d+) finished results in (.+) are kept", lines[-1])
    assert said and int(said[1]) <= len(finished) and said[2] == str(out), lines[-1]
    assert not list(out.glob(".*partial*"))

    # A new scheduler (another address, new workers): only the unfinished exposures are run.
    fresh = clusters("fresh")
    again = _cli([str(index), "--scheduler", fresh.address, "--out", str(out), "--quiet"])
    stdout, stderr = again.communicate(timeout=240)
    assert again.returncode == 0, stderr
    assert f"{len(rows) - len(finished)} analysed, {len(finished)} already done, 0 failed" in stdout
    after = _ok_results(out)
    assert len(after) == len(rows) and all(after[n] == m for n, m in finished.items())
    assert load_results(out) == reference
