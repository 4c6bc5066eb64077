"""Shared fixtures: isolated user directories and small synthetic data sets.

Every test session gets its own cache directory and every test its own config
directory, so tests never touch (or depend on) a user's caches or each other's
saved settings.  Data sets are written by the
project's own generator (:mod:`processing.synth`) once per session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from campaign_helpers import campaign, wide_calibrated, wide_campaign  # noqa: F401  (once per session)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def _isolated_user_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("userdirs")
    old = {k: os.environ.get(k) for k in ("BRIGHTSTAR_CACHE_DIR", "BRIGHTSTAR_CONFIG_DIR")}
    os.environ["BRIGHTSTAR_CACHE_DIR"] = str(root / "cache")
    os.environ["BRIGHTSTAR_CONFIG_DIR"] = str(root / "config")
    yield root
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _fresh_config_dir(tmp_path_factory, monkeypatch):
    """Each test starts with no saved settings: a window closed by one test saves its
    displays, layout and session choices, which must not change what the next test sees."""
    monkeypatch.setenv("BRIGHTSTAR_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(scope="session")
def small_set(tmp_path_factory) -> dict:
    """The tutorial's file set at 256 x 256, 8 reads (seconds to write).

    Returns the manifest with absolute paths: ``illuminated`` (Path),
    ``darks`` (list of Path), ``references`` (dict type -> Path),
    ``star_center`` (row, col), ``root`` (Path), ``config``.
    """
    from processing import synth
    from processing.progress import run

    root = tmp_path_factory.mktemp("small_set")
    cfg = synth.SynthConfig(frames=8, size=256, seed=7)
    manifest = run(synth.write_dataset_job(root, cfg))
    return {
        "root": root,
        "illuminated": root / manifest["illuminated"],
        "darks": [root / d for d in manifest["darks"]],
        "references": {k: root / v for k, v in manifest["references"].items()},
        "star_center": tuple(manifest["star_center"]),
        "config": manifest["config"],
    }


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``slow`` unless BRIGHTSTAR_SLOW_TESTS=1."""
    if os.environ.get("BRIGHTSTAR_SLOW_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="full-size test: set BRIGHTSTAR_SLOW_TESTS=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def make_window(qtbot):
    """Build main windows as the program's start does: shown, exposed, closed after the test.

    ``make_window(size=(1280, 800), **kwargs)`` returns a shown
    :class:`~brightstar_gui.widgets.main_window.MainWindow` (``kwargs`` go to
    it, e.g. ``endpoint_url``); ``size=None`` keeps the window's own size.
    Every window is closed at the end of the test (its ``closeEvent``:
    settings saved, workers joined), then deleted by pytest-qt.
    """
    from brightstar_gui.widgets.main_window import MainWindow

    made: list = []

    def make(size: tuple[int, int] | None = (1280, 800), **kwargs):
        w = MainWindow(**kwargs)
        qtbot.addWidget(w)
        if size is not None:
            w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


@pytest.fixture
def window(make_window):
    """A fresh main window, 1280 x 800 (a test file may override this fixture for another size)."""
    return make_window()


@pytest.fixture
def no_qt_leaks(qapp, monkeypatch):
    """Fail a test that leaves a worker QThread or a QTimer running (napari's dangling fixtures).

    Every QTimer started during the test is recorded (``QTimer.start`` is
    wrapped, as napari's ``_dangling_qtimers`` does); worker threads come from
    :func:`brightstar_gui.workers.live_threads`.
    """
    from PyQt6 import QtCore, QtWidgets

    from brightstar_gui import workers

    before = set(workers.live_threads())
    started: list = []
    original = QtCore.QTimer.start

    def start(self, *args):
        started.append(self)
        return original(self, *args)

    monkeypatch.setattr(QtCore.QTimer, "start", start)
    yield
    QtWidgets.QApplication.processEvents()
    left = [t for t in workers.live_threads() if t not in before and t.isRunning()]
    for t in left:  # stop them so that later tests are not affected, then fail
        t._channel.stop(2000)
    running = []
    for timer in started:
        try:
            if timer.isActive():
                running.append(timer.objectName() or repr(timer))
                timer.stop()
        except RuntimeError:  # deleted with its parent: not running
            pass
    assert not left, f"worker threads still running after the test: {[t.objectName() for t in left]}"
    assert not running, f"QTimers still running after the test: {running}"
