"""Checksums of the calibrated cache's entries: MD5 per block, xxh3 per row band, checked on every read.

A calibrated cube is served from the cache for weeks; a flipped bit on disk
must not become a wrong slope.  When an entry is committed, :func:`seal`

* returns the xxh3-64 digest of every *band* of rows of every array
  (64 rows of a 4096-wide float32 frame: 1 MiB) and of the bytes before the
  first block (the tree), which the cache keeps in the entry's manifest;
  the big arrays are hashed by :class:`StreamSums` as pass 3 finishes their
  planes, the small ones are read back here;
* writes the MD5 of a block into its header only when asked (``md5=True``)
  or when no band digest covers the block.  A cache entry is sealed with
  ``md5=False``: its big blocks then carry the ASDF standard's all-zero
  "no checksum" (asdf's ``validate_checksums`` skips such a block rather
  than calling it valid), and what proves them intact is the manifest's band
  digests, which every read checks and ``brightstar verify`` checks
  (:mod:`processing.sealed_entries`).  The MD5 of ~4.6 GB (11 % of a
  calibration's CPU, one core per block) is paid where a standalone file
  leaves the cache: :func:`processing.sealed_entries.export_entry` checks
  every band as it copies and writes the MD5s into the copy.

:func:`attach` hooks those digests onto an opened entry: every frame,
cutout or whole-array read hashes the bands it read (xxh3 runs at memory
speed: about 5 ms for a 4096 x 4096 float32 frame) and a mismatch removes the
entry and raises :class:`~processing.errors.ExposureError`, so the next
calibration rebuilds it instead of serving wrong pixels.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import xxhash

from .asdf_blocks import _BLOCK_HEADER, array_ref, read_layout
from .errors import ExposureError
from .sources import LocalFileSource
from .writeback import can_write_back, start_writeback

log = logging.getLogger(__name__)

_MAX_BAND_ROWS = 64
_PIECE = 16 * 1024 * 1024
_PARALLEL_BYTES = 8 * 1024 * 1024
_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="band-check")
    return _POOL


def band_rows(rows_per_plane: int) -> int:
    """Rows per band: the largest divisor of the plane's rows up to 64 (bands never straddle planes)."""
    for b in range(min(_MAX_BAND_ROWS, max(rows_per_plane, 1)), 0, -1):
        if rows_per_plane % b == 0:
            return b
    return 1


def _bands_of(ref) -> tuple[int, int]:
    """(band bytes, row bytes) of an array: bands of whole rows along the flattened leading axes."""
    if len(ref.shape) < 2:
        return max(ref.nbytes, 1), max(ref.nbytes, 1)
    row = ref.shape[-1] * ref.dtype.itemsize
    return band_rows(ref.shape[-2]) * row, row


class StreamSums:
    """The MD5 and band digests of one array's block, fed its bytes in file order as they are final.

    The calibration engine feeds each array's planes as a pass finishes them
    (on a thread of its own: hashlib and xxhash release the GIL), so that
    :func:`seal` need not read the array back after the passes.  Only an
    array that fills its block alone qualifies (the RampModel's big arrays).

    Parameters
    ----------
    shape : tuple of int
        The array's shape (at least 2-d).
    dtype : numpy.dtype
    max_pending : int
        Buffers queued for hashing before :meth:`feed` waits (bounds memory).
    md5 : bool
        Also take the block's MD5 (~0.65 GB/s on one core); off by default:
        a cache entry is sealed by its band digests (see the module
        docstring).
    """

    def __init__(self, shape, dtype, max_pending: int = 16, md5: bool = False):
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        itemsize = np.dtype(dtype).itemsize
        self.nbytes = int(np.prod(shape, dtype=np.int64)) * itemsize
        self.band = band_rows(int(shape[-2])) * int(shape[-1]) * itemsize
        self.fed = 0
        self._md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self._bands: list = []
        self._pos = 0
        self._pending = deque()
        self._max = max_pending
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-sums")
        self._flush = None  # (fd, file offset of byte 0): see write_back

    def write_back(self, path: Path, file_offset: int) -> None:
        """Start the disk writes of each fed buffer once hashed (its bytes are final).

        The seal's ``fsync`` then finds little left to write (it was ~3 s of
        wall time for 4.6 GB).  A hint only: durability is still the fsync.

        Parameters
        ----------
        path : Path
            The file the array is written in.
        file_offset : int
            File offset of the array's first byte.
        """
        if can_write_back() and self._flush is None:
            self._flush = (os.open(path, os.O_RDONLY), int(file_offset))

    def _close_flush(self) -> None:
        if self._flush is not None:
            fd, self._flush = self._flush[0], None
            os.close(fd)

    def _update(self, buffer) -> None:
        view = memoryview(buffer).cast("B")
        if self._md5 is not None:
            self._md5.update(view)
        start = self._pos
        pos, n = 0, len(view)
        while pos < n:
            index, within = divmod(self._pos, self.band)
            if within == 0:
                self._bands.append(xxhash.xxh3_64())
            take = min(n - pos, self.band - within)
            self._bands[index].update(view[pos : pos + take])
            pos += take
            self._pos += take
        if self._flush is not None:
            start_writeback(self._flush[0], self._flush[1] + start, n)

    def feed(self, arr: np.ndarray):
        """Queue the next bytes of the array (C-contiguous, file byte order); keeps a reference until hashed.

        Returns the hashing's Future: done once ``arr`` is no longer read
        (the engine then reuses the buffer).
        """
        if not arr.flags.c_contiguous:
            raise ValueError("StreamSums.feed needs C-contiguous bytes")
        while len(self._pending) >= self._max:
            self._pending.popleft().result()
        self.fed += arr.nbytes
        future = self._pool.submit(self._update, arr)
        self._pending.append(future)
        return future

    def finish(self) -> tuple[bytes | None, list[int]]:
        """Wait for the queue; the MD5 digest (None unless asked for) and the band digests."""
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True)
            self._close_flush()
        return (self._md5.digest() if self._md5 is not None else None), [h.intdigest() for h in self._bands]

    def cancel(self) -> None:
        """Drop what is queued (the calibration stopped)."""
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._close_flush()


def seal(path: Path, known: dict | None = None, md5: bool = True) -> dict:
    """Band digests of ``path``'s uncompressed arrays; MD5 checksums into block headers where asked or needed.

    The file is fsync'ed before this returns (the cache renames it next).

    Parameters
    ----------
    path : Path
    known : dict of str to StreamSums, optional
        Arrays (``roman`` node names) whose bytes were hashed as they were
        written: used instead of reading the array back when the array is
        its block's only content and every byte was fed (and, with ``md5``,
        the stream took the MD5 too).
    md5 : bool
        Write the MD5 of every uncompressed block.  False (a cache entry):
        only blocks that band digests do not wholly cover get one; the others
        keep the all-zero "no checksum" of the ASDF standard.

    Returns
    -------
    dict
        ``{"head": hex, "arrays": {name: {"band": bytes, "digests": hex}}}``
        (digests: little-endian uint64 per band, concatenated, as hex).
    """
    path = Path(path)
    source = LocalFileSource(path)
    try:
        layout = read_layout(source)
        by_block = block_arrays(layout, str(path))
        out: dict = {"head": head_digest(source, layout), "arrays": {}}
        patches: list[tuple[int, bytes]] = []
        fd = os.open(path, os.O_RDWR)
        try:
            for index, block in enumerate(layout.blocks):
                if block.compression is not None:
                    continue
                arrays = [(r, *_bands_of(r)) for r in by_block.get(index, [])]
                streamed = _streamed(known, arrays, block, md5)
                if streamed is not None:
                    r, band, _ = arrays[0]
                    digest, values = streamed
                    if digest is not None:
                        patches.append((block.offset + 6, _header(block, digest)))
                    out["arrays"][r.name.split(".", 1)[1]] = {
                        "band": band, "digests": np.array(values, dtype="<u8").tobytes().hex()}
                    continue
                hasher = hashlib.md5(usedforsecurity=False) if md5 or not covered(arrays, block) else None
                digests = {r.name: [] for r, _, _ in arrays}

                def bands(piece, start, n, arrays=arrays, digests=digests):
                    # Bands that end inside this piece, for each array in the block.
                    for r, band, _ in arrays:
                        lo = max(r.offset, start)
                        hi = min(r.offset + r.nbytes, start + n)
                        if lo < hi:
                            _feed(digests[r.name], r, band, piece, start, lo, hi)

                # MD5 (the slow one, ~0.5 GB/s) here, the band digests of the
                # same piece on the helper thread (both release the GIL), and
                # one piece in flight there: about the time of MD5 alone.
                done = 0
                pending = None
                while done < block.used_size:
                    n = min(_PIECE, block.used_size - done)
                    piece = source.read(block.data_offset + done, n)
                    if pending is not None:
                        pending.result()
                    pending = _pool().submit(bands, piece, done, n) if arrays else None
                    if hasher is not None:
                        hasher.update(piece)
                    done += n
                if pending is not None:
                    pending.result()
                if hasher is not None:  # written after reading: the source checks mtime
                    patches.append((block.offset + 6, _header(block, hasher.digest())))
                for r, band, _ in arrays:
                    hashers = digests[r.name]
                    values = [h.intdigest() for h in hashers]
                    out["arrays"][r.name.split(".", 1)[1]] = {
                        "band": band, "digests": np.array(values, dtype="<u8").tobytes().hex()}
            for where, header in patches:
                os.pwrite(fd, header, where)
            os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        source.close()
    return out


def block_arrays(layout, uri: str) -> dict[int, list]:
    """The ``roman`` node's arrays in uncompressed blocks (the ones with band digests), by block number."""
    roman = layout.tree.get("roman") or {}
    by_block: dict[int, list] = {}
    for name, node in roman.items():
        if name == "meta":
            continue
        ref = array_ref(node, uri, f"roman.{name}")
        if ref is not None and layout.blocks[ref.source].compression is None:
            by_block.setdefault(ref.source, []).append(ref)
    return by_block


def _header(block, digest: bytes) -> bytes:
    """A block's header (after magic and size) with ``digest`` as its checksum."""
    return _BLOCK_HEADER.pack(block.flags, (block.compression or "").encode().ljust(4, b"\0"),
                              block.allocated_size, block.used_size, block.data_size, digest)


def covered(arrays: list, block) -> bool:
    """True if the arrays' bytes (``(ref, band, row)`` of :func:`_bands_of`) span the block's used bytes."""
    spans = sorted((r.offset, r.offset + r.nbytes) for r, _, _ in arrays)
    reach = 0
    for lo, hi in spans:
        if lo > reach:
            return False
        reach = max(reach, hi)
    return reach >= block.used_size


def _streamed(known: dict | None, arrays: list, block, md5: bool) -> tuple[bytes | None, list[int]] | None:
    """The streamed (MD5 or None, band digests) of a block holding one array that was fed whole, else None."""
    if not known or len(arrays) != 1:
        return None
    ref, band, _ = arrays[0]
    sums = known.get(ref.name.split(".", 1)[1])
    if sums is None or ref.offset != 0 or ref.nbytes != block.used_size or sums.nbytes != ref.nbytes:
        return None
    if md5 and sums._md5 is None:
        return None  # read back: the stream took no MD5
    if sums.fed != ref.nbytes or sums.band != band:
        raise RuntimeError(f"{ref.name}: {sums.fed} of {ref.nbytes} bytes were hashed as they were written")
    return sums.finish()


def _feed(hashers: list, ref, band: int, piece: bytes, piece_start: int, lo: int, hi: int) -> None:
    """Feed bytes ``[lo, hi)`` of the block (inside ``piece``) to the band hashers of ``ref``."""
    view = memoryview(piece)
    pos = lo
    while pos < hi:
        rel = pos - ref.offset
        index = rel // band
        while len(hashers) <= index:
            hashers.append(xxhash.xxh3_64())
        take = min(hi, ref.offset + (index + 1) * band) - pos
        hashers[index].update(view[pos - piece_start : pos - piece_start + take])
        pos += take


class BandCheck:
    """Checks the bands of one array of an opened cache entry against their digests.

    Parameters
    ----------
    uri : str
        The entry's path, for messages.
    offset : int
        The array's offset inside its block, bytes.
    band : int
        Bytes per band.
    digests : numpy.ndarray of uint64
    on_damage : callable
        Called (with no argument) before the error is raised: removes the entry.
    """

    def __init__(self, uri: str, name: str, offset: int, band: int, digests: np.ndarray, on_damage):
        self.uri, self.name, self.offset, self.band = uri, name, offset, band
        self.digests = digests
        self.on_damage = on_damage

    def aligned(self, start: int, stop: int) -> tuple[int, int]:
        """``[start, stop)`` (block offsets) widened to whole bands."""
        lo = self.offset + (start - self.offset) // self.band * self.band
        hi = self.offset + -(-(stop - self.offset) // self.band) * self.band
        return lo, hi

    def _first_bad(self, view, first: int, lo: int, hi: int) -> int | None:
        """Index (relative to the buffer) of the first band in ``[lo, hi)`` that does not match, or None."""
        digest = xxhash.xxh3_64_intdigest
        for i in range(lo, hi):
            j = first + i
            if j >= len(self.digests) or digest(view[i * self.band : (i + 1) * self.band]) != int(self.digests[j]):
                return i
        return None

    def verify(self, start: int, buffer) -> None:
        """Check the bytes of ``buffer``, which start at block offset ``start`` (band-aligned).

        A frame's bands are hashed on two threads (xxhash releases the GIL):
        the check then adds about half a hash of the frame to its read.
        """
        view = memoryview(buffer).cast("B")
        first = (start - self.offset) // self.band
        count = -(-len(view) // self.band)
        if count >= 8 and len(view) >= _PARALLEL_BYTES:
            half = count // 2
            other = _pool().submit(self._first_bad, view, first, half, count)
            bad = self._first_bad(view, first, 0, half)
            later = other.result()
            bad = bad if bad is not None else later
        else:
            bad = self._first_bad(view, first, 0, count)
        if bad is not None:
            self.on_damage()
            lo = start + bad * self.band
            raise ExposureError(self.uri, f"the cached calibration is damaged ({self.name}: bytes {lo:,}-"
                                          f"{min(lo + self.band, start + len(view)):,} of its block do not match their "
                                          "checksum); it has been removed: calibrate again to rebuild it")

    def __call__(self, array, start: int, out: np.ndarray) -> None:
        self.verify(start, out)


def attach(exposure, sums: dict, on_damage) -> None:
    """Check every read of ``exposure``'s arrays against ``sums`` (from :func:`seal`)."""
    for name, spec in (sums.get("arrays") or {}).items():
        arr = exposure.arrays.get(name)
        if arr is None:
            continue
        digests = np.frombuffer(bytes.fromhex(spec["digests"]), dtype="<u8")
        arr.check = BandCheck(exposure.uri, name, arr.ref.offset, int(spec["band"]), digests, on_damage)


def head_digest(source, layout) -> str:
    """xxh3 (hex) of the bytes before the first block: the ASDF tree and the first block's magic.

    The one rule for a sealed entry's ``"head"``: written by :func:`seal`,
    checked by :func:`head_matches` and :func:`processing.sealed_entries.head_problem`.
    """
    first = layout.blocks[0].offset if layout.blocks else source.size
    return xxhash.xxh3_64_hexdigest(source.read(0, first))


def head_matches(path: Path, sums: dict) -> bool:
    """True if the bytes before the first block (tree, first header) still match."""
    source = LocalFileSource(path)
    try:
        return head_digest(source, read_layout(source)) == sums.get("head")
    except ExposureError:
        return False
    finally:
        source.close()

