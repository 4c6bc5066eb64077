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
from numba import types
from numba.extending import intrinsic

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


@intrinsic
def _fma(typingctx, x, y, z):
    """IEEE fused multiply-add x * y + z, one rounding (LLVM's llvm.fma.f64)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


@numba.njit(inline="always")
def _cmul(ar, ai, br, bi):
    """numpy's complex128 multiply as its AVX2/FMA loops compute it (checked by :func:`spectra_match_numpy`)."""
    return _fma(ar, br, -(ai * bi)), _fma(ar, bi, ai * br)


#: Frequencies per block of :func:`spectra`: the reference spectra's block
#: stays in cache while every channel's coefficients stream past it.
_SPECTRA_BLOCK = 2048


@numba.njit(nogil=True, cache=True, boundscheck=False)
def spectra(left, right, amp33, gamma, zeta, alpha, rows, use, normalization, out):
    """Each computed channel's correction spectrum, romancal's arithmetic in one pass.

    Per frequency, romancal's ``ReferenceFFT.channel_correction``::

        ((left * gamma + right * zeta) + amp33 * alpha) * normalization

    in complex128 (numpy's complex multiply, componentwise adds), with the
    terms ``use`` leaves out skipped (ChannelPlan's exact short cut).

    Parameters
    ----------
    left, right, amp33 : (F,) complex128
        Reference spectra (left or right may be empty where no channel uses it).
    gamma, zeta, alpha : (C, F) complex128
        Coefficient rows.
    rows : (U,) int64
        Row of each computed channel in the coefficient arrays.
    use : (U, 3) bool
        Whether channel i's spectrum includes its left, right, amp33 term.
    normalization : float
        romancal's ``coeffs.gamma.shape[1] * 2``.
    out : (U, F) complex128
        Written.
    """
    n_freq = out.shape[1]
    for j0 in range(0, n_freq, _SPECTRA_BLOCK):
        j1 = min(n_freq, j0 + _SPECTRA_BLOCK)
        for i in range(out.shape[0]):
            r = rows[i]
            use_left, use_right, use_amp = use[i, 0], use[i, 1], use[i, 2]
            for j in range(j0, j1):
                # numpy's acc starts as zeros; the first term is written, the
                # others added in romancal's order.
                sr = 0.0
                si = 0.0
                started = False
                if use_left:
                    sr, si = _cmul(left[j].real, left[j].imag, gamma[r, j].real, gamma[r, j].imag)
                    started = True
                if use_right:
                    pr, pi = _cmul(right[j].real, right[j].imag, zeta[r, j].real, zeta[r, j].imag)
                    if started:
                        sr += pr
                        si += pi
                    else:
                        sr, si = pr, pi
                        started = True
                if use_amp:
                    pr, pi = _cmul(amp33[j].real, amp33[j].imag, alpha[r, j].real, alpha[r, j].imag)
                    if started:
                        sr += pr
                        si += pi
                    else:
                        sr, si = pr, pi
                # "acc *= normalization": a Python int, i.e. complex(n, 0).
                sr, si = _cmul(sr, si, normalization, 0.0)
                out[i, j] = complex(sr, si)


def numpy_spectra(left, right, amp33, gamma, zeta, alpha, rows, use, normalization, out) -> None:
    """:func:`spectra` with numpy's ufuncs, as romancal calls them (the reference and the fallback)."""
    out[:] = 0
    for i in range(out.shape[0]):
        acc = out[i]
        started = False
        for spectrum, coeffs, used in zip((left, right, amp33), (gamma, zeta, alpha), use[i]):
            if not used:
                continue
            if started:
                acc += np.multiply(spectrum, coeffs[rows[i]])
            else:
                np.multiply(spectrum, coeffs[rows[i]], out=acc)
                started = True
        acc *= int(normalization)


_spectra_checked: bool | None = None


def spectra_match_numpy() -> bool:
    """Whether :func:`spectra` gives numpy's bits on this machine (checked once).

    numpy's complex multiply is a fused multiply-add where its CPU dispatch
    picks the AVX2/FMA loops; elsewhere it is not, and numpy's own ufuncs
    are used instead.  The check runs both on values with signed zeros,
    infinities, NaNs and subnormals, every term combination.
    """
    global _spectra_checked
    if _spectra_checked is None:
        rng = np.random.default_rng(0)
        special = np.array([0.0, -0.0, 1.0, -1.5, np.inf, -np.inf, np.nan, 1e-310, 3.3e5])
        n = special.size**2 + 4000
        def sample():
            values = rng.normal(0, 1e3, 2 * n).view(np.complex128)
            pairs = np.stack(np.meshgrid(special, special), axis=-1).reshape(-1)
            values[: special.size**2] = pairs.view(np.complex128)
            return values
        left, right, amp33 = sample(), sample(), sample()
        right[: special.size**2] = right[: special.size**2][::-1]
        coeffs = [np.stack([sample()[rng.permutation(n)] for _ in range(3)]) for _ in range(3)]
        use = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], bool)
        rows = np.arange(use.shape[0], dtype=np.int64) % 3
        want = np.empty((use.shape[0], n), np.complex128)
        got = np.empty_like(want)
        with np.errstate(all="ignore"):
            numpy_spectra(left, right, amp33, *coeffs, rows, use, 573440, want)
            spectra(left, right, amp33, *coeffs, rows, use, 573440.0, got)
        _spectra_checked = bool(np.array_equal(got.view(np.uint64), want.view(np.uint64)))
    return _spectra_checked


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
    spectra_match_numpy()  # compiles spectra with the arguments FrameCorrector passes


_warming_lock = threading.Lock()
_warming: threading.Thread | None = None


def warm_up_in_background() -> None:
    """Start :func:`warm_up` on a daemon thread, once per process."""
    global _warming
    with _warming_lock:
        if _warming is None:
            _warming = threading.Thread(target=warm_up, name="refpix-kernels-warm-up", daemon=True)
            _warming.start()
