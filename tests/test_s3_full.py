"""A full-size exposure from S3: the issue's first-frame budget, at the issue's size.

A (55, 4096, 4096) uncompressed exposure is 1.9 GB; a frame is 33.5 MB.
Showing the first frame must fetch at most 40 MB in total (tree, block
index, block headers and the frame).  Setting up costs about a minute
(writing and uploading 1.9 GB to moto), so this module is one test.
"""

from __future__ import annotations

import numpy as np
from s3_server import s3_bucket, s3_full_size, s3_server  # noqa: F401  (pytest fixtures)

from processing.io import open_exposure

FRAME_BYTES = 4096 * 4096 * 2
BUDGET = 40_000_000


def test_first_frame_of_a_full_size_exposure_fetches_at_most_40_mb(s3_bucket, s3_full_size, monkeypatch, tmp_path):
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(tmp_path / "cache"))  # cold: nothing fetched before
    with open_exposure(s3_full_size["uri"], endpoint_url=s3_bucket["endpoint_url"]) as exp:
        assert exp.shape == (55, 4096, 4096)
        assert exp.size == s3_full_size["size"] > 1.8e9
        frame = exp.frame(0)
        source = exp.source
        np.testing.assert_array_equal(frame, s3_full_size["expected_first"])
        assert source.bytes_read <= BUDGET
        assert FRAME_BYTES <= source.bytes_read <= FRAME_BYTES + 400_000  # the frame plus tree and index
        assert source.requests <= 5  # head + tail (one round trip), far block headers, the frame
