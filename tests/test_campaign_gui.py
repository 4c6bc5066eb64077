"""The Campaign dock, driven as a user drives it (pytest-qt, offscreen).

Results of the small synthetic campaign (a serial run) are loaded; the
table is sorted and filtered through its header and filter box; a click on
a row opens that exposure at its last read with the cutout on its star.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PyQt6 import QtCore  # noqa: E402

from processing.campaign.index import build_index_job  # noqa: E402
from processing.campaign.run import run_serial  # noqa: E402
from processing.progress import run  # noqa: E402

WAIT = 30_000
pytestmark = pytest.mark.usefixtures("no_qt_leaks")


@pytest.fixture(scope="module")
def results(campaign, tmp_path_factory):
    out = tmp_path_factory.mktemp("campaign-results")
    rows = run(build_index_job(str(campaign["root"])))
    assert not run_serial(rows, out, campaign["root"] / "references").failed
    return out


def _column(dock, title: str) -> int:
    heads = [dock.source.headerData(c, QtCore.Qt.Orientation.Horizontal) for c in range(dock.source.columnCount())]
    return next(i for i, h in enumerate(heads) if h.startswith(title))


def _cell(dock, row: int, title: str) -> str:
    return dock.proxy.index(row, _column(dock, title)).data()


def test_load_sort_filter_and_open_at_the_star(qtbot, window, campaign, results):
    w = window
    dock = w.campaign
    w.campaign_dock.raise_()
    with qtbot.waitSignal(dock.table_shown, timeout=WAIT) as shown:
        dock.controller.load(str(results))
    assert shown.args == [16] and dock.proxy.rowCount() == 16
    # Four plots: one curve per illuminated exposure in the growth plots, darks' points in persistence.
    assert len(dock.radius_plot.listDataItems()) == 6 == len(dock.area_plot.listDataItems())
    assert len(dock.onset_plot.listDataItems()) == 6
    assert len(dock.persistence_plot.listDataItems()) == 4  # the four footprints that saturate
    # The colour key names every magnitude in the colour of its curve.
    key = dock.colour_key.text()
    assert dock.colour_key.isVisibleTo(dock)
    for item in dock.radius_plot.listDataItems():
        mag = next(e["magnitude"] for e in campaign["illuminated"] if e["path"].rsplit("/", 1)[-1] == item.name())
        colour = item.opts["pen"].color().name()
        assert f'color:{colour}">&#9632;</span>&nbsp;{mag:g}' in key, (item.name(), mag, colour, key)

    truth = {e["path"].rsplit("/", 1)[-1]: e for e in campaign["illuminated"]}
    # Sorted by saturated area, largest first (a header click sorts ascending first).
    header = dock.table.horizontalHeader()
    sat = _column(dock, "saturated")
    qtbot.mouseClick(header.viewport(), QtCore.Qt.MouseButton.LeftButton,
                     pos=QtCore.QPoint(header.sectionViewportPosition(sat) + 5, 5))
    dock.table.sortByColumn(sat, QtCore.Qt.SortOrder.DescendingOrder)
    areas = [float(_cell(dock, r, "saturated")) for r in range(6)]
    assert areas == sorted(areas, reverse=True)
    assert _cell(dock, 0, "exposure") == min(truth, key=lambda n: truth[n]["magnitude"])
    assert _cell(dock, 6, "saturated") == ""  # darks (no area) after every number

    # Filtering: any column, case-insensitive.
    qtbot.keyClicks(dock.filter_edit, "wfi04")
    assert dock.proxy.rowCount() == 3 + 5
    dock.filter_edit.clear()
    qtbot.keyClicks(dock.filter_edit, "illuminated")
    assert dock.proxy.rowCount() == 6
    dock.table.sortByColumn(_column(dock, "magnitude"), QtCore.Qt.SortOrder.DescendingOrder)
    faintest_saturating = next(r for r in range(6) if _cell(dock, r, "saturated") not in ("", "0"))
    name = _cell(dock, faintest_saturating, "exposure")
    star = truth[name]

    w.controller.cutout_half = 24
    index = dock.proxy.index(faintest_saturating, 0)
    dock.table.scrollTo(index)
    with qtbot.waitSignal(w.exposure_opened, timeout=WAIT) as opened:
        qtbot.mouseClick(dock.table.viewport(), QtCore.Qt.MouseButton.LeftButton,
                         pos=dock.table.visualRect(index).center())
    assert opened.args[0].endswith(name)
    cut = w.model.cutout
    assert cut.enabled and cut.half == 24
    assert abs(cut.row - star["position"][0]) <= 1 and abs(cut.col - star["position"][1]) <= 1
    assert w.model.frame == campaign["config"]["frames"] - 1
    # The exposure's own detector's references (the campaign keeps one set per detector).
    refs = w.controller.references_override
    assert refs["saturation"].parent == campaign["root"] / "references" / star["detector"]
    assert float(_cell(dock, 0, "start")) >= 0.0  # seconds from the first exposure
    qtbot.waitUntil(lambda: w.last_render is not None and not w.controller.render_inflight, timeout=WAIT)


def test_a_folder_without_results_is_a_message(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.error_shown, timeout=WAIT) as shown:
        window.campaign.controller.load(str(tmp_path))
    assert str(tmp_path) in shown.args[0] and "no campaign results" in shown.args[0]


def test_index_and_run_from_the_dock_with_progress(qtbot, window, campaign, results, tmp_path):
    import json

    dock = window.campaign
    seen = []
    dock.controller.view.show_progress = lambda f, m: seen.append((f, m))  # also what the label shows
    with qtbot.waitSignal(dock.table_shown, timeout=240_000) as shown:
        dock.controller.index_and_run(str(campaign["root"]), str(tmp_path / "gui-run"), workers=1)
    assert shown.args == [16]
    assert any("analysed" in m for _, m in seen) and max(f for f, _ in seen) > 0.9
    # The same results as the serial run, file for file.
    for mine in (tmp_path / "gui-run").glob("*.json"):
        assert json.loads(mine.read_text()) == json.loads((results / mine.name).read_text())
