"""The main window: wires the state, the widgets and the worker channels.

The window computes nothing.  User edits change :class:`ViewState`; state
events schedule jobs on :class:`WorkerPool` channels (``render``, ``pixel``,
``summary``, ``open``, ``calibrate`` ...); finished jobs of the newest
generation come back to ``_on_*`` methods that upload results to widgets.
Every worker error goes to :meth:`MainWindow.show_error` (one handler).
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import numpy as np
from PyQt6 import QtCore, QtGui, QtWidgets

from processing import figures, paths
from processing.figures import PANES

from . import demo as demo_mod
from . import session as session_mod
from . import settings as settings_mod
from .export import ExportRequest, export_job
from .state import ViewState
from .widgets.display_controls import DisplayControls
from .widgets.export_dialog import ExportDialog
from .widgets.file_browser import FileBrowser, scan_folder_job
from .widgets.frame_slider import FrameSlider
from .widgets.metadata import MetadataBrowser
from .widgets.panes import PaneGroup
from .widgets.ramp_plot import RampPanel
from .widgets.superbias_dialog import SuperbiasDialog
from .workers import WorkerPool

#: Channels whose progress is shown in the status bar with a cancel button.
_LONG_TASKS = {"open": "Opening", "context": "Reference files", "summary": "Mean slope", "calibrate": "Calibration", "demo": demo_mod.FIRST_LOOK,
               "darks": demo_mod.DARKS,
               "scan": "Scanning", "export": "Export", "attach": "Calibrated ramp",
               "verify": "Checksums"}


class TaskRow(QtWidgets.QWidget):
    """Progress of one background task, with a cancel button."""

    def __init__(self, title: str, on_cancel, parent=None):
        super().__init__(parent)
        self.label = QtWidgets.QLabel(title)
        self.bar = QtWidgets.QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setMaximumWidth(160)
        self.bar.setMaximumHeight(16)
        self.bar.setTextVisible(True)
        self.cancel = QtWidgets.QToolButton()
        self.cancel.setText("\u2715")
        self.cancel.setToolTip(f"Cancel {title.lower()}")
        self.cancel.setAutoRaise(True)
        self.cancel.clicked.connect(on_cancel)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)
        self.title = title

    def set_progress(self, fraction: float, message: str) -> None:
        # A progress bar never goes backwards (a job's stages restart their own count).
        fraction = max(fraction, self.bar.value() / 1000)
        self.bar.setValue(int(fraction * 1000))
        self.bar.setFormat(f"{fraction * 100:.0f}%")
        self.setToolTip(message)
        self.label.setText(self.title)


class MainWindow(QtWidgets.QMainWindow):
    """brightstar-gui's window.

    Signals
    -------
    exposure_opened(str uri)
    frame_rendered(float seconds)
        Panes for the current state were uploaded (seconds: worker compute time).
    ramp_plotted()
    calibration_finished(bool ok)
    export_finished(str path)
    """

    exposure_opened = QtCore.pyqtSignal(str)
    #: Reference files (and any cached calibration) loaded for the open exposure.
    context_loaded = QtCore.pyqtSignal(str)
    frame_rendered = QtCore.pyqtSignal(float)
    ramp_plotted = QtCore.pyqtSignal()
    summary_ready = QtCore.pyqtSignal()
    calibration_finished = QtCore.pyqtSignal(bool)
    export_finished = QtCore.pyqtSignal(str)
    error_shown = QtCore.pyqtSignal(str)
    #: A long task moved: (task label, fraction 0..1, message).
    task_progress = QtCore.pyqtSignal(str, float, str)

    def __init__(self, endpoint_url: str | None = None, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("brightstar-gui")
        self.endpoint_url = endpoint_url
        self.state = ViewState()
        self.pool = WorkerPool(self)
        self.pool.errored.connect(lambda channel, err: self.show_error(_LONG_TASKS.get(channel, channel), err))
        self.session: session_mod.Session | None = None
        self.last_render: session_mod.RenderResult | None = None
        self._luts: dict[tuple[str, str], np.ndarray] = {}
        # Colour tables come from matplotlib, whose import takes ~1 s: build
        # the default ones in the background now, not on the UI thread at the
        # first paint.
        self._lut_warmer = threading.Thread(target=self._warm_luts, name="lut-warmer", daemon=True)
        self._lut_warmer.start()
        self._render_wanted = False
        self._render_inflight = False
        self._tasks: dict[str, TaskRow] = {}
        self._last_error_box: QtWidgets.QMessageBox | None = None
        self._export_dialog: ExportDialog | None = None
        self._superbias_dialog: SuperbiasDialog | None = None
        self.references_override: dict[str, Path] | None = None
        self.settings = settings_mod.open_settings()

        # -- widgets -----------------------------------------------------------------------
        self.panes = PaneGroup()
        self.panes.show_empty("No exposure open.\nFile > Open, or double-click\na file in a browser (left).")
        self.slider = FrameSlider(self.state)
        self.slider.ready_for_next = lambda: not self._render_inflight
        self.slider.install_shortcuts(self)
        self.ramp = RampPanel()
        self.controls = DisplayControls(self.state)
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
        self.s3_dock = self._make_s3_dock()
        self.controls_dock = self._dock("Display", _scrolled(self.controls), QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.metadata_dock = self._dock("Metadata", self.metadata, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.controls_dock, self.metadata_dock)
        self.controls_dock.raise_()
        self.ramp_dock = self._dock("Pixel ramp", self.ramp, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
        self.controls_dock.setMinimumWidth(420)  # the controls fit without a horizontal scroll bar
        self.browser_dock.setMinimumWidth(300)

        self.hover_label = QtWidgets.QLabel("")
        font = self.hover_label.font()
        font.setFamily("monospace")
        self.hover_label.setFont(font)
        self.statusBar().addWidget(self.hover_label, 1)
        # Transient messages get their own label: QStatusBar.showMessage would
        # paint over the hover readout.
        self.message_label = QtWidgets.QLabel("")
        self.message_label.setMaximumWidth(520)
        self.statusBar().addPermanentWidget(self.message_label)
        self._message_timer = QtCore.QTimer(self, singleShot=True)
        self._message_timer.timeout.connect(self.message_label.clear)
        self.fetch_label = QtWidgets.QLabel("")
        self.statusBar().addPermanentWidget(self.fetch_label)
        self._fetch_timer = QtCore.QTimer(self, interval=500)
        self._fetch_timer.timeout.connect(self._update_fetch_label)
        self._fetch_timer.start()
        self.task_area = QtWidgets.QWidget()
        self.task_layout = QtWidgets.QHBoxLayout(self.task_area)
        self.task_layout.setContentsMargins(0, 0, 0, 0)
        self.statusBar().addPermanentWidget(self.task_area)

        self._build_menus()

        # -- wiring ----------------------------------------------------------------------------
        ev = self.state.events
        for name in ("frame", "baseline", "displays", "flag_color", "data_kind", "subtract_superbias"):
            getattr(ev, name).connect(lambda *_: self.request_render())
        ev.cutout.connect(self._on_cutout_change)
        ev.data_kind.connect(lambda *_: (self.ensure_summary(), self._request_pixel()))
        ev.selected_pixel.connect(lambda *_: self._request_pixel())
        ev.selected_pixel.connect(self.panes.set_selected)
        ev.frame.connect(self.ramp.set_frame)
        self.panes.pixel_clicked.connect(lambda r, c: setattr(self.state, "selected_pixel", (r, c)))
        self._hover_pixel: tuple[int, int] | None = None
        self.panes.pixel_hovered.connect(self._on_hover)
        self.panes.cutout_edited.connect(self._on_cutout_edited)
        self.panes.view_changed.connect(self._on_view_changed)
        self.controls.calibrate_requested.connect(self.start_calibration)
        self.controls.center_on_star_requested.connect(self.center_on_star)
        self.controls.pane.currentIndexChanged.connect(lambda _: self.request_render())
        self.browser.folder_chosen.connect(self.scan_folder)
        self.browser.open_requested.connect(self.open_uri)

        settings_mod.load_state(self.settings, self.state)
        self.slider.fps.setValue(settings_mod.value(self.settings, "view/fps", 5.0, float))
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
            self.resizeDocks([self.browser_dock, self.controls_dock], [270, 320], QtCore.Qt.Orientation.Horizontal)
        self._first_render = True
        folder = settings_mod.value(self.settings, "browser/folder", "")
        if folder and Path(folder).is_dir():
            self.browser.set_folder(folder)
            # A child timer, not QTimer.singleShot(0, lambda): a window closed
            # before the event loop runs takes it along, so the scan never
            # calls into a deleted window.
            self._remembered_folder = folder
            timer = QtCore.QTimer(self, singleShot=True, interval=0)
            timer.timeout.connect(self._scan_remembered_folder)
            timer.start()

    def _scan_remembered_folder(self) -> None:
        self.scan_folder(self._remembered_folder)

    # -- construction helpers ----------------------------------------------------------------------
    def _dock(self, title: str, widget: QtWidgets.QWidget, area) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower().replace(' ', '-')}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _make_s3_dock(self) -> QtWidgets.QDockWidget:
        """The S3 browser, tabbed with the folder browser (it lists nothing until shown)."""
        from .widgets.s3_browser import S3BrowserWidget

        self.s3_browser = S3BrowserWidget(endpoint_url=self.endpoint_url)
        self.s3_browser.open_requested.connect(self.open_uri)
        dock = self._dock("S3", self.s3_browser, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.browser_dock, dock)
        self.browser_dock.raise_()
        return dock

    def _update_fetch_label(self) -> None:
        """Bytes fetched from S3 for the open exposure, in the status bar."""
        sess = self.session
        stats = getattr(getattr(sess.primary, "source", None), "stats", None) if sess is not None else None
        if stats is None:
            self.fetch_label.setText("")
            return
        snap = stats.snapshot()
        self.fetch_label.setText(
            f"S3: {snap['bytes_fetched'] / 1e6:,.1f} MB in {snap['requests']} requests"
            f" (+{snap['cache_bytes'] / 1e6:,.1f} MB from cache)")

    def _build_menus(self) -> None:
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
        self.calibrate_action = analysis.addAction("&Calibrate exposure", self.start_calibration)
        analysis.addAction("Cancel calibration", lambda: self.pool.cancel("calibrate"))
        analysis.addAction("Mean slope of the &full frame", lambda: self.ensure_summary(full=True))
        analysis.addAction("&Superbias from darks...", self.show_superbias_dialog)
        analysis.addAction("&Reference files...", self.choose_references)
        analysis.addAction("Cache si&ze...", self.choose_cache_size)

        view = bar.addMenu("&View")
        view.addAction("&Reset zoom", self.reset_zoom).setShortcut(QtGui.QKeySequence("Ctrl+0"))
        view.addAction("Toggle &cutout / full frame", self.toggle_cutout).setShortcut(QtGui.QKeySequence("C"))
        view.addSeparator()
        for dock in (self.browser_dock, self.controls_dock, self.metadata_dock, self.ramp_dock, self.s3_dock):
            if dock is not None:
                view.addAction(dock.toggleViewAction())

    # -- errors and tasks -----------------------------------------------------------------------------
    def show_error(self, what: str, err: BaseException | str) -> None:
        """The one place errors are shown: a message box, never a crash."""
        text = str(err) if not isinstance(err, BaseException) else (str(err) or type(err).__name__)
        uri = getattr(self.session, "uri", None)
        if uri and uri not in text and Path(uri).name not in text:
            text = f"{uri}: {text}"  # every error box names the file it is about
        self.flash(f"{what} failed: {text}", 10000)
        self.error_shown.emit(f"{what}: {text}")
        if self._last_error_box is not None:
            self._last_error_box.close()
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, f"{what} failed", text,
                                    QtWidgets.QMessageBox.StandardButton.Ok, self)
        details = getattr(err, "__traceback_text__", None)
        if details:
            box.setDetailedText(details)
        box.setModal(False)
        box.show()
        self._last_error_box = box

    def flash(self, text: str, timeout_ms: int = 0) -> None:
        """Show a transient message in the status bar (cleared after ``timeout_ms``)."""
        metrics = self.message_label.fontMetrics()
        self.message_label.setText(metrics.elidedText(text, QtCore.Qt.TextElideMode.ElideMiddle, 500))
        self.message_label.setToolTip(text)
        if timeout_ms:
            self._message_timer.start(timeout_ms)
        else:
            self._message_timer.stop()

    def _task_started(self, channel: str) -> TaskRow:
        row = self._tasks.get(channel)
        if row is None:
            row = TaskRow(_LONG_TASKS.get(channel, channel), lambda: self.pool.cancel(channel))
            self._tasks[channel] = row
            self.task_layout.addWidget(row)
        row.set_progress(0.0, "starting")
        row.show()
        return row

    def _task_progress(self, channel: str, fraction: float, message: str) -> None:
        row = self._tasks.get(channel)
        if row is not None:
            row.set_progress(fraction, message)
        self.flash(message, 3000)
        self.task_progress.emit(_LONG_TASKS.get(channel, channel), fraction, message)

    def _task_ended(self, channel: str) -> None:
        row = self._tasks.pop(channel, None)
        if row is not None:
            row.hide()
            row.deleteLater()

    def submit_task(self, channel: str, factory, on_done, description: str = "", on_cancel=None, on_error=None,
                    on_progress=None) -> int:
        """Run a long job with a progress row and cancel button in the status bar."""
        self._task_started(channel)

        def done(result):
            self._task_ended(channel)
            on_done(result)

        def cancelled():
            self._task_ended(channel)
            self.flash(f"{_LONG_TASKS.get(channel, channel)} cancelled", 5000)
            if on_cancel is not None:
                on_cancel()

        def failed(err):
            self._task_ended(channel)
            if on_error is not None:
                on_error(err)

        def progress(fraction, message):
            self._task_progress(channel, fraction, message)
            if on_progress is not None:
                on_progress(fraction, message)

        return self.pool.submit(channel, factory, on_done=done, on_progress=progress,
                                on_cancel=cancelled, on_error=failed, description=description)

    # -- opening ------------------------------------------------------------------------------------------
    def choose_file(self) -> None:
        start = settings_mod.value(self.settings, "browser/folder", str(Path.home()))
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open exposure", start, "ASDF (*.asdf);;All files (*)")
        if path:
            self.open_uri(path)

    def choose_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder with exposures",
                                                            settings_mod.value(self.settings, "browser/folder", ""))
        if folder:
            self.browser.set_folder(folder)
            self.scan_folder(folder)

    def scan_folder(self, folder: str) -> None:
        if not folder or not Path(folder).is_dir():
            self.show_error("Scanning", f"{folder}: not a folder")
            return
        self.settings.setValue("browser/folder", folder)
        self.browser.set_folder(folder)
        self.browser_dock.raise_()
        self.submit_task("scan", lambda token: scan_folder_job(folder), self.browser.set_rows)

    def choose_references(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder with reference files (roman_wfi_<type>_*.asdf)")
        if not folder:
            return
        refs = figures.references_in_folder(folder)
        if "saturation" not in refs:
            self.show_error("Reference files", f"{folder} has no roman_wfi_saturation_*.asdf")
            return
        self.references_override = refs
        if self.session is not None:
            self.open_uri(self.session.uri)

    def choose_cache_size(self) -> None:
        gb, ok = QtWidgets.QInputDialog.getDouble(
            self, "Cache size", "Largest size of the calibration cache (GB):", settings_mod.cache_limit_gb(), 1.0, 10000.0, 1)
        if ok:
            settings_mod.set_cache_limit_gb(gb)

    def open_uri(self, uri: str) -> None:
        """Open an exposure in the background (local path or s3://)."""
        uri = str(uri)
        if "://" not in uri:
            self.settings.setValue("browser/folder", str(Path(uri).parent))
        refs = self.references_override
        endpoint = self.endpoint_url
        self.flash(f"opening {uri}")
        self.submit_task("open", lambda token: session_mod.open_job(uri, endpoint, refs), self._on_opened)

    def _on_opened(self, new: session_mod.Session) -> None:
        for channel in ("render", "pixel", "summary", "attach", "calibrate", "context"):
            self.pool.cancel(channel)
            self._task_ended(channel)
        old, self.session = self.session, new
        if old is not None:
            old.close()
        self.last_render = None
        self._first_render = True
        self.panes.clear()
        n, h, w = new.shape
        self.slider.read_times = new.primary.read_times
        half = settings_mod.value(self.settings, "view/cutout_half", 256, int)
        self.state.reset_for(n, (h, w), new.star, half=half)
        self.state.calibrated_available = new.calibrated is not None
        self.state.superbias_available = False
        self.metadata.set_tree(new.primary.meta)
        name = Path(new.uri).name if "://" not in new.uri else new.uri
        self.setWindowTitle(f"{name} - brightstar-gui")
        self._apply_region(auto_range=True)
        self.exposure_opened.emit(new.uri)
        # References and a cached calibration come after the first paint.
        endpoint = self.endpoint_url
        self.submit_task("context", lambda token: session_mod.context_job(new, endpoint), self._on_context_loaded)

    def _on_context_loaded(self, sess: session_mod.Session) -> None:
        if sess is not self.session:  # another exposure was opened meanwhile
            return
        self.state.calibrated_available = sess.calibrated is not None
        self.request_render()
        self.ensure_summary()
        for note in sess.notes:
            self.flash(note, 10000)
        self.context_loaded.emit(sess.uri)

    # -- demo ------------------------------------------------------------------------------------------------
    def start_demo(self, frames: int = 55, size: int = 4096) -> None:
        """Open the synthetic demo set, writing it into the cache on first use.

        Two labelled tasks, each with its own progress in the status bar, the
        empty panes and the terminal: the first look (illuminated exposure
        and references; it opens when written), then the darks.
        """
        from processing import synth

        folder = demo_mod.demo_folder(frames, size)
        manifest = synth.read_manifest(folder)
        same = manifest is not None and manifest.get("config", {}).get("frames") == frames \
            and manifest["config"].get("size") == size
        cfg = synth.SynthConfig(frames=frames, size=size)

        def write_darks():
            # The darks (for the superbias) follow in the background.
            darks = demo_mod.TaskProgress(demo_mod.DARKS)

            def done(result):
                darks.update(1.0, "written")
                self.flash(f"demo darks written into {folder}", 5000)
                self.scan_folder(str(folder))

            self.submit_task("darks", lambda token: synth.write_darks_job(folder, cfg), done,
                             on_progress=darks.update)

        def look(result):
            self.browser.set_folder(str(folder))
            self.scan_folder(str(folder))
            if not result["complete"]:
                # The darks start once the exposure is on screen with its
                # references: on two cores they would slow the first paint.
                def after_context(uri):
                    self.context_loaded.disconnect(after_context)
                    write_darks()

                self.context_loaded.connect(after_context)
            self.open_uri(str(folder / result["illuminated"]))

        if same:
            look(manifest)
            return
        # First use: the illuminated exposure and its references first, so
        # there is something to look at soon; the window says what it does.
        first = demo_mod.TaskProgress(demo_mod.FIRST_LOOK)
        first.update(0.0, "starting")

        def progress(fraction, message):
            first.update(fraction, message)
            if self.session is None:
                self.panes.show_empty(first.empty_text(folder))

        self.panes.show_empty(first.empty_text(folder))
        self.flash(f"writing the demo data set into {folder} (first use only)")
        self.submit_task("demo", lambda token: synth.write_first_look_job(folder, cfg),
                         lambda result: (first.update(1.0, "written"), look(result)), on_progress=progress,
                         on_cancel=lambda: self.panes.show_empty("Demo data cancelled.\nFile > Open demo data\nstarts it again."),
                         on_error=lambda err: self.panes.show_empty(f"The demo data set could not be written:\n{err}"))

    # -- region and view -------------------------------------------------------------------------------------
    def _on_cutout_edited(self, row: int, col: int, half: int) -> None:
        from .state import Cutout

        c = self.state.cutout
        self.state.cutout = Cutout(row, col, half, c.enabled)

    def _on_cutout_change(self, cutout) -> None:
        # Fit the view when switching cutout <-> full frame, and follow a moved cutout.
        toggled = cutout.enabled != getattr(self, "_cutout_was_enabled", cutout.enabled)
        self._cutout_was_enabled = cutout.enabled
        self._apply_region(auto_range=cutout.enabled or toggled)
        self.ensure_summary()

    def _apply_region(self, auto_range: bool) -> None:
        if self.session is None:
            return
        h, w = self.state.frame_shape
        self.panes.set_cutout_rect(self.state.cutout.region((h, w)))
        self.panes.set_data_bounds(self.state.region(), auto_range=auto_range)
        self.request_render()

    def toggle_cutout(self) -> None:
        from dataclasses import replace

        self.state.cutout = replace(self.state.cutout, enabled=not self.state.cutout.enabled)

    def center_on_star(self) -> None:
        from dataclasses import replace

        if self.session is not None and self.session.star is not None:
            r, c = self.session.star
            self.state.cutout = replace(self.state.cutout, row=r, col=c)

    def reset_zoom(self) -> None:
        self.panes.set_data_bounds(self.state.region(), auto_range=True)

    def _render_view(self, region) -> tuple[tuple[int, int, int, int], int]:
        """Part of ``region`` to draw (visible area plus margin) and the pixel step."""
        y0, y1, x0, x1 = region
        (vy0, vy1, vx0, vx1), per_px = self.panes.visible()
        if not self.panes.isVisible() or not all(map(math.isfinite, (vy0, vy1, vx0, vx1, per_px))) or per_px <= 0:
            step = max(1, math.ceil(max(y1 - y0, x1 - x0) / 1024))
            return region, step
        step = max(1, int(per_px))
        my, mx = 0.5 * (vy1 - vy0), 0.5 * (vx1 - vx0)
        ry0 = max(y0, int(math.floor(vy0 - my)))
        ry1 = min(y1, int(math.ceil(vy1 + my)))
        rx0 = max(x0, int(math.floor(vx0 - mx)))
        rx1 = min(x1, int(math.ceil(vx1 + mx)))
        if ry1 <= ry0 or rx1 <= rx0:
            return region, max(1, math.ceil(max(y1 - y0, x1 - x0) / 1024))
        # Align to the step so that re-rendering a moved view keeps the pixel grid.
        ry0 = y0 + (ry0 - y0) // step * step
        rx0 = x0 + (rx0 - x0) // step * step
        return (ry0, ry1, rx0, rx1), step

    def _on_view_changed(self) -> None:
        if self.session is None or self.last_render is None:
            return
        req = self.last_render.request
        (vy0, vy1, vx0, vx1), per_px = self.panes.visible()
        need = max(1, int(per_px)) if math.isfinite(per_px) and per_px > 0 else req.step
        y0, y1, x0, x1 = req.view
        ry0, ry1, rx0, rx1 = req.region
        covered = (max(vy0, ry0) >= y0 - 1 and min(vy1, ry1) <= y1 + 1 and max(vx0, rx0) >= x0 - 1 and min(vx1, rx1) <= x1 + 1)
        if not covered or need < req.step or need >= 2 * req.step:
            self.request_render()

    # -- rendering -------------------------------------------------------------------------------------------------
    def _warm_luts(self) -> None:
        import processing.diagnostics  # noqa: F401 - scipy.ndimage, needed by the first open

        for kind in PANES:
            d = self.state.displays[kind]
            key = (d.cmap, d.scale)
            if key not in self._luts:
                self._luts[key] = figures.lookup_table(*key)

    def _lut(self, cmap: str, scale: str) -> np.ndarray:
        key = (cmap, scale)
        if key not in self._luts:
            self._luts[key] = figures.lookup_table(cmap, scale)
        return self._luts[key]

    def build_render_request(self) -> session_mod.RenderRequest:
        st = self.state
        styles = {}
        for kind in PANES:
            d = st.displays[kind]
            styles[kind] = session_mod.PaneStyle(d.mode, d.low, d.high, d.vmin, d.vmax, self._lut(d.cmap, d.scale))
        region = st.region()
        view, step = self._render_view(region)
        return session_mod.RenderRequest(
            kind=st.data_kind, frame=st.frame, baseline=st.baseline, region=region, view=view, step=step,
            styles=styles, flag_color=st.flag_color, subtract_superbias=st.subtract_superbias,
            histogram_pane=self.controls.current_pane,
        )

    def request_render(self) -> None:
        """Ask for the panes of the current state (the newest request wins)."""
        if self.session is None:
            return
        req = self.build_render_request()
        sess = self.session
        self._render_inflight = True
        self._render_t0 = time.perf_counter()
        self.pool.submit("render", lambda token: session_mod.render(sess, req, token), on_done=self._on_rendered,
                         on_error=lambda err: setattr(self, "_render_inflight", False))

    def _on_rendered(self, result: session_mod.RenderResult) -> None:
        req = result.request
        self.last_render = result
        # Titles carry no frame number: a title whose width changes re-lays out
        # the whole plot grid (every axis redrawn) on each frame.  The frame is
        # in the slider's label.
        titles = {
            "raw": "Raw frame" + (" - superbias" if req.subtract_superbias else ""),
            "difference": f"Difference: frame - frame {req.baseline}",
            "ratio": "Frame slope / mean slope",
            "mask": "Saturated (3) / 4-neighbour (2) / diagonal (1)",
        }
        cal = " (calibrated)" if req.kind == "calibrated" else ""
        for kind, pane in result.panes.items():
            self.panes.set_image(kind, pane.rgba, pane.rect)
            style = req.styles[kind]
            self.panes.set_colorbar(kind, style.lut, pane.levels)
            self.panes.set_message(kind, pane.message if pane.rgba is None or kind == "ratio" and pane.message else "")
            self.panes.set_title(kind, titles[kind] + (cal if kind != "mask" else ""))
            if pane.histogram is not None and self.controls_dock.isVisible():
                self.controls.set_pane_levels(kind, pane.levels, pane.histogram)
        self._render_inflight = False
        if self._first_render:
            # The layout has settled by now: fit the data and draw at screen resolution.
            self._first_render = False
            self.reset_zoom()
        # The status-bar readout follows the frame, not only the mouse.
        if self._hover_pixel is not None:
            self._on_hover(*self._hover_pixel)
        self.frame_rendered.emit(result.seconds)

    # -- summaries (mean slope) --------------------------------------------------------------------------------------
    def ensure_summary(self, full: bool = False) -> None:
        """Compute the mean slope of the shown region (or the full frame) if not known."""
        sess = self.session
        if sess is None or sess.saturation_source()[0] is None:
            return
        kind = self.state.data_kind
        h, w = self.state.frame_shape
        region = (0, h, 0, w) if full else self.state.region()
        if sess.summary_for(kind, region)[0] is not None:
            return

        def done(summary):
            self.summary_ready.emit()
            self.request_render()
            self._request_pixel()

        def progress_message(fraction, message):
            self.panes.set_message("ratio", f"computing the mean slope... {fraction * 100:.0f}%")

        self.submit_task("summary", lambda token: session_mod.summary_job(sess, kind, region), done,
                         on_progress=progress_message)

    # -- pixel ------------------------------------------------------------------------------------------------------
    def _request_pixel(self) -> None:
        sess = self.session
        pixel = self.state.selected_pixel
        if sess is None or pixel is None:
            return
        self._pixel_t0 = time.perf_counter()
        row, col = pixel
        self.pool.submit("pixel", lambda token: session_mod.pixel_ramps(sess, row, col), on_done=self._on_pixel)

    def _on_pixel(self, data: dict) -> None:
        self.ramp.set_ramps(data, self.state.frame)
        self.ramp_plotted.emit()

    def _on_hover(self, row: int, col: int) -> None:
        self._hover_pixel = (row, col) if row >= 0 else None
        if row < 0 or self.last_render is None:
            self.hover_label.setText("")
            return
        v = session_mod.probe_values(self.last_render, row, col)
        if v is None:
            self.hover_label.setText(f"row {row}  col {col}")
            return
        parts = [f"row {row}  col {col}", f"frame {v['frame']}", f"value {v['value']:.1f} DN"]
        if "difference" in v:
            parts.append(f"diff {v['difference']:.1f} DN")
        if "ratio" in v:
            parts.append(f"ratio {v['ratio']:.3f}")
        if "mask" in v:
            parts.append(f"mask {v['mask']}")
        if "pixeldq" in v:
            dq = v["pixeldq"]
            try:
                from processing.diagnostics import decode_dq

                names = "|".join(decode_dq(dq)) if dq else "GOOD"
            except Exception:  # noqa: BLE001
                names = str(dq)
            parts.append(f"DQ {names}")
        self.hover_label.setText("   ".join(parts))

    # -- calibration -----------------------------------------------------------------------------------------------
    def start_calibration(self) -> None:
        sess = self.session
        if sess is None:
            self.show_error("Calibration", "open an exposure first")
            return
        if sess.raw is None:
            self.flash("this file is already a calibrated ramp", 5000)
            return
        if sess.calibrated is not None:
            self.state.data_kind = "calibrated"
            return
        uri, refs = sess.uri, dict(sess.references) or None
        endpoint = self.endpoint_url

        def done(result):
            path = getattr(result, "path", result)
            self.flash(f"calibrated ramp: {path}", 8000)
            self._attach_calibrated(path)

        self.submit_task("calibrate", lambda token: session_mod.calibration_job(uri, refs, endpoint), done,
                         on_cancel=lambda: self.calibration_finished.emit(False),
                         on_error=lambda err: self.calibration_finished.emit(False))

    def _attach_calibrated(self, path) -> None:
        sess = self.session

        def attach(token):
            session_mod.attach_calibrated(sess, path)
            return path

        def done(_):
            if sess is not self.session:
                return
            self.state.calibrated_available = True
            self.state.data_kind = "calibrated"
            self._request_pixel()
            self.calibration_finished.emit(True)

        self.submit_task("attach", attach, done, on_error=lambda err: self.calibration_finished.emit(False))

    # -- superbias ------------------------------------------------------------------------------------------------------
    def dark_candidates(self) -> list[str]:
        if self.session is None or "://" in self.session.uri:
            return []
        from processing import synth

        for parent in list(Path(self.session.uri).resolve().parents)[:5]:
            manifest = synth.read_manifest(parent)
            if manifest is not None:
                return [str(parent / d) for d in manifest.get("darks", []) if (parent / d).exists()]
        return []

    def show_superbias_dialog(self) -> SuperbiasDialog:
        if self._superbias_dialog is None:
            dlg = SuperbiasDialog(self.pool, self.dark_candidates(), self)
            dlg.superbias_ready.connect(self._on_superbias)
            dlg.subtract.toggled.connect(lambda on: setattr(self.state, "subtract_superbias", on))
            self.state.events.subtract_superbias.connect(lambda on: _set_checked(dlg.subtract, on))
            self._superbias_dialog = dlg
        self._superbias_dialog.show()
        self._superbias_dialog.raise_()
        return self._superbias_dialog

    def _on_superbias(self, superbias: np.ndarray) -> None:
        if self.session is None:
            return
        if superbias.shape != tuple(self.state.frame_shape):
            self.show_error("Superbias", f"superbias shape {superbias.shape} does not match frames {self.state.frame_shape}")
            return
        self.session.superbias = superbias
        self.state.superbias_available = True

    # -- export ------------------------------------------------------------------------------------------------------------
    def show_export_dialog(self) -> ExportDialog:
        if self._export_dialog is None:
            folder = settings_mod.value(self.settings, "export/folder", str(Path.home()))
            n = max(1, self.state.n_frames)
            dlg = ExportDialog(folder, figures.default_frames(n), self)
            dlg.export_requested.connect(self.export)
            self._export_dialog = dlg
        self._export_dialog.show()
        self._export_dialog.raise_()
        return self._export_dialog

    def figure_data(self) -> figures.FigureData:
        sess = self.session
        st = self.state
        sat_src, sat_dn = sess.saturation_source()
        region = st.region()
        det = sess.primary.get_meta("instrument.detector") or ""
        title = f"SCA {det[3:].lstrip('0')}" if det.startswith("WFI") else det
        return figures.FigureData(
            frames=sess.frames(st.data_kind), raw=sat_src, region=region, sat_dn=sat_dn, pixeldq=sess.pixeldq,
            mean_slope=sess.mean_slope(st.data_kind, region), title=title,
            superbias=sess.superbias if st.subtract_superbias else None,
            data_kind="calibrated" if st.data_kind == "calibrated" and sess.calibrated is not None else "raw",
            source=str(sess.calibration_path or sess.uri) if st.data_kind == "calibrated" else sess.uri,
            references={k: str(v) for k, v in sess.references.items()},
        )

    def export(self, kind: str, path: str, pane: str = "difference", frames: list[int] | None = None,
               overwrite: bool = False) -> int:
        """Export in the background; ``export_finished(path)`` when written.

        An existing file is kept (the export fails) unless ``overwrite``:
        the dialog asks first.
        """
        if self.session is None:
            self.show_error("Export", "open an exposure first")
            return -1
        st = self.state
        specs = {}
        last = self.last_render
        for k in PANES:
            d = st.displays[k]
            levels = (d.vmin, d.vmax) if d.mode == "manual" else None
            # A flag colour the user picked is kept; the default white is the bottom of
            # inferno_r, so files then get one chosen outside the colour map (pane_colours).
            flag = (*st.flag_color, 255) if tuple(st.flag_color) != (255, 255, 255) else None
            specs[k] = figures.PaneSpec(k, cmap=d.cmap, scale=d.scale, levels=levels, percentiles=(d.low, d.high),
                                        flag_color=flag)
        n = st.n_frames
        frames = [f for f in (frames or figures.default_frames(n)) if 0 <= f < n]
        req = ExportRequest(
            kind=kind, path=Path(path), data=self.figure_data(), pane=pane, specs=specs, frame=st.frame,
            baseline=st.baseline, frames=frames, ramp=self.ramp.ramp_table(),
            cube_source=self.session.frames(st.data_kind), region=st.region(), overwrite=overwrite,
            raw_source=self.session.raw, calibrated_source=self.session.calibrated,
            **(self._export_dialog.size_settings() if self._export_dialog is not None else {}),
            meta={"source": self.session.uri, "kind": st.data_kind,
                  "read_times": None if self.session.primary.read_times is None else [float(t) for t in self.session.primary.read_times]},
            settings={"uri": self.session.uri, "kind": st.data_kind, "frame": st.frame, "baseline": st.baseline,
                      "region": st.region(), "frames": frames,
                      "displays": {k: vars(v) if not hasattr(v, "__dataclass_fields__") else
                                   {f: getattr(v, f) for f in v.__dataclass_fields__} for k, v in st.displays.items()},
                      "levels": {k: p.levels for k, p in (last.panes.items() if last else [])}},
        )
        self.settings.setValue("export/folder", str(Path(path).parent))
        dlg = self._export_dialog

        def done(out):
            self.flash(f"wrote {out}", 8000)
            if dlg is not None:
                dlg.set_done(f"wrote {out}")
            self.export_finished.emit(str(out))

        def progress(f, m):
            if dlg is not None:
                dlg.set_progress(f, m)

        return self.submit_task("export", lambda token: export_job(req), done, on_progress=progress,
                                on_error=lambda err: dlg.set_done(f"failed: {err}") if dlg is not None else None)

    # -- shutdown ---------------------------------------------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.slider.stop()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("view/fps", self.slider.fps.value())
        settings_mod.save_state(self.settings, self.state)
        self.settings.sync()
        # No timer may fire into a window that is going away.
        for timer in self.findChildren(QtCore.QTimer):
            timer.stop()
        self.s3_browser.shutdown()
        self.pool.shutdown()
        if self.session is not None:
            self.session.close()
            self.session = None
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


def _set_checked(box: QtWidgets.QCheckBox, on: bool) -> None:
    box.blockSignals(True)
    box.setChecked(on)
    box.blockSignals(False)
