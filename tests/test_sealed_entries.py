"""Cache entries sealed by band digests (no MD5 at commit): verify, reads, export, crashes.

The calibration engine leaves its big blocks without an MD5 (the ASDF
standard's all-zero "no checksum"); :func:`processing.frame_sums.seal` with
``md5=False`` keeps them so.  These tests build such entries from small
synthetic files whose block checksums are zeroed, as the engine's
placeholders are, then damage a block, the tree or one band on purpose.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from processing import io, synth
from processing.asdf_blocks import read_layout
from processing.cache import DiskCache
from processing.errors import ExposureError
from processing.frame_sums import StreamSums, seal
from processing.progress import run
from processing.sealed_entries import export_entry
from processing.sources import LocalFileSource
from processing.verify import CORRUPT, NO_CHECKSUMS, VERIFIED, verify_job

KEY = "e" * 40


def _zero_checksums(path: Path) -> None:
    """Clear every block's MD5, as the engine's placeholder file has them."""
    source = LocalFileSource(path)
    try:
        blocks = read_layout(source).blocks
    finally:
        source.close()
    with open(path, "r+b") as fh:
        for block in blocks:
            fh.seek(block.offset + 6 + 4 + 4 + 8 * 3)  # magic+size, flags, compression, 3 sizes
            fh.write(b"\0" * 16)


def _entry(tmp_path, monkeypatch, frames=4, size=256):
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(tmp_path / "cache"))
    store = DiskCache()
    with store.scratch() as scratch:
        target = synth.write_exposure(scratch / "c.asdf", frames=frames, size=size, seed=5)
        _zero_checksums(target)
        sums = seal(target, md5=False)
        entry = store.commit(KEY, target, {"what": "test"}, sums)
    return store, entry


def _flip(path: Path, where: int, mask: int = 0x04) -> None:
    with open(path, "r+b") as fh:
        fh.seek(where)
        value = fh.read(1)[0]
        fh.seek(where)
        fh.write(bytes([value ^ mask]))


def _data_byte(path: Path, name: str, plane: int, within: int) -> int:
    with io.open_exposure(path) as exp:
        arr = exp.arrays[name]
        block = exp.layout.blocks[arr.ref.source]
        plane_bytes = int(np.prod(arr.shape[1:])) * arr.ref.dtype.itemsize
        return block.data_offset + arr.ref.offset + plane * plane_bytes + within


def test_an_entry_sealed_without_md5_has_zero_checksums_and_verifies_by_its_bands(tmp_path, monkeypatch):
    _, entry = _entry(tmp_path, monkeypatch)
    source = LocalFileSource(entry.path)
    try:
        blocks = read_layout(source).blocks
    finally:
        source.close()
    assert blocks and not any(any(b.checksum) for b in blocks)  # nothing certified by an MD5
    result = run(verify_job(entry.path))
    assert result.status == VERIFIED and not result.unchecked, result.describe()
    assert {b.how for b in result.blocks} == {"bands"} and len(result.blocks) == len(blocks)
    assert "band digests" in result.describe()


def test_a_band_check_stopped_before_the_end_never_reads_as_a_match(tmp_path, monkeypatch):
    import queue
    import threading

    from processing.sealed_entries import checkable, entry_sums
    from processing.verify import _band_block

    _, entry = _entry(tmp_path, monkeypatch)
    source = LocalFileSource(entry.path)
    try:
        layout = read_layout(source)
        specs = checkable(layout, str(entry.path), entry_sums(entry.path))
        index = max(specs, key=lambda i: layout.blocks[i].used_size)
        block, stop = layout.blocks[index], threading.Event()
        assert _band_block(source, block, specs[index], queue.Queue(), stop) == ""  # whole: a match
        stop.set()
        assert _band_block(source, block, specs[index], queue.Queue(), stop) == "stopped"
    finally:
        source.close()


def test_without_its_manifest_the_same_file_is_not_called_verified(tmp_path, monkeypatch):
    store, entry = _entry(tmp_path, monkeypatch)
    store.manifest_path(KEY).unlink()  # e.g. a crash between the data rename and the manifest
    assert run(verify_job(entry.path)).status == NO_CHECKSUMS
    assert store.lookup(KEY) is None


@pytest.mark.parametrize("name,plane", [("data", 2), ("data", 0), ("amp33", 3)])
def test_a_flipped_bit_in_a_block_is_corrupt_naming_the_array_and_bytes(tmp_path, monkeypatch, name, plane):
    store, entry = _entry(tmp_path, monkeypatch)
    _flip(entry.path, _data_byte(entry.path, name, plane, 3000))
    result = run(verify_job(entry.path))
    assert result.status == CORRUPT
    (bad,) = result.corrupt
    assert bad.how == "bands" and f"roman.{name}: bytes" in bad.found
    assert f"roman.{name}: bytes" in result.describe() and "does not match its checksum" in result.describe()
    with io.open_exposure(entry.path) as exp, pytest.raises(ExposureError, match=f"damaged \\({name}: bytes"):
        exp.arrays[name].frame(plane)
    assert store.lookup(KEY) is None  # the first bad read removed it


def test_a_damaged_tree_is_corrupt_and_the_entry_no_longer_valid(tmp_path, monkeypatch):
    store, entry = _entry(tmp_path, monkeypatch)
    with open(entry.path, "rb") as fh:
        head = fh.read(4096)
    where = head.index(b"roman") + 2  # a letter of the tree, still parseable YAML
    with open(entry.path, "r+b") as fh:
        fh.seek(where)
        fh.write(b"X")
    result = run(verify_job(entry.path))
    assert result.status == CORRUPT and "the ASDF tree" in result.describe()
    assert store.lookup(KEY) is None


def test_export_writes_real_md5s_that_verify_without_the_manifest(tmp_path, monkeypatch):
    import asdf

    _, entry = _entry(tmp_path, monkeypatch)
    out = export_entry(entry.path, tmp_path / "out" / "x_cal.asdf", entry.sums)
    source = LocalFileSource(out)
    try:
        blocks = read_layout(source).blocks
    finally:
        source.close()
    assert all(any(b.checksum) for b in blocks)
    result = run(verify_job(out))
    assert result.status == VERIFIED and {b.how for b in result.blocks} == {"md5"} and not result.unchecked
    assert out.read_bytes()[: blocks[0].offset] == entry.path.read_bytes()[: blocks[0].offset]
    with asdf.open(out, validate_checksums=True, lazy_load=False, memmap=False) as af, \
            io.open_exposure(entry.path) as exp:
        np.testing.assert_array_equal(np.asarray(af["roman"]["data"]), exp.arrays["data"].read())
    assert [p.name for p in out.parent.iterdir()] == ["x_cal.asdf"]


def test_export_refuses_a_damaged_entry_and_writes_nothing(tmp_path, monkeypatch):
    _, entry = _entry(tmp_path, monkeypatch)
    _flip(entry.path, _data_byte(entry.path, "data", 1, 77))
    dest = tmp_path / "out" / "x_cal.asdf"
    with pytest.raises(ExposureError, match=r"damaged \(roman\.data: bytes .* not exported"):
        export_entry(entry.path, dest, entry.sums)
    assert list(dest.parent.iterdir()) == []  # no file, no partial


def test_a_crash_after_the_writes_before_the_commit_leaves_no_valid_entry(tmp_path, monkeypatch):
    """Sealed but never committed (the process died): nothing reads as an entry or as verified."""
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(tmp_path / "cache"))
    store = DiskCache()
    scratch = store.root / f".partial-999999-{'a' * 12}"
    scratch.mkdir()
    target = synth.write_exposure(scratch / "c.asdf", frames=3, size=128, seed=1)
    _zero_checksums(target)
    seal(target, md5=False)
    os.replace(target, store.data_path(KEY))  # renamed into place; the manifest never written
    assert store.lookup(KEY) is None and not store.data_path(KEY).exists()
    DiskCache()  # a new cache: the dead process's scratch goes
    assert not scratch.exists()


def test_stream_sums_without_md5_give_the_band_digests_and_start_writeback(tmp_path):
    import xxhash

    data = np.random.default_rng(0).random((3, 128, 256), dtype=np.float32)
    path = tmp_path / "file.bin"
    path.write_bytes(b"\0" * 100 + data.tobytes())
    fds = len(os.listdir("/proc/self/fd"))
    sums = StreamSums(data.shape, data.dtype)
    sums.write_back(path, 100)
    for k in range(3):
        sums.feed(data[k])
    digest, bands = sums.finish()
    assert digest is None
    band = 64 * 256 * 4
    raw = data.tobytes()
    assert bands == [xxhash.xxh3_64_intdigest(raw[i : i + band]) for i in range(0, len(raw), band)]
    assert len(os.listdir("/proc/self/fd")) == fds  # the write-back descriptor is closed
    with_md5 = StreamSums(data.shape, data.dtype, md5=True)
    with_md5.feed(data)
    import hashlib

    assert with_md5.finish()[0] == hashlib.md5(raw).digest()


def test_the_engine_commits_band_digests_and_out_gets_real_md5s(tmp_path_factory, tmp_path, monkeypatch):
    """A real calibration: the entry's big blocks carry no MD5 and verify by bands; ``--out`` verifies by MD5."""
    import asdf
    from test_calibrate import full_size_exposure, full_size_refs

    from processing.calibrate import calibrate_job

    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out" / "x_cal.asdf"
    result = run(calibrate_job(full_size_exposure(tmp_path_factory, 3), refs=full_size_refs(tmp_path_factory), out=out))
    entry = DiskCache().lookup(result.key)
    assert entry is not None and result.path == out
    with io.open_exposure(entry.path) as exp:
        zero = {name for name, arr in exp.arrays.items() if not any(exp.layout.blocks[arr.ref.source].checksum)}
    assert {"data", "groupdq"} <= zero  # the ~4.6 GB of a 55-read cube: no MD5 at commit
    checked = run(verify_job(entry.path))
    assert checked.status == VERIFIED and not checked.unchecked and "band digests" in checked.describe()
    exported = run(verify_job(out))
    assert exported.status == VERIFIED and not exported.unchecked and {b.how for b in exported.blocks} == {"md5"}
    with asdf.open(out, validate_checksums=True, lazy_load=False, memmap=False) as af, \
            io.open_exposure(entry.path) as exp:
        np.testing.assert_array_equal(np.asarray(af["roman"]["groupdq"]), exp.arrays["groupdq"].read())
        np.testing.assert_array_equal(np.asarray(af["roman"]["data"][2]), exp.frame(2))
    _flip(entry.path, _data_byte(entry.path, "data", 1, 12345))  # a cache hit exported again: refused, entry removed
    again = tmp_path / "out" / "again_cal.asdf"
    with pytest.raises(ExposureError, match=r"roman\.data: bytes .*removed"):
        run(calibrate_job(full_size_exposure(tmp_path_factory, 3), refs=full_size_refs(tmp_path_factory), out=again))
    assert not again.exists() and DiskCache().lookup(result.key) is None
