"""Run a function when a window is about to close (before its closeEvent shuts the controller down)."""

from __future__ import annotations

from typing import Callable

from PyQt6 import QtCore


class _CloseWatcher(QtCore.QObject):
    def __init__(self, window, fn: Callable[[], None]):
        super().__init__(window)
        self.window = window
        self.fn = fn

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt name
        if obj is self.window and event.type() == QtCore.QEvent.Type.Close:
            self.fn()
        return False  # the window still gets its close event


def on_close(window, fn: Callable[[], None]) -> QtCore.QObject:
    """Call ``fn()`` when ``window`` receives a close event; returns the filter (a child of the window)."""
    watcher = _CloseWatcher(window, fn)
    window.installEventFilter(watcher)
    return watcher
