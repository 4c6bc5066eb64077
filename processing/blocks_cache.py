"""zlib and bzp2 blocks, decompressed once into the on-disk cache and checked on every read.

A zlib or bzp2 block is one stream: frame *k* cannot be decompressed alone.
:class:`CachedStreamReader` decompresses the block once (with progress) into
``<cache>/blocks/<key>.<compression>.raw`` and reads frames from there with
``pread`` (never a memory map: a cache file truncated by another process must
be an error, not SIGBUS).

Trust: next to each entry, ``.xxh`` holds the xxh3-64 digest of every 4 MiB
piece of the decompressed bytes, written while decompressing.  Every read
hashes the pieces it touches (about 3 ms for a 4096 x 4096 uint16 frame);
a piece that does not match -- a flipped byte on disk, a file swapped under
us -- removes the entry and raises :class:`~processing.errors.ExposureError`,
so the next open decompresses it again instead of serving wrong pixels.
"""

from __future__ import annotations

import bz2
import hashlib
import logging
import os
import threading
import zlib
from pathlib import Path

import numpy as np
import xxhash

from . import paths
from .asdf_blocks import BlockHeader
from .errors import ExposureError
from .io import _BlockReader
from .progress import Job, Progress, run
from .sources import ByteSource, LocalFileSource

log = logging.getLogger(__name__)

PIECE = 4 * 1024 * 1024  # bytes per checksum
_DECOMPRESS_PIECE = 8 * 1024 * 1024


def _trim_blocks_cache(keep: Path) -> None:
    """Evict least-recently-used decompressed blocks beyond the cache-size setting.

    Shares the bound of the calibration and S3 caches
    (its share of :func:`processing.cache.limit_bytes`, :func:`processing.cache_budget.limit_for`).  Unlinking a block another
    process has open is safe: its descriptor stays valid.
    """
    from .cache_budget import limit_for

    files = []
    for path in paths.blocks_cache_dir().glob("*.raw"):
        try:
            stat = path.stat()
        except OSError:
            continue
        files.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in files)
    limit = limit_for("blocks")  # its share of the one budget (processing.cache_budget)
    for _, size, path in sorted(files):
        if total <= limit:
            break
        if path == keep:
            continue
        for victim in (path, path.with_name(path.name + ".xxh")):
            try:
                victim.unlink()
            except OSError:
                pass
        total -= size


class _PieceHasher:
    """xxh3-64 of consecutive ``PIECE``-byte pieces of a stream written in any sizes."""

    def __init__(self):
        self.digests: list[int] = []
        self._h = xxhash.xxh3_64()
        self._fill = 0

    def update(self, data) -> None:
        view = memoryview(data).cast("B")
        while len(view):
            take = min(PIECE - self._fill, len(view))
            self._h.update(view[:take])
            self._fill += take
            view = view[take:]
            if self._fill == PIECE:
                self.digests.append(self._h.intdigest())
                self._h, self._fill = xxhash.xxh3_64(), 0

    def finish(self) -> np.ndarray:
        if self._fill:
            self.digests.append(self._h.intdigest())
        return np.array(self.digests, dtype="<u8")


class CachedStreamReader(_BlockReader):
    """A zlib or bzp2 block, decompressed once into the on-disk cache."""

    def __init__(self, source: ByteSource, block: BlockHeader):
        self.source = source
        self.block = block
        key = hashlib.sha256(f"{source.identity}:block@{block.offset}".encode()).hexdigest()[:40]
        self.cache_path = paths.blocks_cache_dir() / f"{key}.{block.compression}.raw"
        self.sums_path = self.cache_path.with_name(self.cache_path.name + ".xxh")
        self._file: LocalFileSource | None = None
        self._sums: np.ndarray | None = None
        self._lock = threading.Lock()

    @property
    def _pieces(self) -> int:
        return -(-self.block.data_size // PIECE)

    @property
    def ready(self) -> bool:
        """True when the decompressed block and its checksums are in the cache (marks it recently used)."""
        try:
            if self.cache_path.stat().st_size != self.block.data_size:
                return False
            if self.sums_path.stat().st_size != 8 * self._pieces:
                return False
            os.utime(self.cache_path)  # least-recently-used order for eviction
            return True
        except OSError:
            return False

    def prepare(self) -> Job[None]:
        """Decompress the block into the cache, reporting progress.

        Written to temporary names and renamed when complete (checksums
        last), so that a crash, a cancel or a full disk never leaves an
        entry that reads as valid.
        """
        if self.ready:
            return
        from .writers import disk_full_error, preallocate, remove_stale_partials

        remove_stale_partials(self.cache_path.parent)

        decomp = zlib.decompressobj() if self.block.compression == "zlib" else bz2.BZ2Decompressor()
        stamp = f"partial-{os.getpid()}-{threading.get_ident()}"
        tmp = self.cache_path.with_name(f"{self.cache_path.name}.{stamp}")
        tmp_sums = self.sums_path.with_name(f"{self.sums_path.name}.{stamp}")
        hasher = _PieceHasher()
        done = written = 0
        try:
            with open(tmp, "wb") as out:
                preallocate(out.fileno(), self.block.data_size, tmp, "the decompressed-block cache")
                while done < self.block.used_size:
                    n = min(_DECOMPRESS_PIECE, self.block.used_size - done)
                    piece = self.source.read(self.block.data_offset + done, n)
                    if len(piece) < n:
                        raise ExposureError(self.source.uri, "the compressed block is cut short: the file is truncated")
                    try:
                        data = decomp.decompress(piece)
                    except (zlib.error, OSError, EOFError, ValueError) as err:
                        raise ExposureError(self.source.uri, f"{self.block.compression} block is corrupt: {err}") from err
                    if written + len(data) > self.block.data_size:
                        raise ExposureError(self.source.uri, f"{self.block.compression} block decompresses to more "
                                                             f"than the {self.block.data_size:,} bytes its header says")
                    out.write(data)
                    hasher.update(data)
                    written += len(data)
                    done += n
                    yield Progress(done / self.block.used_size, f"decompressing {self.block.compression} block")
                if hasattr(decomp, "flush"):  # zlib keeps a tail back; bz2 does not
                    tail = decomp.flush()
                    out.write(tail)
                    hasher.update(tail)
                    written += len(tail)
                out.truncate(written)
            if written != self.block.data_size:
                raise ExposureError(
                    self.source.uri, f"{self.block.compression} block decompressed to {written} bytes, header says {self.block.data_size}"
                )
            tmp_sums.write_bytes(hasher.finish().tobytes())
            os.replace(tmp, self.cache_path)
            os.replace(tmp_sums, self.sums_path)
            _trim_blocks_cache(keep=self.cache_path)
        except OSError as err:
            raise disk_full_error(err, tmp, self.block.data_size, "the decompressed-block cache") from err
        finally:
            for leftover in (tmp, tmp_sums):
                if leftover.exists():
                    leftover.unlink()

    def _open(self) -> tuple[LocalFileSource, np.ndarray]:
        with self._lock:
            if self._file is None:
                if not self.ready:
                    run(self.prepare())
                sums = np.fromfile(self.sums_path, dtype="<u8")
                self._file = LocalFileSource(self.cache_path)
                self._sums = sums
                if self._file.size != self.block.data_size or len(sums) != self._pieces:
                    self._damaged("its size changed")
            return self._file, self._sums  # type: ignore[return-value]

    def _damaged(self, why: str):
        for path in (self.cache_path, self.sums_path):
            try:
                path.unlink()
            except OSError:
                pass
        log.warning("decompressed-block cache entry %s of %s removed: %s", self.cache_path, self.source.uri, why)
        raise ExposureError(self.source.uri, f"its decompressed-block cache entry was damaged ({why}) and has been "
                                             "removed: open the file again to rebuild it")

    def spans(self, ranges):
        file, sums = self._open()
        out = []
        for a, b in ranges:
            first, last = a // PIECE, max(a, b - 1) // PIECE
            lo = first * PIECE
            hi = min((last + 1) * PIECE, self.block.data_size)
            buf = np.empty(hi - lo, np.uint8)
            try:
                file.read_into(lo, buf)
            except ExposureError as err:
                self._damaged(err.problem)
            for i in range(first, last + 1):
                piece = buf[(i - first) * PIECE : min((i - first + 1) * PIECE, hi - lo)]
                if xxhash.xxh3_64_intdigest(piece) != int(sums[i]):
                    self._damaged(f"bytes {i * PIECE:,}-{i * PIECE + len(piece):,} do not match their checksum")
            out.append(memoryview(buf)[a - lo : b - lo])
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
