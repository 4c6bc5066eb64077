"""Every bad argument or environment problem: one line ``brightstar: error: ...``, exit status 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from processing import cli, synth


@pytest.fixture(scope="module")
def exposure(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli_faults")
    return synth.write_exposure(root / "e_uncal.asdf", frames=4, size=64, seed=2)


@pytest.fixture()
def read_only_dir(tmp_path):
    """A read-only tmpfs (root) so that even root cannot write there; skipped when it cannot be mounted."""
    mount = tmp_path / "ro"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a read-only tmpfs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(mount)], capture_output=True)
    if done.returncode:
        pytest.skip("cannot mount a tmpfs")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fails(capsys, argv, *words):
    with pytest.raises(SystemExit) as info:
        code = cli.main(argv)
        raise SystemExit(code)
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2, err
    lines = [line for line in err if not line.startswith(("verify", "figure", "synth"))]  # progress bars
    assert len(lines) == 1 and lines[0].startswith("brightstar: error: "), err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("extra, words", [
    (["--frame", "99"], ["--frame 99", "4 frames"]),
    (["--frames", "abc"], ["--frames", "'abc'"]),
    (["--frames", "-1"], ["--frames", "start at 0"]),
    (["--frames", "0,99"], ["--frames 99", "out of range"]),
    (["--frames", ""], ["--frames"]),
    (["--cutout", "10,10"], ["--cutout", "three integers"]),
    (["--cutout", "9999,9999,5"], ["outside the 64 x 64 frame"]),
    (["--cutout=100,100,-5"], ["HALF must be a positive"]),
    (["--baseline", "99"], ["--baseline 99"]),
    (["--references", "/nonexistent"], ["/nonexistent", "does not exist"]),
])
def test_figure_arguments(capsys, exposure, tmp_path, extra, words):
    out = tmp_path / "f.png"
    _fails(capsys, ["figure", str(exposure), str(out), "--quiet", *extra], *words)
    assert not out.exists()


@pytest.mark.parametrize("name, words", [("f.bmp", ["'.bmp'", ".png"]), ("f", ["no suffix"]), (".", ["is a folder"])])
def test_figure_output_names(capsys, exposure, tmp_path, name, words):
    _fails(capsys, ["figure", str(exposure), str(tmp_path / name), "--quiet"], *words)


def test_figure_into_a_read_only_place(capsys, exposure, read_only_dir):
    _fails(capsys, ["figure", str(exposure), str(read_only_dir / "f.png"), "--quiet"], str(read_only_dir))


def test_figure_calibrated_must_be_a_ramp_model(capsys, exposure, tmp_path):
    _fails(capsys, ["figure", str(exposure), str(tmp_path / "f.png"), "--quiet", "--calibrated", str(exposure)],
           "--calibrated", "TvacModel", "RampModel")


def test_a_good_figure_still_works(capsys, exposure, tmp_path):
    out = tmp_path / "f.png"
    assert cli.main(["figure", str(exposure), str(out), "--quiet", "--frames", "0,3", "--cutout", "30,30,10"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".partial-*"))


def test_synth_onto_a_file_or_into_a_read_only_place(capsys, exposure, read_only_dir):
    _fails(capsys, ["synth", str(exposure), "--size", "64", "--frames", "2", "--quiet"], "is a file, not a folder")
    _fails(capsys, ["synth", str(read_only_dir / "set"), "--size", "64", "--frames", "2", "--quiet"], "read-only")


def test_synth_bad_sizes(capsys, tmp_path):
    _fails(capsys, ["synth", str(tmp_path / "s"), "--frames", "1"], "--frames 1")
    _fails(capsys, ["synth", str(tmp_path / "s"), "--size", "100"], "--size 100")


@pytest.mark.parametrize("special", ["fifo", "dir", "loop", "empty", "device"])
def test_special_files_are_refused_at_once(capsys, tmp_path, special):
    path = tmp_path / "x.asdf"
    if special == "fifo":
        os.mkfifo(path)
    elif special == "dir":
        path.mkdir()
    elif special == "loop":
        os.symlink(tmp_path / "y.asdf", path)
        os.symlink(path, tmp_path / "y.asdf")
    elif special == "empty":
        path.write_bytes(b"")
    else:
        path = Path("/dev/zero")
    _fails(capsys, ["info", str(path)], str(path))


def test_calibrate_out_problems_are_found_before_work(capsys, exposure, tmp_path, read_only_dir):
    _fails(capsys, ["calibrate", str(exposure), "--out", str(tmp_path), "--quiet"], "is a folder")
    _fails(capsys, ["calibrate", str(exposure), "--out", str(read_only_dir / "o.asdf"), "--quiet"], "read-only")


def test_calibrate_with_a_missing_reference_folder(capsys, exposure):
    _fails(capsys, ["calibrate", str(exposure), "--refs", "/nonexistent", "--quiet"])


def test_verify_exit_codes(capsys, exposure, tmp_path):
    assert cli.main(["verify", str(exposure), "--quiet"]) == 0
    assert "verified" in capsys.readouterr().out
    bad = tmp_path / "bad.asdf"
    data = bytearray(exposure.read_bytes())
    data[-len(data) // 3] ^= 0x01  # inside the data block
    bad.write_bytes(bytes(data))
    line = _fails(capsys, ["verify", str(bad), "--quiet"], "corrupt", "block")
    assert "does not match its checksum" in line


def test_verify_says_when_a_file_carries_no_checksums(capsys, tmp_path):
    import asdf
    import numpy as np

    path = tmp_path / "plain.asdf"
    asdf.AsdfFile({"x": np.arange(10)}).write_to(path, write_checksums=False) if "write_checksums" in \
        asdf.AsdfFile.write_to.__code__.co_varnames else asdf.AsdfFile({"x": np.arange(10)}).write_to(path)
    from processing.asdf_blocks import read_layout
    from processing.sources import LocalFileSource

    src = LocalFileSource(path)
    has = any(any(b.checksum) for b in read_layout(src).blocks)
    src.close()
    if has:
        pytest.skip("this asdf always writes checksums")
    assert cli.main(["verify", str(path), "--quiet"]) == 0
    assert "carries no checksums" in capsys.readouterr().out


def test_one_line_in_a_real_process(exposure, tmp_path):
    env = dict(os.environ, BRIGHTSTAR_LOG_DIR=str(tmp_path / "logs"))
    done = subprocess.run([sys.executable, "-m", "processing.cli", "figure", str(exposure), str(tmp_path / "a.bmp")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and done.stderr.startswith("brightstar: error: ")
    assert "Traceback" not in done.stderr
    log = (tmp_path / "logs" / "brightstar.log").read_text()
    assert "a.bmp" in log


def test_verbose_flag_logs_to_stderr(exposure, tmp_path):
    env = dict(os.environ, BRIGHTSTAR_LOG_DIR=str(tmp_path / "logs"))
    done = subprocess.run([sys.executable, "-m", "processing.cli", "-v", "verify", "--quiet", str(exposure)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and "INFO" in done.stderr
