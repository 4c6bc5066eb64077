"""A bounded memo of region reads, shared by the render and prefetch jobs.

``RegionReads.get(key, read)`` returns the array read for ``key`` -- e.g.
``("raw", k, (y0, y1, x0, x1), step)`` -- calling ``read()`` only the first
time.  It is the one thing jobs share, and it is safe to share: a key names
the same bytes of a read-only file for as long as the exposure is open, the
arrays are read-only, the dictionary is guarded by a lock, and its size is
bounded (least recently used entries go first).  Playback's prefetch job
fills it with the reads of the next frames; the render job of frame k then
finds frame k (and k - 1, the baseline) already there, so a new frame over
S3 costs one row band, not three.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np

#: Default bound: a few dozen 512 x 512 cutouts or strided full frames.
DEFAULT_BUDGET = 96 * 2**20


class RegionReads:
    """Least-recently-used memo of read-only arrays, bounded in bytes.

    Memory-mapped reads are views (they cost no memory of their own); only
    their nominal size counts, which keeps the bound conservative.
    """

    def __init__(self, budget: int = DEFAULT_BUDGET):
        self.budget = int(budget)
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._inflight: dict[Hashable, threading.Event] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, read: Callable[[], np.ndarray]) -> np.ndarray:
        """The array for ``key``; ``read()`` is called once even when two jobs ask at once.

        (Playback's render-ahead and prefetch jobs may want the same read at
        the same moment: the second waits for the first instead of fetching
        the same bytes again.)
        """
        while True:
            with self._lock:
                hit = self._items.get(key)
                if hit is not None:
                    self._items.move_to_end(key)
                    self.hits += 1
                    return hit
                pending = self._inflight.get(key)
                if pending is None:
                    pending = self._inflight[key] = threading.Event()
                    self.misses += 1
                    break
            pending.wait()  # another job is reading it; then look again
        try:
            value = np.asarray(read())
            if value.flags.writeable:
                value = value.view()
                value.flags.writeable = False
            self.put(key, value)
            return value
        finally:
            with self._lock:
                self._inflight.pop(key, None)
            pending.set()

    def peek(self, key: Hashable) -> np.ndarray | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: Hashable, value: np.ndarray) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = value
            self._bytes += value.nbytes
            while self._bytes > self.budget and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes
