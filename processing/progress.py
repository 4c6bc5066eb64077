"""Progress reporting and cooperative cancellation, without Qt.

Long work in :mod:`processing` is written as a *generator of progress*: it
yields :class:`Progress` values between steps (frames, chunks) and returns its
result.  Whoever drives it decides what to do with each report and whether to
go on, so the same code serves the CLI (a tqdm bar), the GUI (a worker thread
that emits signals and stops when the user cancels) and plain scripts
(:func:`run`).  This is superqt's ``GeneratorWorker`` idea without the Qt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    """One progress report.

    Attributes
    ----------
    fraction : float
        Fraction of the whole job done, 0 to 1.
    message : str
        What is being done now (a step name, "frame 12/55", ...).
    """

    fraction: float
    message: str = ""


#: A generator that yields progress reports and returns a value of type T.
Job = Generator[Progress, None, T]


class Cancelled(Exception):
    """The user (or the program shutting down) cancelled a job."""


class CancelToken:
    """A thread-safe flag that a job checks between steps.

    The GUI sets it from the UI thread; a job running in a worker thread sees
    it at its next step boundary and stops.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop at its next step boundary."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` has been called."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` if cancellation was requested."""
        if self._event.is_set():
            raise Cancelled("cancelled")


def run(
    job: Job[T],
    on_progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> T:
    """Drive a progress generator to completion and return its result.

    Parameters
    ----------
    job : generator
        Yields :class:`Progress`, returns the result.
    on_progress : callable, optional
        Called with every report.
    cancel : CancelToken, optional
        Checked after every report; when set, the generator is closed (its
        ``finally`` blocks run, so temporary files are removed) and
        :class:`Cancelled` is raised.

    Returns
    -------
    The generator's return value.
    """
    try:
        while True:
            report = next(job)
            if on_progress is not None:
                on_progress(report)
            if cancel is not None and cancel.cancelled:
                job.close()
                raise Cancelled("cancelled")
    except StopIteration as stop:
        return stop.value


def scaled(job: Job[T], start: float, stop: float, prefix: str = "") -> Job[T]:
    """Re-map a sub-job's progress onto ``[start, stop]`` of a larger job.

    Use as ``result = yield from scaled(sub_job, 0.2, 0.6, "refpix: ")``.
    """
    span = stop - start
    try:
        while True:
            report = next(job)
            yield Progress(start + span * report.fraction, prefix + report.message)
    except StopIteration as done:
        return done.value
    finally:
        # Closing the outer job (a cancel) closes the sub-job now, so its
        # ``finally`` blocks (temporary files) run at once, not at garbage collection.
        job.close()
