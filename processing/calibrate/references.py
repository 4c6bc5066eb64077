"""Which reference files calibrate an exposure, and are they usable.

Order of preference (the issue's):

1. a directory the user names (``--refs DIR``, ``refs=``, the
   ``BRIGHTSTAR_REFS_DIR`` environment variable or the ``refs_dir`` setting),
   holding one file per reference type;
2. CRDS, when the user has it configured (``CRDS_SERVER_URL``, or a
   ``CRDS_PATH`` cache with a server configuration);
3. synthetic references: those of the synthetic set the exposure belongs to,
   else the demo set's, else a set generated once into the cache directory
   for the exposure's size.

Every file is checked before any step runs -- present, a Roman reference
file of the right type, arrays of the right shape -- so a bad one is reported
as :class:`~processing.errors.ReferenceFileError` naming the file, not as a
numpy error half-way through a calibration.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .. import paths, synth
from ..asdf_blocks import array_ref, read_layout
from ..errors import ExposureError, ReferenceFileError
from ..progress import Job, Progress
from ..sources import LocalFileSource

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

_REFPIX_CHANNELS = 32
_REFPIX_COLUMNS = 140  # 128 + 12 pad columns per channel row


@dataclass(frozen=True)
class ReferenceSet:
    """The reference files of one calibration.

    Attributes
    ----------
    paths : dict of str to Path
        Reference type -> file.
    source : {"directory", "crds", "synthetic"}
        Where they came from.
    """

    paths: dict
    source: str

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

    def step_overrides(self) -> dict:
        """``ExposurePipeline`` step parameters that use exactly these files."""
        steps: dict[str, dict] = {}
        for reftype, path in self.paths.items():
            steps.setdefault(STEP_OF_TYPE[reftype], {})[f"override_{reftype}"] = str(path)
        steps.setdefault("linearity", {})["override_integralnonlinearity"] = "N/A"
        return steps


# -- inspection and validation -------------------------------------------------------


def _read_tree(path: Path) -> dict:
    if not path.exists():
        raise ReferenceFileError(f"{path}: no such reference file")
    if path.is_dir():
        raise ReferenceFileError(f"{path}: is a directory, not a reference file")
    try:
        source = LocalFileSource(path)
    except ExposureError as err:
        raise ReferenceFileError(f"{path}: {err.problem}") from err
    try:
        layout = read_layout(source)
    except Exception as err:
        raise ReferenceFileError(f"{path}: cannot be read as an ASDF reference file ({err})") from err
    finally:
        source.close()
    roman = layout.tree.get("roman") if isinstance(layout.tree, dict) else None
    if not isinstance(roman, dict):
        raise ReferenceFileError(f"{path}: is not a Roman reference file (no 'roman' node)")
    # Check that the blocks the arrays need are really in the file.
    size = path.stat().st_size
    for block in layout.blocks:
        if block.end > size:
            raise ReferenceFileError(f"{path}: is truncated (a block needs bytes up to {block.end:,}, the file has {size:,})")
    return roman


def reference_type(path: Path) -> str | None:
    """The reference type of a file from its tag (``.../reference_files/mask-2.0.0`` -> ``mask``)."""
    roman = _read_tree(path)
    tag = getattr(roman, "tag", None) or ""
    if "/reference_files/" not in tag:
        return None
    return tag.rsplit("/", 1)[-1].rsplit("-", 1)[0]


def _expected(reftype: str, height: int, width: int) -> dict[str, tuple]:
    """Array name -> expected shape (None for "any length") of a reference type."""
    frame = (height, width)
    if reftype == "mask":
        return {"dq": frame}
    if reftype == "saturation":
        return {"data": frame, "dq": frame}
    if reftype in ("linearity", "inverselinearity"):
        return {"coeffs": (None, height, width), "dq": frame}
    if reftype == "refpix":
        nfreq = height * _REFPIX_COLUMNS // 2 + 1
        return {name: (_REFPIX_CHANNELS, nfreq) for name in ("gamma", "zeta", "alpha")}
    raise ValueError(f"unknown reference type {reftype!r}")


def validate_reference(path: Path, reftype: str, height: int, width: int) -> None:
    """Raise :class:`ReferenceFileError` unless ``path`` is a usable ``reftype`` file for (height, width) frames."""
    path = Path(path)
    roman = _read_tree(path)
    tag = getattr(roman, "tag", None) or ""
    found = tag.rsplit("/", 1)[-1].rsplit("-", 1)[0] if "/reference_files/" in tag else None
    if found != reftype:
        what = f"a {found} reference file" if found else f"not a Roman reference file (tag {tag or 'none'})"
        raise ReferenceFileError(f"{path}: is {what}; a {reftype} reference file is needed here")
    for name, shape in _expected(reftype, height, width).items():
        node = roman.get(name)
        try:
            ref = array_ref(node, str(path), f"roman.{name}") if node is not None else None
        except ExposureError as err:
            raise ReferenceFileError(f"{path}: {reftype} array '{name}' is unreadable: {err.problem}") from err
        if ref is None:
            if reftype == "inverselinearity" and name == "dq":
                continue  # optional there
            raise ReferenceFileError(f"{path}: {reftype} reference file has no '{name}' array")
        if len(ref.shape) != len(shape) or any(e is not None and e != s for e, s in zip(shape, ref.shape)):
            want = "(" + ", ".join("n" if e is None else str(e) for e in shape) + ")"
            raise ReferenceFileError(
                f"{path}: {reftype} array '{name}' has shape {tuple(ref.shape)}; "
                f"the exposure's {height} x {width} frames need {want}"
            )
        if reftype in ("linearity", "inverselinearity") and name == "coeffs" and ref.shape[0] < 2:
            raise ReferenceFileError(f"{path}: {reftype} has {ref.shape[0]} coefficient(s); at least 2 are needed")


def validate(refs: ReferenceSet, height: int, width: int) -> None:
    """Check every file of a set (see :func:`validate_reference`)."""
    missing = [t for t in REFERENCE_TYPES if t not in refs.paths]
    if missing:
        raise ReferenceFileError(f"no {', '.join(missing)} reference file given ({refs.source})")
    for reftype in REFERENCE_TYPES:
        validate_reference(Path(refs.paths[reftype]), reftype, height, width)


# -- 1. a directory ----------------------------------------------------------------------


def configured_refs_dir() -> Path | None:
    """The user's reference directory from ``BRIGHTSTAR_REFS_DIR`` or the ``refs_dir`` setting."""
    from ..cache import read_setting

    value = os.environ.get("BRIGHTSTAR_REFS_DIR") or read_setting("refs_dir")
    return Path(value).expanduser() if value else None


def from_directory(directory: Path, detector: str | None = None) -> ReferenceSet:
    """One file per reference type from ``directory`` (by the files' own tags).

    When several files of a type are present, one for the exposure's detector
    is preferred, then the last by name (CRDS numbers files in order).
    """
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise ReferenceFileError(f"{directory}: reference directory does not exist")
    found: dict[str, list[tuple[bool, str, Path]]] = {}
    for path in sorted(directory.glob("*.asdf")):
        try:
            roman = _read_tree(path)
        except ReferenceFileError:
            continue  # not a reference file: ignore it, as a directory may hold other things
        tag = getattr(roman, "tag", None) or ""
        if "/reference_files/" not in tag:
            continue
        reftype = tag.rsplit("/", 1)[-1].rsplit("-", 1)[0]
        if reftype in REFERENCE_TYPES:
            meta = roman.get("meta") or {}
            det = (meta.get("instrument") or {}).get("detector") if isinstance(meta, dict) else None
            found.setdefault(reftype, []).append((detector is not None and det == detector, path.name, path))
    missing = [t for t in REFERENCE_TYPES if t not in found]
    if missing:
        names = ", ".join(f"roman_wfi_{t}_*.asdf" for t in missing)
        raise ReferenceFileError(f"{directory}: no {', '.join(missing)} reference file in this directory (expected e.g. {names})")
    chosen = {t: sorted(c)[-1][2] for t, c in found.items()}
    return ReferenceSet(chosen, "directory")


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
    return ReferenceSet({t: Path(found[t]) for t in REFERENCE_TYPES}, "crds")


# -- 3. synthetic -----------------------------------------------------------------------------


def _set_references(manifest_root: Path) -> dict[str, Path] | None:
    manifest = synth.read_manifest(manifest_root)
    if not manifest or "references" not in manifest:
        return None
    refs = {t: manifest_root / p for t, p in manifest["references"].items()}
    return refs if all(t in refs and refs[t].exists() for t in REFERENCE_TYPES) else None


def _synthetic_dir(height: int) -> Path:
    return paths.cache_dir() / "references" / f"synthetic-{height}"


def find_synthetic(exposure_path: Path | None, height: int) -> ReferenceSet | None:
    """Existing synthetic references for an exposure of ``height`` rows, or None.

    The synthetic set the exposure belongs to is preferred (its references
    describe the same simulated detector), then the demo set, then a set
    generated earlier into the cache.
    """
    candidates: list[Path] = []
    if exposure_path is not None:
        candidates += list(Path(exposure_path).resolve().parents)[:4]
    candidates.append(paths.demo_dir())
    for root in candidates:
        manifest = synth.read_manifest(root)
        if manifest and int(manifest.get("config", {}).get("size", -1)) == height:
            refs = _set_references(root)
            if refs:
                return ReferenceSet({t: refs[t] for t in REFERENCE_TYPES}, "synthetic")
    generated = _synthetic_dir(height)
    marker = generated / "complete.json"
    if marker.exists():
        try:
            files = json.loads(marker.read_text())
            refs = {t: generated / files[t] for t in REFERENCE_TYPES}
            if all(p.exists() for p in refs.values()):
                return ReferenceSet(refs, "synthetic")
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


def resolve_job(refs, *, model=None, exposure_path: Path | None = None, height: int, width: int,
                detector: str | None = None, generate: bool = True) -> Job[ReferenceSet | None]:
    """Pick the reference files (see the module docstring) and validate them.

    Parameters
    ----------
    refs : path, dict, ReferenceSet or None
        A directory, or a mapping reference type -> file, or a set; None to
        look further.
    model : DataModel, optional
        The input (lazy tree), for CRDS.
    exposure_path : Path, optional
        The input's local path, to find its synthetic set.
    height, width : int
        Frame size, to check shapes.
    detector : str, optional
        ``WFI01``..``WFI18``, to choose among files in a directory.
    generate : bool
        Whether synthetic references may be generated (False: return None
        instead).

    Returns
    -------
    ReferenceSet or None
    """
    from .. import crds_env

    if isinstance(refs, ReferenceSet):
        chosen = refs
    elif isinstance(refs, dict):
        chosen = ReferenceSet({t: Path(p) for t, p in refs.items()}, "directory")
    elif refs is not None:
        chosen = from_directory(Path(refs), detector)
    elif configured_refs_dir() is not None:
        chosen = from_directory(configured_refs_dir(), detector)
    elif crds_env.user_crds_configured():
        if model is None:
            raise ReferenceFileError("CRDS is configured but the exposure's metadata are not available for the look-up")
        chosen = from_crds(model)
    else:
        chosen = find_synthetic(exposure_path, height)
        if chosen is None:
            if not generate:
                return None
            if height != width:
                raise ReferenceFileError(f"no reference files: synthetic ones exist only for square frames, not {height} x {width}")
            yield Progress(0.0, "writing synthetic reference files")
            chosen = yield from synthetic_job(height)
    validate(chosen, height, width)
    yield Progress(1.0, f"reference files ({chosen.source})")
    return chosen
