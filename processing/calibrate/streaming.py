"""The streaming engine: romancal's exposure steps with bounded memory.

The whole-cube pipeline holds the exposure several times over in float32 and
float64 (about 30 GiB for 55 reads).  The four steps we run only couple
reads in per-pixel ways or within one read (see :mod:`.steps` and
:mod:`.refpix_streaming`), so the same numbers come out of three passes that
each hold a small part of the exposure:

pass 1, row bands across all reads (input)
    dq_init's data conversion, **saturation** (group and pixel DQ) and the
    sums of refpix's per-pixel offset fit.  Group DQ goes to the output
    file; pixel DQ (H x W) and the offsets (H x 4224) stay in memory.
    For one read per resultant this is one compiled sweep per band into
    per-thread buffers (:mod:`.pass1_bands`); otherwise romancal's and
    stcal's functions on each band (``pass1`` below).
pass 2, one read at a time (input)
    **refpix** on the whole read, written to the output file.
pass 3, row bands across all reads (output, in place)
    **linearity**, which needs each pixel's first and last unsaturated reads.

The output is a RampModel ASDF file written by :mod:`.ramp_file` (metadata by
romancal's own dq_init on a one-frame stand-in, arrays filled in place).
Saturation and linearity references are read by row bands as well
(:mod:`.ref_arrays`); only the refpix coefficients are held whole.
Passes run their bands or reads on a small thread pool (numpy, scipy's FFT
and file I/O release the GIL) and yield progress after each piece, so a
consumer that stops iterating (or closes the generator) stops the work
within one piece -- well under two seconds.
"""

from __future__ import annotations

import logging

import importlib.metadata
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import ExposureError
from ..io import Exposure
from ..progress import Job, Progress, scaled
from . import engine_runtime, steps
from .input_cube import InputCube
from .linearity_pass import LinearityPlan, compiled_linearity, load_linearity, pass3_by_bands, pass3_by_reads
from .pass1_bands import Pass1Bands, compiled_pass1
from .pool_pieces import run_pieces
from .ramp_file import RampFileWriter, placeholder
from .ref_arrays import RefArray
from .references import ReferenceSet
from .refpix_pass import RefpixPass
from .refpix_streaming import FrameCorrector, check_geometry, offset_band

log = logging.getLogger(__name__)

#: Rows per band in passes 1 and 3 are chosen so that one band of all reads
#: (float32) stays near this size; a multiple of stcal's 64-row linearity tiles.
BAND_BYTES = 48 * 1024 * 1024
#: Progress span of each pass (measured shares of the wall time).
_SPANS = {"input": (0.0, 0.03), "setup": (0.03, 0.06), "pass1": (0.06, 0.3), "pass2": (0.3, 0.7), "pass3": (0.7, 0.98)}


def band_rows(n_reads: int, height: int, width: int) -> int:
    """Rows per band: about :data:`BAND_BYTES` of float32 across all reads, a multiple of 64."""
    rows = BAND_BYTES // max(1, n_reads * width * 4)
    rows = max(64, min(512, (rows // 64) * 64))
    return min(rows, height)


def _bands(height: int, rows: int) -> list[tuple[int, int]]:
    return [(y0, min(y0 + rows, height)) for y0 in range(0, height, rows)]


def _read_pattern(model, n_reads: int, uri: str) -> list[list[int]]:
    pattern = model.meta.exposure.read_pattern
    try:
        out = [[int(r) for r in group] for group in pattern]
    except (TypeError, ValueError) as err:
        raise ExposureError(uri, f"meta.exposure.read_pattern is not a list of read lists: {err}") from err
    if len(out) != n_reads or not all(out):
        raise ExposureError(uri, f"meta.exposure.read_pattern has {len(out)} entries for {n_reads} reads; romancal needs one per read")
    return out


def _skeleton_meta(ramp, refs: ReferenceSet) -> None:
    """cal_step, ref_file and software version as ExposurePipeline leaves them."""
    from .. import crds_env

    cal = ramp.meta.cal_step
    cal.saturation = "COMPLETE"
    cal.refpix = "COMPLETE"
    cal.linearity = "COMPLETE"
    for field in steps.SKIPPED_STEPS.values():
        setattr(cal, field, "SKIPPED")
    ref_file = ramp.meta.ref_file
    for reftype, path in refs.as_strings().items():
        setattr(ref_file, reftype, path)
    ref_file.integralnonlinearity = "N/A"
    info = crds_env.context_info()
    ref_file.crds.version = info["version"]
    ref_file.crds.context = info["context"]
    ramp.meta.calibration_software_version = importlib.metadata.version("romancal")


class _Sinks(dict):
    """Pass 3's stream hashers by array name; each also starts the disk writes of the planes it hashed.

    Those planes are final, so the seal's fsync finds little left to write
    (:meth:`processing.frame_sums.StreamSums.write_back`).
    """

    writer = None

    def __setitem__(self, name, sink) -> None:
        if self.writer is not None and name in self.writer.arrays:
            sink.write_back(self.writer.path, self.writer.arrays[name].offset)
        super().__setitem__(name, sink)


class _Opened(list):
    """Reference arrays to close when a pass ends (or the job stops)."""

    def add(self, ref: RefArray) -> RefArray:
        self.append(ref)
        return ref

    def close_all(self) -> None:
        while self:
            self.pop().close()


def _open_ref(path, model_name: str):
    from roman_datamodels import datamodels as rdm

    return getattr(rdm, model_name)(str(path), memmap=False)


def _load_arrays(path, model_name: str, names: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """Arrays of a reference file, loaded into memory (lz4 blocks decompressed)."""
    model = _open_ref(path, model_name)
    try:
        return tuple(np.array(getattr(model, name)) for name in names)
    finally:
        model.close()


def _single_plane(arr, shape: tuple[int, int], uri: str) -> np.ndarray | None:
    """A (1, H, W) or (H, W) array as (H, W); None if absent."""
    if arr is None:
        return None
    plane = arr.read()
    if plane.ndim == 3 and plane.shape[0] == 1:
        plane = plane[0]
    if plane.shape != shape:
        raise ExposureError(uri, f"its reference read has shape {plane.shape}; expected {shape}")
    return plane


def _load_refpix(path):
    from romancal.refpix._data import Coefficients

    from .refpix_streaming import ChannelPlan

    coeffs = Coefficients(*_load_arrays(path, "RefpixRefModel", ("gamma", "zeta", "alpha")))
    return ChannelPlan.of(coeffs).compact(coeffs)


def streaming_job(exposure: Exposure, model, refs: ReferenceSet, out_path: Path, scratch: Path,
                  workers: int | None = None) -> Job[dict]:
    """Calibrate ``exposure`` into the RampModel file ``out_path``.

    Parameters
    ----------
    exposure : Exposure
        The raw exposure (TvacModel or ScienceRawModel), open.
    model : DataModel
        The same file opened by roman_datamodels with a lazy tree (metadata
        only: its arrays are never read through it).
    refs : ReferenceSet
        Validated reference files.
    out_path : Path
        Where to write (the caller renames it into place afterwards).
    scratch : Path
        Directory for temporary files (a copy of a remote or compressed input).
    workers : int, optional
        Threads; default the number of CPUs (at most 4).

    Returns
    -------
    dict
        ``cal_step`` and ``ref_file`` of the result, and ``stream_sums``: the
        :class:`~processing.frame_sums.StreamSums` of the arrays hashed as they
        were written (for :func:`~processing.frame_sums.seal`), or None.
    """
    from roman_datamodels.dqflags import group, pixel

    n_reads, height, width = exposure.shape
    problem = check_geometry(height, width)
    if problem:
        raise ExposureError(exposure.uri, problem)
    workers = workers or max(1, min(4, os.cpu_count() or 1))

    cube = yield from scaled(InputCube.open_job(exposure, scratch), *_SPANS["input"], "input: ")
    writer = None
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="calibrate")
    # Reference files are loaded one pass ahead, so that no pass waits for
    # seconds of lz4 decompression at its start.
    loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="calibrate-refs")
    opened = _Opened()
    stream_sums = _Sinks()
    stop_loading = threading.Event()
    done = False
    engine_runtime.enter()  # one BLAS thread, GC frozen: left in the finally below
    try:
        # Saturation and linearity references are read by row bands as the
        # passes need them; the refpix one (needed whole) is loaded ahead.
        threshold = opened.add(RefArray(refs.paths["saturation"], "data"))
        threshold_dq = opened.add(RefArray(refs.paths["saturation"], "dq"))
        refpix_future = loader.submit(_load_refpix, refs.paths["refpix"])
        read_pattern = _read_pattern(model, n_reads, exposure.uri)
        plan = LinearityPlan(n_reads, height, width, group.SATURATED) if compiled_linearity(refs, read_pattern) else None
        is_tvac = type(model).__name__ in ("TvacModel", "FpsModel")
        encoding_offset = getattr(model.meta.instrument, "data_encoding_offset", 0) or 0
        # Flight L1 data had the reference read subtracted on board; dq_init
        # adds it back (TVAC files already include it).
        reference_read = None if is_tvac else _single_plane(cube.arrays.get("reference_read"), (height, width), exposure.uri)
        reference_amp33 = None if is_tvac else _single_plane(cube.arrays.get("reference_amp33"), (height, cube.arrays["amp33"].shape[2]), exposure.uri)
        big = {name: (arr.shape, arr.dtype, exposure.arrays[name].ref.unit) for name, arr in cube.arrays.items()
               if name not in ("data", "amp33") and len(arr.shape) == 3 and np.prod(arr.shape) * arr.dtype.itemsize > steps._BIG_INPUT_BYTES}

        # -- dq_init on a one-frame stand-in: pixel DQ, border DQ and metadata.
        yield Progress(_SPANS["setup"][0], "dq_init")
        mask = _open_ref(refs.paths["mask"], "MaskRefModel")
        try:
            ramp = steps.dq_init_skeleton(model, cube.arrays["data"].frame(0), cube.arrays["amp33"].frame(0), mask, big)
        finally:
            mask.close()
        pixeldq = np.array(ramp.pixeldq, dtype=np.uint32)
        _skeleton_meta(ramp, refs)
        shape = (n_reads, height, width)
        ramp.data = placeholder(shape, np.float32)
        ramp.groupdq = placeholder(shape, np.uint8)
        ramp.pixeldq = placeholder((height, width), np.uint32)
        ramp.amp33 = placeholder((n_reads, height, cube.arrays["amp33"].shape[2]), np.uint16)
        ramp.border_ref_pix_left = placeholder((n_reads, height, 4), np.float32)
        ramp.border_ref_pix_right = placeholder((n_reads, height, 4), np.float32)
        ramp.border_ref_pix_top = placeholder((n_reads, 4, width), np.float32)
        ramp.border_ref_pix_bottom = placeholder((n_reads, 4, width), np.float32)
        filled = ["data", "groupdq", "pixeldq", "amp33", "border_ref_pix_left", "border_ref_pix_right",
                  "border_ref_pix_top", "border_ref_pix_bottom"]
        passed = [name for name in sorted(big) if getattr(ramp, name, None) is not None]
        for name in passed:
            template = getattr(ramp, name)
            arr = placeholder(cube.arrays[name].shape, np.asarray(template).dtype)
            if hasattr(template, "unit"):  # a Quantity: keep its unit and integer dtype
                arr = type(template)(arr, template.unit, dtype=arr.dtype, copy=False)
            setattr(ramp, name, arr)
        cal_step = {k: str(v) for k, v in ramp.meta.cal_step.items()}
        ref_file = {k: (dict(v) if hasattr(v, "items") else str(v)) for k, v in ramp.meta.ref_file.items()}
        writer = stream_sums.writer = RampFileWriter(out_path, ramp, filled + passed)
        del ramp
        yield Progress(_SPANS["setup"][1], "output file laid out")

        # -- pass 1: saturation and the refpix offsets, by row bands.
        offset = np.empty((height, width + cube.arrays["amp33"].shape[2]), np.float32)
        top = np.empty((n_reads, 4, width), np.float32)
        bottom = np.empty((n_reads, 4, width), np.float32)
        halo = steps.STEP_PARAMETERS["saturation"]["n_pix_grow_sat"]
        resultant_dq = cube.arrays.get("resultantdq")
        all_saturated = [True, True]

        def pass1(band):
            y0, y1 = band
            h0, h1 = max(0, y0 - halo), min(height, y1 + halo)
            data = steps.raw_to_float(cube.arrays["data"].band(h0, h1), encoding_offset,
                                      None if reference_read is None else reference_read[h0:h1])
            gdq = resultant_dq.band(h0, h1).astype(np.uint8) if resultant_dq is not None else np.zeros(data.shape, np.uint8)
            gdq, pdq = steps.saturation_band(data, gdq, pixeldq[h0:h1].copy(), threshold.rows(h0, h1),
                                             threshold_dq.rows(h0, h1), read_pattern)
            core = slice(y0 - h0, y0 - h0 + (y1 - y0))
            data, gdq, pdq = data[:, core], np.ascontiguousarray(gdq[:, core]), pdq[core]
            borders = (data[:, : max(0, 4 - y0)].copy(), data[:, max(0, height - 4 - y0):].copy())
            bad = steps.bad_ref_pixel_mask(pdq)
            if bad.any():
                data[:, bad] = 0
            amp = steps.amp33_to_float(cube.arrays["amp33"].band(y0, y1), encoding_offset,
                                       None if reference_amp33 is None else reference_amp33[y0:y1])
            off = offset_band(data, amp)
            writer.write_band("groupdq", y0, gdq)
            if plan is not None:
                plan.band(y0, gdq)
            # Read 0 first: it is almost never all saturated, and then the
            # whole band is not (no pass over the band's N reads).
            sat_g = bool(np.all(gdq[0] & group.SATURATED)) and bool(np.all(gdq & group.SATURATED))
            sat_p = bool(np.all(pdq & pixel.SATURATED))
            return y0, y1, pdq, off, borders, (sat_g, sat_p)

        def keep1(result):
            y0, y1, pdq, off, (b_top, b_bottom), (sat_g, sat_p) = result
            pixeldq[y0:y1] = pdq
            offset[y0:y1] = off
            if b_top.shape[1]:
                top[:, y0 : y0 + b_top.shape[1]] = b_top
            if b_bottom.shape[1]:
                start = max(y0, height - 4) - (height - 4)
                bottom[:, start : start + b_bottom.shape[1]] = b_bottom
            all_saturated[0] &= sat_g
            all_saturated[1] &= sat_p

        rows = band_rows(n_reads, height, width)
        compiled = None
        if halo == 0 and compiled_pass1(cube, threshold, threshold_dq, read_pattern, encoding_offset, reference_read) is None:
            compiled = Pass1Bands(cube, threshold, threshold_dq, pixeldq, read_pattern, encoding_offset, reference_read,
                                  reference_amp33, resultant_dq, writer, plan, rows)
        try:
            yield from run_pieces(pool, _bands(height, rows), compiled or pass1, keep1, _SPANS["pass1"],
                                  "saturation + refpix sums", workers)
        finally:
            if compiled is not None:
                compiled.close()
        opened.close_all()
        if all_saturated[0] or all_saturated[1]:
            raise ExposureError(exposure.uri, "every pixel is saturated: romancal returns a zeroed image instead of a ramp, so there is nothing to calibrate")

        if plan is not None:
            plan.index()
            linearity_future = loader.submit(load_linearity, refs, pixeldq.copy(), stop_loading)

        # -- pass 2: refpix, one read at a time.
        coeffs, channels = refpix_future.result()
        del refpix_future
        corrector = FrameCorrector(coeffs, offset, plan=channels)
        pass2 = RefpixPass(cube, writer, corrector, plan, pixeldq, encoding_offset, reference_read, reference_amp33)
        yield from run_pieces(pool, list(range(n_reads)), pass2, lambda k: None, _SPANS["pass2"], "refpix read", workers)
        corrector = coeffs = channels = offset = pass2 = None  # frees ~0.5 GB (and its buffers) before pass 3
        # romancal's border_ref_pix_left/right are views of the refpix output
        # that linearity then corrects in place: they end up as the final
        # data's outer four columns.
        left = np.empty((n_reads, height, 4), np.float32)
        right = np.empty((n_reads, height, 4), np.float32)
        if plan is not None:
            yield from pass3_by_reads(pool, writer, plan, linearity_future.result(), pixeldq, read_pattern,
                                      left, right, workers, stream_sums, _SPANS["pass3"])
        else:
            yield from pass3_by_bands(pool, writer, refs, opened, pixeldq, read_pattern, left, right, workers,
                                      _bands(height, rows), _SPANS["pass3"])

        # -- the small arrays and anything passed through unchanged.
        writer.write_array("pixeldq", pixeldq)
        writer.write_array("border_ref_pix_left", left)
        writer.write_array("border_ref_pix_right", right)
        writer.write_array("border_ref_pix_top", top)
        writer.write_array("border_ref_pix_bottom", bottom)
        for name in passed:
            for k in range(cube.arrays[name].shape[0]):
                writer.write_frame(name, k, cube.arrays[name].frame(k))
        yield Progress(1.0, "calibrated")
        done = True
        return {"cal_step": cal_step, "ref_file": ref_file, "stream_sums": stream_sums or None}
    finally:
        engine_runtime.leave()  # first: nothing below can skip it
        if not done:
            for sink in stream_sums.values():
                sink.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        stop_loading.set()
        loader.shutdown(wait=True, cancel_futures=True)
        opened.close_all()
        if writer is not None:
            writer.close()
        cube.close()
