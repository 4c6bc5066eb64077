"""The viewer on S3: open an exposure from the (loopback) bucket, see the
bytes fetched, and a refused object as a message."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

import pyqtgraph as pg  # noqa: E402
from s3_server import s3_bucket, s3_server  # noqa: E402,F401  (pytest fixtures)

from processing.io import open_exposure  # noqa: E402

pg.setConfigOptions(imageAxisOrder="row-major")
WAIT = 30_000
pytestmark = pytest.mark.usefixtures("no_qt_leaks")


@pytest.fixture
def s3_window(make_window, s3_bucket):
    return make_window((1400, 900), endpoint_url=s3_bucket["endpoint_url"])


def test_open_from_s3_shows_the_frame_and_bytes_fetched(qtbot, s3_window, s3_bucket):
    w = s3_window
    uri = s3_bucket["uri"]["none"]
    with qtbot.waitSignals([w.exposure_opened, w.context_loaded], timeout=WAIT, order="strict"):
        w.open_uri(uri)
    assert w.dataset.uri == uri
    assert w.dataset.primary.model_type == "TvacModel"
    w.state.frame = 4
    qtbot.waitUntil(lambda: w.last_render is not None and w.last_render.request.frame == 4
                    and not w.controller.render_inflight, timeout=WAIT)
    with open_exposure(s3_bucket["local"]["none"]) as local:
        expected = np.array(local.frame(4))
    y0, y1, x0, x1 = w.last_render.request.view
    step = w.last_render.request.step  # screen resolution
    np.testing.assert_array_equal(w.last_render.probe["frame"], expected[y0:y1:step, x0:x1:step])
    w._update_fetch_label()
    text = w.fetch_label.text()
    assert text.startswith("S3: ") and "requests" in text
    fetched = w.dataset.primary.source.stats.snapshot()["bytes_fetched"]
    assert fetched < 0.5 * w.dataset.primary.size  # frames, not the whole object


def test_refused_object_is_a_message(qtbot, s3_window, s3_bucket):
    with qtbot.waitSignal(s3_window.error_shown, timeout=WAIT) as blocker:
        s3_window.open_uri(s3_bucket["private_uri"])
    assert s3_bucket["private_uri"].rsplit("/", 1)[-1] in blocker.args[0]
    assert s3_window.dataset is None


def test_an_s3_prefix_on_the_command_line_is_listed_in_the_s3_tab(qtbot, s3_window, s3_bucket):
    """``brightstar-gui s3://BUCKET/PREFIX/``: listed in the S3 tab like ``brightstar-gui DIR``, not opened."""
    from brightstar_gui.app import build_parser, names_s3_prefix, start
    from brightstar_gui.controllers import StartOptions
    from processing import synth

    assert names_s3_prefix("s3://b") and names_s3_prefix("s3://b/") and names_s3_prefix("s3://b/p/q/")
    assert not names_s3_prefix("s3://b/p/x_uncal.asdf") and not names_s3_prefix("/data/x/")
    w = s3_window
    prefix = f"s3://{s3_bucket['bucket']}/{synth.PROGRAM_DIR}/{synth.ILLUM_ACTIVITY}/"
    opened = []
    w.controller.open = lambda *a, **k: opened.append(a)
    with qtbot.assertNotEmitted(w.error_shown), qtbot.waitSignal(w.s3_browser.listing_finished, timeout=WAIT):
        start(w, build_parser().parse_args([prefix]), StartOptions())
    assert w.s3_browser.location == prefix and opened == []
    names = sorted(w.s3_browser.tree.topLevelItem(i).text(0) for i in range(w.s3_browser.tree.topLevelItemCount()))
    assert names == ["lz4/", "none/", "zlib/"]
    assert w.s3_dock.isVisible()
