"""Browsing the bucket: list_dir, ``brightstar ls`` and the S3 browser widget."""

from __future__ import annotations

import pytest
from PyQt6 import QtCore
from s3_server import free_port, s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

from processing import synth
from processing.cli import main as cli_main
from processing.s3 import S3Error, S3Options, S3Stats
from processing.s3_browse import list_dir, normalize_location, parent_location

from brightstar_gui import workers

ACTIVITY = f"{synth.PROGRAM_DIR}/{synth.ILLUM_ACTIVITY}/"


def test_list_dir_walks_prefixes_and_lists_files_with_sizes(s3_bucket):
    endpoint, bucket = s3_bucket["endpoint_url"], s3_bucket["bucket"]
    stats = S3Stats()
    prefixes, files = list_dir(f"s3://{bucket}", endpoint_url=endpoint, stats=stats)
    assert f"s3://{bucket}/{synth.PROGRAM_DIR}/" in prefixes
    assert stats.requests == 1
    prefixes, files = list_dir(f"s3://{bucket}/{ACTIVITY}", endpoint_url=endpoint)
    assert prefixes == [f"s3://{bucket}/{ACTIVITY}{name}/" for name in ("lz4", "none", "zlib")]
    assert files == []
    prefixes, files = list_dir(f"s3://{bucket}/{ACTIVITY}none", endpoint_url=endpoint)  # no trailing slash
    assert prefixes == []
    (entry,) = files
    assert entry.uri == s3_bucket["uri"]["none"]
    assert entry.name == synth.exposure_filename(synth.ILLUM_STAMP)
    assert entry.size == s3_bucket["local"]["none"].stat().st_size
    assert entry.last_modified is not None


def test_listing_errors_are_clear(s3_bucket):
    fast = S3Options(connect_timeout=1, read_timeout=2, max_attempts=1)
    with pytest.raises(S3Error, match="does not exist") as info:
        list_dir("s3://no-such-bucket/", endpoint_url=s3_bucket["endpoint_url"], options=fast)
    assert info.value.kind == "no_bucket"
    with pytest.raises(S3Error, match="cannot reach") as info:
        list_dir("s3://bucket/", endpoint_url=f"http://127.0.0.1:{free_port()}", options=fast)
    assert info.value.kind == "unreachable"
    with pytest.raises(S3Error, match="expected s3://"):
        list_dir("/local/path")


def test_locations_are_normalised():
    assert normalize_location(" s3://b/a/b ") == "s3://b/a/b/"
    assert normalize_location("s3://b") == "s3://b/"
    assert parent_location("s3://b/a/b/") == "s3://b/a/"
    assert parent_location("s3://b/a/") == "s3://b/"
    assert parent_location("s3://b/") == "s3://b/"


def test_brightstar_ls(s3_bucket, capsys):
    endpoint, bucket = s3_bucket["endpoint_url"], s3_bucket["bucket"]
    assert cli_main(["ls", f"s3://{bucket}/{ACTIVITY}", "--endpoint-url", endpoint]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[-1] for line in out] == ["lz4/", "none/", "zlib/"]
    assert all(line.split()[0] == "PRE" for line in out)
    assert cli_main(["ls", f"s3://{bucket}/{ACTIVITY}none/", "--endpoint-url", endpoint, "--bytes"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.split()[-2:] == [str(s3_bucket["local"]["none"].stat().st_size), synth.exposure_filename(synth.ILLUM_STAMP)]
    assert cli_main(["ls", "s3://no-such-bucket/", "--endpoint-url", endpoint]) == 2
    assert "does not exist" in capsys.readouterr().err


# -- the widget ---------------------------------------------------------------------------


def _items(parent_or_tree):
    if hasattr(parent_or_tree, "topLevelItemCount"):
        return [parent_or_tree.topLevelItem(i) for i in range(parent_or_tree.topLevelItemCount())]
    return [parent_or_tree.child(i) for i in range(parent_or_tree.childCount())]


def _find(items, text):
    return next(item for item in items if item.text(0) == text)


@pytest.fixture
def browser(qtbot, s3_bucket):
    from brightstar_gui.widgets.s3_browser import S3BrowserWidget

    widget = S3BrowserWidget(location=f"s3://{s3_bucket['bucket']}/{synth.PROGRAM_DIR}/",
                             endpoint_url=s3_bucket["endpoint_url"], autoload=False)
    qtbot.addWidget(widget)
    widget.resize(600, 500)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()
    assert not [t for t in workers.live_threads() if t.isRunning()]  # its pool's threads have ended


def test_widget_lists_expands_and_asks_to_open(qtbot, browser, s3_bucket):
    from brightstar_gui.widgets import s3_browser

    assert s3_browser.DEFAULT_LOCATION == "s3://stpubdata/roman/nexus/tvac/"
    with qtbot.waitSignal(browser.listing_finished, timeout=30_000):
        browser.refresh()
    tree = browser.tree
    activity = _find(_items(tree), f"{synth.ILLUM_ACTIVITY}/")
    assert activity.childCount() == 0 and activity.childIndicatorPolicy().name == "ShowIndicator"
    with qtbot.waitSignal(browser.listing_finished, timeout=30_000):
        activity.setExpanded(True)  # lazily lists the prefix in the worker thread
    folder = _find(_items(activity), "none/")
    with qtbot.waitSignal(browser.listing_finished, timeout=30_000):
        folder.setExpanded(True)
    (file_item,) = _items(folder)
    assert file_item.text(0) == synth.exposure_filename(synth.ILLUM_STAMP)
    assert file_item.text(1).endswith("MB")
    tree.scrollToItem(file_item)
    rect = tree.visualItemRect(file_item)
    assert rect.isValid()
    with qtbot.waitSignal(browser.open_requested, timeout=5_000) as opened:
        _double_click(qtbot, tree, rect.center())
    assert opened.args == [s3_bucket["uri"]["none"]]
    with qtbot.assertNotEmitted(browser.open_requested):  # a folder is not an exposure
        _double_click(qtbot, tree, tree.visualItemRect(folder).center())


def _double_click(qtbot, tree, pos):
    # An item view acts on a double-click only at the index it saw pressed;
    # QTest's double-click alone sends no press on Qt 6, so click first.
    qtbot.mouseClick(tree.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(tree.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)


def test_widget_shows_errors_and_drops_stale_results(qtbot, browser, s3_bucket):
    with qtbot.waitSignal(browser.listing_failed, timeout=30_000) as failed:
        browser.set_location("s3://no-such-bucket/")
    assert "does not exist" in failed.args[1]
    assert "does not exist" in browser.status.text()
    assert "does not exist" in browser.tree.topLevelItem(0).text(0)
    # Two locations in a row: only the second one's listing is shown.
    with qtbot.waitSignal(browser.location_changed, timeout=30_000) as changed:
        browser.set_location("s3://no-such-bucket-either/")
        browser.set_location(f"s3://{s3_bucket['bucket']}/")
    assert changed.args == [f"s3://{s3_bucket['bucket']}/"]
    qtbot.wait(200)
    names = [item.text(0) for item in _items(browser.tree)]
    assert f"{synth.PROGRAM_DIR}/" in names and "private/" in names
    assert all("does not exist" not in item.text(0) for item in _items(browser.tree))


def test_widget_never_blocks_the_ui_thread(qtbot, s3_bucket):
    """A listing that takes long runs in the worker: the UI thread keeps going."""
    import threading

    from brightstar_gui.widgets.s3_browser import S3BrowserWidget

    release = threading.Event()

    def slow_lister(uri):
        release.wait(10)
        return [], []

    widget = S3BrowserWidget(location="s3://b/", lister=slow_lister, autoload=False)
    qtbot.addWidget(widget)
    widget.refresh()  # returns at once
    assert "Listing" in widget.status.text()
    with qtbot.waitSignal(widget.listing_finished, timeout=10_000):
        release.set()
    widget.shutdown()


def test_widget_lists_only_once_shown(qtbot):
    from brightstar_gui.widgets.s3_browser import S3BrowserWidget

    asked = []

    def lister(uri):
        asked.append(uri)
        return ["s3://b/x/"], []

    widget = S3BrowserWidget(location="s3://b/", lister=lister)  # autoload: on first show
    qtbot.addWidget(widget)
    qtbot.wait(100)
    assert asked == []  # a hidden (tabbed-away) browser costs no network
    with qtbot.waitSignal(widget.listing_finished, timeout=10_000):
        widget.show()
    assert asked == ["s3://b/"]
    assert widget.tree.topLevelItem(0).text(0) == "x/"
    widget.shutdown()
