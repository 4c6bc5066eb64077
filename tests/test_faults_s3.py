"""An S3 endpoint that accepts connections and never answers is a clear error within the deadline."""

from __future__ import annotations

import threading
import time

import pytest

from processing.s3 import S3Error, S3Options, S3Source
from s3_server import SilentServer


def test_default_deadline_of_a_small_request_is_30_seconds():
    options = S3Options()
    assert options.timeout == 30.0
    assert options.deadline(0) <= 30.0 and options.deadline(256 * 1024) <= 30.0
    # Big reads still get time to transfer at the minimum rate.
    assert options.deadline(64 << 20) > 30.0


def test_deadline_is_configurable_by_environment(monkeypatch):
    monkeypatch.setenv("BRIGHTSTAR_S3_TIMEOUT", "4")
    assert S3Options.from_env().timeout == 4.0


def test_unresponsive_endpoint_errors_within_the_deadline_with_default_retries(monkeypatch, tmp_path):
    from processing.fetch_cache import FetchCache

    monkeypatch.setenv("BRIGHTSTAR_S3_TIMEOUT", "3")
    server = SilentServer()
    result: dict = {}

    def go():
        t0 = time.perf_counter()
        try:
            S3Source("s3://bucket/file_uncal.asdf", endpoint_url=server.endpoint_url, cache=FetchCache(tmp_path / "c"))
        except S3Error as err:
            result["err"] = err
        result["t"] = time.perf_counter() - t0

    try:
        thread = threading.Thread(target=go, daemon=True)
        thread.start()
        thread.join(60)
        assert not thread.is_alive(), "still waiting after 60 s"
    finally:
        server.close()
    assert isinstance(result.get("err"), S3Error) and result["err"].kind == "timeout"
    assert "stopped answering" in str(result["err"]) and "BRIGHTSTAR_S3_TIMEOUT" in str(result["err"])
    assert result["t"] < 3 + 5, result["t"]


@pytest.mark.parametrize("value", ["abc", "-1"])
def test_bad_timeout_setting_falls_back_sensibly(monkeypatch, value):
    monkeypatch.setenv("BRIGHTSTAR_S3_TIMEOUT", value)
    assert S3Options.from_env().timeout >= 1.0
