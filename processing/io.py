"""Lazy, frame-by-frame access to Roman ramp exposures in ASDF files.

:func:`open_exposure` reads a file's tree and block layout (a few small reads)
and returns an :class:`Exposure`; frames and cutouts are read only when asked
for:

* uncompressed blocks are memory-mapped (local) or read by byte range;
* lz4 blocks decompress only the 4 MiB chunks that hold the requested rows;
* zlib and bzp2 blocks are single streams: they are decompressed once into
  the on-disk cache (:meth:`Exposure.prepare`, with progress) and then
  memory-mapped.

Three kinds of file are read: TVAC uncal (``TvacModel``), flight L1
(``ScienceRawModel``) and calibrated ramps (``RampModel``).  Anything else, or
a damaged file, raises :class:`~processing.errors.ExposureError` naming the
file and the problem.
"""

from __future__ import annotations

import bisect
import bz2
import hashlib
import mmap
import os
import threading
import zlib
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import lz4.block
import numpy as np

from . import paths
from .asdf_blocks import ArrayRef, AsdfLayout, BlockHeader, Lz4Chunk, array_ref, iter_lz4_chunks, read_layout
from .errors import ExposureError
from .progress import Job, Progress, run
from .sources import ByteSource, LocalFileSource

#: Tag names of the ``roman`` node that we read, and the datamodel each is.
SUPPORTED_MODELS = {
    "tvac": "TvacModel",
    "wfi_science_raw": "ScienceRawModel",
    "ramp": "RampModel",
}

_LZ4_CACHE_BYTES = 96 * 1024 * 1024  # decompressed chunks kept for scrubbing back and forth
_DECOMPRESS_PIECE = 8 * 1024 * 1024
_SPAN_BATCH = 48 * 1024 * 1024  # uncompressed bytes of ranges handled per batch


def _model_name(tag: str | None) -> str | None:
    """``asdf://stsci.edu/datamodels/roman/tags/tvac-1.0.0`` -> ``"tvac"``."""
    if not tag:
        return None
    last = tag.rsplit("/", 1)[-1]
    return last.rsplit("-", 1)[0] if "-" in last else last


class _ChunkCache:
    """A small thread-safe LRU of decompressed lz4 chunks, bounded in bytes."""

    def __init__(self, budget: int):
        self.budget = budget
        self._items: OrderedDict[int, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: int) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: int, value: bytes) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._bytes += len(value)
            while self._bytes > self.budget and len(self._items) > 1:
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old)


class _BlockReader:
    """Reads byte spans of one block's *uncompressed* data.

    Subclasses implement :meth:`spans` for one batch of ranges;
    :meth:`iter_spans` cuts long lists of ranges (a cutout through 55 reads)
    into batches of about :data:`_SPAN_BATCH` bytes, so memory stays bounded
    while remote sources still get many ranges per round trip.
    """

    def spans(self, ranges: list[tuple[int, int]]) -> list:  # pragma: no cover - interface
        raise NotImplementedError

    def span(self, start: int, stop: int):
        return self.spans([(start, stop)])[0]

    def iter_spans(self, ranges: list[tuple[int, int]]):
        """Yield the bytes of each ``(start, stop)`` range, in order, batch by batch."""
        batch: list[tuple[int, int]] = []
        size = 0
        for rng in ranges:
            batch.append(rng)
            size += rng[1] - rng[0]
            if size >= _SPAN_BATCH:
                yield from self.spans(batch)
                batch, size = [], 0
        if batch:
            yield from self.spans(batch)

    def memmap(self) -> np.memmap | None:
        """A memory map of the whole uncompressed block data, if available."""
        return None

    def memmap_if_open(self) -> np.memmap | None:
        """The memory map if one exists already (never creates one)."""
        return getattr(self, "_mm", None)


class _RawReader(_BlockReader):
    """An uncompressed block: memory map (local files) or byte ranges."""

    def __init__(self, source: ByteSource, block: BlockHeader):
        self.source = source
        self.block = block
        self._mm: np.memmap | None = None
        if source.local_path is not None and block.data_size > 0:
            self._mm = np.memmap(source.local_path, dtype=np.uint8, mode="r", offset=block.data_offset, shape=(block.data_size,))

    def spans(self, ranges: list[tuple[int, int]]) -> list:
        if self._mm is not None:
            return [memoryview(self._mm[a:b]) for a, b in ranges]
        return self.source.read_ranges([(self.block.data_offset + a, b - a) for a, b in ranges])

    def memmap(self):
        return self._mm


class _Lz4Reader(_BlockReader):
    """An lz4 block: decompress only the chunks a span touches."""

    def __init__(self, source: ByteSource, block: BlockHeader):
        self.source = source
        self.block = block
        self._chunks: list[Lz4Chunk] | None = None
        self._starts: list[int] = []
        self._cache = _ChunkCache(_LZ4_CACHE_BYTES)
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="lz4")

    @property
    def chunks(self) -> list[Lz4Chunk]:
        """Every chunk of the block (walks the rest of the index if needed)."""
        return self._index_upto(self.block.data_size)

    def _index_upto(self, stop: int) -> list[Lz4Chunk]:
        """Walk chunk headers until the chunks cover uncompressed bytes ``[0, stop)``.

        The walk is lazy because on S3 each header is a request: frame 0 of
        a 55-read file needs 8 of its 440 chunks, not all of them.
        """
        with self._lock:
            if self._chunks is None:
                self._chunks, self._starts = [], []
                self._walk = iter_lz4_chunks(self.source, self.block)
            while self._walk is not None and (not self._chunks or self._chunks[-1].start + self._chunks[-1].length < stop):
                chunk = next(self._walk, None)
                if chunk is None:
                    self._walk = None
                    break
                self._chunks.append(chunk)
                self._starts.append(chunk.start)
            return self._chunks

    def _decompress(self, item: tuple[int, bytes]) -> bytes:
        index, payload = item
        chunk = self._chunks[index]  # already walked by spans()
        try:
            out = lz4.block.decompress(payload, uncompressed_size=chunk.length)
        except lz4.block.LZ4BlockError as err:
            raise ExposureError(self.source.uri, f"lz4 chunk {index} at byte {chunk.file_offset} is corrupt: {err}") from err
        self._cache.put(index, out)
        return out

    def spans(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        chunks = self._index_upto(max(stop for _, stop in ranges))
        needed: list[int] = []
        for start, stop in ranges:
            first = bisect.bisect_right(self._starts, start) - 1
            last = bisect.bisect_right(self._starts, stop - 1) - 1
            needed.extend(range(max(first, 0), last + 1))
        wanted = sorted(set(needed))
        have = {i: self._cache.get(i) for i in wanted}
        missing = [i for i in wanted if have[i] is None]
        if missing:
            # Group consecutive chunks into one read each (one request on S3).
            groups: list[list[int]] = []
            for i in missing:
                if groups and groups[-1][-1] == i - 1:
                    groups[-1].append(i)
                else:
                    groups.append([i])
            reads = [
                (chunks[g[0]].file_offset - 8, chunks[g[-1]].file_offset + chunks[g[-1]].compressed - chunks[g[0]].file_offset + 8)
                for g in groups
            ]
            payloads: list[tuple[int, bytes]] = []
            for group, raw in zip(groups, self.source.read_ranges(reads)):
                base = chunks[group[0]].file_offset - 8
                view = memoryview(raw)
                for i in group:
                    c = chunks[i]
                    lo = c.file_offset - base
                    if lo + c.compressed > len(view):
                        raise ExposureError(self.source.uri, f"lz4 chunk {i} is cut short: the file is truncated")
                    payloads.append((i, view[lo : lo + c.compressed]))  # no copy
            if len(payloads) > 1:
                results = list(self._pool.map(self._decompress, payloads))
            else:
                results = [self._decompress(p) for p in payloads]
            for (i, _), out in zip(payloads, results):
                have[i] = out
        out_spans: list = []
        for start, stop in ranges:
            i = max(bisect.bisect_right(self._starts, start) - 1, 0)
            c = chunks[i]
            if stop <= c.start + c.length:  # inside one chunk: a view, no copy
                out_spans.append(memoryview(have[i])[start - c.start : stop - c.start])
                continue
            buf = np.empty(stop - start, np.uint8)
            dst = memoryview(buf)
            pos = start
            while pos < stop:
                c = chunks[i]
                lo = pos - c.start
                take = min(stop - pos, c.length - lo)
                dst[pos - start : pos - start + take] = memoryview(have[i])[lo : lo + take]
                pos += take
                i += 1
            out_spans.append(dst)
        return out_spans

    def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)


def _trim_blocks_cache(keep: Path) -> None:
    """Evict least-recently-used decompressed blocks beyond the cache-size setting.

    Its share of the one cache budget (:func:`processing.cache_budget.limit_for`).
    Unlinking a block another process has memory-mapped is safe: its mapping
    stays valid.
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
    limit = limit_for("blocks")  # its share of the one budget
    for _, size, path in sorted(files):
        if total <= limit:
            break
        if path == keep:
            continue
        try:
            path.unlink()
            total -= size
        except OSError:
            pass


class _CachedStreamReader(_BlockReader):
    """A zlib or bzp2 block, decompressed once into the on-disk cache."""

    def __init__(self, source: ByteSource, block: BlockHeader):
        self.source = source
        self.block = block
        key = hashlib.sha256(f"{source.identity}:block@{block.offset}".encode()).hexdigest()[:40]
        self.cache_path = paths.blocks_cache_dir() / f"{key}.{block.compression}.raw"
        self._mm: np.memmap | None = None
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        """True when the decompressed block is in the cache (and marks it recently used)."""
        try:
            if self.cache_path.stat().st_size != self.block.data_size:
                return False
            os.utime(self.cache_path)  # least-recently-used order for eviction
            return True
        except OSError:
            return False

    def prepare(self) -> Job[None]:
        """Decompress the block into the cache, reporting progress.

        Written to a temporary name and renamed when complete, so that a
        crash or cancel never leaves a file that reads as valid.
        """
        if self.ready:
            return
        decomp = zlib.decompressobj() if self.block.compression == "zlib" else bz2.BZ2Decompressor()
        tmp = self.cache_path.with_name(f"{self.cache_path.name}.partial-{os.getpid()}-{threading.get_ident()}")
        done = 0
        written = 0
        try:
            with open(tmp, "wb") as out:
                while done < self.block.used_size:
                    n = min(_DECOMPRESS_PIECE, self.block.used_size - done)
                    piece = self.source.read(self.block.data_offset + done, n)
                    if len(piece) < n:
                        raise ExposureError(self.source.uri, "the compressed block is cut short: the file is truncated")
                    try:
                        data = decomp.decompress(piece)
                    except (zlib.error, OSError, EOFError) as err:
                        raise ExposureError(self.source.uri, f"{self.block.compression} block is corrupt: {err}") from err
                    out.write(data)
                    written += len(data)
                    done += n
                    yield Progress(done / self.block.used_size, f"decompressing {self.block.compression} block")
                if hasattr(decomp, "flush"):  # zlib keeps a tail back; bz2 does not
                    tail = decomp.flush()
                    out.write(tail)
                    written += len(tail)
            if written != self.block.data_size:
                raise ExposureError(
                    self.source.uri, f"{self.block.compression} block decompressed to {written} bytes, header says {self.block.data_size}"
                )
            os.replace(tmp, self.cache_path)
            _trim_blocks_cache(keep=self.cache_path)
        finally:
            if tmp.exists():
                tmp.unlink()

    def memmap(self):
        with self._lock:
            if self._mm is None:
                if not self.ready:
                    run(self.prepare())
                self._mm = np.memmap(self.cache_path, dtype=np.uint8, mode="r")
            return self._mm

    def spans(self, ranges):
        mm = self.memmap()
        return [memoryview(mm[a:b]) for a, b in ranges]


def _make_reader(source: ByteSource, layout: AsdfLayout, ref: ArrayRef) -> _BlockReader:
    """The reader of the block that holds ``ref``, after checking it fits."""
    uri = source.uri
    blocks = layout.blocks
    if not 0 <= ref.source < len(blocks):
        raise ExposureError(uri, f"{ref.name} refers to block {ref.source} but the file has {len(blocks)} blocks: it is truncated or corrupt")
    block = blocks[ref.source]
    if block.end > source.size:
        raise ExposureError(
            uri,
            f"the file is truncated: {ref.name} needs bytes up to {block.end:,} but the file has {source.size:,}",
        )
    if ref.offset + ref.nbytes > block.data_size:
        raise ExposureError(
            uri, f"{ref.name} of shape {ref.shape} needs {ref.offset + ref.nbytes:,} bytes but its block holds {block.data_size:,}"
        )
    if block.compression is None:
        return _RawReader(source, block)
    if block.compression == "lz4":
        return _Lz4Reader(source, block)
    if block.compression in ("zlib", "bzp2"):
        return _CachedStreamReader(source, block)
    raise ExposureError(uri, f"{ref.name} uses compression {block.compression!r}, which this reader does not support")


class LazyArray:
    """An N-dimensional array of an ASDF file, read on demand.

    Parameters
    ----------
    ref : ArrayRef
        Where the array lives.
    reader : _BlockReader
        Reads its block.
    """

    def __init__(self, ref: ArrayRef, reader: _BlockReader):
        self.ref = ref
        self._reader = reader
        self.shape = ref.shape
        self.dtype = ref.dtype.newbyteorder("=")  # what callers get: native byte order
        self.ndim = len(ref.shape)
        # Bytes of one index along axis 0 (a frame for a cube, a row for an image).
        self._plane = int(np.prod(self.shape[1:], dtype=np.int64)) * ref.dtype.itemsize if self.ndim else 0

    @property
    def nbytes(self) -> int:
        return self.ref.nbytes

    def _as_array(self, raw, shape) -> np.ndarray:
        arr = np.frombuffer(raw, dtype=self.ref.dtype).reshape(shape)
        if not self.ref.dtype.isnative:
            arr = arr.astype(self.ref.dtype.newbyteorder("="))
        return arr

    def _memmap(self) -> np.ndarray | None:
        mm = self._reader.memmap()
        if mm is None:
            return None
        start = self.ref.offset
        arr = mm[start : start + self.nbytes].view(self.ref.dtype).reshape(self.shape)
        return arr

    def frame(self, k: int) -> np.ndarray:
        """Plane ``k`` along axis 0, shape ``shape[1:]`` (a frame of a cube).

        For memory-mapped blocks the result is a read-only view into the map
        (no copy); otherwise a new array.
        """
        n = self.shape[0]
        if not -n <= k < n:
            raise IndexError(f"frame {k} is out of range for {n} frames")
        k %= n
        mm = self._memmap()
        if mm is not None:
            out = mm[k]
            return out if self.ref.dtype.isnative else out.astype(self.ref.dtype.newbyteorder("="))
        start = self.ref.offset + k * self._plane
        return self._as_array(self._reader.span(start, start + self._plane), self.shape[1:])

    def frame_region(self, k: int, y0: int, y1: int, x0: int, x1: int, step: int = 1) -> np.ndarray:
        """Rows ``y0:y1:step``, columns ``x0:x1:step`` of plane ``k``, shape (ceil(h/step), ceil(w/step)).

        Only the row band ``y0:y1`` is read (full-width rows are how the bytes
        lie): over S3 a 512 x 512 cutout of a 4096-wide uint16 frame is one
        4 MB range request, not the 33.5 MB frame; an lz4 block decompresses
        only the chunks the band touches.  Bounds are clipped to the frame.
        Memory-mapped blocks return a read-only view (no copy).
        """
        if self.ndim != 3:
            raise ValueError(f"frame_region needs a 3-d array, {self.ref.name} has shape {self.shape}")
        n, height, width = self.shape
        if not -n <= k < n:
            raise IndexError(f"frame {k} is out of range for {n} frames")
        k %= n
        step = max(1, int(step))
        y0, y1 = min(max(int(y0), 0), height), min(max(int(y1), 0), height)
        x0, x1 = min(max(int(x0), 0), width), min(max(int(x1), 0), width)
        y1, x1 = max(y0, y1), max(x0, x1)
        mm = self._memmap()
        if mm is not None:
            out = mm[k, y0:y1:step, x0:x1:step]
            return out if self.ref.dtype.isnative else out.astype(self.ref.dtype.newbyteorder("="))
        row = width * self.ref.dtype.itemsize
        start = self.ref.offset + k * self._plane + y0 * row
        band = self._as_array(self._reader.span(start, start + (y1 - y0) * row), (y1 - y0, width))
        if step == 1 and (x0, x1) == (0, width):
            return band
        return np.ascontiguousarray(band[::step, x0:x1:step])  # a copy: the band is not kept alive

    def read(self) -> np.ndarray:
        """The whole array (for small arrays such as ``pixeldq``)."""
        mm = self._memmap()
        if mm is not None:
            return np.array(mm)
        return self._as_array(self._reader.span(self.ref.offset, self.ref.offset + self.nbytes), self.shape)

    def cutout(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1`` and columns ``x0:x1`` of every frame, shape (N, h, w).

        Bounds are clipped to the array (a box hanging over an edge gives
        the part inside; negative bounds mean 0, not "from the end").
        """
        if self.ndim != 3:
            raise ValueError(f"cutout needs a 3-d array, {self.ref.name} has shape {self.shape}")
        _, height, width = self.shape
        y0, y1 = min(max(int(y0), 0), height), min(max(int(y1), 0), height)
        x0, x1 = min(max(int(x0), 0), width), min(max(int(x1), 0), width)
        y1, x1 = max(y0, y1), max(x0, x1)
        mm = self._memmap()
        if mm is not None:
            return np.array(mm[:, y0:y1, x0:x1], dtype=self.ref.dtype.newbyteorder("="))
        row = width * self.ref.dtype.itemsize
        ranges = [(self.ref.offset + k * self._plane + y0 * row, self.ref.offset + k * self._plane + y1 * row) for k in range(self.shape[0])]
        out = np.empty((self.shape[0], y1 - y0, x1 - x0), dtype=self.ref.dtype.newbyteorder("="))
        # Full-width row bands are read (that is how the bytes lie) and
        # trimmed to the columns at once, batch by batch.
        for k, raw in enumerate(self._reader.iter_spans(ranges)):
            out[k] = self._as_array(raw, (y1 - y0, width))[:, x0:x1]
        return out

    def __getitem__(self, key):
        """Index like numpy; an integer first index reads one frame only."""
        if isinstance(key, (int, np.integer)):
            return self.frame(int(key))
        if isinstance(key, tuple) and key and isinstance(key[0], (int, np.integer)):
            return self.frame(int(key[0]))[key[1:]]
        if isinstance(key, tuple) and len(key) == 3 and all(isinstance(k, slice) for k in key) and key[0] == slice(None):
            ys, xs = key[1], key[2]
            if ys.step in (None, 1) and xs.step in (None, 1):
                return self.cutout(ys.start or 0, self.shape[1] if ys.stop is None else ys.stop,
                                   xs.start or 0, self.shape[2] if xs.stop is None else xs.stop)
        return self.read()[key]

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"<LazyArray {self.ref.name} {self.dtype} {self.shape}>"


def _get_path(tree: dict, dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


class Exposure:
    """A ramp exposure opened for lazy reading.

    Use :func:`open_exposure` to create one.  Usable as a context manager.

    Attributes
    ----------
    uri : str
        What the user opened.
    model_type : str
        ``"TvacModel"``, ``"ScienceRawModel"`` or ``"RampModel"``.
    shape : tuple of int
        (N, H, W): reads, rows, columns of ``data``.
    dtype : numpy.dtype
        uint16 for raw exposures (DN), float32 for calibrated ramps (DN).
    data : LazyArray
        The ramp cube.
    arrays : dict of str to LazyArray
        Every block-backed array of the ``roman`` node (``data``, ``amp33``,
        ``pixeldq``, ``groupdq``, ...).
    compression : str or None
        Compression of the data block.
    size : int
        File size, bytes.
    """

    def __init__(self, source: ByteSource, layout: AsdfLayout):
        self.source = source
        self.uri = source.uri
        self.layout = layout
        tree = layout.tree
        roman = tree.get("roman")
        if not isinstance(roman, dict):
            raise ExposureError(self.uri, "is an ASDF file but not a Roman datamodel (no 'roman' node)")
        name = _model_name(getattr(roman, "tag", None))
        if name not in SUPPORTED_MODELS:
            expected = ", ".join(SUPPORTED_MODELS.values())
            raise ExposureError(self.uri, f"holds a Roman '{name}' model ({getattr(roman, 'tag', None)}); expected one of {expected}")
        self.model_type = SUPPORTED_MODELS[name]
        self.arrays: dict[str, LazyArray] = {}
        self._readers: dict[int, _BlockReader] = {}
        for key, node in roman.items():
            if key == "meta":
                continue
            ref = array_ref(node, self.uri, f"roman.{key}")
            if ref is None:
                continue
            self.arrays[key] = LazyArray(ref, self._reader_for(ref))
        if "data" not in self.arrays:
            raise ExposureError(self.uri, f"the {self.model_type} has no data array in a binary block")
        self.data = self.arrays["data"]
        if self.data.ndim != 3:
            raise ExposureError(self.uri, f"data has shape {self.data.shape}; expected a ramp cube (N, H, W)")
        if min(self.data.shape) < 1:
            raise ExposureError(self.uri, f"data has shape {self.data.shape}: an empty cube")
        self.shape: tuple[int, int, int] = tuple(self.data.shape)  # type: ignore[assignment]
        self.dtype = self.data.dtype
        amp33 = self.arrays.get("amp33")
        if amp33 is not None and (amp33.ndim != 3 or amp33.shape[:2] != self.shape[:2]):
            raise ExposureError(self.uri, f"amp33 has shape {amp33.shape}; expected ({self.shape[0]}, {self.shape[1]}, 128) to match data {self.shape}")
        for key in ("groupdq",):
            arr = self.arrays.get(key)
            if arr is not None and arr.shape != self.shape:
                raise ExposureError(self.uri, f"{key} has shape {arr.shape}; expected {self.shape} to match data")
        if "pixeldq" in self.arrays and self.arrays["pixeldq"].shape != self.shape[1:]:
            raise ExposureError(self.uri, f"pixeldq has shape {self.arrays['pixeldq'].shape}; expected {self.shape[1:]}")
        block = self.layout.blocks[self.data.ref.source]
        self.compression = block.compression
        self.size = source.size
        self._closed = False

    # -- construction helpers -------------------------------------------------
    def _reader_for(self, ref: ArrayRef) -> _BlockReader:
        if ref.source not in self._readers:
            self._readers[ref.source] = _make_reader(self.source, self.layout, ref)
        return self._readers[ref.source]

    # -- metadata -------------------------------------------------------------
    @property
    def meta(self) -> dict:
        """The whole ASDF tree as plain nested data (arrays as descriptors)."""
        return self.layout.tree

    def get_meta(self, dotted: str, default: Any = None) -> Any:
        """A value of ``roman.meta`` by dotted path, e.g. ``"exposure.frame_time"``."""
        value = _get_path(self.layout.tree, "roman.meta." + dotted)
        return default if value is None else value

    @property
    def frame_time(self) -> float | None:
        """Seconds between reads, if the file says."""
        value = self.get_meta("exposure.frame_time")
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
        return value if value > 0 else None

    @property
    def read_times(self) -> np.ndarray | None:
        """Time of each read since the first read, seconds, shape (N,); None if unknown.

        From ``meta.exposure.read_pattern`` (the mean frame number of each
        resultant) times ``frame_time``.
        """
        ft = self.frame_time
        if ft is None:
            return None
        pattern = self.get_meta("exposure.read_pattern")
        n = self.shape[0]
        if isinstance(pattern, list) and len(pattern) == n and all(isinstance(p, list) and p for p in pattern):
            means = np.array([float(np.mean(p)) for p in pattern])
        else:
            means = np.arange(n, dtype=float)
        return (means - means[0]) * ft

    def summary(self) -> dict[str, Any]:
        """The facts a file browser shows, as plain values."""
        return {
            "uri": self.uri,
            "model_type": self.model_type,
            "shape": self.shape,
            "dtype": str(self.dtype),
            "compression": self.compression or "none",
            "size": self.size,
            "detector": self.get_meta("instrument.detector"),
            "optical_element": self.get_meta("instrument.optical_element"),
            "exposure_type": self.get_meta("exposure.type"),
            "start_time": self.get_meta("exposure.start_time"),
            "frame_time": self.frame_time,
        }

    # -- data -------------------------------------------------------------------
    @property
    def needs_preparation(self) -> bool:
        """True when a zlib/bzp2 block must be decompressed to the cache first."""
        reader = self._readers.get(self.data.ref.source)
        return isinstance(reader, _CachedStreamReader) and not reader.ready

    def prepare(self) -> Job[None]:
        """Decompress zlib/bzp2 blocks of ``data`` into the cache, with progress.

        A no-op generator for uncompressed and lz4 files.
        """
        reader = self._readers.get(self.data.ref.source)
        if isinstance(reader, _CachedStreamReader):
            yield from reader.prepare()
        yield Progress(1.0, "ready")

    def frame(self, k: int) -> np.ndarray:
        """Read ``k`` of the ramp, shape (H, W), in DN."""
        self._check_open()
        return self.data.frame(k)

    def cutout(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1``, columns ``x0:x1`` of every read, shape (N, h, w), DN."""
        self._check_open()
        return self.data.cutout(y0, y1, x0, x1)

    def frame_region(self, k: int, y0: int, y1: int, x0: int, x1: int, step: int = 1) -> np.ndarray:
        """Rows ``y0:y1:step``, columns ``x0:x1:step`` of read ``k``, DN (reads only those rows).

        See :meth:`LazyArray.frame_region`.
        """
        self._check_open()
        return self.data.frame_region(k, y0, y1, x0, x1, step)

    def release_pages(self) -> None:
        """Drop the file pages this process has mapped (its resident set).

        Scrubbing through 55 frames maps every page of a 1.85 GB file into
        the process.  ``MADV_DONTNEED`` on a read-only file mapping only
        drops the page-table entries: the pages stay in the OS page cache and
        touching them again is a cheap minor fault.  Arrays already handed
        out stay valid.
        """
        if not hasattr(mmap, "MADV_DONTNEED"):
            return
        for reader in list(self._readers.values()):
            mapping = getattr(reader.memmap_if_open(), "_mmap", None)
            if mapping is not None:
                try:
                    mapping.madvise(mmap.MADV_DONTNEED)
                except (ValueError, OSError):
                    pass

    @property
    def bytes_read(self) -> int:
        """Bytes read from the source so far (memory-mapped reads not counted)."""
        return getattr(self.source, "bytes_read", 0)

    def _check_open(self) -> None:
        if self._closed:
            raise ExposureError(self.uri, "the exposure is closed")

    def close(self) -> None:
        """Release the file (memory maps already handed out stay valid)."""
        if self._closed:
            return
        self._closed = True
        for reader in self._readers.values():
            close = getattr(reader, "close", None)
            if close:
                close()
        self.source.close()

    def __enter__(self) -> Exposure:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Exposure {self.model_type} {self.shape} {self.dtype} {self.compression or 'uncompressed'} {self.uri}>"


def open_source(uri: str | os.PathLike, *, anon: bool = True, endpoint_url: str | None = None) -> ByteSource:
    """The byte source for a local path or an ``s3://`` URI."""
    text = os.fspath(uri)
    if text.startswith("s3://"):
        from .s3 import S3Source  # imported lazily: s3fs/aiobotocore are slow to import

        return S3Source(text, anon=anon, endpoint_url=endpoint_url)
    if "://" in text and not text.startswith("file://"):
        raise ExposureError(text, "unsupported URI scheme (use a local path or s3://bucket/key)")
    if text.startswith("file://"):
        text = text[len("file://") :]
    return LocalFileSource(text)


def open_exposure(uri: str | os.PathLike, *, anon: bool = True, endpoint_url: str | None = None) -> Exposure:
    """Open a Roman ramp exposure for lazy, frame-by-frame reading.

    Parameters
    ----------
    uri : str or Path
        A local path, or ``s3://bucket/key``.
    anon : bool
        Anonymous S3 access (the public bucket).
    endpoint_url : str, optional
        S3 endpoint (a mirror or a test server); default from
        ``AWS_ENDPOINT_URL`` or AWS.

    Returns
    -------
    Exposure

    Raises
    ------
    ExposureError
        If the file is missing, not ASDF, not a supported model, truncated or
        of the wrong dimensions.
    """
    source = open_source(uri, anon=anon, endpoint_url=endpoint_url)
    try:
        layout = read_layout(source)
        return Exposure(source, layout)
    except ExposureError:
        source.close()
        raise
    except Exception as err:  # any other failure is still a bad file, said plainly
        source.close()
        raise ExposureError(os.fspath(uri), f"cannot be read as an exposure: {type(err).__name__}: {err}") from err


def read_asdf_array(uri: str | os.PathLike, dotted: str, *, anon: bool = True, endpoint_url: str | None = None) -> np.ndarray:
    """Read one array of any ASDF file by its dotted tree path, e.g. ``"roman.data"``.

    Much faster than ``asdf.open(..., lazy_load=False)`` for reference files:
    no tag conversion, only the block asked for, lz4 chunks decompressed in
    parallel.  A Quantity node gives its value array.

    Returns
    -------
    numpy.ndarray
        A new array in native byte order.

    Raises
    ------
    ExposureError
        If the file cannot be read or has no such array.
    """
    source = open_source(uri, anon=anon, endpoint_url=endpoint_url)
    reader = None
    try:
        layout = read_layout(source)
        node = _get_path(layout.tree, dotted)
        ref = array_ref(node, source.uri, dotted)
        if ref is None:
            raise ExposureError(source.uri, f"has no array {dotted} in a binary block")
        reader = _make_reader(source, layout, ref)
        return np.array(LazyArray(ref, reader).read(), dtype=ref.dtype.newbyteorder("="))
    finally:
        close = getattr(reader, "close", None)
        if close:
            close()
        source.close()
