"""Which reference files an exposure uses: ONE resolution for viewer, figures, CLI and calibration.

Order of preference:

1. what the user names: a directory (``--refs DIR``, ``--references DIR``,
   the viewer's "Reference files" folder), a mapping type -> file, or a
   :class:`ReferenceSet`;
2. the synthetic set the exposure belongs to (the ``manifest.json`` of
   :mod:`processing.synth` in a folder above it: those references describe
   the same simulated detector);
3. the ``BRIGHTSTAR_REFS_DIR`` environment variable or the ``refs_dir`` setting;
4. CRDS, when the user has it configured (``CRDS_SERVER_URL``, or a
   ``CRDS_PATH`` cache with a server configuration);
5. synthetic references for the exposure's size: the demo set's, else a set
   generated once into the cache directory (generated only when allowed).

:func:`resolve` (and :func:`resolve_job`, with progress) return a frozen
:class:`ReferenceSet` saying which file is used for each type and where the
set came from.  Every file is checked before it is returned
(:mod:`.reference_checks`: checksums, decodable, right model and shapes), so
a bad one is a :class:`~processing.errors.ReferenceFileError` naming it --
never a numpy error half-way through a calibration, nor a wrong result
committed to the cache.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from .. import paths, synth
from ..errors import ReferenceFileError
from ..progress import Job, Progress, run
from .reference_checks import read_tree, reference_type, type_of, validate_reference

log = logging.getLogger(__name__)

__all__ = [
    "REFERENCE_TYPES", "VIEWER_TYPES", "ReferenceSet", "in_folder", "own_set", "resolve", "resolve_job", "validate", "validate_reference",
    "reference_type", "from_directory", "find_synthetic", "configured_refs_dir",
]

#: The reference types romancal's dq_init, saturation, refpix and linearity read.
REFERENCE_TYPES = ("mask", "saturation", "linearity", "inverselinearity", "refpix")

#: ``override_<type>`` parameter of each step.
STEP_OF_TYPE = {
    "mask": "dq_init",
    "saturation": "saturation",
    "refpix": "refpix",
    "linearity": "linearity",
    "inverselinearity": "linearity",
}

#: What the viewer and figures need (saturation thresholds, mask DQ).
VIEWER_TYPES = ("mask", "saturation")

#: Values of :attr:`ReferenceSet.source`.
SOURCES = ("directory", "synthetic set", "environment", "crds", "synthetic")


@dataclass(frozen=True)
class ReferenceSet:
    """The reference files in use for one exposure.

    Attributes
    ----------
    paths : mapping of str to Path
        Reference type -> file (read-only).
    source : str
        Where they came from: ``"directory"`` (named by the user),
        ``"synthetic set"`` (the exposure's own), ``"environment"``
        (``BRIGHTSTAR_REFS_DIR`` / setting), ``"crds"`` or ``"synthetic"``
        (demo or generated).
    origin : str
        The folder or service, for messages ("" when unknown).
    """

    paths: MappingProxyType
    source: str
    origin: str = ""

    def __post_init__(self):
        object.__setattr__(self, "paths", MappingProxyType({t: Path(p) for t, p in dict(self.paths).items()}))

    def identity(self) -> dict:
        """Path, size and modification time of each file (part of the cache key)."""
        out = {}
        for reftype, path in sorted(self.paths.items()):
            stat = Path(path).stat()
            out[reftype] = {"path": str(Path(path).resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        return out

    def as_strings(self) -> dict[str, str]:
        """Reference type -> path as text (as ``meta.ref_file`` records them)."""
        return {k: str(v) for k, v in self.paths.items()}

    def describe(self) -> str:
        """One line: where the set came from."""
        where = f" ({self.origin})" if self.origin else ""
        return f"{self.source}{where}: " + ", ".join(f"{t} {Path(p).name}" for t, p in self.paths.items())

    def step_overrides(self) -> dict:
        """``ExposurePipeline`` step parameters that use exactly these files."""
        steps: dict[str, dict] = {}
        for reftype, path in self.paths.items():
            steps.setdefault(STEP_OF_TYPE[reftype], {})[f"override_{reftype}"] = str(path)
        steps.setdefault("linearity", {})["override_integralnonlinearity"] = "N/A"
        return steps


def validate(refs: ReferenceSet, height: int, width: int, types=REFERENCE_TYPES) -> None:
    """Check every file of a set (see :func:`.reference_checks.validate_reference`)."""
    missing = [t for t in types if t not in refs.paths]
    if missing:
        raise ReferenceFileError(f"no {', '.join(missing)} reference file given ({refs.source})")
    for reftype in types:
        validate_reference(Path(refs.paths[reftype]), reftype, height, width)


# -- 1. a directory ----------------------------------------------------------------------


def configured_refs_dir() -> Path | None:
    """The user's reference directory from ``BRIGHTSTAR_REFS_DIR`` or the ``refs_dir`` setting."""
    from ..cache import read_setting

    value = os.environ.get("BRIGHTSTAR_REFS_DIR") or read_setting("refs_dir")
    return Path(value).expanduser() if value else None


def _scan_folder(directory: Path) -> tuple[dict[str, list[tuple[str | None, Path]]], list[tuple[Path, str]]]:
    """Reference files of a folder by type (with their detector), and the unreadable ones."""
    found: dict[str, list[tuple[str | None, Path]]] = {}
    bad: list[tuple[Path, str]] = []
    for path in sorted(directory.glob("*.asdf")):
        if not path.is_file():  # FIFOs, devices, sockets, folders: never opened
            continue
        try:
            roman = read_tree(path)
        except ReferenceFileError as err:
            bad.append((path, str(err)))
            continue
        reftype = type_of(roman)
        if reftype in REFERENCE_TYPES:
            meta = roman.get("meta") or {}
            det = (meta.get("instrument") or {}).get("detector") if isinstance(meta, dict) else None
            found.setdefault(reftype, []).append((det, path))
    return found, bad


def from_directory(directory: Path, detector: str | None = None, types=REFERENCE_TYPES, source: str = "directory") -> ReferenceSet:
    """One file per reference type from ``directory`` (by the files' own tags).

    A CRDS-like folder may hold the files of several detectors: the one for
    the exposure's ``detector`` is taken.  Two candidates for one type (for
    the same detector) are an error naming both -- picking one silently is
    how a stray copy gets used.  An ``.asdf`` file that cannot be read is an
    error naming it when a type is then missing (it was probably meant to
    be that type).

    Raises
    ------
    ReferenceFileError
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise ReferenceFileError(f"{directory}: reference directory does not exist")
    found, bad = _scan_folder(directory)
    missing = [t for t in types if t not in found]
    if missing:
        if bad:
            damaged = "; ".join(msg for _, msg in bad)
            raise ReferenceFileError(f"{directory}: no usable {', '.join(missing)} reference file: {damaged}")
        names = ", ".join(f"roman_wfi_{t}_*.asdf" for t in missing)
        raise ReferenceFileError(f"{directory}: no {', '.join(missing)} reference file in this directory (expected e.g. {names})")
    chosen: dict[str, Path] = {}
    for reftype in REFERENCE_TYPES:
        candidates = found.get(reftype, [])
        if len(candidates) > 1 and detector is not None:
            mine = [c for c in candidates if c[0] == detector]
            candidates = mine or [c for c in candidates if c[0] is None] or candidates
        if len(candidates) > 1:
            if reftype not in types:
                continue  # not needed here: the ambiguity matters only when it is used
            names = " and ".join(str(p) for _, p in candidates)
            raise ReferenceFileError(f"{directory}: two {reftype} reference files, {names}: keep one (or name the files)")
        if candidates:
            chosen[reftype] = candidates[0][1]
    return ReferenceSet(chosen, source, str(directory))


def in_folder(directory: Path, detector: str | None = None) -> dict[str, Path]:
    """Whatever reference files a folder holds, by type (none required; duplicates are an error)."""
    return dict(from_directory(directory, detector, types=()).paths)


# -- 2. CRDS ---------------------------------------------------------------------------------


def from_crds(model) -> ReferenceSet:
    """Best references from the user's CRDS for the input model (lazy tree)."""
    from .. import crds_env

    try:
        found = crds_env.best_references(model, REFERENCE_TYPES)
    except crds_env.PipelineExit as err:
        raise ReferenceFileError(str(err)) from err
    except Exception as err:  # CRDS raises its own error types
        raise ReferenceFileError(f"CRDS could not give reference files: {type(err).__name__}: {err}") from err
    bad = {t: v for t, v in found.items() if not v or str(v).upper() == "N/A" or str(v).startswith("NOT FOUND")}
    if bad:
        raise ReferenceFileError(f"CRDS has no usable reference for {', '.join(bad)} ({bad})")
    return ReferenceSet({t: Path(found[t]) for t in REFERENCE_TYPES}, "crds", "CRDS")


# -- 3. synthetic -----------------------------------------------------------------------------


def _set_references(manifest_root: Path) -> dict[str, Path] | None:
    manifest = synth.read_manifest(manifest_root)
    if not manifest or "references" not in manifest:
        return None
    return {t: manifest_root / p for t, p in manifest["references"].items() if t in REFERENCE_TYPES} or None


def own_set(exposure_path: Path | None, max_up: int = 5) -> ReferenceSet | None:
    """References of the synthetic set (``manifest.json``) in a folder above the exposure, if any."""
    if exposure_path is None:
        return None
    for root in list(Path(exposure_path).resolve().parents)[:max_up]:
        refs = _set_references(root)
        if refs:
            return ReferenceSet(refs, "synthetic set", str(root))
    return None


def _synthetic_dir(height: int) -> Path:
    return paths.cache_dir() / "references" / f"synthetic-{height}"


def find_synthetic(exposure_path: Path | None, height: int) -> ReferenceSet | None:
    """Existing synthetic references for an exposure of ``height`` rows, or None.

    The synthetic set the exposure belongs to is preferred (its references
    describe the same simulated detector), then the demo set, then a set
    generated earlier into the cache.
    """
    mine = own_set(exposure_path)
    if mine is not None and all(p.exists() for p in mine.paths.values()):
        return mine
    demo = paths.demo_dir()
    manifest = synth.read_manifest(demo)
    if manifest and int(manifest.get("config", {}).get("size", -1)) == height:
        refs = _set_references(demo)
        if refs and all(t in refs and refs[t].exists() for t in REFERENCE_TYPES):
            return ReferenceSet(refs, "synthetic", str(demo))
    generated = _synthetic_dir(height)
    marker = generated / "complete.json"
    if marker.exists():
        try:
            files = json.loads(marker.read_text())
            refs = {t: generated / files[t] for t in REFERENCE_TYPES}
            if all(p.exists() for p in refs.values()):
                return ReferenceSet(refs, "synthetic", str(generated))
        except (OSError, ValueError, KeyError):
            pass
    return None


def synthetic_job(height: int) -> Job[ReferenceSet]:
    """Write the demo references for ``height`` x ``height`` frames into the cache (once).

    Written into a scratch directory and renamed, so an interrupted run
    leaves nothing that looks complete.
    """
    target = _synthetic_dir(height)
    existing = find_synthetic(None, height)
    if existing is not None and existing.source == "synthetic" and Path(existing.paths["mask"]).parent == target:
        return existing
    scratch = target.with_name(f".partial-{os.getpid()}-{target.name}")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        cfg = synth.SynthConfig(frames=2, size=height, seed=0)
        written = yield from synth.write_reference_files_job(scratch, cfg)
        (scratch / "complete.json").write_text(json.dumps({t: Path(p).name for t, p in written.items()}))
        if target.exists():
            shutil.rmtree(target)
        os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    found = find_synthetic(None, height)
    if found is None:  # pragma: no cover - we just wrote it
        raise ReferenceFileError(f"{target}: synthetic references could not be written")
    return found


# -- resolution ---------------------------------------------------------------------------------


def resolve_job(refs=None, *, model=None, exposure_path: Path | None = None, height: int, width: int,
                detector: str | None = None, generate: bool = True, types=REFERENCE_TYPES,
                check: bool = True) -> Job[ReferenceSet | None]:
    """Pick the reference files (see the module docstring) and check them, reporting progress.

    Parameters
    ----------
    refs : path, dict, ReferenceSet or None
        What the user named: a directory, a mapping reference type -> file,
        or a set; None to look further.
    model : DataModel or callable, optional
        The input (lazy tree) for a CRDS look-up, or a function returning it
        (called only when CRDS is asked).
    exposure_path : Path, optional
        The input's local path, to find its synthetic set.
    height, width : int
        Frame size, to check shapes.
    detector : str, optional
        ``WFI01``..``WFI18``, to choose among files in a directory.
    generate : bool
        Whether synthetic references may be generated (False: return None
        when nothing else is found).
    types : tuple of str
        The reference types needed (the viewer needs only mask and saturation).
    check : bool
        Check every file (:func:`validate`); only tests turn this off.

    Returns
    -------
    ReferenceSet or None

    Raises
    ------
    ReferenceFileError
        A named file or directory is missing or bad; two candidates in a
        folder; CRDS cannot answer.
    """
    from .. import crds_env

    chosen: ReferenceSet | None
    if isinstance(refs, ReferenceSet):
        chosen = refs
    elif isinstance(refs, dict):
        chosen = ReferenceSet({t: Path(p) for t, p in refs.items()}, "directory", "given files")
    elif refs is not None:
        chosen = from_directory(Path(refs), detector, types)
    else:
        chosen = own_set(exposure_path)
        if chosen is not None and not all(t in chosen.paths for t in types):
            chosen = None
        if chosen is None and configured_refs_dir() is not None:
            chosen = from_directory(configured_refs_dir(), detector, types, source="environment")
        if chosen is None and crds_env.user_crds_configured():
            the_model = model() if callable(model) else model
            if the_model is None:
                raise ReferenceFileError("CRDS is configured but the exposure's metadata are not available for the look-up")
            chosen = from_crds(the_model)
        if chosen is None:
            chosen = find_synthetic(None, height)
        if chosen is None:
            if not generate:
                return None
            if height != width:
                raise ReferenceFileError(f"no reference files: synthetic ones exist only for square frames, not {height} x {width}")
            yield Progress(0.0, "writing synthetic reference files")
            chosen = yield from synthetic_job(height)
    if check:
        yield Progress(0.5, "checking reference files")
        validate(chosen, height, width, types)
    log.info("reference files: %s", chosen.describe())
    yield Progress(1.0, f"reference files ({chosen.source})")
    return chosen


def resolve(exposure, refs=None, *, types=REFERENCE_TYPES, generate: bool = False, model=None,
            anon: bool = True, endpoint_url: str | None = None) -> ReferenceSet | None:
    """The checked reference files of an open exposure: the one entry point for viewer, figures and CLI.

    Parameters
    ----------
    exposure : processing.io.Exposure
        The raw exposure (its local path, frame size and detector are used;
        S3 exposures skip step 2 of the order).
    refs : path, dict, ReferenceSet or None
        What the user named (see :func:`resolve_job`).
    types : tuple of str
        Types needed; the viewer and figures ask for ``("mask", "saturation")``.
    generate : bool
        Allow writing synthetic references into the cache.
    model : DataModel or callable, optional
        For CRDS; default: the exposure's metadata opened by roman_datamodels
        when (and only when) CRDS is asked.

    Returns
    -------
    ReferenceSet or None
        None when nothing is found and ``generate`` is False.

    Raises
    ------
    ReferenceFileError
    """
    import contextlib

    from .. import crds_env

    _, height, width = exposure.shape
    lazy = contextlib.nullcontext(model)
    if model is None and refs is None and crds_env.user_crds_configured():
        from . import _lazy_model  # roman_datamodels is slow to import: only for CRDS

        lazy = _lazy_model(exposure, anon, endpoint_url)
    with lazy as the_model:
        return run(resolve_job(refs, model=the_model, exposure_path=exposure.source.local_path, height=height,
                               width=width, detector=exposure.get_meta("instrument.detector"), generate=generate,
                               types=types))
