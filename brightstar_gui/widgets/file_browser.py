"""A browser of local folders listing exposures with model type, frames and size."""

from __future__ import annotations

import os
from pathlib import Path

from PyQt6 import QtCore, QtWidgets

from processing.progress import Progress


def scan_folder_job(folder: str, max_depth: int = 5, max_files: int = 2000):
    """List ``*.asdf`` exposures under ``folder`` with their summaries (a progress job)."""
    from processing.errors import ExposureError
    from processing.io import open_exposure

    root = Path(folder)
    paths: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < max_depth else []
        # Regular files only: a FIFO would block the scan, a symlink loop raise.
        paths.extend(Path(dirpath) / f for f in sorted(filenames) if f.endswith(".asdf") and os.path.isfile(Path(dirpath) / f))
        if len(paths) >= max_files:
            break
    rows = []
    for i, path in enumerate(paths):
        row = {"path": str(path), "name": path.name, "folder": str(path.parent.relative_to(root)), "size": path.stat().st_size}
        try:
            with open_exposure(path) as exp:
                s = exp.summary()
                row.update(model=s["model_type"], frames=s["shape"][0], shape=f"{s['shape'][1]} x {s['shape'][2]}",
                           exposure_type=s.get("exposure_type") or "")
        except ExposureError:
            row = None  # reference files and other ASDF: not exposures, not listed
        if row is not None:
            rows.append(row)
        yield Progress((i + 1) / max(1, len(paths)), f"scanning {path.name}")
    return rows


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


class FileBrowser(QtWidgets.QWidget):
    """Folder chooser and a table of the exposures found under it.

    Signals
    -------
    folder_chosen(str)
        The user picked a folder: the window scans it in the background and
        calls :meth:`set_rows`.
    open_requested(str)
        The user double-clicked an exposure.
    """

    folder_chosen = QtCore.pyqtSignal(str)
    open_requested = QtCore.pyqtSignal(str)

    COLUMNS = ("name", "model", "frames", "shape", "size", "folder")

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.folder = QtWidgets.QLineEdit()
        self.folder.setPlaceholderText("Folder with ASDF exposures")
        browse = QtWidgets.QToolButton()
        browse.setText("...")
        browse.setToolTip("Choose a folder")
        browse.clicked.connect(self._browse)
        refresh = QtWidgets.QToolButton()
        refresh.setText("\u21bb")
        refresh.setToolTip("Scan again")
        refresh.clicked.connect(lambda: self.folder_chosen.emit(self.folder.text()))
        self.folder.returnPressed.connect(lambda: self.folder_chosen.emit(self.folder.text()))
        self.table = QtWidgets.QTreeWidget()
        self.table.setHeaderLabels([c for c in self.COLUMNS])
        self.table.setRootIsDecorated(False)
        self.table.setSortingEnabled(True)
        self.table.setTextElideMode(QtCore.Qt.TextElideMode.ElideMiddle)
        self.table.itemDoubleClicked.connect(self._on_double_click)
        self.status = QtWidgets.QLabel("")
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.folder, 1)
        top.addWidget(browse)
        top.addWidget(refresh)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.table)
        layout.addWidget(self.status)

    def _browse(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder with exposures", self.folder.text())
        if folder:
            self.set_folder(folder)
            self.folder_chosen.emit(folder)

    def set_folder(self, folder: str) -> None:
        self.folder.setText(folder)

    def set_rows(self, rows: list[dict]) -> None:
        self.table.setSortingEnabled(False)
        self.table.clear()
        for row in rows:
            item = QtWidgets.QTreeWidgetItem([
                row["name"], str(row.get("model", "")), str(row.get("frames", "")), row.get("shape", ""),
                _size(row["size"]), row["folder"],
            ])
            item.setData(0, QtCore.Qt.ItemDataRole.UserRole, row["path"])
            item.setToolTip(0, row["path"])
            self.table.addTopLevelItem(item)
        self.table.setSortingEnabled(True)
        for i in range(1, len(self.COLUMNS) - 1):
            self.table.resizeColumnToContents(i)
        self.table.setColumnWidth(0, 170)
        self.status.setText(f"{len(rows)} files")

    def _on_double_click(self, item, _column) -> None:
        path = item.data(0, QtCore.Qt.ItemDataRole.UserRole)
        if path:
            self.open_requested.emit(path)
