"""Byte sources: where the ASDF block layer gets its bytes from.

The block layer (:mod:`processing.asdf_blocks`) only ever asks for byte ranges,
so the same code reads a local file or an object in S3.  A source also says
whether it can be memory-mapped (local files) and gives an *identity* string
that changes whenever the bytes may have changed (used as a cache key).
"""

from __future__ import annotations

import errno
import logging
import os
import stat as stat_mod
import threading
from pathlib import Path
from typing import Protocol

from .errors import ExposureError

log = logging.getLogger(__name__)


def _kind(mode: int) -> str:
    if stat_mod.S_ISDIR(mode):
        return "a directory"
    if stat_mod.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat_mod.S_ISSOCK(mode):
        return "a socket"
    if stat_mod.S_ISCHR(mode) or stat_mod.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def check_regular_file(path: str | os.PathLike, uri: str | None = None) -> os.stat_result:
    """``os.stat`` of ``path`` if it is a regular file; else :class:`ExposureError` at once.

    Opening a FIFO blocks until a writer appears, a device may never end:
    only regular files are opened (symlinks are followed; a loop is an error).
    """
    uri = str(path) if uri is None else uri
    try:
        st = os.stat(path)
    except FileNotFoundError as err:
        raise ExposureError(uri, "no such file") from err
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise ExposureError(uri, "is a symbolic link loop") from err
        raise ExposureError(uri, f"cannot be opened: {err.strerror}") from err
    if not stat_mod.S_ISREG(st.st_mode):
        kind = _kind(st.st_mode)
        raise ExposureError(uri, f"is {kind}, not a regular file" if kind != "not a regular file" else "is not a regular file")
    return st


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
        self._fd = -1
        check_regular_file(self.path, self.uri)
        try:
            # O_NONBLOCK: should the path be swapped for a FIFO between the
            # check and the open, the open still returns at once.
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as err:
            raise ExposureError(self.uri, f"cannot be opened: {err.strerror}") from err
        stat = os.fstat(self._fd)
        if not stat_mod.S_ISREG(stat.st_mode):
            os.close(self._fd)
            self._fd = -1
            raise ExposureError(self.uri, f"is {_kind(stat.st_mode)}, not a regular file")
        self.size = stat.st_size
        self._mtime_ns = stat.st_mtime_ns
        self._ino = stat.st_ino
        self._identity = f"file:{self.path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        self._lock = threading.Lock()
        self.bytes_read = 0

    def _changed(self) -> ExposureError:
        return ExposureError(self.uri, "the file changed since it was opened (truncated or rewritten): open it again")

    def check_unchanged(self) -> None:
        """Raise :class:`ExposureError` if the file's size or modification time changed since it was opened."""
        stat = os.fstat(self._fd)
        if stat.st_size != self.size or stat.st_mtime_ns != self._mtime_ns:
            raise self._changed()

    def read(self, offset: int, length: int) -> bytes:
        if self._fd < 0:
            raise ExposureError(self.uri, "file is closed")
        try:
            out = os.pread(self._fd, length, offset)
        except OSError as err:
            raise ExposureError(self.uri, f"read error at byte {offset:,}: {err.strerror}") from err
        # A short read inside the size seen at open, or any change of size or
        # mtime, means the bytes are no longer those the layout described.
        if len(out) < length and offset + length <= self.size:
            raise self._changed()
        self.check_unchanged()
        with self._lock:
            self.bytes_read += len(out)
        return out

    def read_into(self, offset: int, buffer) -> None:
        """Fill ``buffer`` (a writable buffer) with the bytes from ``offset``, exactly.

        Raises
        ------
        ExposureError
            If the file is shorter than that (it changed since it was opened).
        """
        if self._fd < 0:
            raise ExposureError(self.uri, "file is closed")
        view = memoryview(buffer).cast("B")
        done = 0
        try:
            while done < len(view):
                n = os.preadv(self._fd, [view[done:]], offset + done)
                if n == 0:
                    raise self._changed() if offset + len(view) <= self.size else ExposureError(
                        self.uri, f"read past the end of the file at byte {offset + done:,}")
                done += n
        except OSError as err:
            raise ExposureError(self.uri, f"read error at byte {offset + done:,}: {err.strerror}") from err
        self.check_unchanged()
        with self._lock:
            self.bytes_read += done

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
