"""Headless figures: ``brightstar figure`` writes the viewer's figures without a window."""

from __future__ import annotations

import numpy as np
import pytest

from processing import figures
from processing.cli import main


@pytest.mark.parametrize(
    "kind, suffix, extra",
    [("differences", "png", []), ("rows", "pdf", ["--frames", "2,7"]), ("group", "svg", ["--frame", "4"]),
     ("pane", "png", ["--pane", "mask", "--cutout", "full"])],
)
def test_figure_command_writes_files(small_set, tmp_path, kind, suffix, extra):
    out = tmp_path / f"{kind}.{suffix}"
    assert main(["figure", str(small_set["illuminated"]), str(out), "--kind", kind, "--quiet", *extra]) == 0
    data = out.read_bytes()
    assert len(data) > 1000
    magic = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}[suffix]
    assert data.startswith(magic)


def test_figure_command_bad_file(tmp_path, capsys):
    bad = tmp_path / "x.asdf"
    bad.write_text("not asdf")
    assert main(["figure", str(bad), str(tmp_path / "o.png")]) == 2
    assert "x.asdf" in capsys.readouterr().err


def test_levels_leave_out_flagged_pixels():
    img = np.zeros((100, 100), np.float32)
    img[::7, ::7] = 1e6  # hot pixels, flagged
    bad = img > 0
    lo, hi = figures.good_levels(img + np.linspace(0, 1, 100)[None, :], bad, 2, 98)
    assert hi < 2


def test_mask_codes_match_the_tutorial():
    from scipy.signal import convolve2d

    rng = np.random.default_rng(1)
    sat = rng.random((60, 70)) > 0.97
    k4 = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    kd = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1]])
    nearby = ~sat & (convolve2d(sat, k4, mode="same") > 0)
    diag = ~sat & ~nearby & (convolve2d(sat, kd, mode="same") > 0)
    expected = sat * 3 + nearby * 2 + diag
    np.testing.assert_array_equal(figures.mask_codes(sat), expected)
    # Block max keeps every flagged pixel when shrinking for display.
    assert figures.block_reduce(figures.mask_codes(sat), 4).max() == 3
