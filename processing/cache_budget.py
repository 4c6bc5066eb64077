"""One disk budget for every cache: the cache-size setting, shared out.

brightstar keeps three disk caches -- calibrated ramps
(:class:`processing.cache.DiskCache`), ranges fetched from S3
(:class:`processing.fetch_cache.FetchCache`) and decompressed zlib/bzp2
blocks (``io``'s blocks cache).  Each used to be bounded by the whole
``cache_limit_gb`` setting, so together they could fill three times what the
user allowed.  :func:`limit_for` gives each its share of the one limit
(:func:`processing.cache.limit_bytes`), so their sum never exceeds it.
"""

from __future__ import annotations

#: Fractions of the cache-size setting (they sum to 1).  Calibrated ramps are
#: the most expensive to remake (minutes of CPU each); S3 ranges are re-fetched
#: on a miss; decompressed blocks are remade from the local file.
SHARES = {"calibrated": 0.5, "s3": 0.3, "blocks": 0.2}


def limit_for(cache: str) -> int:
    """Bytes the cache named ``cache`` ("calibrated", "s3" or "blocks") may hold.

    Raises
    ------
    KeyError
        For a cache that has no share (the message lists those that do).
    """
    if cache not in SHARES:
        raise KeyError(f"no cache budget for {cache!r}; caches: {sorted(SHARES)}")
    from .cache import limit_bytes

    return int(limit_bytes() * SHARES[cache])
