"""Reads by region: a render reads only the rows and columns it shows.

Exposure.frame_region against whole frames (raw, strided, lz4), lz4
decompressing only the chunks a band touches, and the viewer in cutout mode
over a loopback S3 server moving one row band per new read, not the frame.
"""

from __future__ import annotations

import numpy as np
import pytest
from s3_server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

from brightstar_gui.controllers import StartOptions, SyncRunner, ViewerController
from processing import synth
from processing.io import open_exposure


@pytest.fixture(scope="module")
def lz4_file(tmp_path_factory):
    # 2048 x 2048 uint16 = 8 MiB per read: two 4 MiB lz4 chunks per read.
    path = tmp_path_factory.mktemp("lz4") / synth.exposure_filename(synth.ILLUM_STAMP)
    return synth.write_exposure(path, frames=3, size=2048, compression="lz4", seed=3)


def test_frame_region_is_the_frames_part(small_set):
    with open_exposure(small_set["illuminated"]) as exp:
        full = np.array(exp.frame(5))
        np.testing.assert_array_equal(exp.frame_region(5, 10, 60, 100, 180), full[10:60, 100:180])
        np.testing.assert_array_equal(exp.frame_region(5, 0, 256, 0, 256, step=4), full[::4, ::4])
        np.testing.assert_array_equal(exp.frame_region(5, -20, 30, 250, 400), full[0:30, 250:256])  # clipped
        assert exp.frame_region(-1, 0, 8, 0, 8).shape == (8, 8)
        with pytest.raises(IndexError, match="frame 8 is out of range"):
            exp.frame_region(8, 0, 8, 0, 8)


def test_lz4_band_decompresses_only_its_chunks(lz4_file, monkeypatch):
    import lz4.block

    from processing import io

    calls = []
    real = lz4.block.decompress

    def counting(payload, uncompressed_size):
        calls.append(uncompressed_size)
        return real(payload, uncompressed_size=uncompressed_size)

    with open_exposure(lz4_file) as exp:
        whole = np.array(exp.frame(1))
    monkeypatch.setattr(io.lz4.block, "decompress", counting)
    with open_exposure(lz4_file) as exp:
        band = exp.frame_region(1, 100, 612, 300, 812)  # rows 100-612: in the first half of read 1
        np.testing.assert_array_equal(band, whole[100:612, 300:812])
        assert len(calls) == 1  # one 4 MiB chunk of read 1, not the whole read (two) nor the cube
        calls.clear()
        np.testing.assert_array_equal(exp.frame_region(1, 1000, 1100, 0, 2048), whole[1000:1100])
        # A band across the chunk boundary needs both chunks of the read; the
        # first is still in the decompressed-chunk cache: one more decompression.
        assert len(calls) == 1


class _Views:
    def __init__(self):
        from test_controller import FakePanes, FakeRamp, FakeStatus

        self.panes, self.ramp, self.status = FakePanes(), FakeRamp(), FakeStatus()


def test_cutout_over_s3_moves_one_row_band_per_new_read(s3_bucket):
    uri = s3_bucket["uri"]["none"]  # 10 reads of 1024 x 1024 uint16: 2 MiB per read
    c = ViewerController(_Views(), SyncRunner(), endpoint_url=s3_bucket["endpoint_url"])
    try:
        c.open(uri, StartOptions(frame=3, cutout=(512, 400, 128)))
        assert c.views.status.errors == []
        req = c.last_render.request
        assert req.region == (384, 640, 272, 528) and req.step == 1
        n, h, w = c.dataset.shape
        band = (req.view[1] - req.view[0] + 2) * w * 2  # the view's rows and the mask's one-pixel margin
        with open_exposure(s3_bucket["local"]["none"]) as local:
            for k in (4, 5, 6, 7):
                before = c.bytes_fetched()
                c.model.frame = k
                moved = c.bytes_fetched() - before
                assert c.last_render.request.frame == k
                np.testing.assert_array_equal(c.last_render.probe["frame"], np.array(local.frame(k))[384:640, 272:528])
                # One row band across the full width for the new read (k - 1 and the
                # baseline were read before), a small slack for HTTP ranges.
                assert moved <= band * 1.05, (k, moved, band)
                assert moved < 0.3 * h * w * 2  # far from the whole 2 MiB read
    finally:
        c.close()


def test_strided_region_reads_only_its_rows(tmp_path, monkeypatch):
    """A zoomed-out view (every k-th row and column) of a local file reads those rows, not the whole frame."""
    import os

    from processing import io

    path = tmp_path / synth.exposure_filename(synth.ILLUM_STAMP)
    synth.write_exposure(path, frames=2, size=2048, compression="none", seed=5)
    read = []
    real = os.preadv

    def counting(fd, buffers, offset):
        n = real(fd, buffers, offset)
        read.append((n, sum(len(b) for b in buffers)))
        return n

    monkeypatch.setattr(io.os, "preadv", counting)
    rows = len(range(3, 2000, 13))
    with open_exposure(path) as exp:
        full = np.array(exp.frame(1))
        # Rows 13 apart: one scatter read of the 154 wanted rows (2030 columns
        # each) and the gaps between them into scratch, not a 2048-row box.
        read.clear()
        part = exp.frame_region(1, 3, 2000, 10, 2040, step=13)
        np.testing.assert_array_equal(part, full[3:2000:13, 10:2040:13])
        assert len(read) == 1 and read[0][0] == (rows - 1) * 13 * 4096 + 2030 * 2
        # Sparse rows (gap over SCATTER_GAP): one read per row, each only its columns.
        monkeypatch.setattr(io, "SCATTER_GAP", 16 * 1024)
        read.clear()
        np.testing.assert_array_equal(exp.frame_region(1, 3, 2000, 10, 2040, step=13), full[3:2000:13, 10:2040:13])
        assert len(read) == rows and sum(n for n, _ in read) == rows * 2030 * 2
