"""The ASDF file layer: tree, binary blocks and lz4 chunks, read by byte range.

``asdf`` itself never reads part of a block: the first slice of a lazily
loaded array reads (and decompresses) the whole 1.85 GB cube.  To show frame
*k* at once we read the file's structure ourselves, following the ASDF
Standard:

* the YAML tree at the head of the file, parsed *without* asdf's tag
  converters into plain nested data (dicts, lists, str, numbers), so that it
  loads in milliseconds, never touches array data and does not depend on the
  installed schema versions;
* the binary blocks after the tree: a 6-byte prefix (magic ``\\xd3BLK`` and a
  big-endian uint16 header size) and a big-endian header (flags, compression,
  allocated, used and data sizes, checksum), located through the optional
  ``#ASDF BLOCK INDEX`` at the end of the file or by walking the headers;
* lz4 blocks as asdf writes them: a series of chunks
  ``[uint32 BE compressed length][uint32 LE uncompressed length][lz4 block]``,
  each chunk holding (at most) 4 MiB of the array, so one 4096 x 4096 uint16
  frame is 8 chunks and can be decompressed alone.

Everything here reads through a :class:`~processing.sources.ByteSource`, so
it works the same on local files and S3 objects.
"""

from __future__ import annotations

import logging

import re
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import yaml

from .errors import ExposureError
from .sources import ByteSource

log = logging.getLogger(__name__)

BLOCK_MAGIC = b"\xd3BLK"
_BLOCK_HEADER = struct.Struct(">I4sQQQ16s")  # flags, compression, allocated, used, data, checksum
_INDEX_MARKER = b"#ASDF BLOCK INDEX"
_TREE_END = re.compile(rb"\r?\n\.\.\.\r?\n")
HEAD_READ = 256 * 1024  # first read; grown until the YAML tree ends
_MAX_TREE = 256 * 1024 * 1024
TAIL_READ = 64 * 1024


class TaggedDict(dict):
    """A mapping from the ASDF tree that remembers its YAML tag (or None)."""

    tag: str | None = None


class _PlainLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """A YAML loader that keeps every tagged node as plain data."""


def _construct_any(loader: yaml.Loader, tag_suffix: str, node: yaml.Node) -> Any:
    tag = node.tag
    if isinstance(node, yaml.MappingNode):
        out = TaggedDict()
        out.tag = tag
        out.update(loader.construct_mapping(node, deep=True))
        return out
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    value = loader.construct_scalar(node)
    return value


_PlainLoader.add_multi_constructor("", _construct_any)


@dataclass(frozen=True)
class BlockHeader:
    """One ASDF binary block.

    Attributes
    ----------
    offset : int
        File offset of the block magic, bytes.
    data_offset : int
        File offset of the block's data, bytes.
    compression : str or None
        ``None``, ``"lz4"``, ``"zlib"``, ``"bzp2"`` or another label.
    allocated_size, used_size, data_size : int
        Bytes allocated in the file, bytes used (compressed size) and bytes
        of the uncompressed data.
    flags : int
        Block flags (bit 0: streamed).
    checksum : bytes
        MD5 of the ``used_size`` stored bytes (16 zero bytes: none).
    """

    offset: int
    data_offset: int
    compression: str | None
    allocated_size: int
    used_size: int
    data_size: int
    flags: int
    checksum: bytes = bytes(16)

    @property
    def end(self) -> int:
        """File offset just past the bytes this block uses."""
        return self.data_offset + self.used_size


@dataclass(frozen=True)
class ArrayRef:
    """Where an ndarray of the tree lives.

    Attributes
    ----------
    name : str
        Dotted path in the tree (``roman.data``).
    shape : tuple of int
    dtype : numpy.dtype
        With the file's byte order.
    source : int
        Block number.
    offset : int
        Byte offset of the array inside the (uncompressed) block data.
    unit : str or None
        Unit of an ``astropy`` Quantity wrapping the array (``"DN"``).
    """

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    source: int
    offset: int = 0
    unit: str | None = None

    @property
    def nbytes(self) -> int:
        n = self.dtype.itemsize
        for dim in self.shape:
            n *= dim
        return n


@dataclass
class AsdfLayout:
    """The parsed structure of an ASDF file.

    Attributes
    ----------
    tree : dict
        The whole tree as plain nested data.
    tree_end : int
        File offset just past the YAML tree.
    blocks : list of BlockHeader
        The binary blocks in file order.
    """

    tree: dict
    tree_end: int
    blocks: list[BlockHeader] = field(default_factory=list)


def read_tree(source: ByteSource) -> tuple[dict, int]:
    """Read and parse the YAML tree at the head of an ASDF file.

    Returns
    -------
    tree : dict
        Plain nested data; mappings are :class:`TaggedDict`.
    tree_end : int
        File offset just after the tree's ``...`` line.

    Raises
    ------
    ExposureError
        If the file is empty, not ASDF, or its tree is cut short or invalid.
    """
    if source.size == 0:
        raise ExposureError(source.uri, "the file is empty")
    head = source.read(0, min(HEAD_READ, source.size))
    if not head.startswith(b"#ASDF "):
        start = head[:16].decode("latin-1").encode("unicode_escape").decode()
        raise ExposureError(source.uri, f"not an ASDF file (it starts with {start!r})")
    length = len(head)
    while True:
        match = _TREE_END.search(head)
        if match:
            tree_end = match.end()
            break
        if length >= source.size:
            raise ExposureError(source.uri, "the ASDF tree never ends: the file is truncated or corrupt")
        if length >= _MAX_TREE:
            raise ExposureError(source.uri, f"the ASDF tree is larger than {_MAX_TREE >> 20} MiB")
        more = min(length * 3, source.size) - length
        head += source.read(length, more)
        length = len(head)
    text = head[:tree_end]
    doc_start = text.find(b"\n---")
    if doc_start < 0:
        raise ExposureError(source.uri, "the ASDF header holds no YAML document")
    try:
        tree = yaml.load(text[doc_start + 1 :], Loader=_PlainLoader)  # noqa: S506 - safe loader subclass
    except yaml.YAMLError as err:
        raise ExposureError(source.uri, f"the ASDF tree is not valid YAML: {err}") from err
    if not isinstance(tree, dict):
        raise ExposureError(source.uri, "the ASDF tree is not a mapping")
    return tree, tree_end


def _parse_block_header(source: ByteSource, offset: int, raw: bytes | None = None) -> BlockHeader:
    raw = raw if raw is not None else source.read(offset, 6 + _BLOCK_HEADER.size)
    if len(raw) < 6 or raw[:4] != BLOCK_MAGIC:
        raise ExposureError(source.uri, f"no ASDF block at byte {offset}: the file is truncated or corrupt")
    (header_size,) = struct.unpack(">H", raw[4:6])
    if header_size < _BLOCK_HEADER.size:
        raise ExposureError(source.uri, f"ASDF block at byte {offset} has a short header ({header_size} bytes)")
    if len(raw) < 6 + _BLOCK_HEADER.size:
        raise ExposureError(source.uri, f"ASDF block header at byte {offset} is cut short: the file is truncated")
    flags, comp, allocated, used, data_size, checksum = _BLOCK_HEADER.unpack(raw[6 : 6 + _BLOCK_HEADER.size])
    comp_label = comp.rstrip(b"\0").decode("ascii", "replace") or None
    if used > allocated and not flags & 1:
        raise ExposureError(source.uri, f"ASDF block at byte {offset} uses {used:,} bytes but allocates {allocated:,}: corrupt header")
    return BlockHeader(
        offset=offset,
        data_offset=offset + 6 + header_size,
        compression=comp_label,
        allocated_size=allocated,
        used_size=used,
        data_size=data_size,
        flags=flags,
        checksum=checksum,
    )


def _read_block_index(source: ByteSource) -> list[int] | None:
    """Offsets from the ``#ASDF BLOCK INDEX`` at the end of the file, if any."""
    start = max(0, source.size - TAIL_READ)
    tail = source.read(start, source.size - start)
    pos = tail.rfind(_INDEX_MARKER)
    if pos < 0:
        return None
    body = tail[pos:]
    doc = body.find(b"\n---")
    if doc < 0:
        return None
    try:
        offsets = yaml.load(body[doc + 1 :], Loader=_PlainLoader)  # noqa: S506
    except yaml.YAMLError:
        return None
    if not isinstance(offsets, list) or not all(isinstance(o, int) for o in offsets):
        return None
    return offsets


def read_layout(source: ByteSource) -> AsdfLayout:
    """Parse the tree and locate every binary block, with a few small reads.

    Raises
    ------
    ExposureError
        For a file that is not ASDF, truncated or otherwise corrupt.
    """
    tree, tree_end = read_tree(source)
    blocks: list[BlockHeader] = []
    offsets = _read_block_index(source)
    if offsets:
        try:
            raws = source.read_ranges([(o, 6 + _BLOCK_HEADER.size) for o in offsets])
            blocks = [_parse_block_header(source, o, r) for o, r in zip(offsets, raws)]
        except ExposureError:
            blocks = []  # a stale or damaged index: fall back to walking the blocks
    if not blocks:
        # Walk the block headers one after another from the end of the tree.
        # Padding may sit between the tree and the first block: find the magic.
        probe = source.read(tree_end, min(64 * 1024, max(0, source.size - tree_end)))
        first = probe.find(BLOCK_MAGIC)
        offset = tree_end + first if first >= 0 else source.size
        while offset < source.size:
            header = _parse_block_header(source, offset)
            blocks.append(header)
            if header.flags & 1:  # streamed block: runs to the end of the file
                break
            offset = header.data_offset + header.allocated_size
            # An index or padding may follow the last block.
            nxt = source.read(offset, 4) if offset < source.size else b""
            if nxt != BLOCK_MAGIC:
                break
    return AsdfLayout(tree=tree, tree_end=tree_end, blocks=blocks)


#: Datatypes of the ASDF ndarray schema that a block array may have.
ASDF_DATATYPES = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
                  "float32", "float64", "complex64", "complex128", "bool8")


def _dtype_of(node: dict, uri: str, name: str) -> np.dtype:
    datatype = node.get("datatype")
    if not isinstance(datatype, str) or datatype not in ASDF_DATATYPES:
        raise ExposureError(uri, f"{name}: field 'datatype' is {datatype!r}, not an ASDF ndarray datatype")
    dtype = np.dtype("bool" if datatype == "bool8" else datatype)
    order = node.get("byteorder", "little")
    if order not in ("little", "big"):
        raise ExposureError(uri, f"{name}: field 'byteorder' is {order!r}; it must be 'little' or 'big'")
    return dtype.newbyteorder("<" if order == "little" else ">")


def _non_negative_int(value: Any, uri: str, name: str, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ExposureError(uri, f"{name}: field '{field_name}' is {value!r}; it must be a non-negative integer")
    return value


def array_ref(node: Any, uri: str, name: str) -> ArrayRef | None:
    """Describe the ndarray at ``node`` (unwrapping a Quantity), or None.

    The node is checked as the ASDF ndarray schema requires (known
    datatype, ``byteorder`` little or big, integer non-negative ``shape``,
    ``offset`` and ``source``, C-contiguous ``strides``), without reading
    any pixel.

    Raises
    ------
    ExposureError
        Naming the file and the field, if the node is an ndarray the reader
        cannot map or that the schema does not allow.
    """
    unit = None
    tag = getattr(node, "tag", None) or ""
    if "unit/quantity" in tag and not isinstance(node.get("value"), dict) and "datatype" not in node:
        if isinstance(node.get("value"), (int, float)):
            return None  # a scalar quantity
        raise ExposureError(uri, f"{name}: a quantity without a 'value' array: the tree is corrupt")
    if "unit/quantity" in tag and isinstance(node.get("value"), dict) and "unit" not in node:
        raise ExposureError(uri, f"{name}: a quantity without a 'unit': the tree is corrupt")
    if isinstance(node, dict) and "value" in node and "unit" in node and isinstance(node["value"], dict):
        unit = str(node["unit"])
        node = node["value"]
        tag = getattr(node, "tag", None) or ""
    if not isinstance(node, dict) or "datatype" not in node or "shape" not in node:
        if "core/ndarray" in tag:
            missing = [f for f in ("datatype", "shape") if not isinstance(node, dict) or f not in node]
            raise ExposureError(uri, f"{name}: ndarray without field(s) {', '.join(missing)}: the tree is corrupt")
        return None
    if "source" not in node:
        if "data" in node:
            return None  # inline data (small arrays): not a block we stream
        raise ExposureError(uri, f"{name}: ndarray with neither 'source' nor 'data': the tree is corrupt")
    if isinstance(node["source"], str):
        raise ExposureError(uri, f"{name}: field 'source' is {node['source']!r}: data in another file is not supported")
    source = _non_negative_int(node["source"], uri, name, "source")
    raw_shape = node["shape"]
    if not isinstance(raw_shape, list) or not raw_shape:
        raise ExposureError(uri, f"{name}: field 'shape' is {raw_shape!r}; it must be a list of integers")
    shape = tuple(_non_negative_int(s, uri, f"{name}", "shape") for s in raw_shape)
    dtype = _dtype_of(node, uri, name)
    offset = _non_negative_int(node.get("offset", 0), uri, name, "offset")
    nbytes = dtype.itemsize
    for dim in shape:
        nbytes *= dim  # Python integers: an absurd shape cannot overflow into a small size
    if nbytes > 1 << 50:
        raise ExposureError(uri, f"{name}: field 'shape' {list(shape)} describes {nbytes:,} bytes: corrupt")
    strides = node.get("strides")
    if strides is not None:
        if not isinstance(strides, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in strides):
            raise ExposureError(uri, f"{name}: field 'strides' is {strides!r}; it must be a list of integers")
        c_strides = []
        step = dtype.itemsize
        for dim in reversed(shape):
            c_strides.append(step)
            step *= dim
        if tuple(strides) != tuple(reversed(c_strides)):
            raise ExposureError(uri, f"array {name} is not C-contiguous (strides {strides}); it cannot be streamed")
    return ArrayRef(name=name, shape=shape, dtype=dtype, source=source, offset=offset, unit=unit)


@dataclass(frozen=True)
class Lz4Chunk:
    """One lz4 chunk of a block.

    Attributes
    ----------
    file_offset : int
        File offset of the lz4 payload (after both length prefixes), bytes.
    compressed : int
        Length of the lz4 payload, bytes.
    start : int
        Offset of the chunk's first byte in the uncompressed block data.
    length : int
        Uncompressed length, bytes.
    """

    file_offset: int
    compressed: int
    start: int
    length: int


def iter_lz4_chunks(source: ByteSource, block: BlockHeader, pos: int | None = None, start: int = 0):
    """Walk an lz4 block's chunk headers from ``pos``: 8 bytes read per chunk.

    Parameters
    ----------
    pos : int, optional
        File offset of a chunk header (default: the block's first).
    start : int
        Uncompressed offset of that chunk.

    Yields
    ------
    Lz4Chunk
        In order, to the end of the block.

    Raises
    ------
    ExposureError
        If the chunks do not add up to the block's sizes (corrupt or truncated).
    """
    pos = block.data_offset if pos is None else pos
    end = block.data_offset + block.used_size
    while pos < end:
        raw = source.read(pos, 8)
        if len(raw) < 8:
            raise ExposureError(source.uri, f"lz4 chunk header at byte {pos} is cut short: the file is truncated")
        (comp_len,) = struct.unpack(">I", raw[:4])
        (raw_len,) = struct.unpack("<I", raw[4:8])
        if comp_len < 4 or pos + 4 + comp_len > end or start + raw_len > block.data_size:
            raise ExposureError(source.uri, f"corrupt lz4 chunk at byte {pos} (length {comp_len})")
        yield Lz4Chunk(file_offset=pos + 8, compressed=comp_len - 4, start=start, length=raw_len)
        start += raw_len
        pos += 4 + comp_len
    if start != block.data_size:
        raise ExposureError(
            source.uri, f"lz4 block at byte {block.offset} decompresses to {start} bytes, header says {block.data_size}"
        )


def lz4_chunk_index(source: ByteSource, block: BlockHeader) -> list[Lz4Chunk]:
    """Every chunk of an lz4 block (see :func:`iter_lz4_chunks`)."""
    return list(iter_lz4_chunks(source, block))
