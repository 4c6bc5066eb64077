"""The IPython console dock: created on first use, its namespace scripts the viewer, no thread outlives it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("qtconsole")

pytestmark = pytest.mark.usefixtures("no_qt_leaks")
WAIT = 30_000


def test_console_namespace_drives_the_viewer_and_shuts_down(qtbot, window, small_set):
    w = window
    assert w.console_dock is None  # nothing started until asked for
    with qtbot.waitSignal(w.context_loaded, timeout=WAIT):
        w.open_uri(str(small_set["illuminated"]))
    threads_before = set(threading.enumerate())
    w.console_action.trigger()
    dock = w.console_dock
    # fsspec's one IO loop per process (started by the opening's jobs at their own pace) is not the console's.
    started = [t for t in threading.enumerate() if t not in threads_before and not isinstance(t, threading._DummyThread)
               and not t.name.startswith(("fsspecIO", "asyncio_"))]
    assert "IOPub" in [t.name for t in started] and "IPythonHistorySavingThread" not in [t.name for t in started]
    assert dock is not None and dock.isVisible()
    ns = dock.shell.user_ns
    assert ns["controller"] is w.controller and ns["model"] is w.model and ns["window"] is w
    assert ns["exposure"] is w.dataset.primary
    # A command typed at the prompt moves the viewer: the slider and the render follow.
    dock.execute("model.frame = 3")
    qtbot.waitUntil(lambda: w.model.frame == 3 and w.slider.slider.value() == 3, timeout=WAIT)
    qtbot.waitUntil(lambda: w.last_render is not None and w.last_render.request.frame == 3
                    and not w.controller.render_inflight, timeout=WAIT)
    dock.execute("v = exposure.frame(3)[10:12, 20:22].astype(float)")
    np.testing.assert_array_equal(ns["v"], np.asarray(w.dataset.primary.frame(3))[10:12, 20:22])
    dock.execute("rid = controller.add_region(RegionShape('circle', x=30.0, y=40.0, radius=4.0))")
    assert w.controller.regions[ns["rid"]].radius == 4.0
    # Opening another exposure updates the namespace.
    with qtbot.waitSignal(w.context_loaded, timeout=WAIT):
        w.open_uri(str(small_set["darks"][0]))
    assert ns["exposure"] is w.dataset.primary and ns["dataset"] is w.dataset
    # Showing it again reuses the kernel.
    w.console_action.trigger()
    assert w.console_dock is dock
    w.close()
    assert dock.kernel_manager is None
    def left():  # the threads the console started (Qt's worker threads are no_qt_leaks' to check)
        return [t.name for t in started if t.is_alive()]

    try:
        qtbot.waitUntil(lambda: not left(), timeout=5000)
    except Exception:
        raise AssertionError(f"threads left running: {left()}") from None
