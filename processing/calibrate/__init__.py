"""Calibrate a raw exposure with romancal's exposure steps, cached on disk.

The public face of calibration, used by the GUI and ``brightstar calibrate``::

    from processing.calibrate import calibrate_job, find_cached
    from processing.progress import run

    result = run(calibrate_job("..._uncal.asdf"))      # or drive it in a worker
    result.path        # a RampModel ASDF file: processing.io.open_exposure(result.path)
    result.cal_step    # {"dq_init": "COMPLETE", ..., "ramp_fit": "SKIPPED", ...}
    result.ref_files   # meta.ref_file of the result
    result.from_cache  # True when nothing was computed

    find_cached("..._uncal.asdf")                        # Path or None, computes nothing

Steps are the tutorial's: dq_init, saturation, refpix and linearity, with
every later step skipped.  Two engines give the same result (data within
0.01 DN, identical DQ and ``cal_step``):

``"streaming"`` (default)
    :mod:`.streaming`: romancal's and stcal's own step code on row bands and
    single reads; peak memory about 2-3 GiB whatever the number of reads.
``"romancal"``
    :mod:`.whole_cube`: ``ExposurePipeline.call`` on the whole cube, as in
    the tutorial (about 0.6 GiB per read), in a child process.

Reference files come from a directory, CRDS or the synthetic demo set (see
:mod:`.references`).  Results live in a bounded, least-recently-used disk
cache (:mod:`processing.cache`) keyed by the input's identity, the engine,
the step parameters, the reference files and the software versions.
"""

from __future__ import annotations

import logging

import contextlib
import importlib.metadata
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .. import crds_env
from ..cache import DiskCache, make_key
from ..errors import ExposureError
from ..io import Exposure, open_exposure
from ..progress import Job, Progress, scaled
from . import references
from .references import REFERENCE_TYPES, ReferenceSet
from .steps import SKIPPED_STEPS, STEP_PARAMETERS

log = logging.getLogger(__name__)

__all__ = [
    "CalibrationResult", "ENGINES", "REFERENCE_TYPES", "ReferenceSet", "STEP_PARAMETERS",
    "calibrate_job", "find_cached", "cache_key",
]

ENGINES = ("streaming", "romancal")
#: Bumped when the cached files' content or layout changes.
CACHE_FORMAT = 1
_VERSIONED = ("romancal", "stcal", "roman_datamodels", "rad", "asdf", "numpy", "scipy", "brightstar-gui")
_RAW_MODELS = ("TvacModel", "ScienceRawModel")


@dataclass(frozen=True)
class CalibrationResult:
    """What a calibration produced.

    Attributes
    ----------
    path : Path
        A RampModel ASDF file (uncompressed; :func:`processing.io.open_exposure`
        reads it lazily): ``data`` (N, H, W) float32 DN, ``groupdq`` (N, H, W)
        uint8, ``pixeldq`` (H, W) uint32.
    cal_step : dict of str to str
        ``meta.cal_step``: COMPLETE, SKIPPED or N/A per step.
    ref_files : dict
        ``meta.ref_file``: reference type -> file (and ``crds``: version,
        context).
    from_cache : bool
        True when the result was found in the cache.
    engine : str
    key : str
        The cache key.
    """

    path: Path
    cal_step: dict
    ref_files: dict
    from_cache: bool
    engine: str = "streaming"
    key: str = ""
    references_source: str = field(default="", compare=False)


def _versions() -> dict[str, str]:
    out = {}
    for name in _VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "none"
    return out


def cache_key(exposure: Exposure, engine: str, refs: ReferenceSet) -> str:
    """The cache key of calibrating ``exposure`` with ``engine`` and ``refs``."""
    return make_key({
        "format": CACHE_FORMAT,
        "input": exposure.source.identity,
        "engine": engine,
        "steps": STEP_PARAMETERS,
        "skipped": list(SKIPPED_STEPS),
        "references": refs.identity(),
        "versions": _versions(),
    })


def _check_input(exposure: Exposure) -> None:
    if exposure.model_type not in _RAW_MODELS:
        raise ExposureError(exposure.uri, f"is a {exposure.model_type}: calibration needs a raw exposure ({' or '.join(_RAW_MODELS)})")
    if "amp33" not in exposure.arrays:
        raise ExposureError(exposure.uri, "has no amp33 array: refpix needs the amp33 reference channel")
    from .refpix_streaming import check_geometry

    problem = check_geometry(exposure.shape[1], exposure.shape[2])
    if problem:
        raise ExposureError(exposure.uri, problem)


@contextlib.contextmanager
def _lazy_model(exposure: Exposure, anon: bool, endpoint_url: str | None):
    """The exposure opened by roman_datamodels with a lazy tree (metadata only)."""
    import asdf
    from roman_datamodels import datamodels as rdm

    handles = []
    try:
        try:
            local = exposure.source.local_path
            if local is not None:
                af = asdf.open(local, lazy_load=True, memmap=False, lazy_tree=True)
            else:
                import s3fs

                kwargs = {"client_kwargs": {"endpoint_url": endpoint_url}} if endpoint_url else {}
                fh = s3fs.S3FileSystem(anon=anon, **kwargs).open(exposure.uri, "rb", block_size=1 << 20, cache_type="first")
                handles.append(fh)
                af = asdf.open(fh, lazy_load=True, memmap=False, lazy_tree=True)
            handles.append(af)
            model = rdm.open(af)
        except Exception as err:
            raise ExposureError(exposure.uri, f"roman_datamodels cannot read its metadata: {type(err).__name__}: {err}") from err
        yield model
    finally:
        for handle in reversed(handles):
            with contextlib.suppress(Exception):
                handle.close()


def _output_name(uri: str) -> str:
    """The name romancal would give the result: ``..._uncal.asdf`` -> ``..._cal.asdf``."""
    name = os.fspath(uri).rstrip("/").rsplit("/", 1)[-1]
    stem = name[: -len(".asdf")] if name.endswith(".asdf") else name
    for suffix in ("_uncal", "_l1"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return f"{stem}_cal.asdf"


def _copy_atomically(src: Path, dest: Path) -> Path:
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".partial-{os.getpid()}-{dest.name}")
    from ..writers import disk_full_error, preallocate, remove_stale_partials

    remove_stale_partials(dest.parent)  # left by a kill -9 during an earlier --out
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            preallocate(fout.fileno(), os.fstat(fin.fileno()).st_size, tmp, "the calibrated ramp")
            shutil.copyfileobj(fin, fout, 16 << 20)
        os.replace(tmp, dest)
    except OSError as err:
        raise disk_full_error(err, dest, Path(src).stat().st_size, "the calibrated ramp") from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return dest


def _export(store: DiskCache | None, key: str, src: Path, sums: dict | None, out) -> Path:
    """``src`` (sealed by band digests) copied to ``out`` with MD5 checksums, each band checked on the way.

    An entry found damaged on the way is removed from the cache (the error
    says so); an entry without sums (older format) is copied as it is: its
    blocks then carry the MD5s written when it was sealed.
    """
    from ..sealed_entries import export_entry

    if not sums:
        return _copy_atomically(src, Path(out))
    try:
        return export_entry(src, Path(out), sums)
    except ExposureError as err:
        if store is None:
            raise
        store.remove(key)
        raise ExposureError(err.uri, f"{err.problem}; the entry has been removed: calibrate again to rebuild it") from err


def calibrate_job(uri, *, refs=None, engine: str = "streaming", use_cache: bool = True, out=None,
                  anon: bool = True, endpoint_url: str | None = None) -> Job[CalibrationResult]:
    """Calibrate a raw exposure (dq_init, saturation, refpix, linearity), reporting progress.

    Parameters
    ----------
    uri : str or Path
        A local path or ``s3://bucket/key`` of a TvacModel or ScienceRawModel
        with full 4096 x 4096 frames and amp33.
    refs : str, Path, dict or ReferenceSet, optional
        Reference files: a directory, or reference type -> file.  Default:
        the configured directory, CRDS when configured, else synthetic.
    engine : {"streaming", "romancal"}
    use_cache : bool
        Use a cached result if there is one, and keep the new result in the
        cache.  False: always compute; the result goes to ``out`` if given,
        else replaces the cache entry.
    out : str or Path, optional
        Also write the RampModel file here (``brightstar calibrate --out``).
    anon, endpoint_url
        S3 access, as for :func:`processing.io.open_exposure`.

    Yields
    ------
    Progress
        Fraction done and the step in progress.  Closing the generator (or
        ``run(job, cancel=token)``) stops the work within about a second and
        leaves no cache entry.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    ExposureError
        The input is missing, unreadable, already calibrated or not full-frame.
    ReferenceFileError
        A reference file is missing, unreadable or of the wrong shape.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if out is not None:  # where the result goes is checked before any work
        from ..errors import OutputError
        from ..writers import check_output_dir

        if Path(out).is_dir():
            raise OutputError(out, "is a folder: --out needs a file name (OUT.asdf)")
        check_output_dir(Path(out).parent, "the calibrated ramp")
    crds_env.configure()
    log.info("calibrate %s with the %s engine", uri, engine)
    yield Progress(0.0, "opening the exposure")
    exposure = open_exposure(uri, anon=anon, endpoint_url=endpoint_url)
    checking = None
    try:
        n_reads, height, width = exposure.shape
        early = None
        if refs is not None or not crds_env.user_crds_configured():
            # The files are found without the model: check them (checksums,
            # every array decoded once: I/O, MD5 and lz4, which release the
            # GIL) on a helper thread while romancal and roman_datamodels are
            # imported here (seconds, and GIL-bound).
            early = yield from scaled(
                references.resolve_job(refs, exposure_path=exposure.source.local_path, height=height, width=width,
                                       detector=exposure.get_meta("instrument.detector"), check=False),
                0.0, 0.02, "references: ")
            checking = _start_check(early, height, width)
        _check_input(exposure)
        with _lazy_model(exposure, anon, endpoint_url) as model:
            if early is None:
                refset = yield from scaled(
                    references.resolve_job(refs, model=model, exposure_path=exposure.source.local_path, height=height,
                                           width=width, detector=exposure.get_meta("instrument.detector")),
                    0.0, 0.04, "references: ")
            else:
                yield Progress(0.03, "references: checking reference files")
                checking.result()
                refset = early
            key = cache_key(exposure, engine, refset)
            store = DiskCache()
            if use_cache:
                entry = store.lookup(key)
                if entry is not None:
                    path = _export(store, entry.key, entry.path, entry.sums, out) if out is not None else entry.path
                    yield Progress(1.0, "found in the cache")
                    return CalibrationResult(path, entry.info["cal_step"], entry.info["ref_file"], True, engine, key, refset.source)
            # Room for the new entry: data (4 B) + group DQ (1 B) per pixel and read.
            store.evict(extra=n_reads * height * width * 5)
            with store.scratch() as scratch:
                target = scratch / _output_name(exposure.uri)
                if engine == "streaming":
                    from .streaming import streaming_job

                    info = yield from scaled(streaming_job(exposure, model, refset, target, scratch), 0.04, 0.99, "")
                else:
                    from .whole_cube import romancal_job

                    info = yield from scaled(romancal_job(exposure.uri, refset, target, anon=anon, endpoint_url=endpoint_url),
                                             0.04, 0.99, "romancal: ")
                streamed = info.pop("stream_sums", None)
                record = {**info, "engine": engine, "uri": str(uri), "references_source": refset.source}
                from ..frame_sums import seal

                try:  # band checksums for every later read (MD5s only in an export: see frame_sums)
                    yield Progress(0.995, "checksums")
                    sums = seal(target, streamed, md5=False)
                finally:
                    for sink in (streamed or {}).values():
                        sink.cancel()
                if use_cache or out is None:
                    entry = store.commit(key, target, record, sums)
                    path = _export(store, key, entry.path, sums, out) if out is not None else entry.path
                else:
                    yield Progress(0.997, "checksums: writing the MD5 of every block")
                    path = _export(None, key, target, sums, out)
        yield Progress(1.0, "calibrated")
        return CalibrationResult(path, info["cal_step"], info["ref_file"], False, engine, key, refset.source)
    finally:
        if checking is not None:
            checking.cancel()
            with contextlib.suppress(Exception):
                checking.result()
        exposure.close()


def _start_check(refset: ReferenceSet, height: int, width: int):
    """:func:`references.validate` (then the kernels' warm-up) on a helper thread; a Future (``result()`` raises what it raised)."""
    from concurrent.futures import ThreadPoolExecutor

    def check():
        references.validate(refset, height, width)
        # Then numba's start-up (LLVM, cached kernels: ~1.5 s CPU in a fresh
        # process), off pass 1's critical path too.
        from .linearity_kernel import warm

        warm()

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reference-check")
    try:
        return pool.submit(check)
    finally:
        pool.shutdown(wait=False)


def find_cached(uri, *, refs=None, engine: str = "streaming", anon: bool = True,
                endpoint_url: str | None = None) -> Path | None:
    """The cached calibration of ``uri``, if there is a valid one; computes nothing.

    Parameters are as for :func:`calibrate_job`.  Returns None when there is
    no entry, when it is corrupt (it is then removed), or when its reference
    files would first have to be generated.
    """
    from ..progress import run

    crds_env.configure()
    try:
        exposure = open_exposure(uri, anon=anon, endpoint_url=endpoint_url)
    except ExposureError:
        return None
    try:
        if exposure.model_type not in _RAW_MODELS:
            return None
        _, height, width = exposure.shape
        with _lazy_model(exposure, anon, endpoint_url) as model:
            refset = run(references.resolve_job(refs, model=model, exposure_path=exposure.source.local_path, height=height,
                                                width=width, detector=exposure.get_meta("instrument.detector"), generate=False))
        if refset is None:
            return None
        entry = DiskCache().lookup(cache_key(exposure, engine, refset))
        return entry.path if entry is not None else None
    finally:
        exposure.close()
