"""Byte sources: where the ASDF block layer gets its bytes from.

The block layer (:mod:`processing.asdf_blocks`) only ever asks for byte ranges,
so the same code reads a local file or an object in S3.  A source also says
whether it can be memory-mapped (local files) and gives an *identity* string
that changes whenever the bytes may have changed (used as a cache key).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol

from .errors import ExposureError


class ByteSource(Protocol):
    """Random access to the bytes of one file or object."""

    uri: str
    size: int

    def read(self, offset: int, length: int) -> bytes:
        """Return ``length`` bytes from ``offset`` (fewer only at end of file)."""

    def read_ranges(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        """Return the bytes of several ``(offset, length)`` ranges."""

    @property
    def local_path(self) -> Path | None:
        """A path that can be memory-mapped, or None."""

    @property
    def identity(self) -> str:
        """A string that changes when the content may have changed."""

    def close(self) -> None:
        """Release the file handle or connection."""


class LocalFileSource:
    """A local file read with ``os.pread`` (thread-safe, no shared position).

    Parameters
    ----------
    path : str or Path
        The file.

    Raises
    ------
    ExposureError
        If the path does not exist, is a directory or cannot be opened.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()
        self.uri = str(path)
        if not self.path.exists():
            raise ExposureError(self.uri, "no such file")
        if self.path.is_dir():
            raise ExposureError(self.uri, "is a directory, not an ASDF file")
        try:
            self._fd = os.open(self.path, os.O_RDONLY)
        except OSError as err:
            raise ExposureError(self.uri, f"cannot be opened: {err.strerror}") from err
        stat = os.fstat(self._fd)
        self.size = stat.st_size
        self._identity = f"file:{self.path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        self._lock = threading.Lock()
        self.bytes_read = 0

    def read(self, offset: int, length: int) -> bytes:
        if self._fd < 0:
            raise ExposureError(self.uri, "file is closed")
        out = os.pread(self._fd, length, offset)
        with self._lock:
            self.bytes_read += len(out)
        return out

    def read_ranges(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        return [self.read(offset, length) for offset, length in ranges]

    @property
    def local_path(self) -> Path | None:
        return self.path

    @property
    def identity(self) -> str:
        return self._identity

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass
