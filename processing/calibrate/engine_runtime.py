"""Process settings for the duration of a streaming calibration: one BLAS thread, a frozen GC.

Two costs the lead's profile found outside the engine's own arithmetic:

* **OpenBLAS's threads spinning.**  The engine's BLAS calls are tiny
  (refpix's 33 ``np.polyfit`` per read) or are already run on every core by
  the engine's own pool, so OpenBLAS's extra threads only wake, spin and
  sleep (3.7 % of all CPU).  threadpoolctl sets OpenBLAS (numpy's and
  scipy's copies) to one thread while a calibration runs; it works when
  numpy is already imported (the GUI, dask workers).  OpenBLAS splits a
  product across threads by output elements, not by the sums, so the
  numbers do not change (the equality tests compare against romancal run
  with its default threads).
* **The garbage collector scanning the process's objects.**  romancal,
  astropy and asdf leave millions of long-lived objects; the passes make
  many short-lived ones, and each collection of the older generations walks
  them all (~2.5 % of the CPU).  ``gc.freeze()`` moves the objects alive at
  the start into the permanent generation, which collections skip; new
  garbage is still collected.

Both are process-wide, so calibrations running at once (threads of one
dask worker) share one setting: the first to start applies it and the last
to finish restores the previous state, on success, error or cancel alike.
A GC already frozen by the application is left as it is.
"""

from __future__ import annotations

import gc
import logging
import threading

log = logging.getLogger(__name__)

_lock = threading.Lock()
_users = 0
_limits = None  # threadpoolctl's limiter, restored by the last user
_froze = False


def enter() -> None:
    """Apply the settings (or count one more user of them)."""
    global _users, _limits, _froze
    with _lock:
        _users += 1
        if _users > 1:
            return
        try:
            from threadpoolctl import threadpool_limits

            _limits = threadpool_limits(limits=1, user_api="blas")
        except Exception as err:  # pragma: no cover - threadpoolctl is a dependency
            log.debug("could not limit BLAS threads: %s", err)
            _limits = None
        _froze = gc.get_freeze_count() == 0
        if _froze:
            gc.collect(1)  # the young garbage need not stay in the permanent generation
            gc.freeze()


def leave() -> None:
    """Undo :func:`enter` once its last user is done."""
    global _users, _limits, _froze
    with _lock:
        if _users == 0:
            return
        _users -= 1
        if _users:
            return
        if _limits is not None:
            _limits.restore_original_limits()
            _limits = None
        if _froze:
            gc.unfreeze()
            _froze = False


def active() -> bool:
    """Whether a calibration holds the settings now."""
    return _users > 0
