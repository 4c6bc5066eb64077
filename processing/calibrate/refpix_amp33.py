"""romancal's interpolations of the amp33 reference channel, one frame at a time.

``ChannelView.cosine_interpolate`` and ``ChannelView.fft_interpolate`` fill
the zero pixels and the 12 pad columns of the amp33 channel before its FFT.
:class:`Amp33Interpolator` runs them on one frame of that channel with
romancal's expressions, in romancal's order, with what does not depend on
the frame computed once instead of per frame:

* ``fft_interpolate``'s apodizing function and pad indices (a cosine of
  286721 frequencies, per frame in romancal), and its iterations are
  romancal's own generator (``ChannelView.fft_interp_generator``);
* ``cosine_interpolate``'s convolution of the non-zero mask with its kernel,
  which depends only on the mask: the mask of the last frame and its
  convolution are kept and reused while the next frame's mask is the same
  (it almost always is: the pad columns, and no zero pixel elsewhere);
  the rest of its arithmetic (fill and ``nan_to_num``) is one compiled loop
  (:func:`.refpix_kernel.cosine_fill`).
"""

from __future__ import annotations

from itertools import islice

import numpy as np
from romancal.refpix._data import ChannelView, Const

from .refpix_kernel import cosine_fill


class Amp33Interpolator:
    """romancal's amp33 cosine and FFT interpolations for frames of ``rows`` rows.

    Parameters
    ----------
    rows : int
        Rows of the frames (H); a frame of the channel is (H, 140) float32.
    iterations : int
        ``fft_interpolate``'s ``num`` (romancal's default, 3).

    Notes
    -----
    Safe to use from several threads at once: the cached mask convolution is
    one immutable pair replaced as a whole.
    """

    def __init__(self, rows: int, iterations: int = 3):
        columns = Const.CHAN_WIDTH + Const.PAD
        self.rows, self.columns, self.iterations = rows, columns, iterations
        length = rows * columns
        # ChannelView.fft_interpolate's mask, pad and apodize, verbatim.
        mask = np.ones((rows, columns), dtype=bool)
        mask[:, : -Const.PAD] = False
        mask = mask.flatten()
        self.pad = np.where(mask)[0]
        self.apodize = (1 + np.cos(2 * np.pi * np.abs(np.fft.rfftfreq(length, 1 / length)) / length)) / 2
        # ChannelView.cosine_interpolate's kernel: "channels" there are the
        # detector's 32 channels, a Python int from an array shape (an
        # IntEnum member here would make the kernel float64).
        channels = int(Const.N_DETECT_CHAN)
        self.interp = np.sin(np.arange(1, channels + 1, dtype=np.float32) * np.pi / channels)
        self._mask_conv: tuple[np.ndarray, np.ndarray] | None = None

    def _convolved_mask(self, nonzero: np.ndarray) -> np.ndarray:
        cached = self._mask_conv
        if cached is not None and np.array_equal(cached[0], nonzero):
            return cached[1]
        mask_conv = np.convolve(nonzero.astype(np.int64), self.interp, mode="same")
        # Kept writable (never written): a read-only array would be another
        # numba specialisation of cosine_fill to compile.
        self._mask_conv = (nonzero, mask_conv)
        return mask_conv

    def cosine(self, frame: np.ndarray) -> None:
        """``ChannelView.cosine_interpolate`` of one amp33 frame (H, 140) float32, in place."""
        # romancal's loop body for one frame: the mask (as int64 for its
        # convolution) and the two convolutions, then the fill and
        # nan_to_num in one compiled loop (cosine_fill).
        kern = _flat_view(frame)
        nonzero = kern != 0
        cov = np.convolve(kern, self.interp, mode="same")
        cosine_fill(kern, cov, self._convolved_mask(nonzero), nonzero)

    def fft(self, frame: np.ndarray) -> None:
        """``ChannelView.fft_interpolate`` of one amp33 frame (H, 140) float32, in place."""
        flat = _flat_view(frame)
        next(islice(ChannelView.fft_interp_generator(flat, self.pad, self.apodize), self.iterations - 1, None))


def _flat_view(frame: np.ndarray) -> np.ndarray:
    """``frame`` flattened, as a view (the interpolations work in place)."""
    if not frame.flags.c_contiguous:
        raise ValueError("the amp33 frame must be C-contiguous")
    return frame.reshape(-1)
