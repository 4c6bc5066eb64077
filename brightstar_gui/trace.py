"""``--trace FILE``: one JSON line per viewer event, for users and benchmarks.

Each line is an object with ``"event"`` and ``"t"`` (``time.monotonic()``,
seconds) and the event's fields:

* ``{"event": "opened", "t": ..., "uri": ..., "shape": [n, h, w], ...}``
* ``{"event": "rendered", "t": ..., "frame": k, "data_kind": "raw" | "calibrated",
  "panes": {name: [y0, y1, x0, x1]}, "bytes_fetched": cumulative S3 bytes}``
  (``panes``: the part of the data each pane shows)
* ``{"event": "error", "t": ..., "what": ..., "message": ...}``

Lines are flushed as written, so a benchmark can follow the file while the
viewer runs.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any


class Trace:
    """Append JSON lines to ``path`` (created or truncated); callable as ``trace(event, **fields)``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()

    def __call__(self, event: str, **fields: Any) -> None:
        record = {"event": event, "t": time.monotonic(), **fields}
        line = json.dumps(record, default=_plain)
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_trace(path: str | Path) -> list[dict]:
    """The events of a trace file (for benchmarks and tests)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def _plain(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(value)
