"""processing.cache: keyed, fingerprinted, size-bounded, atomic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from processing import cache
from processing.cache import DiskCache, fingerprint, make_key


def _entry(store: DiskCache, key: str, size: int, fill: bytes = b"x") -> Path:
    with store.scratch() as scratch:
        path = scratch / "data.asdf"
        path.write_bytes(fill * size)
        return store.commit(key, path, {"what": key}).path


def test_keys_are_stable_and_sensitive():
    parts = {"input": "file:/a:1:2", "engine": "streaming", "refs": {"mask": [1, 2]}}
    assert make_key(parts) == make_key(dict(reversed(list(parts.items()))))
    assert make_key(parts) != make_key({**parts, "engine": "romancal"})
    assert make_key(parts) != make_key({**parts, "refs": {"mask": [1, 3]}})


def test_commit_then_hit(tmp_path):
    store = DiskCache(tmp_path / "c", limit=10**9)
    path = _entry(store, "k1", 300_000)
    hit = store.lookup("k1")
    assert hit is not None and hit.path == path and hit.info == {"what": "k1"}
    assert store.lookup("other") is None
    assert not list((tmp_path / "c").glob(".partial-*")), "scratch directories are removed"


def test_lru_eviction_keeps_recently_used_entries(tmp_path):
    store = DiskCache(tmp_path / "c", limit=3_500_000)
    for key in ("a", "b", "c"):
        _entry(store, key, 1_000_000)
        time.sleep(0.02)
    # Use "a" so that "b" becomes the least recently used.
    os.utime(store.manifest_path("a"), (time.time() + 5, time.time() + 5))
    _entry(store, "d", 1_000_000)
    assert store.lookup("b") is None
    assert all(store.lookup(k) is not None for k in ("a", "c", "d"))
    assert store.total_bytes() <= 3_500_000


def test_an_entry_larger_than_the_bound_is_kept_alone(tmp_path):
    store = DiskCache(tmp_path / "c", limit=1_000)
    _entry(store, "old", 500)
    _entry(store, "big", 5_000)
    assert store.lookup("big") is not None
    assert store.lookup("old") is None


def test_limit_from_environment_and_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIGHTSTAR_CACHE_LIMIT_GB", "1.5")
    assert cache.limit_bytes() == 1_500_000_000
    monkeypatch.delenv("BRIGHTSTAR_CACHE_LIMIT_GB")
    monkeypatch.setenv("BRIGHTSTAR_CONFIG_DIR", str(tmp_path))
    assert cache.limit_bytes() == int(cache.DEFAULT_LIMIT_GB * 1e9)
    (tmp_path / "settings.json").write_text(json.dumps({"cache_limit_gb": 3}))
    assert cache.limit_bytes() == 3_000_000_000
    (tmp_path / "settings.json").write_text("{not json")
    assert cache.limit_bytes() == int(cache.DEFAULT_LIMIT_GB * 1e9)


@pytest.mark.parametrize("damage", ["truncate", "garbage-head", "garbage-tail", "replaced", "no-manifest", "bad-manifest"])
def test_damaged_entries_are_detected_and_removed(tmp_path, damage):
    store = DiskCache(tmp_path / "c", limit=10**9)
    path = _entry(store, "k", 1_000_000, b"ab")
    if damage == "truncate":
        with open(path, "r+b") as fh:
            fh.truncate(1_500_000)
    elif damage == "garbage-head":
        with open(path, "r+b") as fh:
            fh.write(os.urandom(100))
    elif damage == "garbage-tail":
        with open(path, "r+b") as fh:
            fh.seek(-100, os.SEEK_END)
            fh.write(os.urandom(100))
    elif damage == "replaced":
        path.write_bytes(b"ba" * 1_000_000)  # same size, other content
    elif damage == "no-manifest":
        store.manifest_path("k").unlink()
    elif damage == "bad-manifest":
        store.manifest_path("k").write_text("{")
    assert store.lookup("k") is None
    assert not path.exists() and not store.manifest_path("k").exists()


def test_fingerprint_is_cheap_and_content_sensitive(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"\0" * 50_000_000)
    t0 = time.perf_counter()
    first = fingerprint(path)
    assert time.perf_counter() - t0 < 0.5
    with open(path, "r+b") as fh:
        fh.seek(len(b"\0" * 50_000_000) - 10)
        fh.write(b"1")
    assert fingerprint(path) != first


def test_error_inside_a_write_leaves_nothing(tmp_path):
    store = DiskCache(tmp_path / "c", limit=10**9)
    with pytest.raises(RuntimeError):
        with store.scratch() as scratch:
            (scratch / "half").write_bytes(b"x" * 1000)
            raise RuntimeError("boom")
    assert list((tmp_path / "c").iterdir()) == []


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from processing.cache import DiskCache
    store = DiskCache(Path(sys.argv[1]), limit=10**10)
    with store.scratch() as scratch:
        target = scratch / "data.asdf"
        with open(target, "wb") as fh:
            for i in range(10_000):
                fh.write(b"x" * 1_000_000)
                fh.flush()
                if i == 3:
                    print("writing", flush=True)
                time.sleep(0.01)
        store.commit("k", target, {})
    """
)


def test_kill_minus_9_mid_write_leaves_nothing_valid(tmp_path):
    root = tmp_path / "c"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert list(root.glob(".partial-*")), "the killed writer left its scratch directory"
    store = DiskCache(root, limit=10**10)  # opening the cache cleans up after dead writers
    assert store.lookup("k") is None
    assert list(root.iterdir()) == []


def test_the_caches_share_one_budget(monkeypatch, tmp_path):
    """The calibrated-ramp, S3-range and decompressed-block caches together stay within the setting."""
    from processing import cache_budget
    from processing.fetch_cache import FetchCache

    monkeypatch.setenv("BRIGHTSTAR_CACHE_LIMIT_GB", "10")
    shares = {name: cache_budget.limit_for(name) for name in ("calibrated", "s3", "blocks")}
    assert sum(shares.values()) <= 10e9
    assert cache.DiskCache(tmp_path / "cal").limit == shares["calibrated"] == 5e9
    assert FetchCache(tmp_path / "s3").limit_bytes == shares["s3"]
    with pytest.raises(KeyError, match="calibrated"):
        cache_budget.limit_for("thumbnails")
