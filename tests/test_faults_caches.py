"""The S3 fetch cache checks what it serves: a flipped byte in a range file is never returned."""

from __future__ import annotations

import os

from processing.fetch_cache import SMALL_RANGE, FetchCache


def _version(cache):
    return cache.version(None, "bucket", "key", '"e1"', 10 * SMALL_RANGE)


def test_a_flipped_byte_in_a_range_file_is_not_served_and_the_file_is_removed(tmp_path):
    cache = FetchCache(tmp_path)
    data = os.urandom(2 * SMALL_RANGE)
    _version(cache).put(SMALL_RANGE, data)
    fresh = _version(FetchCache(tmp_path))
    assert fresh.get(SMALL_RANGE + 5, 100) == data[5:105]
    path = next(fresh.directory.glob("*.bin"))
    raw = bytearray(path.read_bytes())
    raw[SMALL_RANGE + 3] ^= 0x01
    path.write_bytes(bytes(raw))
    again = _version(FetchCache(tmp_path))
    assert again.get(SMALL_RANGE + 5, 100) is None  # a miss: fetched again from S3
    assert not path.exists()


def test_a_damaged_small_log_record_is_not_served(tmp_path):
    cache = FetchCache(tmp_path)
    v = _version(cache)
    v.put(10, b"first-record")
    log = v.directory / "small.log"
    raw = bytearray(log.read_bytes())
    raw[-3] ^= 0x40
    log.write_bytes(bytes(raw))
    assert _version(FetchCache(tmp_path)).get(10, 5) is None
