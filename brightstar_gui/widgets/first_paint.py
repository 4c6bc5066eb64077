"""Call a function once a widget has painted (the work that follows an exposure's first panes).

:meth:`MainWindow.after_paint` uses it for
:class:`~brightstar_gui.controllers._first_frame.FirstFrameMixin`: what the
first panes do not need starts after they are on screen, not between the
render's result and its paint.
"""

from __future__ import annotations

from typing import Callable

from PyQt6 import QtCore, QtWidgets

#: Run anyway after this many ms: a widget that is not painted (hidden, minimised) must not hold the work back.
FALLBACK_MS = 300


class _AfterPaint(QtCore.QObject):
    def __init__(self, widget: QtWidgets.QWidget, fn: Callable[[], None], fallback_ms: int):
        super().__init__(widget)
        self._fn: Callable[[], None] | None = fn
        self._widget = widget
        widget.installEventFilter(self)
        self._timer = QtCore.QTimer(self)  # a child: never fires into a deleted object
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._fire)
        self._timer.start(fallback_ms)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt name
        if event.type() == QtCore.QEvent.Type.Paint:
            # The paint is under way: run once it is done and on screen.
            self._timer.start(0)
        return False

    def _fire(self) -> None:
        fn, self._fn = self._fn, None
        if fn is None:
            return
        self._widget.removeEventFilter(self)
        self.deleteLater()
        fn()


def call_after_paint(widget: QtWidgets.QWidget, fn: Callable[[], None], fallback_ms: int = FALLBACK_MS) -> None:
    """Call ``fn()`` on the UI thread after ``widget``'s next paint (or after ``fallback_ms``)."""
    _AfterPaint(widget, fn, fallback_ms)


#: ``once_shown`` runs its function after this many ms if no exposure's first panes came first.
SHOWN_FALLBACK_MS = 3000


def once_shown(window, fn: Callable[[], None], fallback_ms: int = SHOWN_FALLBACK_MS) -> None:
    """Call ``fn()`` once, after the next exposure's first panes (the controller's "shown" hook).

    Or after ``fallback_ms`` if none comes (the open failed or was cancelled).
    """
    state = {"fn": fn}
    timer = QtCore.QTimer(window, singleShot=True, interval=fallback_ms)

    def fire(*_):
        f, state["fn"] = state["fn"], None
        window.controller.remove_hook("shown", fire)
        timer.stop()
        timer.deleteLater()
        if f is not None:
            f()

    window.controller.add_hook("shown", fire)
    timer.timeout.connect(fire)
    timer.start()


#: The S3 tab's first listing waits this long after the window shows (an open asked meanwhile goes first).
IDLE_MS = 2000


def after_opening(window, fn: Callable[[], None], idle_ms: int = IDLE_MS) -> None:
    """Call ``fn()`` ``idle_ms`` after now, or after the first panes if an exposure is opening then.

    The S3 tab's first listing (importing s3fs, aiobotocore and httpx, SSL
    contexts: ~0.5 s of CPU, more under load) took more CPU than the open job
    when it ran during an open (the command line's, or one asked just after
    the window showed).
    """
    timer = QtCore.QTimer(window, singleShot=True, interval=idle_ms)

    def check():
        timer.deleteLater()
        if window.pool.busy("open") or window.controller.first_frame_pending():
            once_shown(window, fn)
        else:
            fn()

    timer.timeout.connect(check)
    timer.start()
