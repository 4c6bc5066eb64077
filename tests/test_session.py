"""Session files: the Qt-free format (round trip, versions, bad files) and save/restore in the viewer.

The GUI tests set a state the way a user does (slider, cutout, zoom, display
settings, a region, a superbias from the darks), save it from the File menu,
restore it into a fresh window and compare the two states; a broken or stale
session file gives a message naming it and changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from processing.session_file import (
    SESSION_VERSION,
    RegionShape,
    Session,
    SessionFileError,
    read_session,
    session_from_json,
    write_session,
)

WAIT = 30_000


def sample_session(uri="/data/x.asdf") -> Session:
    return Session(exposures=(uri,), frame=4, baseline=2, data_kind="raw",
                   cutout={"row": 100, "col": 120, "half": 40, "enabled": True}, view=(80.0, 140.0, 90.0, 150.0),
                   displays={"raw": {"cmap": "magma", "mode": "manual", "vmin": 1.0, "vmax": 9.0}},
                   flag_color=(255, 0, 0), selected_pixel=(101, 121), pins=((1, 2), (3, 4)),
                   regions=(RegionShape("circle", x=3.0, y=4.0, radius=2.5), RegionShape.rectangle(0, 4, 10, 20)),
                   superbias={"darks": ["/d/1.asdf"], "method": "median", "subtract": True})


# -- the file format ----------------------------------------------------------------------------


def test_round_trip_is_readable_json_and_keeps_unknown_keys(tmp_path):
    path = tmp_path / "s.json"
    s = sample_session()
    write_session(path, s)
    doc = json.loads(path.read_text())
    assert doc["format"] == "brightstar-gui session" and doc["version"] == SESSION_VERSION
    assert doc["regions"][0] == {"kind": "circle", "x": 3.0, "y": 4.0, "radius": 2.5}
    assert path.read_text().count("\n") > 20  # indented: readable and diffable
    assert read_session(path) == s
    # A key a newer minor feature wrote is kept and written back.
    doc["onset_contours"] = [3, 7]
    path.write_text(json.dumps(doc))
    again = read_session(path)
    assert again.extra == {"onset_contours": [3, 7]}
    write_session(tmp_path / "t.json", again)
    assert json.loads((tmp_path / "t.json").read_text())["onset_contours"] == [3, 7]
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("change, words", [
    (lambda d: d.update(version=SESSION_VERSION + 1), "newer brightstar-gui"),
    (lambda d: d.update(version="1"), "bad session version"),
    (lambda d: d.pop("version"), "bad session version"),
    (lambda d: d.pop("format"), "not a session file"),
    (lambda d: d.update(frame="3"), "'frame' must be an integer"),
    (lambda d: d.update(exposures="/x.asdf"), "'exposures' must be a list"),
    (lambda d: d.update(regions=[{"kind": "polygon", "x": 1, "y": 1}]), "region 1: region kind"),
    (lambda d: d.update(regions=[{"kind": "circle", "x": 1, "y": 1, "radius": -2}]), "region 1: a circle needs"),
    (lambda d: d.update(view=[1, 2, 3]), "'view' must be"),
    (lambda d: d.update(pins=[[1]]), "'pins' must be a [row, col] pair"),
    (lambda d: d.update(data_kind="cooked"), "'data_kind'"),
])
def test_bad_documents_are_named_errors(tmp_path, change, words):
    doc = sample_session().to_json()
    change(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SessionFileError) as info:
        read_session(path)
    assert str(path) in str(info.value) and words in str(info.value)


def test_unreadable_files_are_named_errors(tmp_path):
    for name, content in (("trunc.json", '{"format": "brightstar-gui sess'), ("bin.json", b"\xff\xfe\x00")):
        p = tmp_path / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(SessionFileError, match="not a session file"):
            read_session(p)
    with pytest.raises(SessionFileError, match="cannot read"):
        read_session(tmp_path / "none.json")
    with pytest.raises(SessionFileError, match="not a session file"):
        session_from_json([1, 2], "list.json")


def test_missing_exposures_are_listed(tmp_path):
    real = tmp_path / "real.asdf"
    real.write_bytes(b"")
    s = replace(sample_session(str(real)), exposures=(str(real), str(tmp_path / "gone.asdf"), "s3://b/k.asdf"))
    assert s.missing_exposures() == [str(tmp_path / "gone.asdf")]


# -- in the viewer ----------------------------------------------------------------------------------

pytest.importorskip("pytestqt")


def file_action(w, prefix):
    menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&File")
    return next(a for a in menu.actions() if a.text().startswith(prefix))


def wait_ready(qtbot, w):
    qtbot.waitUntil(lambda: w.dataset is not None and w.controller.context is not None and w.last_render is not None
                    and not w.controller.render_inflight and w.controller.pending_view is None, timeout=WAIT)


def comparable(session: Session) -> dict:
    d = session.to_json()
    d.pop("view")
    return d


@pytest.mark.usefixtures("no_qt_leaks")
def test_save_and_restore_into_a_fresh_window(qtbot, make_window, small_set, tmp_path, monkeypatch):
    from PyQt6 import QtWidgets

    from brightstar_gui.models import Cutout

    w = make_window()
    with qtbot.waitSignal(w.context_loaded, timeout=WAIT):
        w.open_uri(str(small_set["illuminated"]))
    wait_ready(qtbot, w)
    m = w.model
    m.frame = 5
    m.baseline = 2
    m.cutout = Cutout(120, 110, 48, True)
    m.set_display("raw", cmap="magma", mode="manual", vmin=9000.0, vmax=30000.0)
    m.set_display("difference", low=5.0, high=95.0, scale="asinh")
    m.selected_pixel = (118, 109)
    w.controller.add_region(RegionShape("annulus", x=128.0, y=128.0, inner=6.0, outer=14.0))
    w.controller.pin_pixel(100, 101)  # the pane menu's Pin pixel (whichever pin API is merged)
    w.controller.pin_pixel(128, 128)
    dlg = w.show_superbias_dialog()
    with qtbot.waitSignal(dlg.superbias_ready, timeout=WAIT):
        dlg.compute()
    dlg.subtract.setChecked(True)
    assert m.subtract_superbias
    dark = str(small_set["darks"][1])
    w.controller.set_compare("exposure", uri=dark)
    qtbot.waitUntil(lambda: w.controller.compare_exposure is not None, timeout=WAIT)
    w.compare_widget.choice["left"].setCurrentText("A - B")
    wait_ready(qtbot, w)
    w.panes.viewbox.setRange(xRange=(100, 130), yRange=(105, 135), padding=0)
    qtbot.wait(100)
    shown = w.panes.visible()[0]
    path = tmp_path / "my.json"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(path)[:-5], ""))
    file_action(w, "Sa&ve session").trigger()
    saved = read_session(path)  # the dialog's name got its .json
    assert saved.exposures == (str(small_set["illuminated"]), dark)
    assert saved.pins == ((100, 101), (128, 128))
    assert saved.compare == {"mode": "exposure", "read": None, "uri": dark, "left": "A - B", "right": "A - B",
                             "rate": 2.0}
    assert saved.superbias == {"darks": dlg.paths(), "method": "median", "subtract": True}
    before = w.controller.session_state()

    w2 = make_window()
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    with qtbot.waitSignal(w2.context_loaded, timeout=WAIT):
        file_action(w2, "Open sess&ion").trigger()
    wait_ready(qtbot, w2)
    qtbot.waitUntil(lambda: w2.model.subtract_superbias and 1 in w2.controller.region_results
                    and w2.controller.compare_exposure is not None, timeout=WAIT)
    assert w2.compare_widget.choice["left"].currentText() == "A - B"
    wait_ready(qtbot, w2)
    after = w2.controller.session_state()
    assert comparable(after) == comparable(before)
    np.testing.assert_allclose(w2.controller.superbias, w.controller.superbias)
    # The zoom: the same centre and at least the same area (the aspect lock may widen one side).
    got = w2.panes.visible()[0]
    assert abs((got[0] + got[1]) - (shown[0] + shown[1])) < 1 and abs((got[2] + got[3]) - (shown[2] + shown[3])) < 1
    assert got[1] - got[0] < 40 and got[3] - got[2] < 40
    # What is drawn is the restored state: the raw pane in magma at the frame, superbias subtracted.
    req = w2.last_render.request
    assert (req.frame, req.baseline, req.subtract_superbias, req.style("raw").cmap) == (5, 2, True, "magma")


@pytest.mark.usefixtures("no_qt_leaks")
def test_bad_and_stale_sessions_change_nothing(qtbot, make_window, small_set, tmp_path):
    w = make_window()
    with qtbot.waitSignal(w.context_loaded, timeout=WAIT):
        w.open_uri(str(small_set["illuminated"]))
    wait_ready(qtbot, w)
    w.model.frame = 3
    w.controller.add_region(RegionShape("circle", x=20.0, y=30.0, radius=5.0))
    before = comparable(w.controller.session_state())
    newer = tmp_path / "newer.json"
    doc = sample_session(str(small_set["illuminated"])).to_json()
    newer.write_text(json.dumps({**doc, "version": 99}))
    stale = tmp_path / "stale.json"
    write_session(stale, sample_session(str(tmp_path / "moved_away_uncal.asdf")))
    badpane = tmp_path / "badpane.json"
    badpane.write_text(json.dumps({**doc, "displays": {"raw": {"cmap": "not-a-map"}}}))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("frame = 3\n")
    for path, words in ((newer, "session version 99"), (stale, "moved_away_uncal.asdf no longer exist"),
                        (badpane, "raw pane"), (garbage, "not a session file")):
        with qtbot.waitSignal(w.error_shown, timeout=WAIT) as sig:
            assert not w.controller.open_session(str(path))
        assert str(path) in sig.args[0] and words in sig.args[0], sig.args[0]
        assert comparable(w.controller.session_state()) == before
        assert w.dataset.uri == str(small_set["illuminated"]) and not w.controller.runner.busy("open")


@pytest.mark.usefixtures("no_qt_leaks")
def test_last_session_reopens_at_start(qtbot, make_window, small_set):
    from brightstar_gui.widgets.session_actions import last_session_path

    w = make_window()
    w.session_actions["reopen"].setChecked(True)
    with qtbot.waitSignal(w.context_loaded, timeout=WAIT):
        w.open_uri(str(small_set["illuminated"]))
    wait_ready(qtbot, w)
    w.model.frame = 6
    w.controller.add_region(RegionShape("circle", x=50.0, y=40.0, radius=7.0))
    w.close()  # saves the last session
    assert read_session(last_session_path()).frame == 6
    w2 = make_window()
    assert w2.session_actions["reopen"].isChecked()
    qtbot.waitUntil(lambda: w2.dataset is not None and w2.model.frame == 6 and len(w2.controller.regions) == 1,
                    timeout=WAIT)
    wait_ready(qtbot, w2)
    w2.session_actions["reopen"].setChecked(False)
    w2.settings.sync()
