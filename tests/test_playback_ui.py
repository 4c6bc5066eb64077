"""What playback costs the UI thread, driven on the real window (pytest-qt, small set).

Readouts that change with every frame must not re-lay out the window, and
the pixel table (81 cells) follows the frame at most every
``DOCK_PLAYBACK_INTERVAL`` while playing, and exactly once paused.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PyQt6 import QtCore  # noqa: E402

WAIT = 20_000  # ms

pytestmark = pytest.mark.usefixtures("no_qt_leaks")


def test_playing_throttles_the_pixel_table_and_pausing_shows_the_frame(qtbot, window, small_set, monkeypatch):
    from brightstar_gui.controllers import _navigation
    from brightstar_gui.models.pacing import DOCK_PLAYBACK_INTERVAL

    w = window
    with qtbot.waitSignals([w.exposure_opened, w.context_loaded], timeout=WAIT, order="strict"):
        w.open_uri(str(small_set["illuminated"]))
    qtbot.waitUntil(lambda: w.last_render is not None and not w.controller.render_inflight, timeout=WAIT)
    w.pixel_table.follow.setChecked(False)
    r, c = 100, 110
    w.panes.click_pixel(r, c)
    qtbot.waitUntil(lambda: w.pixel_table.shown is not None and w.pixel_table.shown.row == r, timeout=WAIT)
    asked = []
    job = _navigation.pixel_table_job
    monkeypatch.setattr(_navigation, "pixel_table_job", lambda req: (asked.append(req.frame), job(req))[1])
    shown = []
    w.frame_rendered.connect(lambda *_: shown.append(w.model.frame))
    w.model.fps = 60
    w.model.playing = True
    t0 = time.monotonic()
    qtbot.waitUntil(lambda: len(set(shown)) >= 8, timeout=WAIT)
    seconds = time.monotonic() - t0
    w.model.playing = False
    # Playing: a table at most every 0.25 s (the first at once), not one per frame.
    assert len(asked) <= seconds / DOCK_PLAYBACK_INTERVAL + 2
    assert len(shown) > len(asked)
    # Paused: the table shows the frame on screen.
    qtbot.waitUntil(lambda: not w.controller.render_inflight and w.pixel_table.shown.frame == w.model.frame,
                    timeout=WAIT)
    table = w.pixel_table.shown
    from processing.io import open_exposure

    with open_exposure(small_set["illuminated"]) as exp:
        frame = np.asarray(exp.frame(w.model.frame))
    np.testing.assert_array_equal(table.values, frame[r - 4:r + 5, c - 4:c + 5])
    # Rows are still sized to their contents (sized once per fill, not per cell).
    header = w.pixel_table.table.verticalHeader()
    sizes = [header.sectionSize(i) for i in range(header.count())]
    w.pixel_table.table.resizeRowsToContents()
    assert sizes == [header.sectionSize(i) for i in range(header.count())]


def test_per_frame_readouts_do_not_relayout_the_window(qtbot, window, small_set):
    w = window
    for label in (w.slider.label, w.slider.rate_label):
        assert label.minimumSize() == label.maximumSize()  # fixed: a new text repaints only the label
    with qtbot.waitSignals([w.exposure_opened, w.context_loaded], timeout=WAIT, order="strict"):
        w.open_uri(str(small_set["illuminated"]))
    qtbot.waitUntil(lambda: w.last_render is not None and not w.controller.render_inflight, timeout=WAIT)
    # The widest frame text fits the fixed label.
    w.model.frame = w.model.n_frames - 1
    text = w.slider.label.text()
    assert w.slider.label.fontMetrics().horizontalAdvance(text) <= w.slider.label.width()
    # No layout request reaches the main window while frames change (the
    # pixel table's caption, which says the frame, does re-lay out its dock:
    # it is hidden here; playing, it changes at most every 0.25 s).
    w.pixel_table.parentWidget().hide()
    # Background work that ends while frames step (references, the mean slope,
    # the cached-calibration lookup) shows and hides its progress in the status
    # bar, which can re-lay out the window once (the likely cause of the one
    # request seen in a whole-file run): not a per-frame readout, so the count
    # starts when only renders are left.
    qtbot.waitUntil(lambda: not any(ch.busy for name, ch in w.pool._channels.items() if name != "render"),
                    timeout=WAIT)
    qtbot.wait(50)
    seen = []

    class Spy(QtCore.QObject):
        def eventFilter(self, obj, event):
            if event.type() == QtCore.QEvent.Type.LayoutRequest:
                seen.append(obj)
            return False

    spy = Spy()
    w.installEventFilter(spy)
    try:
        for k in range(w.model.n_frames):
            w.model.frame = k
            qtbot.waitUntil(lambda: not w.controller.render_inflight and w.last_render.request.frame == k,
                            timeout=WAIT)
    finally:
        w.removeEventFilter(spy)
    assert seen == []
