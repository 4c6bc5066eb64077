"""Messages and exports the user asked for are not lost, driven on the real window (pytest-qt, small set).

* A "copied: ..." message stays its time in the status bar while a task
  reports progress (progress used to replace it within milliseconds).
* Two figure exports started one after the other both write their file
  (the second used to cancel the first, silently).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")


from brightstar_gui.jobs import opening  # noqa: E402
from processing.progress import Progress  # noqa: E402
from test_gui import FakeResult, fake_ramp, open_and_wait  # noqa: E402,F401  (fake_ramp: fixture)

WAIT = 20_000  # ms

pytestmark = pytest.mark.usefixtures("no_qt_leaks")


@pytest.fixture
def window(make_window):
    return make_window((1500, 950))


def test_copied_message_stays_while_a_task_reports_progress(qtbot, window, small_set, fake_ramp, monkeypatch):
    release = {"go": False}

    def slow_calibration(uri, refs, endpoint_url=None):
        while not release["go"]:
            time.sleep(0.01)
            yield Progress(0.3, "dq_init")
        return FakeResult(fake_ramp)

    monkeypatch.setattr(opening, "calibration_job", slow_calibration)
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    label = w.status_area.message_label
    cy, cx = small_set["star_center"]
    w.pane_menu.menu_for("raw", cy, cx + 20)
    with qtbot.waitSignal(w.pane_menu.value_copied, timeout=WAIT) as blocker:
        w.pane_menu.action("Copy value").trigger()
    w.pane_menu.menu.close()
    copied = f"copied: {blocker.args[0]}"
    assert label.toolTip() == copied
    w.start_calibration()
    # Many progress reports arrive while the copy message is in its time.
    for _ in range(5):
        with qtbot.waitSignal(w.task_progress, timeout=WAIT):
            pass
        assert label.toolTip() == copied
    # The task's message is still to be read, in its row.
    assert w.status_area.tasks["calibrate"].toolTip() == "dq_init"
    # Its time over (shortened here), progress shows again.
    w.status_area._message_timer.setInterval(50)
    qtbot.waitUntil(lambda: label.toolTip() == "dq_init", timeout=WAIT)
    with qtbot.waitSignal(w.calibration_finished, timeout=WAIT):
        release["go"] = True


def test_a_second_figure_export_waits_for_the_first(qtbot, window, small_set, tmp_path):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    qtbot.waitUntil(lambda: w.controller.mean_slope("raw", w.state.region()) is not None, timeout=WAIT)
    written: list[str] = []
    w.export_finished.connect(written.append)
    first, second = tmp_path / "group.png", tmp_path / "pane.svg"
    w.export("group", str(first), pane="ratio", frames=[2, 4, 7])
    w.export("pane", str(second), pane="ratio")
    qtbot.waitUntil(lambda: len(written) == 2, timeout=60_000)
    assert sorted(written) == sorted([str(first), str(second)])
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in second.read_bytes()[:2000]
    assert "export" not in w.status_area.tasks  # the task row went with the last of them
    assert "cancelled" not in w.status_area.message_label.toolTip()
    assert Path(str(first) + ".json").exists() and Path(str(second) + ".json").exists()
