"""Cache entries sealed by band digests: check one whole, or export it as a file with MD5 checksums.

A calibrated cache entry's big blocks carry the ASDF standard's all-zero
"no checksum" (:func:`processing.frame_sums.seal` with ``md5=False``): the
xxh3 band digests in the entry's manifest are its integrity record, and
every read of the entry is checked against them.  Two things read the whole
entry instead:

* ``brightstar verify`` and the viewer's background check
  (:func:`processing.verify.verify_job`) check each such block against its
  band digests (:func:`check_block`), so an entry reads as *verified* only
  after every byte was hashed, and a flipped bit is *corrupt*, naming the
  array and bytes;
* an export (``brightstar calibrate --out``) copies the entry with
  :func:`export_entry`, which checks every band as it reads and writes the
  MD5 of each block into the copy: a standalone file that ``asdf`` and
  ``brightstar verify`` check without the manifest.  Bytes that fail their
  band digest are never given an MD5 (that would certify damage).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .asdf_blocks import read_layout
from .cache import entry_record, fsync_dir
from .errors import ExposureError
from .frame_sums import _bands_of, _feed, _header, block_arrays, covered, head_digest
from .sources import LocalFileSource
from .writeback import start_writeback

_PIECE = 16 * 1024 * 1024


def entry_sums(path) -> dict | None:
    """The band digests (``seal``'s dict) of a calibrated-cache entry at ``path``, or None if it is not one."""
    record = entry_record(path)
    return record.get("sums") if record is not None else None


def head_problem(source, layout, sums: dict) -> str | None:
    """Why the bytes before the first block (the tree) fail their digest, or None."""
    if head_digest(source, layout) != sums.get("head"):
        first = layout.blocks[0].offset if layout.blocks else source.size
        return f"the ASDF tree (bytes 0-{first:,}) does not match its checksum"
    return None


def checkable(layout, uri: str, sums: dict) -> dict[int, list]:
    """Block number -> ``(ref, band, digests)`` of the blocks whose bytes band digests wholly cover."""
    specs = sums.get("arrays") or {}
    out = {}
    for index, refs in block_arrays(layout, uri).items():
        arrays = []
        for ref in refs:
            spec = specs.get(ref.name.split(".", 1)[1])
            band = _bands_of(ref)[0]
            if spec is None or int(spec["band"]) != band:
                arrays = []
                break
            arrays.append((ref, band, np.frombuffer(bytes.fromhex(spec["digests"]), dtype="<u8")))
        if arrays and covered(arrays, layout.blocks[index]):
            out[index] = arrays
    return out


def check_block(source, block, arrays: list, *, md5: bool = False, sink=None, counter=None,
                stop: threading.Event | None = None) -> tuple[str | None, bytes | None]:
    """Read a block's used bytes in order and check its arrays' bands.

    Parameters
    ----------
    source : ByteSource
    block : BlockHeader
    arrays : list of (ArrayRef, int, numpy.ndarray)
        From :func:`checkable` (empty: no band checks).
    md5 : bool
        Also take the MD5 of the bytes.
    sink : callable, optional
        ``sink(offset_in_block, piece)`` for each piece read (a copy).
    counter : queue.Queue, optional
        Gets the byte count of each piece (progress).
    stop : threading.Event, optional
        Set to stop early; then returns ``("stopped", None)``.

    Returns
    -------
    (str or None, bytes or None)
        What does not match (``roman.data: bytes a-b of its block``), or
        None; and the MD5 digest when asked.
    """
    hashers = {ref.name: [] for ref, _, _ in arrays}
    digest = hashlib.md5(usedforsecurity=False) if md5 else None
    done = 0
    while done < block.used_size:
        if stop is not None and stop.is_set():
            return "stopped", None
        n = min(_PIECE, block.used_size - done)
        piece = source.read(block.data_offset + done, n)
        if len(piece) < n:
            raise ExposureError(source.uri, f"block at byte {block.offset:,} is cut short: the file is truncated")
        for ref, band, _ in arrays:
            lo, hi = max(ref.offset, done), min(ref.offset + ref.nbytes, done + n)
            if lo < hi:
                _feed(hashers[ref.name], ref, band, piece, done, lo, hi)
        if digest is not None:
            digest.update(piece)
        if sink is not None:
            sink(done, piece)
        done += n
        if counter is not None:
            counter.put(n)
    for ref, band, expected in arrays:
        found = [h.intdigest() for h in hashers[ref.name]]
        bad = next((i for i, (a, b) in enumerate(zip(found, expected)) if a != int(b)), None)
        if bad is None and len(found) != len(expected):
            bad = min(len(found), len(expected))
        if bad is not None:
            lo = ref.offset + bad * band
            return f"{ref.name}: bytes {lo:,}-{min(lo + band, ref.offset + ref.nbytes):,} of its block", None
    return None, (digest.digest() if digest is not None else None)


def export_entry(src: Path, dest: Path, sums: dict, what: str = "the calibrated ramp") -> Path:
    """Copy the sealed entry ``src`` to ``dest`` with the MD5 of every block in its header.

    Every block's bytes are checked against their band digests (or their
    own MD5) as they are copied; the copy is written as
    ``.partial-<pid>-<name>``, fsync'ed, renamed and its folder fsync'ed, so
    ``dest`` either is a whole verified file or does not change.

    Raises
    ------
    ExposureError
        ``src`` does not match its digests (the error names the array and
        bytes), or a block carries neither a checksum nor band digests.
    OutputError
        ``dest`` cannot be written (disk full: the bytes needed and free).
    """
    from .writers import disk_full_error, preallocate, remove_stale_partials

    src, dest = Path(src), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(dest.parent)  # left by a kill -9 during an earlier export
    tmp = dest.with_name(f".partial-{os.getpid()}-{dest.name}")
    source = LocalFileSource(src)
    fd = -1
    try:
        layout = read_layout(source)
        problem = head_problem(source, layout, sums)
        specs = checkable(layout, str(src), sums)
        unsealed = [i for i, b in enumerate(layout.blocks) if i not in specs and not any(b.checksum)]
        if problem is None and unsealed:
            problem = f"block {unsealed[0]} carries neither a checksum nor band digests"
        if problem is not None:
            raise ExposureError(str(src), f"the cached calibration is damaged ({problem}); it was not exported")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        preallocate(fd, source.size, tmp, what)

        def put(offset: int, data: bytes) -> None:
            view, done = memoryview(data), 0
            while done < len(view):
                done += os.pwrite(fd, view[done:], offset + done)
            start_writeback(fd, offset, len(view))

        # Bytes outside the blocks' used data (tree, block headers, padding, index): copied as they are.
        edges = sorted((b.data_offset, b.data_offset + b.used_size) for b in layout.blocks)
        at = 0
        for lo, hi in [*edges, (source.size, source.size)]:
            while at < lo:
                n = min(_PIECE, lo - at)
                put(at, source.read(at, n))
                at += n
            at = max(at, hi)

        def copy(index: int):
            block = layout.blocks[index]
            return check_block(source, block, specs.get(index, []), md5=True,
                               sink=lambda off, piece: put(block.data_offset + off, piece))

        workers = max(1, min(len(layout.blocks), os.cpu_count() or 1, 4))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="export") as pool:
            # Biggest first: the MD5 of one block runs on one core.
            order = sorted(range(len(layout.blocks)), key=lambda i: -layout.blocks[i].used_size)
            results = dict(zip(order, pool.map(copy, order)))
        for index, block in enumerate(layout.blocks):
            problem, digest = results[index]
            if problem is None and any(block.checksum) and digest != block.checksum:
                problem = f"block {index} at byte {block.offset:,} does not match its checksum"
            if problem is not None:
                raise ExposureError(str(src), f"the cached calibration is damaged ({problem}); it was not exported")
            os.pwrite(fd, _header(block, digest), block.offset + 6)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    except OSError as err:
        raise disk_full_error(err, dest, source.size, what) from err
    finally:
        if fd >= 0:
            os.close(fd)
        source.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return dest
