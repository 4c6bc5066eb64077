"""``processing.campaign.run.run_job`` (the GUI's run): progress per finished task; closing it stops the run.

Closing the generator half-way cancels the tasks not started, keeps every
finished result (each written atomically), and the next run does only the rest.
"""

from __future__ import annotations

import pytest

from processing.campaign.index import build_index_job
from processing.campaign.run import load_results, run_job, run_serial
from processing.progress import run

pytest.importorskip("distributed")


def test_closing_the_job_keeps_finished_results_and_a_rerun_does_the_rest(campaign, tmp_path):
    rows = run(build_index_job(str(campaign["root"])))
    refs = campaign["root"] / "references"
    out = tmp_path / "res"
    job = run_job(rows, out, refs, workers=1)
    for report in job:
        if "analysed" in report.message and report.fraction > 0:
            break
    job.close()  # the user pressed cancel
    kept = load_results(out)
    assert 0 < len(kept) < len(rows) and all(r["status"] == "ok" for r in kept)
    assert not list(out.glob(".*partial*"))
    again = run_job(rows, out, refs, workers=1)
    fractions = []
    try:
        while True:
            fractions.append(next(again).fraction)
    except StopIteration as stop:
        summary = stop.value
    assert set(summary.skipped) >= {r["name"] for r in kept} and not summary.failed
    assert len(summary.computed) + len(summary.skipped) == len(rows)
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    run_serial(rows, tmp_path / "serial", refs)
    assert load_results(out) == load_results(tmp_path / "serial")
