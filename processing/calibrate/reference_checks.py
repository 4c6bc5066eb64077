"""Is a reference file usable: readable, intact, the right model, the right shapes.

Every reference file is checked before it is used (by the viewer, a figure,
or a calibration whose result is committed to the cache):

* it is a regular file holding an ASDF tree with a ``roman`` node tagged as
  the reference type asked for;
* every block it uses is in the file, and matches its MD5 checksum when it
  carries one (a flipped byte in lz4-compressed coefficients decompresses
  "fine" into wrong numbers; only the checksum sees it);
* each array the steps read decodes (every lz4 chunk decompresses to its
  stated size) and has the shape the exposure's frames need.

A failure is a :class:`~processing.errors.ReferenceFileError` naming the
file.  Results are remembered per (file, size, mtime) for the process, so a
file is hashed and decoded once, not at every frame or figure.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ..asdf_blocks import array_ref, read_layout
from ..errors import ExposureError, ReferenceFileError
from ..sources import LocalFileSource

log = logging.getLogger(__name__)

_REFPIX_CHANNELS = 32
_REFPIX_COLUMNS = 140  # 128 + 12 pad columns per channel row

_checked: dict[tuple, None] = {}
_checked_lock = threading.Lock()


def _open(path: Path) -> LocalFileSource:
    try:
        return LocalFileSource(path)
    except ExposureError as err:
        if err.problem == "no such file":
            raise ReferenceFileError(f"{path}: no such reference file") from err
        raise ReferenceFileError(f"{path}: {err.problem}") from err


def read_tree(path: Path) -> dict:
    """The ``roman`` node of a reference file, after checking its blocks are present.

    Raises
    ------
    ReferenceFileError
        Missing, not a regular file, not ASDF, truncated, or no ``roman`` node.
    """
    path = Path(path)
    source = _open(path)
    try:
        layout = read_layout(source)
    except Exception as err:
        raise ReferenceFileError(f"{path}: cannot be read as an ASDF reference file ({err})") from err
    finally:
        source.close()
    roman = layout.tree.get("roman") if isinstance(layout.tree, dict) else None
    if not isinstance(roman, dict):
        raise ReferenceFileError(f"{path}: is not a Roman reference file (no 'roman' node)")
    for block in layout.blocks:
        if block.end > source.size:
            raise ReferenceFileError(f"{path}: is truncated (a block needs bytes up to {block.end:,}, the file has {source.size:,})")
    return roman


def type_of(roman: dict) -> str | None:
    """The reference type from the ``roman`` node's tag (``.../reference_files/mask-2.0.0`` -> ``mask``)."""
    tag = getattr(roman, "tag", None) or ""
    if "/reference_files/" not in tag:
        return None
    return tag.rsplit("/", 1)[-1].rsplit("-", 1)[0]


def reference_type(path: Path) -> str | None:
    """The reference type of a file (None when it is not a reference file)."""
    return type_of(read_tree(Path(path)))


def expected_shapes(reftype: str, height: int, width: int) -> dict[str, tuple]:
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


def _check_bytes(path: Path, names: list[str]) -> None:
    """Checksums of every block, and every array in ``names`` decoded once."""
    from ..io import read_asdf_array
    from ..progress import run
    from ..verify import CORRUPT, verify_source_job

    source = _open(path)
    try:
        result = run(verify_source_job(source, workers=1))
    except ExposureError as err:
        raise ReferenceFileError(f"{path}: damaged reference file: {err.problem}") from err
    finally:
        source.close()
    if result.status == CORRUPT:
        bad = ", ".join(f"block {b.index} at byte {b.offset:,}" for b in result.corrupt)
        raise ReferenceFileError(f"{path}: damaged reference file: {bad} does not match its checksum")
    for name in names:
        try:
            read_asdf_array(path, f"roman.{name}")
        except ExposureError as err:
            raise ReferenceFileError(f"{path}: damaged reference file: {err.problem}") from err


def validate_reference(path: Path, reftype: str, height: int, width: int) -> None:
    """Raise :class:`ReferenceFileError` unless ``path`` is a usable ``reftype`` file for (height, width) frames."""
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, reftype, height, width)
    except OSError:
        key = None
    if key is not None and key in _checked:
        return
    roman = read_tree(path)
    found = type_of(roman)
    if found != reftype:
        tag = getattr(roman, "tag", None) or "none"
        what = f"a {found} reference file" if found else f"not a Roman reference file (tag {tag})"
        raise ReferenceFileError(f"{path}: is {what}; a {reftype} reference file is needed here")
    present = []
    for name, shape in expected_shapes(reftype, height, width).items():
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
        present.append(name)
    _check_bytes(path, present)
    log.debug("reference file %s checked as %s for %d x %d", path, reftype, height, width)
    if key is not None:
        with _checked_lock:
            _checked[key] = None
