"""The first minutes in the real window: demo progress, loading messages, the trace."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from brightstar_gui import demo as demo_mod  # noqa: E402
from brightstar_gui.jobs import opening  # noqa: E402
from brightstar_gui.jobs import render as render_mod  # noqa: E402
from brightstar_gui.trace import read_trace  # noqa: E402
from processing.progress import run  # noqa: E402


@pytest.fixture
def window(make_window):
    return make_window((1400, 900))


def test_demo_progress_says_what_it_writes_and_never_goes_back(qtbot, window, capfd):
    """Two labelled tasks, first look then darks, each 0 -> 100 % without a step back;
    the empty panes say so while the first look is written; the terminal prints the same."""
    from processing import synth

    events: list[tuple[str, float, str]] = []
    empty_texts: list[str] = []
    window.task_progress.connect(lambda task, f, m: (
        events.append((task, f, m)),
        empty_texts.append(window.panes.messages["raw"].toPlainText()) if window.session is None else None))
    window.start_demo(frames=3, size=96)
    folder = demo_mod.demo_folder(3, 96)
    qtbot.waitUntil(lambda: (synth.read_manifest(folder) or {}).get("complete") is True, timeout=120_000)
    qtbot.waitUntil(lambda: "darks" not in window._tasks and window.session is not None, timeout=20_000)

    tasks = [t for t, _, _ in events if t in (demo_mod.FIRST_LOOK, demo_mod.DARKS)]
    assert tasks[0] == demo_mod.FIRST_LOOK and tasks[-1] == demo_mod.DARKS
    assert tasks == sorted(tasks, key=[demo_mod.FIRST_LOOK, demo_mod.DARKS].index)  # first look ends before darks
    for task in (demo_mod.FIRST_LOOK, demo_mod.DARKS):
        shown = [window_f for t, window_f, _ in events if t == task]
        assert len(shown) > 3
        # What the bar shows is the running maximum of what the job reports.
        bars = [max(shown[: i + 1]) for i in range(len(shown))]
        assert bars == sorted(bars)
    assert empty_texts and all(t.startswith("Writing the demo data set\n(first use only)") for t in empty_texts)
    # The long file name never reaches the pane (its role does: unit-tested
    # below, since which progress messages a 96-px demo shows depends on the
    # pool's 50 ms throttle).
    assert not any("_uncal.asdf" in t for t in empty_texts)
    assert any(f"{demo_mod.FIRST_LOOK}: " in t and str(folder) in t for t in empty_texts)

    err = capfd.readouterr().err
    assert "brightstar-gui: demo: first look   0%" in err
    assert "brightstar-gui: demo: first look 100%" in err
    assert "brightstar-gui: demo: darks 100%" in err
    assert err.index("demo: first look 100%") < err.index("demo: darks")


def test_task_progress_is_monotonic_and_prints_in_steps(capsys):
    import sys

    p = demo_mod.TaskProgress("Demo: darks", stream=sys.stdout, step=0.25)
    shown = [p.update(f, f"m{f}") for f in (0.0, 0.1, 0.3, 0.2, 0.05, 0.6, 1.0, 0.4)]
    assert shown == [0.0, 0.1, 0.3, 0.3, 0.3, 0.6, 1.0, 1.0]
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["brightstar-gui: demo: darks   0%  m0.0", "brightstar-gui: demo: darks  30%  m0.3",
                     "brightstar-gui: demo: darks  60%  m0.6", "brightstar-gui: demo: darks 100%  m1.0"]


def test_panes_say_loading_while_reference_files_load(qtbot, window, small_set):
    """Before the context job has read the references the derived panes say
    "loading reference files...", not "no saturation reference"."""
    with qtbot.waitSignal(window.context_loaded, timeout=20_000):
        window.open_uri(str(small_set["illuminated"]))
    from dataclasses import replace

    req = window.controller.build_render_request()
    # The same request before the context job has read the references (context None).
    panes = render_mod.render_job(replace(req, context=None)).panes
    assert panes["mask"].message == render_mod.LOADING_REFERENCES
    if req.frame >= 1 and req.mean_slope is None:
        assert panes["ratio"].message == render_mod.LOADING_REFERENCES
    assert render_mod.render_job(req).panes["mask"].rgba is not None


def test_trace_writes_opened_rendered_and_error_lines(qtbot, window, small_set, tmp_path):
    from brightstar_gui.trace import attach

    path = tmp_path / "trace.jsonl"
    trace = attach(window, path)
    qtbot.waitUntil(lambda: any(e["event"] == "shown" for e in read_trace(path)), timeout=5000)
    with qtbot.waitSignal(window.frame_rendered, timeout=20_000):
        window.open_uri(str(small_set["illuminated"]))
    window.state.frame = 5
    qtbot.waitUntil(lambda: any(e["event"] == "rendered" and e["frame"] == 5 for e in read_trace(path)), timeout=20_000)
    window.show_error("Export", "disk full")
    trace.close()
    events = read_trace(path)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "shown", events[:3]
    assert "opened" in kinds and kinds[-1] == "error"
    ts = [e["t"] for e in events]
    assert ts == sorted(ts)
    opened = next(e for e in events if e["event"] == "opened")
    assert opened["uri"] == str(small_set["illuminated"])
    rendered = [e for e in events if e["event"] == "rendered"]
    last = next(e for e in rendered if e["frame"] == 5)
    assert last["data_kind"] == "raw" and last["bytes_fetched"] == 0
    assert set(last["panes"]) == {"raw", "difference", "ratio", "mask"}
    y0, y1, x0, x1 = last["panes"]["raw"]
    assert 0 <= y0 < y1 <= 256 and 0 <= x0 < x1 <= 256
    left, top, width, height = last["screen"]["raw"]
    assert width > 50 and height > 50  # the image's place on screen, for screenshot checks
    assert events[-1]["message"].startswith("Export: ") and events[-1]["message"].endswith("disk full")


def test_cancelled_demo_says_so(qtbot, window, monkeypatch):
    import threading

    from processing import synth

    # Cancel once the job runs (a job cancelled while still pending is dropped
    # without a callback: a workers.py limitation, see the notes), and before
    # the tiny exposure is written: the job waits for the test.
    gate = threading.Event()
    real = synth.write_illuminated_job

    def held(*args, **kwargs):
        yield synth.Progress(0.0, "held by the test")
        assert gate.wait(60)
        return (yield from real(*args, **kwargs))

    monkeypatch.setattr(synth, "write_illuminated_job", held)
    with qtbot.waitSignal(window.task_progress, timeout=20_000):
        window.start_demo(frames=4, size=160)
    assert window.panes.messages["raw"].toPlainText().startswith("Writing the demo")
    window.pool.cancel("demo")
    gate.set()
    qtbot.waitUntil(lambda: "demo" not in window._tasks, timeout=60_000)
    assert window.panes.messages["raw"].toPlainText().startswith("Demo data cancelled.")
    assert window.session is None
    assert synth.read_manifest(demo_mod.demo_folder(4, 160)) is None  # nothing that reads as a usable set


def test_demo_empty_text_names_the_role_not_the_file(tmp_path):
    """The empty pane says which exposure is being written in a few words."""
    from processing.synth import ILLUM_STAMP

    progress = demo_mod.TaskProgress(demo_mod.FIRST_LOOK, stream=None)
    progress.update(0.3, f"TVAC2_TOHOTQUAL_WFISAT_{ILLUM_STAMP}_WFI11_uncal.asdf: read 12/55")
    text = progress.empty_text(tmp_path)
    assert "illuminated exposure: read 12/55" in text and "_uncal.asdf" not in text
    assert f"{demo_mod.FIRST_LOOK}: 30%" in text and str(tmp_path) in text
    progress.update(0.2, "TVAC2_TOHOTQUAL_WFISAT_20240506225304_WFI11_uncal.asdf: saving")
    text = progress.empty_text(tmp_path)
    assert "dark exposure: saving" in text and f"{demo_mod.FIRST_LOOK}: 30%" in text  # never backwards
