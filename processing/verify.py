"""Check every binary block of an ASDF file against the MD5 checksum in its header.

asdf writes, in each block header, the MD5 of the block's bytes *as stored*
(the compressed bytes of an lz4/zlib/bzp2 block); sixteen zero bytes mean
"no checksum".  :func:`verify_job` recomputes them by byte range, so it works
on local files and S3 objects alike, reports progress and can be cancelled
(close the generator, or ``run(job, cancel=token)``).  It is Qt-free: the
viewer drives it in a worker thread after the first frame is shown, the CLI
(``brightstar verify``) with a progress bar.

A block of a calibrated-cache entry that carries no MD5 (the cache seals
its big blocks with the xxh3 band digests of the entry's manifest, see
:mod:`processing.sealed_entries`) is checked against those digests instead,
and the entry's tree against its digest: the entry is ``verified`` only
after every byte was hashed.

Blocks are hashed in parallel (``hashlib`` releases the GIL on large
buffers), one block per worker, so two cores check a 1.9 GB exposure in
about the time one core needs for its largest block.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .asdf_blocks import BlockHeader, read_layout
from .errors import ExposureError
from .progress import Job, Progress

log = logging.getLogger(__name__)

_PIECE = 16 * 1024 * 1024  # bytes hashed per read

#: Statuses of a block and of a file.
VERIFIED, CORRUPT, NO_CHECKSUMS = "verified", "corrupt", "no checksums"


@dataclass(frozen=True)
class BlockCheck:
    """The verdict on one block.

    Attributes
    ----------
    index : int
        Block number (as arrays refer to it: ``source``); -1 for the ASDF
        tree of a cache entry.
    offset : int
        File offset of the block header, bytes.
    status : {"verified", "corrupt", "no checksums"}
    expected, found : str
        Hex MD5 from the header and of the bytes ("" when not checked); for
        ``how="bands"``, ``found`` says which bytes do not match.
    how : {"md5", "bands"}
        Checked against the header's MD5, or against the band digests of the
        cache entry's manifest.
    """

    index: int
    offset: int
    status: str
    expected: str = ""
    found: str = ""
    how: str = "md5"

    def where(self) -> str:
        """The block (and the bytes that do not match), for messages."""
        if self.index < 0:
            return self.found or "the ASDF tree"
        extra = f" ({self.found})" if self.how == "bands" and self.found else ""
        return f"block {self.index} at byte {self.offset:,}{extra}"


@dataclass(frozen=True)
class VerifyResult:
    """The verdict on a file.

    Attributes
    ----------
    uri : str
    status : {"verified", "corrupt", "no checksums"}
        ``corrupt`` if any block does not match; ``verified`` if every block
        carries a checksum and matches; ``no checksums`` if none carries one.
        A file where some blocks carry one and match is ``verified`` with
        :attr:`unchecked` naming the others.
    blocks : tuple of BlockCheck
    """

    uri: str
    status: str
    blocks: tuple[BlockCheck, ...]

    @property
    def corrupt(self) -> tuple[BlockCheck, ...]:
        return tuple(b for b in self.blocks if b.status == CORRUPT)

    @property
    def unchecked(self) -> tuple[BlockCheck, ...]:
        return tuple(b for b in self.blocks if b.status == NO_CHECKSUMS)

    def describe(self) -> str:
        """One line for a user."""
        if self.status == CORRUPT:
            bad = ", ".join(b.where() for b in self.corrupt)
            return f"{self.uri}: corrupt: {bad} does not match its checksum"
        if self.status == NO_CHECKSUMS:
            return f"{self.uri}: carries no checksums ({len(self.blocks)} block(s) not checked)"
        extra = f"; {len(self.unchecked)} block(s) carry no checksum" if self.unchecked else ""
        bands = sum(1 for b in self.blocks if b.how == "bands")
        how = f", {bands} by the cache manifest's band digests" if bands else ""
        blocks = [b for b in self.blocks if b.index >= 0]
        return f"{self.uri}: verified ({len(blocks) - len(self.unchecked)} block(s) match their checksums{how}{extra})"


def _hash_block(source, block: BlockHeader, counter: queue.Queue, stop: threading.Event) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    done = 0
    while done < block.used_size:
        if stop.is_set():
            return ""
        n = min(_PIECE, block.used_size - done)
        piece = source.read(block.data_offset + done, n)
        if len(piece) < n:
            raise ExposureError(source.uri, f"block at byte {block.offset:,} is cut short: the file is truncated")
        digest.update(piece)
        done += n
        counter.put(n)
    return digest.hexdigest()


def _entry_bands(source, layout) -> tuple[dict, str | None]:
    """Band digests of a cache entry's blocks that carry no MD5 (by block number), and a tree mismatch or None."""
    from .sealed_entries import checkable, entry_sums, head_problem

    local = getattr(source, "local_path", None)
    sums = entry_sums(local) if local is not None else None
    if sums is None:
        return {}, None
    specs = checkable(layout, source.uri, sums)
    return {i: a for i, a in specs.items() if not any(layout.blocks[i].checksum)}, head_problem(source, layout, sums)


def _band_block(source, block: BlockHeader, arrays: list, counter: queue.Queue, stop: threading.Event) -> str:
    """"" if the block matches its band digests, else which bytes do not ("stopped" if stopped first).

    A stopped check is never "": only a whole block hashed reads as verified.
    """
    from .sealed_entries import check_block

    bad, _ = check_block(source, block, arrays, counter=counter, stop=stop)
    return "" if bad is None else bad


def verify_source_job(source, workers: int | None = None) -> Job[VerifyResult]:
    """:func:`verify_job` on an open :class:`~processing.sources.ByteSource` (left open)."""
    layout = read_layout(source)
    bands, head = _entry_bands(source, layout)
    checked = [b for i, b in enumerate(layout.blocks) if any(b.checksum) or i in bands]
    total = sum(b.used_size for b in checked) or 1
    results: dict[int, str] = {}
    stop = threading.Event()
    counter: queue.Queue = queue.Queue()
    workers = workers or max(1, min(len(checked), os.cpu_count() or 1, 4))
    yield Progress(0.0, f"verifying {len(checked)} of {len(layout.blocks)} block(s)")
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="verify")
    try:
        futures = {(pool.submit(_band_block, source, b, bands[i], counter, stop) if i in bands else
                    pool.submit(_hash_block, source, b, counter, stop)): i
                   for i, b in enumerate(layout.blocks) if b in checked}
        done = 0
        pending = set(futures)
        while pending:
            try:
                done += counter.get(timeout=0.2)
            except queue.Empty:
                pass
            finished = {f for f in pending if f.done()}
            for f in finished:
                results[futures[f]] = f.result()  # raises ExposureError for a truncated block
            pending -= finished
            yield Progress(min(done / total, 1.0), f"verifying checksums: {done >> 20} / {total >> 20} MiB")
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
    checks = [BlockCheck(-1, 0, CORRUPT, "", head, "bands")] if head else []
    for i, block in enumerate(layout.blocks):
        if i not in results:
            checks.append(BlockCheck(i, block.offset, NO_CHECKSUMS))
            continue
        if i in bands:
            bad = results[i]
            checks.append(BlockCheck(i, block.offset, CORRUPT if bad else VERIFIED, "xxh3 band digests", bad, "bands"))
            continue
        expected = block.checksum.hex()
        status = VERIFIED if results[i] == expected else CORRUPT
        checks.append(BlockCheck(i, block.offset, status, expected, results[i]))
    if any(c.status == CORRUPT for c in checks):
        status = CORRUPT
    elif any(c.status == VERIFIED for c in checks):
        status = VERIFIED
    else:
        status = NO_CHECKSUMS
    result = VerifyResult(source.uri, status, tuple(checks))
    log.info("%s", result.describe())
    yield Progress(1.0, status)
    return result


def verify_job(uri, *, anon: bool = True, endpoint_url: str | None = None, workers: int | None = None) -> Job[VerifyResult]:
    """Check every block of an ASDF file against its MD5 checksum, reporting progress.

    Parameters
    ----------
    uri : str or Path
        Local path or ``s3://bucket/key``.
    anon, endpoint_url
        S3 access, as for :func:`processing.io.open_exposure`.
    workers : int, optional
        Blocks hashed at once (default: the number of cores, at most 4).

    Yields
    ------
    Progress

    Returns
    -------
    VerifyResult

    Raises
    ------
    ExposureError
        If the file cannot be read as ASDF at all (not ASDF, truncated tree
        or block headers).
    """
    from .io import open_source

    source = open_source(uri, anon=anon, endpoint_url=endpoint_url)
    try:
        return (yield from verify_source_job(source, workers))
    finally:
        source.close()
