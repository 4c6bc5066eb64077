"""Frame slider: step buttons, play/pause at a chosen fps, frame number and time, achieved rate."""

from __future__ import annotations

import time

import numpy as np
from PyQt6 import QtCore, QtGui, QtWidgets

from ..models import ViewModel


def fixed_size(label: QtWidgets.QLabel, widest: str, min_width: int) -> None:
    """Fix ``label``'s size to fit ``widest`` in its font (at least ``min_width`` px)."""
    metrics = label.fontMetrics()
    label.setFixedSize(max(min_width, metrics.horizontalAdvance(widest) + 8), label.sizeHint().height())


class FrameSlider(QtWidgets.QWidget):
    """Binds ``model.frame``, ``model.playing`` and ``model.fps`` both ways.

    While playing, a timer at the asked rate calls ``on_tick`` (the
    controller's ``tick``, which advances only once the previous frame is on
    screen, so a slow frame is shown late rather than skipped and playback
    never queues work); :meth:`set_rate` shows the rate achieved.

    Frame ``k`` of a playback is due ``k`` periods after it started.  A
    frame shown late (the UI thread or the render job held up by other
    processes on the cores) does not move the frames after it: they come
    sooner until the schedule is met again, as long as playback is at most
    :data:`MAX_BEHIND` seconds behind (beyond that the schedule restarts
    from now: no long burst after a stall).  A due time that finds the
    frame before still on its way waits for it (re-tried every
    :data:`RETRY_MS`) instead of being lost.
    """

    #: Seconds behind schedule that playback still makes up (6 frames at 60 fps).
    MAX_BEHIND = 0.1
    #: Milliseconds between re-tries of a due frame while the one before is still being rendered.
    RETRY_MS = 1

    def __init__(self, state: ViewModel, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.read_times: np.ndarray | None = None
        self.on_tick = lambda: None
        style = self.style()
        sp = QtWidgets.QStyle.StandardPixmap

        def button(icon, tip, slot):
            b = QtWidgets.QToolButton()
            b.setIcon(style.standardIcon(icon))
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            return b

        self.first_button = button(sp.SP_MediaSkipBackward, "First frame (Home)", self.first)
        self.prev_button = button(sp.SP_MediaSeekBackward, "Previous frame (Left)", self.step_back)
        self.play_button = button(sp.SP_MediaPlay, "Play / pause (Space)", self.toggle_play)
        self.next_button = button(sp.SP_MediaSeekForward, "Next frame (Right)", self.step_forward)
        self.last_button = button(sp.SP_MediaSkipForward, "Last frame (End)", self.last)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setPageStep(5)
        self.slider.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)  # keys are window shortcuts
        self.slider.setMinimumWidth(120)  # still a slider when the window is narrow
        self.fps = QtWidgets.QDoubleSpinBox()
        self.fps.setRange(0.5, 120.0)
        self.fps.setValue(5.0)
        self.fps.setSuffix(" fps")
        self.fps.setDecimals(1)
        self.fps.setToolTip("Playback speed")
        self._rate_shown_at = 0.0
        self.rate_label = QtWidgets.QLabel("")
        self.rate_label.setToolTip("Playback rate achieved (frames on screen per second)")
        self.rate_label.setMinimumWidth(64)
        self.label = QtWidgets.QLabel("no exposure")
        self.label.setMinimumWidth(190)
        font = self.label.font()
        font.setFamily("monospace")
        self.label.setFont(font)
        # Both readouts change during playback: at a fixed size a new text
        # repaints the label only, where a label that may grow re-lays out
        # the whole window (docks included) on every frame.
        fixed_size(self.label, "frame 000 / 000   t = 00000.00 s", 190)
        fixed_size(self.rate_label, "000.0 fps", 64)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for w in (self.first_button, self.prev_button, self.play_button, self.next_button, self.last_button):
            layout.addWidget(w)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.rate_label)
        layout.addWidget(self.fps)

        # A single-shot timer re-armed for each frame's due time on a fixed
        # schedule: a repeating timer's whole-millisecond interval would play
        # 60 fps at 1000 / 17 = 58.8 fps.
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._on_timer)
        self._next_due = 0.0
        self.fps.valueChanged.connect(lambda v: setattr(self.state, "fps", v))
        self.slider.valueChanged.connect(self._on_slider)
        state.events.frame.connect(self._on_frame_change)
        state.events.n_frames.connect(self._on_n_frames_change)
        state.events.playing.connect(self._on_playing)
        state.events.fps.connect(self._on_fps)

    # -- model -> widget ---------------------------------------------------------------------
    def _on_n_frames_change(self, n: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        self.slider.setValue(self.state.frame)
        self.slider.blockSignals(False)
        self._update_label()

    def _on_frame_change(self, k: int) -> None:
        if self.slider.value() != k:
            self.slider.blockSignals(True)
            self.slider.setValue(k)
            self.slider.blockSignals(False)
        self._update_label()

    def _update_label(self) -> None:
        n = self.state.n_frames
        if n <= 0:
            self.label.setText("no exposure")
            return
        k = self.state.frame
        text = f"frame {k:>2d} / {n - 1}"
        if self.read_times is not None and k < len(self.read_times):
            text += f"   t = {self.read_times[k]:7.2f} s"
        self.label.setText(text)

    # -- widget -> model ----------------------------------------------------------------------
    def _on_slider(self, value: int) -> None:
        self.state.frame = value

    def step_forward(self) -> None:
        self.state.frame = self.state.frame + 1

    def step_back(self) -> None:
        self.state.frame = self.state.frame - 1

    def first(self) -> None:
        self.state.frame = 0

    def last(self) -> None:
        self.state.frame = self.state.n_frames - 1

    @property
    def playing(self) -> bool:
        return self.state.playing

    def toggle_play(self) -> None:
        self.state.playing = not self.state.playing and self.state.n_frames > 1

    def stop(self) -> None:
        self.state.playing = False

    def _on_playing(self, playing: bool) -> None:
        sp = QtWidgets.QStyle.StandardPixmap
        if playing:
            self._next_due = time.monotonic()
            self._arm()
        else:
            self.timer.stop()
            self.rate_label.setText("")
        self.play_button.setIcon(self.style().standardIcon(sp.SP_MediaPause if playing else sp.SP_MediaPlay))

    def _on_fps(self, fps: float) -> None:
        if abs(self.fps.value() - fps) > 1e-9:
            self.fps.blockSignals(True)
            self.fps.setValue(fps)
            self.fps.blockSignals(False)
        if self.timer.isActive():
            self._next_due = time.monotonic()
            self._arm()

    def _on_timer(self) -> None:
        frame = self.state.frame
        self.on_tick()
        if not self.state.playing:
            return
        if self.state.frame == frame and time.monotonic() - self._next_due < self.MAX_BEHIND:
            # The frame before is not on screen yet (the controller did not advance):
            # this due time waits for it rather than being counted as shown (for up
            # to MAX_BEHIND: then it counts, as before, and no 1 ms re-tries go on for ever).
            self.timer.start(self.RETRY_MS)
            return
        self._arm()

    def _arm(self) -> None:
        """Start the timer for the next frame's due time (one period after the last one's)."""
        period = 1.0 / self.state.fps
        now = time.monotonic()
        self._next_due += period
        if now - self._next_due > self.MAX_BEHIND:
            self._next_due = now + period  # far behind (a stall): restart the schedule, no long burst
        # Whole milliseconds, rounded down: at most 1 ms early, never late by rounding.
        self.timer.start(max(0, int((self._next_due - now) * 1000)))

    #: Seconds between updates of the achieved-rate readout: it is an average
    #: over 1.5 s, and a label re-laid out at 60 Hz costs the frames it counts.
    RATE_INTERVAL = 0.25

    def set_rate(self, fps: float | None) -> None:
        """Show the playback rate achieved (None: not playing); at most every :data:`RATE_INTERVAL` s."""
        now = time.monotonic()
        if fps is not None and now - self._rate_shown_at < self.RATE_INTERVAL:
            return
        self._rate_shown_at = now if fps is not None else 0.0
        text = "" if fps is None else f"{fps:5.1f} fps"
        if text != self.rate_label.text():
            self.rate_label.setText(text)

    def install_shortcuts(self, window: QtWidgets.QWidget) -> None:
        """Left/Right, Home/End and Space anywhere in ``window``."""
        keys = {
            QtCore.Qt.Key.Key_Left: self.step_back,
            QtCore.Qt.Key.Key_Right: self.step_forward,
            QtCore.Qt.Key.Key_Home: self.first,
            QtCore.Qt.Key.Key_End: self.last,
            QtCore.Qt.Key.Key_Space: self.toggle_play,
        }
        self._shortcuts = []
        for key, slot in keys.items():
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), window)
            sc.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(slot)
            self._shortcuts.append(sc)
