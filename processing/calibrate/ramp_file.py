"""Write a calibrated ``RampModel`` ASDF file piece by piece, never whole in memory.

roman_datamodels and asdf write a model in one call from in-memory (or
memory-mapped) arrays.  A calibrated 55-read cube is 3.7 GB of float32 plus
0.9 GB of group DQ, and every page of a memory map that asdf reads while
saving counts towards the process's resident set, so saving from a map costs
as much peak memory as holding the cube.  Instead:

1. The model is built with its final metadata and *placeholder* arrays of
   the final shapes and dtypes (``np.zeros``: untouched, they occupy no
   memory).
2. asdf serialises it as usual (tree, block headers, block index) into a
   file object that skips over the placeholders' bytes instead of writing
   them, so the file is sparse and the write is instant.  Checksums are
   left out here (a zero checksum means "none" in the ASDF standard): they
   would describe the placeholders, not the data.  Its bytes are then
   reserved with ``posix_fallocate`` (a full disk fails here, at once).
3. The engine then fills each array's bytes in place, by frame or by row
   band, with ``pwrite`` (the page cache holds them, not the process).
4. :func:`processing.frame_sums.seal` then seals the file: a cache entry by
   the xxh3 band digests of its manifest (its big blocks keep the all-zero
   "no checksum"), an exported file with the real MD5s in its block headers.

If a future asdf copied the placeholders before writing, step 2 would write
zeros instead of skipping them: slower, still correct.
"""

from __future__ import annotations

import logging

import io
import os
from pathlib import Path

import numpy as np

from ..asdf_blocks import array_ref, read_layout
from ..sources import LocalFileSource
from ..writers import disk_full_error, preallocate
from .input_cube import _PreadArray

log = logging.getLogger(__name__)

# Arrays smaller than this are written normally (skipping them saves nothing).
_MIN_SKIP_BYTES = 1 << 20


def _address(buffer) -> tuple[int, int] | None:
    try:
        arr = np.frombuffer(buffer, dtype=np.uint8)
    except (TypeError, ValueError):
        return None
    return arr.ctypes.data, arr.nbytes


class _SparseFile(io.FileIO):
    """A writable file that seeks over the bytes of known placeholder arrays.

    Parameters
    ----------
    path : Path
    skip : dict of int to int
        Memory address -> byte count of each placeholder's buffer.
    """

    def __init__(self, path: Path, skip: dict[int, int]):
        super().__init__(path, "w+")
        self._skip = skip

    def write(self, b) -> int:
        view = memoryview(b)
        if not view.c_contiguous:
            view = memoryview(bytes(view))
        view = view.cast("B")
        n = view.nbytes
        if n >= _MIN_SKIP_BYTES:
            where = _address(view)
            if where is not None and self._skip.get(where[0]) == n:
                self.seek(n, os.SEEK_CUR)
                return n
        done = 0
        while done < n:  # a raw write may be partial (2 GiB per call on Linux)
            done += super().write(view[done:])
        return n


def placeholder(shape: tuple[int, ...], dtype) -> np.ndarray:
    """A zero array that takes no memory until touched (calloc'ed pages)."""
    return np.zeros(shape, dtype=dtype)


class RampFileWriter:
    """A RampModel ASDF file whose large arrays are filled after it is written.

    Parameters
    ----------
    path : Path
        Where to write (a scratch location: the caller renames it into place).
    model : roman_datamodels.datamodels.RampModel
        Final metadata; arrays named in ``placeholders`` are placeholders of
        the final shape and dtype (see :func:`placeholder`).
    placeholders : iterable of str
        Names of the ``roman`` node's arrays that will be filled.
    what : str
        What the file is, for the errors (``"the calibrated cube"``).

    Attributes
    ----------
    arrays : dict of str to _PreadArray
        Where each filled array lives in the file.
    """

    def __init__(self, path: Path, model, placeholders, what: str = "the calibrated cube"):
        import asdf
        from astropy.time import Time

        self.path = Path(path)
        self.what = what
        names = list(placeholders)
        skip = {}
        for name in names:
            arr = np.asarray(getattr(model, name))
            skip[arr.ctypes.data] = arr.nbytes
        # What roman_datamodels' DataModel.save does, with our file object and
        # without checksums.  Values keep their node's type: TvacModel's
        # filename and file_date are tagged subclasses of str and Time.
        meta = model._instance.meta
        for key, value in (("filename", self.path.name), ("file_date", Time.now())):
            old = meta.get(key) if hasattr(meta, "get") else None
            setattr(meta, key, type(old)(value) if old is not None else value)
        af = asdf.AsdfFile()
        af["roman"] = model._instance
        with _SparseFile(self.path, skip) as fh:
            with asdf.config_context() as cfg:
                cfg.array_inline_threshold = 512
                af.write_to(fh, all_array_compression=None, write_checksums=False)
            end = fh.tell()
            if os.fstat(fh.fileno()).st_size < end:
                fh.truncate(end)
        del af
        self._fd = os.open(self.path, os.O_RDWR)
        # Reserve every byte now: a full disk is one clear error before any
        # work, not ENOSPC (or worse) half-way through a calibration.
        try:
            preallocate(self._fd, end, self.path, self.what)
        except BaseException:
            os.close(self._fd)
            self._fd = -1
            raise
        source = LocalFileSource(self.path)
        try:
            layout = read_layout(source)
        finally:
            source.close()
        roman = layout.tree["roman"]
        self.arrays: dict[str, _PreadArray] = {}
        for name in names:
            ref = array_ref(roman[name], str(self.path), f"roman.{name}")
            block = layout.blocks[ref.source]
            if block.compression is not None:  # pragma: no cover - we never compress
                raise RuntimeError(f"{name} was written compressed")
            self.arrays[name] = _PreadArray(self._fd, block.data_offset + ref.offset, ref.shape, ref.dtype)

    def _put(self, slot: _PreadArray, arr: np.ndarray, offset: int) -> None:
        arr = np.ascontiguousarray(arr, dtype=slot.file_dtype)
        view = memoryview(arr).cast("B")
        done = 0
        try:
            while done < len(view):
                done += os.pwrite(self._fd, view[done:], offset + done)
        except OSError as err:
            raise disk_full_error(err, self.path, len(view) - done, self.what) from err

    def write_frame(self, name: str, k: int, plane: np.ndarray) -> None:
        """Write plane ``k`` (shape ``shape[1:]``) of a 3-d array."""
        slot = self.arrays[name]
        if plane.shape != slot.shape[1:]:
            raise ValueError(f"{name}[{k}] must have shape {slot.shape[1:]}, not {plane.shape}")
        self._put(slot, plane, slot.offset + k * slot.row_bytes * slot.shape[1])

    def write_band(self, name: str, y0: int, band: np.ndarray, k0: int = 0) -> None:
        """Write rows ``y0:y0 + band.shape[1]`` of planes ``k0:k0 + band.shape[0]`` of a 3-d array (default: all)."""
        slot = self.arrays[name]
        n, height, _ = slot.shape
        if k0 + band.shape[0] > n or band.shape[2:] != slot.shape[2:] or y0 + band.shape[1] > height:
            raise ValueError(f"band of shape {band.shape} at plane {k0}, row {y0} does not fit {name} {slot.shape}")
        plane = height * slot.row_bytes
        if band.shape[1] == height:  # whole planes: contiguous in the file
            self._put(slot, band, slot.offset + k0 * plane)
            return
        for k in range(band.shape[0]):
            self._put(slot, band[k], slot.offset + (k0 + k) * plane + y0 * slot.row_bytes)

    def read_band(self, name: str, y0: int, y1: int, k0: int = 0, k1: int | None = None,
                  out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``y0:y1`` of planes ``k0:k1`` (default: all) of a 3-d array: a new array, or ``out`` filled.

        ``out`` must be C-contiguous with the band's shape and the array's
        itemsize (a reused buffer: no fresh pages for the kernel to zero).
        """
        slot = self.arrays[name]
        n, height, _ = slot.shape
        k1 = n if k1 is None else k1
        out = slot._target(out, (k1 - k0, y1 - y0) + slot.shape[2:])
        plane = height * slot.row_bytes
        for k in range(k0, k1):
            slot._read_into(out[k - k0], slot.offset + k * plane + y0 * slot.row_bytes)
        return slot._native(out, inplace=True)

    def write_array(self, name: str, arr: np.ndarray) -> None:
        """Write a whole array."""
        slot = self.arrays[name]
        if arr.shape != slot.shape:
            raise ValueError(f"{name} must have shape {slot.shape}, not {arr.shape}")
        self._put(slot, arr, slot.offset)

    def close(self) -> None:
        """Close the file (it stays where it is)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
