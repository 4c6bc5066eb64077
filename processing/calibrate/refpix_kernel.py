"""The per-pixel part of romancal's refpix correction, in one compiled pass.

romancal's ``run_steps`` touches every detector pixel of a frame six times
(``remove_offset``'s subtraction, the copy into the channel view,
``remove_trends``, ``apply_correction``'s subtraction, the copy back to the
standard view, ``apply_offset``), each a full-frame numpy pass with its own
temporaries.  Per pixel those are, in romancal's dtypes::

    x1 = data - offset                                   # float32
    x2 = float32(float64(x1) - (float64(t) * m + b) * (x1 != 0))  # remove_trends
    x3 = x2 - correction                                 # float32
    out = x3 + offset                                    # float32

where ``t`` is the pixel's time index in read order (romancal's ``t``),
``m, b`` the channel's fitted trend (numpy float64 scalars from
``np.polyfit``, which makes romancal's ``t * m + b`` a float64 expression)
and ``correction`` the channel's float32 correction at the pixel's read-order
position.  :func:`fused_pass` evaluates exactly these IEEE operations in this
order for each pixel, in the standard (detector) layout: no channel-view
copies.  numba compiles without fast-math, so LLVM neither reorders nor fuses
(no FMA contraction) the operations; the tests compare the bits with
romancal's.
"""

from __future__ import annotations

import threading

import numba
import numpy as np

#: Columns of a channel (amplifier).
CHAN_WIDTH = 128
#: Detector channels.
N_DETECT_CHAN = 32


@numba.njit(nogil=True, cache=True, boundscheck=False)
def fused_pass(detector, offset, t, slope, intercept, fitted, correction, which, out):
    """Offset, trend and correction of every detector pixel, then the offset back.

    Parameters
    ----------
    detector : (H, 4096) float32, DN
        The frame after dq_init and BAD_REF_PIXEL zeroing.
    offset : (H, >= 4096) float32, DN
        ``remove_offset``'s intercepts (the first 4096 columns are used).
    t : (H, 140) float32
        romancal's ``remove_trends`` time index, in read order.
    slope, intercept : (32,) float64
        Each channel's fitted trend.
    fitted : (32,) bool
        False where romancal skipped the fit (no non-zero reference pixel):
        then no trend is subtracted at all.
    correction : (U, H, 140) float32, DN
        The computed channels' corrections, in read order.
    which : (32,) int64
        Index into ``correction`` of each channel's correction.
    out : (H, 4096) float32, DN
        Written: the corrected frame.
    """
    rows = detector.shape[0]
    for r in range(rows):
        for c in range(N_DETECT_CHAN):
            base = c * CHAN_WIDTH
            k = which[c]
            m = slope[c]
            b = intercept[c]
            # Odd channels are read right to left: the pixel at column j of
            # the block is read at position 127 - j of the channel's row.
            if c % 2 == 0:
                if fitted[c]:
                    for j in range(CHAN_WIDTH):
                        x = detector[r, base + j] - offset[r, base + j]
                        nz = 1.0 if x != 0 else 0.0
                        x = np.float32(np.float64(x) - (np.float64(t[r, j]) * m + b) * nz)
                        out[r, base + j] = (x - correction[k, r, j]) + offset[r, base + j]
                else:
                    for j in range(CHAN_WIDTH):
                        x = detector[r, base + j] - offset[r, base + j]
                        out[r, base + j] = (x - correction[k, r, j]) + offset[r, base + j]
            else:
                if fitted[c]:
                    for j in range(CHAN_WIDTH):
                        p = CHAN_WIDTH - 1 - j
                        x = detector[r, base + j] - offset[r, base + j]
                        nz = 1.0 if x != 0 else 0.0
                        x = np.float32(np.float64(x) - (np.float64(t[r, p]) * m + b) * nz)
                        out[r, base + j] = (x - correction[k, r, p]) + offset[r, base + j]
                else:
                    for j in range(CHAN_WIDTH):
                        p = CHAN_WIDTH - 1 - j
                        x = detector[r, base + j] - offset[r, base + j]
                        out[r, base + j] = (x - correction[k, r, p]) + offset[r, base + j]


_FLOAT32_MAX = np.float32(np.finfo(np.float32).max)


@numba.njit(nogil=True, cache=True, boundscheck=False)
def cosine_fill(frame, cov, mask_conv, nonzero):
    """The end of romancal's ``cosine_interpolate`` on one flattened amp33 frame, in place.

    romancal's, per pixel::

        kern = cov / mask_conv                 # float32 / float64 -> float64
        frame += kern * (1 - mask)             # float64, then cast to float32
        np.nan_to_num(frame, copy=False)       # NaN -> 0, +-inf -> +-float32 max

    Parameters
    ----------
    frame : (L,) float32
    cov : (L,) float32
        ``np.convolve(frame, interp, "same")``.
    mask_conv : (L,) float64
        ``np.convolve(mask, interp, "same")``.
    nonzero : (L,) bool
        ``frame != 0`` (romancal's ``mask``).
    """
    for i in range(frame.shape[0]):
        kern = np.float64(cov[i]) / mask_conv[i]
        x = np.float32(np.float64(frame[i]) + kern * (0.0 if nonzero[i] else 1.0))
        if x != x:
            x = np.float32(0.0)
        elif x > _FLOAT32_MAX:
            x = _FLOAT32_MAX
        elif x < -_FLOAT32_MAX:
            x = -_FLOAT32_MAX
        frame[i] = x


def warm_up() -> None:
    """Compile the kernels, or load them from numba's cache, by calling them on tiny arrays.

    The first call of a numba function in a process costs ~0.7 s of CPU
    even with its cache (type inference, LLVM set-up).  The argument types
    here are the ones FrameCorrector passes (C-contiguous, writable), so no
    other specialisation is compiled later.
    """
    rows = 1
    fused_pass(np.zeros((rows, N_DETECT_CHAN * CHAN_WIDTH), np.float32),
               np.zeros((rows, (N_DETECT_CHAN + 1) * CHAN_WIDTH), np.float32),
               np.zeros((rows, CHAN_WIDTH + 12), np.float32), np.zeros(N_DETECT_CHAN + 1), np.zeros(N_DETECT_CHAN + 1),
               np.zeros(N_DETECT_CHAN + 1, bool), np.zeros((1, rows, CHAN_WIDTH + 12), np.float32),
               np.zeros(N_DETECT_CHAN, np.int64), np.zeros((rows, N_DETECT_CHAN * CHAN_WIDTH), np.float32))
    cosine_fill(np.zeros(4, np.float32), np.zeros(4, np.float32), np.ones(4), np.ones(4, bool))


_warming_lock = threading.Lock()
_warming: threading.Thread | None = None


def warm_up_in_background() -> None:
    """Start :func:`warm_up` on a daemon thread, once per process."""
    global _warming
    with _warming_lock:
        if _warming is None:
            _warming = threading.Thread(target=warm_up, name="refpix-kernels-warm-up", daemon=True)
            _warming.start()
