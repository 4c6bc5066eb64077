"""Which pixels are saturated in each read, for raw and for calibrated exposures.

There is one saturation rule in the package, :class:`~.thresholds.SaturationTest`
(``frame >= threshold``).  A raw exposure is tested against the saturation
reference's thresholds.  A calibrated RampModel carries romancal's verdict
in ``groupdq`` instead (its DN are linearity-corrected, so raw thresholds no
longer apply); :class:`FlaggedFrames` turns that flag into 0/1 frames whose
threshold is 1, so the same test, neighbour masks and reductions serve both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: ``roman_datamodels.dqflags.group.SATURATED`` (a test checks the value);
#: not imported, because roman_datamodels takes ~1.5 s to import.
GROUPDQ_SATURATED = 2


class FlaggedFrames:
    """``groupdq & SATURATED`` of a calibrated ramp as uint8 0/1 frames.

    Tested with a threshold of 1 (see :func:`saturation_input`).

    Parameters
    ----------
    groupdq : (N, H, W) uint8 array or lazy array with ``.frame(k)``
        Group data-quality flags.
    """

    def __init__(self, groupdq: Any):
        self.groupdq = groupdq
        self.shape = tuple(groupdq.shape)
        if len(self.shape) != 3:
            raise ValueError(f"groupdq must be (N, H, W); got shape {self.shape}")

    dtype = np.dtype(np.uint8)

    @staticmethod
    def _flag(dq: np.ndarray) -> np.ndarray:
        return (np.asarray(dq) & GROUPDQ_SATURATED) // GROUPDQ_SATURATED

    def frame(self, k: int) -> np.ndarray:
        """Read ``k``: 1 where SATURATED is set, else 0, shape (H, W) uint8."""
        dq = self.groupdq.frame(k) if hasattr(self.groupdq, "frame") else np.asarray(self.groupdq)[k]
        return self._flag(dq).astype(np.uint8, copy=False)

    def frame_region(self, k: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1``, columns ``x0:x1`` of read ``k``, (h, w) uint8 0/1.

        Reads only those rows where the groupdq array can (a lazy array of an
        opened exposure with ``frame_region``), else slices the whole read.
        """
        if hasattr(self.groupdq, "frame_region"):
            return self._flag(self.groupdq.frame_region(k, y0, y1, x0, x1)).astype(np.uint8, copy=False)
        return self.frame(k)[y0:y1, x0:x1]

    def cutout(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1``, columns ``x0:x1`` of every read, (N, h, w) uint8 0/1."""
        if hasattr(self.groupdq, "cutout"):
            dq = self.groupdq.cutout(y0, y1, x0, x1)
        else:
            dq = np.asarray(self.groupdq)[:, y0:y1, x0:x1]
        return self._flag(dq).astype(np.uint8, copy=False)


def saturation_input(exposure: Any, sat_dn: np.ndarray | None = None) -> tuple[Any, np.ndarray]:
    """Frames and thresholds to test for saturation in an exposure.

    Parameters
    ----------
    exposure : Exposure
        An opened exposure (:func:`processing.io.open_exposure`).  If it has
        a ``groupdq`` array (a calibrated RampModel), its SATURATED flag is used.
    sat_dn : (H, W) or (H + 8, W + 8) array, DN, optional
        Saturation thresholds for a raw exposure (the saturation reference's
        ``data``).

    Returns
    -------
    frames : frame source
        The exposure itself (raw) or a :class:`FlaggedFrames` (calibrated).
    thresholds : array
        ``sat_dn`` (raw), or ones of shape (H, W) (calibrated).

    Raises
    ------
    ValueError
        A raw exposure without thresholds.
    """
    arrays = getattr(exposure, "arrays", {}) or {}
    if "groupdq" in arrays:
        return FlaggedFrames(arrays["groupdq"]), np.ones(tuple(exposure.shape[1:]), dtype=np.float32)
    if sat_dn is None:
        name = getattr(exposure, "uri", "the exposure")
        raise ValueError(f"{name}: a raw exposure needs saturation thresholds (the saturation reference file) "
                         "to tell saturated pixels; none were given")
    return exposure, sat_dn
