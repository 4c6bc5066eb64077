"""Row bands of reference-file arrays, without loading the arrays whole.

The linearity references alone are 670 MB in memory for a 4096 x 4096
detector (six and three float32 coefficient planes plus DQ).  The streaming
engine only ever needs the rows of the band it is working on, so
:class:`RefArray` reads those rows: by ``pread`` from uncompressed blocks,
and from lz4 blocks (roman_datamodels' default) by decompressing only the
4 MiB chunks that hold them, keeping a few recent chunks for the next band.
Other compressions (zlib, bzp2: single streams) are loaded whole once.
"""

from __future__ import annotations

import logging

import bisect
import threading
from collections import OrderedDict
from pathlib import Path

import lz4.block
import numpy as np

from ..asdf_blocks import array_ref, lz4_chunk_index, read_layout
from ..errors import ReferenceFileError
from ..sources import LocalFileSource

log = logging.getLogger(__name__)

_CHUNK_CACHE_BYTES = 96 * 1024 * 1024


class RefArray:
    """One array of a reference file, readable by rows.

    Parameters
    ----------
    path : Path
        The reference file (already validated).
    name : str
        Array of its ``roman`` node (``coeffs``, ``dq``, ``data``...).

    Attributes
    ----------
    shape : tuple of int
        (H, W) or (n, H, W).
    dtype : numpy.dtype
        Native byte order.
    """

    def __init__(self, path: Path, name: str):
        self.path = Path(path)
        self._source = LocalFileSource(self.path)
        layout = read_layout(self._source)
        ref = array_ref(layout.tree["roman"][name], str(path), f"roman.{name}")
        if ref is None:  # pragma: no cover - validated before
            raise ReferenceFileError(f"{path}: has no array '{name}'")
        self.ref = ref
        self.block = layout.blocks[ref.source]
        self.shape = tuple(ref.shape)
        self.dtype = ref.dtype.newbyteorder("=")
        self._row_bytes = ref.shape[-1] * ref.dtype.itemsize
        self._whole: np.ndarray | None = None
        self._chunks = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cached = 0
        if self.block.compression == "lz4":
            self._chunks = lz4_chunk_index(self._source, self.block)
            self._starts = [c.start for c in self._chunks]
        elif self.block.compression is not None:
            self._whole = self._load_whole(name)

    def _load_whole(self, name: str) -> np.ndarray:
        import asdf

        with asdf.open(self.path, lazy_load=False, memmap=False) as af:
            return np.array(af.tree["roman"][name])

    def _chunk(self, index: int) -> bytes:
        with self._lock:
            data = self._cache.get(index)
            if data is not None:
                self._cache.move_to_end(index)
                return data
        chunk = self._chunks[index]
        payload = self._source.read(chunk.file_offset, chunk.compressed)
        try:
            data = lz4.block.decompress(payload, uncompressed_size=chunk.length)
        except lz4.block.LZ4BlockError as err:
            raise ReferenceFileError(f"{self.path}: lz4 chunk {index} is corrupt ({err})") from err
        with self._lock:
            if index not in self._cache:
                self._cache[index] = data
                self._cached += len(data)
                while self._cached > _CHUNK_CACHE_BYTES and len(self._cache) > 1:
                    _, old = self._cache.popitem(last=False)
                    self._cached -= len(old)
        return data

    def _span(self, start: int, stop: int, out: memoryview) -> None:
        """Uncompressed block bytes ``start:stop`` into ``out``."""
        if self._chunks is None:
            raw = self._source.read(self.block.data_offset + start, stop - start)
            if len(raw) != stop - start:
                raise ReferenceFileError(f"{self.path}: unexpected end of file")
            out[:] = raw
            return
        i = max(bisect.bisect_right(self._starts, start) - 1, 0)
        pos = start
        while pos < stop:
            chunk = self._chunks[i]
            data = self._chunk(i)
            lo = pos - chunk.start
            take = min(stop - pos, chunk.length - lo)
            out[pos - start : pos - start + take] = data[lo : lo + take]
            pos += take
            i += 1

    def rows(self, y0: int, y1: int) -> np.ndarray:
        """Rows ``y0:y1``: shape (y1 - y0, W) or (n, y1 - y0, W), a new array."""
        if self._whole is not None:
            return np.array(self._whole[..., y0:y1, :])
        planes = 1 if len(self.shape) == 2 else self.shape[0]
        height = self.shape[-2]
        out = np.empty((planes, y1 - y0, self.shape[-1]), dtype=self.ref.dtype)
        flat = out.view(np.uint8).reshape(planes, -1)
        for p in range(planes):
            start = self.ref.offset + (p * height + y0) * self._row_bytes
            self._span(start, start + (y1 - y0) * self._row_bytes, memoryview(flat[p]))
        if not self.ref.dtype.isnative:
            out = out.byteswap().view(self.dtype)
        return out[0] if len(self.shape) == 2 else out

    def close(self) -> None:
        self._source.close()
        self._cache.clear()
