"""File > Open session / Save session, the last session saved on close and reopened at start (a thin view).

The controller reads and writes the file (:mod:`..controllers._session`);
this module only adds the menu entries, applies a restored session's zoom
once its first frame is on screen, and saves ``last_session.json`` in the
config directory when the window closes -- reopened at the next start when
File > Reopen last session at start is checked (setting ``session/reopen_last``).
"""

from __future__ import annotations

from pathlib import Path

from PyQt6 import QtCore, QtGui, QtWidgets

from processing import paths

from .close_watch import on_close

REOPEN_KEY = "session/reopen_last"
SESSION_FILTER = "brightstar-gui sessions (*.json);;All files (*)"


def last_session_path() -> Path:
    return paths.config_dir() / "last_session.json"


def save_last_session(window) -> None:
    c = window.controller
    if c.dataset is None:
        return
    try:
        from processing.session_file import write_session

        write_session(last_session_path(), c.session_state())
    except (OSError, ValueError):
        pass  # closing must not fail; the previous last session stays as it was


def apply_pending_view(window) -> None:
    """A restored session's zoom, once the exposure's first frame has been drawn (which fits the data)."""
    view = window.controller.pending_view
    if view is None:
        return
    window.controller.pending_view = None
    y0, y1, x0, x1 = view
    viewbox = window.panes.viewbox

    def apply(*_):
        viewbox.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    apply()
    # The restore may open docks whose layout lands after this first frame; a view box
    # that then grows keeps its scale and shows more than the session did.  So the
    # range is applied again on the resizes of the next half second, then left alone.
    viewbox.sigResized.connect(apply)

    def stop() -> None:
        try:
            signal = viewbox.sigResized
        except RuntimeError:
            return  # the window (and its view box) closed within the half second
        _disconnect(signal, apply)

    QtCore.QTimer.singleShot(500, stop)


def _disconnect(signal, slot) -> None:
    try:
        signal.disconnect(slot)
    except (TypeError, RuntimeError):
        pass  # already gone with its window


def install_session(window) -> None:
    """Add the session menu entries and the save on close / reopen at start to ``window``."""
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    before = next((a for a in file_menu.actions() if a.text() == "&Quit"), None)
    open_action = QtGui.QAction("Open sess&ion...", window, triggered=lambda: choose_session(window, save=False))
    save_action = QtGui.QAction("Sa&ve session...", window, triggered=lambda: choose_session(window, save=True))
    save_action.setShortcut(QtGui.QKeySequence("Ctrl+Shift+S"))
    reopen = QtGui.QAction("Reopen last session at start", window, checkable=True)
    reopen.setChecked(_reopen_setting(window))
    reopen.toggled.connect(lambda on: window.settings.setValue(REOPEN_KEY, bool(on)))
    for action in (open_action, save_action, reopen):
        file_menu.insertAction(before, action)
    file_menu.insertSeparator(before)
    window.session_actions = {"open": open_action, "save": save_action, "reopen": reopen}
    window.frame_rendered.connect(lambda *_: apply_pending_view(window))
    # The last session is saved before the controller shuts down.
    window._close_watcher = on_close(window, lambda: save_last_session(window))
    if reopen.isChecked() and last_session_path().exists():
        # A child timer: a window closed before the event loop runs takes it along.
        timer = QtCore.QTimer(window, singleShot=True, interval=0)
        timer.timeout.connect(lambda: reopen_last_session(window))
        timer.start()


def _reopen_setting(window) -> bool:
    value = window.settings.value(REOPEN_KEY, False)
    return value in (True, "true", "1", 1)


def reopen_last_session(window) -> None:
    """Restore the last session unless an exposure is already open or opening (a URI on the command line)."""
    c = window.controller
    if c.dataset is not None or c.runner.busy("open") or not last_session_path().exists():
        return
    c.open_session(str(last_session_path()))


def choose_session(window, save: bool) -> None:
    folder = window.settings.value("session/folder", "") or ""
    if save:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(window, "Save session", folder, SESSION_FILTER)
        if path and not Path(path).suffix:
            path += ".json"
    else:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(window, "Open session", folder, SESSION_FILTER)
    if not path:
        return
    window.settings.setValue("session/folder", str(Path(path).parent))
    if save:
        window.controller.save_session(path)
    else:
        window.controller.open_session(path)
