"""Schema-invalid trees are refused at open, naming the file and the field (no pixel is read)."""

from __future__ import annotations

from pathlib import Path

import pytest

from processing import io, synth
from processing.errors import ExposureError

FRAMES, SIZE = 3, 64


@pytest.fixture(scope="module")
def exposure(tmp_path_factory) -> Path:
    return synth.write_exposure(tmp_path_factory.mktemp("schema") / "s_uncal.asdf", frames=FRAMES, size=SIZE, seed=1)


def _data_node_edit(src: Path, dst: Path, old: bytes, new: bytes) -> Path:
    """Replace ``old`` by ``new`` inside the ``roman.data`` node of the tree (the first ndarray)."""
    raw = src.read_bytes()
    start = raw.index(b"\n  data: ")
    pos = raw.index(old, start)
    dst.write_bytes(raw[:pos] + new + raw[pos + len(old):])
    return dst


@pytest.mark.parametrize("old, new, words", [
    (b"datatype: uint16", b"datatype: uint8", ["roman.data", "uint8", "requires uint16"]),
    (b"datatype: uint16", b"datatype: int16", ["roman.data", "int16", "requires uint16"]),
    (b"datatype: uint16", b"datatype: float16", ["roman.data", "datatype", "float16"]),
    (b"byteorder: little", b"byteorder: middle", ["roman.data", "byteorder", "middle"]),
    (f"shape: [{FRAMES}, {SIZE}, {SIZE}]".encode(), f"shape: [{FRAMES}, {SIZE}.5, {SIZE}]".encode(), ["roman.data", "shape", "64.5"]),
    (f"shape: [{FRAMES}, {SIZE}, {SIZE}]".encode(), f"shape: [{FRAMES}, -{SIZE}, {SIZE}]".encode(), ["roman.data", "shape"]),
    (f"shape: [{FRAMES}, {SIZE}, {SIZE}]".encode(), b"shape: [99999999999, 99999999, 99999]", ["roman.data", "shape"]),
    (b"source: 0\n", b"source: 0\n      offset: -8\n", ["roman.data", "offset", "-8"]),
    (b"source: 0", b"source: -1", ["roman.data", "source"]),
])
def test_schema_invalid_array_node(exposure, tmp_path, old, new, words):
    bad = _data_node_edit(exposure, tmp_path / "bad.asdf", old, new)
    with pytest.raises(ExposureError) as info:
        io.open_exposure(bad)
    message = str(info.value)
    assert str(bad) in message
    for word in words:
        assert word in message, message


def test_a_reference_file_is_the_wrong_model(small_set):
    with pytest.raises(ExposureError, match="holds a Roman 'mask' model"):
        io.open_exposure(small_set["references"]["mask"])


def test_schema_expectations_come_from_the_installed_rad_schemas():
    from processing.schema_check import expected_arrays

    tvac = expected_arrays("asdf://stsci.edu/datamodels/roman/tags/tvac-1.0.0")
    assert tvac["data"] == ("uint16", 3) and tvac["amp33"][0] == "uint16"
    ramp = expected_arrays("asdf://stsci.edu/datamodels/roman/tags/ramp-1.1.0")
    assert ramp["data"] == ("float32", 3) and ramp["pixeldq"] == ("uint32", 2) and ramp["groupdq"] == ("uint8", 3)
