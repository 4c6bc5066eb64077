"""4-connected and diagonal neighbours of a boolean mask, by shifted slices.

The tutorial convolves each frame's mask with a 3 x 3 kernel
(``scipy.signal.convolve2d``), which costs nine multiply-adds per pixel in
integers.  A neighbour mask is only an OR of shifted copies, and the diagonal
neighbours are the vertical neighbours of the horizontal ones, so three
shifted ORs give everything.  Pixels beyond the frame edge count as
unsaturated, as the convolution's zero fill does.
"""

from __future__ import annotations

import numpy as np


def horizontal_neighbours(mask: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[r, c] = mask[r, c - 1] | mask[r, c + 1]`` (False beyond the edges)."""
    out[:, :-1] = mask[:, 1:]
    out[:, -1:] = False
    out[:, 1:] |= mask[:, :-1]
    return out


def vertical_neighbours(mask: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[r, c] = mask[r - 1, c] | mask[r + 1, c]`` (False beyond the edges)."""
    out[:-1] = mask[1:]
    out[-1:] = False
    out[1:] |= mask[:-1]
    return out


class Neighbours:
    """Neighbour masks of one (H, W) frame at a time, with reusable buffers.

    Parameters
    ----------
    shape : (H, W)
        Frame shape.
    """

    def __init__(self, shape: tuple[int, int]):
        self._horizontal = np.empty(shape, dtype=bool)
        self._vertical = np.empty(shape, dtype=bool)
        self._diagonal = np.empty(shape, dtype=bool)
        self._either = np.empty(shape, dtype=bool)

    def dilate4(self, mask: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``mask`` or any of its 4-neighbours (the tutorial's ``sat | nearby``)."""
        h = horizontal_neighbours(mask, self._horizontal)
        v = vertical_neighbours(mask, self._vertical)
        np.logical_or(h, v, out=out)
        return np.logical_or(out, mask, out=out)

    def classify(self, mask: np.ndarray, nearby: np.ndarray, diag: np.ndarray) -> None:
        """Write the tutorial's ``nearby`` and ``diag`` masks of ``mask``.

        Parameters
        ----------
        mask : (H, W) bool
            Saturated pixels.
        nearby : (H, W) bool, output
            4-neighbours of saturated pixels that are not saturated.
        diag : (H, W) bool, output
            Diagonal neighbours that are neither saturated nor in ``nearby``.
        """
        h = horizontal_neighbours(mask, self._horizontal)
        v = vertical_neighbours(mask, self._vertical)
        d = vertical_neighbours(h, self._diagonal)
        four = np.logical_or(h, v, out=self._either)
        # For booleans a > b is a & ~b, in one pass instead of two.
        np.greater(four, mask, out=nearby)
        covered = np.logical_or(four, mask, out=self._either)  # saturated or nearby
        np.greater(d, covered, out=diag)
