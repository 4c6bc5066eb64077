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
file.  Results are remembered per (file, size, mtime, ctime, inode) for the
process, so a file is hashed and decoded once, not at every frame or figure.

A fresh process (a campaign worker, the next ``brightstar calibrate``) would
redo that work (~5.5 s CPU for a 4096 x 4096 set: MD5s and lz4 decodes), so
passing checks are also kept in ``<cache dir>/references/checked.json``,
each with the file's stat identity **and the xxh3-128 of its whole
content**.  A record is used only when the stat identity matches and the
file's bytes hash to the recorded digest again (~0.16 s CPU for the same
set: xxh3 runs at memory speed).  Why that is safe: any write changes the
content digest, whatever happens to the modification time (``touch -d``
or ``cp -p`` can restore an mtime, not the content); the ctime, which no
user call can set, and the inode catch a replaced or rewritten file before
it is hashed; bit rot, which changes no stat field, changes the digest.
Only a file whose bytes are exactly those that passed every check is not
checked again; failures are never recorded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from pathlib import Path

from ..asdf_blocks import array_ref, read_layout
from ..errors import ExposureError, ReferenceFileError
from ..sources import LocalFileSource

log = logging.getLogger(__name__)

_REFPIX_CHANNELS = 32
_REFPIX_COLUMNS = 140  # 128 + 12 pad columns per channel row

_checked: dict[tuple, None] = {}
_checked_lock = threading.Lock()
#: Bumped when the checks change (older records are then not trusted).
_RECORD_VERSION = 1
_RECORD_MAX = 256
_DIGEST_PIECE = 16 * 1024 * 1024


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


def _identity(path: Path) -> list | None:
    """Resolved path, size, mtime, ctime, inode and device of a file (None if it cannot be stat'ed)."""
    try:
        st = path.stat()
        return [str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]
    except OSError:
        return None


def content_digest(path: Path) -> str | None:
    """xxh3-128 of a regular file's bytes (hex), or None if it cannot be read."""
    import xxhash

    digest = xxhash.xxh3_128()
    if not os.path.isfile(path):  # never open a FIFO or a device
        return None
    try:
        with open(path, "rb", buffering=0) as fh:
            while piece := fh.read(_DIGEST_PIECE):
                digest.update(piece)
    except OSError:
        return None
    return digest.hexdigest()


def _record_file() -> Path:
    from .. import paths

    return paths.cache_dir() / "references" / "checked.json"


def _read_record() -> dict:
    try:
        record = json.loads(_record_file().read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) and record.get("version") == _RECORD_VERSION else {}


def _recorded(name: str, identity: list, path: Path) -> bool:
    """True if ``path`` passed the checks named ``name`` in an earlier process and its bytes are unchanged."""
    entry = (_read_record().get("files") or {}).get(name)
    if not isinstance(entry, dict) or entry.get("identity") != identity:
        return False
    return content_digest(path) == entry.get("xxh3_128")


def _remember(name: str, identity: list, digest: str) -> None:
    """Add a passed check to the record (merged with what other processes wrote; atomic replace)."""
    target = _record_file()
    with _checked_lock, contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        files = _read_record().get("files") or {}
        files[name] = {"identity": identity, "xxh3_128": digest, "checked": time.time()}
        if len(files) > _RECORD_MAX:  # the oldest go first
            files = dict(sorted(files.items(), key=lambda kv: kv[1].get("checked", 0))[-_RECORD_MAX:])
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
        tmp.write_text(json.dumps({"version": _RECORD_VERSION, "files": files}))
        os.replace(tmp, target)


def validate_reference(path: Path, reftype: str, height: int, width: int) -> None:
    """Raise :class:`ReferenceFileError` unless ``path`` is a usable ``reftype`` file for (height, width) frames.

    A check passed earlier, in this process or (recorded with the file's
    content digest, see the module docstring) in another, is not redone.
    """
    path = Path(path)
    identity = _identity(path)
    key = (*identity, reftype, height, width) if identity is not None else None
    if key is not None and key in _checked:
        return
    recorded_as = f"{reftype}:{height}x{width}:{identity[0]}" if identity is not None else ""
    if identity is not None and path.is_file() and _recorded(recorded_as, identity, path):
        with _checked_lock:
            _checked[key] = None
        return
    digest = content_digest(path) if identity is not None and path.is_file() else None  # before the checks
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
    if key is not None and _identity(path) == identity:  # unchanged while it was checked
        with _checked_lock:
            _checked[key] = None
        if digest is not None:
            _remember(recorded_as, identity, digest)
