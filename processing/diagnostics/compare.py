"""Two exposures compared read by read: a checked pairing and their difference.

An illuminated exposure minus a dark of the same detector, or raw minus
calibrated, is a frame source like any other, so every pane, profile and
statistic works on it.  The pairing is checked first -- same (N, H, W), same
detector -- because a difference of mismatched exposures is a plausible-looking
image of nonsense.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .frames import as_frame_source, difference_dtype, read_frame


class PairingError(ValueError):
    """Two exposures that cannot be compared read by read (the message names both)."""


def _name(exposure: Any, default: str) -> str:
    return str(getattr(exposure, "uri", default))


def _detector(exposure: Any) -> str | None:
    get = getattr(exposure, "get_meta", None)
    return get("instrument.detector") if get is not None else None


def check_pair(a: Any, b: Any) -> None:
    """Raise :class:`PairingError` unless ``a`` and ``b`` can be differenced read by read.

    Parameters
    ----------
    a, b : Exposure or frame source or (N, H, W) array

    Raises
    ------
    PairingError
        If the numbers of reads, the frame sizes or the detectors
        (``meta.instrument.detector``, when both say) differ.
    """
    na, nb = _name(a, "the first exposure"), _name(b, "the second exposure")
    sa, sb = tuple(as_frame_source(a).shape), tuple(as_frame_source(b).shape)
    if sa[1:] != sb[1:]:
        raise PairingError(f"cannot compare {na} ({sa[1]} x {sa[2]} frames) with {nb} ({sb[1]} x {sb[2]} frames): "
                           "the frame sizes differ")
    if sa[0] != sb[0]:
        raise PairingError(f"cannot compare {na} ({sa[0]} reads) with {nb} ({sb[0]} reads) read by read: "
                           "the numbers of reads differ")
    da, db = _detector(a), _detector(b)
    if da and db and da != db:
        raise PairingError(f"cannot compare {na} (detector {da}) with {nb} (detector {db}): different detectors")


class DifferenceFrames:
    """Read ``k`` of ``a`` minus read ``k`` of ``b``, as a frame source.

    Integer reads are differenced in float (no uint16 wrap-around), see
    :func:`~.frames.difference_dtype`.

    Parameters
    ----------
    a, b : Exposure or frame source or (N, H, W) array
        Checked with :func:`check_pair`.
    """

    def __init__(self, a: Any, b: Any):
        check_pair(a, b)
        self.a, self.b = as_frame_source(a, "a"), as_frame_source(b, "b")
        self.shape = tuple(self.a.shape)
        da, db = getattr(self.a, "dtype", None), getattr(self.b, "dtype", None)
        self.dtype = difference_dtype(da, db) if da is not None and db is not None else None
        self.uri = f"{_name(a, 'a')} - {_name(b, 'b')}"

    def frame(self, k: int) -> np.ndarray:
        """``a[k] - b[k]``, shape (H, W), DN."""
        fa, fb = read_frame(self.a, k, "a"), read_frame(self.b, k, "b")
        return np.subtract(fa, fb, dtype=difference_dtype(fa.dtype, fb.dtype))

    def cutout(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1``, columns ``x0:x1`` of every read's difference, (N, h, w)."""
        def box(src):
            if hasattr(src, "cutout"):
                return np.asarray(src.cutout(y0, y1, x0, x1))
            return np.stack([read_frame(src, k)[y0:y1, x0:x1] for k in range(self.shape[0])])

        ca, cb = box(self.a), box(self.b)
        return np.subtract(ca, cb, dtype=difference_dtype(ca.dtype, cb.dtype))
