"""The four panes of a frame, composed by one function for the screen and for figures.

The viewer's render job and :mod:`processing.figures` both call
:func:`compose` so that a pane on screen and the same pane in an exported
figure are the same pixels:

* ``raw``: the frame as float32, minus a superbias when one is given;
* ``difference``: frame minus the baseline frame, float32 (no uint16 wrap);
* ``ratio``: (frame - previous frame) / mean slope, NaN where the mean slope
  is 0 or not finite, and everywhere for frame 0 (it has no previous frame);
* ``mask``: the tutorial's codes ``3 saturated + 2 four-neighbour + 1
  diagonal`` of the saturation test (:class:`processing.diagnostics.SaturationTest`).

Inputs are arrays over the part of the frame that is shown; pixel-wise panes
accept strided views (every ``step``-th pixel, for a zoomed-out screen).  The
mask needs its neighbours, so it is composed at full resolution with a
one-pixel margin and then block-reduced by maximum, so no saturated pixel
disappears when zoomed out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .figures import MASK_DIAGONAL, MASK_NEARBY, MASK_SATURATED, PANES, block_reduce

__all__ = ["PANES", "PaneInputs", "compose", "mask_pane", "MASK_SATURATED", "MASK_NEARBY", "MASK_DIAGONAL"]


@dataclass(frozen=True)
class PaneInputs:
    """What the panes of frame ``k`` are made of, over the part shown.

    Attributes
    ----------
    frame : (h, w) array, DN
        Frame ``k`` (raw or calibrated values).
    baseline : (h, w) array or None
        The baseline frame (difference pane).
    previous : (h, w) array or None
        Frame ``k - 1``; None for frame 0 (ratio pane is NaN).
    mean_slope : (h, w) float32 or None, DN/frame
    superbias : (h, w) float32 or None, DN
        Subtracted from the raw pane.
    saturated : (h + 2, w + 2) bool or None
        The saturation test of frame ``k`` over the shown part plus a
        one-pixel margin (``margin`` says which sides have one: a side at the
        frame's edge has none).
    margin : (top, bottom, left, right) of 0 or 1
    step : int
        ``saturated`` is at full resolution; the mask is block-reduced by
        ``step`` to match the strided pixel-wise panes.
    """

    frame: np.ndarray
    baseline: np.ndarray | None = None
    previous: np.ndarray | None = None
    mean_slope: np.ndarray | None = None
    superbias: np.ndarray | None = None
    saturated: np.ndarray | None = None
    margin: tuple[int, int, int, int] = (0, 0, 0, 0)
    step: int = 1


def compose(kind: str, inputs: PaneInputs) -> np.ndarray:
    """Values of pane ``kind``, float32 (mask: codes 0-3 as float32).

    Raises
    ------
    ValueError
        For an unknown pane, or when an input the pane needs is missing
        (the message says which reference supplies it).
    """
    if kind == "raw":
        img = np.asarray(inputs.frame, dtype=np.float32)
        if inputs.superbias is not None:
            img = img - np.asarray(inputs.superbias, dtype=np.float32)
        return img
    if kind == "difference":
        if inputs.baseline is None:
            raise ValueError("the difference pane needs the baseline frame")
        return np.subtract(inputs.frame, inputs.baseline, dtype=np.float32)
    if kind == "ratio":
        if inputs.mean_slope is None:
            raise ValueError("the slope-ratio pane needs a mean slope (a saturation reference)")
        if inputs.previous is None:
            return np.full(np.shape(inputs.frame), np.nan, np.float32)
        diff = np.subtract(inputs.frame, inputs.previous, dtype=np.float32)
        mean = np.asarray(inputs.mean_slope, dtype=np.float32)
        out = np.full(diff.shape, np.nan, dtype=np.float32)
        np.divide(diff, mean, out=out, where=np.isfinite(mean) & (mean != 0))
        return out
    if kind == "mask":
        if inputs.saturated is None:
            raise ValueError("the mask pane needs saturation thresholds (a saturation reference)")
        return mask_pane(inputs.saturated, inputs.margin, inputs.step).astype(np.float32)
    raise ValueError(f"unknown pane {kind!r}; expected one of {PANES}")


def mask_pane(saturated: np.ndarray, margin: tuple[int, int, int, int] = (0, 0, 0, 0), step: int = 1) -> np.ndarray:
    """Mask codes (uint8) of the shown part, block-max reduced by ``step``.

    Parameters
    ----------
    saturated : (h + top + bottom, w + left + right) bool
    margin : (top, bottom, left, right)
        Rows/columns of ``saturated`` outside the shown part (neighbours only).
    step : int
    """
    from .figures import mask_codes

    top, bottom, left, right = margin
    codes = mask_codes(saturated)
    h, w = codes.shape
    codes = codes[top : h - bottom, left : w - right]
    return block_reduce(codes, step, "max") if step > 1 else codes


#: A block of a zoomed-out screen is drawn flagged when more than this
#: fraction of its pixels is flagged: isolated hot pixels do not pepper a full
#: frame (an "any" rule paints one in 16 blocks of a 4096 frame at 1/4 scale),
#: and a flagged column or region stays visible.  The flagged positions
#: themselves are marked by :func:`flag_positions` (the viewer's overlay).
FLAG_BLOCK_FRACTION = 0.5


def flag_blocks(bad: np.ndarray, step: int, fraction: float = FLAG_BLOCK_FRACTION) -> np.ndarray:
    """DQ flags of ``bad`` (h, w) bool reduced to ``(ceil(h/step), ceil(w/step))`` blocks.

    A block is flagged when more than ``fraction`` of its pixels (of those
    inside the frame, for edge blocks) are flagged; ``step <= 1`` returns
    ``bad`` unchanged.
    """
    bad = np.asarray(bad, dtype=bool)
    if step <= 1:
        return bad
    h, w = bad.shape
    hb, wb = -(-h // step), -(-w // step)
    out = np.zeros((hb, wb), dtype=bool)
    rows = np.flatnonzero(bad.any(axis=1))
    if rows.size == 0:
        return out
    # Only the band of block rows that holds flags is summed.
    b0, b1 = rows[0] // step, rows[-1] // step + 1
    band = np.zeros(((b1 - b0) * step, wb * step), dtype=np.uint16)
    part = bad[b0 * step : b1 * step]
    band[: part.shape[0], :w] = part
    counts = band.reshape(b1 - b0, step, wb, step).sum(axis=(1, 3), dtype=np.uint32)
    # Pixels per block inside the frame (edge blocks are smaller).
    ny = np.minimum(step, h - np.arange(b0, b1) * step)[:, None]
    nx = np.minimum(step, w - np.arange(wb) * step)[None, :]
    out[b0:b1] = counts > fraction * (ny * nx)
    return out


def flag_positions(bad: np.ndarray, view: tuple[int, int, int, int], limit: int = 50_000) -> np.ndarray:
    """(n, 2) int (row, col) of the flagged pixels of ``bad`` (H, W) inside ``view`` (y0, y1, x0, x1).

    At most ``limit`` positions (the first in row order): a frame with more
    flags than that is a flagged region, which :func:`flag_blocks` shows.
    """
    y0, y1, x0, x1 = view
    rows, cols = np.nonzero(np.asarray(bad)[y0:y1, x0:x1])
    return np.column_stack([rows[:limit] + y0, cols[:limit] + x0])


def markable_flags(pixeldq: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels with a DQ flag other than REFERENCE_PIXEL.

    The reference pixels are the detector's 4-pixel border, flagged by
    definition; ringing them would hide the flags worth finding.
    """
    from roman_datamodels.dqflags import pixel

    return (np.asarray(pixeldq, dtype=np.uint32) & ~np.uint32(pixel.REFERENCE_PIXEL)) != 0
