"""The persistent record of checked reference files: a fresh process skips the checks only for unchanged bytes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from processing.asdf_blocks import read_layout
from processing.calibrate import reference_checks
from processing.calibrate.reference_checks import validate_reference
from processing.errors import ReferenceFileError
from processing.sources import LocalFileSource


@pytest.fixture()
def linearity(small_set, tmp_path, monkeypatch) -> Path:
    """A copy of the small set's linearity file, in a cache of the test's own; the process's memory cleared."""
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "refs" / small_set["references"]["linearity"].name
    out.parent.mkdir()
    shutil.copy(small_set["references"]["linearity"], out)
    monkeypatch.setattr(reference_checks, "_checked", {})
    return out


@pytest.fixture()
def counted(monkeypatch) -> list:
    """Paths whose bytes were checked (MD5s and decodes), in order."""
    calls = []
    real = reference_checks._check_bytes

    def spy(path, names):
        calls.append(Path(path))
        return real(path, names)

    monkeypatch.setattr(reference_checks, "_check_bytes", spy)
    return calls


def _new_process() -> None:
    """What a fresh interpreter has: nothing checked in memory."""
    reference_checks._checked.clear()


def _flip_keeping_mtime(path: Path, at: float = 0.5) -> None:
    src = LocalFileSource(path)
    try:
        block = read_layout(src).blocks[0]
    finally:
        src.close()
    stat = path.stat()
    offset = block.data_offset + int(block.used_size * at)
    with open(path, "r+b") as fh:
        fh.seek(offset)
        value = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([value ^ 0x5A]))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as cp -p / touch -d would leave it
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_size == stat.st_size


def _record() -> dict:
    return json.loads(reference_checks._record_file().read_text())


def test_a_fresh_process_does_not_check_unchanged_bytes_again(linearity, counted):
    validate_reference(linearity, "linearity", 256, 256)
    assert counted == [linearity]
    (entry,) = _record()["files"].values()
    assert entry["xxh3_128"] == reference_checks.content_digest(linearity)
    _new_process()
    validate_reference(linearity, "linearity", 256, 256)
    assert counted == [linearity]  # recorded: hashed (xxh3), not checked again
    with pytest.raises(ReferenceFileError, match="shape"):  # another frame size is another check
        validate_reference(linearity, "linearity", 128, 128)


def test_a_changed_byte_is_checked_again_and_refused_by_name_even_with_its_old_mtime(linearity, counted):
    validate_reference(linearity, "linearity", 256, 256)
    _flip_keeping_mtime(linearity)
    _new_process()
    with pytest.raises(ReferenceFileError, match=rf"{linearity.name}.*checksum"):
        validate_reference(linearity, "linearity", 256, 256)
    assert counted == [linearity, linearity]


def test_bit_rot_that_changes_no_stat_field_is_caught_by_the_content_digest(linearity, counted):
    validate_reference(linearity, "linearity", 256, 256)
    _flip_keeping_mtime(linearity, 0.3)
    record = _record()  # pretend the stat identity did not move (bit rot: the disk changed, nobody wrote)
    (name,) = record["files"]
    record["files"][name]["identity"] = reference_checks._identity(linearity)
    reference_checks._record_file().write_text(json.dumps(record))
    _new_process()
    with pytest.raises(ReferenceFileError, match=rf"{linearity.name}.*checksum"):
        validate_reference(linearity, "linearity", 256, 256)
    assert counted == [linearity, linearity]


def test_a_rewritten_file_with_the_same_bytes_is_checked_again_then_recorded(linearity, counted):
    validate_reference(linearity, "linearity", 256, 256)
    data = linearity.read_bytes()
    linearity.unlink()
    linearity.write_bytes(data)  # another inode and ctime
    _new_process()
    validate_reference(linearity, "linearity", 256, 256)
    assert counted == [linearity, linearity]
    _new_process()
    validate_reference(linearity, "linearity", 256, 256)
    assert counted == [linearity, linearity]


def test_failures_are_never_recorded_and_a_damaged_record_is_ignored(linearity, counted):
    _flip_keeping_mtime(linearity)
    with pytest.raises(ReferenceFileError, match=linearity.name):
        validate_reference(linearity, "linearity", 256, 256)
    assert not reference_checks._record_file().exists() or not _record().get("files")
    reference_checks._record_file().parent.mkdir(parents=True, exist_ok=True)
    reference_checks._record_file().write_text("{not json")
    _new_process()
    with pytest.raises(ReferenceFileError, match=linearity.name):
        validate_reference(linearity, "linearity", 256, 256)
    assert counted == [linearity, linearity]


def test_the_record_is_used_by_a_real_second_interpreter(small_set, tmp_path):
    refs = small_set["references"]
    env = dict(os.environ, BRIGHTSTAR_CACHE_DIR=str(tmp_path / "cache"))
    script = (
        "import sys; from pathlib import Path; from processing.calibrate import reference_checks as rc\n"
        "calls = []; real = rc._check_bytes\n"
        "rc._check_bytes = lambda p, n: (calls.append(p), real(p, n))\n"
        "for t, p in zip(sys.argv[1::2], sys.argv[2::2]): rc.validate_reference(Path(p), t, 256, 256)\n"
        "print(len(calls))\n")
    args = [a for t, p in refs.items() for a in (t, str(p))]
    first = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=True)
    second = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True, check=True)
    assert (first.stdout.strip(), second.stdout.strip()) == (str(len(refs)), "0")
