"""A bounded on-disk cache of large derived files (calibrated cubes).

Layout, under ``<cache dir>/calibrated/``::

    <key>.asdf      the entry's data (an uncompressed RampModel)
    <key>.json      its manifest: what it is, its size and a fingerprint
    .partial-<pid>-<random>/   scratch space of a write in progress

An entry is *valid* only when its manifest exists, parses, and the data file
has the size and fingerprint the manifest records.  Writes happen in a
scratch directory; the data file is fsync'ed (by the seal), renamed into
place, and the manifest is written (fsync'ed, renamed atomically) last,
then the cache folder is fsync'ed.  A crash, ``kill -9``, power loss or
cancel at any moment leaves either the old state or a data file without a
manifest -- which is not valid, and is removed when next seen.  Scratch directories of processes
that no longer run are removed when a cache is opened.

The fingerprint hashes the file size, its first and last 64 KiB (the ASDF
tree and block index) and 32 pages spread over the file: cheap enough for
every look-up (a few reads), and it catches truncated files, files replaced
by other content and torn writes.  A single flipped bit in the middle of a
cube is caught on read: the manifest also keeps the entry's band checksums
(:mod:`processing.frame_sums`), which :func:`attach_checks` checks on every
frame, cutout or array read of an opened entry.

Size is bounded by :func:`limit_bytes` (``BRIGHTSTAR_CACHE_LIMIT_GB``, or the
``cache_limit_gb`` setting, default 20 GB); least recently used entries are
evicted first.  A look-up that hits marks the entry used.
"""

from __future__ import annotations

import logging

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .writers import process_alive

log = logging.getLogger(__name__)

DEFAULT_LIMIT_GB = 20.0
_HEAD = 64 * 1024
_PAGE = 4096
_SAMPLES = 32


def read_setting(name: str, default=None):
    """A value of the user's ``settings.json`` in :func:`paths.config_dir`, or ``default``."""
    path = Path(os.environ.get("BRIGHTSTAR_CONFIG_DIR") or paths.config_dir()) / "settings.json"
    try:
        value = json.loads(path.read_text()).get(name, default)
    except (OSError, ValueError, AttributeError):
        return default
    return default if value is None else value


def limit_bytes() -> int:
    """The cache's size bound, bytes (``BRIGHTSTAR_CACHE_LIMIT_GB``, setting ``cache_limit_gb``, or 20 GB)."""
    value = os.environ.get("BRIGHTSTAR_CACHE_LIMIT_GB") or read_setting("cache_limit_gb", DEFAULT_LIMIT_GB)
    try:
        gb = float(value)
    except (TypeError, ValueError):
        gb = DEFAULT_LIMIT_GB
    return int(max(gb, 0.0) * 1e9)


def make_key(parts: dict) -> str:
    """A stable hex key for a JSON-able description of an entry."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def fingerprint(path: Path) -> str:
    """Hash of a file's size, head, tail and sampled pages (see the module docstring)."""
    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    offsets = [0, max(size - _HEAD, 0)]
    lengths = [_HEAD, _HEAD]
    if size > 2 * _HEAD:
        step = (size - 2 * _HEAD) // (_SAMPLES + 1)
        for i in range(1, _SAMPLES + 1):
            offsets.append(_HEAD + i * step)
            lengths.append(_PAGE)
    fd = os.open(path, os.O_RDONLY)
    try:
        for offset, length in zip(offsets, lengths):
            digest.update(os.pread(fd, length, offset))
    finally:
        os.close(fd)
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """A valid cache entry.

    Attributes
    ----------
    key : str
    path : Path
        The data file.
    info : dict
        What the writer stored with it (engine, cal_step, reference files...).
    """

    key: str
    path: Path
    info: dict
    sums: dict | None = None



class DiskCache:
    """A directory of keyed, fingerprinted, LRU-evicted files.

    Parameters
    ----------
    root : Path, optional
        Default ``<cache dir>/calibrated``.
    limit : int, optional
        Size bound in bytes; default :func:`limit_bytes` at each use.
    suffix : str
        File name suffix of the data files.
    """

    def __init__(self, root: Path | None = None, limit: int | None = None, suffix: str = ".asdf"):
        self.root = Path(root) if root is not None else paths.cache_dir() / "calibrated"
        self.root.mkdir(parents=True, exist_ok=True)
        self._limit = limit
        self.suffix = suffix
        self.remove_stale_scratch()

    @property
    def limit(self) -> int:
        if self._limit is not None:
            return self._limit
        from .cache_budget import limit_for

        return limit_for("calibrated")  # its share of the one budget

    def data_path(self, key: str) -> Path:
        return self.root / f"{key}{self.suffix}"

    def manifest_path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    # -- reading --------------------------------------------------------------------------
    def _load(self, key: str) -> CacheEntry | None:
        data, manifest = self.data_path(key), self.manifest_path(key)
        try:
            record = json.loads(manifest.read_text())
            if record.get("key") != key:
                return None
            if data.stat().st_size != record["size"] or fingerprint(data) != record["fingerprint"]:
                return None
            sums = record.get("sums")
            if sums is not None:
                from .frame_sums import head_matches

                if not head_matches(data, sums):
                    return None
            return CacheEntry(key, data, record.get("info", {}), sums)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def lookup(self, key: str, touch: bool = True) -> CacheEntry | None:
        """The valid entry for ``key``, or None (an invalid one is removed).

        Parameters
        ----------
        touch : bool
            Mark the entry as just used (for LRU eviction).
        """
        entry = self._load(key)
        if entry is None:
            if self.data_path(key).exists() or self.manifest_path(key).exists():
                self.remove(key)
            return None
        if touch:
            with contextlib.suppress(OSError):
                os.utime(self.manifest_path(key))
        return entry

    def entries(self) -> list[tuple[float, int, str]]:
        """(last used, bytes, key) of every committed entry, least recently used first."""
        out = []
        for manifest in self.root.glob("*.json"):
            key = manifest.stem
            data = self.data_path(key)
            try:
                used = manifest.stat().st_mtime
                size = data.stat().st_size + manifest.stat().st_size
            except OSError:
                continue
            out.append((used, size, key))
        return sorted(out)

    def total_bytes(self) -> int:
        """Bytes held by committed entries."""
        return sum(size for _, size, _ in self.entries())

    # -- writing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def scratch(self):
        """A private scratch directory inside the cache, removed on exit (also on errors)."""
        path = self.root / f".partial-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        path.mkdir()
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def commit(self, key: str, file: Path, info: dict, sums: dict | None = None) -> CacheEntry:
        """Make ``file`` (in a scratch directory of this cache) the entry for ``key``.

        The data file is renamed into place, then the manifest is written; then
        least recently used entries are evicted down to the size bound (never
        the new entry).  ``sums`` (:func:`processing.frame_sums.seal`) are
        kept in the manifest and checked on every read of the entry.
        """
        file = Path(file)
        data, manifest = self.data_path(key), self.manifest_path(key)
        with contextlib.suppress(FileNotFoundError):
            manifest.unlink()  # the old entry stops being valid before its data changes
        os.replace(file, data)
        record = {
            "key": key,
            "size": data.stat().st_size,
            "fingerprint": fingerprint(data),
            "created": time.time(),
            "info": info,
        }
        if sums is not None:
            record["sums"] = sums
        tmp = manifest.with_name(f".{manifest.name}.{os.getpid()}.partial")
        with open(tmp, "w") as fh:
            fh.write(json.dumps(record, indent=1, default=str))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, manifest)
        fsync_dir(self.root)  # both renames are on disk before the entry is reported committed
        log.info("cache: committed %s (%d bytes)", data, record["size"])
        self.evict(keep={key})
        return CacheEntry(key, data, info, sums)

    def remove(self, key: str) -> None:
        """Delete an entry (manifest first, so it is never valid half-deleted)."""
        for path in (self.manifest_path(key), self.data_path(key)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def evict(self, keep: set[str] = frozenset(), extra: int = 0) -> list[str]:
        """Remove least recently used entries until they fit the bound.

        Parameters
        ----------
        keep : set of str
            Keys never evicted (the entry just written or being read).
        extra : int
            Bytes to make room for (an entry about to be written).

        Returns
        -------
        list of str
            Evicted keys.
        """
        entries = self.entries()
        total = sum(size for _, size, _ in entries) + extra
        evicted = []
        for _, size, key in entries:
            if total <= self.limit:
                break
            if key in keep:
                continue
            self.remove(key)
            log.info("cache: evicted %s (%d bytes, least recently used)", key, size)
            total -= size
            evicted.append(key)
        return evicted

    def remove_stale_scratch(self, max_age: float = 24 * 3600) -> None:
        """Remove scratch directories of dead processes (or older than ``max_age`` s), and orphans."""
        now = time.time()
        for path in self.root.glob(".partial-*"):
            try:
                pid = int(path.name.split("-")[1])
            except (IndexError, ValueError):
                pid = -1
            try:
                old = now - path.stat().st_mtime > max_age
            except OSError:
                continue
            if pid != os.getpid() and (old or pid <= 0 or not process_alive(pid)):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        path.unlink()
        # A data file whose manifest never got written (crash between the two renames).
        for data in self.root.glob(f"*{self.suffix}"):
            if not self.manifest_path(data.name[: -len(self.suffix)]).exists():
                try:
                    if now - data.stat().st_mtime > 60:
                        data.unlink()
                except OSError:
                    pass


def fsync_dir(directory: Path) -> None:
    """fsync a folder (its entries: renames and new names are then on disk); errors ignored."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def entry_record(path) -> dict | None:
    """The manifest of the cache entry whose data file is ``path`` (with band sums), or None if it is not one."""
    if path is None:
        return None
    path = Path(path)
    if path.suffix != ".asdf":
        return None
    try:
        record = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("key") != path.stem or "sums" not in record:
        return None
    return record


def attach_checks(exposure) -> None:
    """If ``exposure`` is an entry of a calibrated cache, check every read against its sums.

    A damaged entry is removed at the first bad read (the error says so),
    so the next calibration rebuilds it.
    """
    path = exposure.source.local_path
    record = entry_record(path)
    if record is None:
        return
    manifest = path.with_suffix(".json")
    from .frame_sums import attach

    cache = path.parent

    def damaged():
        for victim in (manifest, cache / f"{path.stem}.asdf"):
            with contextlib.suppress(OSError):
                victim.unlink()

    attach(exposure, record["sums"], damaged)
