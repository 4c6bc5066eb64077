"""romancal's reference-pixel correction, computed one frame at a time.

Where ``romancal.refpix.refpix.run_steps`` couples frames
----------------------------------------------------------
The step stacks the detector (N, 4096, 4096) and amp33 (N, 4096, 128) into
one float32 "standard view" (N, 4096, 4224) and then:

1. zeroes BAD_REF_PIXEL pixels (per pixel);
2. ``remove_offset``: fits a line through each pixel's N values and
   subtracts its intercept -- the *only* step that looks across frames, and
   it needs just two sums over frames per pixel;
3. splits each frame into 33 channels of 128 (+12 zero pad) columns in read
   order, then per channel and frame: ``remove_trends`` (a line fitted to
   the top and bottom reference rows), and for amp33 ``cosine_interpolate``
   and ``fft_interpolate``;
4. ``apply_correction``: per frame, FFTs of the left, right and amp33
   reference columns, and per channel an inverse FFT of their weighted sum
   (gamma, zeta, alpha from the REFPIX reference file), subtracted;
5. adds the offset back.

So :func:`offset_band` computes romancal's ``StandardView.remove_offset``
intercepts (its expressions, verbatim) on row bands across all frames (the
sums are per pixel, so bands give the same numbers as the whole cube), and :class:`FrameCorrector` runs steps 3-5 on one
frame at a time.  For step 3 it calls romancal's own ``ChannelView`` methods
on a one-frame view.  Steps 4-5 are re-expressed with exactly romancal's
arithmetic (same operations, same dtypes, same order) but without the
float64 stack of all 33 corrections and the extra transposed copies that
make the whole-cube step cost ~0.5 GiB per frame, with the inverse FFTs in
batches, and with two exact short cuts (:class:`ChannelPlan`).  The tests
find the result bit-identical to romancal's.
"""

from __future__ import annotations

import logging

import hashlib
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
from romancal.refpix._data import ChannelView, Coefficients, Const
from scipy import fft

log = logging.getLogger(__name__)

#: Columns of the standard view: 32 detector channels + amp33.
STANDARD_COLUMNS = Const.N_COLUMNS + Const.CHAN_WIDTH
#: Channels including amp33.
N_CHANNELS = Const.N_DETECT_CHAN + 1
_PADDED = Const.CHAN_WIDTH + Const.PAD
#: Channels whose inverse FFTs run as one batch: 8 spectra of 286721 complex128
#: (37 MB) and their 8 float64 signals in flight.
_FFT_BATCH = 8


def check_geometry(height: int, width: int) -> str | None:
    """Why refpix cannot run on frames of this size, or None if it can."""
    if width != Const.N_COLUMNS:
        return f"refpix needs {Const.N_COLUMNS} detector columns ({Const.N_DETECT_CHAN} channels of {Const.CHAN_WIDTH}); this exposure has {width}"
    if height < 2 * Const.REF:
        return f"refpix needs at least {2 * Const.REF} rows; this exposure has {height}"
    return None


def offset_band(detector: np.ndarray, amp33: np.ndarray) -> np.ndarray:
    """Per-pixel offsets (intercepts over all frames) for a band of rows.

    Parameters
    ----------
    detector : (N, h, 4096) float32, DN
        The band after dq_init (and BAD_REF_PIXEL zeroing).
    amp33 : (N, h, 128) float32, DN

    Returns
    -------
    (h, 4224) float32, DN
        romancal's ``StandardView.remove_offset`` intercepts for these rows.
    """
    # StandardView.remove_offset's sums and intercept, verbatim, on the two
    # parts separately: every pixel's intercept uses only its own N values
    # (and the test checks the bits against romancal's), without the copy
    # into one (N, h, 4224) stack and the subtraction from it, which the
    # streaming engine does not use (pass 2 subtracts per read).
    return np.concatenate([_intercepts(detector), _intercepts(amp33)], axis=1)


def _intercepts(data: np.ndarray) -> np.ndarray:
    """``StandardView.remove_offset``'s ``offset`` for (N, h, w) ``data``, (h, w)."""
    frames, rows, columns = data.shape
    flat = data.reshape((frames, rows * columns))
    indep = np.arange(frames, dtype=flat.dtype)
    indep = indep - np.mean(indep)
    sx = np.sum(indep)
    sxx = np.sum(indep**2)
    sy = np.sum(flat, axis=0)
    sxy = np.matmul(indep, flat, dtype=flat.dtype)
    offset = (sy * sxx - sx * sxy) / (frames * sxx - sx**2)
    return offset.reshape(rows, columns)


@dataclass(frozen=True)
class ChannelPlan:
    """Which channels' corrections are computed, and with which terms.

    Two exact short cuts: channels whose three coefficient rows are identical
    get identical corrections (computed once), and a term whose coefficients
    are all zero adds exactly zero (left out).  Real references have 32
    distinct channels; the synthetic ones have one.

    Attributes
    ----------
    representative : list of int
        For each detector channel, the channel whose correction it shares.
    unique : list of int
        Channels whose corrections are computed.
    nonzero : dict of int to (bool, bool, bool)
        Whether gamma, zeta, alpha of a computed channel are used.
    row : dict of int to int
        Row of a computed channel in the coefficient arrays (after
        :meth:`compact`, which keeps only the computed channels' rows).
    """

    representative: list
    unique: list
    nonzero: dict
    row: dict

    @classmethod
    def of(cls, coeffs: Coefficients) -> ChannelPlan:
        representative: list[int] = []
        seen: dict[bytes, int] = {}
        arrays = (coeffs.gamma, coeffs.zeta, coeffs.alpha)
        for c in range(Const.N_DETECT_CHAN):
            rep = seen.setdefault(b"".join(_digest(a[c]) for a in arrays), c)
            if rep != c and not all(np.array_equal(a[c], a[rep]) for a in arrays):
                rep = c  # a hash collision: keep the channel on its own
            representative.append(rep)
        unique = sorted(set(representative))
        nonzero = {c: tuple(bool(np.any(a[c])) for a in arrays) for c in unique}
        return cls(representative, unique, nonzero, {c: c for c in unique})

    def compact(self, coeffs: Coefficients) -> tuple[Coefficients, ChannelPlan]:
        """The coefficient rows of the computed channels only (the rest are never read)."""
        if len(self.unique) == coeffs.gamma.shape[0]:
            return coeffs, self
        rows = np.array(self.unique)
        small = Coefficients(coeffs.gamma[rows], coeffs.zeta[rows], coeffs.alpha[rows])
        return small, ChannelPlan(self.representative, self.unique, self.nonzero, {c: i for i, c in enumerate(self.unique)})


def _digest(row: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(row).view(np.uint8), digest_size=16).digest()


class FrameCorrector:
    """Apply romancal's refpix correction to one frame at a time.

    Parameters
    ----------
    coeffs : Coefficients
        gamma, zeta, alpha of the REFPIX reference, each (32, L//2 + 1)
        complex128 with L = rows x 140 (or only the computed channels' rows,
        with the matching ``plan`` from :meth:`ChannelPlan.compact`).
    offset : (H, 4224) float32, DN
        From :func:`offset_band` over all row bands.
    pool : Executor, optional
        Threads for the inverse-FFT batches of one frame.  (The streaming
        engine runs several frames at once instead.)
    plan : ChannelPlan, optional
        Default :meth:`ChannelPlan.of` the coefficients.
    """

    def __init__(self, coeffs: Coefficients, offset: np.ndarray, pool: Executor | None = None,
                 plan: ChannelPlan | None = None):
        self.coeffs = coeffs
        self.offset = offset
        self.pool = pool
        rows = offset.shape[0]
        nfreq = rows * _PADDED // 2 + 1
        if coeffs.gamma.shape[-1] != nfreq:
            raise ValueError(f"refpix coefficients have {coeffs.gamma.shape[-1]} frequencies; {rows} rows need {nfreq}")
        # romancal: "multiply by 2 because we are only using half of the FFT".
        self.normalization = coeffs.gamma.shape[1] * 2
        plan = plan if plan is not None else ChannelPlan.of(coeffs)
        self.representative, self.unique, self.nonzero, self.row = plan.representative, plan.unique, plan.nonzero, plan.row

    def _channels(self, detector: np.ndarray, amp33: np.ndarray) -> np.ndarray:
        """The one-frame channel view (33, 1, H, 140) of romancal's ``StandardView.channels``."""
        rows = detector.shape[0]
        chan = np.empty((N_CHANNELS, 1, rows, _PADDED), np.float32)
        width = Const.CHAN_WIDTH
        chan[..., width:] = 0  # the pad columns; the rest is written below
        for c in range(Const.N_DETECT_CHAN):
            block = detector[:, c * width : (c + 1) * width]
            # Odd channels are read right to left: put columns in read order.
            chan[c, 0, :, :width] = block[:, ::-1] if c % 2 else block
        chan[Const.N_DETECT_CHAN, 0, :, :width] = amp33
        return chan

    def _corrections(self, ref, channels: list[int]) -> np.ndarray:
        """ReferenceFFT.channel_correction for some channels, same arithmetic.

        Returns (len(channels), 1, L) float32.  The inverse FFTs run as one
        batch, which lets pocketfft vectorise across channels (faster, and
        bit-identical to one call per channel).
        """
        spectra = np.zeros((len(channels), 1, self.coeffs.gamma.shape[1]), np.complex128)
        for i, c in enumerate(channels):
            acc = spectra[i]
            started = False
            # (left * gamma + right * zeta) + amp33 * alpha, in romancal's order.
            for spectrum, coeffs, used in zip((ref.left, ref.right, ref.amp33),
                                              (self.coeffs.gamma, self.coeffs.zeta, self.coeffs.alpha), self.nonzero[c]):
                if not used:
                    continue
                row = coeffs[self.row[c]]
                if started:
                    acc += np.multiply(spectrum, row)
                else:
                    np.multiply(spectrum, row, out=acc)
                    started = True
            acc *= self.normalization
        return fft.irfft(spectra).astype(np.float32)

    def correct(self, detector: np.ndarray, amp33: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Correct one frame.

        Parameters
        ----------
        detector : (H, 4096) float32, DN
            The frame after dq_init and BAD_REF_PIXEL zeroing.
        amp33 : (H, 128) float32, DN

        Returns
        -------
        detector : (H, 4096) float32, DN
        amp33 : (H, 128) float32, DN
            The corrected frame, before romancal's ``abs().astype(uint16)``
            of amp33.
        """
        n_det = Const.N_COLUMNS
        # remove_offset's "data -= offset", on this frame.
        det = detector - self.offset[:, :n_det]
        amp = amp33 - self.offset[:, n_det:]
        chan = self._channels(det, amp)
        del det, amp
        view = ChannelView(chan)
        view.remove_trends()
        view.cosine_interpolate()
        view.fft_interpolate()
        ref = view.reference_fft
        # np.multiply(complex64, complex128) casts to complex128 first; doing
        # it once here gives the same numbers without 96 casts per frame.
        ref.left = ref.left.astype(np.complex128)
        ref.right = ref.right.astype(np.complex128)
        ref.amp33 = ref.amp33.astype(np.complex128)
        groups = [self.unique[i : i + _FFT_BATCH] for i in range(0, len(self.unique), _FFT_BATCH)]
        if self.pool is None:
            results = [self._corrections(ref, g) for g in groups]
        else:
            results = [f.result() for f in [self.pool.submit(self._corrections, ref, g) for g in groups]]
        correction = {c: corr[i] for g, corr in zip(groups, results) for i, c in enumerate(g)}
        for c in range(Const.N_DETECT_CHAN):
            chan[c] -= correction[self.representative[c]].reshape(chan.shape[1:])
        del correction, results
        # The amp33 channel's correction is zero ("-= 0" leaves it as is).
        # Back to the standard view, then apply_offset's "data += offset".
        width = Const.CHAN_WIDTH
        out = np.empty_like(detector)
        for c in range(Const.N_DETECT_CHAN):
            block = chan[c, 0, :, :width]
            out[:, c * width : (c + 1) * width] = block[:, ::-1] if c % 2 else block
        out += self.offset[:, :n_det]
        amp_out = chan[Const.N_DETECT_CHAN, 0, :, :width] + self.offset[:, n_det:]
        return out, amp_out
