"""The panes' fast upload path shows exactly what pyqtgraph's RGBA path showed.

The render job hands the screen ARGB32 words (``PaneImage.argb``) that the
pane blits without conversion; before, the panes uploaded RGBA bytes through
``ImageItem.setImage``.  On the real window and the small synthetic set, for
a cutout and for the full frame, the panes drawn both ways are compared
pixel for pixel (the whole graphics view, colour bars and axes included),
and the words are checked against the RGBA the job computed.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

import pyqtgraph as pg  # noqa: E402
from PyQt6 import QtGui  # noqa: E402

from brightstar_gui.jobs.render import PaneImage, argb32  # noqa: E402
from brightstar_gui.models import Cutout  # noqa: E402

pg.setConfigOptions(imageAxisOrder="row-major")

WAIT = 20_000  # ms

pytestmark = pytest.mark.usefixtures("no_qt_leaks")


def settled(qtbot, w, region):
    def ok():
        r = w.last_render
        return (r is not None and not w.controller.render_inflight and r.request.region == region
                and r.request.context is not None and all(p.rgba is not None for p in r.panes.values()))

    qtbot.waitUntil(ok, timeout=WAIT)
    return w.last_render


def grab(w) -> np.ndarray:
    """The pane group's graphics view as RGBA bytes (what is on screen)."""
    w.panes.graphics.viewport().repaint()
    img = w.panes.graphics.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    return np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine() // 4, 4)[:, : img.width()].copy()


def shown_words(item) -> np.ndarray:
    q = item.qimage.convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    ptr = q.constBits()
    ptr.setsize(q.sizeInBytes())
    return np.frombuffer(ptr, np.uint8).reshape(q.height(), q.bytesPerLine() // 4, 4)[:, : q.width()].copy()


@pytest.mark.parametrize("mode", ["cutout", "full frame"])
def test_fast_path_shows_the_same_pixels_and_levels(qtbot, window, small_set, mode):
    w = window
    with qtbot.waitSignals([w.exposure_opened, w.context_loaded], timeout=WAIT, order="strict"):
        w.open_uri(str(small_set["illuminated"]))
    star = w.controller.dataset.star
    _, h, wd = w.controller.dataset.shape
    if mode == "cutout":
        w.model.cutout = Cutout(star[0], star[1], 40, True)
        region = (star[0] - 40, star[0] + 40, star[1] - 40, star[1] + 40)
    else:
        w.model.cutout = Cutout(star[0], star[1], 40, False)
        region = (0, h, 0, wd)
    w.model.frame = 5
    qtbot.waitUntil(lambda: w.controller.mean_slope("raw", region) is not None, timeout=WAIT)
    w.controller.request_render()
    result = settled(qtbot, w, region)
    assert result.request.frame == 5

    fast = grab(w)
    for kind, pane in result.panes.items():
        item = w.panes.images[kind]
        # The words the screen blits are the job's RGBA, exactly.
        assert pane.opaque and item._argb is pane.argb
        np.testing.assert_array_equal(shown_words(item), pane.rgba)
        # The colour bar shows the pane's levels (the mask's is four categories, no levels).
        shown = w.panes.colorbars[kind].levels()
        if kind == "mask":
            assert shown is None
        else:
            # The bar redraws its ticks only for a change over 0.5 % of the range (colour_bar.set_scale).
            lo, hi = pane.levels
            assert shown == pytest.approx(pane.levels, abs=0.0051 * (hi - lo))
    # The same panes through pyqtgraph's RGBA path (the way before): the same screen.
    for kind, pane in result.panes.items():
        w.panes.set_image(kind, pane.rgba, pane.rect)
        assert w.panes.images[kind]._argb is None
    before = grab(w)
    assert fast.shape == before.shape
    differ = np.argwhere((fast != before).any(axis=2))
    assert differ.size == 0, f"{len(differ)} screen pixels differ, first at {differ[:3].tolist()}"
    # And back: the fast path again gives the same screen.
    for kind, pane in result.panes.items():
        w.panes.set_image(kind, pane.argb, pane.rect, pane.opaque)
    np.testing.assert_array_equal(grab(w), fast)


def test_argb_words_are_the_rgba_colours():
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    argb, opaque = argb32(rgba)
    assert argb.shape == (5, 7) and argb.dtype == np.uint32 and not opaque
    a, r, g, b = (argb >> 24) & 255, (argb >> 16) & 255, (argb >> 8) & 255, argb & 255
    np.testing.assert_array_equal(np.stack([r, g, b, a], axis=-1).astype(np.uint8), rgba)
    rgba[..., 3] = 255
    assert argb32(rgba)[1]
    pane = PaneImage(rgba, (0.0, 0.0, 7.0, 5.0), (0.0, 1.0))
    assert pane.opaque and pane.argb.shape == (5, 7) and not pane.argb.flags.writeable
    assert PaneImage(None, (0.0, 0.0, 1.0, 1.0), (0.0, 1.0)).argb is None
