"""The fetch cache: complete ranges only, torn records ignored, bounded in size."""

from __future__ import annotations

import os

import pytest

from processing.fetch_cache import SMALL_RANGE, FetchCache, cache_limit_bytes

SIZE = 10_000_000


def _version(cache: FetchCache, etag: str = '"abc"'):
    return cache.version("http://127.0.0.1:1", "bucket", "a/b.asdf", etag, SIZE)


def test_ranges_are_found_inside_larger_ranges(tmp_path):
    cache = FetchCache(tmp_path)
    v = _version(cache)
    big = bytes(range(256)) * 1024  # 256 KiB at 1000
    v.put(1000, big)
    v.put(5, b"12345678")  # a small range: the log
    assert v.get(1000, len(big)) == big
    assert v.get(1000 + 300, 50) == big[300:350]
    assert v.get(999, 10) is None  # starts before any cached range
    assert v.get(1000 + len(big) - 5, 10) is None  # runs past it
    assert v.get(7, 4) == b"3456"
    # Another process (a new cache object) finds both after a restart.
    again = _version(FetchCache(tmp_path))
    assert again.get(1000 + 300, 50) == big[300:350]
    assert again.get(5, 8) == b"12345678"


def test_versions_are_separate(tmp_path):
    cache = FetchCache(tmp_path)
    _version(cache, '"one"').put(0, b"x" * SMALL_RANGE)
    assert _version(cache, '"two"').get(0, 10) is None


def test_remember_and_recall_the_last_version(tmp_path):
    cache = FetchCache(tmp_path)
    assert cache.recall(None, "bucket", "key") is None
    cache.remember(None, "bucket", "key", '"e1"', 123)
    cache.remember(None, "bucket", "key", '"e2"', 456)
    assert FetchCache(tmp_path).recall(None, "bucket", "key") == ('"e2"', 456)
    assert cache.recall("http://other", "bucket", "key") is None


def test_partial_files_never_count_as_complete(tmp_path):
    cache = FetchCache(tmp_path)
    v = _version(cache)
    v.put(0, b"a" * SMALL_RANGE)
    directory = v.directory
    # A crash while writing leaves a temporary file; a crash after the rename
    # but before the data reached the disk leaves a short file.
    (directory / f".{SMALL_RANGE}-{SMALL_RANGE}.bin.partial-1-x").write_bytes(b"b" * 10)
    (directory / f"{2 * SMALL_RANGE}-{SMALL_RANGE}.bin").write_bytes(b"c" * 100)
    fresh = _version(FetchCache(tmp_path))
    assert fresh.get(SMALL_RANGE, 10) is None
    assert fresh.get(2 * SMALL_RANGE, 10) is None
    assert fresh.get(0, 10) == b"a" * 10


def test_a_torn_log_record_is_ignored(tmp_path):
    cache = FetchCache(tmp_path)
    v = _version(cache)
    v.put(10, b"first")
    v.put(20, b"second")
    log = v.directory / "small.log"
    raw = log.read_bytes()
    log.write_bytes(raw[:-3])  # the second record lost its tail
    fresh = _version(FetchCache(tmp_path))
    assert fresh.get(10, 5) == b"first"
    assert fresh.get(20, 6) is None
    corrupt = bytearray(raw)
    corrupt[-1] ^= 0xFF  # flipped data: the CRC catches it
    log.write_bytes(bytes(corrupt))
    assert _version(FetchCache(tmp_path)).get(20, 6) is None


def test_size_is_bounded_least_recently_used_first(tmp_path):
    cache = FetchCache(tmp_path, limit_bytes=5 * SMALL_RANGE)
    v = _version(cache)
    for i in range(4):
        v.put(i * SMALL_RANGE, bytes([i]) * SMALL_RANGE)
        os.utime(v.directory / f"{i * SMALL_RANGE}-{SMALL_RANGE}.bin", (1000 + i, 1000 + i))
    assert v.get(0, 10) is not None  # range 0 is now the most recently used
    for i in range(4, 7):  # past the limit at range 5: down to 90 % of it
        v.put(i * SMALL_RANGE, bytes([i]) * SMALL_RANGE)
    assert cache.total_bytes() <= cache.limit_bytes
    assert v.get(0, 10) == bytes([0]) * 10  # kept: used recently
    assert v.get(SMALL_RANGE, 10) is None  # the oldest untouched ranges went first
    assert v.get(2 * SMALL_RANGE, 10) is None
    assert v.get(6 * SMALL_RANGE, 10) == bytes([6]) * 10
    # An evicted range can be stored again.
    v.put(SMALL_RANGE, bytes([1]) * SMALL_RANGE)
    assert v.get(SMALL_RANGE, 10) == bytes([1]) * 10


@pytest.mark.parametrize("text, expected", [("", 20e9), ("0.5", 0.5e9), ("junk", 20e9), ("3", 3e9)])
def test_the_limit_is_the_shared_cache_size_setting(monkeypatch, text, expected):
    monkeypatch.setenv("BRIGHTSTAR_CACHE_LIMIT_GB", text)
    assert cache_limit_bytes() == int(expected)
    # The S3 cache holds its share of the one budget (processing.cache_budget).
    assert FetchCache().limit_bytes == int(int(expected) * 0.3)
