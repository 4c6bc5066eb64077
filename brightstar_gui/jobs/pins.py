"""The ramps of pinned pixels, for the overlay in the ramp panel (Qt-free job)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PinsRequest:
    """Attributes: ``dataset_id``; ``kind`` shown; ``pixels`` (row, col) in pin order;
    ``values`` the frame source of that kind (``cutout(y0, y1, x0, x1)``); ``read_times``
    (N,) s since the first read, or None when the file gives no frame time."""

    dataset_id: int
    kind: str
    pixels: tuple[tuple[int, int], ...]
    values: Any = field(compare=False)
    read_times: Any = field(default=None, compare=False)


@dataclass(frozen=True, eq=False)
class PinnedRamps:
    """Attributes: ``request``; ``ramps`` (P, N) float64 DN, one row per pin in pin order."""

    request: PinsRequest
    ramps: np.ndarray

    @property
    def pixels(self) -> tuple[tuple[int, int], ...]:
        return self.request.pixels

    @property
    def read_times(self) -> np.ndarray | None:
        """(N,) s since the first read (the ramp panel's x in seconds), or None."""
        t = self.request.read_times
        return None if t is None else np.asarray(t, np.float64)


def pins_job(req: PinsRequest) -> PinnedRamps:
    """Read each pin's ramp (one 1 x 1 cutout of every read per pin)."""
    n = req.values.shape[0]
    ramps = np.empty((len(req.pixels), n), np.float64)
    for i, (r, c) in enumerate(req.pixels):
        ramps[i] = np.asarray(req.values.cutout(r, r + 1, c, c + 1), np.float64)[:, 0, 0]
    ramps.flags.writeable = False
    return PinnedRamps(req, ramps)
