"""``brightstar-gui URI --frame --cutout --play --trace``: the command line a user or a benchmark types."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from brightstar_gui.app import build_parser  # noqa: E402
from brightstar_gui.trace import read_trace  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_options_are_checked():
    p = build_parser()
    args = p.parse_args(["x.asdf", "--frame", "3", "--cutout", "100,120,20", "--play", "30", "--trace", "t.jsonl"])
    assert args.cutout == (100, 120, 20) and args.play == 30.0 and args.frame == 3
    for bad in (["--cutout", "1,2"], ["--cutout", "a,b,c"], ["--play", "0"], ["--cutout", "1,2,30", "--full-frame"]):
        with pytest.raises(SystemExit):
            p.parse_args(["x.asdf", *bad])


def _wait_for(path: Path, cond, timeout=90.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if path.exists():
            events = read_trace(path)
            if cond(events):
                return events
        time.sleep(0.2)
    raise AssertionError(f"trace {path} never satisfied the condition: {read_trace(path) if path.exists() else None}")


def test_trace_of_a_cutout_played(small_set, tmp_path):
    trace = tmp_path / "trace.jsonl"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO),
               BRIGHTSTAR_CONFIG_DIR=str(tmp_path / "config"), BRIGHTSTAR_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen([sys.executable, "-m", "brightstar_gui.app", str(small_set["illuminated"]), "--frame", "2",
                             "--cutout", "100,120,20", "--play", "20", "--trace", str(trace)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def played(events):
            frames = {e["frame"] for e in events if e["event"] == "rendered"}
            return len(frames) >= 4

        events = _wait_for(trace, played)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()[-2000:]
    opened = next(e for e in events if e["event"] == "opened")
    assert opened["uri"] == str(small_set["illuminated"]) and events[0]["event"] == "shown"
    rendered = [e for e in events if e["event"] == "rendered"]
    assert rendered[0]["frame"] == 2 and rendered[0]["data_kind"] == "raw"
    assert all(isinstance(e["t"], float) and e["bytes_fetched"] == 0 for e in rendered)
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
    # The cutout on the command line: rows 80-120, columns 100-140, in every pane shown.
    full = [e for e in rendered if set(e["panes"]) == {"raw", "difference", "ratio", "mask"}]
    assert full and all(p == [80, 120, 100, 140] for e in full for p in e["panes"].values())


def test_trace_records_an_error(tmp_path):
    bad = tmp_path / "not.asdf"
    bad.write_text("hello")
    trace = tmp_path / "trace.jsonl"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO),
               BRIGHTSTAR_CONFIG_DIR=str(tmp_path / "config"), BRIGHTSTAR_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen([sys.executable, "-m", "brightstar_gui.app", str(bad), "--trace", str(trace)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        events = _wait_for(trace, lambda ev: any(e["event"] == "error" for e in ev))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    error = next(e for e in events if e["event"] == "error")
    assert error["message"].startswith("Opening: ") and "not.asdf" in error["message"]
