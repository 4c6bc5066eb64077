"""Export dialog: a pane, the pane group, the tutorial's figure sets, the ramp, the cutout."""

from __future__ import annotations

from pathlib import Path

from PyQt6 import QtCore, QtWidgets

from processing.figures import FORMATS, PANE_TITLES, PANES

from ..jobs.export import EXPORT_KINDS

KIND_LABELS = {
    "pane": "One pane (current frame)",
    "group": "The four panes (current frame)",
    "differences": "Tutorial: differences of three frames",
    "rows": "Tutorial: image / slope ratio / mask per frame",
    "ramp-csv": "Selected pixel's ramp (CSV)",
    "pins-csv": "Pinned pixels' ramps (CSV)",
    "cutout-asdf": "Cutout cube (ASDF)",
}


class ExportDialog(QtWidgets.QDialog):
    """Collects what to export; the window runs the export job.

    Signals
    -------
    export_requested(str kind, str path, str pane, list frames, bool overwrite)
        ``overwrite`` is True only when the file existed and the user said
        to replace it.
    """

    export_requested = QtCore.pyqtSignal(str, str, str, list, bool)

    def __init__(self, folder: str, default_frames: list[int], parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.kind = QtWidgets.QComboBox()
        for kind in EXPORT_KINDS:
            self.kind.addItem(KIND_LABELS[kind], kind)
        self.pane = QtWidgets.QComboBox()
        for kind in PANES:
            self.pane.addItem(PANE_TITLES[kind], kind)
        self.format = QtWidgets.QComboBox()
        self.format.addItems(list(FORMATS))
        self.frames = QtWidgets.QLineEdit(", ".join(str(k) for k in default_frames))
        self.dpi = QtWidgets.QSpinBox()
        self.dpi.setRange(50, 1200)
        self.dpi.setValue(100)
        self.dpi.setSuffix(" dpi")
        self.width_px = QtWidgets.QSpinBox()
        self.width_px.setRange(0, 40000)
        self.width_px.setSpecialValueText("native resolution")
        self.width_px.setSuffix(" px")
        self.path = QtWidgets.QLineEdit(str(Path(folder) / "brightstar-figure.png"))
        browse = QtWidgets.QToolButton()
        browse.setText("...")
        browse.clicked.connect(self._browse)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        form = QtWidgets.QFormLayout()
        form.addRow("what", self.kind)
        form.addRow("pane", self.pane)
        form.addRow("format", self.format)
        form.addRow("frames", self.frames)
        form.addRow("resolution", self.dpi)
        form.addRow("figure width", self.width_px)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form.addRow("file", row)
        buttons = QtWidgets.QDialogButtonBox()
        self.export_button = buttons.addButton("Export", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.export_button.clicked.connect(self._export)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.kind.currentIndexChanged.connect(self._on_kind)
        self.format.currentTextChanged.connect(self._fix_suffix)
        self._on_kind()
        self.resize(560, 260)

    def _on_kind(self, *_):
        kind = self.kind.currentData()
        self.pane.setEnabled(kind == "pane")
        self.frames.setEnabled(kind in ("differences", "rows"))
        self.format.setEnabled(kind in ("pane", "group", "differences", "rows"))
        self.dpi.setEnabled(kind in ("pane", "group", "differences", "rows"))
        self.width_px.setEnabled(kind in ("pane", "group", "differences", "rows"))
        self._fix_suffix()

    def _suffix(self) -> str:
        kind = self.kind.currentData()
        if kind in ("ramp-csv", "pins-csv"):
            return ".csv"
        if kind == "cutout-asdf":
            return ".asdf"
        return "." + self.format.currentText()

    def _fix_suffix(self, *_):
        path = Path(self.path.text() or "brightstar-figure.png")
        self.path.setText(str(path.with_suffix(self._suffix())))

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export to", self.path.text())
        if path:
            self.path.setText(path)
            self._fix_suffix()

    def parsed_frames(self) -> list[int]:
        out = []
        for part in self.frames.text().replace(";", ",").split(","):
            part = part.strip()
            if part:
                out.append(int(part))
        return out

    def _export(self) -> None:
        try:
            frames = self.parsed_frames()
        except ValueError:
            self.status.setText("Frames must be integers separated by commas.")
            return
        path = Path(self.path.text())
        existing = [p for p in (path, path.with_name(path.name + ".json")) if p.exists()]
        overwrite = False
        if existing:
            names = " and ".join(p.name for p in existing)
            answer = QtWidgets.QMessageBox.question(
                self, "Replace file?", f"{names} already exist{'s' if len(existing) == 1 else ''} in {path.parent}. Replace?")
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                self.status.setText("not exported: the file exists")
                return
            overwrite = True
        self.status.setText("exporting...")
        self.export_requested.emit(self.kind.currentData(), self.path.text(), self.pane.currentData(), frames, overwrite)

    def size_settings(self) -> dict:
        """``dpi`` and ``width`` (None: native resolution) for figure exports."""
        return {"dpi": float(self.dpi.value()), "width": self.width_px.value() or None}

    def set_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.status.setText(message)

    def set_done(self, text: str) -> None:
        self.progress.setValue(1000)
        self.status.setText(text)
