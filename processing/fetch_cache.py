"""A local, bounded cache of byte ranges fetched from S3, keyed by ETag.

Reopening an exposure, scrubbing back to a frame already seen, or working
offline should not fetch the same bytes again.  :class:`FetchCache` keeps
every complete range an :class:`~processing.s3.S3Source` fetched, per
*version* of an object (endpoint, bucket, key, ETag and size), so a changed
object never serves stale bytes, plus a small pointer per object naming the
last version seen, so an object can be reopened without the network.

Layout under ``<cache dir>/s3``::

    objects/<object id>.json          the last version seen: etag, size, uri
    data/<version id>/<offset>-<length>.bin   one fetched range (>= 64 KiB),
                                      followed by its xxh3-64 (8 bytes)
    data/<version id>/small.log       small ranges (tree pieces, block and
                                      lz4 chunk headers) as checksummed records

Small ranges share one append-only log because an lz4 block's chunk index is
hundreds of 8-byte headers: as files they would cost a disk block each.  The
log is also what makes the lz4 chunk index a cached index: reopening a file
replays the headers from it without a request.

Nothing partial or damaged is ever served: a range file is written under a
temporary name and renamed into place only when all its bytes are written,
its length is in its name and it ends with the xxh3-64 of its bytes, both
checked on every read (a file that fails is deleted and fetched again); a
log record carries a CRC-32 and a torn or damaged record ends the log.

The cache is bounded by the cache-size setting shared with the other caches
(``BRIGHTSTAR_CACHE_LIMIT_GB``, default 20 GB): past the limit, the least
recently used ranges are deleted.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import struct
import threading
import time
import uuid
import logging
import zlib
from pathlib import Path

import xxhash

from . import paths

log = logging.getLogger(__name__)
_SUM = struct.Struct("<Q")  # xxh3-64 trailer of a range file


class _Damaged(Exception):
    """A range file whose size or checksum is wrong."""

#: Ranges shorter than this go to the small-range log, not a file of their own.
SMALL_RANGE = 64 * 1024
DEFAULT_LIMIT_GB = 20.0
_RECORD = struct.Struct(">4sQII")  # magic, offset, length, crc32 of the data
_MAGIC = b"BSR1"
_SMALL_LOG_LIMIT = 16 * 1024 * 1024  # a log this big stops growing (it is an index, not a data store)


def cache_limit_bytes() -> int:
    """The cache-size setting in bytes (``BRIGHTSTAR_CACHE_LIMIT_GB``, default 20 GB).

    The same setting bounds the calibrated-cube cache: one number for "how
    much disk may brightstar use for a cache".  Read through
    :func:`processing.cache.limit_bytes` (which also knows the settings file)
    when that module is there.
    """
    try:
        from .cache import limit_bytes
    except ImportError:
        limit_bytes = None
    if limit_bytes is not None:
        return int(limit_bytes())
    text = os.environ.get("BRIGHTSTAR_CACHE_LIMIT_GB", "")
    try:
        value = float(text) if text.strip() else DEFAULT_LIMIT_GB
    except ValueError:
        value = DEFAULT_LIMIT_GB
    return max(0, int(value * 1e9))


def _digest(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()[:32]


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")


class CachedObject:
    """The cached ranges of one version of one object.

    Use :meth:`FetchCache.version` to get one.  Thread-safe.

    Parameters
    ----------
    cache : FetchCache
        The owning cache (for accounting and eviction).
    directory : Path
        Where this version's ranges live.
    size : int
        Object size, bytes (ranges never reach past it).
    """

    def __init__(self, cache: FetchCache, directory: Path, size: int):
        self._cache = cache
        self.directory = directory
        self.size = size
        self._lock = threading.Lock()
        self._starts: list[int] = []  # sorted starts of the range files
        self._ranges: list[tuple[int, int]] = []  # (start, length), same order
        self._small: dict[int, bytes] = {}  # offset -> bytes, from the log
        self._small_starts: list[int] = []
        self._log_size = 0
        self._scan()

    # -- loading ---------------------------------------------------------------
    def _scan(self) -> None:
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            names = []
        found = []
        for name in names:
            if name.startswith(".") or not name.endswith(".bin"):
                continue
            try:
                start, length = (int(v) for v in name[:-4].split("-"))
            except ValueError:
                continue
            found.append((start, length))
        found.sort()
        self._ranges = found
        self._starts = [s for s, _ in found]
        self._load_log()

    def _load_log(self) -> None:
        path = self.directory / "small.log"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return
        pos = 0
        while pos + _RECORD.size <= len(raw):
            magic, offset, length, crc = _RECORD.unpack_from(raw, pos)
            data = raw[pos + _RECORD.size : pos + _RECORD.size + length]
            if magic != _MAGIC or len(data) != length or zlib.crc32(data) != crc:
                break  # a torn or foreign record: everything after it is ignored
            self._small[offset] = data
            pos += _RECORD.size + length
        self._small_starts = sorted(self._small)
        self._log_size = len(raw)

    # -- lookups ---------------------------------------------------------------
    def get(self, offset: int, length: int) -> bytes | None:
        """The bytes ``[offset, offset + length)`` if a cached range holds them all."""
        if length <= 0:
            return b""
        end = offset + length
        with self._lock:
            i = bisect.bisect_right(self._small_starts, offset) - 1
            while i >= 0:
                start = self._small_starts[i]
                data = self._small[start]
                if start + len(data) >= end:
                    return data[offset - start : end - start]
                if start + SMALL_RANGE < offset:
                    break  # small ranges are short: earlier ones cannot reach
                i -= 1
            candidates = [
                (s, n) for s, n in self._ranges[: bisect.bisect_right(self._starts, offset)] if s + n >= end
            ]
        for start, n in candidates:
            path = self.directory / f"{start}-{n}.bin"
            try:
                with open(path, "rb") as fh:
                    if os.fstat(fh.fileno()).st_size != n + _SUM.size:
                        raise _Damaged  # e.g. by a crash before the data hit the disk
                    whole = fh.read(n + _SUM.size)
                (expected,) = _SUM.unpack_from(whole, n)
                if len(whole) != n + _SUM.size or xxhash.xxh3_64_intdigest(memoryview(whole)[:n]) != expected:
                    raise _Damaged  # a flipped byte on disk: never served
                os.utime(path)  # mark as recently used, for eviction
            except _Damaged:
                log.warning("S3 fetch cache: %s is damaged; removed (it will be fetched again)", path)
                try:
                    path.unlink()
                except OSError:
                    pass
                self._forget(start, n)
                continue
            except FileNotFoundError:
                self._forget(start, n)
                continue
            except OSError:
                continue
            return whole[offset - start : offset - start + length]
        return None

    def covered(self, offset: int, length: int) -> bool:
        """True if :meth:`get` would find the range (without reading it)."""
        end = offset + length
        with self._lock:
            i = bisect.bisect_right(self._small_starts, offset) - 1
            if i >= 0 and self._small_starts[i] + len(self._small[self._small_starts[i]]) >= end:
                return True
            files = [(s, n) for s, n in self._ranges[: bisect.bisect_right(self._starts, offset)] if s + n >= end]
        # A file may have been evicted (by this or another process) since the scan.
        return any((self.directory / f"{s}-{n}.bin").exists() for s, n in files)

    def _forget(self, start: int, length: int) -> None:
        with self._lock:
            try:
                i = self._ranges.index((start, length))
            except ValueError:
                return
            del self._ranges[i]
            del self._starts[i]

    # -- storing ---------------------------------------------------------------
    def put(self, offset: int, data: bytes) -> None:
        """Record ``data`` as the complete bytes at ``offset``.

        Callers pass only ranges they received in full.  Failures to write
        (a full disk) are ignored: the cache is an optimisation.
        """
        length = len(data)
        if length == 0 or offset < 0 or offset + length > self.size or self.covered(offset, length):
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if length < SMALL_RANGE:
                self._append_small(offset, bytes(data))
            else:
                self._write_range(offset, data)
        except OSError:
            return

    def _append_small(self, offset: int, data: bytes) -> None:
        with self._lock:
            if self._log_size >= _SMALL_LOG_LIMIT:
                self._small[offset] = data  # still served from memory this session
            else:
                record = _RECORD.pack(_MAGIC, offset, len(data), zlib.crc32(data)) + data
                # One write call per record with O_APPEND: records of concurrent
                # writers do not interleave; a crash leaves at most a torn tail.
                fd = os.open(self.directory / "small.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                try:
                    os.write(fd, record)
                finally:
                    os.close(fd)
                self._log_size += len(record)
                self._small[offset] = data
                self._cache._added(len(record))
            self._small_starts = sorted(self._small)

    def _write_range(self, offset: int, data: bytes) -> None:
        final = self.directory / f"{offset}-{len(data)}.bin"
        tmp = _tmp_name(final)
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.write(_SUM.pack(xxhash.xxh3_64_intdigest(data)))
            os.replace(tmp, final)  # the range appears complete or not at all
        finally:
            if tmp.exists():
                tmp.unlink()
        with self._lock:
            if (offset, len(data)) not in self._ranges:
                i = bisect.bisect_left(self._starts, offset)
                self._starts.insert(i, offset)
                self._ranges.insert(i, (offset, len(data)))
        self._cache._added(len(data))

    @property
    def cached_bytes(self) -> int:
        """Bytes of this version held in range files and the small log."""
        with self._lock:
            return sum(n for _, n in self._ranges) + self._log_size


class FetchCache:
    """Fetched byte ranges of S3 objects on local disk, bounded in size.

    Parameters
    ----------
    root : Path, optional
        Directory of the cache; default ``<cache dir>/s3``.
    limit_bytes : int, optional
        Size limit; default :func:`cache_limit_bytes`.
    """

    def __init__(self, root: Path | None = None, limit_bytes: int | None = None):
        self.root = Path(root) if root is not None else paths.cache_dir() / "s3"
        if limit_bytes is None:
            from .cache_budget import limit_for

            limit_bytes = limit_for("s3")  # its share of the one budget
        self.limit_bytes = int(limit_bytes)
        self._lock = threading.Lock()
        self._total: int | None = None  # bytes on disk, computed on first need
        self._versions: dict[Path, CachedObject] = {}

    # -- objects and versions ---------------------------------------------------
    def _pointer(self, endpoint: str | None, bucket: str, key: str) -> Path:
        return self.root / "objects" / f"{_digest(endpoint or 'aws', bucket, key)}.json"

    def remember(self, endpoint: str | None, bucket: str, key: str, etag: str, size: int) -> None:
        """Record ``etag``/``size`` as the object's current version (for offline reopening)."""
        path = self._pointer(endpoint, bucket, key)
        body = json.dumps({"endpoint": endpoint, "bucket": bucket, "key": key, "etag": etag, "size": size, "seen": time.time()})
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = _tmp_name(path)
            tmp.write_text(body)
            os.replace(tmp, path)
        except OSError:
            pass

    def recall(self, endpoint: str | None, bucket: str, key: str) -> tuple[str, int] | None:
        """The last version seen of an object, ``(etag, size)``, or None."""
        try:
            info = json.loads(self._pointer(endpoint, bucket, key).read_text())
            return str(info["etag"]), int(info["size"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def version(self, endpoint: str | None, bucket: str, key: str, etag: str, size: int) -> CachedObject:
        """The cached ranges of one version of an object (one shared instance per version)."""
        directory = self.root / "data" / _digest(endpoint or "aws", bucket, key, etag, size)
        with self._lock:
            entry = self._versions.get(directory)
            if entry is None:
                entry = self._versions[directory] = CachedObject(self, directory, size)
            return entry

    # -- accounting and eviction -----------------------------------------------
    def _files(self) -> list[tuple[float, int, Path]]:
        out = []
        data = self.root / "data"
        if not data.exists():
            return out
        for version in os.scandir(data):
            if not version.is_dir():
                continue
            for entry in os.scandir(version.path):
                if entry.name.startswith("."):
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                out.append((st.st_mtime, st.st_size, Path(entry.path)))
        return out

    def total_bytes(self) -> int:
        """Bytes the cache holds on disk (range files and logs)."""
        return sum(size for _, size, _ in self._files())

    def _added(self, nbytes: int) -> None:
        with self._lock:
            if self._total is None:
                self._total = self.total_bytes()
            else:
                self._total += nbytes
            over = self._total > self.limit_bytes
        if over:
            self.evict()

    def evict(self, target: int | None = None) -> int:
        """Delete least recently used ranges until at most ``target`` bytes remain.

        Default target: 90 % of the limit (so eviction does not run on every
        fetch).  Returns the bytes deleted.  Another process may be reading a
        file that goes: it then sees a cache miss, never wrong bytes.
        """
        target = int(0.9 * self.limit_bytes) if target is None else target
        files = sorted(self._files(), key=lambda item: item[0])
        total = sum(size for _, size, _ in files)
        freed = 0
        for _, size, path in files:
            if total <= target:
                break
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            total -= size
            freed += size
        with self._lock:
            self._total = total
        return freed


_DEFAULT: dict[Path, FetchCache] = {}
_DEFAULT_LOCK = threading.Lock()


def default_cache() -> FetchCache:
    """The process's cache under the current cache directory (one per directory)."""
    root = paths.cache_dir() / "s3"
    with _DEFAULT_LOCK:
        cache = _DEFAULT.get(root)
        if cache is None:
            cache = _DEFAULT[root] = FetchCache(root)
        return cache
