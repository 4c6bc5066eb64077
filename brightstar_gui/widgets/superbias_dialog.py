"""Superbias from dark exposures (the tutorial's optional section), in the background."""

from __future__ import annotations


import numpy as np
import pyqtgraph as pg
from PyQt6 import QtCore, QtWidgets

from processing import figures

from ..jobs.superbias import superbias_job
from ..workers import WorkerPool


class SuperbiasDialog(QtWidgets.QDialog):
    """Pick darks, compute their superbias, show it, offer to subtract it.

    Signals
    -------
    superbias_ready(object)
        The (H, W) float32 superbias, DN.
    """

    superbias_ready = QtCore.pyqtSignal(object)

    def __init__(self, pool: WorkerPool, darks: list[str], parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Superbias from darks")
        self.pool = pool
        self.result: np.ndarray | None = None
        self.darks = QtWidgets.QListWidget()
        # Dark names differ only in their timestamp, near the end: elide the middle
        # (the folder), never the end; the full path is each item's tooltip.
        self.darks.setTextElideMode(QtCore.Qt.TextElideMode.ElideMiddle)
        self.darks.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._add_paths(darks)
        add = QtWidgets.QPushButton("Add darks...")
        remove = QtWidgets.QPushButton("Remove")
        add.clicked.connect(self._add)
        remove.clicked.connect(lambda: [self.darks.takeItem(self.darks.row(i)) for i in self.darks.selectedItems()])
        self.method = QtWidgets.QComboBox()
        self.method.addItems(["median", "mean"])
        self.compute_button = QtWidgets.QPushButton("Compute")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QtWidgets.QLabel("")
        self.plot = pg.PlotWidget(title="Bias: press Compute")
        self.plot.setAspectLocked(True)
        self.plot.setLabel("bottom", "x [pix]")
        self.plot.setLabel("left", "y [pix]")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.cbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"), interactive=False, label="DN (1-99% stretch)")
        self.cbar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self._show_axes(False)  # no bias yet: no fake -500..500 (x0.001) axes, no 0..1 colour bar
        self.subtract = QtWidgets.QCheckBox("Subtract from the raw view")
        self.subtract.setEnabled(False)

        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        buttons.addWidget(QtWidgets.QLabel("combine"))
        buttons.addWidget(self.method)
        buttons.addWidget(self.compute_button)
        buttons.addWidget(self.cancel_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(QtWidgets.QLabel("Dark exposures:"))
        layout.addWidget(self.darks, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.plot, 3)
        layout.addWidget(self.subtract)
        close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)
        self.resize(700, 720)
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button.clicked.connect(lambda: self.pool.cancel("superbias"))

    def _add(self) -> None:
        files, _ = QtWidgets.QFileDialog.getOpenFileNames(self, "Dark exposures", "", "ASDF (*.asdf)")
        self._add_paths(files)

    def _add_paths(self, paths) -> None:
        for path in paths:
            item = QtWidgets.QListWidgetItem(str(path))
            item.setToolTip(str(path))
            self.darks.addItem(item)

    def _show_axes(self, on: bool) -> None:
        """Axis values, labels and the colour bar: only once a bias is shown."""
        item = self.plot.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.enableAutoSIPrefix(False)  # pixel numbers, never "(x0.001)"
            axis.setStyle(showValues=on)
            axis.showLabel(on)
        self.cbar.setOpacity(1.0 if on else 0.0)  # kept in the layout (a hidden item loses its place)

    def axes_shown(self) -> bool:
        return self.plot.getPlotItem().getAxis("left").style["showValues"] and self.cbar.opacity() > 0

    def paths(self) -> list[str]:
        return [self.darks.item(i).text() for i in range(self.darks.count())]

    def compute(self) -> None:
        paths = self.paths()
        if not paths:
            self.status.setText("Add at least one dark exposure.")
            return
        method = self.method.currentText()
        self.compute_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("computing...")
        self.pool.submit("superbias", lambda token: superbias_job(paths, method), on_done=self._done,
                         on_progress=self._progress, on_cancel=self._cancelled, on_error=self._failed)

    def _progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.status.setText(message)

    def _finish(self) -> None:
        self.compute_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _done(self, result: np.ndarray) -> None:
        self._finish()
        self.result = result
        lo, hi = figures.good_levels(result, None, 1, 99)
        self.image.setImage(result, autoLevels=False, levels=(lo, hi))
        self._show_axes(True)
        self.cbar.setLevels((lo, hi))
        self.plot.setTitle(f"Bias ({self.method.currentText()} of {len(self.paths())} darks)")
        self.progress.setValue(1000)
        self.status.setText(f"superbias: median {np.nanmedian(result):.1f} DN")
        self.subtract.setEnabled(True)
        self.superbias_ready.emit(result)

    def _cancelled(self) -> None:
        self._finish()
        self.progress.setValue(0)
        self.status.setText("cancelled")

    def _failed(self, err) -> None:
        self._finish()
        self.status.setText(f"failed: {err}")
