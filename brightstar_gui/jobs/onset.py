"""The onset map as a pane image, and its contours for the raw pane (Qt-free jobs).

The map itself comes from :mod:`.growth` (the CLI's ``brightstar onset``
computation); these jobs only colour the visible part of it and outline the
area saturated by chosen reads with
:func:`processing.diagnostics.onset.onset_contours`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from processing import figures

from .render import lut

Region = tuple[int, int, int, int]

#: Colour map of the onset pane: early reads dark, late bright.
ONSET_CMAP = "plasma"
#: Colour of pixels that never saturate (NaN in the map): a neutral grey, not in plasma.
NEVER_COLOR = (128, 128, 128, 255)
NEVER_NAME = "grey"


@dataclass(frozen=True)
class OnsetImageRequest:
    """Attributes: ``onset`` (H, W) float32 read index, NaN never, read-only; ``view``
    (y0, y1, x0, x1) part to draw; ``step`` pixel step; ``n_reads`` (levels 0 .. N-1)."""

    onset: np.ndarray = field(compare=False)
    onset_id: int
    view: Region
    step: int
    n_reads: int


@dataclass(frozen=True, eq=False)
class OnsetImage:
    """Attributes: ``request``; ``values`` (h, w) float32 drawn (the map at the step);
    ``rgba`` (h, w, 4) uint8; ``rect`` (x, y, w, h) pixels; ``levels`` (0, N - 1)."""

    request: OnsetImageRequest
    values: np.ndarray
    rgba: np.ndarray
    rect: tuple[float, float, float, float]
    levels: tuple[float, float]


def onset_lut() -> np.ndarray:
    return lut(ONSET_CMAP, "linear")


def onset_image_job(req: OnsetImageRequest) -> OnsetImage:
    """Colour the visible part of the onset map (every ``step``-th pixel; NaN in :data:`NEVER_COLOR`)."""
    y0, y1, x0, x1 = req.view
    step = max(1, int(req.step))
    values = np.asarray(req.onset[y0:y1:step, x0:x1:step])
    levels = (0.0, float(max(req.n_reads - 1, 1)))
    rgba = figures.colorize(values, levels, onset_lut(), None, NEVER_COLOR)
    h, w = values.shape
    return OnsetImage(req, values, rgba, (float(x0), float(y0), float(w * step), float(h * step)), levels)


@dataclass(frozen=True)
class ContoursRequest:
    """Attributes: ``onset`` (H, W) map; ``onset_id``; ``region`` (y0, y1, x0, x1) outlined; ``reads``."""

    onset: np.ndarray = field(compare=False)
    onset_id: int
    region: Region
    reads: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Contours:
    """Attributes: ``request``; ``lines`` read -> list of (M, 2) float64 (row, col) in frame pixels
    (through pixel centres' boundaries: add 0.5 to draw on pixel-corner axes)."""

    request: ContoursRequest
    lines: dict


def contours_job(req: ContoursRequest) -> Contours:
    """Outline, for each read, the area of ``region`` saturated by it (closed polylines)."""
    from processing.diagnostics.onset import onset_contours

    y0, y1, x0, x1 = req.region
    part = np.asarray(req.onset[y0:y1, x0:x1])
    out = {}
    for k in req.reads:
        out[int(k)] = [line + (y0, x0) for line in onset_contours(part, int(k))]
    return Contours(req, out)
