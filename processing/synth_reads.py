"""The synthetic reads: one frame at a time from a :class:`~processing.synth_detector.Detector`.

Each read adds the charge of one frame time (with shot noise), applies the
non-linearity and the full well, then bias, correlated and read noise.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .synth_config import AMP33_WIDTH, N_CHANNELS, SynthConfig
from .synth_detector import Detector

#: Rows per block of a frame: a block's float32 working set (~4 MiB at 4096
#: columns) stays in cache while every step of the detector model runs on it.
_BLOCK_ROWS = 256


_NORMAL_TABLE: np.ndarray | None = None


def _standard_normal(g: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Standard normal deviates, float32, by inverse-transform sampling.

    16 random bits pick one of 65536 equal-probability quantiles of N(0, 1)
    (``scipy.special.ndtri``): the variance is 0.99999, the tails stop at
    4.3 sigma (probability 2e-5 beyond).  Twice as fast as
    ``Generator.standard_normal(dtype=float32)``, and the noise draws are
    most of a synthetic read's time.
    """
    global _NORMAL_TABLE
    if _NORMAL_TABLE is None:
        from scipy.special import ndtri

        _NORMAL_TABLE = ndtri((np.arange(65536) + 0.5) / 65536).astype(np.float32)
    count = int(np.prod(shape))
    bits = g.bit_generator.random_raw(-(-count // 4))
    return np.take(_NORMAL_TABLE, bits.view(np.uint16)[:count].reshape(shape))


def _workers() -> int:
    """Threads that build a frame's row blocks (numpy's ufuncs and RNG fills release the GIL)."""
    return max(1, min(4, os.cpu_count() or 1))


def generate_frames(cfg: SynthConfig, det: Detector, illuminated: bool, seed_offset: int = 0):
    """Yield ``(k, frame, amp33_frame)`` for k = 0..N-1, one read at a time.

    frame : (size, size) uint16, DN; amp33_frame : (size, 128) uint16, DN.

    A frame is built in row blocks of :data:`_BLOCK_ROWS`, on a few threads:
    each block draws its own read (and shot) noise from a generator seeded by
    (seed, exposure, read, block), so the files depend on the seed only, not
    on the number of threads.  Memory: the accumulated charge and the
    per-pixel rate maps (a few float32 frames), no cube.
    """
    n = cfg.size
    dt = cfg.frame_time
    rng = np.random.default_rng([cfg.seed, 2, seed_offset])
    flux = det.star_flux() if illuminated else None
    # Charge added per read (constant) and its shot noise: drawn only where
    # charge accumulates noticeably (the scene's glow, hot pixels).
    step = (det.dark if flux is None else flux + det.dark) * np.float32(dt)
    del flux
    shot_sigma = np.where(step > 0.5, np.sqrt(step), np.float32(0.0)).astype(np.float32)
    shot_rows = np.flatnonzero(shot_sigma.any(axis=1))
    sparse = np.nonzero(shot_sigma) if np.count_nonzero(shot_sigma) < 0.05 * n * n else None
    accumulated = np.zeros((n, n), np.float32)
    chan_of_col = np.minimum(np.arange(n) // cfg.channel_width, N_CHANNELS - 1)
    blocks = [(r0, min(n, r0 + _BLOCK_ROWS)) for r0 in range(0, n, _BLOCK_ROWS)]
    has_shot = np.zeros(len(blocks), bool)
    for i, (r0, r1) in enumerate(blocks):
        has_shot[i] = np.any((shot_rows >= r0) & (shot_rows < r1))

    def build(k: int, i: int, frame: np.ndarray, common: np.ndarray, chan_cols: np.ndarray) -> None:
        r0, r1 = blocks[i]
        g = np.random.default_rng([cfg.seed, 3, seed_offset, k, i])
        acc = accumulated[r0:r1]
        acc += step[r0:r1]
        if sparse is None and has_shot[i]:
            shot = _standard_normal(g, acc.shape)
            shot *= shot_sigma[r0:r1]
            acc += shot
        # Charge stops accumulating at full well; the measured signal is the
        # non-linear response to it (monotonic up to the well).
        np.minimum(acc, det.charge_well[r0:r1], out=acc)
        out = acc * det.a2[r0:r1]
        out *= acc
        np.subtract(acc, out, out=out)
        np.maximum(out, 0.0, out=out)
        out += det.bias[r0:r1]
        # Correlated noise: a row-wise common mode (readout time) shared with
        # amp33, and a per-channel offset; then the read noise.
        out += common[r0:r1, None]
        out += chan_cols[None, :]
        read = _standard_normal(g, acc.shape)
        read *= cfg.read_noise
        out += read
        np.clip(out, 0, 65535, out=out)
        np.rint(out, out=out)
        frame[r0:r1] = out

    pool = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="synth-frame")
    try:
        for k in range(cfg.frames):
            common = (np.cumsum(rng.standard_normal(n)) * 0.15 + rng.standard_normal(n)).astype(np.float32) * cfg.row_noise
            chan = rng.normal(0.0, cfg.channel_noise, N_CHANNELS).astype(np.float32)
            if sparse is not None and sparse[0].size:
                accumulated[sparse] += rng.standard_normal(sparse[0].size).astype(np.float32) * shot_sigma[sparse]
            frame = np.empty((n, n), np.uint16)
            chan_cols = chan[chan_of_col]
            for fut in [pool.submit(build, k, i, frame, common, chan_cols) for i in range(len(blocks))]:
                fut.result()
            amp33 = det.amp33_bias + common[:, None] + rng.normal(0.0, cfg.read_noise, (n, AMP33_WIDTH)).astype(np.float32)
            amp33 += rng.normal(0.0, cfg.channel_noise)
            amp33_frame = np.rint(np.clip(amp33, 0, 65535)).astype(np.uint16)
            yield k, frame, amp33_frame
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

