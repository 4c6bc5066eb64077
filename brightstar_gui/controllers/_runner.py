"""How the controller runs jobs: the :class:`JobRunner` protocol, and a synchronous runner.

The application runs every background job through one runner, the Qt worker
pool (:class:`brightstar_gui.workers.WorkerPool`: one thread per channel, the
newest job of a channel wins, cancel by channel or by tag).  Tests use
:class:`SyncRunner`, which runs a job at once in the calling thread (or, with
``deferred=True``, when the test says so -- to deliver results late, out of
order or after the user has moved on).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable
from typing import Any, Protocol

from processing.progress import Cancelled, CancelToken, Progress

Job = Callable[[CancelToken], Any]


class JobRunner(Protocol):
    """Runs jobs on channels; callbacks are called on the UI thread, newest generation only."""

    def submit(self, channel: str, job: Job, *, on_done: Callable[[Any], None] | None = None,
               on_progress: Callable[[float, str], None] | None = None, on_cancel: Callable[[], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None, tag: Hashable = None,
               queue: bool = False) -> int:
        """Run ``job(token)``; a job already on ``channel`` is cancelled unless ``queue``."""

    def cancel(self, channel: str) -> None: ...

    def cancel_tag(self, tag: Hashable, keep: tuple[str, ...] = ()) -> None:
        """Cancel every job submitted with ``tag`` except on the ``keep`` channels."""

    def busy(self, channel: str) -> bool: ...

    def shutdown(self, timeout_ms: int = 10000) -> bool: ...


def drive(job: Job, token: CancelToken, on_progress: Callable[[float, str], None] | None = None) -> Any:
    """Call ``job(token)``; if it returns a progress generator, run it to its value."""
    result = job(token)
    if inspect.isgenerator(result):
        gen = result
        try:
            while True:
                report = next(gen)
                if token.cancelled:
                    gen.close()
                    raise Cancelled("cancelled")
                if on_progress is not None and isinstance(report, Progress):
                    on_progress(float(report.fraction), str(report.message))
        except StopIteration as stop:
            result = stop.value
    if token.cancelled:
        raise Cancelled("cancelled")
    return result


class _Task:
    def __init__(self, channel, generation, job, callbacks, tag):
        self.channel, self.generation, self.job, self.callbacks, self.tag = channel, generation, job, callbacks, tag
        self.token = CancelToken()


class SyncRunner:
    """A :class:`JobRunner` without threads, for tests and scripts.

    Parameters
    ----------
    deferred : bool
        False: a job runs inside ``submit``.  True: jobs wait until
        :meth:`run_pending` (or :meth:`run_one`) is called, so a test can
        finish them in any order; a job of an old generation is then dropped
        like the pool drops it.
    """

    def __init__(self, deferred: bool = False):
        self.deferred = deferred
        self.pending: list[_Task] = []
        self._generation: dict[str, int] = {}
        self.submitted: list[str] = []
        self.cancelled: list[tuple[str, int]] = []
        self._closed = False

    def submit(self, channel, job, *, on_done=None, on_progress=None, on_cancel=None, on_error=None, tag=None,
               queue=False) -> int:
        if self._closed:
            return -1
        gen = self._generation.get(channel, 0) + 1
        self._generation[channel] = gen
        if not queue:
            for t in [t for t in self.pending if t.channel == channel]:
                self._cancel_task(t)
        task = _Task(channel, gen, job, (on_done, on_progress, on_cancel, on_error), tag)
        task.queue = queue
        self.submitted.append(channel)
        self.pending.append(task)
        if not self.deferred:
            self.run_one(task)
        return gen

    def _cancel_task(self, task: _Task) -> None:
        task.token.cancel()
        if task in self.pending:
            self.pending.remove(task)
            self.cancelled.append((task.channel, task.generation))
            if task.callbacks[2] is not None:
                task.callbacks[2]()

    def run_one(self, task: _Task | None = None) -> None:
        """Run ``task`` (default: the oldest pending one) to its end."""
        task = task or self.pending[0]
        if task in self.pending:
            self.pending.remove(task)
        on_done, on_progress, on_cancel, on_error = task.callbacks
        current = getattr(task, "queue", False) or self._generation.get(task.channel) == task.generation
        try:
            result = drive(task.job, task.token, on_progress if current else None)
        except Cancelled:
            if on_cancel is not None:
                on_cancel()
            return
        except Exception as err:  # noqa: BLE001 - delivered to the error callback, like the pool
            if task.token.cancelled:
                return
            if current and on_error is not None:
                on_error(err)
            return
        if current and on_done is not None:
            on_done(result)

    def run_pending(self) -> None:
        while self.pending:
            self.run_one()

    def cancel(self, channel: str) -> None:
        for t in [t for t in self.pending if t.channel == channel]:
            self._cancel_task(t)

    def cancel_tag(self, tag, keep=()) -> None:
        for t in [t for t in self.pending if t.tag == tag and t.channel not in keep]:
            self._cancel_task(t)

    def busy(self, channel: str) -> bool:
        return any(t.channel == channel for t in self.pending)

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        self._closed = True
        for t in list(self.pending):
            self._cancel_task(t)
        return True
