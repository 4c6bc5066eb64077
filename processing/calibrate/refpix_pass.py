"""The streaming engine's pass 2: refpix, one read at a time, into reused buffers.

Each read goes raw uint16 -> float32 (dq_init) -> BAD_REF_PIXEL zeroing ->
:meth:`.refpix_streaming.FrameCorrector.correct` -> the output file (and the
linearity plan's gather).  Done with fresh arrays, that is three new frames
(32 + 64 + 64 MB) per read: 55 reads make ~9 GB of new memory, every page of
which the kernel zeroes on first touch (glibc maps each allocation this big
afresh and unmaps it on free).  That zeroing was most of pass 2's system
time.  Here every pool thread keeps one set of frame buffers
(:class:`threading.local`, so two threads never share one) and reads,
converts and corrects into them; nothing of a read outlives its call (the
write and the gather copy what they keep before it returns), so the next
read on that thread may overwrite them.
"""

from __future__ import annotations

import threading

import numpy as np

from . import steps


class _Buffers:
    """One thread's frames: raw detector and amp33 (file dtype), their float32."""

    def __init__(self, shape: tuple[int, int], amp_columns: int, raw_dtype, amp_dtype):
        self.raw = np.empty(shape, raw_dtype)
        self.det = np.empty(shape, np.float32)
        self.amp_raw = np.empty((shape[0], amp_columns), amp_dtype)
        self.amp = np.empty((shape[0], amp_columns), np.float32)


class RefpixPass:
    """``pass(k)`` corrects read ``k`` and writes it (any pool thread, any order).

    Parameters
    ----------
    cube : InputCube
        The input (``data`` (N, H, W) and ``amp33`` (N, H, 128) uint16).
    writer : RampFileWriter
        The output (``data`` and ``amp33`` are written here).
    corrector : FrameCorrector
    plan : LinearityPlan or None
        Gathers what pass 3 needs of each corrected read.
    pixeldq : (H, W) uint32
        After saturation (its BAD_REF_PIXEL pixels are zeroed in every read).
    encoding_offset : number
    reference_read : (H, W) array or None
    reference_amp33 : (H, 128) array or None
        As for :func:`.steps.raw_to_float` / :func:`.steps.amp33_to_float`.

    Notes
    -----
    Memory: one set of buffers (~100 MB for a 4096 x 4096 read) per thread
    that has run a read, freed with this object.
    """

    def __init__(self, cube, writer, corrector, plan, pixeldq: np.ndarray, encoding_offset,
                 reference_read: np.ndarray | None, reference_amp33: np.ndarray | None):
        self.cube, self.writer, self.corrector, self.plan = cube, writer, corrector, plan
        self.encoding_offset = encoding_offset
        self.reference_read, self.reference_amp33 = reference_read, reference_amp33
        # Flat indices once, instead of a boolean mask over 16 M pixels per read.
        self._bad = np.flatnonzero(steps.bad_ref_pixel_mask(pixeldq))
        self._local = threading.local()

    def _buffers(self) -> _Buffers:
        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            data, amp33 = self.cube.arrays["data"], self.cube.arrays["amp33"]
            buffers = _Buffers(data.shape[1:], amp33.shape[2], data.file_dtype, amp33.file_dtype)
            self._local.buffers = buffers
        return buffers

    def __call__(self, k: int) -> int:
        buf = self._buffers()
        raw = self.cube.arrays["data"].frame(k, out=buf.raw)
        det = steps.raw_to_float(raw, self.encoding_offset, self.reference_read, out=buf.det)
        if self._bad.size:
            det.reshape(-1)[self._bad] = 0
        amp_raw = self.cube.arrays["amp33"].frame(k, out=buf.amp_raw)
        amp = steps.amp33_to_float(amp_raw, self.encoding_offset, self.reference_amp33, out=buf.amp)
        # In place: correct() reads each pixel before writing it.
        out, amp_out = self.corrector.correct(det, amp, out=det)
        self.writer.write_frame("data", k, out)
        if self.plan is not None:
            self.plan.gather(k, out)
        # RefPixStep's update(): amp33 back to uint16 through abs().
        self.writer.write_frame("amp33", k, np.abs(amp_out).astype(np.uint16))
        return k
