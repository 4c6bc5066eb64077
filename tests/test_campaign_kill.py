"""A worker process killed in the middle of a campaign task loses nothing.

A real LocalCluster (scheduler + two nanny-supervised worker processes on
127.0.0.1).  A worker plugin makes the first task to start hold for a few
seconds inside ``analyse`` (it writes a marker naming its process first);
the test SIGKILLs that worker process while the task is running.  dask
notices the lost worker, its nanny starts a new one, the task is rerun,
and the campaign finishes with every result complete and equal to a
serial run: no result missing, none half-written.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from processing.campaign.index import build_index_job
from processing.campaign.run import load_results, run_on_client, run_serial
from processing.progress import run

distributed = pytest.importorskip("distributed")
from campaign_cluster import HoldFirstTask  # noqa: E402  (the same plugin the external-cluster tests use)


def test_a_worker_killed_mid_task_loses_nothing(campaign, tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import the test module
    rows = run(build_index_job(str(campaign["root"])))
    refs = campaign["root"] / "references"
    marks = tmp_path / "marks"
    marks.mkdir()
    out = tmp_path / "dask"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, scheduler_kwargs={"dashboard": False},
                                  worker_dashboard_address=None) as lc, distributed.Client(lc) as client:
        client.register_plugin(HoldFirstTask(str(marks), 30.0))
        pids_before = set(client.run(os.getpid).values())
        box: dict = {}
        runner = threading.Thread(target=lambda: box.update(summary=run_on_client(client, rows, out, refs)))
        runner.start()
        deadline = time.monotonic() + 120
        while not list(marks.glob("holding-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        [holding] = list(marks.glob("holding-*"))
        victim, held = int(holding.name.split("-")[1]), holding.read_text()
        assert victim in pids_before
        os.kill(victim, signal.SIGKILL)  # in the middle of analyse(): its result is not written
        runner.join(timeout=300)
        assert not runner.is_alive()
        pids_after = set(client.run(os.getpid).values())
    summary = box["summary"]
    assert not summary.failed and len(summary.computed) == len(rows)
    assert victim not in pids_after and len(pids_after) == 2  # the nanny started a new worker
    started = [p.name for p in marks.glob(f"started-*-{held}")]
    assert len(started) == 2 and f"started-{victim}-{held}" in started  # dask ran the lost task again elsewhere
    assert not list(out.glob(".*partial*"))
    run_serial(rows, tmp_path / "serial", refs)
    on_dask = load_results(out)
    assert len(on_dask) == len(rows) and all(r["status"] == "ok" for r in on_dask)
    assert on_dask == load_results(tmp_path / "serial")
