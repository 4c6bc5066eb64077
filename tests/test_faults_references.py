"""Reference files: one resolution for viewer, figures, CLI and calibration; every file checked."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from processing.asdf_blocks import read_layout
from processing.calibrate import references
from processing.calibrate.reference_checks import validate_reference
from processing.errors import ReferenceFileError
from processing.io import open_exposure
from processing.sources import LocalFileSource


@pytest.fixture()
def ref_dir(small_set, tmp_path) -> Path:
    """A folder holding a copy of the small set's five reference files."""
    out = tmp_path / "refs"
    out.mkdir()
    for path in small_set["references"].values():
        shutil.copy(path, out / path.name)
    return out


def _flip_in_block(path: Path, block: int = 0, at: float = 0.5) -> int:
    """Flip one byte inside the stored bytes of a block; return its offset."""
    src = LocalFileSource(path)
    try:
        b = read_layout(src).blocks[block]
    finally:
        src.close()
    offset = b.data_offset + int(b.used_size * at)
    with open(path, "r+b") as fh:
        fh.seek(offset)
        value = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([value[0] ^ 0x5A]))
    return offset


def test_exposure_of_a_synthetic_set_resolves_to_its_own_references(small_set, monkeypatch):
    monkeypatch.delenv("BRIGHTSTAR_REFS_DIR", raising=False)
    with open_exposure(small_set["illuminated"]) as exp:
        found = references.resolve(exp, types=references.VIEWER_TYPES)
    assert found.source == "synthetic set"
    assert dict(found.paths) == small_set["references"]
    with pytest.raises(TypeError):
        found.paths["mask"] = Path("/elsewhere")  # frozen: says which files are in use


def test_environment_folder_is_used_for_an_exposure_outside_a_set(small_set, ref_dir, tmp_path, monkeypatch):
    lone = tmp_path / "lone" / "exposure_uncal.asdf"
    lone.parent.mkdir()
    shutil.copy(small_set["illuminated"], lone)
    monkeypatch.setenv("BRIGHTSTAR_REFS_DIR", str(ref_dir))
    with open_exposure(lone) as exp:
        found = references.resolve(exp)
    assert found.source == "environment" and found.origin == str(ref_dir)
    assert {p.parent for p in found.paths.values()} == {ref_dir}


def test_explicit_folder_wins_and_is_checked(small_set, ref_dir):
    with open_exposure(small_set["illuminated"]) as exp:
        found = references.resolve(exp, ref_dir)
        assert found.source == "directory" and set(found.paths) == set(references.REFERENCE_TYPES)
        with pytest.raises(ReferenceFileError, match="does not exist"):
            references.resolve(exp, Path("/nonexistent"))


def test_two_candidates_for_one_type_name_both(small_set, ref_dir):
    mask = next(ref_dir.glob("*mask*"))
    second = ref_dir / "roman_wfi_mask_second.asdf"
    shutil.copy(mask, second)
    with open_exposure(small_set["illuminated"]) as exp, pytest.raises(ReferenceFileError) as info:
        references.resolve(exp, ref_dir)
    assert mask.name in str(info.value) and second.name in str(info.value)


def test_garbage_file_in_a_folder_is_named_when_its_type_is_missing(small_set, ref_dir):
    lin = next(ref_dir.glob("*_linearity_*"))
    lin.write_bytes(lin.read_bytes()[:3000])  # truncated in the tree
    with open_exposure(small_set["illuminated"]) as exp, pytest.raises(ReferenceFileError) as info:
        references.resolve(exp, ref_dir)
    assert lin.name in str(info.value) and "linearity" in str(info.value)


@pytest.mark.parametrize("reftype", ["linearity", "saturation", "refpix", "mask"])
def test_damaged_compressed_bytes_are_a_reference_error_naming_the_file(small_set, ref_dir, reftype):
    path = next(p for p in ref_dir.iterdir() if f"_{reftype}_" in p.name)
    _flip_in_block(path, 0, 0.6)
    with pytest.raises(ReferenceFileError, match=rf"{path.name}.*(checksum|corrupt)"):
        validate_reference(path, reftype, 256, 256)


def test_fifo_in_a_reference_folder_is_skipped_not_opened(small_set, ref_dir):
    os.mkfifo(ref_dir / "roman_wfi_pipe.asdf")
    with open_exposure(small_set["illuminated"]) as exp:
        found = references.resolve(exp, ref_dir)  # would block forever if the FIFO were opened
    assert set(found.paths) == set(references.REFERENCE_TYPES)


def test_fifo_named_as_a_reference_file_is_refused_at_once(tmp_path):
    pipe = tmp_path / "roman_wfi_mask_pipe.asdf"
    os.mkfifo(pipe)
    with pytest.raises(ReferenceFileError, match="not a regular file"):
        validate_reference(pipe, "mask", 256, 256)


@pytest.mark.parametrize("reftype", ["linearity", "saturation"])
def test_calibration_with_a_damaged_reference_fails_and_commits_nothing(tmp_path_factory, tmp_path, monkeypatch, reftype):
    from test_calibrate import full_size_exposure, full_size_refs

    from processing.cache import DiskCache
    from processing.calibrate import calibrate_job
    from processing.progress import run

    exposure = full_size_exposure(tmp_path_factory, 3)
    good = full_size_refs(tmp_path_factory)
    folder = tmp_path / "refs"
    folder.mkdir()
    for path in good.iterdir():
        shutil.copy(path, folder / path.name)
    damaged = next(p for p in folder.iterdir() if f"_{reftype}_" in p.name)
    _flip_in_block(damaged, 0, 0.37)
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ReferenceFileError, match=rf"{damaged.name}.*checksum"):
        run(calibrate_job(exposure, refs=folder))
    assert DiskCache().entries() == []
