"""``brightstar-gui --trace FILE``: one JSON line per event, for tests and benchmarks.

Every line has ``"event"`` and ``"t"`` (``time.monotonic()`` seconds, the
clock other processes on the machine share).  Events:

``{"event": "shown", "t"}``
    The window was shown (its first Show event).
``{"event": "opened", "t", "uri"}``
    An exposure was opened.
``{"event": "rendered", "t", "frame", "data_kind", "panes", "screen", "bytes_fetched"}``
    Panes were uploaded.  ``frame``: 0-based read index; ``data_kind``: ``"raw"``
    or ``"calibrated"``; ``panes``: ``{name: [y0, y1, x0, x1]}`` of the data
    shown (detector pixels); ``screen``: ``{name: [left, top, width, height]}``
    of each pane's image on screen (global device pixels, for screenshot
    checks); ``bytes_fetched``: cumulative S3 bytes of the open exposure.
``{"event": "progress", "t", "task", "fraction", "message"}``
    A labelled long task moved (the demo's "first look", "darks").
``{"event": "error", "t", "message"}``
    An error was shown to the user.
``{"event": "exit", "t", "code"}``
    The event loop ended with ``code`` (written by ``brightstar-gui``).

The writer knows nothing of the window; :func:`attach` connects it to the
window's signals and reads what it needs from the window's public state.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from PyQt6 import QtCore


class TraceWriter:
    """Appends JSON lines to a file, flushed line by line (readers poll it).

    Parameters
    ----------
    path : str or Path
        Created or truncated.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file = open(self.path, "w", buffering=1, encoding="utf-8")

    def write(self, event: str, **fields) -> dict:
        """Write one event; returns the record written."""
        record = {"event": event, "t": time.monotonic(), **fields}
        line = json.dumps(record, default=_plain)
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")
        return record

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _plain(value):
    """JSON for numpy scalars and tuples of them."""
    try:
        return value.item()
    except AttributeError:
        return str(value)


def read_trace(path) -> list[dict]:
    """The events written so far (a last, partly written line is skipped)."""
    out = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _pane_screen_rects(window) -> dict[str, list[int]]:
    """Where each pane's image is drawn on screen: ``[left, top, width, height]``."""
    panes = getattr(window, "panes", None)
    images = getattr(panes, "images", None)
    plots = getattr(panes, "plots", None)
    graphics = getattr(panes, "graphics", None)
    if not images or not plots or graphics is None:
        return {}
    out = {}
    for name, image in images.items():
        try:
            rect = image.sceneBoundingRect().intersected(plots[name].vb.sceneBoundingRect())
            # Only the part the viewport shows (docks can squeeze the panes).
            view_rect = graphics.mapFromScene(rect).boundingRect().intersected(graphics.viewport().rect())
            if view_rect.isEmpty():
                out[name] = [0, 0, 0, 0]
                continue
            top_left = graphics.viewport().mapToGlobal(view_rect.topLeft())
            ratio = graphics.devicePixelRatioF()
            out[name] = [int(top_left.x() * ratio), int(top_left.y() * ratio),
                         int(view_rect.width() * ratio), int(view_rect.height() * ratio)]
        except (AttributeError, KeyError, RuntimeError):
            continue
    return out


def _bytes_fetched(window) -> int:
    sess = getattr(window, "session", None)
    stats = getattr(getattr(getattr(sess, "primary", None), "source", None), "stats", None)
    if stats is None:
        return 0
    return int(stats.snapshot().get("bytes_fetched", 0))


def attach(window, path) -> TraceWriter:
    """Write ``window``'s events to ``path`` until the window is destroyed.

    Uses the window's signals ``exposure_opened(str)``, ``frame_rendered(float)``,
    ``error_shown(str)`` and, when present, ``task_progress(str, float, str)``.
    """
    trace = TraceWriter(path)

    def rendered(*_):
        result = getattr(window, "last_render", None)
        req = getattr(result, "request", None)
        if req is None:
            return
        view = [int(v) for v in getattr(req, "view", req.region)]
        names = list(getattr(result, "panes", {}) or {})
        trace.write("rendered", frame=int(req.frame), data_kind=str(req.kind),
                    panes={name: view for name in names}, screen=_pane_screen_rects(window),
                    bytes_fetched=_bytes_fetched(window))

    window.exposure_opened.connect(lambda uri: trace.write("opened", uri=str(uri)))
    window.frame_rendered.connect(rendered)
    window.error_shown.connect(lambda text: trace.write("error", message=str(text)))
    progress = getattr(window, "task_progress", None)
    if progress is not None:
        progress.connect(lambda task, fraction, message: trace.write(
            "progress", task=str(task), fraction=float(fraction), message=str(message)))
    window.destroyed.connect(lambda *_: trace.close())
    if window.isVisible():
        trace.write("shown")
    else:
        window.installEventFilter(_ShowWatcher(trace, window))  # parented to the window: kept alive
    return trace


class _ShowWatcher(QtCore.QObject):
    """Writes "shown" once, at the window's first Show event."""

    def __init__(self, trace: TraceWriter, window):
        super().__init__(window)
        self.trace: TraceWriter | None = trace

    def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
        if event.type() == QtCore.QEvent.Type.Show and self.trace is not None:
            self.trace.write("shown")
            self.trace = None
        return False
