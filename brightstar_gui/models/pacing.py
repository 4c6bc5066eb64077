"""Readouts that follow the frame: every frame when paused, a few times a second while playing.

At 60 fps the whole frame (panes, colour bars, every dock, the X flush) must
fit in ~16 ms of the UI thread.  The panes and their colour bars show the
frame on screen, always.  The docks around them (ramp readout, growth,
profile and region plots with their frame markers and tables, the pixel
table) cost 2-20 ms each to re-lay out and repaint, and nobody reads a
table at 60 Hz: while playing they follow the frame at most every
:data:`DOCK_PLAYBACK_INTERVAL` seconds (the first frame at once), and once
paused they show the frame on screen exactly, once.

Qt-free: only the model's psygnal events and a clock.
"""

from __future__ import annotations

import inspect
import math
import time
import weakref
from collections.abc import Callable
from typing import Any

#: Seconds between two updates of a dock that follows the frame while playing.
DOCK_PLAYBACK_INTERVAL = 0.25


class FrameFollower:
    """Call ``fn(frame)`` when the model's frame changes, paced while the model plays.

    Parameters
    ----------
    model : ViewModel
        Anything with ``frame`` and ``playing`` fields and their
        ``events.frame`` / ``events.playing`` signals.
    fn : callable
        ``fn(k: int)``: show frame ``k`` (a dock's marker, readout or table).  A bound
        method is held weakly: once its object is gone the follower disconnects.
    interval : float
        Seconds, at least, between two calls while playing.
    clock : callable
        Monotonic seconds (a test passes its own).

    Notes
    -----
    Paused, every frame change calls ``fn`` at once.  Playing, a change
    calls it only when ``interval`` has passed since the last call, so a
    dock lags the panes by less than ``interval``.  When playback stops,
    ``fn`` is called once with the frame on screen if the dock was behind.
    """

    def __init__(self, model: Any, fn: Callable[[int], None], interval: float = DOCK_PLAYBACK_INTERVAL,
                 clock: Callable[[], float] = time.monotonic):
        self._model = model
        # A view's bound method is held weakly (as psygnal holds it): the follower does not
        # keep a closed view alive, and stops following once the view is gone.
        self._fn = weakref.WeakMethod(fn) if inspect.ismethod(fn) else (lambda: fn)
        self.interval = float(interval)
        self._clock = clock
        self._called_at = -math.inf
        self.shown: int | None = None  # the frame fn was last called with
        model.events.frame.connect(self._on_frame)
        model.events.playing.connect(self._on_playing)

    def _on_frame(self, k: int, *_: Any) -> None:
        if self._model.playing:
            now = self._clock()
            if now - self._called_at < self.interval:
                return
            self._called_at = now
        self._call(int(k))

    def _on_playing(self, playing: bool, *_: Any) -> None:
        if playing:
            self._called_at = -math.inf  # the first frame played is shown at once
        elif self.shown != self._model.frame:
            self._call(int(self._model.frame))

    def _call(self, k: int) -> None:
        fn = self._fn()
        if fn is None:
            self.disconnect()
            return
        self.shown = k
        fn(k)

    def disconnect(self) -> None:
        """Stop following the model (a view closing before the model)."""
        self._model.events.frame.disconnect(self._on_frame)
        self._model.events.playing.disconnect(self._on_playing)
