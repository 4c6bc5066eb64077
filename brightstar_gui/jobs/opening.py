"""Opening an exposure and loading what its panes need (Qt-free jobs).

:func:`open_job` gives a :class:`Dataset` (the exposure and the star) -- all
the first paint needs; :func:`context_job` then gives a :class:`Context`
(saturation test, pixel DQ, the references in use, a cached calibration).
Both are frozen: the controller keeps them and hands them to later requests.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from processing import figures
from processing.diagnostics.thresholds import SaturationTest
from processing.io import Exposure, open_exposure
from processing.progress import Progress

_IDS = itertools.count(1)


def readonly(a: np.ndarray | None) -> np.ndarray | None:
    """``a`` marked read-only (requests share arrays across threads, never write them)."""
    if a is None:
        return None
    a = np.asarray(a)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


class GroupdqSaturation:
    """``groupdq & SATURATED`` as uint8 frames: a 'raw' source whose threshold is 1.

    Used when only a calibrated ramp is open (no raw DN to test).
    """

    def __init__(self, groupdq):
        self.groupdq = groupdq
        self.shape = tuple(groupdq.shape)

    def frame(self, k: int) -> np.ndarray:
        return (np.asarray(self.groupdq.frame(k)) & 2).astype(np.uint8)

    def frame_region(self, k, y0, y1, x0, x1, step=1) -> np.ndarray:
        return (np.asarray(self.groupdq.frame_region(k, y0, y1, x0, x1, step)) & 2).astype(np.uint8)

    def cutout(self, y0, y1, x0, x1) -> np.ndarray:
        return (np.asarray(self.groupdq.cutout(y0, y1, x0, x1)) & 2).astype(np.uint8)


@dataclass(frozen=True)
class OpenRequest:
    uri: str
    endpoint_url: str | None = None
    references: dict | None = None  # type -> Path: the user's explicit choice


@dataclass(frozen=True, eq=False)
class Dataset:
    """An opened exposure, as the first paint needs it.

    Attributes
    ----------
    id : int
        Unique per opening: jobs are tagged with it (cancelled on re-open).
    uri : str
    raw : Exposure or None
        The uncal / L1 exposure (raw DN); None when a RampModel was opened.
    calibrated : Exposure or None
        A RampModel opened directly.
    star : (row, col) or None
        None: no source (a dark), see ``star_note``.
    references_override : dict or None
    star_note : str
        Why there is no star ("no star found (a dark?): ..."), shown to the user.
    """

    id: int
    uri: str
    raw: Exposure | None
    calibrated: Exposure | None
    star: tuple[int, int] | None
    references_override: dict | None = None
    star_note: str = ""

    @property
    def primary(self) -> Exposure:
        return self.raw if self.raw is not None else self.calibrated  # type: ignore[return-value]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.primary.shape)  # type: ignore[return-value]

    @cached_property
    def read_times(self) -> np.ndarray | None:
        """:attr:`Exposure.read_times`, computed once (every pixel click needs them; 55 means cost ms)."""
        return self.primary.read_times


@dataclass(frozen=True, eq=False)
class Context:
    """What the derived panes need, loaded after the first paint.

    Attributes
    ----------
    dataset_id : int
    sat_dn : (H, W) float32 or None, read-only
    saturation : SaturationTest or None
        Prepared for the dtype of ``sat_source`` (reads only afterwards).
    sat_source : frame source or None
        Raw frames, or ``groupdq & SATURATED`` of a calibrated-only exposure.
    pixeldq : (H, W) uint32 or None, read-only
    bad : (H, W) bool or None, read-only (``pixeldq != 0``)
    references : dict type -> Path
    references_from : str
        Where they were found ("the data set's manifest", a folder, ...).
    notes : tuple of str
    """

    dataset_id: int
    sat_dn: np.ndarray | None = None
    saturation: SaturationTest | None = None
    sat_source: Any = None
    pixeldq: np.ndarray | None = None
    bad: np.ndarray | None = None
    references: dict = field(default_factory=dict)
    references_from: str = ""
    notes: tuple[str, ...] = ()


def open_job(req: OpenRequest):
    """Open ``req.uri`` for display: a progress generator returning a :class:`Dataset`.

    Only what the first paint needs: the exposure (decompressed to the cache
    first if it is zlib/bzp2) and the star for the default cutout.
    """
    yield Progress(0.02, f"opening {Path(str(req.uri)).name}")
    exp = open_exposure(req.uri, endpoint_url=req.endpoint_url)
    try:
        if exp.needs_preparation:
            for report in exp.prepare():
                yield Progress(0.05 + 0.8 * report.fraction, report.message)
        yield Progress(0.9, "finding the star")
        star, note = locate_star(exp)
        is_ramp = exp.model_type == "RampModel"
        ds = Dataset(id=next(_IDS), uri=str(req.uri), raw=None if is_ramp else exp, calibrated=exp if is_ramp else None,
                     star=star, references_override=req.references, star_note=note)
        yield Progress(1.0, "open")
        return ds
    except BaseException:
        exp.close()
        raise


def locate_star(exp: Exposure) -> tuple[tuple[int, int] | None, str]:
    """The star of an exposure's last read, or ``(None, why)`` -- a dark has none.

    :func:`processing.diagnostics.centroid.find_star`, the one rule (the CLI
    uses it too), on a 4x-strided last read (a quarter of the row bands; the
    star is many pixels wide).  Saturated: the RampModel's group DQ, else raw
    DN at :data:`~processing.diagnostics.centroid.SATURATED_DN_GUESS` (the
    references are not loaded yet).
    """
    from processing.diagnostics.centroid import SATURATED_DN_GUESS, NoSourceError, find_star

    n, h, w = exp.shape
    step = 4 if min(h, w) >= 1024 else 1
    last = np.asarray(exp.frame_region(n - 1, 0, h, 0, w, step))
    if exp.model_type == "RampModel":
        gdq = exp.arrays.get("groupdq")
        saturated = None if gdq is None else (np.asarray(gdq.frame_region(n - 1, 0, h, 0, w, step)) & 2) != 0
    else:
        saturated = last >= SATURATED_DN_GUESS
    try:
        r, c = find_star(last, saturated)
    except NoSourceError as err:
        return None, f"no star found (a dark?): {err}; the cutout is centred on the frame"
    except ValueError as err:
        return None, f"no star found: {err}"
    return (int(r) * step, int(c) * step), ""


def resolve_references(ds: Dataset, endpoint_url: str | None = None) -> tuple[dict, str, list[str]]:
    """The checked reference files the viewer uses, where they came from, and notes.

    :func:`processing.calibrate.references.resolve` -- the one resolution
    for viewer, figures, CLI and calibration (explicit folder, the
    exposure's set, ``BRIGHTSTAR_REFS_DIR``, CRDS, synthetic) -- for the
    types the panes need.
    """
    from processing.calibrate.references import VIEWER_TYPES, resolve
    from processing.errors import ReferenceFileError

    try:
        found = resolve(ds.primary, ds.references_override or None, types=VIEWER_TYPES, endpoint_url=endpoint_url)
    except ReferenceFileError as err:
        return {}, "", [f"reference files not used: {err}"]
    if found is None:
        return {}, "", []
    where = f"{found.source} {found.origin}".strip()
    return dict(found.paths), where, []


@dataclass(frozen=True, eq=False)
class ContextRequest:
    dataset: Dataset
    endpoint_url: str | None = None


def context_job(req: ContextRequest):
    """Reference files, pixel DQ and the saturation test (a progress generator returning :class:`Context`)."""
    ds = req.dataset
    yield Progress(0.1, "reading reference files")
    refs, source, notes = resolve_references(ds, req.endpoint_url)
    shape = ds.shape[1:]
    sat_dn = pixeldq = None
    if "saturation" in refs and ds.raw is not None:
        sat = figures.load_reference_array(refs["saturation"], "data").astype(np.float32, copy=False)
        sat_dn = np.ascontiguousarray(figures.align_to_frame(sat, shape))
    if "mask" in refs:
        dq = figures.load_reference_array(refs["mask"], "dq").astype(np.uint32, copy=False)
        pixeldq = np.ascontiguousarray(figures.align_to_frame(dq, shape))
    exp = ds.primary
    if "pixeldq" in exp.arrays:
        pixeldq = np.asarray(exp.arrays["pixeldq"].read(), dtype=np.uint32)
    saturation, sat_source = _saturation(ds, sat_dn)
    if ds.raw is not None and sat_dn is None:
        notes.append("no saturation reference: the mask and slope-ratio panes need one (Analysis > Reference files)")
    yield Progress(1.0, "references loaded")
    return Context(dataset_id=ds.id, sat_dn=readonly(sat_dn), saturation=saturation, sat_source=sat_source,
                   pixeldq=readonly(pixeldq), bad=readonly(None if pixeldq is None else pixeldq != 0),
                   references=refs, references_from=source, notes=tuple(notes))


def _saturation(ds: Dataset, sat_dn) -> tuple[SaturationTest | None, Any]:
    shape = ds.shape[1:]
    if ds.raw is not None and sat_dn is not None:
        return SaturationTest(sat_dn, shape).prepare(ds.raw.data.dtype), ds.raw
    cal = ds.calibrated
    if cal is not None and "groupdq" in cal.arrays:
        return SaturationTest(np.ones(shape, np.float32), shape).prepare(np.uint8), GroupdqSaturation(cal.arrays["groupdq"])
    return None, None


@dataclass(frozen=True)
class CachedRequest:
    dataset_id: int
    uri: str
    references: dict
    endpoint_url: str | None = None


def cached_calibration_job(req: CachedRequest) -> tuple[int, Path | None]:
    """``(dataset_id, path)`` of a calibrated ramp of ``req.uri`` already in the cache (path None: none).

    A job of its own, after the context: the lookup identifies the input (seconds on a
    full-size file) and must not hold back the mask and ratio panes.
    """
    return req.dataset_id, find_cached_calibration(req.uri, req.references, req.endpoint_url)


def find_cached_calibration(uri: str, refs: dict | None = None, endpoint_url: str | None = None) -> Path | None:
    """A calibrated RampModel of ``uri`` already in the cache, or None (no computation)."""
    from processing import calibrate

    try:
        found = calibrate.find_cached(uri, refs=refs or None, endpoint_url=endpoint_url)
    except Exception:  # noqa: BLE001 - a cache miss, whatever the reason
        return None
    return Path(found) if found else None


@dataclass(frozen=True)
class CalibrateRequest:
    uri: str
    references: dict | None = None
    endpoint_url: str | None = None


def calibration_job(uri: str, refs: dict | None, endpoint_url: str | None = None):
    """The calibration job of :mod:`processing.calibrate` for ``uri``."""
    from processing import calibrate

    return calibrate.calibrate_job(uri, refs=refs or None, endpoint_url=endpoint_url)


@dataclass(frozen=True)
class AttachRequest:
    dataset_id: int
    path: Path
    shape: tuple[int, int, int]


@dataclass(frozen=True, eq=False)
class Attached:
    """A calibrated RampModel opened for the dataset ``dataset_id``."""

    dataset_id: int
    path: Path
    exposure: Exposure
    pixeldq: np.ndarray | None


def attach_job(req: AttachRequest) -> Attached:
    """Open the calibrated ramp at ``req.path`` and check it fits the exposure."""
    cal = open_exposure(str(req.path))
    if tuple(cal.shape) != tuple(req.shape):
        cal.close()
        raise ValueError(f"calibrated ramp {req.path} has shape {cal.shape}; the exposure has {req.shape}")
    dq = np.asarray(cal.arrays["pixeldq"].read(), dtype=np.uint32) if "pixeldq" in cal.arrays else None
    return Attached(req.dataset_id, Path(req.path), cal, readonly(dq))
