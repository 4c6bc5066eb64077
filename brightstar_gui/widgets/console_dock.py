"""An IPython console dock (qtconsole with an in-process kernel) to script what the viewer shows.

Its namespace holds ``window``, ``controller``, ``model`` (the view state:
``model.frame = 10`` moves the slider), ``dataset`` and ``exposure`` (the open
exposure, updated when another is opened), ``regions`` (the controller's
shapes), ``np`` and ``RegionShape``.  The kernel runs in the UI thread, so
the code typed there may touch the model and the widgets.

Created on first use (View > Python console): importing qtconsole and
starting the kernel takes seconds.  IPython's history thread is disabled and
the kernel is shut down when the window closes, so no thread outlives it.
"""

from __future__ import annotations

import os
from typing import Any

from PyQt6 import QtCore, QtGui, QtWidgets

from .close_watch import on_close

BANNER = ("brightstar-gui console: window, controller, model, dataset, exposure, regions, np, RegionShape.\n"
          "e.g.  model.frame = 10   |   exposure.frame(3)[100:110, 100:110]   |   controller.regions\n")


class ConsoleDock(QtWidgets.QDockWidget):
    """The dock and its kernel; :meth:`shutdown` stops the kernel (idempotent)."""

    def __init__(self, window):
        super().__init__("Python console", window)
        self.setObjectName("dock-python-console")
        os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # debugpy's frozen-modules warning on stderr
        from qtconsole.inprocess import QtInProcessKernelManager
        from qtconsole.rich_jupyter_widget import RichJupyterWidget
        from traitlets.config import Config

        config = Config()
        config.HistoryManager.enabled = False  # its saving thread would outlive the window
        self.kernel_manager = QtInProcessKernelManager(config=config)
        self.kernel_manager.start_kernel(show_banner=False)
        self.kernel_manager.kernel.gui = "qt"
        self.kernel_client = self.kernel_manager.client()
        self.kernel_client.start_channels()
        self.console = RichJupyterWidget()
        self.console.banner = BANNER
        self.console.kernel_manager = self.kernel_manager
        self.console.kernel_client = self.kernel_client
        self.setWidget(self.console)
        self.window_ = window
        self.push(self.namespace(window))
        window.controller.add_hook("opened", lambda ds: self.push({"dataset": ds, "exposure": ds.primary}))

    @staticmethod
    def namespace(window) -> dict[str, Any]:
        import numpy as np

        from processing.session_file import RegionShape

        c = window.controller
        ds = c.dataset
        return {"window": window, "controller": c, "model": c.model, "dataset": ds,
                "exposure": None if ds is None else ds.primary, "regions": c.regions, "np": np,
                "RegionShape": RegionShape}

    @property
    def shell(self):
        return self.kernel_manager.kernel.shell if self.kernel_manager is not None else None

    def push(self, names: dict[str, Any]) -> None:
        if self.shell is not None:
            self.shell.push(names)

    def execute(self, code: str) -> None:
        """Run ``code`` as if typed at the prompt (shown in the console)."""
        self.console.execute(code, hidden=False)

    def shutdown(self) -> None:
        if self.kernel_manager is None:
            return
        self.kernel_client.stop_channels()
        self.kernel_manager.shutdown_kernel()
        self.kernel_manager = self.kernel_client = None


def _shut_down_console(window) -> None:
    dock = getattr(window, "console_dock", None)
    if dock is not None:
        dock.shutdown()


def show_console(window) -> ConsoleDock | None:
    """The console dock, created on first use, shown and focused."""
    dock = getattr(window, "console_dock", None)
    if dock is None:
        QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
        try:
            dock = window.console_dock = ConsoleDock(window)
        except ImportError as err:
            window.show_error("Python console", f"the console needs qtconsole and ipykernel ({err}); "
                              "install them with: pip install qtconsole ipykernel")
            return None
        finally:
            QtWidgets.QApplication.restoreOverrideCursor()
        window.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        window.tabifyDockWidget(window.ramp_dock, dock)
    dock.show()
    dock.raise_()
    dock.console.setFocus()
    return dock


def install_console(window) -> None:
    """View > Python console (Ctrl+Shift+P); the kernel is shut down when the window closes."""
    window.console_dock = None
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    action = QtGui.QAction("Python &console", window, triggered=lambda: show_console(window))
    action.setShortcut(QtGui.QKeySequence("Ctrl+Shift+P"))
    view.addAction(action)
    window.console_action = action
    window._console_watcher = on_close(window, lambda: _shut_down_console(window))
