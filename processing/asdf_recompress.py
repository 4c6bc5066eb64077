"""Re-encode the binary blocks of an ASDF file as lz4, streaming.

``asdf`` compresses a whole block into memory before writing it, so saving a
55-read cube with lz4 costs the cube plus its compressed copy (5.4 GiB peak
for a full exposure).  The tree of an ASDF file does not say how a block is
compressed (arrays refer to blocks by number), so an uncompressed file can be
turned into an lz4 one block by block: the same tree, then each block's
header with ``compression = "lz4"`` and its data as asdf's lz4 chunks
(``[uint32 BE length][lz4 block with its uint32 LE size]``, 4 MiB each),
then a fresh block index.  Memory: one 4 MiB chunk at a time.
"""

from __future__ import annotations

import logging

import hashlib
import os
import struct
from pathlib import Path

import lz4.block
import yaml

from .asdf_blocks import _BLOCK_HEADER, BLOCK_MAGIC, read_layout
from .sources import LocalFileSource

log = logging.getLogger(__name__)

CHUNK = 1 << 22  # 4 MiB, asdf's lz4 chunk size


def recompress_lz4(src: Path, dst: Path) -> Path:
    """Write ``dst``: ``src`` with every uncompressed block lz4-compressed.

    Parameters
    ----------
    src : Path
        An ASDF file whose blocks are uncompressed.
    dst : Path
        Output; written under a temporary name and renamed when complete.
    """
    source = LocalFileSource(src)
    try:
        layout = read_layout(source)
        if any(b.compression for b in layout.blocks):
            raise ValueError(f"{src}: already has compressed blocks")
        first = layout.blocks[0].offset if layout.blocks else source.size
        tmp = Path(dst).with_name(Path(dst).name + ".partial")
        offsets = []
        with open(tmp, "wb") as out:
            out.write(source.read(0, first))  # header and tree, verbatim
            for block in layout.blocks:
                offsets.append(out.tell())
                header_at = out.tell()
                out.write(BLOCK_MAGIC + struct.pack(">H", _BLOCK_HEADER.size) + bytes(_BLOCK_HEADER.size))
                used = 0
                digest = hashlib.md5(usedforsecurity=False)  # of the stored bytes, as asdf checks it
                for i in range(0, block.data_size, CHUNK):
                    # pread, not a memory map: mapped pages would count as
                    # this process's memory for the whole cube.
                    piece = source.read(block.data_offset + i, min(CHUNK, block.data_size - i))
                    packed = lz4.block.compress(piece, mode="default")
                    prefix = struct.pack(">I", len(packed))
                    out.write(prefix)
                    out.write(packed)
                    digest.update(prefix)
                    digest.update(packed)
                    used += 4 + len(packed)
                end = out.tell()
                header = _BLOCK_HEADER.pack(0, b"lz4\0", used, used, block.data_size, digest.digest())
                out.seek(header_at + 6)
                out.write(header)
                out.seek(end)
            out.write(b"#ASDF BLOCK INDEX\n")
            out.write(yaml.dump(offsets, Dumper=yaml.SafeDumper, explicit_start=True, explicit_end=True,
                                version=(1, 1)).encode())
        os.replace(tmp, dst)
    finally:
        source.close()
        if "tmp" in locals() and tmp.exists():
            tmp.unlink()
    return Path(dst)
