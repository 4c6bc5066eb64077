"""Network faults: a clear S3Error, bounded waits, and nothing partial in the cache.

Every call that could hang runs in a thread joined with a generous limit:
a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from s3_server import MotoServer, SilentServer, TcpProxy, free_port, make_public_bucket, s3_bucket, s3_server, upload  # noqa: F401

from processing import synth
from processing.errors import ExposureError
from processing.fetch_cache import FetchCache
from processing.asdf_blocks import read_layout
from processing.io import Exposure, open_exposure
from processing.s3 import S3Error, S3Options, S3Source

#: Short waits so that fault tests take seconds (the defaults are 5 s / 30 s / 3 attempts).
FAST = S3Options(connect_timeout=1.0, read_timeout=2.0, max_attempts=2, body_attempts=2)
HANG_LIMIT = 60.0


def _finishes(fn, within: float = HANG_LIMIT):
    """Run ``fn`` in a thread; return its result or raise its exception; fail if it hangs."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed to the test
            box["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(within)
    assert not thread.is_alive(), f"still waiting after {within} s: the call hangs"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _partials(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".partial-" in p.name]


@pytest.fixture
def cache(tmp_path) -> FetchCache:
    return FetchCache(tmp_path / "fetch-cache")


def test_missing_object_is_404(s3_bucket, cache):
    uri = f"s3://{s3_bucket['bucket']}/no/such/file_uncal.asdf"
    with pytest.raises(S3Error, match="no such object") as info:
        _finishes(lambda: S3Source(uri, endpoint_url=s3_bucket["endpoint_url"], options=FAST, cache=cache))
    assert info.value.kind == "not_found" and info.value.status == 404
    assert "no/such/file_uncal.asdf" in str(info.value)


def test_missing_bucket_is_named(s3_bucket, cache):
    with pytest.raises(S3Error, match="bucket 'no-such-bucket' does not exist") as info:
        _finishes(lambda: S3Source("s3://no-such-bucket/x.asdf", endpoint_url=s3_bucket["endpoint_url"], options=FAST, cache=cache))
    assert info.value.kind == "no_bucket"


def test_private_object_is_403_with_advice(s3_bucket, cache):
    with pytest.raises(S3Error, match="403") as info:
        _finishes(lambda: S3Source(s3_bucket["private_uri"], endpoint_url=s3_bucket["endpoint_url"], options=FAST, cache=cache))
    assert info.value.kind == "forbidden"
    assert "not public" in info.value.problem


def test_open_exposure_reports_s3_errors_as_exposure_errors(s3_bucket, cold_env):
    with pytest.raises(ExposureError, match="does not exist"):
        _finishes(lambda: open_exposure("s3://no-such-bucket/x.asdf", endpoint_url=s3_bucket["endpoint_url"]))


@pytest.fixture
def cold_env(monkeypatch, tmp_path):
    """Fresh cache and short S3 waits for code paths that take no options (open_exposure)."""
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BRIGHTSTAR_S3_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("BRIGHTSTAR_S3_READ_TIMEOUT", "2")
    monkeypatch.setenv("BRIGHTSTAR_S3_RETRIES", "2")
    return tmp_path / "cache"


def test_unreachable_endpoint(cold_env):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nobody listens: connection refused
    with pytest.raises(S3Error, match="cannot reach the S3 endpoint") as info:
        _finishes(lambda: open_exposure("s3://bucket/file_uncal.asdf", endpoint_url=endpoint))
    assert info.value.kind == "unreachable"
    assert endpoint in str(info.value)


def test_silent_server_times_out(cache):
    fast = S3Options(connect_timeout=1.0, read_timeout=1.0, max_attempts=1, body_attempts=1)
    server = SilentServer()  # accepts connections, never answers
    try:
        with pytest.raises(S3Error, match="stopped answering") as info:
            _finishes(lambda: S3Source("s3://bucket/file_uncal.asdf", endpoint_url=server.endpoint_url, options=fast, cache=cache))
        assert info.value.kind == "timeout"
    finally:
        server.close()


def test_server_stopped_mid_read_leaves_no_partial_range(s3_bucket, cache):
    """The proxy forwards part of a frame's response, then stops serving altogether."""
    local = open_exposure(s3_bucket["local"]["none"])
    proxy = TcpProxy(s3_bucket["server"].port)
    port = proxy.port
    uri = s3_bucket["uri"]["none"]
    source = _finishes(lambda: S3Source(uri, endpoint_url=proxy.endpoint_url, options=FAST, cache=cache))
    exposure = Exposure(source, read_layout(source))
    offset = exposure.data.ref.offset + exposure.layout.blocks[exposure.data.ref.source].data_offset
    frame_bytes = 1024 * 1024 * 2
    proxy.cut_after = proxy.counts.bytes_down + frame_bytes // 3  # a third of frame 0, then nothing
    with pytest.raises(S3Error) as info:
        _finishes(lambda: exposure.frame(0))
    assert info.value.kind in ("dropped", "unreachable")
    assert "Nothing partial was cached" in info.value.problem or info.value.kind == "unreachable"
    version = cache.version(source.endpoint_url, source.bucket, source.key, source.etag, source.size)
    assert not version.covered(offset, frame_bytes)
    assert _partials(cache.root) == []
    # The server comes back on the same address: the frame is fetched in full and correct.
    proxy = TcpProxy(s3_bucket["server"].port, port=port)
    try:
        np.testing.assert_array_equal(_finishes(lambda: exposure.frame(0)), local.frame(0))
        assert version.covered(offset, frame_bytes)
    finally:
        proxy.stop()
        local.close()


def test_server_process_killed_between_reads(tmp_path, cache):
    server = MotoServer().start()
    try:
        client = server.client()
        make_public_bucket(client)
        path = synth.write_exposure(tmp_path / "k_uncal.asdf", frames=4, size=256, seed=5)
        uri = upload(client, path, "k_uncal.asdf")
        with open_exposure(uri, endpoint_url=server.endpoint_url) as probe:
            assert probe.shape == (4, 256, 256)
        source = S3Source(uri, endpoint_url=server.endpoint_url, options=FAST, cache=cache)
        server.kill()
        with pytest.raises(S3Error) as info:
            _finishes(lambda: source.read(source.size // 2, 100_000))
        assert info.value.kind in ("unreachable", "dropped")
        assert _partials(cache.root) == []
    finally:
        server.kill()
    assert os.path.exists(path)


def test_an_empty_object_is_named_as_such(s3_bucket, cold_env):
    client = s3_bucket["server"].client()
    client.put_object(Bucket=s3_bucket["bucket"], Key="empty_uncal.asdf", Body=b"", ACL="public-read")
    uri = f"s3://{s3_bucket['bucket']}/empty_uncal.asdf"
    for _ in range(2):  # first open, then the reopen that revalidates the cached version
        with pytest.raises(ExposureError, match="the file is empty"):
            _finishes(lambda: open_exposure(uri, endpoint_url=s3_bucket["endpoint_url"]))
