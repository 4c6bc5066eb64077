"""Disks and files that change: truncation under an open exposure, full disks, damaged cache entries."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from processing import io, synth
from processing.cache import DiskCache
from processing.errors import ExposureError, OutputError
from processing.frame_sums import seal
from processing.progress import run
from processing.verify import verify_job


@pytest.fixture()
def tiny_disk(tmp_path):
    """A 2 MiB tmpfs (root only; skipped otherwise)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.parametrize("compression", ["none", "lz4"])
def test_truncated_while_open_is_an_error_not_sigbus(tmp_path, compression):
    # 1024 x 1024 frames: an lz4 chunk (4 MiB) holds two, so frame 3 is not in memory yet.
    path = synth.write_exposure(tmp_path / f"t_{compression}.asdf", frames=4, size=1024, compression=compression)
    with io.open_exposure(path) as exp:
        first = exp.frame(0)
        os.truncate(path, path.stat().st_size // 2)
        with pytest.raises(ExposureError, match="changed since it was opened"):
            exp.frame(3)
        with pytest.raises(ExposureError, match="changed since it was opened"):
            exp.cutout(0, 10, 0, 10)[3]
    assert first.shape == (1024, 1024)


def test_rewritten_in_place_while_open_is_an_error(tmp_path):
    path = synth.write_exposure(tmp_path / "r.asdf", frames=3, size=128)
    with io.open_exposure(path) as exp:
        exp.frame(0)
        with open(path, "r+b") as fh:
            fh.seek(path.stat().st_size - 1000)
            fh.write(b"\0" * 10)
            os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock's resolution
        with pytest.raises(ExposureError, match="changed since it was opened"):
            exp.frame(1)


def test_synth_on_a_full_disk_is_an_error_naming_place_and_bytes_and_leaves_nothing(tiny_disk):
    with pytest.raises(OutputError) as info:
        synth.write_exposure(tiny_disk / "big.asdf", frames=20, size=256)
    assert str(tiny_disk) in str(info.value) and "MB are needed" in str(info.value)
    assert list(tiny_disk.iterdir()) == []


def test_out_copy_on_a_full_disk_is_an_error_and_leaves_nothing(tiny_disk, tmp_path):
    from processing.calibrate import _copy_atomically

    src = synth.write_exposure(tmp_path / "src.asdf", frames=20, size=256)
    with pytest.raises(OutputError, match="no space left"):
        _copy_atomically(src, tiny_disk / "out.asdf")
    assert list(tiny_disk.iterdir()) == []


def test_blocks_cache_on_a_full_disk_is_an_error(tiny_disk, tmp_path, monkeypatch):
    path = synth.write_exposure(tmp_path / "z.asdf", frames=20, size=256, compression="zlib")
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(tiny_disk))
    with io.open_exposure(path) as exp:
        with pytest.raises(OutputError, match="no space left.*decompressed-block cache"):
            run(exp.prepare())
    leftovers = [p for p in tiny_disk.rglob("*") if p.is_file()]
    assert leftovers == []


def test_stale_partial_of_a_dead_process_is_removed(tmp_path):
    from processing.writers import remove_stale_partials

    dead = subprocess.run(["true"]).returncode  # noqa: F841 - just to get a finished child's pid below
    child = subprocess.Popen(["true"])
    child.wait()
    stale = tmp_path / f".partial-{child.pid}-out.asdf"
    stale.write_bytes(b"x" * 100)
    mine = tmp_path / f".partial-{os.getpid()}-out.asdf"
    mine.write_bytes(b"x")
    assert remove_stale_partials(tmp_path) == [stale]
    assert mine.exists() and not stale.exists()


def _cache_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(tmp_path / "cache"))
    store = DiskCache()
    with store.scratch() as scratch:
        target = synth.write_exposure(scratch / "c.asdf", frames=4, size=256, seed=3)
        sums = seal(target)
        entry = store.commit("k" * 40, target, {"what": "test"}, sums)
    return store, entry


def test_cache_entries_carry_real_md5_checksums(tmp_path, monkeypatch):
    _, entry = _cache_entry(tmp_path, monkeypatch)
    assert run(verify_job(entry.path)).status == "verified"


def test_a_flipped_byte_in_a_cache_entry_is_found_on_read_and_the_entry_removed(tmp_path, monkeypatch):
    store, entry = _cache_entry(tmp_path, monkeypatch)
    with io.open_exposure(entry.path) as exp:
        good = exp.frame(2)
        block = exp.layout.blocks[exp.data.ref.source]
        where = block.data_offset + exp.data.ref.offset + 2 * exp.data._plane + 1000
    with open(entry.path, "r+b") as fh:
        fh.seek(where)
        value = fh.read(1)[0]
        fh.seek(where)
        fh.write(bytes([value ^ 1]))
    with io.open_exposure(entry.path) as exp:
        np.testing.assert_array_equal(exp.frame(1), exp.frame(1))  # other frames read fine
        with pytest.raises(ExposureError, match="cached calibration is damaged.*removed"):
            exp.frame(2)
    assert store.lookup("k" * 40) is None and not entry.path.exists()
    assert good.shape == (256, 256)


def test_cutouts_of_a_cache_entry_are_checked_too(tmp_path, monkeypatch):
    _, entry = _cache_entry(tmp_path, monkeypatch)
    with io.open_exposure(entry.path) as exp:
        cut = exp.cutout(30, 100, 5, 60)
        np.testing.assert_array_equal(cut[3], exp.frame(3)[30:100, 5:60])
        block = exp.layout.blocks[exp.data.ref.source]
        where = block.data_offset + exp.data.ref.offset + 3 * exp.data._plane + 40 * 512 + 20
    with open(entry.path, "r+b") as fh:
        fh.seek(where)
        fh.write(b"\xff\xff")
    with io.open_exposure(entry.path) as exp, pytest.raises(ExposureError, match="damaged"):
        exp.cutout(30, 100, 5, 60)


def test_flipped_byte_in_the_decompressed_block_cache_is_found(tmp_path, monkeypatch, small_set):
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(tmp_path / "cache"))
    path = synth.write_exposure(tmp_path / "z.asdf", frames=4, size=256, compression="bzp2")
    with io.open_exposure(path) as exp:
        run(exp.prepare())
        reader = exp._readers[exp.data.ref.source]
        good = exp.frame(1)
        cache_file = Path(reader.cache_path)
    with open(cache_file, "r+b") as fh:
        fh.seek(256 * 256 * 2 + 77)
        value = fh.read(1)[0]
        fh.seek(256 * 256 * 2 + 77)
        fh.write(bytes([value ^ 0x10]))
    with io.open_exposure(path) as exp:
        with pytest.raises(ExposureError, match="decompressed-block cache entry was damaged"):
            exp.frame(1)
    assert not cache_file.exists()
    with io.open_exposure(path) as exp:  # rebuilt on the next open
        run(exp.prepare())
        np.testing.assert_array_equal(exp.frame(1), good)


def test_everything_the_project_writes_carries_real_checksums(tmp_path, small_set):
    """Synth files of every compression, references, exported cutouts: verify says 'verified'."""
    from processing.exports import write_cutout_asdf

    written = [small_set["illuminated"], *small_set["darks"], *small_set["references"].values()]
    for comp in ("lz4", "zlib", "bzp2"):
        written.append(synth.write_exposure(tmp_path / f"w_{comp}.asdf", frames=3, size=64, compression=comp))
    with io.open_exposure(small_set["illuminated"]) as exp:
        written.append(write_cutout_asdf(tmp_path / "cut.asdf", exp, (10, 40, 10, 40)))
    for path in written:
        result = run(verify_job(path))
        assert result.status == "verified" and not result.unchecked, result.describe()


@pytest.mark.parametrize("where", [0, 5 << 20, (16 << 20) - 1])
def test_band_check_finds_a_flip_anywhere_in_a_big_frame(where):
    """Big frames are hashed on two threads: a flip in either half is found."""
    import xxhash

    from processing.frame_sums import BandCheck

    band = 1 << 20
    data = np.random.default_rng(1).integers(0, 255, 16 << 20, dtype=np.uint8)
    digests = np.array([xxhash.xxh3_64_intdigest(data[i : i + band]) for i in range(0, len(data), band)], dtype="<u8")
    damaged = []
    check = BandCheck("entry.asdf", "data", 0, band, digests, lambda: damaged.append(True))
    check.verify(0, data)  # intact: no error
    data[where] ^= 1
    with pytest.raises(ExposureError, match=f"bytes {where // band * band:,}-"):
        check.verify(0, data)
    assert damaged == [True]
