"""The star's sub-pixel centre, from its unsaturated wings, and whether there is a star at all.

:func:`~.star.brightest_source` finds the brightest extended source to the
nearest pixel, and always answers -- on a dark too.  A radial profile needs
more: a centre good to a fraction of a pixel, measured where the signal is
still linear (the saturated core is a flat plateau whose centroid follows its
ragged edge), and a refusal when there is nothing to centre on.

Detection: the candidate's 3 x 3-median peak must stand
:data:`DETECTION_SIGMA` pixel-noise sigmas above the median of an annulus
around it, or the candidate must sit in a cluster of at least
:data:`MIN_SATURATED` saturated pixels.  The pixel noise is measured from
neighbouring-pixel differences, which a smooth halo or bias gradient barely
affects.

Centre: the flux-weighted centroid of the wings, iterated.  Pixels between
``r_in`` (just outside the saturated core and its neighbours) and ``r_out``
about the current centre, weighted by their signal above the annulus sky
times a smooth taper in radius; a symmetric source gives a symmetric weight
map only about its true centre, so the iteration (in half steps, which
steep wings need) converges there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .star import brightest_source

#: A source must peak this many pixel-noise sigmas above its surroundings.
DETECTION_SIGMA = 50.0
#: ... or have at least this many saturated pixels in its core.
MIN_SATURATED = 5
#: Raw DN above which a read's pixel is taken as saturated when no saturation
#: reference is at hand (finding the star as a file opens): well above any
#: unsaturated sky or halo, below every threshold of the WFI saturation maps.
SATURATED_DN_GUESS = 55000
#: Iterations stop when the centre moves less than this, pixels.
_TOLERANCE = 1e-3
_MAX_ITERATIONS = 50


class NoSourceError(ValueError):
    """There is no star to centre on (e.g. a dark exposure)."""


@dataclass(frozen=True)
class StarCentre:
    """Where the star is.

    Attributes
    ----------
    row, col : float, pixels
        Sub-pixel centre (0-based; pixel centres at integers).
    significance : float
        Peak above the surroundings, in pixel-noise sigmas (inf when saturated).
    saturated_radius : float, pixels
        Equivalent radius of the saturated core, ``sqrt(n / pi)`` (0 without a mask).
    inner_radius, outer_radius : float, pixels
        The annulus of wing pixels the centre was measured from.
    """

    row: float
    col: float
    significance: float
    saturated_radius: float
    inner_radius: float
    outer_radius: float

    @property
    def center(self) -> tuple[float, float]:
        return (self.row, self.col)


#: Pixel noise is estimated from every this-many-th row (a 4096-row frame: 512 rows, 2 M differences).
_NOISE_ROW_STEP = 8


def pixel_noise(frame: np.ndarray) -> float:
    """Robust pixel-to-pixel noise of a frame, DN: MAD of horizontal neighbour differences / sqrt(2).

    Rows are sampled (:data:`_NOISE_ROW_STEP`) when the frame has many: a
    median over millions of differences is as good as over all of them.
    """
    frame = np.asarray(frame)
    step = _NOISE_ROW_STEP if frame.shape[0] >= 64 * _NOISE_ROW_STEP else 1
    d = np.diff(frame[::step].astype(np.float32), axis=1)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))


def star_centre(frame: np.ndarray, saturated: np.ndarray | None = None, guess: tuple[float, float] | None = None,
                *, wing_width: float | None = None) -> StarCentre:
    """Sub-pixel centre of the star in a frame, from its unsaturated wings.

    Parameters
    ----------
    frame : (H, W) array, DN
        Best a bias-free image: a read minus read 0 (raw frames carry a
        per-channel bias pattern that is not symmetric about the star and
        pulls a raw-frame centroid by a tenth of a pixel).  A plain read works too.
    saturated : (H, W) bool, optional
        Saturated pixels of this read (:class:`~.thresholds.SaturationTest`);
        they and their 4-neighbours are left out of the wings.
    guess : (row, col), optional
        Where to start; default :func:`~.star.brightest_source`.
    wing_width : float, optional, pixels
        Width of the wing annulus; default ``max(8, r_in)``.

    Returns
    -------
    StarCentre

    Raises
    ------
    NoSourceError
        When nothing stands out of the noise (a dark), naming the peak's significance.
    ValueError
        If ``frame`` is not 2-D or ``saturated`` does not match it.
    """
    frame = np.asarray(frame)
    if frame.ndim != 2:
        raise ValueError(f"star_centre needs an (H, W) frame; got shape {frame.shape}")
    if saturated is not None and np.shape(saturated) != frame.shape:
        raise ValueError(f"saturated mask shape {np.shape(saturated)} does not match frame shape {frame.shape}")
    h, w = frame.shape
    if guess is None:
        guess = brightest_source(frame)
    gy, gx = int(round(guess[0])), int(round(guess[1]))
    if not (0 <= gy < h and 0 <= gx < w):
        raise ValueError(f"guess {guess} is outside the {h} x {w} frame")

    core_pixels, r_sat, blocked, core_centre, significance, local_sky = _detect(frame, saturated, gy, gx)

    r_in = r_sat + 2.0 if core_pixels else 0.0
    width = wing_width if wing_width is not None else max(8.0, r_in)
    r_out = r_in + width
    cy, cx = core_centre if core_centre is not None else (float(gy), float(gx))
    for _ in range(_MAX_ITERATIONS):
        ny, nx = _wing_centroid(frame, blocked, cy, cx, r_in, r_out, local_sky)
        # Half steps: where the wings are steep (r**-4) the centroid about a
        # shifted centre lands farther on the other side than the shift, so
        # full steps oscillate about the true centre with growing amplitude.
        ny, nx = cy + 0.5 * (ny - cy), cx + 0.5 * (nx - cx)
        moved = math.hypot(ny - cy, nx - cx)
        cy, cx = ny, nx
        if moved < _TOLERANCE:
            break
    return StarCentre(cy, cx, float(significance), r_sat, r_in, r_out)


def _detect(frame, saturated, gy, gx):
    """The detection rule at guess (gy, gx): raises :class:`NoSourceError` when nothing stands out.

    Returns the saturated core (pixels, extent, blocked mask, centroid), the
    significance and the local sky.
    """
    core_pixels, r_sat, blocked, core_centre = _saturated_core(saturated, gy, gx)
    noise = pixel_noise(frame)
    peak, local_sky = _peak_and_surroundings(frame, gy, gx, r_sat)
    significance = math.inf if core_pixels >= MIN_SATURATED else (
        (peak - local_sky) / noise if noise > 0 else (math.inf if peak > local_sky else 0.0))
    if not significance >= DETECTION_SIGMA:
        raise NoSourceError(f"no source: the brightest candidate, at row {gy}, column {gx}, peaks only "
                            f"{significance:.1f} sigma (pixel noise {noise:.3g} DN) above its surroundings; "
                            f"a star needs {DETECTION_SIGMA:g} or a saturated core")
    return core_pixels, r_sat, blocked, core_centre, significance, local_sky


def find_star(frame: np.ndarray, saturated: np.ndarray | None = None) -> tuple[int, int]:
    """The star's pixel, or :class:`NoSourceError` when there is none (a dark): the viewer's and CLI's rule.

    :func:`~.star.brightest_source` always answers, on a dark with a noise
    pixel; this applies the detection test of :func:`star_centre` to its
    answer (:data:`DETECTION_SIGMA` above the surroundings, or a saturated
    core of :data:`MIN_SATURATED` pixels).

    Parameters
    ----------
    frame : (H, W) array, DN
        Best a read minus read 0 (bias-free); a plain read works too.
    saturated : (H, W) bool, optional
        Saturated pixels of that read.

    Returns
    -------
    (row, col) : tuple of int

    Raises
    ------
    NoSourceError
        Nothing stands out of the noise; the message gives the candidate and its significance.
    ValueError
        If ``frame`` is not 2-D or has no finite pixel.
    """
    frame = np.asarray(frame)
    if saturated is not None and np.shape(saturated) != frame.shape:
        raise ValueError(f"saturated mask shape {np.shape(saturated)} does not match frame shape {frame.shape}")
    gy, gx = brightest_source(frame)
    _detect(frame, saturated, gy, gx)
    return gy, gx


#: Saturation is looked at within this many pixels of the guess (a core is far smaller).
_CORE_WINDOW = 512


def _saturated_core(saturated, gy, gx) -> tuple[int, float, np.ndarray | None, tuple[float, float] | None]:
    """Pixels in the saturated core at the guess, its extent, the pixels to leave out, its centroid.

    Only a window about the guess is labelled and dilated, so a full frame
    costs what the window costs.
    """
    if saturated is None:
        return 0, 0.0, None, None
    saturated = np.asarray(saturated, dtype=bool)
    h, w = saturated.shape
    y0, y1 = max(0, gy - _CORE_WINDOW), min(h, gy + _CORE_WINDOW + 1)
    x0, x1 = max(0, gx - _CORE_WINDOW), min(w, gx + _CORE_WINDOW + 1)
    sub = saturated[y0:y1, x0:x1]
    if not sub.any():
        return 0, 0.0, None, None
    blocked = np.zeros((h, w), dtype=bool)  # untouched pages cost nothing
    blocked[y0:y1, x0:x1] = ndimage.binary_dilation(sub)
    labels, _ = ndimage.label(sub)
    label = labels[gy - y0, gx - x0]
    if label == 0:  # the guess is just off the cluster: take the nearest one
        ys, xs = np.nonzero(labels)
        i = int(np.argmin((ys - (gy - y0)) ** 2 + (xs - (gx - x0)) ** 2))
        label = labels[ys[i], xs[i]]
    ys, xs = np.nonzero(labels == label)
    cy, cx = float(ys.mean()), float(xs.mean())
    n = ys.size
    if math.hypot(y0 + cy - gy, x0 + cx - gx) > 3 * math.sqrt(n / math.pi) + 5:
        return 0, 0.0, blocked, None  # saturation elsewhere, not at the source
    # The core's extent, not its area, bounds the wings: a ragged edge reaches farther.
    extent = float(np.sqrt(((ys - cy) ** 2 + (xs - cx) ** 2).max())) + 0.5
    return n, extent, blocked, (y0 + cy, x0 + cx)


def _peak_and_surroundings(frame, gy, gx, r_sat) -> tuple[float, float]:
    """3 x 3-median peak within a few pixels of the guess, and the median of an annulus beyond."""
    inner = max(10.0, 3 * r_sat)
    outer = inner + 10.0
    h, w = frame.shape
    r0, r1 = max(0, int(gy - outer)), min(h, int(gy + outer) + 1)
    c0, c1 = max(0, int(gx - outer)), min(w, int(gx + outer) + 1)
    box = frame[r0:r1, c0:c1].astype(np.float32)
    yy, xx = np.ogrid[r0:r1, c0:c1]
    dist = np.hypot(yy - gy, xx - gx)
    finite = np.isfinite(box)
    ring = finite & (dist >= inner) & (dist < outer)
    sky = float(np.median(box[ring])) if ring.any() else float(np.median(box[finite]))
    box[~finite] = sky
    smooth = ndimage.median_filter(box, size=3, mode="nearest")
    near = dist <= max(3.0, r_sat + 1)
    return float(smooth[near].max()), sky


def _taper(r: np.ndarray, r_in: float, r_out: float) -> np.ndarray:
    """1 in the middle of ``[r_in, r_out]``, falling smoothly (cos^2) to 0 at both ends."""
    span = r_out - r_in
    edge = 0.25 * span
    t = np.ones_like(r)
    if r_in > 0:
        rise = np.clip((r - r_in) / edge, 0, 1)
        t *= np.sin(0.5 * np.pi * rise) ** 2
    fall = np.clip((r_out - r) / edge, 0, 1)
    return t * np.sin(0.5 * np.pi * fall) ** 2


def _wing_centroid(frame, blocked, cy, cx, r_in, r_out, sky) -> tuple[float, float]:
    h, w = frame.shape
    r0, r1 = max(0, math.floor(cy - r_out)), min(h, math.ceil(cy + r_out) + 1)
    c0, c1 = max(0, math.floor(cx - r_out)), min(w, math.ceil(cx + r_out) + 1)
    values = frame[r0:r1, c0:c1].astype(np.float64)
    yy, xx = np.mgrid[r0:r1, c0:c1]
    r = np.hypot(yy - cy, xx - cx)
    weight = np.clip(values - sky, 0, None) * _taper(r, r_in, r_out)
    weight[~np.isfinite(weight)] = 0.0
    if blocked is not None:
        weight[blocked[r0:r1, c0:c1]] = 0.0
    total = weight.sum()
    if total <= 0:
        return cy, cx
    return float((weight * yy).sum() / total), float((weight * xx).sum() / total)
