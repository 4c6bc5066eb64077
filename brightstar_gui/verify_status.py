"""Background checksum verification of the open exposure, shown in the status bar.

After the first frame and the references are shown (``context_loaded``), the
exposure's blocks are checked against their MD5 checksums
(:func:`processing.verify.verify_job`, in the ``verify`` worker channel, so
it never delays a frame) and a permanent status-bar label says
``verified``, ``CORRUPT`` (the window title too, and an error box naming the
block) or ``no checksums``.  Opening another file cancels the check.

Kept apart from :mod:`.main_window` so that the viewer's redesign can carry it
over unchanged: it needs only ``statusBar()``, ``submit_task``, ``pool``,
``show_error``, ``session``, ``endpoint_url`` and the ``exposure_opened`` /
``context_loaded`` signals.
"""

from __future__ import annotations

import logging

from PyQt6 import QtWidgets

from processing.verify import CORRUPT, NO_CHECKSUMS, VERIFIED, verify_job

log = logging.getLogger(__name__)

_TEXT = {VERIFIED: "✓ checksums verified", CORRUPT: "✗ CORRUPT", NO_CHECKSUMS: "no checksums"}


class VerifyStatus:
    """The label and the hooks (keep a reference)."""

    def __init__(self, window):
        self.window = window
        self.label = QtWidgets.QLabel("")
        self.label.setObjectName("verify_status")
        window.statusBar().addPermanentWidget(self.label)
        self.result = None
        self.uri: str | None = None
        window.exposure_opened.connect(self._opened)
        window.context_loaded.connect(self._start)

    def _opened(self, uri: str) -> None:
        self.window.pool.cancel("verify")
        self.result, self.uri = None, uri
        self.label.setText("")
        self.label.setToolTip("")

    def _start(self, uri: str) -> None:
        if uri != self.uri:
            return
        endpoint = getattr(self.window, "endpoint_url", None)
        self.label.setText("verifying…")
        self.window.submit_task("verify", lambda token: verify_job(uri, endpoint_url=endpoint),
                                lambda result, u=uri: self._done(u, result),
                                on_cancel=lambda: self.label.setText(""))

    def _done(self, uri: str, result) -> None:
        if uri != self.uri:
            return
        self.result = result
        self.label.setText(_TEXT.get(result.status, result.status))
        self.label.setToolTip(result.describe())
        if result.status == CORRUPT:
            title = self.window.windowTitle()
            if not title.startswith("[CORRUPT]"):
                self.window.setWindowTitle(f"[CORRUPT] {title}")
            self.label.setStyleSheet("color: #c00; font-weight: bold")
            self.window.show_error("Checksum verification", result.describe())
        else:
            self.label.setStyleSheet("")


def install(window) -> VerifyStatus:
    """Add the verification label and hooks to ``window``."""
    return VerifyStatus(window)
