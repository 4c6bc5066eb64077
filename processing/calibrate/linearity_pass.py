"""The streaming engine's linearity pass, read by read, for one read per resultant.

stcal's read-level linearity needs, per pixel, the linearised first read
and a count rate from the first and the *last valid* read (after refpix),
then corrects every read from those two numbers, its own value and the
coefficients (:mod:`.linearity_kernel`).  Instead of re-reading the whole
refpix output in row bands to find those reads, the engine gathers them
while they pass by:

* pass 1 (row bands, all reads' group DQ): which read is each pixel's last
  valid one (:meth:`LinearityPlan.band`);
* pass 2 (refpix, read by read): read 0 and each pixel's last valid read are
  copied out of the corrected frame (:meth:`LinearityPlan.gather`);
* pass 3 corrects *groups of consecutive reads* (split in row parts, one per
  worker), so the output's planes become final in file order: their band
  digests (and MD5, when the stream is asked for one) are computed on a
  helper thread while the next group is corrected
  (:class:`processing.frame_sums.StreamSums`) instead of reading 4.6 GB back
  after the pass.  A group of several reads shares each row's
  coefficients while they are in cache.
"""

from __future__ import annotations

import logging

import threading

import numpy as np

from ..progress import Job
from . import fused, linearity_kernel, steps
from .pool_pieces import BufferPool, run_pieces
from .ref_arrays import RefArray

log = logging.getLogger(__name__)

#: Rows of the linearity references decompressed between checks for a cancel.
_LOAD_ROWS = 256
#: Bytes of output (float32 data + uint8 group DQ) per pass-3 piece.
PIECE_BYTES = 128 * 1024 * 1024


class LinearityPlan:
    """Each pixel's last valid read, and its read 0 and last valid read after refpix.

    Parameters
    ----------
    n_reads, height, width : int
    sat_flag : int
        SATURATED.
    """

    def __init__(self, n_reads: int, height: int, width: int, sat_flag: int):
        self.n_reads = n_reads
        self.sat_flag = int(sat_flag)
        shape = (height, width)
        self.last = np.empty(shape, np.int16)
        self.first_sat = np.empty(shape, np.bool_)
        self.last_sat = np.empty(shape, np.bool_)
        self.first_read = np.empty(shape, np.float32)
        self.last_read = np.empty(shape, np.float32)
        self._order: np.ndarray | None = None
        self._starts: np.ndarray | None = None

    def band(self, y0: int, gdq: np.ndarray) -> None:
        """Record rows ``y0:y0 + h`` from their group DQ after saturation, (N, h, W) uint8."""
        last, first_sat, last_sat = linearity_kernel.last_valid(gdq, self.sat_flag)
        y1 = y0 + gdq.shape[1]
        self.last[y0:y1], self.first_sat[y0:y1], self.last_sat[y0:y1] = last, first_sat, last_sat

    def index(self) -> None:
        """After pass 1: the pixels of each read's gather, as flat indices grouped by read."""
        flat = self.last.reshape(-1)
        self._order = np.argsort(flat, kind="stable").astype(np.int32)
        counts = np.bincount(flat, minlength=self.n_reads)
        self._starts = np.concatenate([[0], np.cumsum(counts)])

    def gather(self, k: int, frame: np.ndarray) -> None:
        """Keep what pass 3 needs of read ``k`` after refpix, (H, W) float32 (any thread, any order)."""
        if k == 0:
            self.first_read[...] = frame
        idx = self._order[self._starts[k] : self._starts[k + 1]]
        if idx.size:
            self.last_read.reshape(-1)[idx] = np.ascontiguousarray(frame).reshape(-1)[idx]

    def rates(self, lin_coeffs: np.ndarray, read_pattern, y0: int, y1: int) -> tuple[np.ndarray, np.ndarray]:
        """Linearised first read and count rate of rows ``y0:y1`` (float64 each)."""
        rows = slice(y0, y1)
        return linearity_kernel.rates(self.first_read[rows], self.last_read[rows], self.first_sat[rows],
                                      self.last_sat[rows], self.last[rows], lin_coeffs[:, rows], read_pattern)


def pieces(n_reads: int, height: int, width: int, parts: int) -> list[tuple[int, int, int, int]]:
    """Pass-3 pieces ``(k0, k1, y0, y1)``: groups of consecutive reads, each split in ``parts`` row ranges.

    Pieces come group by group (a group's parts together), so that finishing
    them in order finishes the output's planes in file order.
    """
    parts = max(1, min(parts, height))
    edges = [height * p // parts for p in range(parts + 1)]
    rows = max(1, -(-height // parts))
    group = max(1, min(n_reads, PIECE_BYTES // max(1, rows * width * 5)))
    out = []
    for k0 in range(0, n_reads, group):
        k1 = min(k0 + group, n_reads)
        out.extend((k0, k1, edges[p], edges[p + 1]) for p in range(parts))
    return out


def correct_piece(data: np.ndarray, gdq: np.ndarray, lin_coeffs: np.ndarray, ilin_coeffs: np.ndarray,
                  first: np.ndarray, rate: np.ndarray, since_first: np.ndarray, sat_flag: int, dnu_flag: int,
                  clip: float) -> None:
    """Correct reads ``data`` (G, h, W) of rows whose coefficients, first and rate are given, in place."""
    linearity_kernel.correct_reads(data, gdq, lin_coeffs, ilin_coeffs, first, rate, since_first, sat_flag, dnu_flag, clip)


class OrderedPlanes:
    """Collects finished pieces and hands out whole planes, in order, to the stream hashers.

    Parameters
    ----------
    parts : int
        Row parts per group (see :func:`pieces`).
    sinks : dict of str to StreamSums
        ``"data"`` and ``"groupdq"``.
    """

    def __init__(self, parts: int, sinks: dict):
        self.parts = parts
        self.sinks = sinks
        self._held: list = []

    def add(self, k0: int, k1: int, arrays: dict, release=None) -> None:
        """A piece of reads ``k0:k1`` (arrays (G, h, W) by name) finished; pieces arrive in :func:`pieces` order.

        ``release(array)`` is called (on a hasher's thread, or here) for each
        array once no sink reads it any more.
        """
        self._held.append(arrays)
        if len(self._held) < self.parts:
            return
        held, self._held = self._held, []
        last: dict = {}
        for g in range(k1 - k0):
            for i, part in enumerate(held):
                for name, sink in self.sinks.items():
                    last[(i, name)] = sink.feed(part[name][g])
        if release is None:
            return
        for i, part in enumerate(held):
            for name, arr in part.items():
                future = last.get((i, name))
                if future is None:  # never fed to a sink
                    release(arr)
                else:  # a sink hashes in order: its last plane done means all done
                    future.add_done_callback(lambda _f, arr=arr: release(arr))


def load_linearity(refs, pixeldq: np.ndarray, stop: threading.Event):
    """Whole LINEARITY and INVERSELINEARITY coefficients after romancal's ``prepare_coefficients``, and the pixel DQ.

    Read in row chunks, checking ``stop`` between them, so that a cancelled
    calibration does not wait for the whole decompression (~1 s); returns
    None when stopped.
    """
    height = pixeldq.shape[0]
    arrays = []
    for path, name in ((refs.paths["linearity"], "coeffs"), (refs.paths["linearity"], "dq"),
                       (refs.paths["inverselinearity"], "coeffs")):
        ref = RefArray(path, name)
        try:
            out = np.empty(ref.shape, ref.dtype)
            for y0 in range(0, height, _LOAD_ROWS):
                if stop.is_set():
                    return None
                out[..., y0 : y0 + _LOAD_ROWS, :] = ref.rows(y0, min(y0 + _LOAD_ROWS, height))
            arrays.append(out)
        finally:
            ref.close()
    lin, lin_dq, ilin = arrays
    lin, pdq = steps.prepare_coefficients(lin, lin_dq, pixeldq)
    ilin, pdq = steps.prepare_coefficients(ilin, lin_dq, pdq)
    return lin, ilin, pdq


def compiled_linearity(refs, read_pattern) -> bool:
    """True when pass 3 can be the compiled read-by-read one (one read per resultant, float32 coefficients)."""
    if not fused.single_reads(read_pattern):
        return False
    for reftype in ("linearity", "inverselinearity"):
        ref = RefArray(refs.paths[reftype], "coeffs")
        try:
            if ref.dtype != np.float32:
                return False
        finally:
            ref.close()
    return True


def pass3_by_bands(pool, writer, refs, opened, pixeldq: np.ndarray, read_pattern, left, right,
                   workers: int, bands, span: tuple[float, float]) -> Job[None]:
    """Pass 3 for any read pattern: romancal's linearity by row bands of the output, in place."""
    lin_coeffs = opened.add(RefArray(refs.paths["linearity"], "coeffs"))
    lin_dq = opened.add(RefArray(refs.paths["linearity"], "dq"))
    ilin_coeffs = opened.add(RefArray(refs.paths["inverselinearity"], "coeffs"))

    def pass3(band):
        y0, y1 = band
        data = writer.read_band("data", y0, y1)
        gdq = writer.read_band("groupdq", y0, y1)
        data, gdq, pdq = steps.linearity_band(data, gdq, pixeldq[y0:y1].copy(), lin_coeffs.rows(y0, y1),
                                              lin_dq.rows(y0, y1), ilin_coeffs.rows(y0, y1), read_pattern)
        writer.write_band("data", y0, data)
        writer.write_band("groupdq", y0, gdq)
        return y0, y1, pdq, data[:, :, :4].copy(), data[:, :, -4:].copy()

    def keep3(result):
        y0, y1, pdq, lft, rgt = result
        pixeldq[y0:y1] = pdq
        left[:, y0:y1] = lft
        right[:, y0:y1] = rgt

    yield from run_pieces(pool, bands, pass3, keep3, span, "linearity", workers)
    opened.close_all()


def pass3_by_reads(pool, writer, plan: LinearityPlan, linearity, pixeldq: np.ndarray, read_pattern, left, right,
                   workers: int, stream_sums: dict, span: tuple[float, float]) -> Job[None]:
    """Pass 3 for one read per resultant: the compiled linearity by groups of reads (see :mod:`.linearity_pass`).

    Fills ``stream_sums`` with the data and group DQ hashers, fed the planes in
    file order as they are finished.
    """
    from roman_datamodels.dqflags import group

    from ..frame_sums import StreamSums
    from .linearity_kernel import read_times

    lin, ilin, pdq = linearity
    pixeldq[...] = pdq
    n_reads, height, width = writer.arrays["data"].shape
    work = pieces(n_reads, height, width, workers)
    parts = sorted({(y0, y1) for _, _, y0, y1 in work})
    # Each row part's linearised first read and count rate, on the pool.
    futures = {part: pool.submit(plan.rates, lin, read_pattern, *part) for part in parts}
    rates = {part: future.result() for part, future in futures.items()}
    plan.first_read = plan.last_read = None
    since_first = read_times(read_pattern)[1]
    for name in ("data", "groupdq"):
        slot = writer.arrays[name]
        if slot.file_dtype.isnative:  # fed bytes are then the file's bytes
            stream_sums[name] = StreamSums(slot.shape, slot.file_dtype, max_pending=2 * len(parts) * max(1, work[0][1]))
    ordered = OrderedPlanes(len(parts), stream_sums)
    # Piece buffers go back to the pool once written and hashed (the
    # OrderedPlanes release); a new piece reads into a returned one.
    buffers = BufferPool()

    def pass3(piece):
        k0, k1, y0, y1 = piece
        shape = (k1 - k0, y1 - y0, width)
        data = writer.read_band("data", y0, y1, k0, k1, out=buffers.take(shape, writer.arrays["data"].file_dtype))
        gdq = writer.read_band("groupdq", y0, y1, k0, k1, out=buffers.take(shape, writer.arrays["groupdq"].file_dtype))
        first, rate = rates[(y0, y1)]
        correct_piece(data, gdq, lin[:, y0:y1], ilin[:, y0:y1], first, rate, since_first[k0:k1], group.SATURATED,
                      group.DO_NOT_USE, steps.LINEARITY_CLIP)
        writer.write_band("data", y0, data, k0)
        writer.write_band("groupdq", y0, gdq, k0)
        return k0, k1, y0, y1, data, gdq

    def keep3(result):
        k0, k1, y0, y1, data, gdq = result
        left[k0:k1, y0:y1] = data[:, :, :4]
        right[k0:k1, y0:y1] = data[:, :, -4:]
        ordered.add(k0, k1, {"data": data, "groupdq": gdq}, release=buffers.give)

    try:
        yield from run_pieces(pool, work, pass3, keep3, span, "linearity", workers)
    finally:
        buffers.clear()
