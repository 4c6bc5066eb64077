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
sums are per pixel, so bands give the same numbers as the whole cube), and
:class:`FrameCorrector` runs steps 3-5 on one frame at a time, without
building romancal's channel view of the frame at all:

* step 3's fits (``np.polyfit`` per channel) need only the 8 reference rows
  of each channel in read order: those rows are gathered and fitted with
  romancal's loop body;
* the amp33 channel (the only one the interpolations touch) is built on its
  own, (H, 140), and interpolated by :class:`.refpix_amp33.Amp33Interpolator`
  (romancal's expressions; ``fft_interpolate`` through romancal's own
  generator);
* the left and right reference arrays are 4 columns each: their offset and
  trend are computed on those columns alone;
* step 4's spectra and inverse FFTs are romancal's arithmetic, batched
  (:class:`ChannelPlan` adds two exact short cuts);
* every detector pixel's offset, trend, correction and offset back are one
  compiled pass in the standard layout (:func:`.refpix_kernel.fused_pass`),
  the same IEEE operations in the same order as romancal's six full-frame
  numpy passes and two layout copies.

Every step is elementwise or per channel, so none of this changes a bit:
``tests/test_refpix_frame.py`` compares the output with romancal's
whole-cube ``run_steps`` bit for bit.
"""

from __future__ import annotations

import logging
import threading

from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import xxhash
from romancal.refpix._data import ChannelView, Coefficients, Const, ReferenceFFT
from scipy import fft

from .refpix_amp33 import Amp33Interpolator
from .refpix_kernel import fused_pass, numpy_spectra, spectra_match_numpy, warm_up_in_background
from .refpix_kernel import spectra as fused_spectra

log = logging.getLogger(__name__)

#: Columns of the standard view: 32 detector channels + amp33.
STANDARD_COLUMNS = Const.N_COLUMNS + Const.CHAN_WIDTH
#: Channels including amp33.
N_CHANNELS = Const.N_DETECT_CHAN + 1
_PADDED = Const.CHAN_WIDTH + Const.PAD
#: Channels whose inverse FFTs run as one batch: 4 spectra of 286721 complex128
#: (18 MB) and their 4 float64 signals in flight.  Under glibc's largest mmap
#: threshold (32 MiB), so once freed they are reused from the heap, not mapped
#: afresh (and zeroed by the kernel) for every batch of every read; 8 (37 MB
#: each) were fresh pages every time.  The numbers do not depend on the batch.
_FFT_BATCH = 4
#: Bound on |x| * L below which no float32 FFT sum of L values |x| overflows.
_SAFE_MAGNITUDE = 1e37
_EMPTY = np.zeros(0, np.complex128)


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
    # Pass 1 computes the offsets for seconds before pass 2 corrects its
    # first read: meanwhile, get pass 2's compiled kernels ready.
    warm_up_in_background()
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
    indep = offset_indep(frames, flat.dtype)
    sy = np.sum(flat, axis=0)
    sxy = np.matmul(indep, flat, dtype=flat.dtype)
    return intercepts_from_sums(indep, sy, sxy).reshape(rows, columns)


#: The intercepts of (N, h, w) data (for callers outside this module).
intercepts = _intercepts


def offset_indep(frames: int, dtype) -> np.ndarray:
    """``remove_offset``'s centred frame index (its ``indep``), (frames,)."""
    indep = np.arange(frames, dtype=dtype)
    return indep - np.mean(indep)


def intercepts_from_sums(indep: np.ndarray, sy: np.ndarray, sxy: np.ndarray) -> np.ndarray:
    """``remove_offset``'s intercept from its sums over frames ``sy`` and ``sxy`` (any shape)."""
    frames = indep.shape[0]
    sx = np.sum(indep)
    sxx = np.sum(indep**2)
    return (sy * sxx - sx * sxy) / (frames * sxx - sx**2)


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
    # xxh3 (~10 GB/s): the 96 rows of a REFPIX reference are 440 MB, ~0.7 s
    # of CPU with blake2b per calibration; a collision is caught by the
    # array_equal check of ChannelPlan.of.
    return xxhash.xxh3_128_digest(np.ascontiguousarray(row).view(np.uint8))


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
        # C-contiguous rows (no copy when they are already) for the compiled spectra.
        self.coeffs = coeffs = Coefficients(*(np.ascontiguousarray(a, np.complex128) for a in (coeffs.gamma, coeffs.zeta, coeffs.alpha)))
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
        #: Index of each detector channel's correction among the computed ones.
        self._which = np.array([self.unique.index(r) for r in self.representative], np.int64)
        # remove_trends' time index and reference rows, romancal's expressions.
        t = np.arange(_PADDED * rows, dtype=np.float32).reshape((rows, _PADDED))
        self._t = t - np.mean(t)
        self._ref_rows = [*np.arange(Const.REF), *(rows - np.arange(Const.REF) - 1)[::-1]]
        # Each thread's (computed channels, rows x 140) float32 corrections, reused read after read
        # (73 MB with 32 distinct channels: a fresh array per read was that much new, zeroed memory).
        self._local = threading.local()
        self._t_ref = self._t[self._ref_rows, :]
        self._interpolator = Amp33Interpolator(rows)
        #: Whether any computed channel uses gamma, zeta, alpha (left, right, amp33).
        self._term_used = tuple(any(self.nonzero[c][i] for c in self.unique) for i in range(3))

    def _correction_buffer(self, length: int) -> np.ndarray:
        """This thread's (len(unique), ``length``) float32 correction array (made on its first read)."""
        buf = getattr(self._local, "correction", None)
        if buf is None or buf.shape != (len(self.unique), length):
            buf = self._local.correction = np.empty((len(self.unique), length), np.float32)
        return buf

    def _corrections(self, ref, channels: list[int], force: tuple[bool, bool, bool], out: np.ndarray) -> None:
        """ReferenceFFT.channel_correction for some channels, same arithmetic.

        Writes the (len(channels), L) float32 corrections into ``out``.  The
        inverse FFTs run as one batch, which lets pocketfft vectorise across
        channels (faster, and bit-identical to one call per channel).
        ``force`` makes a term count for every channel even where its
        coefficients are zero (a non-finite spectrum times 0 is NaN).
        """
        use = np.array([[u or f for u, f in zip(self.nonzero[c], force)] for c in channels], bool)
        rows = np.array([self.row[c] for c in channels], np.int64)
        spectra = np.empty((len(channels), self.coeffs.gamma.shape[1]), np.complex128)
        args = (_EMPTY if ref.left is None else ref.left[0], _EMPTY if ref.right is None else ref.right[0], ref.amp33[0],
                self.coeffs.gamma, self.coeffs.zeta, self.coeffs.alpha, rows, use)
        if spectra_match_numpy():
            fused_spectra(*args, float(self.normalization), spectra)
        else:
            numpy_spectra(*args, self.normalization, spectra)
        # romancal's irfft(...) (float64), then its astype(float32).
        np.copyto(out, fft.irfft(spectra))

    def _spectrum(self, side: np.ndarray, term: int) -> tuple[np.ndarray | None, bool]:
        """ChannelView.forward_fft of a left or right array, or None where no channel needs it.

        A term whose coefficients are zero for every computed channel adds
        exactly zero (ChannelPlan), provided its spectrum is finite: that is
        sure when the 4 reference columns are finite and too small for the
        FFT's sums of L values to overflow.  Otherwise the spectrum is
        computed and the term forced for every channel (romancal's
        ``inf * 0`` is NaN).  Returns (spectrum, forced).
        """
        if self._term_used[term]:
            return ChannelView.forward_fft(side, True).astype(np.complex128), False
        with np.errstate(invalid="ignore"):
            safe = bool(np.all(np.abs(side) < _SAFE_MAGNITUDE / side.size))
        if safe:
            return None, False
        return ChannelView.forward_fft(side, True).astype(np.complex128), True

    def _fits(self, detector: np.ndarray, amp: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``remove_trends``'s fits of the 33 channels, from their reference rows only.

        Parameters
        ----------
        detector : (H, 4096) float32
            The frame, offset not yet subtracted.
        amp : (H, 140) float32
            The amp33 channel in read order with its pad, offset subtracted.

        Returns
        -------
        slope, intercept : (33,) float64
        fitted : (33,) bool
            False where romancal's loop skips the channel (``continue``).
        """
        n_det, width = Const.N_COLUMNS, Const.CHAN_WIDTH
        rows = self._ref_rows
        # The reference rows of romancal's channel view (after remove_offset):
        # odd channels reversed into read order, pad columns zero.
        ref = np.subtract(detector[rows], self.offset[rows, :n_det]).reshape(len(rows), Const.N_DETECT_CHAN, width)
        chan = np.zeros((N_CHANNELS, len(rows), _PADDED), np.float32)
        chan[0 : Const.N_DETECT_CHAN : 2, :, :width] = ref[:, 0::2].transpose(1, 0, 2)
        chan[1 : Const.N_DETECT_CHAN : 2, :, :width] = ref[:, 1::2, ::-1].transpose(1, 0, 2)
        chan[Const.N_DETECT_CHAN] = amp[rows]
        slope = np.zeros(N_CHANNELS)
        intercept = np.zeros(N_CHANNELS)
        fitted = np.zeros(N_CHANNELS, bool)
        for c in range(N_CHANNELS):
            # romancal's loop body, on the same values in the same order.
            mask = chan[c] != 0
            x_vals = self._t_ref[mask]
            y_vals = chan[c][mask]
            if x_vals.size < 1 or y_vals.size < 1:
                continue
            slope[c], intercept[c] = np.polyfit(x_vals, y_vals, 1)
            fitted[c] = True
        return slope, intercept, fitted

    def _side(self, detector: np.ndarray, columns: slice, c: int, slope, intercept, fitted) -> np.ndarray:
        """A left or right reference array of romancal's ChannelView, (1, H, 140) float32.

        ``columns`` are the 4 detector columns in channel ``c``'s read order;
        they get romancal's offset and trend arithmetic (the same as
        :func:`fused_pass` applies to every pixel).
        """
        side = np.zeros((1, detector.shape[0], _PADDED), np.float32)
        x = np.subtract(detector[:, columns], self.offset[:, columns])
        if fitted[c]:
            # Numpy float64 scalars: romancal's float64 "(t * m + b) * not_zero".
            x -= (self._t[:, : Const.REF] * slope[c] + intercept[c]) * (x != 0)
        side[0, :, : Const.REF] = x
        return side

    def _amp33(self, amp33: np.ndarray) -> np.ndarray:
        """The amp33 channel in read order with its pad, offset subtracted, (H, 140) float32."""
        amp = np.zeros((amp33.shape[0], _PADDED), np.float32)
        np.subtract(amp33, self.offset[:, Const.N_COLUMNS :], out=amp[:, : Const.CHAN_WIDTH])
        return amp

    def correct(self, detector: np.ndarray, amp33: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Correct one frame.

        Parameters
        ----------
        detector : (H, 4096) float32, DN
            The frame after dq_init and BAD_REF_PIXEL zeroing.
        amp33 : (H, 128) float32, DN
        out : (H, 4096) float32 array, optional
            Where to write the corrected frame; may be ``detector`` itself
            (each pixel is read before it is written), which saves a fresh
            64 MiB array per read.  Default a new array.

        Returns
        -------
        detector : (H, 4096) float32, DN
        amp33 : (H, 128) float32, DN
            The corrected frame, before romancal's ``abs().astype(uint16)``
            of amp33.
        """
        rows = self.offset.shape[0]
        if detector.dtype != np.float32 or detector.shape != (rows, Const.N_COLUMNS):
            raise ValueError(f"refpix corrects float32 frames of shape {(rows, Const.N_COLUMNS)}; got {detector.dtype} {detector.shape}")
        if amp33.shape != (rows, Const.CHAN_WIDTH):
            raise ValueError(f"refpix needs an amp33 frame of shape {(rows, Const.CHAN_WIDTH)}; got {amp33.shape}")
        if out is None:
            out = np.empty(detector.shape, np.float32)
        elif out.shape != detector.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous float32 array of shape {detector.shape}; got {out.dtype} {out.shape}")
        detector = np.ascontiguousarray(detector)  # the compiled pass's one specialisation
        amp = self._amp33(amp33)
        slope, intercept, fitted = self._fits(detector, amp)
        a33 = Const.N_DETECT_CHAN
        if fitted[a33]:
            # remove_trends on the amp33 channel: romancal's line.
            amp -= (self._t * slope[a33] + intercept[a33]) * (amp != 0)
        self._interpolator.cosine(amp)
        self._interpolator.fft(amp)
        # ChannelView.reference_fft on the three reference arrays.  Channel 0
        # is read left to right, channel 31 right to left (its read-order
        # first columns are the detector's last, reversed).  np.multiply(
        # complex64, complex128) casts to complex128 first; doing it once
        # here gives the same numbers without 96 casts per frame.
        n_det = Const.N_COLUMNS
        left, left_forced = self._spectrum(self._side(detector, slice(0, Const.REF), 0, slope, intercept, fitted), 0)
        right, right_forced = self._spectrum(self._side(detector, slice(n_det - 1, n_det - 1 - Const.REF, -1), a33 - 1,
                                                        slope, intercept, fitted), 1)
        ref = ReferenceFFT(left, right, ChannelView.forward_fft(amp[None], False).astype(np.complex128))
        force = (left_forced, right_forced, False)
        correction = self._correction_buffer(amp.size)  # every row is overwritten by the batches below
        groups = range(0, len(self.unique), _FFT_BATCH)
        tasks = [(ref, self.unique[i : i + _FFT_BATCH], force, correction[i : i + _FFT_BATCH]) for i in groups]
        if self.pool is None:
            for task in tasks:
                self._corrections(*task)
        else:
            for future in [self.pool.submit(self._corrections, *task) for task in tasks]:
                future.result()
        del ref, tasks
        fused_pass(detector, self.offset, self._t, slope, intercept, fitted,
                   correction.reshape(len(self.unique), *amp.shape), self._which, out)
        # The amp33 channel's correction is zero ("-= 0" leaves it as is);
        # then apply_offset's "data += offset".
        amp_out = amp[:, : Const.CHAN_WIDTH] + self.offset[:, n_det:]
        return out, amp_out
