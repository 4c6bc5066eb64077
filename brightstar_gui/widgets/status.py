"""The status bar's pieces: task rows with a cancel button, messages, the one error box."""

from __future__ import annotations

from PyQt6 import QtCore, QtWidgets


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


class StatusArea(QtCore.QObject):
    """Hover readout, transient messages, S3 bytes, references in use and task rows in a status bar."""

    def __init__(self, bar: QtWidgets.QStatusBar, on_cancel):
        super().__init__(bar)
        self.bar = bar
        self.on_cancel = on_cancel
        self.hover_label = QtWidgets.QLabel("")
        font = self.hover_label.font()
        font.setFamily("monospace")
        self.hover_label.setFont(font)
        bar.addWidget(self.hover_label, 1)
        # Transient messages get their own label: QStatusBar.showMessage would
        # paint over the hover readout.
        self.message_label = QtWidgets.QLabel("")
        self.message_label.setMaximumWidth(520)
        bar.addPermanentWidget(self.message_label)
        self._message_timer = QtCore.QTimer(self, singleShot=True)
        self._message_timer.timeout.connect(self.message_label.clear)
        self._timed_message = False  # the label shows a flash() with a timeout (not a task's progress)
        self.references_label = QtWidgets.QLabel("")
        self.references_label.setMaximumWidth(260)
        bar.addPermanentWidget(self.references_label)
        self.fetch_label = QtWidgets.QLabel("")
        bar.addPermanentWidget(self.fetch_label)
        self.task_area = QtWidgets.QWidget()
        self.task_layout = QtWidgets.QHBoxLayout(self.task_area)
        self.task_layout.setContentsMargins(0, 0, 0, 0)
        # As tall as a task row from the start: a row appearing or going (opening an exposure
        # shows and hides several) must not change the status bar's height, which resized
        # the panes and laid out and repainted the whole window each time.
        probe = TaskRow("Opening", lambda: None)
        self.task_area.setMinimumHeight(probe.sizeHint().height())
        probe.deleteLater()
        bar.addPermanentWidget(self.task_area)
        self.tasks: dict[str, TaskRow] = {}

    def flash(self, text: str, timeout_ms: int = 0) -> None:
        """Show ``text`` in the message label (for ``timeout_ms`` ms; 0: until the next message).

        A message with a timeout stays for its time: tasks' progress
        messages do not replace it (see :meth:`task_progress`).
        """
        self._show(text, timeout_ms)
        self._timed_message = bool(timeout_ms)

    def _show(self, text: str, timeout_ms: int) -> None:
        metrics = self.message_label.fontMetrics()
        self.message_label.setText(metrics.elidedText(text, QtCore.Qt.TextElideMode.ElideMiddle, 500))
        self.message_label.setToolTip(text)
        if timeout_ms:
            self._message_timer.start(timeout_ms)
        else:
            self._message_timer.stop()

    def set_references(self, text: str) -> None:
        metrics = self.references_label.fontMetrics()
        self.references_label.setText(metrics.elidedText(text, QtCore.Qt.TextElideMode.ElideRight, 250))
        self.references_label.setToolTip(text)

    def task_started(self, channel: str, title: str) -> None:
        row = self.tasks.get(channel)
        if row is None:
            row = TaskRow(title, lambda: self.on_cancel(channel))
            self.tasks[channel] = row
            self.task_layout.addWidget(row)
        row.set_progress(0.0, "starting")
        row.show()

    def task_progress(self, channel: str, fraction: float, message: str) -> None:
        row = self.tasks.get(channel)
        if row is not None:
            row.set_progress(fraction, message)
        # Progress is the least of the messages: a timed one (e.g. "copied: ...") still in
        # its time is not replaced (the task's message is in its row's tooltip meanwhile).
        if self._timed_message and self._message_timer.isActive():
            return
        self._show(message, 3000)
        self._timed_message = False

    def task_ended(self, channel: str) -> None:
        row = self.tasks.pop(channel, None)
        if row is not None:
            row.hide()
            row.deleteLater()

    def stop(self) -> None:
        self._message_timer.stop()
