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

    Robust to hot pixels, small hot clusters and bad columns:

    1. the frame is block-averaged to about 512 pixels per side and median
       filtered (3 x 3), which removes isolated hot pixels and lines;
    2. of the connected regions more than 5 sigma (robust) above the sky, the
       one with the largest integrated flux is taken -- a star has far more
       flux than a hot cluster that survived the median, even a brighter one;
    3. inside that region, at full resolution (3 x 3 median filtered), the
       half-maximum area around its peak is found and its flux-weighted
       centroid returned.  The centroid, not the brightest pixel, puts the
       centre in the middle of a saturated plateau, and of the ring that a
       core saturated from frame 0 leaves in differenced data.

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

    # 1. Coarse, cleaned image.
    b = max(1, math.ceil(max(h, w) / _COARSE_SIZE))
    if h < b or w < b:
        b = 1
    hb, wb = h // b, w // b
    if b > 1:
        blocks = frame[: hb * b, : wb * b].reshape(hb, b, wb, b)
        coarse = blocks.mean(axis=(1, 3), dtype=np.float64).astype(np.float32)
    else:
        coarse = frame.astype(np.float32)
    finite = np.isfinite(coarse)
    if not finite.any():
        raise ValueError("brightest_source: the frame has no finite pixel")
    sky = float(np.median(coarse[finite]))
    coarse[~finite] = sky  # a NaN block is as good as sky for the search
    coarse = _median3(coarse, sky)
    sky = float(np.median(coarse))
    noise = 1.4826 * float(np.median(np.abs(coarse - sky)))

    # 2. The region with the most flux.
    region = _brightest_region(coarse, sky, noise)
    rows, cols = ndimage.find_objects(region.astype(np.int8))[0]
    allowed_coarse = ndimage.binary_dilation(region, np.ones((3, 3), bool))

    # 3. Its half-maximum core at full resolution.
    r0, r1 = _window(rows.start * b - b, rows.stop * b + b, h)
    c0, c1 = _window(cols.start * b - b, cols.stop * b + b, w)
    window = frame[r0:r1, c0:c1].astype(np.float32)
    window[~np.isfinite(window)] = sky
    window = _median3(window, sky)
    # Pixels beyond the last whole block belong to the last block.
    row_bins = np.minimum(np.arange(r0, r1) // b, hb - 1)
    col_bins = np.minimum(np.arange(c0, c1) // b, wb - 1)
    allowed = allowed_coarse[np.ix_(row_bins, col_bins)]
    peak_value = float(window[allowed].max())
    above = allowed & (window >= sky + 0.5 * (peak_value - sky))
    labels, _ = ndimage.label(above)
    peak = np.unravel_index(int(np.argmax(np.where(allowed, window, -np.inf))), window.shape)
    core = labels == labels[peak]
    weights = np.where(core, window - sky, 0.0)
    if weights.sum() <= 0:  # flat: fall back to the core's geometric centre
        weights = core.astype(np.float64)
    cy, cx = ndimage.center_of_mass(weights)
    return int(round(r0 + cy)), int(round(c0 + cx))


def _median3(image: np.ndarray, sky: float) -> np.ndarray:
    # Pad with sky, not with edge copies: "nearest" would count a hot corner
    # pixel four times in its 3 x 3 window and let it survive the median.
    return ndimage.median_filter(image, size=3, mode="constant", cval=sky)


def _brightest_region(image: np.ndarray, sky: float, noise: float) -> np.ndarray:
    """Connected region above sky + 5 sigma with the largest integrated flux."""
    peak = float(image.max())
    level = sky + 5.0 * noise
    if noise <= 0 or peak < level:  # noiseless, or nothing significant: use half maximum
        level = sky + 0.5 * (peak - sky)
    labels, n = ndimage.label(image >= level)
    flux = ndimage.sum_labels(image - sky, labels, index=np.arange(1, n + 1))
    return labels == int(np.argmax(flux)) + 1


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
    return_counts: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    return_counts : bool
        Also return the number of pixels in each bin.

    Returns
    -------
    radii : (M,) float64, pixels
        Bin centres, ``(j + 0.5) * bin_width``, ``M = ceil(max_radius / bin_width)``.
    profile : (M,) float64, DN
        Mean per bin; NaN for bins with no pixel.
    counts : (M,) int64
        Pixels used per bin (only with ``return_counts``).

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
    r0, r1 = _clipped(math.floor(cy - max_radius), math.ceil(cy + max_radius) + 1, h)
    c0, c1 = _clipped(math.floor(cx - max_radius), math.ceil(cx + max_radius) + 1, w)
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
    if return_counts:
        return radii, profile, counts.astype(np.int64)
    return radii, profile


def _clipped(start: int, stop: int, size: int) -> tuple[int, int]:
    """``[start, stop)`` clipped to ``[0, size)``; empty (not negative-indexed) when outside."""
    start = min(max(0, start), size)
    return start, min(max(start, stop), size)
