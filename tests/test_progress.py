"""processing.progress: driving, cancelling and nesting progress generators."""

from __future__ import annotations

import pytest

from processing.progress import CancelToken, Cancelled, Progress, run, scaled


def _steps(n, cleaned):
    try:
        for i in range(n):
            yield Progress((i + 1) / n, f"step {i + 1}")
        return n * 10
    finally:
        cleaned.append(True)


def test_run_returns_the_value_and_reports():
    cleaned, seen = [], []
    assert run(_steps(3, cleaned), on_progress=seen.append) == 30
    assert [p.fraction for p in seen] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert cleaned == [True]


def test_scaled_maps_fractions_and_passes_the_value():
    def outer(cleaned):
        a = yield from scaled(_steps(2, cleaned), 0.0, 0.5, "a: ")
        b = yield from scaled(_steps(2, cleaned), 0.5, 1.0, "b: ")
        return a + b

    cleaned, seen = [], []
    assert run(outer(cleaned), on_progress=seen.append) == 40
    assert [p.fraction for p in seen] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert seen[0].message == "a: step 1" and seen[-1].message == "b: step 2"


def test_cancel_closes_nested_jobs_at_once():
    cleaned = []

    def outer():
        yield from scaled(_steps(5, cleaned), 0.0, 1.0)

    token = CancelToken()
    job = outer()
    reports = []

    def on_progress(p):
        reports.append(p)
        token.cancel()

    with pytest.raises(Cancelled):
        run(job, on_progress=on_progress, cancel=token)
    assert len(reports) == 1
    assert cleaned == [True]  # the inner job's finally ran when the outer was closed
