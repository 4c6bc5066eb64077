"""The viewer with bad files and unexpected exceptions: a message naming the file, never an abort."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading

import pytest

pytest.importorskip("pytestqt")

from PyQt6 import QtCore, QtWidgets  # noqa: E402

WAIT = 120_000


@pytest.fixture
def window(make_window):
    from brightstar_gui import crash_guard, verify_status

    w = make_window(size=None)
    w._crash_guard = crash_guard.install(w)
    w._verify_status = verify_status.install(w)
    yield w
    w._crash_guard.uninstall()
    w.close()


def _open(qtbot, w, uri):
    with qtbot.waitSignals([w.exposure_opened, w.context_loaded], timeout=WAIT, order="strict"):
        w.open_uri(str(uri))


def test_an_exception_in_a_slot_is_an_error_box_with_the_traceback(qtbot, window, small_set):
    _open(qtbot, window, small_set["illuminated"])

    class Boom(QtCore.QObject):
        fire = QtCore.pyqtSignal()

    boom = Boom()
    boom.fire.connect(lambda: 1 / 0)
    with qtbot.waitSignal(window.error_shown, timeout=WAIT) as blocker:
        boom.fire.emit()  # under PyQt6 with the default hook this aborts the process
    assert "ZeroDivisionError" in blocker.args[0] or "division" in blocker.args[0]
    assert small_set["illuminated"].name in blocker.args[0]  # the box names the file
    box = window._last_error_box
    assert "Traceback" in box.detailedText() and "ZeroDivisionError" in box.detailedText()


def test_an_exception_in_a_thread_is_shown_too(qtbot, window):
    def work():
        raise ValueError("thread trouble")

    with qtbot.waitSignal(window.error_shown, timeout=WAIT) as blocker:
        t = threading.Thread(target=work, name="worker-x")
        t.start()
        t.join()
    assert "thread trouble" in blocker.args[0] and "worker-x" in blocker.args[0]


def test_a_fifo_is_refused_at_once(qtbot, window, tmp_path):
    pipe = tmp_path / "pipe.asdf"
    os.mkfifo(pipe)
    with qtbot.waitSignal(window.error_shown, timeout=10_000) as blocker:
        window.open_uri(str(pipe))
    assert "pipe.asdf" in blocker.args[0] and "FIFO" in blocker.args[0]


def test_folder_scan_skips_a_fifo(qtbot, window, small_set, tmp_path):
    from brightstar_gui.widgets.file_browser import scan_folder_job
    from processing.progress import run

    folder = tmp_path / "scan"
    folder.mkdir()
    shutil.copy(small_set["illuminated"], folder / "a_uncal.asdf")
    os.mkfifo(folder / "b_uncal.asdf")
    os.symlink(folder / "c_uncal.asdf", folder / "d_uncal.asdf")
    os.symlink(folder / "d_uncal.asdf", folder / "c_uncal.asdf")
    done = {}
    t = threading.Thread(target=lambda: done.setdefault("rows", run(scan_folder_job(folder))), daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive(), "the folder scan hangs on a FIFO"
    assert [r["name"] for r in done["rows"]] == ["a_uncal.asdf"]


def test_status_bar_says_verified_then_corrupt(qtbot, window, small_set, tmp_path):
    _open(qtbot, window, small_set["illuminated"])
    qtbot.waitUntil(lambda: window._verify_status.result is not None, timeout=WAIT)
    assert "verified" in window._verify_status.label.text()
    bad = tmp_path / "bad_uncal.asdf"
    data = bytearray(small_set["illuminated"].read_bytes())
    data[len(data) // 2] ^= 0x08  # a pixel byte: reads fine, only the checksum knows
    bad.write_bytes(bytes(data))
    _open(qtbot, window, bad)
    qtbot.waitUntil(lambda: window._verify_status.result is not None, timeout=WAIT)
    assert "CORRUPT" in window._verify_status.label.text()
    assert window.windowTitle().startswith("[CORRUPT]")
    assert "block" in window._verify_status.label.toolTip()


def test_gui_verbose_flag_is_accepted():
    from brightstar_gui.app import build_parser

    assert build_parser().parse_args(["-v", "-v"]).verbose == 2


def test_gui_process_survives_a_slot_exception(tmp_path):
    """A real process: PyQt6 would abort (SIGABRT) on an exception in a slot without the hook."""
    code = (
        "import sys\n"
        "from PyQt6 import QtCore, QtWidgets\n"
        "app = QtWidgets.QApplication(sys.argv[:1])\n"
        "from brightstar_gui.widgets.main_window import MainWindow\n"
        "from brightstar_gui import crash_guard\n"
        "w = MainWindow(); g = crash_guard.install(w)\n"
        "w.error_shown.connect(lambda text: (print('SHOWN', text), app.quit()))\n"
        "QtCore.QTimer.singleShot(100, lambda: 1 / 0)\n"
        "QtCore.QTimer.singleShot(20000, app.quit)\n"
        "app.exec()\n"
        "w.close()\n"
        "print('ALIVE')\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", BRIGHTSTAR_LOG_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "SHOWN" in done.stdout and "ALIVE" in done.stdout


_ = QtWidgets
