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
import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import lz4.block
import numpy as np

from .asdf_blocks import ArrayRef, AsdfLayout, BlockHeader, Lz4Chunk, array_ref, iter_lz4_chunks, read_layout
from .errors import ExposureError
from .progress import Job, Progress
from .sources import ByteSource, LocalFileSource

log = logging.getLogger(__name__)

#: Tag names of the ``roman`` node that we read, and the datamodel each is.
SUPPORTED_MODELS = {
    "tvac": "TvacModel",
    "wfi_science_raw": "ScienceRawModel",
    "ramp": "RampModel",
}

_LZ4_CACHE_BYTES = 96 * 1024 * 1024  # decompressed chunks kept for scrubbing back and forth
_SPAN_BATCH = 48 * 1024 * 1024  # uncompressed bytes of ranges handled per batch
#: Gap between wanted rows (bytes) above which a box is read one row per system call
#: rather than reading the gaps into a small reused scratch buffer.  A call costs
#: little more than copying ~16 KiB, but each one also gives the GIL away and waits
#: to take it back (up to the switch interval while the UI thread paints): a
#: cutout drawn at step 3 (24 KiB gaps) is one call; the full 4096-wide frame at
#: step 26 (200 KiB gaps, 33 MB to move for 1.3 MB wanted) is read row by row.
SCATTER_GAP = 128 * 1024


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

    def read_into(self, start: int, out: np.ndarray) -> None:
        """Fill ``out`` (C-contiguous) with the block bytes from ``start``."""
        raw = self.span(start, start + out.nbytes)
        if len(raw) != out.nbytes:
            raise ExposureError(self.source.uri, f"block data cut short at byte {start:,}: the file is truncated")
        memoryview(out).cast("B")[:] = memoryview(raw).cast("B")


class _RawReader(_BlockReader):
    """An uncompressed block, read with ``pread`` (local) or by byte range.

    Not memory-mapped: a mapped file truncated by another process kills
    this one with SIGBUS at the next touched page.  ``pread`` straight into
    the frame's array costs the same copy the viewer made from the map
    anyway, and a short read is an :class:`ExposureError`.
    """

    def __init__(self, source: ByteSource, block: BlockHeader):
        self.source = source
        self.block = block
        self.local = isinstance(source, LocalFileSource)

    def spans(self, ranges: list[tuple[int, int]]) -> list:
        out = self.source.read_ranges([(self.block.data_offset + a, b - a) for a, b in ranges])
        for (a, b), raw in zip(ranges, out):
            if len(raw) != b - a:
                raise ExposureError(self.source.uri, f"block data cut short at byte {self.block.data_offset + a:,}: the file is truncated")
        return out

    def read_box(self, start: int, row_bytes: int, out: np.ndarray) -> None:
        """Fill the 2-d ``out`` with rows of ``out.shape[1]`` items spaced ``row_bytes`` apart from ``start``.

        One ``preadv`` per up to 511 rows: each row's wanted bytes land in
        ``out``, the rest of the row in one small reused scratch buffer, so
        a narrow box costs a few system calls, as the memory map did.
        """
        fd = getattr(self.source, "_fd", -1)
        height = out.shape[0]
        length = out.shape[1] * out.itemsize
        gap = row_bytes - length
        flat = memoryview(out.reshape(-1).view(np.uint8))
        junk = memoryview(bytearray(max(gap, 1)))
        pos = self.block.data_offset + start
        step = 511  # 2 * 511 - 1 iovecs, under IOV_MAX (1024)
        try:
            if gap > SCATTER_GAP:
                # Rows far apart: one read per row rather than moving every
                # byte between them through the scratch buffer.
                for r in range(height):
                    if os.preadv(fd, [flat[r * length : (r + 1) * length]], pos + r * row_bytes) != length:
                        raise self.source._changed()
                self.source.check_unchanged()
                return
            for r0 in range(0, height, step):
                r1 = min(height, r0 + step)
                iov = []
                for r in range(r0, r1):
                    iov.append(flat[r * length : (r + 1) * length])
                    if r < r1 - 1 and gap:
                        iov.append(junk[:gap])
                want = (r1 - r0) * length + (r1 - r0 - 1) * gap
                if os.preadv(fd, iov, pos + r0 * row_bytes) != want:
                    raise self.source._changed()
        except OSError as err:
            raise ExposureError(self.source.uri, f"read error: {err.strerror}") from err
        self.source.check_unchanged()

    def read_into(self, start: int, out: np.ndarray) -> None:
        reader = getattr(self.source, "read_into", None)
        if reader is None:
            return super().read_into(start, out)
        reader(self.block.data_offset + start, out)


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
            if getattr(self, "_walk_error", None) is not None:
                raise self._walk_error
            while self._walk is not None and (not self._chunks or self._chunks[-1].start + self._chunks[-1].length < stop):
                try:
                    chunk = next(self._walk, None)
                except ExposureError as err:  # remembered: a dead walk must not look like the end of the block
                    self._walk, self._walk_error = None, err
                    raise
                if chunk is None:
                    self._walk = None
                    break
                self._chunks.append(chunk)
                self._starts.append(chunk.start)
            if not self._chunks or self._chunks[-1].start + self._chunks[-1].length < stop:
                raise ExposureError(self.source.uri, f"lz4 block at byte {self.block.offset:,} holds fewer bytes than its arrays need")
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
        if block.used_size != block.data_size:
            # A compressed block whose compression field was zeroed: its bytes are not pixels.
            raise ExposureError(uri, f"block {ref.source} at byte {block.offset:,} says it is uncompressed but uses "
                                     f"{block.used_size:,} bytes for {block.data_size:,} bytes of data: corrupt header")
        return _RawReader(source, block)
    if block.compression == "lz4":
        return _Lz4Reader(source, block)
    if block.compression in ("zlib", "bzp2"):
        from .blocks_cache import CachedStreamReader

        return CachedStreamReader(source, block)
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
        #: Optional ``check(array, start, plane)`` run on every plane read (the
        #: calibrated cache's per-frame checksums, :mod:`processing.cache`).
        self.check = None
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

    def _read_plane(self, start: int, shape: tuple[int, ...]) -> np.ndarray:
        out = np.empty(shape, dtype=self.ref.dtype)
        self._reader.read_into(start, out)
        if self.check is not None:
            self.check(self, start, out)
        return out if self.ref.dtype.isnative else out.astype(self.dtype)

    def frame(self, k: int) -> np.ndarray:
        """Plane ``k`` along axis 0, shape ``shape[1:]`` (a frame of a cube): a new array."""
        n = self.shape[0]
        if not -n <= k < n:
            raise IndexError(f"frame {k} is out of range for {n} frames")
        k %= n
        return self._read_plane(self.ref.offset + k * self._plane, self.shape[1:])

    def read(self) -> np.ndarray:
        """The whole array (for small arrays such as ``pixeldq``): a new array."""
        return self._read_plane(self.ref.offset, self.shape)

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
        row = width * self.ref.dtype.itemsize
        if getattr(self._reader, "local", False) and self.check is None and y1 > y0 and x1 > x0:
            # A box of a local uncompressed file: only its bytes land in the
            # result (scatter reads), not full-width bands.
            out = np.empty((self.shape[0], y1 - y0, x1 - x0), dtype=self.ref.dtype)
            size = self.ref.dtype.itemsize
            for k in range(self.shape[0]):
                self._reader.read_box(self.ref.offset + k * self._plane + y0 * row + x0 * size, row, out[k])
            return out if self.ref.dtype.isnative else out.astype(self.dtype)
        ya, yb = y0, y1
        if self.check is not None and y1 > y0:
            # Checked arrays are read in whole checksummed bands of rows.
            lo, hi = self.check.aligned(self.ref.offset + y0 * row, self.ref.offset + y1 * row)
            ya, yb = (lo - self.ref.offset) // row, (hi - self.ref.offset) // row
        ranges = [(self.ref.offset + k * self._plane + ya * row, self.ref.offset + k * self._plane + yb * row) for k in range(self.shape[0])]
        out = np.empty((self.shape[0], y1 - y0, x1 - x0), dtype=self.ref.dtype.newbyteorder("="))
        # Full-width row bands are read (that is how the bytes lie) and
        # trimmed to the columns at once, batch by batch.
        for k, raw in enumerate(self._reader.iter_spans(ranges)):
            if self.check is not None:
                self.check.verify(ranges[k][0], raw)
            out[k] = self._as_array(raw, (yb - ya, width))[y0 - ya : y1 - ya, x0:x1]
        return out

    def frame_region(self, k: int, y0: int, y1: int, x0: int, x1: int, step: int = 1) -> np.ndarray:
        """Rows ``y0:y1:step``, columns ``x0:x1:step`` of plane ``k``: a new array.

        Only rows ``y0:y1`` of plane ``k`` are read (a box of a local
        uncompressed file by scatter reads; elsewhere the full-width row band,
        which is how the bytes lie): over S3 a 512 x 512 cutout of a
        4096-wide uint16 frame is one 4 MiB range, not the 33.5 MB frame, and
        an lz4 block decompresses only the chunks the band touches.  Bounds
        are clipped to the frame.
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
        row = width * self.ref.dtype.itemsize
        base = self.ref.offset + k * self._plane
        if getattr(self._reader, "local", False) and self.check is None and y1 > y0 and x1 > x0:
            # Only every step-th row is read (rows step * row bytes apart).
            box = np.empty((-(-(y1 - y0) // step), x1 - x0), dtype=self.ref.dtype)
            self._reader.read_box(base + y0 * row + x0 * self.ref.dtype.itemsize, row * step, box)
            if step > 1:
                box = np.ascontiguousarray(box[:, ::step])
            if not self.ref.dtype.isnative:
                box = box.astype(self.dtype)
            return box
        ya, yb = y0, y1
        if self.check is not None and y1 > y0:
            lo, hi = self.check.aligned(base + y0 * row, base + y1 * row)
            ya, yb = (lo - base) // row, (hi - base) // row
        start = base + ya * row
        raw = self._reader.span(start, base + yb * row)
        if self.check is not None:
            self.check.verify(start, raw)
        band = self._as_array(raw, (yb - ya, width))[y0 - ya : y1 - ya]
        return np.ascontiguousarray(band[::step, x0:x1:step])  # a copy: the band is not kept alive

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
        from .schema_check import check_arrays

        check_arrays(self.uri, getattr(roman, "tag", "") or "", {k: a.ref for k, a in self.arrays.items()})
        extent: dict[int, int] = {}
        for arr in self.arrays.values():
            extent[arr.ref.source] = max(extent.get(arr.ref.source, 0), arr.ref.offset + arr.ref.nbytes)
        for index, end in extent.items():
            held = self.layout.blocks[index].data_size
            if end != held:  # asdf writes each base array filling its block: a mismatch is a damaged shape or offset
                names = ", ".join(f"roman.{k}" for k, a in self.arrays.items() if a.ref.source == index)
                raise ExposureError(self.uri, f"{names}: fields 'shape'/'offset' describe {end:,} bytes but block {index} "
                                              f"holds {held:,}: the tree is corrupt")
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
        return hasattr(reader, "prepare") and not reader.ready

    def prepare(self) -> Job[None]:
        """Decompress zlib/bzp2 blocks of ``data`` into the cache, with progress.

        A no-op generator for uncompressed and lz4 files.
        """
        reader = self._readers.get(self.data.ref.source)
        if hasattr(reader, "prepare"):
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
        """Kept for callers: frames are read with ``pread`` now, so nothing is mapped."""

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
        exposure = Exposure(source, layout)
        if source.local_path is not None:
            from .cache import attach_checks

            attach_checks(exposure)
        log.info("opened %r", exposure)
        return exposure
    except ExposureError as err:
        log.info("cannot open %s: %s", uri, err.problem)
        source.close()
        raise
    except Exception as err:  # any other failure is still a bad file, said plainly
        log.warning("unexpected error opening %s", uri, exc_info=True)
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
