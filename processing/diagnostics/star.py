"""Where the star is, and its azimuthally averaged profile."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

#: Frames are binned down to about this many pixels per side before the
#: coarse search, so a 4096 x 4096 frame costs one pass over its pixels.
_COARSE_SIZE = 512
#: The full-resolution refinement window is capped at this many pixels per side.
_MAX_WINDOW = 1024


def brightest_source(frame: np.ndarray) -> tuple[int, int]:
    """Pixel at the centre of the brightest extended source, e.g. the star.

    Robust to hot pixels and bad columns: the frame is block-averaged, median
    filtered (3 x 3) and searched for its peak; the half-maximum region around
    that peak is then located again at full resolution (3 x 3 median
    filtered) and its flux-weighted centroid is returned.  Using the centroid
    of the half-maximum region, not the brightest pixel, puts the centre in
    the middle of a saturated plateau, and of the ring that a core saturated
    from frame 0 leaves in differenced data.

    Parameters
    ----------
    frame : (H, W) array, DN
        One frame (raw or calibrated) or a difference image.  Non-finite
        pixels are ignored.

    Returns
    -------
    (row, col) : tuple of int
        Frame pixel nearest the centroid.

    Raises
    ------
    ValueError
        If ``frame`` is not 2-D, is empty, or has no finite pixel.
    """
    frame = np.asarray(frame)
    if frame.ndim != 2 or frame.size == 0:
        raise ValueError(f"brightest_source needs a non-empty (H, W) frame; got shape {frame.shape}")
    h, w = frame.shape

    # Coarse search on a block-averaged frame.
    b = max(1, math.ceil(max(h, w) / _COARSE_SIZE))
    if h < b or w < b:
        b = 1
    hb, wb = h // b, w // b
    blocks = frame[: hb * b, : wb * b].reshape(hb, b, wb, b)
    coarse = blocks.mean(axis=(1, 3), dtype=np.float64).astype(np.float32) if b > 1 else frame.astype(np.float32)
    finite = np.isfinite(coarse)
    if not finite.any():
        raise ValueError("brightest_source: the frame has no finite pixel")
    background = float(np.median(coarse[finite]))
    coarse[~finite] = background  # a NaN block is as good as sky for the search
    coarse = ndimage.median_filter(coarse, size=3, mode="nearest")
    region = _half_max_region(coarse, background)

    # Refine at full resolution around the coarse region.
    rows, cols = ndimage.find_objects(region.astype(np.int8))[0]
    r0, r1 = _window(rows.start * b - b, rows.stop * b + b, h)
    c0, c1 = _window(cols.start * b - b, cols.stop * b + b, w)
    window = frame[r0:r1, c0:c1].astype(np.float32)
    window[~np.isfinite(window)] = background
    window = ndimage.median_filter(window, size=3, mode="nearest")
    region = _half_max_region(window, background)
    weights = np.where(region, window - background, 0.0)
    if weights.sum() <= 0:  # flat window: fall back to the region's geometric centre
        weights = region.astype(np.float64)
    cy, cx = ndimage.center_of_mass(weights)
    return int(round(r0 + cy)), int(round(c0 + cx))


def _half_max_region(image: np.ndarray, background: float) -> np.ndarray:
    """Connected region at or above half maximum that contains the maximum."""
    peak = np.unravel_index(int(np.argmax(image)), image.shape)
    level = background + 0.5 * (float(image[peak]) - background)
    labels, _ = ndimage.label(image >= level)
    return labels == labels[peak]


def _window(start: int, stop: int, size: int) -> tuple[int, int]:
    """Clip ``[start, stop)`` to ``[0, size)`` and to at most :data:`_MAX_WINDOW` about its centre."""
    if stop - start > _MAX_WINDOW:
        mid = (start + stop) // 2
        start, stop = mid - _MAX_WINDOW // 2, mid + _MAX_WINDOW // 2
    return max(0, start), min(size, stop)


def radial_profile(
    frame: np.ndarray,
    center: tuple[float, float],
    max_radius: float | None = None,
    bin_width: float = 1.0,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Azimuthally averaged profile about ``center``.

    Pixel ``(r, c)`` is at distance ``hypot(r - row, c - col)`` from the
    centre and falls in bin ``floor(distance / bin_width)``; each bin's value
    is the mean of its finite, unmasked pixels.

    Parameters
    ----------
    frame : (H, W) array, DN
    center : (row, col) float, pixels
        E.g. from :func:`brightest_source`.
    max_radius : float, optional, pixels
        Only pixels closer than this are used.  Default: the distance to the
        farthest corner of the frame (the whole frame).
    bin_width : float, pixels
    mask : (H, W) bool, optional
        True for pixels to leave out (e.g. saturated ones).

    Returns
    -------
    radii : (M,) float64, pixels
        Bin centres, ``(j + 0.5) * bin_width``, ``M = ceil(max_radius / bin_width)``.
    profile : (M,) float64, DN
        Mean per bin; NaN for bins with no pixel.

    Raises
    ------
    ValueError
        If ``frame`` is not 2-D, ``mask`` does not match it, or ``max_radius``
        or ``bin_width`` is not positive.
    """
    frame = np.asarray(frame)
    if frame.ndim != 2:
        raise ValueError(f"radial_profile needs an (H, W) frame; got shape {frame.shape}")
    if mask is not None and np.shape(mask) != frame.shape:
        raise ValueError(f"mask shape {np.shape(mask)} does not match frame shape {frame.shape}")
    h, w = frame.shape
    cy, cx = float(center[0]), float(center[1])
    if max_radius is None:
        max_radius = max(math.hypot(y - cy, x - cx) for y in (0, h - 1) for x in (0, w - 1))
        max_radius = math.nextafter(max_radius, math.inf)  # include the corner itself
    if not (max_radius > 0 and bin_width > 0):
        raise ValueError(f"max_radius and bin_width must be positive; got {max_radius} and {bin_width}")
    n_bins = max(1, math.ceil(max_radius / bin_width))

    # Only the bounding box of the circle is touched, so a small profile of a
    # full frame costs what its pixels cost.
    r0, r1 = max(0, math.floor(cy - max_radius)), min(h, math.ceil(cy + max_radius) + 1)
    c0, c1 = max(0, math.floor(cx - max_radius)), min(w, math.ceil(cx + max_radius) + 1)
    values = frame[r0:r1, c0:c1]
    yy, xx = np.ogrid[r0:r1, c0:c1]
    distance = np.hypot(yy - cy, xx - cx)
    use = (distance < max_radius) & np.isfinite(values)
    if mask is not None:
        use &= ~np.asarray(mask, dtype=bool)[r0:r1, c0:c1]
    index = (distance[use] / bin_width).astype(np.intp)
    sums = np.bincount(index, weights=values[use].astype(np.float64), minlength=n_bins)[:n_bins]
    counts = np.bincount(index, minlength=n_bins)[:n_bins]
    profile = np.full(n_bins, np.nan)
    np.divide(sums, counts, out=profile, where=counts > 0)
    radii = (np.arange(n_bins) + 0.5) * bin_width
    return radii, profile
