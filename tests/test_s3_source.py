"""Streaming exposures from S3 (a moto server on 127.0.0.1): bytes, requests, equality.

Counts come from :class:`processing.s3.S3Source` (requests sent, body bytes
received); moto re-reads the whole object for every GET, so nothing here is
timed.
"""

from __future__ import annotations

import numpy as np
import pytest
from s3_server import TcpProxy, s3_bucket, s3_server, upload  # noqa: F401  (pytest fixtures)

from processing import synth
from processing.asdf_blocks import HEAD_READ, TAIL_READ, lz4_chunk_index, read_layout
from processing.io import open_exposure
from processing.progress import run
from processing.s3 import S3Error, S3Source, resolve_endpoint
from processing.sources import LocalFileSource

#: What opening may fetch: the head (tree), the tail (block index) and block headers.
OPEN_BUDGET = HEAD_READ + TAIL_READ + 4096


@pytest.fixture
def cold_cache(monkeypatch, tmp_path):
    """A fresh, empty user cache for this test (nothing fetched before)."""
    root = tmp_path / "cache"
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(root))
    return root


def _open(bucket: dict, name: str):
    return open_exposure(bucket["uri"][name], endpoint_url=bucket["endpoint_url"])


def test_open_reads_only_the_tree_and_block_index(s3_bucket, cold_cache):
    with _open(s3_bucket, "none") as exp:
        assert exp.model_type == "TvacModel"
        assert exp.shape == (10, 1024, 1024)
        assert exp.compression is None
        assert exp.size == s3_bucket["local"]["none"].stat().st_size
        source = exp.source
        assert isinstance(source, S3Source)
        # Head and tail in one round trip of two GETs, plus far block headers.
        assert source.bytes_read <= OPEN_BUDGET
        assert source.requests <= 4
        assert exp.meta["roman"]["meta"]["instrument"]["detector"] == synth.DETECTOR


def test_frames_equal_the_local_file_and_fetch_one_range_each(s3_bucket, cold_cache):
    local = open_exposure(s3_bucket["local"]["none"])
    with _open(s3_bucket, "none") as exp:
        source = exp.source
        before = source.stats.snapshot()
        for k in (0, 5, 9, -1):
            np.testing.assert_array_equal(exp.frame(k), local.frame(k))
        after = source.stats.snapshot()
        frame_bytes = 1024 * 1024 * 2
        # Frame -1 is frame 9 again: served from the fetch cache, not fetched.
        assert after["bytes_fetched"] - before["bytes_fetched"] == 3 * frame_bytes
        assert after["requests"] - before["requests"] <= 3  # the first header may sit in the opening read
        assert after["cache_bytes"] - before["cache_bytes"] == frame_bytes
        np.testing.assert_array_equal(exp.arrays["amp33"].frame(2), local.arrays["amp33"].frame(2))
    local.close()


def test_cutout_across_all_frames_fetches_at_most_twice_its_size(s3_bucket, cold_cache):
    local = open_exposure(s3_bucket["local"]["none"])
    with _open(s3_bucket, "none") as exp:
        source = exp.source
        opened = source.stats.snapshot()
        cut = exp.cutout(300, 812, 256, 768)
        assert cut.shape == (10, 512, 512)
        np.testing.assert_array_equal(cut, local.cutout(300, 812, 256, 768))
        assert source.bytes_read <= 2 * cut.nbytes + opened["bytes_fetched"]
        assert source.requests - opened["requests"] == 10  # one row band per frame, concurrently
    local.close()


def _frame_chunks(chunks, k: int, frame_bytes: int):
    lo, hi = k * frame_bytes, (k + 1) * frame_bytes
    return [c for c in chunks if c.start < hi and c.start + c.length > lo]


def test_lz4_frames_fetch_only_their_chunks(s3_bucket, cold_cache):
    path = s3_bucket["local"]["lz4"]
    local_source = LocalFileSource(path)
    layout = read_layout(local_source)
    local = open_exposure(path)
    block = layout.blocks[local.data.ref.source]
    chunks = lz4_chunk_index(local_source, block)
    frame_bytes = 2048 * 2048 * 2
    assert len(chunks) == 12  # two 4 MiB chunks per read: the test means something
    with _open(s3_bucket, "lz4") as exp:
        source = exp.source
        assert exp.compression == "lz4"
        before = source.stats.snapshot()
        np.testing.assert_array_equal(exp.frame(0), local.frame(0))
        after = source.stats.snapshot()
        # The chunk index is walked only as far as frame 0 needs: two 8-byte
        # headers, then its two chunks in one request.
        assert len(exp.data._reader._chunks) == 2
        assert after["requests"] - before["requests"] <= 3  # the first header may sit in the opening read
        exp.data._reader.chunks  # walk the rest, so the loop below measures data only
        for k in (3, 5, 1):
            before = source.stats.snapshot()
            np.testing.assert_array_equal(exp.frame(k), local.frame(k))
            after = source.stats.snapshot()
            mine = _frame_chunks(chunks, k, frame_bytes)
            assert len(mine) == 2
            # The chunks' payloads and their 8-byte length prefixes, in one request.
            assert after["bytes_fetched"] - before["bytes_fetched"] == sum(c.compressed + 8 for c in mine)
            assert after["requests"] - before["requests"] == 1
    local.close()
    local_source.close()


def test_lz4_chunk_index_is_cached_by_etag(s3_bucket, cold_cache):
    local = open_exposure(s3_bucket["local"]["lz4"])
    with _open(s3_bucket, "lz4") as exp:
        exp.frame(5)  # the last read: the whole chunk index is walked
        first_walk = exp.source.requests
    assert first_walk >= 12  # one small request per chunk header, the first time
    with _open(s3_bucket, "lz4") as exp:
        source = exp.source
        assert source.requests == 1  # If-None-Match on the head: 304, the rest from the cache
        assert source.bytes_read == 0
        np.testing.assert_array_equal(exp.frame(4), local.frame(4))
        assert source.requests == 2  # only frame 4's chunks: the index came from the cache
    local.close()


def test_zlib_is_downloaded_once_then_memory_mapped(s3_bucket, cold_cache):
    local = open_exposure(s3_bucket["local"]["zlib"])
    with _open(s3_bucket, "zlib") as exp:
        assert exp.needs_preparation
        reports = []
        run(exp.prepare(), on_progress=reports.append)
        assert reports and reports[-1].fraction == 1.0
        block = exp.layout.blocks[exp.data.ref.source]
        assert exp.source.bytes_read <= block.used_size + OPEN_BUDGET
        for k in range(exp.shape[0]):
            np.testing.assert_array_equal(exp.frame(k), local.frame(k))
    with _open(s3_bucket, "zlib") as exp:
        assert not exp.needs_preparation  # the decompressed block is cached under the same ETag
        np.testing.assert_array_equal(exp.frame(5), local.frame(5))
        assert exp.source.bytes_read == 0
    local.close()


def test_reopening_works_offline_from_the_cache(s3_bucket, cold_cache):
    local = open_exposure(s3_bucket["local"]["none"])
    proxy = TcpProxy(s3_bucket["server"].port)
    try:
        with open_exposure(s3_bucket["uri"]["none"], endpoint_url=proxy.endpoint_url) as exp:
            exp.frame(2)
            exp.cutout(0, 64, 0, 64)
    finally:
        proxy.stop()  # the network is gone
    with open_exposure(s3_bucket["uri"]["none"], endpoint_url=proxy.endpoint_url) as exp:
        assert exp.source.offline
        assert exp.shape == (10, 1024, 1024)
        np.testing.assert_array_equal(exp.frame(2), local.frame(2))
        np.testing.assert_array_equal(exp.cutout(0, 64, 0, 64), local.cutout(0, 64, 0, 64))
        with pytest.raises(S3Error, match="not in the cache") as info:
            exp.frame(7)
        assert info.value.kind == "offline"
    local.close()


def test_an_object_replaced_while_open_is_reported_and_never_mixed(s3_bucket, cold_cache, tmp_path):
    client = s3_bucket["server"].client()
    first = synth.write_exposure(tmp_path / "a.asdf", frames=4, size=256, seed=1)
    second = synth.write_exposure(tmp_path / "b.asdf", frames=4, size=256, seed=2)
    uri = upload(client, first, "replaced/x_uncal.asdf")
    with open_exposure(uri, endpoint_url=s3_bucket["endpoint_url"]) as exp:
        exp.frame(0)
        upload(client, second, "replaced/x_uncal.asdf")
        with pytest.raises(S3Error, match="changed") as info:
            exp.frame(1)
        assert info.value.kind == "changed"
    with open_exposure(uri, endpoint_url=s3_bucket["endpoint_url"]) as exp, open_exposure(second) as new:
        np.testing.assert_array_equal(exp.frame(0), new.frame(0))  # not the old version's cached bytes


def test_endpoint_comes_from_argument_then_settings_then_aws_env(monkeypatch, s3_bucket, cold_cache):
    monkeypatch.delenv("BRIGHTSTAR_S3_ENDPOINT", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://aws-env:1")
    assert resolve_endpoint() == "http://aws-env:1"
    monkeypatch.setenv("BRIGHTSTAR_S3_ENDPOINT", "http://setting:2/")
    assert resolve_endpoint() == "http://setting:2"
    assert resolve_endpoint("http://argument:3") == "http://argument:3"
    monkeypatch.setenv("BRIGHTSTAR_S3_ENDPOINT", s3_bucket["endpoint_url"])
    with open_exposure(s3_bucket["uri"]["none"]) as exp:  # no endpoint argument
        assert exp.shape == (10, 1024, 1024)


def test_bad_s3_uris_are_clear_errors(s3_bucket):
    with pytest.raises(S3Error, match="folder"):
        S3Source("s3://brightstar-test/some/prefix/", endpoint_url=s3_bucket["endpoint_url"])
    with pytest.raises(S3Error, match="no bucket"):
        S3Source("s3:///key", endpoint_url=s3_bucket["endpoint_url"])
