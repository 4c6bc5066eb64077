"""An S3 browser: a location bar, a lazily loaded folder tree, files with sizes.

The request cycle
-----------------
Typing a location (default the tutorial's ``s3://stpubdata/roman/nexus/tvac/``)
and pressing Enter starts a new *generation*: the tree is cleared and the
location's listing is requested.  Expanding a folder requests that folder's
listing.  Requests go, as plain values (generation, URI and a listing
function of plain values), as a job on the application's worker pool
(a queued channel), which calls :func:`processing.s3_browse.list_dir`
(blocking, bounded by the S3 timeouts) and returns the result or the error
message; the UI thread never waits on the network.  A result whose generation is older than the tree's, or whose
folder item is gone, is dropped.  Errors show in the widget (under the folder
that failed, and in the status line), never as a dialog.

Double-clicking a file (or Enter on it) emits ``open_requested(uri)``; the
main window opens it.  Nothing is listed until the widget is first shown (a
dock tabbed away costs no network).  Closing the widget cancels its listings.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6 import QtCore, QtGui, QtWidgets

from processing.progress import Cancelled
from processing.s3_browse import DEFAULT_LOCATION, S3Entry, human_size, list_dir, normalize_location, parent_location

from ..workers import wait_abandoning

Lister = Callable[[str], tuple[list[str], list[S3Entry]]]

_URI_ROLE = QtCore.Qt.ItemDataRole.UserRole
_KIND_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1
_SIZE_ROLE = QtCore.Qt.ItemDataRole.UserRole + 2
_ERROR_COLOR = QtGui.QColor(200, 40, 40)

def _list_job(lister: Lister, uri: str):
    """The listing job: a function of plain values (runs in a pool thread, touches no widget).

    The listing itself may block for the S3 timeouts (an endpoint that accepts
    and never answers): it is waited on through :func:`~brightstar_gui.workers.wait_abandoning`,
    so a cancel (the window closing) does not wait for it.
    """
    def job(token):
        try:
            return ("ok", wait_abandoning(lambda: lister(uri), token, name="s3-list"))
        except Cancelled:
            raise
        except Exception as err:  # noqa: BLE001 - every failure is shown in the widget
            message = getattr(err, "problem", None) or f"{type(err).__name__}: {err}"
            return ("failed", str(message))

    return job


class _SizeItem(QtWidgets.QTreeWidgetItem):
    """Sorts folders first, then by name, or files by size in the size column."""

    def __lt__(self, other: QtWidgets.QTreeWidgetItem) -> bool:
        tree = self.treeWidget()
        column = tree.sortColumn() if tree is not None else 0
        mine = (self.data(0, _KIND_ROLE) != "prefix", self.text(0).lower())
        theirs = (other.data(0, _KIND_ROLE) != "prefix", other.text(0).lower())
        if column == 1:
            return (mine[0], self.data(0, _SIZE_ROLE) or 0) < (theirs[0], other.data(0, _SIZE_ROLE) or 0)
        return mine < theirs


def endpoint_text(endpoint_url: str | None, anon: bool, given_by: str = "--endpoint-url") -> tuple[str, str]:
    """What the S3 tab says about the endpoint in use, and where that came from (a tooltip).

    The endpoint is :func:`processing.s3.resolve_endpoint`'s, the one every
    read and listing uses: ``--endpoint-url``, else ``BRIGHTSTAR_S3_ENDPOINT``,
    ``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``, else AWS.  ``given_by``
    names where ``endpoint_url`` came from (the command line, or the tab's field).
    """
    import os

    from processing.s3 import resolve_endpoint

    url = resolve_endpoint(endpoint_url)
    if endpoint_url and endpoint_url.strip():
        source = given_by
    else:
        source = next((k for k in ("BRIGHTSTAR_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
                       if (os.environ.get(k) or "").strip()), "default")
    access = "anonymous" if anon else "with credentials"
    text = f"endpoint: {url or 'AWS S3'} ({access})"
    tip = (f"from {source}" if url else "AWS S3 (no --endpoint-url, BRIGHTSTAR_S3_ENDPOINT or AWS_ENDPOINT_URL set)")
    return text, tip


class S3BrowserWidget(QtWidgets.QWidget):
    """Browse an S3 bucket and ask to open an exposure.

    Parameters
    ----------
    parent : QWidget, optional
    location : str
        Initial location; listed when the widget is first shown, unless
        ``autoload`` is False.
    endpoint_url : str, optional
        S3 endpoint (a mirror, a test server); default from the settings.
    anon : bool
        Anonymous access (public buckets).
    lister : callable, optional
        ``lister(uri) -> (prefixes, files)``; default
        :func:`processing.s3_browse.list_dir` with ``endpoint_url``/``anon``.
    autoload : bool
        List the initial location when the widget is first shown.

    Signals
    -------
    open_requested(str)
        The user double-clicked (or pressed Enter on) a file: its ``s3://`` URI.
    location_changed(str)
        A new location was listed (normalised, with a trailing slash).
    listing_finished(str)
        A folder's listing arrived and is shown.
    listing_failed(str, str)
        A folder could not be listed: its URI and the message shown.
    endpoint_changed(str)
        The user typed another endpoint URL in the tab ("" for AWS S3): exposures opened from
        here on are read from it too.
    """

    open_requested = QtCore.pyqtSignal(str)
    endpoint_changed = QtCore.pyqtSignal(str)
    location_changed = QtCore.pyqtSignal(str)
    listing_finished = QtCore.pyqtSignal(str)
    listing_failed = QtCore.pyqtSignal(str, str)

    def __init__(self, parent: QtWidgets.QWidget | None = None, *, location: str = DEFAULT_LOCATION,
                 endpoint_url: str | None = None, anon: bool = True, lister: Lister | None = None,
                 autoload: bool = True, runner=None):
        super().__init__(parent)
        self.endpoint_url = endpoint_url
        self.anon = anon
        self._lister = lister
        self._generation = 0
        self._location = ""
        self._pending: dict[str, QtWidgets.QTreeWidgetItem | None] = {}  # uri -> item (None: the root)

        self.location_edit = QtWidgets.QLineEdit(location)
        self.location_edit.setPlaceholderText("s3://bucket/prefix/")
        self.location_edit.setToolTip("S3 location; Enter lists it")
        self.up_button = QtWidgets.QToolButton()
        self.up_button.setText("Up")
        self.up_button.setToolTip("The folder above")
        self.refresh_button = QtWidgets.QToolButton()
        self.refresh_button.setText("Go")
        self.refresh_button.setToolTip("List the location (refresh)")
        self.endpoint_label = QtWidgets.QLabel()
        self.endpoint_label.setWordWrap(True)
        # A long URL must not widen the dock (a label wraps at spaces only): it is cut, the tooltip has it.
        self.endpoint_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.endpoint_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self._endpoint_given_by = "--endpoint-url"
        # A mirror or a local test server can be chosen here, not only on the command line.
        self.endpoint_edit = QtWidgets.QLineEdit(endpoint_url or "")
        self.endpoint_edit.setPlaceholderText("endpoint URL (empty: AWS S3); Enter to use")
        self.endpoint_edit.setToolTip("S3 endpoint to list and read from, e.g. http://127.0.0.1:9000 for a "
                                      "local mirror; empty for AWS S3 (or the environment's). Enter applies it.")
        self.endpoint_edit.returnPressed.connect(self._endpoint_typed)
        self._show_endpoint()
        bar = QtWidgets.QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.location_edit, 1)
        bar.addWidget(self.up_button)
        bar.addWidget(self.refresh_button)

        self.tree = QtWidgets.QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Name", "Size"])
        self.tree.setUniformRowHeights(True)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(0, QtCore.Qt.SortOrder.AscendingOrder)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)

        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.endpoint_label)
        layout.addWidget(self.endpoint_edit)
        layout.addLayout(bar)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.status)

        # Listings run on the application's worker pool (one queued channel);
        # a browser made on its own gets a pool of its own, shut down with it.
        if runner is None:
            from ..workers import WorkerPool

            runner = WorkerPool(self)
            self._own_runner = True
        else:
            self._own_runner = False
        self.runner = runner

        self.location_edit.returnPressed.connect(self.refresh)
        self.refresh_button.clicked.connect(self.refresh)
        self.up_button.clicked.connect(self.go_up)
        self.tree.itemExpanded.connect(self._on_expanded)
        self.tree.itemDoubleClicked.connect(self._on_activated)
        open_key = QtGui.QShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Return), self.tree)
        open_key.setContext(QtCore.Qt.ShortcutContext.WidgetShortcut)
        open_key.activated.connect(lambda: self.tree.currentItem() and self._on_activated(self.tree.currentItem(), 0))

        # Listing waits until the browser is first shown: a tabbed-away dock
        # costs no network at start-up.
        self._autoload = autoload

    # -- public ------------------------------------------------------------------------------
    @property
    def location(self) -> str:
        """The location the tree shows (normalised)."""
        return self._location

    def set_location(self, uri: str) -> None:
        """Show ``uri`` in the location bar and list it (instead of the default location on first show)."""
        self._autoload = False
        self.location_edit.setText(uri)
        self.refresh()

    def set_endpoint(self, endpoint_url: str | None, anon: bool | None = None) -> None:
        """Use another endpoint (and access mode) from the next listing on."""
        self.endpoint_url = endpoint_url or None
        if anon is not None:
            self.anon = anon
        self._show_endpoint()
        self.refresh()

    def _endpoint_typed(self) -> None:
        url = self.endpoint_edit.text().strip()
        if url and not url.lower().startswith(("http://", "https://")):
            # An s3:// location typed here is the usual slip: say where it goes, keep the endpoint.
            self._set_status(f"{url!r} is not an endpoint: an endpoint is an http(s):// URL such as "
                             "http://127.0.0.1:9000 (empty: AWS S3); s3:// locations go in the field below", True)
            return
        self._endpoint_given_by = "the S3 tab"
        self.set_endpoint(url or None)
        self.endpoint_changed.emit(url)

    def _show_endpoint(self) -> None:
        text, tip = endpoint_text(self.endpoint_url, self.anon, self._endpoint_given_by)
        self.endpoint_label.setText(text)
        self.endpoint_label.setToolTip(f"{text}\n{tip}")

    def refresh(self) -> None:
        """List the location bar's location afresh (a new generation)."""
        text = self.location_edit.text().strip() or DEFAULT_LOCATION
        try:
            location = normalize_location(text)
        except Exception as err:  # noqa: BLE001 - a bad URI is shown, not raised
            self._show_error(getattr(err, "problem", str(err)))
            return
        self._generation += 1
        self._location = location
        self.location_edit.setText(location)
        self.tree.clear()
        self._pending = {location: None}
        self._set_status(f"Listing {location} ...")
        self._list(self._generation, location)

    def go_up(self) -> None:
        """List the folder above the current location."""
        if self._location:
            self.set_location(parent_location(self._location))

    def _list(self, generation: int, uri: str) -> None:
        def done(result, generation=generation, uri=uri):
            status, value = result
            if status == "ok":
                self._on_listed(generation, uri, value)
            else:
                self._on_failed(generation, uri, value)

        self.runner.submit("s3-list", _list_job(self._make_lister(), uri), on_done=done, queue=True)

    def shutdown(self) -> None:
        """Stop listing (its own pool's threads end; a shared pool is the window's to stop)."""
        if self._own_runner:
            self.runner.shutdown(3000)
        else:
            self.runner.cancel("s3-list")

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 - Qt name
        super().showEvent(event)
        if self._autoload:
            self._autoload = False
            gate = getattr(self, "autoload_gate", None)  # the window's: not while an exposure opens
            gate(self.refresh) if gate is not None else self.refresh()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt name
        self.shutdown()
        super().closeEvent(event)

    def _make_lister(self) -> Lister:
        """A function of plain values for the worker (it must not read the widget)."""
        if self._lister is not None:
            return self._lister
        anon, endpoint_url = self.anon, self.endpoint_url
        return lambda uri: list_dir(uri, anon=anon, endpoint_url=endpoint_url)

    # -- UI thread -------------------------------------------------------------------------------
    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet(f"color: {_ERROR_COLOR.name()};" if error else "")
        self.status.setText(text)

    def _show_error(self, message: str) -> None:
        self._set_status(message, error=True)

    def _on_expanded(self, item: QtWidgets.QTreeWidgetItem) -> None:
        if item.data(0, _KIND_ROLE) != "prefix" or item.data(1, _KIND_ROLE) == "loaded":
            return
        uri = item.data(0, _URI_ROLE)
        if uri in self._pending:
            return
        self._pending[uri] = item
        item.takeChildren()
        placeholder = QtWidgets.QTreeWidgetItem(["loading ..."])
        placeholder.setData(0, _KIND_ROLE, "placeholder")
        placeholder.setFlags(QtCore.Qt.ItemFlag.NoItemFlags)
        item.addChild(placeholder)
        self._list(self._generation, uri)

    def _take_pending(self, generation: int, uri: str):
        """The item a result is for, or False when the result is stale."""
        if generation != self._generation or uri not in self._pending:
            return False
        return self._pending.pop(uri)

    def _on_listed(self, generation: int, uri: str, result) -> None:
        target = self._take_pending(generation, uri)
        if target is False:
            return
        prefixes, files = result
        items = []
        for prefix in prefixes:
            item = _SizeItem([prefix[len(uri):], ""])
            item.setData(0, _URI_ROLE, prefix)
            item.setData(0, _KIND_ROLE, "prefix")
            item.setToolTip(0, prefix)
            item.setIcon(0, self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_DirIcon))
            item.setChildIndicatorPolicy(QtWidgets.QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
            items.append(item)
        for entry in files:
            item = _SizeItem([entry.name, human_size(entry.size)])
            item.setData(0, _URI_ROLE, entry.uri)
            item.setData(0, _KIND_ROLE, "file")
            item.setData(0, _SIZE_ROLE, entry.size)
            item.setToolTip(0, entry.uri)
            item.setToolTip(1, f"{entry.size:,} bytes")
            item.setTextAlignment(1, QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
            item.setIcon(0, self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_FileIcon))
            items.append(item)
        if target is None:
            self.tree.addTopLevelItems(items)
            self.location_changed.emit(uri)
        else:
            target.takeChildren()
            target.setData(1, _KIND_ROLE, "loaded")
            if items:
                target.addChildren(items)
            else:
                target.setChildIndicatorPolicy(QtWidgets.QTreeWidgetItem.ChildIndicatorPolicy.DontShowIndicator)
        self._set_status(f"{uri}: {len(prefixes)} folders, {len(files)} files")
        self.listing_finished.emit(uri)

    def _on_failed(self, generation: int, uri: str, message: str) -> None:
        target = self._take_pending(generation, uri)
        if target is False:
            return
        error = QtWidgets.QTreeWidgetItem([message, ""])
        error.setData(0, _KIND_ROLE, "error")
        error.setForeground(0, QtGui.QBrush(_ERROR_COLOR))
        error.setToolTip(0, message)
        error.setFlags(QtCore.Qt.ItemFlag.ItemIsEnabled)
        if target is None:
            self.tree.addTopLevelItem(error)
        else:
            target.takeChildren()
            target.addChild(error)  # collapsing and expanding again retries
            target.setExpanded(True)
        self._show_error(f"{uri}: {message}")
        self.listing_failed.emit(uri, message)

    def _on_activated(self, item: QtWidgets.QTreeWidgetItem, column: int) -> None:
        if item.data(0, _KIND_ROLE) == "file":
            self.open_requested.emit(item.data(0, _URI_ROLE))
