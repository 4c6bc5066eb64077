"""Pass 1 of the streaming engine on row bands, with the compiled kernel and per-thread buffers.

One band of a 55-read 4096-column exposure is 29 MB of uint16 reads, 58 MB
as float32 and 14 MB of group DQ.  The numpy pass allocated all of them (and
its temporaries) anew for every band, so the kernel zeroed ~100 MB of fresh
pages per band and each step went over the band again.  Here each pool
thread keeps one set of buffers for the whole pass: the band's reads are
``pread`` into its uint16 buffer and :func:`.pass1_kernel.band` writes the
float32 data, the group DQ, the pixel DQ, the offset fit's sum and the
linearity plan in one sweep; only the offset fit's ``np.matmul`` (OpenBLAS)
goes over the float32 band again.

:func:`compiled_pass1` says when this applies: one read per resultant, no
saturation growth or back-up (romancal's defaults), a native uint16 input
read by ``pread``, a float32 / uint32 SATURATION reference and operands whose
numpy promotion the kernel reproduces.  Everything else keeps the numpy
path in :mod:`.streaming` (romancal's / stcal's own functions).
"""

from __future__ import annotations

import logging

import threading

import numpy as np

from . import fused, pass1_kernel, steps
from .refpix_streaming import intercepts, intercepts_from_sums, offset_indep

log = logging.getLogger(__name__)


def compiled_pass1(cube, threshold, threshold_dq, read_pattern, encoding_offset, reference_read) -> str | None:
    """Why the compiled pass 1 cannot run on these inputs, or None if it can."""
    params = steps.STEP_PARAMETERS["saturation"]
    if not fused.single_reads(read_pattern):
        return "averaged resultants"
    if params["n_pix_grow_sat"] or params["backup"]:
        return "saturation growth or back-up"
    data = cube.arrays["data"]
    if not all(hasattr(data, a) for a in ("fd", "offset", "row_bytes", "file_dtype")):
        return "input not read by pread"
    if data.file_dtype != np.dtype(np.uint16) or len(data.shape) != 3 or data.shape[0] < 2:
        return f"input data {data.file_dtype} {data.shape}"
    if threshold.dtype != np.float32 or threshold_dq.dtype != np.uint32:
        return f"SATURATION reference {threshold.dtype} / {threshold_dq.dtype}"
    try:
        pass1_kernel.widened_offset(encoding_offset)
        if reference_read is not None:
            pass1_kernel.widened_reference(reference_read[:1])
    except TypeError as err:
        return str(err)
    return None


def _read_band_into(arr, y0: int, y1: int, out: np.ndarray) -> None:
    """Rows ``y0:y1`` of every plane of a pread-able (N, H, W) array into C-ordered ``out`` (N, y1 - y0, W)."""
    n, height, _ = arr.shape
    plane = height * arr.row_bytes
    for k in range(n):
        arr._read_into(out[k], arr.offset + k * plane + y0 * arr.row_bytes)


class _Buffers:
    """One thread's band buffers, sized for the largest band; views of the first h rows are C-ordered."""

    def __init__(self, n: int, rows: int, width: int):
        size = n * rows * width
        self.raw = np.empty(size, np.uint16)
        self.data = np.empty(size, np.float32)
        self.gdq = np.empty(size, np.uint8)
        self.n, self.width = n, width

    def views(self, h: int):
        shape = (self.n, h, self.width)
        size = self.n * h * self.width
        return self.raw[:size].reshape(shape), self.data[:size].reshape(shape), self.gdq[:size].reshape(shape)


class Pass1Bands:
    """``pass1(band)`` of the streaming engine, compiled (see the module docstring).

    Parameters
    ----------
    cube : InputCube
    threshold, threshold_dq : RefArray
        SATURATION ``data`` and ``dq``.
    pixeldq : (H, W) uint32
        After dq_init (read, never written here).
    read_pattern : list of list of int
    encoding_offset : number
    reference_read, reference_amp33 : array or None
        Flight L1 data only.
    resultant_dq : pread-able array or None
    writer : RampFileWriter
        Gets the group DQ.
    plan : LinearityPlan or None
        Gets each pixel's last valid read.
    rows : int
        The largest band's rows.
    """

    def __init__(self, cube, threshold, threshold_dq, pixeldq, read_pattern, encoding_offset, reference_read,
                 reference_amp33, resultant_dq, writer, plan, rows: int):
        from roman_datamodels.dqflags import group, pixel
        from romancal.saturation.saturation import ATOD_LIMIT

        from .refpix_kernel import warm_up_in_background

        # stcal gets romancal's *pixel* flags for the group DQ too; the plan
        # reads group.SATURATED: the kernel uses one value for both.
        if int(group.SATURATED) != int(pixel.SATURATED):  # pragma: no cover - roman_datamodels' flags
            raise ValueError("group and pixel SATURATED differ")
        self.flags = pass1_kernel.stcal_flags(pixel)
        self.cube, self.threshold, self.threshold_dq, self.pixeldq = cube, threshold, threshold_dq, pixeldq
        self.read_pattern, self.encoding_offset = read_pattern, encoding_offset
        self.offset = pass1_kernel.widened_offset(encoding_offset) if encoding_offset else 0.0
        self.reference_read, self.reference_amp33, self.resultant_dq = reference_read, reference_amp33, resultant_dq
        self.writer, self.plan, self.atod_limit = writer, plan, float(ATOD_LIMIT)
        self.n_reads, self.height, self.width = cube.arrays["data"].shape
        self.rows = rows
        self.indep = offset_indep(self.n_reads, np.float32)
        self._local = threading.local()
        self._all: list[_Buffers] = []
        self._lock = threading.Lock()
        # pass 2's compiled kernels get ready while pass 1 runs (as offset_band does).
        warm_up_in_background()

    def _buffers(self) -> _Buffers:
        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            buffers = self._local.buffers = _Buffers(self.n_reads, self.rows, self.width)
            with self._lock:
                self._all.append(buffers)
        return buffers

    def close(self) -> None:
        """Drop the buffers (~100 MB per thread)."""
        with self._lock:
            for buffers in self._all:
                buffers.raw = buffers.data = buffers.gdq = None
            self._all.clear()
        self._local = threading.local()

    def _reference_rows(self, y0: int, y1: int):
        return None if self.reference_read is None else self.reference_read[y0:y1]

    def __call__(self, piece):
        """One band: returns ``(y0, y1, pixeldq, offsets, (top, bottom), (all_sat_group, all_sat_pixel))``."""
        y0, y1 = piece
        h = y1 - y0
        raw, data, gdq = self._buffers().views(h)
        _read_band_into(self.cube.arrays["data"], y0, y1, raw)
        ref = self._reference_rows(y0, y1)
        gin = None
        if self.resultant_dq is not None:
            gin = np.ascontiguousarray(self.resultant_dq.band(y0, y1).astype(np.uint8))
        sums = np.empty((h, self.width), np.float32)
        plan_rows = None
        if self.plan is not None:
            plan_rows = (self.plan.last[y0:y1], self.plan.first_sat[y0:y1], self.plan.last_sat[y0:y1])
        threshold = np.ascontiguousarray(self.threshold.rows(y0, y1))
        threshold_dq = np.ascontiguousarray(self.threshold_dq.rows(y0, y1))
        pdq, unsat_g, unsat_p = pass1_kernel.band(
            raw, None if ref is None else pass1_kernel.widened_reference(ref), self.offset, gin, threshold, threshold_dq,
            self.pixeldq[y0:y1], self.flags, self.read_pattern, self.atod_limit, data, gdq, sums, plan_rows)
        # The border rows are dq_init's data before refpix zeroes any pixel.
        height = self.height
        top_rows = slice(0, max(0, 4 - y0))
        bottom_rows = slice(max(0, height - 4 - y0), h)
        top = steps.raw_to_float(raw[:, top_rows], self.encoding_offset, None if ref is None else ref[top_rows])
        bottom = steps.raw_to_float(raw[:, bottom_rows], self.encoding_offset, None if ref is None else ref[bottom_rows])
        amp = steps.amp33_to_float(self.cube.arrays["amp33"].band(y0, y1), self.encoding_offset,
                                   None if self.reference_amp33 is None else self.reference_amp33[y0:y1])
        sxy = np.matmul(self.indep, data.reshape(self.n_reads, -1), dtype=np.float32)
        det_off = intercepts_from_sums(self.indep, sums.reshape(-1), sxy).reshape(h, self.width)
        off = np.concatenate([det_off, intercepts(amp)], axis=1)
        self.writer.write_band("groupdq", y0, gdq)
        return y0, y1, pdq, off, (top, bottom), (unsat_g == 0, unsat_p == 0)
