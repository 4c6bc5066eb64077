"""The main window: builds the widgets and docks, and implements the controller's view protocols.

It computes nothing and decides nothing: widgets write user edits into the
model (:class:`~brightstar_gui.models.ViewModel`) or call the controller
(:class:`~brightstar_gui.controllers.ViewerController`), and the controller
calls back through the protocols of :mod:`brightstar_gui.controllers._protocols`
(``panes``, ``ramp``, ``status`` -- this window).  Qt signals named after
what happened (``exposure_opened``, ``frame_rendered`` ...) are for tests and
benchmarks.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6 import QtCore, QtGui, QtWidgets

from .. import settings as settings_mod
from ..controllers import ViewerController
from ..models import Cutout
from ..workers import WorkerPool
from . import dialogs
from .campaign_dock import install_campaign_dock
from .diagnostics_docks import install_diagnostics
from .display_controls import DisplayControls
from .file_browser import FileBrowser
from .frame_slider import FrameSlider
from .metadata import MetadataBrowser
from .navigation_menus import install_navigation
from .panes import PaneGroup
from .ramp_plot import RampPanel
from .status import StatusArea


class MainWindow(QtWidgets.QMainWindow, dialogs.DialogsMixin):
    """brightstar-gui's window.

    Signals
    -------
    exposure_opened(str uri), context_loaded(str uri)
    frame_rendered(float seconds)
        Panes were uploaded (seconds: the worker's compute time).
    ramp_plotted(), summary_ready(), calibration_finished(bool ok), export_finished(str path)
    error_shown(str text)
    """

    exposure_opened = QtCore.pyqtSignal(str)
    context_loaded = QtCore.pyqtSignal(str)
    frame_rendered = QtCore.pyqtSignal(float)
    ramp_plotted = QtCore.pyqtSignal()
    summary_ready = QtCore.pyqtSignal()
    calibration_finished = QtCore.pyqtSignal(bool)
    export_finished = QtCore.pyqtSignal(str)
    error_shown = QtCore.pyqtSignal(str)
    #: A long task moved: (task label, fraction 0..1, message).
    task_progress = QtCore.pyqtSignal(str, float, str)

    def __init__(self, endpoint_url: str | None = None, trace=None, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("brightstar-gui")
        self.settings = settings_mod.open_settings()
        self.pool = WorkerPool(self)
        self.panes = PaneGroup()
        self.ramp = RampPanel()
        self.status = self  # the window is the controller's status view
        half = settings_mod.value(self.settings, "view/cutout_half", 256, int)
        self.controller = ViewerController(self, self.pool, endpoint_url=endpoint_url, trace=trace, cutout_half=half)
        self.model = self.controller.model
        self._last_error_box: QtWidgets.QMessageBox | None = None
        self._export_dialog = None
        self._superbias_dialog = None

        # -- widgets -----------------------------------------------------------------------
        self.panes.show_empty("No exposure open.\nFile > Open exposure...,\nor double-click a file\nin the Exposures list.")
        self.slider = FrameSlider(self.model)
        self.slider.on_tick = self.controller.tick
        self.controls = DisplayControls(self.model)
        self.metadata = MetadataBrowser()
        self.browser = FileBrowser()
        central = QtWidgets.QWidget()
        v = QtWidgets.QVBoxLayout(central)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(0)
        v.addWidget(self.panes, 1)
        v.addWidget(self.slider)
        self.setCentralWidget(central)

        self.browser_dock = self._dock("Exposures", self.browser, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea)
        from .s3_browser import S3BrowserWidget

        self.s3_browser = S3BrowserWidget(endpoint_url=endpoint_url, runner=self.pool)
        from .first_paint import after_opening

        self.s3_browser.autoload_gate = lambda fn: after_opening(self, fn)  # its listing must not race an open
        self.s3_dock = self._dock("S3", self.s3_browser, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.browser_dock, self.s3_dock)
        self.browser_dock.raise_()
        self.controls_dock = self._dock("Display", _scrolled(self.controls), QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.metadata_dock = self._dock("Metadata", self.metadata, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.controls_dock, self.metadata_dock)
        self.controls_dock.raise_()
        self.ramp_dock = self._dock("Pixel ramp", self.ramp, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
        # Side docks + the panes' minimum fit a 1280-px screen (docks: 200 + 360,
        # panes and slider: ~690); wider screens give the panes the rest.
        self.controls_dock.setMinimumWidth(360)  # the controls fit without a horizontal scroll bar
        self.browser_dock.setMinimumWidth(200)

        self.status_area = StatusArea(self.statusBar(), self.controller.cancel_task)
        # A long hover readout or reference path is clipped, never widens the window.
        for label in self.statusBar().findChildren(QtWidgets.QLabel):
            label.setMinimumWidth(1)
        self.hover_label = self.status_area.hover_label
        self.fetch_label = self.status_area.fetch_label
        self._fetch_timer = QtCore.QTimer(self, interval=500)
        self._fetch_timer.timeout.connect(self._update_fetch_label)
        self._fetch_timer.start()
        self._build_menus()
        install_navigation(self)  # Navigate/Help menus, keys, zoom, pixel table, pane menu
        install_diagnostics(self)  # Saturation dock (growth, profile, pins), onset pane and contours
        install_campaign_dock(self)  # Campaign dock (bottom, tabbed with the ramp), View-menu toggle

        # -- views -> model / controller ------------------------------------------------------
        c = self.controller
        self.panes.pixel_clicked.connect(lambda r, col: setattr(self.model, "selected_pixel", (r, col)))
        self.panes.pixel_hovered.connect(c.hover)
        self.panes.cutout_edited.connect(
            lambda r, col, half: setattr(self.model, "cutout", Cutout(r, col, half, self.model.cutout.enabled)))
        self.panes.view_changed.connect(c.view_changed)
        self.controls.calibrate_requested.connect(c.start_calibration)
        self.controls.center_on_star_requested.connect(c.center_on_star)
        self.controls.pane.currentIndexChanged.connect(lambda _: self._on_histogram_pane())
        self.browser.folder_chosen.connect(self.scan_folder)
        self.browser.open_requested.connect(self.open_uri)
        self.s3_browser.open_requested.connect(self.open_uri)
        self.s3_browser.endpoint_changed.connect(lambda url: setattr(self.controller, "endpoint_url", url or None))
        c.histogram_pane = self.controls.current_pane

        from .regions import install_regions

        install_regions(self)
        from .session_actions import install_session

        install_session(self)
        from .console_dock import install_console

        install_console(self)
        from .compare import install_compare

        install_compare(self)
        settings_mod.load_state(self.settings, self.model)
        self.model.fps = settings_mod.value(self.settings, "view/fps", 5.0, float)
        from .window_fit import fit_docks

        fit_docks(self)  # the window fits 1280 x 800 whatever docks were added above
        self._restore_layout()
        folder = settings_mod.value(self.settings, "browser/folder", "")
        if folder and Path(folder).is_dir():
            self.browser.set_folder(folder)
            # A child timer, not QTimer.singleShot(0, lambda): a window closed
            # before the event loop runs takes it along.
            self._remembered_folder = folder
            timer = QtCore.QTimer(self, singleShot=True, interval=0)
            # Not brought forward: the restored layout (or the command line) says which tab is in front.
            timer.timeout.connect(lambda: self.scan_folder(self._remembered_folder, raise_dock=False))
            timer.start()

    # -- shortcuts to the controller's state (tests and scripts read these) ------------------
    @property
    def state(self):
        return self.model

    @property
    def last_render(self):
        return self.controller.last_render

    @property
    def dataset(self):
        return self.controller.dataset

    @property
    def session(self):
        """The open dataset (``.uri``): what :mod:`..crash_guard` and :mod:`..verify_status` read."""
        return self.controller.dataset

    @property
    def endpoint_url(self):
        return self.controller.endpoint_url

    def submit_task(self, channel: str, factory, on_done, on_cancel=None, on_error=None, on_progress=None) -> int:
        """A long job with a progress row and cancel button, cancelled when another exposure opens."""
        ds = self.controller.dataset
        return self.controller.submit(channel, factory, on_done, task=True, tag=ds.id if ds is not None else None,
                                      on_cancel=on_cancel, on_error=on_error, on_progress=on_progress)

    def open_uri(self, uri: str, options=None) -> None:
        """Open an exposure in the background (local path or s3://)."""
        uri = str(uri)
        if "://" not in uri:
            self.settings.setValue("browser/folder", str(Path(uri).parent))
            self.list_folder_of(uri)
        self.controller.open(uri, options)

    def list_folder_of(self, path: str) -> None:
        """Show the opened file's folder in the Exposures list (also when opened from the command line)."""
        from .file_browser import folder_to_list

        listed = self.browser.folder.text()
        here = Path(path).resolve()
        self.browser.select_path(str(here))
        if listed and Path(listed).is_dir() and Path(listed).resolve() in here.parents:
            return  # already listed (the user's folder, or the demo's)
        folder = str(folder_to_list(here))
        self._remembered_folder = folder  # the start-up scan of the last session's folder lists this one
        if Path(folder).is_dir():
            # Once the exposure's first panes are up (its header reads would race the open job's),
            # or after a few seconds whatever happens to the open.
            from .first_paint import once_shown

            once_shown(self, lambda: self.scan_folder(folder))

    def start_calibration(self) -> None:
        self.controller.start_calibration()

    # -- construction helpers --------------------------------------------------------------
    def _dock(self, title: str, widget: QtWidgets.QWidget, area) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower().replace(' ', '-')}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            screen = QtGui.QGuiApplication.primaryScreen()
            avail = screen.availableGeometry() if screen is not None else QtCore.QRect(0, 0, 1600, 1000)
            self.resize(min(1560, avail.width()), min(980, avail.height()))
        layout = self.settings.value("window/state")
        if layout is None or not self.restoreState(layout):
            self.resizeDocks([self.ramp_dock], [240], QtCore.Qt.Orientation.Vertical)
            self.resizeDocks([self.browser_dock, self.controls_dock], [250, 370], QtCore.Qt.Orientation.Horizontal)

    def _build_menus(self) -> None:
        c = self.controller
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = file_menu.addAction("&Open exposure...", self.choose_file)
        self.open_action.setShortcut(QtGui.QKeySequence.StandardKey.Open)
        file_menu.addAction("Open &folder...", self.choose_folder)
        file_menu.addAction("Open &demo data", lambda: self.start_demo())
        file_menu.addSeparator()
        self.export_action = file_menu.addAction("&Export...", self.show_export_dialog)
        self.export_action.setShortcut(QtGui.QKeySequence("Ctrl+E"))
        file_menu.addSeparator()
        file_menu.addAction("&Quit", self.close).setShortcut(QtGui.QKeySequence.StandardKey.Quit)
        analysis = bar.addMenu("&Analysis")
        self.calibrate_action = analysis.addAction("&Calibrate exposure", c.start_calibration)
        analysis.addAction("Cancel calibration", lambda: c.cancel_task("calibrate"))
        analysis.addAction("Mean slope of the &full frame", lambda: c.ensure_summary(full=True))
        analysis.addAction("&Superbias from darks...", self.show_superbias_dialog)
        analysis.addAction("C&lear superbias", c.clear_superbias)
        analysis.addAction("&Reference files...", self.choose_references)
        analysis.addAction("Cache si&ze...", self.choose_cache_size)
        view = bar.addMenu("&View")
        view.addAction("&Reset zoom", c.reset_zoom).setShortcut(QtGui.QKeySequence("Ctrl+0"))
        view.addAction("Toggle &cutout / full frame", c.toggle_cutout).setShortcut(QtGui.QKeySequence("C"))
        view.addSeparator()
        for dock in (self.browser_dock, self.controls_dock, self.metadata_dock, self.ramp_dock, self.s3_dock):
            view.addAction(dock.toggleViewAction())

    def _on_histogram_pane(self) -> None:
        self.controller.histogram_pane = self.controls.current_pane
        self.controller.request_render()

    def _update_fetch_label(self) -> None:
        self.fetch_label.setText(self.controller.fetch_text())

    # -- StatusView (called by the controller) ------------------------------------------------
    def show_error(self, what: str, text, details: str | None = None) -> None:
        """The one place errors are shown: a message box, never a crash."""
        if isinstance(text, BaseException):
            details = details or getattr(text, "__traceback_text__", None)
            text = str(text) or type(text).__name__
        uri = getattr(self.controller.dataset, "uri", None)
        if uri and uri not in text and Path(uri).name not in text:
            text = f"{uri}: {text}"  # every error box names the file it is about
        self.flash(f"{what} failed: {text}", 10000)
        self.error_shown.emit(f"{what}: {text}")
        if self._last_error_box is not None:
            self._last_error_box.close()
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, f"{what} failed", text,
                                    QtWidgets.QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
        box.setModal(False)
        box.show()
        self._last_error_box = box

    def flash(self, text: str, timeout_ms: int = 0) -> None:
        self.status_area.flash(text, timeout_ms)

    def task_started(self, channel: str, title: str) -> None:
        self.status_area.task_started(channel, title)

    def on_task_progress(self, channel: str, fraction: float, message: str) -> None:
        self.status_area.task_progress(channel, fraction, message)
        row = self.status_area.tasks.get(channel)
        self.task_progress.emit(row.title if row is not None else channel, fraction, message)

    def task_ended(self, channel: str) -> None:
        self.status_area.task_ended(channel)

    @property
    def _tasks(self):
        return self.status_area.tasks

    def set_hover_text(self, text: str) -> None:
        self.hover_label.setText(text)

    def set_exposure(self, uri: str, meta, read_times) -> None:
        self.slider.read_times = read_times
        self.slider._update_label()
        self.metadata.set_tree(meta)
        name = Path(uri).name if "://" not in uri else uri
        self.setWindowTitle(f"{name} - brightstar-gui")

    def after_paint(self, fn) -> None:
        """Call ``fn()`` once the panes have painted (work that follows an exposure's first panes)."""
        from .first_paint import call_after_paint

        call_after_paint(self.panes.graphics.viewport(), fn)

    def set_pane_levels(self, kind: str, levels, histogram) -> None:
        if self.controls_dock.isVisible():
            self.controls.set_pane_levels(kind, levels, histogram)

    def set_playback_rate(self, fps) -> None:
        self.slider.set_rate(fps)

    def set_references(self, text: str) -> None:
        self.status_area.set_references(text)

    def notify(self, event: str, *args) -> None:
        if event == "opened":
            self.exposure_opened.emit(args[0])
        elif event == "context_loaded":
            self.context_loaded.emit(args[0])
        elif event == "rendered":
            self.frame_rendered.emit(float(args[0].seconds))
        elif event == "ramp_plotted":
            self.ramp_plotted.emit()
        elif event == "summary_ready":
            self.summary_ready.emit()
        elif event == "calibration_finished":
            self.calibration_finished.emit(bool(args[0]))
        elif event == "export_finished":
            self.export_finished.emit(args[0])

    # -- shutdown -----------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt name
        self.model.playing = False
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("view/fps", self.model.fps)
        settings_mod.save_state(self.settings, self.model)
        self.settings.sync()
        # No timer may fire into a window that is going away.
        for timer in self.findChildren(QtCore.QTimer):
            timer.stop()
        self.s3_browser.shutdown()
        self.controller.close()
        for dlg in (self._export_dialog, self._superbias_dialog, self._last_error_box):
            if dlg is not None:
                dlg.close()
        super().closeEvent(event)


def _scrolled(widget: QtWidgets.QWidget) -> QtWidgets.QScrollArea:
    area = QtWidgets.QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(widget)
    area.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
    return area
