"""Display rules as a user meets them: levels, resets, locks, scales, the mask legend, flag and NaN colours.

The small synthetic exposure (hot pixels flagged in the mask reference, a
saturated star core whose mean slope is undefined) is opened in the real
window; the test types levels, opens another exposure, switches scales and
reads back the pixels uploaded to the panes and the colour bars' contents.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

pytest.importorskip("pytestqt")

from brightstar_gui import settings as settings_mod  # noqa: E402
from brightstar_gui.models import Cutout, ViewModel  # noqa: E402
from processing import pane_colours  # noqa: E402
from processing.figures import stretch  # noqa: E402

from test_gui import open_and_wait, wait_render, window  # noqa: E402,F401

pytestmark = pytest.mark.usefixtures("no_qt_leaks")


def uploaded(w, kind):
    """The RGBA bytes (h, w, 4) the pane shows: its ImageItem's image (ARGB32 words, or RGBA bytes)."""
    img = np.asarray(w.panes.images[kind].image)
    if img.ndim == 2 and img.dtype == np.uint32:
        img = np.stack([(img >> 16) & 255, (img >> 8) & 255, img & 255, img >> 24], axis=-1).astype(np.uint8)
    return img


def test_typed_min_keeps_the_max_in_force(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    lo, hi = w.last_render.panes["raw"].levels
    assert w.state.displays["raw"].mode == "percentile" and hi > 1000  # not the stored default 1.0
    w.controls.pane.setCurrentIndex(0)
    qtbot.waitUntil(lambda: abs(w.controls.vmax.value() - hi) < 1e-3 * hi, timeout=5000)
    w.controls.vmin.setValue(lo + 10.0)
    d = w.state.displays["raw"]
    assert d.mode == "manual" and d.vmin == pytest.approx(lo + 10.0) and d.vmax == pytest.approx(hi, rel=1e-6)
    r = wait_render(qtbot, w)
    assert r.panes["raw"].levels == pytest.approx((lo + 10.0, hi), rel=1e-6)
    # The pane is not blank: its pixels span the colour table.
    assert len(np.unique(uploaded(w, "raw").reshape(-1, 4), axis=0)) > 50
    # A typed max keeps the min; switching to manual keeps both.
    w.controls.vmax.setValue(hi - 5.0)
    assert w.state.displays["raw"].vmin == pytest.approx(lo + 10.0)
    w.controls.pane.setCurrentIndex(1)
    dlo, dhi = w.last_render.panes["difference"].levels
    w.controls.mode.setCurrentText("manual")
    d = w.state.displays["difference"]
    assert (d.vmin, d.vmax) == pytest.approx((dlo, dhi), rel=1e-3)


def test_reset_display_per_pane_and_for_all(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    w.controls.pane.setCurrentIndex(0)
    w.controls.vmin.setValue(5.0)
    w.controls.scale.setCurrentText("log")
    w.controls.pane.setCurrentIndex(1)
    w.controls.cmap.setCurrentText("gray")
    w.controls.pane.setCurrentIndex(0)
    w.controls.reset_pane.click()
    assert w.state.displays["raw"] == ViewModel().displays["raw"]
    assert w.state.displays["difference"].cmap == "gray"
    w.controls.reset_all.click()
    assert w.state.displays == ViewModel().displays
    r = wait_render(qtbot, w)
    assert r.request.style("raw").mode == "percentile"


def test_new_exposure_starts_from_the_default_stretch_unless_locked(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    w.controls.pane.setCurrentIndex(1)
    w.controls.vmin.setValue(-3.0)
    w.controls.vmax.setValue(3.0)
    w.controls.cmap.setCurrentText("gray")
    assert w.state.displays["difference"].mode == "manual"
    open_and_wait(qtbot, w, small_set["darks"][0])
    d = w.state.displays["difference"]
    # Levels back to the default stretch; the colour map chosen is kept.
    assert d.mode == "percentile" and (d.low, d.high) == (2.0, 98.0) and d.cmap == "gray"
    assert w.last_render.request.style("difference").mode == "percentile"
    # Locked: the next exposure keeps them.
    w.controls.vmin.setValue(-3.0)
    w.controls.vmax.setValue(3.0)
    w.controls.lock.setChecked(True)
    assert w.state.levels_locked
    open_and_wait(qtbot, w, small_set["illuminated"])
    assert w.last_render.panes["difference"].levels == pytest.approx((-3.0, 3.0))


def test_manual_levels_persist_across_sessions_only_when_locked(tmp_path):
    s = settings_mod.QtCore.QSettings(str(tmp_path / "s.ini"), settings_mod.QtCore.QSettings.Format.IniFormat)
    m = ViewModel()
    m.set_display("raw", mode="manual", vmin=10.0, vmax=20.0, cmap="gray")
    settings_mod.save_state(s, m)
    fresh = ViewModel()
    settings_mod.load_state(s, fresh)
    assert fresh.displays["raw"].mode == "percentile" and fresh.displays["raw"].cmap == "gray"
    m.levels_locked = True
    settings_mod.save_state(s, m)
    fresh = ViewModel()
    settings_mod.load_state(s, fresh)
    assert fresh.levels_locked and (fresh.displays["raw"].vmin, fresh.displays["raw"].vmax) == (10.0, 20.0)


def test_mask_legend_is_four_categories(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    row, col = small_set["star_center"]
    w.state.cutout = Cutout(row, col, 128, True)
    r = wait_render(qtbot, w, region=w.state.region())
    assert r.request.step == 1
    bar = w.panes.colorbars["mask"]
    assert bar.tick_labels == ["none", "diagonal", "4-neighbour", "saturated"]
    colours = pane_colours.mask_colours(w.state.displays["mask"].cmap)
    np.testing.assert_array_equal(bar.colours_along(), colours)
    # Every pixel of the mask pane is one of the four legend colours, each code its own.
    codes = r.probe["mask_codes"].astype(int)
    shown = uploaded(w, "mask")[: codes.shape[0], : codes.shape[1]]
    np.testing.assert_array_equal(shown, colours[codes])
    assert set(np.unique(codes)) == {0, 1, 2, 3}


def test_flagged_and_undefined_pixels_have_distinct_listed_colours(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    row, col = small_set["star_center"]
    w.state.cutout = Cutout(row, col, 40, True)
    qtbot.waitUntil(lambda: w.last_render.request.mean_slope is not None and w.last_render.request.region == w.state.region()
                    and not w.controller.render_inflight, timeout=20_000)
    r = w.last_render
    assert r.request.step == 1
    y0, y1, x0, x1 = r.request.view
    bad = np.asarray(w.controller.context.bad[y0:y1, x0:x1])
    mean = r.probe["mean_slope"]
    undefined = ~(np.isfinite(mean) & (mean != 0)) & ~bad
    assert undefined.any() and bad.any()  # the saturated core, and hot pixels
    flag, nan = pane_colours.screen_colours(w.state.displays["ratio"].cmap)
    assert flag != nan
    shown = uploaded(w, "ratio")
    assert (shown[bad] == flag).all()
    assert (shown[undefined] == nan).all()
    # Not the colour-map colours, and listed under the colour bar.
    assert "DQ flag" in w.panes.colorbars["ratio"].tick_labels and "NaN" in w.panes.colorbars["ratio"].tick_labels
    legend = dict(w.panes.colorbars["ratio"]._legend)
    assert legend == {"DQ flag": flag, "NaN": nan}
    # The raw pane's flags use its own colour map's flag colour.
    raw_flag = pane_colours.screen_colours(w.state.displays["raw"].cmap)[0]
    assert (uploaded(w, "raw")[bad] == raw_flag).all()


def test_log_colour_bar_colours_and_labels_follow_the_scale(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    w.controls.pane.setCurrentIndex(0)
    w.controls.scale.setCurrentText("log")
    r = wait_render(qtbot, w)
    assert r.request.style("raw").scale == "log"
    bar = w.panes.colorbars["raw"]
    along = bar.colours_along().astype(int)
    cmap = matplotlib.colormaps[w.state.displays["raw"].cmap]
    expected = np.round(cmap(np.linspace(0, 1, len(along))) * 255).astype(int)
    # Colours spread along the bar as the stretch spreads them (not one colour for 90 % of it).
    # (The bottom of a log table is coarse: 4096 entries for a stretch 145 times steeper there.)
    assert np.abs(along - expected).mean() <= 2 and np.abs(along - expected).max() <= 20
    lo, hi = r.panes["raw"].levels
    ticks = bar.getAxis("right")._tickLevels[0]
    values = [(pos, float(label)) for pos, label in ticks if label not in ("DQ flag", "NaN")]
    assert len(values) >= 3
    for pos, v in values:
        assert pos == pytest.approx(float(stretch((v - lo) / (hi - lo), "log")), abs=0.01 + 1e-3)


def test_full_frame_flags_neither_vanish_nor_flood(qtbot, window, small_set):
    from processing.panes import flag_blocks, flag_positions

    # A lone hot pixel does not flag its block; a mostly flagged block is flagged.
    bad = np.zeros((8, 8), bool)
    bad[1, 1] = True
    bad[4:8, 4:7] = True
    np.testing.assert_array_equal(flag_blocks(bad, 4), [[False, False], [False, True]])
    np.testing.assert_array_equal(flag_positions(bad, (0, 4, 0, 4)), [[1, 1]])
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    w.state.cutout = Cutout(*small_set["star_center"], 128, False)
    w.panes.viewbox.setRange(xRange=(0, 4096), yRange=(0, 4096), padding=0)  # zoomed far out: step > 1
    wait_render(qtbot, w)
    qtbot.waitUntil(lambda: w.last_render.request.step > 1 and not w.controller.render_inflight, timeout=20_000)
    full_bad = np.asarray(w.controller.context.bad)
    flag = pane_colours.screen_colours(w.state.displays["raw"].cmap)[0]
    shown = uploaded(w, "raw")
    n_flagged_blocks = int((shown == flag).all(axis=-1).sum())
    assert n_flagged_blocks < np.count_nonzero(full_bad)  # no peppering by max-pooling
    # The overlay rings every flagged pixel in view but the reference-pixel border,
    # once there are few enough in view not to carpet the image.
    w.controls.flag_marks.setChecked(True)
    dq = np.asarray(w.controller.context.pixeldq)
    findable = (dq & ~np.uint32(2**31)) != 0
    assert 0 < np.count_nonzero(findable) < np.count_nonzero(full_bad)
    rows, cols = np.nonzero(findable)
    r0, c0 = int(rows[len(rows) // 2]), int(cols[len(rows) // 2])
    w.panes.viewbox.setRange(xRange=(c0 - 20, c0 + 20), yRange=(r0 - 20, r0 + 20), padding=0)
    qtbot.wait(300)
    (vx0, vx1), (vy0, vy1) = w.panes.viewbox.viewRange()
    y0, x0 = max(0, int(np.floor(vy0))), max(0, int(np.floor(vx0)))
    inside = findable[y0 : int(np.ceil(vy1)), x0 : int(np.ceil(vx1))]
    want = {(y0 + a, x0 + b) for a, b in zip(*np.nonzero(inside))}
    xs, ys = w.panes.flag_marks["raw"].getData()
    assert (r0, c0) in want and len(want) <= 20
    assert set(zip((ys - 0.5).astype(int), (xs - 0.5).astype(int))) == want
    xs_mask = w.panes.flag_marks["mask"].getData()[0]
    assert len(xs_mask) == len(want)  # on every pane
    w.controls.flag_marks.setChecked(False)
    assert len(w.panes.flag_marks["raw"].getData()[0]) == 0


def test_levels_over_the_visible_area_when_asked(qtbot, window, small_set):
    w = open_and_wait(qtbot, window, small_set["illuminated"])
    row, col = small_set["star_center"]
    whole = w.last_render.panes["raw"].levels
    w.panes.viewbox.setRange(xRange=(col - 6, col + 6), yRange=(row - 6, row + 6), padding=0)
    qtbot.wait(200)
    r = wait_render(qtbot, w)
    assert r.panes["raw"].levels == pytest.approx(whole)  # zooming keeps the region's stretch
    w.controls.visible_stretch.setChecked(True)
    qtbot.waitUntil(lambda: w.last_render.request.level_region is not None and not w.controller.render_inflight,
                    timeout=20_000)
    r = w.last_render
    ly0, ly1, lx0, lx1 = r.request.level_region
    assert ly1 - ly0 <= 16 and lx1 - lx0 <= 40
    assert r.panes["raw"].levels != pytest.approx(whole)
    from processing.io import open_exposure

    with open_exposure(small_set["illuminated"]) as exp:
        part = exp.frame(r.request.frame)[ly0:ly1, lx0:lx1].astype(np.float32)
    good = part[~np.asarray(w.controller.context.bad[ly0:ly1, lx0:lx1])]
    assert r.panes["raw"].levels[1] == pytest.approx(np.percentile(good, 98), rel=0.02)
