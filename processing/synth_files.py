"""Writing one synthetic exposure: the datamodel around the reads, saved so that no half-written file remains."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .asdf_recompress import recompress_lz4
from .progress import Job, Progress, run
from .synth_config import AMP33_WIDTH, DETECTOR, FILTER, FULL_SIZE, ILLUM_STAMP, SynthConfig
from .synth_detector import Detector
from .synth_reads import generate_frames

log = logging.getLogger(__name__)


@dataclass
class ExposurePlan:
    """What one synthetic exposure is.

    Attributes
    ----------
    path : Path
    stamp : str
        Timestamp of the file name (YYYYMMDDhhmmss).
    illuminated : bool
    model : {"tvac", "raw"}
        Write a ``TvacModel`` or a flight ``ScienceRawModel``.
    seed_offset : int
        Separates the noise of different exposures.
    """

    path: Path
    stamp: str
    illuminated: bool
    model: str = "tvac"
    seed_offset: int = 0



def _time(stamp: str):
    from astropy.time import Time

    iso = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[8:10]}:{stamp[10:12]}:{stamp[12:14]}"
    return Time(iso, format="isot", scale="utc")


_WARM: threading.Thread | None = None
_WARM_LOCK = threading.Lock()


def prewarm_datamodels() -> None:
    """Import roman_datamodels and make one TvacModel, on a background thread (once per process).

    Seconds of pure Python -- the package's import, then the schemas the
    first model loads -- that would otherwise run one after the other
    before the first read.  The detector's maps are numpy work that
    releases the GIL, so on two cores the two overlap.  :func:`_build_model`
    waits for it.
    """
    global _WARM

    def warm():
        try:
            from roman_datamodels import datamodels as rdm

            rdm.TvacModel.create_fake_data(shape=(1, 8, 8))
        except Exception:  # noqa: BLE001 - only a head start: _build_model reports real failures
            log.debug("synth: prewarming roman_datamodels failed", exc_info=True)

    with _WARM_LOCK:
        if _WARM is None:
            _WARM = threading.Thread(target=warm, name="synth-prewarm", daemon=True)
            _WARM.start()


def _build_model(plan: ExposurePlan, cfg: SynthConfig, data: np.ndarray, amp33: np.ndarray):
    """A TvacModel or ScienceRawModel around (memory-mapped) arrays."""
    import astropy.units as u

    with _WARM_LOCK:
        warming = _WARM
    if warming is not None:
        warming.join()
    from roman_datamodels import datamodels as rdm

    nread = data.shape[0]
    start = _time(plan.stamp)
    if plan.model == "tvac":
        model = rdm.TvacModel.create_fake_data(shape=(1, 8, 8))
        model.data = u.Quantity(data, u.DN, dtype=np.uint16, copy=False)
        model.amp33 = u.Quantity(amp33, u.DN, dtype=np.uint16, copy=False)
        model.guidewindow = u.Quantity(np.zeros((nread, 16, 16), np.uint16), u.DN, dtype=np.uint16, copy=False)
        exp = model.meta.exposure
        exp.type = "WFI_IMAGE" if plan.illuminated else "WFI_DARK"
        exp.start_time = start
        exp.ngroups = nread
        exp.nframes = 1
        exp.frame_divisor = 1
        exp.groupgap = 0
        exp.frame_time = cfg.frame_time
        exp.group_time = cfg.frame_time
        exp.exposure_time = cfg.frame_time * nread
        exp.ma_table_name = "TVAC_SATURATION_55" if nread == 55 else f"TVAC_SATURATION_{nread}"
        exp.ma_table_number = 1
        exp.read_pattern = [[i + 1] for i in range(nread)]
        gt = model.meta.groundtest
        gt.test_name = "WFI Bright Star Saturation" if plan.illuminated else "WFI Bright Star Saturation: final dark"
        gt.test_phase = "TVAC2"
        gt.test_environment = "TOHOTQUAL"
        gt.test_script = "WFISAT"
        gt.detector_id = "SCA11"
        gt.detector_temp = 95.0
        gt.ota_temp = 265.0
        gt.readout_col_num = FULL_SIZE + AMP33_WIDTH
        gt.product_date = start
        gt.conversion_date = start
        gt.frames_temp = np.full(nread, 95.0)
        model.meta.hdf5_telemetry = "synthetic (brightstar-gui processing.synth)"
    elif plan.model == "raw":
        model = rdm.ScienceRawModel.create_fake_data(shape=(1, 8, 8))
        model.data = data.view(np.ndarray)  # asdf validates plain ndarrays, not memmaps
        model.amp33 = amp33
        exp = model.meta.exposure
        exp.type = "WFI_IMAGE" if plan.illuminated else "WFI_DARK"
        exp.start_time = start
        exp.end_time = _time(plan.stamp) + cfg.frame_time * nread * u.s
        exp.nresultants = nread
        exp.frame_time = cfg.frame_time
        exp.exposure_time = cfg.frame_time * nread
        exp.effective_exposure_time = cfg.frame_time * (nread - 1)
        exp.ma_table_name = f"SYNTH_{nread}"
        exp.ma_table_number = 1
        exp.read_pattern = [[i + 1] for i in range(nread)]
        exp.truncated = False
    else:
        raise ValueError(f"unknown model kind {plan.model!r}; expected 'tvac' or 'raw'")
    model.meta.instrument.detector = DETECTOR
    model.meta.instrument.optical_element = FILTER if plan.illuminated else "DARK"
    return model


def _compression_arg(compression: str) -> str | None:
    if compression in ("none", None, ""):
        return None
    if compression not in ("lz4", "zlib", "bzp2"):
        raise ValueError(f"unknown compression {compression!r}; expected none, lz4, zlib or bzp2")
    return compression


def _save_atomically(model, path: Path, compression: str, stream: bool = True) -> None:
    """Save a datamodel to ``path`` via a scratch directory (no half-written files).

    The file is written under its final name (romancal records
    ``meta.filename``) in a hidden sibling directory, then renamed into place.
    ``stream=False`` lets asdf lz4-compress each block in memory (the
    reference files: a few hundred MB, written once instead of saved and
    re-encoded); the default re-encodes an uncompressed save block by block.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.parent / f".partial-{os.getpid()}-{path.name}"
    scratch.mkdir(exist_ok=True)
    comp = _compression_arg(compression)
    from .writers import disk_full_error

    try:
        if comp == "lz4" and stream:
            # asdf would hold the whole compressed cube in memory: save
            # uncompressed, then re-encode block by block.
            model.save(scratch / path.name, all_array_compression=None)
            recompress_lz4(scratch / path.name, scratch / (path.name + ".lz4"))
            os.replace(scratch / (path.name + ".lz4"), path)
        else:
            model.save(scratch / path.name, all_array_compression=comp)
            os.replace(scratch / path.name, path)
    except OSError as err:  # ENOSPC, EROFS: said plainly, nothing left behind
        raise disk_full_error(err, path, getattr(getattr(model, "data", None), "nbytes", None), "the synthetic exposure") from err
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_exposure_job(plan: ExposurePlan, cfg: SynthConfig, det: Detector | None = None) -> Job[Path]:
    """Write one synthetic exposure, frame by frame, reporting progress.

    Uncompressed exposures (the default) are written in place: the file's
    tree and block headers first, its bytes reserved, then each read into
    its place in the data block (:func:`_write_in_place`).  Compressed ones
    go through a scratch memory map and a save (:func:`_write_via_memmap`).
    Either way memory holds a few frames, not the cube, the blocks carry
    their MD5 checksums, and the file appears under its name only when
    complete (it never changes afterwards: readers check that).
    """
    det = det if det is not None else Detector(cfg)
    plan.path.parent.mkdir(parents=True, exist_ok=True)
    from .writers import remove_stale_partials

    remove_stale_partials(plan.path.parent)
    if _compression_arg(cfg.compression) is None:
        yield from _write_in_place(plan, cfg, det)
    else:
        yield from _write_via_memmap(plan, cfg, det)
    log.info("synth: wrote %s (%s)", plan.path, cfg.compression)
    yield Progress(1.0, f"{plan.path.name}: done")
    return plan.path


def _write_in_place(plan: ExposurePlan, cfg: SynthConfig, det: Detector) -> Job[None]:
    """Fill an uncompressed exposure's blocks in place, read by read.

    The model is built around untouched zero placeholders of the cube's
    shape (no memory), serialised with them skipped
    (:class:`~processing.calibrate.ramp_file.RampFileWriter`: tree, block
    headers, ``posix_fallocate``), and each read is written with ``pwrite``
    at its offset: the cube is written once, not into a scratch map and then
    copied.  The reads are hashed as they go, on a thread of their own
    while the next read is built, and the MD5s go into the block headers
    before the rename.  The file is made in a hidden sibling folder under
    its final name (romancal records ``meta.filename``).
    """
    import hashlib

    from .calibrate.ramp_file import RampFileWriter, placeholder
    from .writers import disk_full_error

    n = cfg.size
    scratch = plan.path.parent / f".partial-{os.getpid()}-{plan.path.name}"
    target = scratch / plan.path.name
    writer = None
    names = ("data", "amp33")
    hashes = {name: hashlib.md5(usedforsecurity=False) for name in names}
    hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth-md5")
    hashed = None
    try:
        try:
            scratch.mkdir(exist_ok=True)
            model = _build_model(plan, cfg, placeholder((cfg.frames, n, n), np.uint16),
                                 placeholder((cfg.frames, n, AMP33_WIDTH), np.uint16))
            writer = RampFileWriter(target, model, names, what="the synthetic exposure")
        except OSError as err:
            raise disk_full_error(err, target, cfg.frames * n * (n + AMP33_WIDTH) * 2, "the synthetic exposure") from err
        del model

        def put(k: int, frame: np.ndarray, amp: np.ndarray) -> None:
            for name, plane in zip(names, (frame, amp)):
                writer.write_frame(name, k, plane)
                hashes[name].update(plane)  # in file order: the block's bytes

        for k, frame, amp in generate_frames(cfg, det, plan.illuminated, plan.seed_offset):
            if hashed is not None:
                hashed.result()
            hashed = hasher.submit(put, k, frame, amp)
            yield Progress(0.95 * (k + 1) / cfg.frames, f"{plan.path.name}: read {k + 1}/{cfg.frames}")
        if hashed is not None:
            hashed.result()
        known = {}
        for name in names:
            slot = writer.arrays[name]
            known[slot.offset] = (int(np.prod(slot.shape)) * slot.file_dtype.itemsize, hashes[name].digest())
        writer.close()
        write_checksums(target, known)
        try:
            os.replace(target, plan.path)
        except OSError as err:
            raise disk_full_error(err, plan.path, None, "the synthetic exposure") from err
    finally:
        hasher.shutdown(wait=True, cancel_futures=True)
        if writer is not None:
            writer.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _write_via_memmap(plan: ExposurePlan, cfg: SynthConfig, det: Detector) -> Job[None]:
    """Fill a scratch memory map next to the output, then save it compressed (asdf compresses whole blocks)."""
    from .writers import disk_full_error, preallocate

    n = cfg.size
    scratch = plan.path.with_name(f".partial-{os.getpid()}-{plan.path.name}.cube.npy")
    try:
        try:
            data = np.lib.format.open_memmap(scratch, mode="w+", dtype=np.uint16, shape=(cfg.frames, n, n))
            # Reserve the cube's bytes: writing a sparse memory map on a full
            # disk is SIGBUS; here it is an error naming the place and the size.
            with open(scratch, "r+b") as fh:
                preallocate(fh.fileno(), os.fstat(fh.fileno()).st_size, scratch, "the synthetic cube")
        except OSError as err:
            raise disk_full_error(err, scratch, cfg.frames * n * n * 2, "the synthetic cube") from err
        amp33 = np.empty((cfg.frames, n, AMP33_WIDTH), np.uint16)
        for k, frame, amp in generate_frames(cfg, det, plan.illuminated, plan.seed_offset):
            data[k] = frame
            amp33[k] = amp
            yield Progress(0.8 * (k + 1) / cfg.frames, f"{plan.path.name}: read {k + 1}/{cfg.frames}")
        data.flush()
        model = _build_model(plan, cfg, data, amp33)
        yield Progress(0.85, f"{plan.path.name}: saving")
        _save_atomically(model, plan.path, cfg.compression)
        del model, data
    finally:
        if scratch.exists():
            scratch.unlink()


def write_checksums(path, known: dict[int, tuple[int, bytes]] | None = None) -> int:
    """Write the MD5 checksum of every uncompressed block of ``path`` that has none; return how many.

    The checksum asdf writes (of the block's stored bytes), so ``brightstar
    verify`` and ``asdf.open(validate_checksums=True)`` check the file.
    Compressed blocks and blocks that have a checksum are left alone.  A
    file that readers may have open must not be changed: call this before
    the file takes its name.

    Parameters
    ----------
    known : dict, optional
        Data offset of a block -> (its byte count, its MD5 digest), computed
        while writing it: used instead of reading the block again.
    """
    import hashlib

    from .asdf_blocks import _BLOCK_HEADER, read_layout
    from .sources import LocalFileSource

    known = known or {}
    piece = 16 << 20
    source = LocalFileSource(Path(path))
    patches = []
    try:
        for block in read_layout(source).blocks:
            if block.compression is not None or any(block.checksum):
                continue
            size, digest = known.get(block.data_offset, (None, None))
            if size != block.used_size:
                md5 = hashlib.md5(usedforsecurity=False)
                for pos in range(0, block.used_size, piece):
                    md5.update(source.read(block.data_offset + pos, min(piece, block.used_size - pos)))
                digest = md5.digest()
            patches.append((block.offset + 6, _BLOCK_HEADER.pack(block.flags, b"\0" * 4, block.allocated_size,
                                                                 block.used_size, block.data_size, digest)))
    finally:
        source.close()
    fd = os.open(path, os.O_RDWR)
    try:
        for where, header in patches:  # after reading: the source checks the file did not change under it
            os.pwrite(fd, header, where)
    finally:
        os.close(fd)
    return len(patches)


def write_exposure(path, frames: int = 55, size: int = FULL_SIZE, seed: int = 0, compression: str = "none",
                   illuminated: bool = True, model: str = "tvac", **config) -> Path:
    """Write one synthetic exposure (see :class:`SynthConfig`); return its path."""
    cfg = SynthConfig(frames=frames, size=size, seed=seed, compression=compression, **config)
    plan = ExposurePlan(path=Path(path), stamp=ILLUM_STAMP, illuminated=illuminated, model=model)
    return run(write_exposure_job(plan, cfg))

