"""Data exports read back: the cutout ASDF through open_exposure/asdf/roman_datamodels, the ramp CSV."""

from __future__ import annotations

import csv
import hashlib
import re
import struct

import asdf
import numpy as np
import pytest

from processing import exports, figures
from processing.asdf_blocks import read_layout
from processing.diagnostics import saturation_onset
from processing.io import open_exposure
from processing.sources import LocalFileSource


@pytest.fixture(scope="module")
def refs(small_set):
    with open_exposure(small_set["illuminated"]) as exp:
        shape = exp.shape[1:]
    r = small_set["references"]
    sat = figures.align_to_frame(figures.load_reference_array(r["saturation"], "data").astype(np.float32), shape)
    dq = figures.align_to_frame(figures.load_reference_array(r["mask"], "dq"), shape)
    return sat, dq


def _checksums_ok(path) -> int:
    """Number of blocks whose header MD5 matches their bytes (asserting every one does)."""
    src = LocalFileSource(path)
    layout = read_layout(src)
    for block in layout.blocks:
        header = src.read(block.offset + 6, 48)
        checksum = struct.unpack(">I4sQQQ16s", header)[5]
        assert checksum != bytes(16), "block without a checksum"
        assert hashlib.md5(src.read(block.data_offset, block.used_size)).digest() == checksum
    src.close()
    return len(layout.blocks)


def test_raw_cutout_round_trips_with_dq_onset_times_and_meta(small_set, refs, tmp_path):
    sat, dq = refs
    r, c = small_set["star_center"]
    region = (0, r + 25, c - 30, c + 10)  # the flagged bottom rows and the star
    y0, y1, x0, x1 = region
    out = tmp_path / "cut.asdf"
    with open_exposure(small_set["illuminated"]) as exp:
        exports.write_cutout_asdf(out, exp, region, pixeldq=dq, sat_dn=sat, references=small_set["references"])
        cube = exp.cutout(y0, y1, x0, x1)
        amp33 = exp.arrays["amp33"].cutout(y0, y1, 0, exp.arrays["amp33"].shape[2])
        times, meta = exp.read_times, exp.meta["roman"]["meta"]
        onset = saturation_onset(exp, sat)[y0:y1, x0:x1]
    with open_exposure(out) as cut:
        assert cut.model_type == "TvacModel" and cut.shape == cube.shape
        np.testing.assert_array_equal(cut.data.read(), cube)
        np.testing.assert_array_equal(cut.arrays["pixeldq"].read(), dq[y0:y1, x0:x1])
        np.testing.assert_array_equal(cut.arrays["amp33"].read(), amp33)
        np.testing.assert_allclose(cut.read_times, times)
        assert cut.get_meta("instrument.detector") == meta["instrument"]["detector"]
        assert cut.get_meta("exposure.start_time") == meta["exposure"]["start_time"]
        assert cut.meta["roman"]["meta"]["groundtest"] == meta["groundtest"]
    assert (dq[y0:y1, x0:x1] != 0).any() and (onset >= 0).any() and (onset < 0).any()
    with asdf.open(out, validate_checksums=True) as af:
        info = af["brightstar_cutout"]
        np.testing.assert_array_equal(info["saturation_onset"], onset)
        np.testing.assert_allclose(info["read_times_s"], times, atol=1e-6)
        assert (info["region"]["y0"], info["region"]["y1"], info["region"]["x0"], info["region"]["x1"]) == region
        assert info["source"] == str(small_set["illuminated"]) and info["pixeldq_origin"] == "mask reference"
        assert info["software"]["roman_datamodels"]
    assert _checksums_ok(out) >= 3
    from roman_datamodels import datamodels as rdm

    with rdm.open(out) as model:
        assert isinstance(model, rdm.TvacModel)
        np.testing.assert_array_equal(np.asarray(model.data), cube)


def _fake_calibrated(path, n=6, h=40, w=48, seed=3):
    """A RampModel file (as romancal writes them) with DQ in every plane."""
    from roman_datamodels import datamodels as rdm

    rng = np.random.default_rng(seed)
    m = rdm.RampModel.create_fake_data(shape=(n, h, w))
    m.data = rng.normal(1000, 50, (n, h, w)).astype(np.float32)
    m.pixeldq = rng.integers(0, 3, (h, w)).astype(np.uint32) * (rng.random((h, w)) > 0.8)
    gdq = np.zeros((n, h, w), np.uint8)
    gdq[3:, 10:14, 20:25] = 2  # saturated from read 3
    gdq[5:, 0, 0] = 2
    gdq[:, 30, 30] = 4
    m.groupdq = gdq
    m.err = np.ones((n, h, w), np.float32)
    m.amp33 = rng.integers(0, 60000, (n, h, 128)).astype(np.uint16)
    for side in ("left", "right"):
        setattr(m, f"border_ref_pix_{side}", rng.normal(0, 1, (n, h, 4)).astype(np.float32))
        setattr(m, f"dq_border_ref_pix_{side}", np.zeros((h, 4), np.uint32))
    for side in ("top", "bottom"):
        setattr(m, f"border_ref_pix_{side}", rng.normal(0, 1, (n, 4, w)).astype(np.float32))
        setattr(m, f"dq_border_ref_pix_{side}", np.zeros((4, w), np.uint32))
    m.meta.exposure.frame_time = 3.04
    m.meta.exposure.read_pattern = [[i + 1] for i in range(n)]
    m.save(path)
    return m


def test_calibrated_cutout_keeps_pixeldq_and_groupdq(tmp_path):
    src = tmp_path / "cal.asdf"
    _fake_calibrated(src)
    region = (8, 32, 16, 40)
    y0, y1, x0, x1 = region
    out = tmp_path / "cut.asdf"
    with open_exposure(src) as exp:
        exports.write_cutout_asdf(out, exp, region)
        want = {k: exp.arrays[k].read() for k in ("data", "pixeldq", "groupdq", "border_ref_pix_left", "border_ref_pix_top")}
    with open_exposure(out) as cut:
        assert cut.model_type == "RampModel"
        np.testing.assert_array_equal(cut.data.read(), want["data"][:, y0:y1, x0:x1])
        np.testing.assert_array_equal(cut.arrays["pixeldq"].read(), want["pixeldq"][y0:y1, x0:x1])
        np.testing.assert_array_equal(cut.arrays["groupdq"].read(), want["groupdq"][:, y0:y1, x0:x1])
        np.testing.assert_array_equal(cut.arrays["border_ref_pix_left"].read(), want["border_ref_pix_left"][:, y0:y1])
        np.testing.assert_array_equal(cut.arrays["border_ref_pix_top"].read(), want["border_ref_pix_top"][:, :, x0:x1])
    with asdf.open(out, validate_checksums=True) as af:
        onset = np.asarray(af["brightstar_cutout"]["saturation_onset"])
    expected = np.full((y1 - y0, x1 - x0), -1)
    expected[10 - y0 : 14 - y0, 20 - x0 : 25 - x0] = 3
    np.testing.assert_array_equal(onset, expected)  # the groupdq=4 pixel is not saturation
    _checksums_ok(out)


def test_cutout_refuses_to_overwrite_and_rejects_bad_regions(small_set, tmp_path):
    out = tmp_path / "c.asdf"
    out.write_bytes(b"keep me")
    with open_exposure(small_set["illuminated"]) as exp:
        with pytest.raises(FileExistsError, match="c.asdf"):
            exports.write_cutout_asdf(out, exp, (0, 10, 0, 10))
        assert out.read_bytes() == b"keep me"
        with pytest.raises(ValueError, match="not inside"):
            exports.write_cutout_asdf(tmp_path / "d.asdf", exp, (0, 10, 250, 300))
        assert not (tmp_path / "d.asdf").exists()
        exports.write_cutout_asdf(out, exp, (0, 10, 0, 10), overwrite=True)
    with open_exposure(out) as cut:
        assert cut.shape[1:] == (10, 10)
    assert not list(tmp_path.glob(".*partial*"))


def _read_csv(path):
    lines = path.read_text().splitlines()
    header = {ln[2:].split(": ", 1)[0]: ln[2:].split(": ", 1)[1] for ln in lines if ln.startswith("# ")}
    rows = list(csv.DictReader([ln for ln in lines if not ln.startswith("#")]))
    return header, rows


def test_ramp_csv_has_the_pixel_its_neighbours_and_pinned_pixels(small_set, refs, tmp_path):
    sat, dq = refs
    with open_exposure(small_set["illuminated"]) as exp:
        n = exp.shape[0]
        # A pixel on the edge of the saturated core: it saturates part way up the ramp.
        onset = saturation_onset(exp, sat)
        r, c = (int(v) for v in np.argwhere((onset >= 2) & (onset < n - 1))[0])
        table = exports.ramp_table(r, c, raw=exp, pinned=[(5, 7), (r, c + 1)], sat_dn=sat, pixeldq=dq,
                                   read_times=exp.read_times, header={"source": exp.uri})
        path = exports.write_ramp_csv(tmp_path / "ramp.csv", table)
        box = exp.cutout(r - 1, r + 2, c - 1, c + 2)
        pinned = exp.cutout(5, 6, 7, 8)[:, 0, 0]
        times = exp.read_times
    header, rows = _read_csv(path)
    assert header["source"] == str(small_set["illuminated"])
    assert list(rows[0]) == ["row", "col", "role", "read", "time_s", "raw_dn", "saturated", "pixeldq"]
    assert len(rows) == 10 * n  # 3 x 3, plus one pinned pixel (the other is a neighbour already)
    by_pixel = {}
    for row in rows:
        by_pixel.setdefault((int(row["row"]), int(row["col"]), row["role"]), []).append(row)
    assert [k for k in by_pixel if k[2] == "selected"] == [(r, c, "selected")]
    assert (5, 7, "pinned") in by_pixel and (r, c + 1, "neighbour") in by_pixel
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            role = "selected" if dr == dc == 0 else "neighbour"
            got = [int(x["raw_dn"]) for x in by_pixel[(r + dr, c + dc, role)]]
            assert got == box[:, 1 + dr, 1 + dc].tolist()
    assert [int(x["raw_dn"]) for x in by_pixel[(5, 7, "pinned")]] == pinned.tolist()
    centre = by_pixel[(r, c, "selected")]
    assert [x["time_s"] for x in centre] == [f"{t:.6f}" for t in times]
    assert all(re.fullmatch(r"\d+\.\d{6}", x["time_s"]) for x in centre)
    thr = np.ceil(sat[r, c])
    assert [int(x["saturated"]) for x in centre] == (box[:, 1, 1] >= thr).astype(int).tolist()
    assert any(int(x["saturated"]) for x in centre) and not all(int(x["saturated"]) for x in centre)
    assert {int(x["pixeldq"]) for x in centre} == {int(dq[r, c])}


def test_ramp_csv_calibrated_values_are_exact_and_short(tmp_path):
    src = tmp_path / "cal.asdf"
    m = _fake_calibrated(src)
    with open_exposure(src) as cal:
        table = exports.ramp_table(0, 0, calibrated=cal, read_times=cal.read_times)
        path = exports.write_ramp_csv(tmp_path / "r.csv", table)
    _, rows = _read_csv(path)
    assert len(rows) == 4 * 6  # a corner pixel has three neighbours
    centre = [x for x in rows if x["role"] == "selected"]
    values = np.asarray(m.data)[:, 0, 0]
    assert [np.float32(x["calibrated_dn"]) for x in centre] == values.tolist()
    assert all(len(x["calibrated_dn"]) <= 12 for x in centre)  # shortest float32 repr, not 17 digits
    assert [int(x["groupdq"]) for x in centre] == np.asarray(m.groupdq)[:, 0, 0].tolist()
    assert centre[1]["time_s"] == "3.040000"
    with pytest.raises(FileExistsError):
        exports.write_ramp_csv(path, table)
    with pytest.raises(ValueError, match="outside"):
        exports.ramp_table(40, 0, calibrated=open_exposure(src))

