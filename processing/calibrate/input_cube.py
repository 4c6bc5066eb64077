"""Read an exposure's cubes in row bands and frames without memory-mapping them.

The streaming engine reads every pixel of the input twice (once in row bands
across all reads, once frame by frame).  :mod:`processing.io` memory-maps
uncompressed local files, which is right for the viewer but wrong here: every
page touched through a map stays in the process's resident set until the map
is dropped, so reading a 1.85 GB exposure through it would add 1.85 GB to the
engine's peak RSS.  :class:`InputCube` reads the same bytes with ``pread``
into small buffers instead (the kernel's page cache still serves repeats).

Inputs that cannot be read that way (S3 objects, lz4/zlib/bzp2 blocks) are
first copied, frame by frame, into an uncompressed scratch file that is read
the same way and removed afterwards.
"""

from __future__ import annotations

import logging

import os
from pathlib import Path

import numpy as np

from ..errors import ExposureError
from ..io import Exposure, LazyArray
from ..progress import Job, Progress

log = logging.getLogger(__name__)


class _PreadArray:
    """A C-ordered N-d array at a fixed offset of a local file, read with ``pread``.

    Parameters
    ----------
    fd : int
        Open file descriptor (owned by the caller).
    offset : int
        File offset of element ``[0, 0, ...]``, bytes.
    shape : tuple of int
    dtype : numpy.dtype
        With the file's byte order; results are returned in native order.
    """

    def __init__(self, fd: int, offset: int, shape: tuple[int, ...], dtype: np.dtype):
        self.fd = fd
        self.offset = int(offset)
        self.shape = tuple(int(s) for s in shape)
        self.file_dtype = np.dtype(dtype)
        self.dtype = self.file_dtype.newbyteorder("=")
        self.row_bytes = int(np.prod(self.shape[2:], dtype=np.int64)) * self.file_dtype.itemsize if len(self.shape) == 3 else 0

    def _read_into(self, out: np.ndarray, offset: int) -> None:
        view = memoryview(out.view(np.uint8).reshape(-1))
        done = 0
        while done < len(view):
            n = os.preadv(self.fd, [view[done:]], offset + done)
            if n <= 0:
                raise OSError(f"unexpected end of file at byte {offset + done}")
            done += n

    def _native(self, raw: np.ndarray, inplace: bool = False) -> np.ndarray:
        if self.file_dtype.isnative:
            return raw
        if inplace:  # a caller's buffer: swap it where it is
            return raw.byteswap(inplace=True).view(self.dtype)
        return raw.byteswap().view(self.dtype)

    def _target(self, out: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        """``out`` checked (C-contiguous, this array's itemsize and ``shape``), or a new array."""
        if out is None:
            return np.empty(shape, dtype=self.file_dtype)
        if out.shape != shape or out.dtype.itemsize != self.file_dtype.itemsize or out.dtype.kind != self.file_dtype.kind \
                or not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"out must be a writable C-contiguous {self.dtype} array of shape {shape}; got {out.dtype} {out.shape}")
        return out.view(self.file_dtype)

    def band(self, y0: int, y1: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``y0:y1`` of every plane, shape (N, y1 - y0, W): a new array, or ``out`` filled.

        ``out`` (native or file byte order, C-contiguous) saves the engine a
        fresh array per band: the kernel zeroes every new page it maps.
        """
        n, height, _ = self.shape
        out = self._target(out, (n, y1 - y0) + self.shape[2:])
        plane = height * self.row_bytes
        for k in range(n):
            self._read_into(out[k], self.offset + k * plane + y0 * self.row_bytes)
        return self._native(out, inplace=True)

    def frame(self, k: int, out: np.ndarray | None = None) -> np.ndarray:
        """Plane ``k``, shape ``shape[1:]``: a new array, or ``out`` filled (see :meth:`band`)."""
        out = self._target(out, self.shape[1:])
        self._read_into(out, self.offset + k * out.nbytes)
        return self._native(out, inplace=True)

    def read(self) -> np.ndarray:
        """The whole array (for small arrays)."""
        out = np.empty(self.shape, dtype=self.file_dtype)
        self._read_into(out, self.offset)
        return self._native(out)


class InputCube:
    """The arrays of an input exposure, readable in bands and frames.

    Use :meth:`open_job` (it may have to copy a remote or compressed input
    first) and :meth:`close` when done (removes any scratch copy).

    Attributes
    ----------
    shape : (N, H, W)
        Reads, rows, columns of ``data``.
    arrays : dict of str to _PreadArray
        ``data`` (N, H, W) and ``amp33`` (N, H, 128), uint16 DN, and any
        other block-backed array of the exposure.
    """

    def __init__(self, arrays: dict[str, _PreadArray], fds: list[int], scratch: Path | None):
        self.arrays = arrays
        self.shape = arrays["data"].shape
        self._fds = fds
        self._scratch = scratch

    @classmethod
    def open_job(cls, exposure: Exposure, scratch_dir: Path) -> Job[InputCube]:
        """Make the exposure's arrays readable with ``pread``, reporting progress.

        Local uncompressed arrays are read in place; everything else is copied
        plane by plane into ``scratch_dir`` first.
        """
        local = exposure.source.local_path
        direct: dict[str, LazyArray] = {}
        copied: dict[str, LazyArray] = {}
        for name, arr in exposure.arrays.items():
            block = exposure.layout.blocks[arr.ref.source]
            if local is not None and block.compression is None:
                direct[name] = arr
            else:
                copied[name] = arr
        fds: list[int] = []
        arrays: dict[str, _PreadArray] = {}
        scratch: Path | None = None
        try:
            if direct:
                fd = os.open(local, os.O_RDONLY)
                fds.append(fd)
                for name, arr in direct.items():
                    block = exposure.layout.blocks[arr.ref.source]
                    arrays[name] = _PreadArray(fd, block.data_offset + arr.ref.offset, arr.shape, arr.ref.dtype)
            if copied:
                scratch_dir.mkdir(parents=True, exist_ok=True)
                scratch = scratch_dir / "input.raw"
                fd = os.open(scratch, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
                fds.append(fd)
                total = sum(a.nbytes for a in copied.values()) or 1
                done = 0
                offset = 0
                for name, arr in copied.items():
                    arrays[name] = _PreadArray(fd, offset, arr.shape, arr.dtype)
                    planes = range(arr.shape[0]) if arr.ndim == 3 else [None]
                    for k in planes:
                        plane = np.ascontiguousarray(arr.read() if k is None else arr.frame(k), dtype=arr.dtype)
                        os.pwrite(fd, memoryview(plane).cast("B"), offset)
                        offset += plane.nbytes
                        done += plane.nbytes
                        yield Progress(done / total, f"reading {name}" + ("" if k is None else f" {k + 1}/{arr.shape[0]}"))
            if "data" not in arrays or "amp33" not in arrays:
                raise ExposureError(exposure.uri, "has no amp33 array: refpix needs the amp33 reference channel")
        except BaseException:
            for fd in fds:
                os.close(fd)
            if scratch is not None and scratch.exists():
                scratch.unlink()
            raise
        yield Progress(1.0, "input ready")
        return cls(arrays, fds, scratch)

    def close(self) -> None:
        """Close the files and remove any scratch copy."""
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []
        if self._scratch is not None and self._scratch.exists():
            self._scratch.unlink()
