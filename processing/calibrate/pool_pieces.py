"""Work pieces on a thread pool, finished in order, with progress and a bounded queue.

The streaming engine's passes are lists of pieces (row bands, reads, groups
of reads) run by a few threads: numpy, the compiled kernels, hashlib and
file I/O release the GIL, so the pieces of a pass keep the cores busy.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from ..progress import Job, Progress


def run_pieces(pool: ThreadPoolExecutor, pieces: list, work, on_done, span: tuple[float, float], label: str,
                in_flight: int) -> Job[None]:
    """Run ``work(piece)`` on the pool, ``on_done(result)`` in order, yielding progress.

    At most ``in_flight`` pieces are queued, so memory is bounded and a
    cancel (the generator being closed) waits for at most that many pieces.
    """
    queue: deque[Future] = deque()
    todo = iter(pieces)
    done = 0
    start, stop = span
    try:
        for piece in todo:
            queue.append(pool.submit(work, piece))
            if len(queue) >= in_flight:
                break
        while queue:
            result = queue.popleft().result()
            on_done(result)
            done += 1
            nxt = next(todo, None)
            if nxt is not None:
                queue.append(pool.submit(work, nxt))
            yield Progress(start + (stop - start) * done / len(pieces), f"{label} {done}/{len(pieces)}")
    finally:
        for future in queue:
            future.cancel()
        for future in queue:
            if not future.cancelled():
                try:
                    future.result()
                except Exception:
                    pass


class BufferPool:
    """Reusable arrays by shape and dtype, for pieces whose buffers outlive their work.

    A pass that allocated a fresh 100 MB array per piece makes the kernel
    zero every one of its pages (glibc maps an allocation that big afresh
    and unmaps it on free); taking a returned buffer instead does not.  A
    buffer is given back only when nothing reads it any more (after its
    bytes were written and hashed), so a piece can never overwrite an array
    another one still uses.  Thread-safe: buffers may be given back from a
    hasher's thread.  Holds at most as many buffers as were ever in use at
    once.
    """

    def __init__(self):
        self._free: dict[tuple, list] = {}
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        """A free buffer of this shape and dtype (contents undefined), or a new one."""
        key = (tuple(shape), np.dtype(dtype).str)
        with self._lock:
            free = self._free.get(key)
            if free:
                return free.pop()
        return np.empty(shape, dtype)

    def give(self, arr: np.ndarray) -> None:
        """Return ``arr`` (from :meth:`take`): the caller no longer reads or writes it."""
        with self._lock:
            self._free.setdefault((arr.shape, arr.dtype.str), []).append(arr)

    def clear(self) -> None:
        """Drop every free buffer."""
        with self._lock:
            self._free.clear()
