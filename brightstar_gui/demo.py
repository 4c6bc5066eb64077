"""The demo's first minutes: where the set goes and how its writing is reported.

Qt-free.  The demo set is written in two labelled tasks, each with its own
progress from 0 to 100 %: the *first look* (illuminated exposure and
reference files, then it opens) and the *darks* (for the superbias, in the
background).  :class:`TaskProgress` keeps a task's progress from going
backwards and echoes it to the terminal, so the window and the terminal
say the same thing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from processing import paths

#: Task names (the window's status-bar labels) of the demo's two stages.
FIRST_LOOK = "Demo: first look"
DARKS = "Demo: darks"


def demo_folder(frames: int, size: int) -> Path:
    """Where the demo set of ``frames`` reads of ``size`` x ``size`` pixels lives."""
    return paths.demo_dir() if (frames, size) == (55, 4096) else paths.demo_dir() / f"n{frames}-s{size}"


class TaskProgress:
    """One labelled task's progress: never backwards, echoed to a stream.

    Parameters
    ----------
    task : str
        Label, e.g. :data:`FIRST_LOOK`.
    stream : file, "stderr" or None
        Where lines go (default: the current ``sys.stderr``); None prints nothing.
    step : float
        Print when the fraction has grown by this much (and at 0 and 1).
    """

    def __init__(self, task: str, stream="stderr", step: float = 0.05):
        self.task = task
        self.stream = stream
        self.step = step
        self.fraction = 0.0
        self.message = ""
        self._printed: float | None = None

    def update(self, fraction: float, message: str = "") -> float:
        """Record progress; returns the fraction to show (``>=`` every earlier one)."""
        self.fraction = max(self.fraction, min(1.0, float(fraction)))
        self.message = message or self.message
        if self.stream is not None and (self._printed is None or self.fraction >= 1.0 > self._printed
                                        or self.fraction - self._printed >= self.step):
            self._printed = self.fraction
            print(f"brightstar-gui: {self.task.lower()} {self.fraction * 100:3.0f}%  {self.message}",
                  file=sys.stderr if self.stream == "stderr" else self.stream, flush=True)
        return self.fraction

    def empty_text(self, folder: Path) -> str:
        """What the empty window says while this task runs."""
        # Short lines: the text sits in one pane.  The file name is long and
        # says less than its role.
        from processing.synth import ILLUM_STAMP

        what, _, detail = self.message.rpartition(": ")
        if what.endswith("_uncal.asdf"):
            role = "illuminated exposure" if ILLUM_STAMP in what else "dark exposure"
            message = f"{role}: {detail}"
        else:
            message = self.message
        # No blank lines: on a 1280-px screen the pane is about 160 px high (the path wraps).
        return (f"Writing the demo data set\n(first use only)\n"
                f"{self.task}: {self.fraction * 100:.0f}%\n{message}\ninto {folder}")
