"""Per-pixel bias (ramp intercept) from darks, and a superbias from several."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..progress import CancelToken, Job, Progress, run, scaled
from .frames import as_frame_source, check_same_shape, read_frame
from .ramp import OnProgress

SUPERBIAS_METHODS = ("median", "mean")


def bias_intercept_job(cube: Any, drop_first: bool = True) -> Job[np.ndarray]:
    """Generator form of :func:`bias_intercept`; yields progress after each frame."""
    source = as_frame_source(cube, "cube")
    n_total, h, w = source.shape
    start = 1 if drop_first else 0
    t = np.arange(start, n_total, dtype=np.float64)
    n = t.size
    if n < 2:
        raise ValueError(
            f"need at least 2 frames{' after dropping frame 0' if drop_first else ''} to fit a line; "
            f"cube has shape {tuple(source.shape)}"
        )
    sum_t = t.sum()
    sum_t2 = (t * t).sum()
    den = n * sum_t2 - sum_t * sum_t

    # The tutorial's sums, accumulated one frame at a time in float64.  For
    # integer DN every term and partial sum is an integer below 2**53, so the
    # result is bit-identical to its tile-wise tensordot whatever the order.
    sum_y = np.zeros((h, w), dtype=np.float64)
    sum_ty = np.zeros((h, w), dtype=np.float64)
    term = np.empty((h, w), dtype=np.float64)
    for step, k in enumerate(range(start, n_total)):
        y = read_frame(source, k, "cube")
        if not (y.dtype == np.float32 or (y.dtype.kind in "iub" and y.dtype.itemsize <= 2)):
            y = y.astype(np.float32)  # the tutorial fits float32 copies of the data
        np.add(sum_y, y, out=sum_y)
        np.multiply(y, np.float64(k), out=term, dtype=np.float64)
        np.add(sum_ty, term, out=sum_ty)
        yield Progress((step + 1) / n, f"bias intercept: frame {k + 1}/{n_total}")

    # slope = (n * sum_ty - sum_t * sum_y) / den; intercept = (sum_y - slope * sum_t) / n,
    # evaluated in place (same operations, same rounding) to keep memory down.
    slope = np.multiply(sum_ty, n, out=sum_ty)
    slope -= np.multiply(sum_y, sum_t, out=term)
    slope /= den
    intercept = np.subtract(sum_y, np.multiply(slope, sum_t, out=slope), out=sum_y)
    intercept /= n
    return intercept.astype(np.float32)


def bias_intercept(
    cube: Any, drop_first: bool = True, *, on_progress: OnProgress = None, cancel: CancelToken | None = None
) -> np.ndarray:
    """Per-pixel intercept of a straight-line fit over the frames of a ramp.

    Same result as the tutorial's ``bias_intercept_from_cube``: fit
    ``y(t) = a + b t`` with ``t`` the frame index, by least squares, and
    return ``a``.

    Parameters
    ----------
    cube : (N, H, W) array or frame source, DN
        A dark ramp.
    drop_first : bool
        Ignore frame 0 (the first read after reset) and fit frames 1..N-1.
    on_progress, cancel
        Progress callback and cancel token, checked after each frame.

    Returns
    -------
    (H, W) float32, DN

    Raises
    ------
    ValueError
        If fewer than 2 frames remain to fit, or ``cube`` is not 3-D.
    """
    return run(bias_intercept_job(cube, drop_first), on_progress, cancel)


def superbias_job(cubes: Iterable[Any], method: str = "median", drop_first: bool = True) -> Job[np.ndarray]:
    """Generator form of :func:`superbias`; progress runs over all the darks."""
    if method not in SUPERBIAS_METHODS:
        raise ValueError(f"method must be one of {SUPERBIAS_METHODS}; got {method!r}")
    sources = [as_frame_source(c, f"cubes[{i}]") for i, c in enumerate(cubes)]
    if not sources:
        raise ValueError("superbias needs at least one dark cube")
    # Check every shape before the (long) fits, not after the first one.
    for i, s in enumerate(sources[1:], start=1):
        check_same_shape(f"cubes[{i}] frame", s.shape[1:], "cubes[0] frame", sources[0].shape[1:])
    m = len(sources)
    biases = []
    for i, s in enumerate(sources):
        sub = bias_intercept_job(s, drop_first)
        biases.append((yield from scaled(sub, i / m, (i + 1) / m, f"dark {i + 1}/{m}: ")))
    stack = np.stack(biases, axis=0)
    with warnings.catch_warnings():
        # All-NaN pixels give NaN, which is the answer; numpy's warning is noise.
        warnings.simplefilter("ignore", RuntimeWarning)
        combined = np.nanmedian(stack, axis=0) if method == "median" else np.nanmean(stack, axis=0)
    return combined.astype(np.float32)


def superbias(
    cubes: Iterable[Any],
    method: str = "median",
    drop_first: bool = True,
    *,
    on_progress: OnProgress = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Combine the bias intercepts of several darks into a superbias.

    Parameters
    ----------
    cubes : iterable of (N_i, H, W) arrays or frame sources, DN
        Dark ramps; frame counts may differ, frame shapes may not.
    method : {"median", "mean"}
        ``np.nanmedian`` or ``np.nanmean`` across the darks, as in the tutorial.
    drop_first : bool
        Passed to :func:`bias_intercept`.
    on_progress, cancel
        Progress callback and cancel token, checked after each frame.

    Returns
    -------
    (H, W) float32, DN

    Raises
    ------
    ValueError
        If ``method`` is unknown, there are no cubes, or frame shapes differ.
    """
    return run(superbias_job(cubes, method, drop_first), on_progress, cancel)
