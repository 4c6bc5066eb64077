"""The window's dialogs and file flows: open, folders, references, cache size, demo, superbias, export.

A mixin of :class:`~brightstar_gui.widgets.main_window.MainWindow`: each method
asks the user (a Qt dialog) and hands plain values to the controller.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6 import QtWidgets

from processing import figures

from .. import settings as settings_mod
from .export_dialog import ExportDialog
from .file_browser import scan_folder_job
from .superbias_dialog import SuperbiasDialog


class DialogsMixin:
    def choose_file(self) -> None:
        start = settings_mod.value(self.settings, "browser/folder", str(Path.home()))
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open exposure", start, "ASDF (*.asdf);;All files (*)")
        if path:
            self.open_uri(path)

    def choose_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder with exposures",
                                                            settings_mod.value(self.settings, "browser/folder", ""))
        if folder:
            self.scan_folder(folder)

    def scan_folder(self, folder: str, raise_dock: bool = True) -> None:
        """List ``folder``'s exposures in the Exposures tab (brought forward unless ``raise_dock`` is False)."""
        if not folder or not Path(folder).is_dir():
            self.controller._error("Scanning", f"{folder}: not a folder")
            return
        self.settings.setValue("browser/folder", folder)
        self.browser.set_folder(folder)
        if raise_dock:
            self.browser_dock.raise_()
        self.controller.submit("scan", lambda token: scan_folder_job(folder), self.browser.set_rows, task=True)

    def show_s3_location(self, uri: str) -> None:
        """List the S3 folder ``uri`` in the S3 tab and bring the tab forward."""
        self.s3_dock.show()
        self.s3_dock.raise_()
        self.s3_browser.set_location(uri)

    def choose_references(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder with reference files (roman_wfi_<type>_*.asdf)")
        if not folder:
            return
        try:
            self.controller.references_folder(folder)
        except ValueError as err:
            self.controller._error("Reference files", err)

    def choose_cache_size(self) -> None:
        gb, ok = QtWidgets.QInputDialog.getDouble(
            self, "Cache size", "Largest size of all the caches together (GB):", settings_mod.cache_limit_gb(), 1.0,
            10000.0, 1)
        if ok:
            settings_mod.set_cache_limit_gb(gb)

    # -- demo ------------------------------------------------------------------------------
    def start_demo(self, frames: int = 55, size: int = 4096) -> None:
        """Open the synthetic demo set, writing it into the cache on first use.

        Two labelled tasks, each with its own progress in the status bar, the
        empty panes and the terminal: the first look, then the darks.  The
        first look is two jobs on the ``demo`` channel under one progress
        row: the illuminated exposure (it opens as soon as it is written,
        the mask and ratio panes saying "loading reference files..."), then
        its reference files (the controller then loads them).  A set written
        by another generator version is written again.
        """
        from processing import synth

        from .. import demo as demo_mod

        folder = demo_mod.demo_folder(frames, size)
        manifest = synth.read_manifest(folder)
        cfg = synth.SynthConfig(frames=frames, size=size)
        submit = self.controller.submit

        def write_darks(detector=None):
            # The darks (for the superbias) follow in the background, with
            # the first look's detector model when there is one (seconds saved).
            darks = demo_mod.TaskProgress(demo_mod.DARKS)

            def done(result):
                darks.update(1.0, "written")
                self.flash(f"demo darks written into {folder}", 5000)
                self.scan_folder(str(folder))

            submit("darks", lambda token: synth.write_darks_job(folder, cfg, detector), done, on_progress=darks.update,
                   task=True)

        def darks_after_context(manifest, detector=None):
            if not manifest["complete"]:
                # The darks start once the exposure is on screen with its
                # references: on two cores they would slow the first paint.
                def after_context(uri):
                    self.context_loaded.disconnect(after_context)
                    write_darks(detector)

                self.context_loaded.connect(after_context)

        if synth.manifest_is_current(manifest, frames, size):
            self.browser.set_folder(str(folder))
            self.scan_folder(str(folder))
            darks_after_context(manifest)
            self.open_uri(str(folder / manifest["illuminated"]))
            return
        # First use (or an older generator's set): the illuminated exposure
        # first, so there is something to look at soon; the window says what
        # it does.  One progress row for both jobs, never going back.
        first = demo_mod.TaskProgress(demo_mod.FIRST_LOOK)
        self.task_started("demo", demo_mod.FIRST_LOOK)

        def progress(lo, hi):
            def report(fraction, message):
                shown = first.update(lo + (hi - lo) * fraction, message)
                self.on_task_progress("demo", shown, message)
                if self.controller.dataset is None:
                    self.panes.show_empty(first.empty_text(folder))
            return report

        def cancelled():
            self.task_ended("demo")
            self.flash("demo data cancelled", 5000)
            if self.controller.dataset is None:
                self.panes.show_empty("Demo data cancelled.\nFile > Open demo data\nstarts it again.")

        def failed(err):
            self.task_ended("demo")
            if self.controller.dataset is None:
                self.panes.show_empty(f"The demo data set could not be written:\n{err}")

        def exposure_written(part):
            uri = str(part.path)
            self.controller.await_references(uri)
            self.open_uri(uri)

            def stopped(handler):
                # No references are coming: stop waiting, the context job says what is missing.
                return lambda *err: (handler(*err), self.controller.references_ready(uri))

            submit("demo", lambda token: synth.write_first_look_references_job(folder, cfg, part),
                   lambda manifest: references_written(uri, manifest, part.detector),
                   on_progress=progress(synth.EXPOSURE_SHARE, 1.0), on_cancel=stopped(cancelled),
                   on_error=stopped(failed))

        def references_written(uri, manifest, detector):
            self.on_task_progress("demo", first.update(1.0, "written"), "written")
            self.task_ended("demo")
            darks_after_context(manifest, detector)
            self.controller.references_ready(uri)
            self.browser.set_folder(str(folder))
            self.scan_folder(str(folder))

        first.update(0.0, "starting")
        self.panes.show_empty(first.empty_text(folder))
        self.flash(f"writing the demo data set into {folder} (first use only)")
        submit("demo", lambda token: synth.write_illuminated_job(folder, cfg), exposure_written,
               on_progress=progress(0.0, synth.EXPOSURE_SHARE), on_cancel=cancelled, on_error=failed)

    # -- superbias ---------------------------------------------------------------------------
    def dark_candidates(self) -> list[str]:
        return self.controller.dark_candidates()

    def show_superbias_dialog(self) -> SuperbiasDialog:
        if self._superbias_dialog is None:
            dlg = SuperbiasDialog(self.pool, self.dark_candidates(), self)
            dlg.superbias_ready.connect(self.controller.set_superbias)
            dlg.superbias_ready.connect(lambda _: setattr(self.controller, "superbias_source", {
                "darks": dlg.paths(), "method": dlg.method.currentText()}))  # what a saved session recomputes
            dlg.subtract.toggled.connect(lambda on: setattr(self.model, "subtract_superbias", on))
            self.model.events.subtract_superbias.connect(lambda on: _set_checked(dlg.subtract, on))
            self._superbias_dialog = dlg
        self._superbias_dialog.show()
        self._superbias_dialog.raise_()
        return self._superbias_dialog

    # -- export ----------------------------------------------------------------------------------
    def show_export_dialog(self) -> ExportDialog:
        if self._export_dialog is None:
            folder = settings_mod.value(self.settings, "export/folder", str(Path.home()))
            dlg = ExportDialog(folder, figures.default_frames(max(1, self.model.n_frames)), self)
            dlg.export_requested.connect(self.export)
            self._export_dialog = dlg
        self._export_dialog.show()
        self._export_dialog.raise_()
        return self._export_dialog

    def export(self, kind: str, path: str, pane: str = "difference", frames: list[int] | None = None,
               overwrite: bool = False) -> int:
        """Export in the background; ``export_finished(path)`` when written.

        An existing file is kept (the export fails) unless ``overwrite``: the dialog asks first.
        """
        self.settings.setValue("export/folder", str(Path(path).parent))
        dlg = self._export_dialog
        return self.controller.export(
            kind, path, pane, frames, ramp=self.ramp.ramp_table(), overwrite=overwrite,
            size=dlg.size_settings() if dlg is not None else None,
            on_progress=(lambda f, m: dlg.set_progress(f, m)) if dlg is not None else None,
            on_done=(lambda out: dlg.set_done(f"wrote {out}")) if dlg is not None else None,
            on_error=(lambda err: dlg.set_done(f"failed: {err}")) if dlg is not None else None)


def _set_checked(box: QtWidgets.QCheckBox, on: bool) -> None:
    box.blockSignals(True)
    box.setChecked(on)
    box.blockSignals(False)
