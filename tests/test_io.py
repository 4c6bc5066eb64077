"""processing.io: every file kind and compression, read lazily, and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import roman_datamodels as rdm

from processing import io, synth
from processing.asdf_blocks import read_layout
from processing.errors import ExposureError
from processing.progress import CancelToken, Cancelled, run
from processing.sources import LocalFileSource

FRAMES, SIZE = 6, 256


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """One small exposure per kind and compression, all from the same seed."""
    root = tmp_path_factory.mktemp("io_files")
    out = {}
    for comp in ("none", "lz4", "zlib", "bzp2"):
        out[f"tvac-{comp}"] = synth.write_exposure(root / f"tvac_{comp}.asdf", frames=FRAMES, size=SIZE, seed=3, compression=comp)
    out["raw-none"] = synth.write_exposure(root / "raw_none.asdf", frames=FRAMES, size=SIZE, seed=3, model="raw")
    out["raw-lz4"] = synth.write_exposure(root / "raw_lz4.asdf", frames=FRAMES, size=SIZE, seed=3, model="raw", compression="lz4")
    for comp in ("none", "lz4"):
        out[f"ramp-{comp}"] = _write_ramp(root / f"ramp_{comp}.asdf", comp)
    return out


def _write_ramp(path: Path, compression: str) -> Path:
    """A calibrated RampModel (float32 data, pixeldq, groupdq) as romancal writes one."""
    rng = np.random.default_rng(5)
    model = rdm.datamodels.RampModel.create_fake_data(shape=(FRAMES, 8, 8))
    model.data = (rng.normal(0, 10, (FRAMES, SIZE, SIZE)) + np.arange(FRAMES)[:, None, None] * 100).astype(np.float32)
    model.pixeldq = rng.integers(0, 4, (SIZE, SIZE)).astype(np.uint32)
    model.groupdq = (rng.random((FRAMES, SIZE, SIZE)) < 0.05).astype(np.uint8) * 2
    model.amp33 = np.zeros((FRAMES, SIZE, 128), np.uint16)
    model.meta.exposure.frame_time = 3.04
    model.meta.exposure.read_pattern = [[i + 1] for i in range(FRAMES)]
    model.save(path, all_array_compression=None if compression == "none" else compression)
    return path


def _reference(path: Path, name: str = "data") -> np.ndarray:
    """The array as roman_datamodels/asdf read it (the whole-cube way)."""
    with rdm.open(path) as model:
        return np.array(getattr(model, name))


@pytest.mark.parametrize(
    "kind, model_type",
    [
        ("tvac-none", "TvacModel"),
        ("tvac-lz4", "TvacModel"),
        ("tvac-zlib", "TvacModel"),
        ("tvac-bzp2", "TvacModel"),
        ("raw-none", "ScienceRawModel"),
        ("raw-lz4", "ScienceRawModel"),
        ("ramp-none", "RampModel"),
        ("ramp-lz4", "RampModel"),
    ],
)
def test_frames_and_cutouts_equal_roman_datamodels(files, kind, model_type):
    expected = _reference(files[kind])
    with io.open_exposure(files[kind]) as exp:
        assert exp.model_type == model_type
        assert exp.shape == expected.shape
        assert exp.dtype == expected.dtype
        for k in (0, 3, FRAMES - 1, -1):
            np.testing.assert_array_equal(exp.frame(k), expected[k])
        np.testing.assert_array_equal(exp.cutout(10, 60, 200, 256), expected[:, 10:60, 200:256])
        # Out-of-range bounds clip as numpy slicing does.
        np.testing.assert_array_equal(exp.cutout(-5, 20, 250, 300), expected[:, 0:20, 250:256])
        np.testing.assert_array_equal(exp.data[:, 5:9, 7:11], expected[:, 5:9, 7:11])
        np.testing.assert_array_equal(exp.data[2, 4], expected[2, 4])
        with pytest.raises(IndexError):
            exp.frame(FRAMES)


def test_ramp_dq_arrays(files):
    for kind in ("ramp-none", "ramp-lz4"):
        with io.open_exposure(files[kind]) as exp:
            np.testing.assert_array_equal(exp.arrays["pixeldq"].read(), _reference(files[kind], "pixeldq"))
            np.testing.assert_array_equal(exp.arrays["groupdq"].frame(4), _reference(files[kind], "groupdq")[4])


def test_tvac_amp33_and_meta(files):
    with io.open_exposure(files["tvac-none"]) as exp:
        np.testing.assert_array_equal(exp.arrays["amp33"].read(), _reference(files["tvac-none"], "amp33"))
        assert exp.arrays["amp33"].shape == (FRAMES, SIZE, 128)
        assert exp.meta["roman"]["meta"]["instrument"]["detector"] == "WFI11"
        assert exp.get_meta("instrument.optical_element") == "F146"
        assert exp.get_meta("exposure.read_pattern") == [[i + 1] for i in range(FRAMES)]
        np.testing.assert_allclose(exp.read_times, np.arange(FRAMES) * synth.FRAME_TIME)
        summary = exp.summary()
        assert summary["shape"] == (FRAMES, SIZE, SIZE) and summary["compression"] == "none"
        # Plain data: no asdf/astropy objects in the tree.
        assert isinstance(exp.meta["roman"]["meta"]["exposure"]["start_time"], str)


def test_uncompressed_frames_are_read_exactly_not_mapped(files):
    with io.open_exposure(files["tvac-none"]) as exp:
        opened = exp.bytes_read  # the tree and block headers
        frame = exp.frame(2)
        # pread of exactly the frame's bytes into a new array (no memory map: SIGBUS-proof).
        assert exp.bytes_read - opened == SIZE * SIZE * 2
        assert frame.flags.owndata and frame.flags.c_contiguous
        cube = exp.cutout(0, SIZE, 0, SIZE)
        np.testing.assert_array_equal(frame, cube[2])
        np.testing.assert_array_equal(exp.cutout(10, 40, 200, 250)[2], frame[10:40, 200:250])


def test_lz4_frame_decompresses_only_its_chunks(tmp_path):
    # 2048 x 2048 uint16 frames are 8 MiB: two 4 MiB lz4 chunks each.
    path = synth.write_exposure(tmp_path / "big_lz4.asdf", frames=6, size=2048, seed=1, compression="lz4")
    source = LocalFileSource(path)
    layout = read_layout(source)
    block = layout.blocks[0]
    source.close()
    with io.open_exposure(path) as exp:
        start = exp.bytes_read
        frame = exp.frame(4)
        reader = exp.data._reader
        walked = len(reader._chunks)
        assert walked == 10  # the index is walked only as far as frame 4's chunks
        fetched = exp.bytes_read - start
        chunks = reader.chunks  # the whole index
        assert len(chunks) == 12
        needed = sum(c.compressed + 8 for c in chunks[8:10])
        # Chunk headers (8 bytes each) + the two chunks of frame 4, not the block.
        assert fetched <= needed + 8 * walked
        assert fetched < block.used_size / 4
    np.testing.assert_array_equal(frame, _reference(path)[4])


def test_zlib_is_decompressed_once_into_the_cache(files):
    path = files["tvac-zlib"]
    with io.open_exposure(path) as exp:
        reader = exp.data._reader
        if reader.ready:  # an earlier test prepared it: start from scratch
            reader.cache_path.unlink()
        assert exp.needs_preparation
        reports = []
        run(exp.prepare(), on_progress=reports.append)
        assert not exp.needs_preparation
        assert reports[-1].fraction == 1.0
        assert reader.cache_path.stat().st_size == exp.data.nbytes
        frame = exp.frame(1)
    np.testing.assert_array_equal(frame, _reference(path)[1])
    with io.open_exposure(path) as again:
        assert not again.needs_preparation  # found in the cache


def test_cancelled_decompression_leaves_no_cache_entry(tmp_path):
    path = synth.write_exposure(tmp_path / "big_bzp2.asdf", frames=4, size=1024, seed=2, compression="bzp2")
    with io.open_exposure(path) as exp:
        reader = exp.data._reader
        token = CancelToken()
        token.cancel()  # cancelled at the first report
        with pytest.raises(Cancelled):
            run(exp.prepare(), cancel=token)
        assert not reader.ready
        leftovers = list(reader.cache_path.parent.glob(reader.cache_path.name + "*"))
        assert leftovers == []
        assert exp.needs_preparation


# -- bad input ------------------------------------------------------------------

def _expect_error(uri, *words):
    with pytest.raises(ExposureError) as info:
        io.open_exposure(uri)
    message = str(info.value)
    assert str(uri) in message
    for word in words:
        assert word in message, message
    return info.value


def test_missing_file(tmp_path):
    _expect_error(tmp_path / "nope.asdf", "no such file")


def test_directory(tmp_path):
    _expect_error(tmp_path, "directory")


def test_not_asdf(tmp_path):
    path = tmp_path / "notes.asdf"
    path.write_text("hello, this is not ASDF\n")
    _expect_error(path, "not an ASDF file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.asdf"
    path.write_bytes(b"")
    _expect_error(path, "empty")


def test_other_roman_model(small_set):
    _expect_error(small_set["references"]["saturation"], "saturation", "TvacModel")


def test_asdf_without_roman_node(tmp_path):
    import asdf

    path = tmp_path / "plain.asdf"
    asdf.AsdfFile({"data": np.arange(10)}).write_to(path)
    _expect_error(path, "not a Roman datamodel")


@pytest.mark.parametrize("kind", ["tvac-none", "tvac-lz4"])
def test_truncated_file(files, tmp_path, kind):
    path = tmp_path / "cut.asdf"
    data = files[kind].read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_error(path, "truncated")


def test_truncated_inside_tree(files, tmp_path):
    path = tmp_path / "cut_tree.asdf"
    path.write_bytes(files["tvac-none"].read_bytes()[:2000])
    _expect_error(path, "truncated")


def _edit_tree(src: Path, dst: Path, old: bytes, new: bytes) -> Path:
    data = src.read_bytes()
    assert old in data
    dst.write_bytes(data.replace(old, new, 1))
    return dst


def test_wrong_dimensions(files, tmp_path):
    old = f"shape: [{FRAMES}, {SIZE}, {SIZE}]".encode()
    path = _edit_tree(files["tvac-none"], tmp_path / "flat.asdf", old, f"shape: [{FRAMES * SIZE}, {SIZE}]".encode())
    _expect_error(path, "shape", "(N, H, W)")


def test_shape_larger_than_block(files, tmp_path):
    old = f"shape: [{FRAMES}, {SIZE}, {SIZE}]".encode()
    path = _edit_tree(files["tvac-none"], tmp_path / "big.asdf", old, f"shape: [{FRAMES + 3}, {SIZE}, {SIZE}]".encode())
    _expect_error(path, "block holds")


def test_corrupt_lz4_chunk_raises_on_read(files, tmp_path):
    path = tmp_path / "corrupt.asdf"
    shutil.copy(files["tvac-lz4"], path)
    with io.open_exposure(path) as exp:
        chunk = exp.data._reader.chunks[0]
    with open(path, "r+b") as fh:
        # lz4 has no checksum: zeros are an invalid sequence (match offset 0).
        fh.seek(chunk.file_offset)
        fh.write(bytes(4096))
    with io.open_exposure(path) as exp:
        with pytest.raises(ExposureError, match="corrupt"):
            exp.frame(0)


def test_corrupt_lz4_chunk_length_is_detected(files, tmp_path):
    path = tmp_path / "corrupt_len.asdf"
    shutil.copy(files["tvac-lz4"], path)
    with io.open_exposure(path) as exp:
        chunk = exp.data._reader.chunks[0]
    with open(path, "r+b") as fh:
        fh.seek(chunk.file_offset - 8)  # the chunk's big-endian length
        fh.write((10**9).to_bytes(4, "big"))
    with io.open_exposure(path) as exp:
        with pytest.raises(ExposureError, match="corrupt lz4 chunk"):
            exp.frame(0)


def test_unsupported_scheme():
    _expect_error("http://example.org/x.asdf", "unsupported URI scheme")


def test_closed_exposure_refuses_reads(files):
    exp = io.open_exposure(files["tvac-none"])
    exp.close()
    with pytest.raises(ExposureError, match="closed"):
        exp.frame(0)


def test_release_pages_keeps_data_valid(files):
    with io.open_exposure(files["tvac-none"]) as exp:
        before = np.array(exp.frame(3))
        view = exp.frame(3)
        exp.release_pages()
        np.testing.assert_array_equal(view, before)  # re-faulted from the page cache
        np.testing.assert_array_equal(exp.frame(3), before)


def test_decompressed_blocks_are_evicted_beyond_the_cache_limit(tmp_path, monkeypatch):
    first = synth.write_exposure(tmp_path / "a_zlib.asdf", frames=3, size=128, seed=1, compression="zlib")
    second = synth.write_exposure(tmp_path / "b_zlib.asdf", frames=3, size=128, seed=2, compression="zlib")
    block_bytes = 3 * 128 * 128 * 2
    # Room for one decompressed block, not two.
    monkeypatch.setenv("BRIGHTSTAR_CACHE_LIMIT_GB", str(1.5 * block_bytes / 1e9))
    with io.open_exposure(first) as a:
        run(a.prepare())
        first_cache = a.data._reader.cache_path
    assert first_cache.exists()
    with io.open_exposure(second) as b:
        run(b.prepare())
        second_cache = b.data._reader.cache_path
        np.testing.assert_array_equal(b.frame(2), _reference(second)[2])
    assert second_cache.exists() and not first_cache.exists()
    with io.open_exposure(first) as a:  # evicted: decompressed again on demand
        assert a.needs_preparation
        np.testing.assert_array_equal(a.frame(1), _reference(first)[1])
