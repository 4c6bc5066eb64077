"""A browser of local folders listing exposures by what tells them apart.

TVAC file names differ only in a 14-digit time stamp in their middle
(``TVAC2_TOHOTQUAL_WFISAT_20240506204523_WFI11_uncal.asdf``), so a name
column elides them all to the same text.  The list shows instead, from the
metadata: illuminated or dark, the start time, the activity (the
``Activity_NN`` folder of the test plan), the detector and the number of
frames; the full path is every cell's tooltip.  Illuminated exposures come
first (then by start time), so a dark is not opened by mistake.
"""

from __future__ import annotations

import os
import re
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
                           exposure_type=s.get("exposure_type") or "", detector=str(s.get("detector") or ""),
                           optical_element=str(s.get("optical_element") or ""),
                           start=start_text(s.get("start_time"), path.name), activity=activity_of(path),
                           illumination=illumination(s.get("exposure_type"), s.get("optical_element")))
        except ExposureError:
            row = None  # reference files and other ASDF: not exposures, not listed
        if row is not None:
            rows.append(row)
        yield Progress((i + 1) / max(1, len(paths)), f"scanning {path.name}")
    return rows


_STAMP = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?!\d)")
_ACTIVITY = re.compile(r"^activity_?(\d+)$", re.IGNORECASE)


def illumination(exposure_type, optical_element) -> str:
    """``"dark"`` or ``"illuminated"`` from ``meta.exposure.type`` / ``meta.instrument.optical_element``; ``"?"``: neither says."""
    et, oe = str(exposure_type or "").upper(), str(optical_element or "").upper()
    if "DARK" in et or oe == "DARK":
        return "dark"
    if et or oe:
        return "illuminated"
    return "?"


def start_text(start_time, name: str = "") -> str:
    """``"2024-05-06 20:45:23"``: ``meta.exposure.start_time``, else the name's 14-digit stamp, else ``""``."""
    text = str(start_time or "").strip()
    if text:
        return text.replace("T", " ").split(".")[0]
    m = _STAMP.search(name)
    if m:
        y, mo, d, h, mi, se = m.groups()
        return f"{y}-{mo}-{d} {h}:{mi}:{se}"
    return ""


def activity_of(path: Path) -> str:
    """The ``Activity_NN`` folder the exposure is in (the test plan's activity), or ``""``."""
    for part in reversed(Path(path).parent.parts):
        if _ACTIVITY.match(part):
            return part
    return ""


def sort_key(row: dict) -> tuple:
    """Illuminated exposures first, then darks, then the rest; each by start time, then name."""
    order = {"illuminated": 0, "dark": 1}.get(row.get("illumination", "?"), 2)
    return (order, row.get("start", ""), row.get("name", ""))


def folder_to_list(path: str | Path) -> Path:
    """The folder the Exposures list shows for an opened file: its folder, or above an ``Activity_NN`` folder.

    TVAC data sit in ``<test>/Activity_NN/<file>``: the illuminated exposure
    and its darks are in sibling activities, so the test's folder is listed.
    """
    parent = Path(path).resolve().parent
    return parent.parent if _ACTIVITY.match(parent.name) else parent


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


_ORDER_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1


class _Item(QtWidgets.QTreeWidgetItem):
    """A row that sorts its first column by :func:`sort_key` order, the others by text (numbers as numbers)."""

    def __lt__(self, other):  # noqa: D105 - Qt sort hook
        col = self.treeWidget().sortColumn() if self.treeWidget() is not None else 0
        if col == 0:
            return self.data(0, _ORDER_ROLE) < other.data(0, _ORDER_ROLE)
        a, b = self.text(col), other.text(col)
        if a.isdigit() and b.isdigit():
            return int(a) < int(b)
        return a < b


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

    COLUMNS = ("kind", "start", "activity", "frames", "detector", "size", "name")
    TOOLTIPS = {"kind": "illuminated or dark (meta.exposure.type / instrument.optical_element)",
                "start": "meta.exposure.start_time", "activity": "the Activity_NN folder of the test plan",
                "frames": "reads in the ramp", "detector": "meta.instrument.detector"}

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
        for i, c in enumerate(self.COLUMNS):
            self.table.headerItem().setToolTip(i, self.TOOLTIPS.get(c, c))
        self.table.setRootIsDecorated(False)
        self.table.setSortingEnabled(True)
        self.table.setTextElideMode(QtCore.Qt.TextElideMode.ElideMiddle)
        self.table.itemDoubleClicked.connect(self._on_double_click)
        self.status = QtWidgets.QLabel("")
        self.open_path: str | None = None
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
        """List ``rows`` of :func:`scan_folder_job`, illuminated first (then by start time)."""
        self.table.setSortingEnabled(False)
        self.table.clear()
        for i, row in enumerate(sorted(rows, key=sort_key)):
            item = _Item([
                row.get("illumination", "?"), row.get("start", ""), row.get("activity", ""), str(row.get("frames", "")),
                row.get("detector", ""), _size(row["size"]), row["name"],
            ])
            item.setData(0, QtCore.Qt.ItemDataRole.UserRole, row["path"])
            item.setData(0, _ORDER_ROLE, i)  # the kind column sorts by this (illuminated first), not by text
            details = f"{row['path']}\n{row.get('model', '')}, {row.get('shape', '')}, {row.get('exposure_type', '')}"
            for col in range(len(self.COLUMNS)):
                item.setToolTip(col, details)
            self.table.addTopLevelItem(item)
        self.table.setSortingEnabled(True)
        self.table.sortItems(0, QtCore.Qt.SortOrder.AscendingOrder)
        for i in range(len(self.COLUMNS) - 1):
            self.table.resizeColumnToContents(i)
        self.status.setText(f"{len(rows)} exposures")
        if self.open_path:
            self.select_path(self.open_path)

    def paths(self) -> list[str]:
        """The listed files, top to bottom."""
        t = self.table
        return [t.topLevelItem(i).data(0, QtCore.Qt.ItemDataRole.UserRole) for i in range(t.topLevelItemCount())]

    def select_path(self, path: str) -> None:
        """Highlight the row of ``path`` (the open exposure), if listed; kept across rescans."""
        self.open_path = str(path)
        want = str(Path(path).resolve())
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            if str(Path(item.data(0, QtCore.Qt.ItemDataRole.UserRole)).resolve()) == want:
                self.table.setCurrentItem(item)
                return

    def _on_double_click(self, item, _column) -> None:
        path = item.data(0, QtCore.Qt.ItemDataRole.UserRole)
        if path:
            self.open_requested.emit(path)
