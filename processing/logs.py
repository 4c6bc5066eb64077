"""Logging for the library, the CLI and the viewer: one place to set it up.

Every module logs to ``logging.getLogger(__name__)``; nothing is printed by
the library.  :func:`setup` (called by ``brightstar`` and ``brightstar-gui``)
sends

* WARNING and above to stderr (INFO with ``-v``, DEBUG with ``-vv``), and
* INFO and above (DEBUG with ``-vv``) to a rotating log file in the user log
  directory (``platformdirs.user_log_dir``; ``BRIGHTSTAR_LOG_DIR`` moves it),
  which is what to attach to a bug report.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

import platformdirs

from .paths import APP_NAME

_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


def log_dir() -> Path:
    """Where the log file lives (created on first use)."""
    path = Path(os.environ.get("BRIGHTSTAR_LOG_DIR") or platformdirs.user_log_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def setup(verbosity: int = 0, name: str = "brightstar") -> Path | None:
    """Configure the ``processing`` / ``brightstar_gui`` loggers; return the log file (None if it cannot be written).

    Parameters
    ----------
    verbosity : int
        0: warnings on stderr; 1 (``-v``): info; 2 (``-vv``): debug.
    name : str
        Log file stem (``brightstar.log``, ``brightstar-gui.log``).
    """
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_brightstar", False):
            root.removeHandler(handler)
    console = logging.StreamHandler()
    console.setLevel(level)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    console._brightstar = True  # type: ignore[attr-defined]
    root.addHandler(console)
    path = None
    try:
        path = log_dir() / f"{name}.log"
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3, encoding="utf-8")
        handler.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._brightstar = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    except OSError:
        path = None  # a read-only home must not stop the program
    root.setLevel(min(level, logging.INFO if verbosity < 2 else logging.DEBUG))
    for noisy in ("matplotlib", "PIL", "asyncio", "botocore", "aiobotocore", "s3fs", "fsspec", "urllib3", "numba", "stpipe", "CRDS"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, level))
    return path
