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
  worker), so the output's planes become final in file order: their MD5 and
  band digests are computed on a helper thread while the next group is
  corrected (:class:`processing.frame_sums.StreamSums`) instead of reading
  4.6 GB back after the pass.  A group of several reads shares each row's
  coefficients while they are in cache.
"""

from __future__ import annotations

import logging

import numpy as np

from . import linearity_kernel

log = logging.getLogger(__name__)

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

    def add(self, k0: int, k1: int, arrays: dict) -> None:
        """A piece of reads ``k0:k1`` (arrays (G, h, W) by name) finished; pieces arrive in :func:`pieces` order."""
        self._held.append(arrays)
        if len(self._held) < self.parts:
            return
        held, self._held = self._held, []
        for g in range(k1 - k0):
            for part in held:
                for name, sink in self.sinks.items():
                    sink.feed(part[name][g])
