"""Files: the Exposures list, the star finder on darks, the superbias per detector, the empty state,
the S3 endpoint shown, and messages that name menus that exist.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from processing.io import open_exposure
from processing.progress import run

pytestmark = pytest.mark.usefixtures("no_qt_leaks")
REPO = Path(__file__).resolve().parents[1]
WAIT = 60_000


@pytest.fixture
def make_controller():
    """A controller with recording fake views and synchronous jobs (as in test_controller)."""
    from test_controller import FakeViews

    from brightstar_gui.controllers import SyncRunner, ViewerController

    made = []

    def _make():
        views = FakeViews()
        c = ViewerController(views, SyncRunner())
        made.append(c)
        return c, views

    yield _make
    for c in made:
        c.close()


def rows_of(browser):
    t = browser.table
    return [[t.topLevelItem(i).text(c) for c in range(t.columnCount())] for i in range(t.topLevelItemCount())]


# -- the Exposures list ---------------------------------------------------------------------------
def test_exposure_list_tells_files_apart_illuminated_first(qtbot, small_set):
    from brightstar_gui.widgets.file_browser import FileBrowser, scan_folder_job

    b = FileBrowser()
    qtbot.addWidget(b)
    b.set_rows(run(scan_folder_job(str(small_set["root"]))))
    header = [b.table.headerItem().text(i) for i in range(b.table.columnCount())]
    assert header == ["kind", "start", "activity", "frames", "detector", "size", "name"]
    rows = rows_of(b)
    # What the generator wrote: the illuminated exposure first, then the darks in time order.
    assert [r[0] for r in rows] == ["illuminated", "dark", "dark", "dark"]
    assert [r[1] for r in rows] == ["2024-05-06 20:45:23", "2024-05-06 22:53:04", "2024-05-06 22:56:11",
                                    "2024-05-06 22:59:17"]
    assert [r[2] for r in rows] == ["Activity_22", "Activity_40", "Activity_40", "Activity_40"]
    assert {r[3] for r in rows} == {"8"} and {r[4] for r in rows} == {"WFI11"}
    expected = [str(small_set["illuminated"])] + sorted(str(d) for d in small_set["darks"])
    assert b.paths() == expected
    # The full path is in the tooltip of every cell (the name column elides).
    for i, path in enumerate(expected):
        item = b.table.topLevelItem(i)
        assert all(item.toolTip(c).startswith(path) for c in range(b.table.columnCount()))
    # Sorting by another column and back keeps illuminated first.
    b.table.sortItems(1, b.table.header().sortIndicatorOrder().DescendingOrder)
    assert b.paths()[0] == str(sorted(small_set["darks"])[-1])
    b.table.sortItems(0, b.table.header().sortIndicatorOrder().AscendingOrder)
    assert b.paths() == expected


def test_opening_a_file_lists_its_folder(qtbot, small_set):
    # What `brightstar-gui FILE` does: open_uri, with no folder chosen in this or an earlier session.
    from brightstar_gui import settings as settings_mod
    from brightstar_gui.widgets.main_window import MainWindow

    settings_mod.open_settings().remove("browser/folder")
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.wait(50)
    assert w.browser.table.topLevelItemCount() == 0
    with qtbot.waitSignal(w.context_loaded, timeout=WAIT):
        w.open_uri(str(small_set["illuminated"]))
    qtbot.waitUntil(lambda: w.browser.table.topLevelItemCount() == 4, timeout=WAIT)
    # Above the Activity_22 folder: the darks of Activity_40 are listed too; the open file is selected.
    assert Path(w.browser.folder.text()) == small_set["illuminated"].parent.parent
    assert w.browser.table.currentItem().data(0, 256) == str(small_set["illuminated"])
    w.close()


# -- the star finder ------------------------------------------------------------------------------
def test_star_finder_reports_no_source_on_a_dark(make_controller, small_set, capsys, tmp_path):
    from brightstar_gui.jobs import opening
    from processing.cli import main
    from processing.diagnostics.centroid import SATURATED_DN_GUESS, NoSourceError, find_star

    with open_exposure(small_set["darks"][0]) as exp:
        last = exp.frame(exp.shape[0] - 1)
        with pytest.raises(NoSourceError, match="no source"):
            find_star(last, last >= SATURATED_DN_GUESS)
        assert opening.locate_star(exp)[0] is None
    with open_exposure(small_set["illuminated"]) as exp:
        star, note = opening.locate_star(exp)
    assert note == "" and np.hypot(star[0] - small_set["star_center"][0], star[1] - small_set["star_center"][1]) <= 2
    # The viewer says so instead of centring on a noise pixel.
    c, views = make_controller()
    c.open(small_set["darks"][0])
    assert c.dataset.star is None
    assert any("no star found (a dark?)" in f for f in views.status.flashes)
    assert c.model.cutout.row == 128 and c.model.cutout.col == 128  # the frame's centre
    # The CLI applies the same rule.
    out = tmp_path / "dark.png"
    assert main(["figure", str(small_set["darks"][0]), str(out), "--kind", "pane", "--quiet"]) == 0
    assert "no source" in capsys.readouterr().err


# -- the superbias -----------------------------------------------------------------------------
def test_superbias_survives_another_exposure_of_the_same_detector(make_controller, small_set):
    c, views = make_controller()
    c.open(small_set["illuminated"])
    bias = np.full((256, 256), 11000.0, np.float32)
    assert c.set_superbias(bias)
    assert c.superbias_detector == "WFI11"
    c.open(small_set["darks"][1])  # another exposure of WFI11
    assert c.model.superbias_available and c.superbias is not None
    np.testing.assert_array_equal(c.superbias, bias)
    c.model.subtract_superbias = True
    r = c.last_render
    assert r.request.subtract_superbias
    assert any("superbias of WFI11 kept" in f for f in views.status.flashes)
    c.clear_superbias()
    assert c.superbias is None and not c.model.superbias_available and not c.model.subtract_superbias


def test_superbias_dropped_for_another_detector(make_controller, small_set, monkeypatch):
    from brightstar_gui.controllers import _superbias

    c, views = make_controller()
    c.open(small_set["illuminated"])
    c.set_superbias(np.zeros((256, 256), np.float32))
    monkeypatch.setattr(_superbias, "detector_of", lambda ds: "WFI02")
    c.open(small_set["darks"][0])
    assert c.superbias is None and not c.model.superbias_available
    assert any("superbias dropped" in f and "WFI02" in f for f in views.status.flashes)


# -- empty state, S3 endpoint ------------------------------------------------------------------------
def test_empty_state_has_no_fake_axes(qtbot, window, small_set):
    w = window
    assert w.panes.is_empty_state()
    for kind, plot in w.panes.plots.items():
        assert not w.panes.colour_bar_shown(kind)
        assert not plot.getAxis("left").style["showValues"] and not plot.getAxis("bottom").style["showValues"]
    assert not w.ramp.plot.getPlotItem().getAxis("left").style["showValues"]
    with qtbot.waitSignal(w.context_loaded, timeout=WAIT):
        w.open_uri(str(small_set["illuminated"]))
    assert not w.panes.is_empty_state()
    assert all(w.panes.colour_bar_shown(k) and p.getAxis("left").style["showValues"] for k, p in w.panes.plots.items())


def test_s3_tab_shows_the_endpoint_in_use(qtbot, monkeypatch):
    from brightstar_gui.widgets.s3_browser import S3BrowserWidget

    for key in ("BRIGHTSTAR_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    b = S3BrowserWidget(endpoint_url="http://127.0.0.1:9999/", autoload=False)
    qtbot.addWidget(b)
    assert b.endpoint_label.text() == "endpoint: http://127.0.0.1:9999 (anonymous)"
    assert "--endpoint-url" in b.endpoint_label.toolTip()
    monkeypatch.setenv("BRIGHTSTAR_S3_ENDPOINT", "http://mirror.example:9000")
    b2 = S3BrowserWidget(autoload=False)
    qtbot.addWidget(b2)
    assert "http://mirror.example:9000" in b2.endpoint_label.text()
    assert "BRIGHTSTAR_S3_ENDPOINT" in b2.endpoint_label.toolTip()
    monkeypatch.delenv("BRIGHTSTAR_S3_ENDPOINT")
    b2.set_endpoint(None)
    assert b2.endpoint_label.text() == "endpoint: AWS S3 (anonymous)"
    b.shutdown()
    b2.shutdown()


# -- messages name menus that exist ---------------------------------------------------------------
# "Menu > Item" up to the end of the item: a quote, bracket, comma, colon (not of "1:1") ...
MENU_REF = re.compile(r"\b([A-Z][a-z]+) > ([A-Z](?:[^\"'\n\\(),;:]|(?<=\d):(?=\d))*)")


def _norm(text: str) -> str:
    return text.replace("&", "").replace("...", "").strip().rstrip(".").strip().lower()


def menu_references() -> list[tuple[str, str, str]]:
    """(file, menu, item) of every "Menu > Item" in a string literal of the program (not docstrings), and the README."""
    found = []
    files = sorted((REPO / "brightstar_gui").rglob("*.py")) + sorted((REPO / "processing").rglob("*.py"))
    for path in files:
        tree = ast.parse(path.read_text())
        # Docstrings are for programmers; messages are the other string literals.
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                found += [(path.name, m, i) for m, i in MENU_REF.findall(node.value)]
    readme = (REPO / "README.md").read_text()
    found += [("README.md", m, i) for m, i in MENU_REF.findall(readme.replace("*", ""))]
    return found


def test_messages_name_only_menus_that_exist(qtbot, window):
    menus = {}
    for action in window.menuBar().actions():
        menu = action.menu()
        if menu is not None:
            menus[_norm(action.text())] = [_norm(a.text()) for a in menu.actions() if a.text()]
    refs = menu_references()
    assert refs, "found no menu references at all: the scan is broken"
    assert ("main_window.py", "File", "Open exposure...") in refs  # the empty state's hint is among them
    for where, menu, item in refs:
        assert _norm(menu) in menus, f"{where}: {menu} > {item}: there is no {menu} menu (menus: {sorted(menus)})"
        words = _norm(item)
        assert any(words == a or words.startswith(a + " ") for a in menus[_norm(menu)]), (
            f"{where}: {menu} > {item}: the {menu} menu has {menus[_norm(menu)]}")


def test_a_folder_on_the_command_line_is_listed_not_opened(qtbot, window, small_set):
    """``brightstar-gui DIR``: the folder's exposures are listed; nothing is opened, no "is a directory" error."""
    from brightstar_gui.app import build_parser, start
    from brightstar_gui.controllers import StartOptions

    folder = small_set["illuminated"].parent.parent
    opened = []
    window.controller.open = lambda *a, **k: opened.append(a)  # would be a file open of a directory
    start(window, build_parser().parse_args([str(folder)]), StartOptions())
    qtbot.waitUntil(lambda: window.browser.table.topLevelItemCount() == 4, timeout=WAIT)
    assert Path(window.browser.folder.text()) == folder and opened == []
    # A file still opens.
    start(window, build_parser().parse_args([str(small_set["illuminated"])]), StartOptions())
    assert opened and opened[0][0] == str(small_set["illuminated"])
