"""Work pieces on a thread pool, finished in order, with progress and a bounded queue.

The streaming engine's passes are lists of pieces (row bands, reads, groups
of reads) run by a few threads: numpy, the compiled kernels, hashlib and
file I/O release the GIL, so the pieces of a pass keep the cores busy.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

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
