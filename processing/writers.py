"""Writing files so that a full disk is an error, not a crash or a half-written result.

Every writer of the project (synthetic data, the calibrated cache, ``--out``,
the decompressed-block cache) writes under a temporary name, reserves the
bytes it needs with ``posix_fallocate`` before filling them (so a full disk
fails at once, naming the place and the bytes, instead of SIGBUS from a
memory map or ``ENOSPC`` half-way), and removes what it started.

``.partial-<pid>-...`` names carry the writer's process id:
:func:`remove_stale_partials` removes those of processes that no longer
exist (a ``kill -9`` during ``--out``).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
from pathlib import Path

from .errors import OutputError

log = logging.getLogger(__name__)

_PARTIAL = re.compile(r"\.partial-(\d+)-")
_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def _free(path: Path) -> int | None:
    for parent in [path, *path.parents]:
        try:
            return shutil.disk_usage(parent).free
        except OSError:
            continue
    return None


def disk_full_error(err: OSError, path, nbytes: int | None, what: str = "the output") -> Exception:
    """The plain error for an ``OSError`` met while writing ``path`` (returns it; the caller raises).

    ENOSPC/EDQUOT name the bytes needed and free, EROFS and EACCES say so;
    anything else keeps its ``strerror``.  A non-OSError is returned as is.
    """
    if isinstance(err, OutputError) or not isinstance(err, OSError):
        return err
    path = Path(path)
    if err.errno in _SPACE:
        free = _free(path.parent)
        need = f"{nbytes / 1e6:,.1f} MB are needed" if nbytes else "more space is needed"
        have = f", {free / 1e6:,.1f} MB are free" if free is not None else ""
        return OutputError(path.parent, f"no space left on the device for {what} ({need}{have})")
    if err.errno == errno.EROFS:
        return OutputError(path.parent, f"is on a read-only file system: {what} cannot be written there")
    if err.errno in (errno.EACCES, errno.EPERM):
        return OutputError(path.parent, f"permission denied: {what} cannot be written there")
    return OutputError(path, f"cannot write {what}: {err.strerror or err}")


def preallocate(fd: int, nbytes: int, path, what: str = "the output") -> None:
    """Reserve ``nbytes`` for the open file ``fd`` (``posix_fallocate``); :class:`OutputError` if the disk is full.

    File systems without fallocate (EOPNOTSUPP) are let through: the writes
    then report ENOSPC themselves.
    """
    if nbytes <= 0:
        return
    try:
        os.posix_fallocate(fd, 0, nbytes)
    except OSError as err:
        if err.errno in (errno.EOPNOTSUPP, errno.EINVAL, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)):
            return
        raise disk_full_error(err, path, nbytes, what) from err


def check_output_dir(directory, what: str = "the output") -> Path:
    """Raise :class:`OutputError` unless files can be created in ``directory`` (created if missing)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OutputError(directory, f"is a file, not a folder: {what} needs a folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise disk_full_error(err, directory / "x", None, what) from err
    try:
        read_only = bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        raise OutputError(directory, f"is on a read-only file system: {what} cannot be written there")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(directory, f"is not writable (permission denied): {what} cannot be written there")
    try:  # os.access does not see a read-only mount when running as root
        probe = directory / f".partial-{os.getpid()}-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise disk_full_error(err, probe, None, what) from err
    return directory


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (ours counts); decides which stale scratch may go."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(directory) -> list[Path]:
    """Remove ``.partial-<pid>-*`` files and folders of processes that are gone; return what was removed."""
    removed = []
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _PARTIAL.search(entry.name)
        if not match or process_alive(int(match.group(1))):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
            log.info("removed %s, left by process %s", entry, match.group(1))
        except OSError:
            pass
    return removed
