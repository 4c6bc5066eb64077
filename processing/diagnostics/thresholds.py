"""Per-pixel saturation thresholds, and the exact test ``frame >= threshold``.

The tutorial casts the thresholds to the frame dtype before comparing.  That is
harmless for float32 frames and float32 thresholds, but with uint16 raw frames
it truncates fractional thresholds (``1000 >= 1000.5`` becomes true) and turns
the ``inf`` it substitutes for NaN into an undefined integer (0 on x86, so a
NaN threshold would flag every pixel).  :class:`SaturationTest` gives the
documented meaning instead -- saturated iff the frame value is ``>=`` the real
threshold, never where the threshold is not finite -- while still comparing in
the frame's own dtype, which is what keeps it fast.
"""

from __future__ import annotations

import numpy as np

#: Width of the reference-pixel border that a threshold map covering the full
#: 4096 x 4096 detector has around the 4088 x 4088 science area.
REFERENCE_BORDER = 4


def align_saturation_threshold(sat_dn: np.ndarray, frame_shape: tuple[int, int]) -> np.ndarray:
    """Return the part of ``sat_dn`` that lies under frames of ``frame_shape``.

    Parameters
    ----------
    sat_dn : (H, W) or (H + 8, W + 8) array, DN
        Per-pixel saturation thresholds.  A map 8 pixels larger in each axis
        covers the reference-pixel border too and is centre-cropped by 4.
    frame_shape : (H, W)
        Shape of one frame.

    Returns
    -------
    (H, W) array, DN
        A view of ``sat_dn``.

    Raises
    ------
    ValueError
        If ``sat_dn`` is not 2-D or has neither of the accepted shapes.
    """
    sat = np.asarray(sat_dn)
    h, w = frame_shape
    if sat.ndim != 2:
        raise ValueError(f"sat_dn must be a 2-D (H, W) map; got shape {sat.shape} for frames of shape {(h, w)}")
    if sat.shape == (h, w):
        return sat
    b = REFERENCE_BORDER
    if sat.shape == (h + 2 * b, w + 2 * b):
        return sat[b:-b, b:-b]
    raise ValueError(
        f"sat_dn shape {sat.shape} does not match frame shape {(h, w)} "
        f"(nor is it {2 * b} pixels larger in each axis, as a map with the reference border is)"
    )


class SaturationTest:
    """``frame >= sat_dn`` per pixel, exact for any frame dtype.

    The thresholds are converted once per frame dtype into an equivalent
    threshold *in that dtype*, so each frame costs one same-type comparison:

    * integer frames: ``x >= t`` iff ``x >= ceil(t)``; thresholds above the
      dtype's maximum or not finite never saturate (a keep-mask clears the few
      pixels where the clipped threshold would still compare true);
    * float frames: ``t`` rounded *up* to the dtype (so ``x >= t'`` iff
      ``x >= t`` for every ``x`` of that dtype); non-finite thresholds become
      NaN, which compares false with everything.

    Parameters
    ----------
    sat_dn : (H, W) or (H + 8, W + 8) array, DN
        Per-pixel saturation thresholds (see :func:`align_saturation_threshold`).
    frame_shape : (H, W)
        Shape of the frames that will be tested.
    """

    def __init__(self, sat_dn: np.ndarray, frame_shape: tuple[int, int]):
        self.frame_shape = tuple(frame_shape)
        self.sat_dn = align_saturation_threshold(sat_dn, self.frame_shape)
        self._prepared: dict[np.dtype, tuple[np.ndarray, np.ndarray | None]] = {}

    def __call__(self, frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Saturation mask of one frame.

        Parameters
        ----------
        frame : (H, W) array, DN
        out : (H, W) bool array, optional
            Where to write the result.

        Returns
        -------
        (H, W) bool
            True where the pixel is at or above its threshold.
        """
        frame = np.asarray(frame)
        if frame.shape != self.frame_shape:
            raise ValueError(f"frame shape {frame.shape} does not match the threshold shape {self.frame_shape}")
        threshold, keep = self._for_dtype(frame.dtype)
        out = np.greater_equal(frame, threshold, out=out)
        if keep is not None:
            np.logical_and(out, keep, out=out)
        return out

    def region(self, frame: np.ndarray, y0: int, x0: int) -> np.ndarray:
        """The test on part of a frame whose top-left pixel is ``(y0, x0)`` of the full frame.

        Parameters
        ----------
        frame : (h, w) array, DN
            Rows ``y0:y0+h`` and columns ``x0:x0+w`` of a frame.

        Returns
        -------
        (h, w) bool
        """
        frame = np.asarray(frame)
        h, w = frame.shape
        if y0 < 0 or x0 < 0 or y0 + h > self.frame_shape[0] or x0 + w > self.frame_shape[1]:
            raise ValueError(f"region at ({y0}, {x0}) of shape {(h, w)} lies outside frames of shape {self.frame_shape}")
        threshold, keep = self._for_dtype(frame.dtype)
        out = np.greater_equal(frame, threshold[y0 : y0 + h, x0 : x0 + w])
        if keep is not None:
            np.logical_and(out, keep[y0 : y0 + h, x0 : x0 + w], out=out)
        return out

    def prepare(self, dtype) -> SaturationTest:
        """Convert the thresholds for frames of ``dtype`` now (then the test only reads)."""
        self._for_dtype(np.dtype(dtype))
        return self

    def _for_dtype(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray | None]:
        dtype = np.dtype(dtype)
        if dtype not in self._prepared:
            self._prepared[dtype] = _threshold_in_dtype(self.sat_dn, dtype)
        return self._prepared[dtype]


#: Thresholds are converted in blocks of about this many pixels, so that the
#: float64 temporaries of a 4096 x 4096 map cost ~1 MB rather than ~0.5 GB.
_BLOCK_PIXELS = 1 << 15


def _threshold_in_dtype(sat_dn: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray | None]:
    """Thresholds in ``dtype`` equivalent to the real ones, and a keep-mask or None."""
    if dtype.kind not in "fiu":
        raise TypeError(f"cannot test frames of dtype {dtype} for saturation; expected integer or float DN")
    threshold = np.empty(sat_dn.shape, dtype=dtype)
    never = np.zeros(sat_dn.shape, dtype=bool)
    step = max(1, _BLOCK_PIXELS // max(1, sat_dn.shape[1]))
    for r in range(0, sat_dn.shape[0], step):
        rows = slice(r, r + step)
        _convert_block(np.asarray(sat_dn[rows], dtype=np.float64), threshold[rows], never[rows])
    return threshold, (~never if never.any() else None)


def _convert_block(t: np.ndarray, threshold: np.ndarray, never: np.ndarray) -> None:
    finite = np.isfinite(t)
    dtype = threshold.dtype
    if dtype.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            threshold[...] = t
            # Rounding to nearest may have moved a threshold down past a value
            # of this dtype; move it up one step so no such value compares true.
            down = threshold.astype(np.float64) < t
            threshold[down] = np.nextafter(threshold[down], dtype.type(np.inf))
        threshold[~finite] = np.nan  # compares false with everything
        return
    info = np.iinfo(dtype)
    ceiling = np.ceil(np.where(finite, t, np.inf))
    np.greater(ceiling, info.max, out=never)  # includes every non-finite threshold
    ceiling[never] = info.max
    threshold[...] = np.clip(ceiling, info.min, info.max)
