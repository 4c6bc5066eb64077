"""``brightstar cache``: sizes and locations of the caches; clearing them."""

from __future__ import annotations

from pathlib import Path

import pytest

from processing import cli, paths


@pytest.fixture
def cache_root(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(root))
    (root / "calibrated").mkdir(parents=True)
    (root / "calibrated" / "a.asdf").write_bytes(b"x" * 3000)
    (root / "s3" / "obj").mkdir(parents=True)
    (root / "s3" / "obj" / "0.bin").write_bytes(b"y" * 1500)
    (root / "s3" / "obj" / "1.bin").write_bytes(b"y" * 500)
    (root / "mystery").mkdir()
    (root / "mystery" / "z").write_bytes(b"z" * 10)
    return root


def _lines(capsys) -> dict[str, str]:
    out = capsys.readouterr().out
    return {line.split()[0]: line for line in out.splitlines() if line and not line.startswith("caches in")}


def test_lists_each_cache_with_its_size_and_location(cache_root, capsys):
    assert cli.main(["cache"]) == 0
    rows = _lines(capsys)
    assert "3.00 kB" in rows["calibrated"] and str(cache_root / "calibrated") in rows["calibrated"]
    assert "2.00 kB" in rows["s3"]
    assert "0 B" in rows["demo"] and str(cache_root / "demo") in rows["demo"]
    assert "10 B" in rows["mystery"]  # folders it does not know are listed, not hidden
    assert "5.01 kB" in rows["total"]


def test_clear_one_cache_keeps_the_others(cache_root, capsys):
    assert cli.main(["cache", "--clear", "calibrated"]) == 0
    assert "freed 3.00 kB" in capsys.readouterr().out
    assert not (cache_root / "calibrated").exists()
    assert (cache_root / "s3" / "obj" / "0.bin").read_bytes() == b"y" * 1500


def test_clear_all(cache_root, capsys):
    assert cli.main(["cache", "--clear"]) == 0
    assert "freed 5.01 kB" in capsys.readouterr().out
    assert sorted(p.name for p in cache_root.iterdir()) == []


def test_unknown_cache_name_is_an_error_and_deletes_nothing(cache_root, capsys):
    assert cli.main(["cache", "--clear", "calibratd"]) == 2
    assert "no cache named 'calibratd'" in capsys.readouterr().err
    assert (cache_root / "calibrated" / "a.asdf").exists()


def test_path_and_demo_file(cache_root, capsys):
    from processing import synth
    from processing.progress import run

    assert cli.main(["cache", "--path", "demo"]) == 0
    assert capsys.readouterr().out.strip() == str(cache_root / "demo")
    assert cli.main(["cache", "--demo-file"]) == 1
    assert "brightstar-gui --demo writes it" in capsys.readouterr().err
    run(synth.write_first_look_job(paths.demo_dir(), synth.SynthConfig(frames=2, size=64)))
    assert cli.main(["cache", "--demo-file"]) == 0
    printed = Path(capsys.readouterr().out.strip())
    assert printed.is_file() and printed.name == synth.exposure_filename(synth.ILLUM_STAMP)
    assert cli.main(["info", str(printed)]) == 0  # the path works as FILE for the other commands
