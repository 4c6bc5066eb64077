"""Background work: generator jobs on QThreads, with cancel and generation numbers.

The request cycle
-----------------
Every kind of background work has a :class:`Channel` (``"render"``,
``"pixel"``, ``"open"``, ``"summary"``, ``"calibrate"`` ...), each with one
long-lived QThread.  ``channel.submit(job_factory)`` returns a *generation
number*; it cancels the job the channel is running (its
:class:`~processing.progress.CancelToken` is set and the job stops at its next
``yield``) and replaces any job still waiting, so a burst of requests (a
slider drag) runs at most the job in flight and the newest one.  The job is
a function returning either a value or a :mod:`processing.progress` generator
whose ``Progress`` reports become ``progressed`` signals (throttled).  When it
ends the channel emits ``finished``, ``errored`` or ``cancelled`` with the
generation; :class:`WorkerPool` passes on only the result of the newest
generation of each channel, so a result for a frame the user has already left
is dropped.  Errors of every channel go to one signal, ``WorkerPool.errored``
(one error handler, as napari's notification manager).

Jobs receive plain values and return plain values; they never touch widgets.
``WorkerPool.shutdown()`` cancels everything and joins the threads (call it
from ``closeEvent``).  A job blocked in a call that cannot be interrupted (a
network read of an endpoint that never answers) would make that join wait
for the call's own timeout: such a job runs the call through
:func:`wait_abandoning`, which stops waiting as soon as the job is cancelled.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PyQt6 import QtCore

from processing.progress import CancelToken, Cancelled, Progress

#: GIL switch interval while the pool exists (s): how long a job may keep the UI thread waiting.
UI_SWITCH_INTERVAL = 0.001

JobFactory = Callable[[CancelToken], Any]

_THREADS: "weakref.WeakSet[_ChannelThread]" = weakref.WeakSet()


def live_threads() -> list[QtCore.QThread]:
    """Worker threads that exist now (for tests that check nothing is left running)."""
    return list(_THREADS)


def wait_abandoning(call: Callable[[], Any], token: CancelToken, name: str = "blocking-call",
                    poll_s: float = 0.02) -> Any:
    """Return ``call()``, but stop waiting for it (raise ``Cancelled``) once ``token`` is cancelled.

    For a call that cannot be interrupted, a network request to an endpoint
    that accepts and never answers: ``call`` runs on a daemon Python thread
    and the job's channel thread only waits on it, so a cancel (the window
    closing) ends the channel thread within ``poll_s`` instead of the call's
    own timeouts (seconds).  The abandoned call finishes on its own thread
    and its value or exception goes to a future nobody reads: ``call`` must
    therefore be a function of plain values that touches no Qt object.

    Parameters
    ----------
    call : callable
        No arguments; its return value is returned, its exception raised.
    token : CancelToken
        The job's token.
    name : str
        The daemon thread's name (``brightstar-abandonable-<name>``).
    poll_s : float
        How often the token is checked, seconds.
    """
    token.raise_if_cancelled()
    future: concurrent.futures.Future = concurrent.futures.Future()

    def target() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(call())
        except BaseException as err:  # noqa: BLE001 - handed to the waiting job (if it still waits)
            future.set_exception(err)

    threading.Thread(target=target, name=f"brightstar-abandonable-{name}", daemon=True).start()
    while True:
        try:
            return future.result(timeout=poll_s)
        except concurrent.futures.TimeoutError:
            token.raise_if_cancelled()


@dataclass
class _Task:
    generation: int
    factory: JobFactory
    token: CancelToken
    description: str
    tag: Any = None


class _ChannelThread(QtCore.QThread):
    def __init__(self, channel: Channel):
        super().__init__()
        self._channel = channel
        self.setObjectName(f"brightstar-{channel.name}")

    def run(self) -> None:  # runs in the worker thread
        channel = self._channel
        while True:
            task = channel._take()
            if task is None:
                return
            channel._execute(task)


class Channel(QtCore.QObject):
    """One kind of background work: the newest job runs, older ones are cancelled.

    Signals carry the generation number first.
    """

    progressed = QtCore.pyqtSignal(int, float, str)
    finished = QtCore.pyqtSignal(int, object)
    errored = QtCore.pyqtSignal(int, object)
    cancelled = QtCore.pyqtSignal(int)
    busy_changed = QtCore.pyqtSignal(bool)

    #: Minimum seconds between two progress signals (the UI does not need more).
    PROGRESS_INTERVAL = 0.05

    def __init__(self, name: str, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.name = name
        self._lock = threading.Condition()
        self._pending: list[_Task] = []
        self._running: _Task | None = None
        self._stopping = False
        self._generation = 0
        self._thread = _ChannelThread(self)
        _THREADS.add(self._thread)
        self._thread.start()

    # -- UI thread -------------------------------------------------------------------
    @property
    def generation(self) -> int:
        """Generation of the newest job submitted."""
        return self._generation

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._pending) or self._running is not None

    def submit(self, factory: JobFactory, description: str = "", tag: Any = None, queue: bool = False) -> int:
        """Run ``factory(cancel_token)`` in the channel's thread; return its generation.

        A job in flight is cancelled and a job not started yet is dropped,
        unless ``queue``: then the job waits its turn after the others.
        """
        with self._lock:
            if self._stopping:
                return self._generation
            self._generation += 1
            task = _Task(self._generation, factory, CancelToken(), description, tag)
            was_idle = not self._pending and self._running is None
            if queue:
                self._pending.append(task)
            else:
                if self._running is not None:
                    self._running.token.cancel()
                self._pending = [task]
            self._lock.notify_all()
            generation = self._generation
        if was_idle and self.receivers(self.busy_changed):
            # Only on a change, and only if someone listens: an emit releases
            # and retakes the GIL, a wait of up to the switch interval while a
            # job runs Python (two channels are submitted to every frame).
            self.busy_changed.emit(True)
        return generation

    def cancel(self) -> None:
        """Cancel the running job and drop the pending one."""
        with self._lock:
            self._pending = []
            if self._running is not None:
                self._running.token.cancel()

    def cancel_tag(self, tag: Any) -> None:
        """Cancel the jobs (running or waiting) submitted with ``tag``."""
        with self._lock:
            self._pending = [t for t in self._pending if t.tag != tag]
            if self._running is not None and self._running.tag == tag:
                self._running.token.cancel()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Cancel everything, end the thread and wait for it; True if it ended."""
        with self._lock:
            self._stopping = True
            self._pending = []
            if self._running is not None:
                self._running.token.cancel()
            self._lock.notify_all()
        return self._thread.wait(timeout_ms)

    def is_current(self, generation: int) -> bool:
        return generation == self._generation

    # -- worker thread ------------------------------------------------------------------
    def _take(self) -> _Task | None:
        with self._lock:
            while not self._pending and not self._stopping:
                self._lock.wait()
            if self._stopping:
                return None
            task = self._pending.pop(0)
            self._running = task
            return task

    def _execute(self, task: _Task) -> None:
        last_emit = 0.0
        try:
            result = task.factory(task.token)
            if inspect.isgenerator(result):
                job = result
                try:
                    while True:
                        report = next(job)
                        if task.token.cancelled:
                            job.close()
                            raise Cancelled("cancelled")
                        now = time.monotonic()
                        if isinstance(report, Progress) and (now - last_emit >= self.PROGRESS_INTERVAL or report.fraction >= 1.0):
                            last_emit = now
                            self.progressed.emit(task.generation, float(report.fraction), str(report.message))
                except StopIteration as stop:
                    result = stop.value
            if task.token.cancelled:
                raise Cancelled("cancelled")
            self.finished.emit(task.generation, result)
        except Cancelled:
            self.cancelled.emit(task.generation)
        except BaseException as err:  # noqa: BLE001 - a worker must never take the app down
            if isinstance(err, (KeyboardInterrupt,)):
                raise
            if task.token.cancelled:
                # A cancelled job may fail on the way out (its file closed
                # under it): that is a cancellation, not an error to show.
                self.cancelled.emit(task.generation)
                return
            err.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self.errored.emit(task.generation, err)
        finally:
            with self._lock:
                self._running = None
                idle = not self._pending
            if idle and self.receivers(self.busy_changed):
                self.busy_changed.emit(False)


class WorkerPool(QtCore.QObject):
    """The application's channels and its one error handler.

    Signals
    -------
    errored(str channel, object exception)
        An error of the newest job of a channel (stale ones are dropped).
    """

    errored = QtCore.pyqtSignal(str, object)

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        # The UI thread takes the GIL back after every Qt call that releases
        # it (signal emits, paints calling Python items); with the default
        # 5 ms switch interval a job running Python code keeps it for up to
        # a third of a 60 Hz frame each time.  1 ms bounds that wait.
        if sys.getswitchinterval() > UI_SWITCH_INTERVAL:
            sys.setswitchinterval(UI_SWITCH_INTERVAL)
        self._channels: dict[str, Channel] = {}
        self._callbacks: dict[tuple[str, int], tuple] = {}
        self._closed = False
        self._queued: set[str] = set()

    def channel(self, name: str) -> Channel:
        ch = self._channels.get(name)
        if ch is None:
            ch = Channel(name, self)
            ch.finished.connect(lambda g, r, n=name: self._on_finished(n, g, r))
            ch.errored.connect(lambda g, e, n=name: self._on_errored(n, g, e))
            ch.cancelled.connect(lambda g, n=name: self._on_cancelled(n, g))
            ch.progressed.connect(lambda g, f, m, n=name: self._on_progress(n, g, f, m))
            self._channels[name] = ch
        return ch

    def submit(
        self,
        name: str,
        factory: JobFactory,
        on_done: Callable[[Any], None] | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        description: str = "",
        tag: Any = None,
        queue: bool = False,
    ) -> int:
        """Submit a job to channel ``name``; callbacks run in the UI thread, newest generation only.

        ``queue``: the job waits behind the channel's others instead of
        replacing them, and its callbacks are called whatever came after.
        ``tag``: :meth:`cancel_tag` cancels every job with it.
        """
        if self._closed:
            return -1
        ch = self.channel(name)
        generation = ch.submit(factory, description, tag=tag, queue=queue)
        if queue:
            self._queued.add(name)
        else:
            # Older generations' callbacks will never be called: forget them.
            for key in [k for k in self._callbacks if k[0] == name and k[1] < generation]:
                del self._callbacks[key]
        self._callbacks[(name, generation)] = (on_done, on_progress, on_cancel, on_error)
        return generation

    def cancel(self, name: str) -> None:
        if name in self._channels:
            self._channels[name].cancel()

    def cancel_tag(self, tag: Any, keep: tuple[str, ...] = ()) -> None:
        """Cancel every job submitted with ``tag``, except on the ``keep`` channels."""
        for name, ch in self._channels.items():
            if name not in keep:
                ch.cancel_tag(tag)

    def busy(self, name: str) -> bool:
        return name in self._channels and self._channels[name].busy

    def _current(self, name: str, generation: int):
        ch = self._channels.get(name)
        if ch is None or (name not in self._queued and not ch.is_current(generation)):
            return None
        return self._callbacks.get((name, generation))

    def _on_finished(self, name, generation, result):
        cbs = self._current(name, generation)
        if cbs is None:
            return  # stale: the user has moved on
        self._callbacks.pop((name, generation), None)
        if cbs[0] is not None:
            cbs[0](result)

    def _on_progress(self, name, generation, fraction, message):
        cbs = self._current(name, generation)
        if cbs is not None and cbs[1] is not None:
            cbs[1](fraction, message)

    def _on_cancelled(self, name, generation):
        cbs = self._callbacks.pop((name, generation), None)
        if cbs is not None and cbs[2] is not None:
            cbs[2]()

    def _on_errored(self, name, generation, err):
        cbs = self._current(name, generation)
        if cbs is None:
            return
        self._callbacks.pop((name, generation), None)
        if cbs[3] is not None:
            cbs[3](err)
        self.errored.emit(name, err)

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel every job and join every thread; True if all ended in time."""
        self._closed = True
        ok = True
        for ch in self._channels.values():
            ch.cancel()
        deadline = time.monotonic() + timeout_ms / 1000
        for ch in self._channels.values():
            remaining = max(100, int((deadline - time.monotonic()) * 1000))
            ok = ch.stop(remaining) and ok
        self._callbacks.clear()
        return ok
