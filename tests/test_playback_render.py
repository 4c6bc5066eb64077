"""A frame rendered while playing shows what the same frame shows paused.

While playing the render job skips the histogram and composes a pane's
levels sample only when its stretch needs one (a manual ratio stretch does
not); the mask pane's codes stay integers and are coloured by table lookups.
None of that may change a pixel: the panes of a played frame (RGBA bytes,
the ARGB32 words uploaded to the screen, levels) must equal the paused
frame's, for the zoomed-in cutout (step 1) and the whole frame (step > 1).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from brightstar_gui.jobs.render import argb32, render_job  # noqa: E402
from brightstar_gui.models import Cutout  # noqa: E402
from processing import pane_colours  # noqa: E402

from test_gui import open_and_wait, wait_render, window  # noqa: E402,F401

pytestmark = pytest.mark.usefixtures("no_qt_leaks")


@pytest.mark.parametrize("zoomed_in, step", [(True, None), (False, 2), (False, 3)],
                         ids=["cutout", "full-frame-step2", "full-frame-step3"])
def test_played_frame_shows_the_paused_frames_pixels(qtbot, window, small_set, zoomed_in, step):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    c = w.controller
    row, col = small_set["star_center"]
    w.state.cutout = Cutout(row, col, 64, zoomed_in)
    qtbot.waitUntil(lambda: c.last_render.request.region == w.state.region() and c.last_render.request.mean_slope is not None
                    and not c.render_inflight, timeout=30_000)
    assert w.state.displays["ratio"].mode == "manual"  # the pane whose sample is skipped while playing
    assert {w.state.displays[k].mode for k in ("raw", "difference")} == {"percentile"}
    n = w.state.n_frames
    for k in (1, n // 2, n - 1):
        req = c.build_render_request(frame=k)
        if step is not None:
            # What a zoomed-out screen asks: every step-th pixel (levels sampled
            # from the view when the sample's stride is a multiple of the step, read apart otherwise).
            req = replace(req, view=req.region, step=step)
        paused = render_job(replace(req, histogram_pane=None))
        played = render_job(replace(paused.request, histogram_pane=""))
        for kind, pane in paused.panes.items():
            shown = played.panes[kind]
            assert pane.rgba is not None, kind
            np.testing.assert_array_equal(shown.rgba, pane.rgba, err_msg=f"{kind} frame {k}")
            np.testing.assert_array_equal(shown.argb, pane.argb, err_msg=f"{kind} frame {k}")
            assert shown.levels == pane.levels and shown.opaque == pane.opaque
            # The words the screen blits are the RGBA bytes, as 0xAARRGGBB.
            np.testing.assert_array_equal(shown.argb, argb32(shown.rgba)[0])
            assert pane.histogram is not None and (shown.histogram is None or kind == "mask")
        codes = played.probe["mask_codes"]
        np.testing.assert_array_equal(played.panes["mask"].rgba, pane_colours.mask_colours(w.state.displays["mask"].cmap)[codes])


def test_mask_colours_of_codes_of_any_type():
    """Codes are rounded and clipped to the four categories; an undefined code is "none"."""
    table = pane_colours.mask_colours("magma_r")
    codes = np.array([[0, 1, 2, 3], [-1, 7, np.nan, np.inf], [0.4, 0.6, 2.5, -np.inf]], dtype=np.float32)
    expect = table[[[0, 1, 2, 3], [0, 3, 0, 3], [0, 1, 2, 0]]]
    np.testing.assert_array_equal(pane_colours.colour_mask(codes, "magma_r"), expect)
    np.testing.assert_array_equal(pane_colours.colour_mask(np.array([[0, 1, 2, 3]], np.uint8)), table[[[0, 1, 2, 3]]])
    np.testing.assert_array_equal(pane_colours.colour_mask(np.array([[-2, 5]])), table[[[0, 3]]])
