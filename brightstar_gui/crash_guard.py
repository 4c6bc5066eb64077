"""No abort, ever: unexpected exceptions become an error box with the traceback, and a log entry.

Under PyQt6 an exception escaping a slot on the UI thread calls
``sys.excepthook``; with Python's default hook PyQt then *aborts the
process*.  :func:`install` replaces ``sys.excepthook`` and
``threading.excepthook`` with one that

* logs the exception with its traceback (``brightstar_gui.crash_guard``, so it
  is in the log file, see :mod:`processing.logs`), and
* shows it in the window's error box (:meth:`MainWindow.show_error`), the
  traceback as the box's details, naming the open file -- delivered to the
  UI thread through a queued signal, whatever thread raised it.

``KeyboardInterrupt`` is passed to the previous hook (Ctrl+C still quits).
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback

from PyQt6 import QtCore

log = logging.getLogger(__name__)


class _Relay(QtCore.QObject):
    """Carries (title, exception) to the UI thread."""

    report = QtCore.pyqtSignal(str, object)


class CrashGuard:
    """The installed hooks (keep a reference: :func:`install` returns it).

    Parameters
    ----------
    window : MainWindow
        Has ``show_error(what, err)`` and optionally ``session.uri``.
    """

    def __init__(self, window):
        self.window = window
        self.relay = _Relay()
        self.relay.report.connect(self._show, QtCore.Qt.ConnectionType.QueuedConnection)
        self._previous = (sys.excepthook, threading.excepthook)
        self.count = 0

    def _uri(self) -> str | None:
        session = getattr(self.window, "session", None)
        return getattr(session, "uri", None)

    def handle(self, exc_type, exc, tb, where: str = "") -> None:
        """Log ``exc`` and show it in the window (from any thread)."""
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous[0](exc_type, exc, tb)
            return
        self.count += 1
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        uri = self._uri()
        log.error("unexpected error%s%s", f" in {where}" if where else "", f" (file {uri})" if uri else "",
                  exc_info=(exc_type, exc, tb))
        if exc is None:
            exc = exc_type()
        try:
            exc.__traceback_text__ = text
        except (AttributeError, TypeError):  # a few built-in exceptions refuse new attributes
            exc = RuntimeError(f"{exc_type.__name__}: {exc}")
            exc.__traceback_text__ = text
        self.relay.report.emit("Unexpected error" + (f" ({where})" if where else ""), exc)

    def _show(self, title: str, exc) -> None:
        try:
            self.window.show_error(title, exc)
        except Exception:  # noqa: BLE001 - the last resort must not raise itself
            log.exception("could not show an error box")

    def sys_hook(self, exc_type, exc, tb) -> None:
        self.handle(exc_type, exc, tb)

    def thread_hook(self, args) -> None:
        name = getattr(args.thread, "name", "a thread")
        self.handle(args.exc_type, args.exc_value, args.exc_traceback, f"thread {name}")

    def uninstall(self) -> None:
        sys.excepthook, threading.excepthook = self._previous


def install(window) -> CrashGuard:
    """Route every unexpected exception to ``window``'s error box and the log; return the guard."""
    guard = CrashGuard(window)
    sys.excepthook = guard.sys_hook
    threading.excepthook = guard.thread_hook
    return guard
