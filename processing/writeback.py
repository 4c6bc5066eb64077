"""Start the kernel's writeback of bytes that are final, so that a later fsync finds little left.

The calibration writes ~4.6 GB; with the default dirty-page thresholds most
of it is still in the page cache when the result is sealed, and the seal's
``fsync`` then waits seconds for the disk.  ``sync_file_range(...,
SYNC_FILE_RANGE_WRITE)`` (Linux; not in Python's :mod:`os`, called through
ctypes) starts writing a range and returns: called on planes as they become
final, the writes overlap the computation.  It is a hint: durability is
still the ``fsync`` before the rename, and where the call is missing
nothing changes but the time.
"""

from __future__ import annotations

_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback of dirty pages, do not wait
_SYNC: list = []


def _sync_file_range():
    """glibc's ``sync_file_range``, or None."""
    if not _SYNC:
        fn = None
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            fn = libc.sync_file_range
            fn.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
            fn.restype = ctypes.c_int
        except (OSError, AttributeError):
            fn = None
        _SYNC.append(fn)
    return _SYNC[0]


def can_write_back() -> bool:
    """True where :func:`start_writeback` does anything (Linux with glibc)."""
    return _sync_file_range() is not None


def start_writeback(fd: int, offset: int, n: int) -> None:
    """Ask the kernel to start writing ``[offset, offset + n)`` of ``fd`` to disk (no wait; errors ignored)."""
    fn = _sync_file_range()
    if fn is not None and n > 0:
        fn(fd, offset, n, _SYNC_FILE_RANGE_WRITE)
