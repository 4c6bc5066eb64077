"""Objects in S3 as byte sources: small range requests, bounded waits, clear errors.

:class:`S3Source` gives the block layer (:mod:`processing.asdf_blocks`) the
bytes of an ``s3://bucket/key`` object by HTTP range request, so opening an
exposure reads its tree and block index (a few hundred KiB) and showing
frame *k* fetches that frame alone -- not s3fs's default 50 MiB readahead,
not the whole 1.85 GB object.

The request cycle
-----------------
Opening fetches the head of the object (where the ASDF tree is) and its tail
(where the block index is) in one round trip of two concurrent GETs; their
``Content-Range`` and ``ETag`` give the object's size and version.  Every
later GET carries ``If-Match: <etag>``, so an object replaced while open is
reported, never mixed with the old one.  Each range fetched in full goes to
the local :mod:`~processing.fetch_cache` under that ETag; a range already
there is not fetched again.  Reopening an object that was seen before sends
the head GET with ``If-None-Match``: a ``304 Not Modified`` costs no body,
and when the endpoint cannot be reached at all the last version seen is
opened from the cache alone (``offline``), as far as its cached ranges go.

Requests run on fsspec's event loop through the aiobotocore client that
s3fs builds (anonymous: unsigned requests).  Waits are bounded: a connect
timeout, a read timeout per socket read, botocore's retries (connection
errors, throttling, 5xx), and a retry of the whole GET when a response body
is cut short.  Every failure becomes an :class:`S3Error` -- an
:class:`~processing.errors.ExposureError` whose ``kind`` says what happened
(``"unreachable"``, ``"timeout"``, ``"dropped"``, ``"forbidden"``,
``"not_found"``, ``"no_bucket"``, ``"changed"``, ``"offline"``, ...) and whose
message says what to do.

Settings (environment)
----------------------
``BRIGHTSTAR_S3_ENDPOINT``, then ``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL``
    Endpoint when none is passed (a mirror, a test server).
``BRIGHTSTAR_S3_CONNECT_TIMEOUT``, ``BRIGHTSTAR_S3_READ_TIMEOUT`` (seconds),
``BRIGHTSTAR_S3_RETRIES`` (attempts per request)
    Defaults 5, 30 and 3.
``BRIGHTSTAR_S3_TIMEOUT`` (seconds)
    Longest wait for one request, retries included (default 30): an
    endpoint that never answers is a clear error within it.
"""

from __future__ import annotations

import logging

import asyncio
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .asdf_blocks import HEAD_READ, TAIL_READ
from .errors import ExposureError
from .fetch_cache import CachedObject, FetchCache, default_cache

log = logging.getLogger(__name__)

#: Error kinds after which an object seen before is opened from the cache.
OFFLINE_KINDS = frozenset({"unreachable", "timeout", "dropped"})

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_MEMORY_RANGE = 1024 * 1024  # ranges up to this size are also kept in memory (tree, index, headers)
_MEMORY_BUDGET = 16 * 1024 * 1024
_COALESCE_GAP = 16 * 1024  # ranges closer than this are fetched as one request


class S3Error(ExposureError):
    """An S3 object cannot be read; ``kind`` says why.

    Parameters
    ----------
    uri : str
        The ``s3://`` URI (or endpoint) concerned.
    problem : str
        What happened and what to do, for the user.
    kind : str
        ``"unreachable"``, ``"timeout"``, ``"dropped"``, ``"forbidden"``,
        ``"not_found"``, ``"no_bucket"``, ``"changed"``, ``"credentials"``,
        ``"offline"``, ``"bad_uri"``, ``"server"`` or ``"s3"``.
    status : int, optional
        HTTP status of the answer, if there was one.
    """

    def __init__(self, uri: str, problem: str, kind: str = "s3", status: int | None = None):
        super().__init__(uri, problem)
        self.kind = kind
        self.status = status


# -- settings --------------------------------------------------------------------


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


@dataclass(frozen=True)
class S3Options:
    """Bounded waits and concurrency of S3 requests.

    Attributes
    ----------
    connect_timeout : float
        Seconds to wait for a TCP/TLS connection.
    read_timeout : float
        Seconds to wait for each socket read (not for a whole response).
    max_attempts : int
        Attempts per request by botocore (connection errors, throttling, 5xx).
    body_attempts : int
        Attempts of a whole GET whose body is cut short (dropped connection).
    max_concurrency : int
        Range requests in flight at once for one read.
    min_rate : float
        Bytes per second a response may not fall below on average; bounds
        the wait for a trickling server.
    timeout : float
        Longest wait for any one request, retries included, seconds (plus
        the transfer time at ``min_rate`` of what lies beyond the first
        256 KiB): a server that accepts connections and never answers is an
        error after this long.
    """

    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_attempts: int = 3
    body_attempts: int = 3
    max_concurrency: int = 8
    min_rate: float = 64 * 1024
    timeout: float = 30.0

    @classmethod
    def from_env(cls) -> S3Options:
        """Defaults, overridden by ``BRIGHTSTAR_S3_*`` environment settings."""
        return cls(
            connect_timeout=_env_float("BRIGHTSTAR_S3_CONNECT_TIMEOUT", cls.connect_timeout),
            read_timeout=_env_float("BRIGHTSTAR_S3_READ_TIMEOUT", cls.read_timeout),
            max_attempts=max(1, int(_env_float("BRIGHTSTAR_S3_RETRIES", cls.max_attempts))),
            timeout=max(1.0, _env_float("BRIGHTSTAR_S3_TIMEOUT", cls.timeout)),
        )

    def botocore_config(self) -> dict[str, Any]:
        """Keyword arguments of botocore's ``Config``."""
        return {
            "connect_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
            "retries": {"max_attempts": self.max_attempts, "mode": "standard"},
            "max_pool_connections": max(10, 2 * self.max_concurrency),
        }

    def deadline(self, length: int) -> float:
        """Longest wait for one GET of ``length`` bytes, retries included, seconds."""
        per_attempt = self.connect_timeout + self.read_timeout + length / self.min_rate
        bounded = self.timeout + max(0, length - 256 * 1024) / self.min_rate
        return min(self.max_attempts * per_attempt + 5.0, bounded)


def resolve_endpoint(endpoint_url: str | None = None) -> str | None:
    """The endpoint to use: the argument, else the settings, else AWS (None)."""
    for value in (
        endpoint_url,
        os.environ.get("BRIGHTSTAR_S3_ENDPOINT"),
        os.environ.get("AWS_ENDPOINT_URL_S3"),
        os.environ.get("AWS_ENDPOINT_URL"),
    ):
        if value and value.strip():
            return value.strip().rstrip("/")
    return None


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``"s3://bucket/a/b"`` -> ``("bucket", "a/b")`` (the key may be empty).

    Raises
    ------
    S3Error
        If the URI does not start with ``s3://`` or names no bucket.
    """
    text = str(uri)
    if not text.startswith("s3://"):
        raise S3Error(text, "not an S3 URI (expected s3://bucket/key)", "bad_uri")
    bucket, _, key = text[len("s3://") :].partition("/")
    if not bucket:
        raise S3Error(text, "names no bucket (expected s3://bucket/key)", "bad_uri")
    return bucket, key


# -- statistics --------------------------------------------------------------------


@dataclass
class S3Stats:
    """Traffic of one source or listing (thread-safe counters).

    Attributes
    ----------
    requests : int
        HTTP requests sent, retries included.
    bytes_fetched : int
        Response body bytes received over the network.
    cache_bytes : int
        Bytes served from the local fetch cache or memory instead.
    """

    requests: int = 0
    bytes_fetched: int = 0
    cache_bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, requests: int = 0, fetched: int = 0, cached: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.bytes_fetched += fetched
            self.cache_bytes += cached

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"requests": self.requests, "bytes_fetched": self.bytes_fetched, "cache_bytes": self.cache_bytes}


# -- errors ------------------------------------------------------------------------


def _where(endpoint: str | None) -> str:
    return endpoint or "AWS S3"


def translate_error(err: BaseException, uri: str, endpoint: str | None, options: S3Options, bucket: str = "",
                    key: str = "", what: str = "") -> S3Error:
    """Say in words what an exception from botocore/aiohttp means.

    Parameters
    ----------
    err : BaseException
        What the request raised.
    uri : str
        The object or prefix concerned.
    endpoint : str or None
        The endpoint used (None: AWS).
    options : S3Options
        For the timeouts in messages.
    bucket, key : str
        The request's bucket and key.
    what : str
        The request, for messages ("reading bytes 0-99").
    """
    import aiohttp
    from botocore import exceptions as bx

    if isinstance(err, S3Error):
        return err
    where = _where(endpoint)
    during = f" while {what}" if what else ""
    if isinstance(err, bx.ClientError):
        info = err.response.get("Error", {}) or {}
        code = str(info.get("Code", ""))
        message = str(info.get("Message", "")) or code
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        status = int(status) if status else (int(code) if code.isdigit() else None)
        if code == "NoSuchBucket":
            return S3Error(uri, f"bucket '{bucket}' does not exist at {where}", "no_bucket", status)
        if code in ("NoSuchKey", "NotFound") or status == 404:
            return S3Error(uri, f"no such object: '{key}' is not in bucket '{bucket}' at {where} (HTTP 404)", "not_found", 404)
        if code in ("AccessDenied", "AllAccessDisabled", "Forbidden") or status == 403:
            thing = "this bucket does not allow anonymous listing" if what == "listing" else "this object is not public"
            return S3Error(
                uri,
                f"access denied (HTTP 403): {thing}. Anonymous access reads only public data; "
                "use credentials if you have them",
                "forbidden", 403,
            )
        if code in ("PreconditionFailed",) or status == 412:
            return S3Error(uri, "the object changed on the server since it was opened (its ETag differs); reopen it", "changed", 412)
        if code == "304" or status == 304:
            return S3Error(uri, "not modified", "not_modified", 304)
        if code == "InvalidRange" or status == 416:
            return S3Error(uri, f"the server refused the byte range{during} (HTTP 416)", "range", 416)
        if status and status >= 500:
            return S3Error(uri, f"the S3 server at {where} failed{during}: HTTP {status} {code}: {message}", "server", status)
        return S3Error(uri, f"S3 error{during}: {code} (HTTP {status}): {message}", "s3", status)
    if isinstance(err, bx.NoCredentialsError):
        return S3Error(uri, "no AWS credentials were found; open public data anonymously", "credentials")
    if isinstance(err, (bx.ConnectTimeoutError, bx.EndpointConnectionError)) or (
        isinstance(err, aiohttp.ClientConnectorError)
    ):
        return S3Error(
            uri,
            f"cannot reach the S3 endpoint {where}{during} ({options.max_attempts} attempts, "
            f"{options.connect_timeout:g} s connect timeout): check the endpoint URL and the network",
            "unreachable",
        )
    if isinstance(err, (bx.ReadTimeoutError, asyncio.TimeoutError, TimeoutError)):
        return S3Error(
            uri, f"the S3 server at {where} stopped answering{during} (no answer within {options.timeout:g} s, read timeout "
                 f"{options.read_timeout:g} s; BRIGHTSTAR_S3_TIMEOUT sets the limit)", "timeout"
        )
    if isinstance(err, (bx.ResponseStreamingError, bx.IncompleteReadError, bx.ConnectionClosedError, bx.HTTPClientError,
                        aiohttp.ClientError, ConnectionError, _ShortBody)):
        return S3Error(
            uri,
            f"the connection to {where} was dropped{during} ({options.body_attempts} attempts; {_brief(err)}). "
            "Nothing partial was cached",
            "dropped",
        )
    if isinstance(err, bx.BotoCoreError):
        return S3Error(uri, f"S3 request failed{during}: {err}", "s3")
    return S3Error(uri, f"S3 request failed{during}: {type(err).__name__}: {err}", "s3")


class _ShortBody(Exception):
    """A response body ended before its announced length."""


def _brief(err: BaseException) -> str:
    """A one-line description of a low-level network error."""
    text = str(err).split(":", 1)[0] if not isinstance(err, _ShortBody) else str(err)
    return text if text else type(err).__name__


# -- the client -----------------------------------------------------------------------


@dataclass
class RangeResult:
    """One GET's answer: the bytes, and what the response says of the object."""

    data: bytes
    start: int
    size: int | None
    etag: str | None


class S3Client:
    """Range GETs and listings against one endpoint, on fsspec's event loop.

    Built on the aiobotocore client of an ``s3fs.S3FileSystem`` (anonymous:
    unsigned requests).  Thread-safe: calls block the calling thread while the
    loop thread does the I/O.  Use :meth:`shared` to reuse connections.

    Parameters
    ----------
    endpoint_url : str or None
        Endpoint (None: AWS).
    anon : bool
        Unsigned (anonymous) requests.
    options : S3Options
    key, secret, token : str, optional
        Credentials when not anonymous (else botocore's usual chain).
    """

    _shared: dict[tuple, S3Client] = {}
    _shared_lock = threading.Lock()

    def __init__(self, endpoint_url: str | None, anon: bool, options: S3Options, key: str | None = None,
                 secret: str | None = None, token: str | None = None):
        import s3fs

        self.endpoint_url = endpoint_url
        self.anon = anon
        self.options = options
        self._fs = s3fs.S3FileSystem(
            anon=anon, key=key, secret=secret, token=token, endpoint_url=endpoint_url,
            skip_instance_cache=True, config_kwargs=options.botocore_config(),
        )

    @classmethod
    def shared(cls, endpoint_url: str | None, anon: bool, options: S3Options, key: str | None = None,
               secret: str | None = None, token: str | None = None) -> S3Client:
        """One client per endpoint, credentials and options in this process."""
        # The pid: a forked child must not use its parent's event-loop thread (it does not exist there).
        ident = (os.getpid(), endpoint_url, anon, options, key, secret, token)
        with cls._shared_lock:
            client = cls._shared.get(ident)
            if client is None:
                client = cls._shared[ident] = cls(endpoint_url, anon, options, key, secret, token)
            return client

    def _run(self, coro_fn, *args):
        from fsspec.asyn import sync

        return sync(self._fs.loop, coro_fn, *args)

    async def _client(self):
        return await self._fs.set_session()

    # -- GET ---------------------------------------------------------------------------
    async def _get(self, bucket: str, key: str, rng: str, expect: int | None, headers: dict, stats: S3Stats) -> RangeResult:
        from botocore import exceptions as bx
        import aiohttp

        client = await self._client()
        last: BaseException | None = None
        for attempt in range(self.options.body_attempts):
            try:
                resp = await client.get_object(Bucket=bucket, Key=key, Range=rng, **headers)
            except bx.ClientError as err:
                stats.add(requests=1 + int(err.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0))
                raise
            except Exception as err:
                stats.add(requests=1)
                if last is not None:  # the body was cut, and the server is gone too
                    raise _ShortBody(f"{_brief(last)}; then the server could not be reached again") from err
                raise
            stats.add(requests=1 + int(resp.get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0))
            body = resp["Body"]
            announced = int(resp.get("ContentLength") or 0)
            if expect is not None and announced > expect:
                # A server that ignores Range would send the whole object: refuse it.
                body.close()
                raise S3Error(f"s3://{bucket}/{key}", f"the server ignored the byte range ({rng}) and sent {announced:,} bytes", "s3")
            try:
                data = await body.read()
            except (bx.ResponseStreamingError, bx.IncompleteReadError, bx.ReadTimeoutError, bx.HTTPClientError,
                    aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as err:
                body.close()
                last = err
                await asyncio.sleep(min(2.0, 0.25 * 2**attempt))
                continue
            stats.add(fetched=len(data))
            if len(data) != announced:
                last = _ShortBody(f"{len(data):,} of {announced:,} bytes arrived")
                await asyncio.sleep(min(2.0, 0.25 * 2**attempt))
                continue
            start, size = 0, None
            match = _CONTENT_RANGE.match(resp.get("ContentRange") or "")
            if match:
                start = int(match.group(1))
                size = int(match.group(3)) if match.group(3) != "*" else None
            elif "ContentRange" not in resp:
                size = len(data)  # a whole small object, sent without Content-Range
            return RangeResult(data, start, size, resp.get("ETag"))
        assert last is not None
        raise last

    async def _get_many(self, bucket: str, key: str, requests: list[tuple[str, int | None]], headers: dict,
                        stats: S3Stats) -> list:
        limit = asyncio.Semaphore(self.options.max_concurrency)

        async def one(rng: str, expect: int | None):
            async with limit:
                return await asyncio.wait_for(
                    self._get(bucket, key, rng, expect, headers, stats), self.options.deadline(expect or HEAD_READ)
                )

        return await asyncio.gather(*(one(r, e) for r, e in requests), return_exceptions=True)

    def get_ranges(self, bucket: str, key: str, ranges: list[tuple[int, int]], stats: S3Stats, *,
                   if_match: str | None = None, if_none_match: str | None = None,
                   suffix: int | None = None) -> list[RangeResult | S3Error]:
        """GET several ``(offset, length)`` ranges concurrently.

        Parameters
        ----------
        ranges : list of (int, int)
            Byte ranges; lengths must be positive.
        stats : S3Stats
            Counts requests and bytes.
        if_match, if_none_match : str, optional
            ETag conditions.
        suffix : int, optional
            Also GET the last ``suffix`` bytes (appended to the results).

        Returns
        -------
        list of RangeResult or S3Error
            One per range, in order: a failed range is its error (so the
            caller keeps what arrived, and reports the failure).
        """
        headers = {}
        if if_match:
            headers["IfMatch"] = if_match
        if if_none_match:
            headers["IfNoneMatch"] = if_none_match
        requests: list[tuple[str, int | None]] = [(f"bytes={o}-{o + n - 1}", n) for o, n in ranges]
        if suffix:
            requests.append((f"bytes=-{suffix}", suffix))
        uri = f"s3://{bucket}/{key}"
        try:
            results = self._run(self._get_many, bucket, key, requests, headers, stats)
        except Exception as err:  # the loop itself failed: report, do not hang
            results = [err] * len(requests)
        out: list[RangeResult | S3Error] = []
        for (rng, _), result in zip(requests, results):
            if isinstance(result, BaseException):
                first, _, last = rng[len("bytes="):].partition("-")
                what = f"reading the last {last} bytes" if not first else f"reading bytes {int(first):,}-{int(last) + 1:,}"
                out.append(translate_error(result, uri, self.endpoint_url, self.options, bucket, key, what))
            else:
                out.append(result)
        return out

    def head(self, bucket: str, key: str, stats: S3Stats) -> tuple[int, str | None]:
        """``(size, etag)`` of an object by HEAD request."""
        async def call():
            client = await self._client()
            return await asyncio.wait_for(client.head_object(Bucket=bucket, Key=key), self.options.deadline(0))

        stats.add(requests=1)
        try:
            resp = self._run(call)
        except Exception as err:
            raise translate_error(err, f"s3://{bucket}/{key}", self.endpoint_url, self.options, bucket, key) from err
        return int(resp.get("ContentLength", 0)), resp.get("ETag")

    # -- LIST ------------------------------------------------------------------------
    def list_prefix(self, bucket: str, prefix: str, stats: S3Stats, max_entries: int = 100_000) -> tuple[list[str], list[dict]]:
        """One level of a bucket: ``(common prefixes, objects)`` under ``prefix``.

        Objects are dicts of ``Key``, ``Size``, ``LastModified``, ``ETag``.
        At most ``max_entries`` are listed (pages of 1000).
        """
        async def call():
            client = await self._client()
            prefixes: list[str] = []
            objects: list[dict] = []
            token = None
            while True:
                kwargs = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
                if token:
                    kwargs["ContinuationToken"] = token
                stats.add(requests=1)
                page = await asyncio.wait_for(client.list_objects_v2(**kwargs), self.options.deadline(1 << 20))
                prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", []) or []]
                objects += list(page.get("Contents", []) or [])
                token = page.get("NextContinuationToken")
                if not page.get("IsTruncated") or not token or len(prefixes) + len(objects) >= max_entries:
                    return prefixes, objects

        uri = f"s3://{bucket}/{prefix}"
        try:
            return self._run(call)
        except Exception as err:
            raise translate_error(err, uri, self.endpoint_url, self.options, bucket, prefix, "listing") from err


# -- the byte source ------------------------------------------------------------------


class _MemoryRanges:
    """Small ranges (tree, block index, headers) kept in memory, bounded."""

    def __init__(self, budget: int = _MEMORY_BUDGET):
        self.budget = budget
        self._items: dict[int, bytes] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, offset: int, length: int) -> bytes | None:
        end = offset + length
        with self._lock:
            for start, data in self._items.items():
                if start <= offset and start + len(data) >= end:
                    return data[offset - start : end - start]
        return None

    def put(self, offset: int, data: bytes) -> None:
        if len(data) > _MEMORY_RANGE:
            return
        with self._lock:
            old = self._items.pop(offset, None)
            self._bytes -= len(old) if old is not None else 0
            self._items[offset] = bytes(data)
            self._bytes += len(data)
            while self._bytes > self.budget and len(self._items) > 1:
                first = next(iter(self._items))
                self._bytes -= len(self._items.pop(first))


class S3Source:
    """An S3 object read by byte-range requests (a :class:`~processing.sources.ByteSource`).

    Parameters
    ----------
    uri : str
        ``s3://bucket/key``.
    anon : bool
        Anonymous (unsigned) access, for public buckets.  Default True.
    endpoint_url : str, optional
        Endpoint; default from :func:`resolve_endpoint` (settings, then AWS).
    options : S3Options, optional
        Timeouts, retries, concurrency; default :meth:`S3Options.from_env`.
    cache : FetchCache or False, optional
        Where fetched ranges are kept; default the user cache, False for none.
    key, secret, token : str, optional
        Credentials for ``anon=False`` (else botocore's usual chain).

    Attributes
    ----------
    size : int
        Object size, bytes.
    etag : str
        The version opened.
    offline : bool
        True when the endpoint could not be reached and the object was opened
        from the cache: only cached ranges can be read.
    stats : S3Stats
        Requests, bytes fetched and bytes served from the cache.

    Raises
    ------
    S3Error
        If the object cannot be reached, does not exist, or is not readable.
    """

    def __init__(self, uri: str, anon: bool = True, endpoint_url: str | None = None, *, options: S3Options | None = None,
                 cache: FetchCache | bool | None = None, key: str | None = None, secret: str | None = None,
                 token: str | None = None):
        self.uri = str(uri)
        self.bucket, self.key = parse_s3_uri(self.uri)
        if not self.key or self.key.endswith("/"):
            raise S3Error(self.uri, "names a folder, not an object (expected s3://bucket/key)", "bad_uri")
        self.endpoint_url = resolve_endpoint(endpoint_url)
        self.options = options or S3Options.from_env()
        self.stats = S3Stats()
        self.offline = False
        self.offline_reason = ""
        self._client = S3Client.shared(self.endpoint_url, anon, self.options, key, secret, token)
        self._fetch_cache: FetchCache | None = default_cache() if cache is None or cache is True else (cache or None)
        self._memory = _MemoryRanges()
        self._cached: CachedObject | None = None
        self._closed = False
        self.size = 0
        self.etag = ""
        self._open()

    # -- opening ---------------------------------------------------------------------
    def _set_version(self, etag: str, size: int) -> None:
        self.etag, self.size = etag, size
        if self._fetch_cache is not None:
            self._cached = self._fetch_cache.version(self.endpoint_url, self.bucket, self.key, etag, size)

    def _open(self) -> None:
        known = self._fetch_cache.recall(self.endpoint_url, self.bucket, self.key) if self._fetch_cache else None
        if known is not None:
            etag, size = known
            cached = self._fetch_cache.version(self.endpoint_url, self.bucket, self.key, etag, size)
            head = min(HEAD_READ, size)
            if size == 0 or cached.covered(0, head):
                (answer,) = self._client.get_ranges(self.bucket, self.key, [(0, max(head, 1))], self.stats, if_none_match=etag)
                if isinstance(answer, S3Error) and answer.kind == "not_modified":
                    self._set_version(etag, size)
                    return
                if isinstance(answer, S3Error) and answer.kind in OFFLINE_KINDS:
                    self._set_version(etag, size)
                    self.offline = True
                    self.offline_reason = answer.problem
                    return
                if isinstance(answer, S3Error) and answer.kind != "range":
                    raise answer
                if isinstance(answer, RangeResult) and answer.size is not None:
                    # A new version: its head is here already; fetch its tail.
                    (tail,) = self._client.get_ranges(self.bucket, self.key, [], self.stats, suffix=TAIL_READ)
                    if self._adopt(answer, tail):
                        return
        self._open_fresh()

    def _adopt(self, head: RangeResult | S3Error, tail: RangeResult | S3Error) -> bool:
        """Take the version of a head and a tail GET; False if they disagree."""
        if isinstance(head, S3Error):
            raise head
        if isinstance(tail, S3Error):
            raise tail
        if head.etag != tail.etag or head.size is None:
            return False  # replaced between the two GETs
        self._set_version(head.etag or "", head.size)
        self._store(0, head.data)
        tail_start = head.size - len(tail.data)
        if len(tail.data) and tail_start >= 0:
            self._store(tail_start, tail.data)
        self._remember()
        return True

    def _open_fresh(self) -> None:
        for _ in range(2):  # once more if the object changes between the two GETs
            head, tail = self._client.get_ranges(self.bucket, self.key, [(0, HEAD_READ)], self.stats, suffix=TAIL_READ)
            if isinstance(head, S3Error) and head.kind == "range":
                size, etag = self._client.head(self.bucket, self.key, self.stats)  # only an empty object refuses bytes=0-
                self._set_version(etag or "", size)
                self._remember()
                return
            if self._adopt(head, tail):
                return
        raise S3Error(self.uri, "the object kept changing while it was being opened; try again", "changed")

    def _remember(self) -> None:
        if self._fetch_cache is not None and self.etag:
            self._fetch_cache.remember(self.endpoint_url, self.bucket, self.key, self.etag, self.size)

    # -- caching --------------------------------------------------------------------
    def _store(self, offset: int, data: bytes) -> None:
        self._memory.put(offset, data)
        if self._cached is not None:
            self._cached.put(offset, data)

    def _lookup(self, offset: int, length: int) -> bytes | None:
        data = self._memory.get(offset, length)
        if data is None and self._cached is not None:
            data = self._cached.get(offset, length)
            if data is not None and length <= _MEMORY_RANGE:
                self._memory.put(offset, data)
        if data is not None:
            self.stats.add(cached=len(data))
        return data

    # -- ByteSource -------------------------------------------------------------------
    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` (fewer only at the end of the object).

        Raises
        ------
        S3Error
            On a network failure, or offline for a range not in the cache.
        """
        return self.read_ranges([(offset, length)])[0]

    def read_ranges(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        """The bytes of several ``(offset, length)`` ranges, fetched concurrently.

        Ranges in the cache are not fetched; nearby missing ranges share one
        request; ranges that arrive in full are cached even if another fails.
        """
        self._check_open()
        clipped = [(o, max(0, min(n, self.size - o))) if o < self.size else (o, 0) for o, n in ranges]
        out: list[bytes | None] = []
        missing: list[int] = []
        for i, (offset, length) in enumerate(clipped):
            data = b"" if length == 0 else self._lookup(offset, length)
            out.append(data)
            if data is None:
                missing.append(i)
        if missing:
            if self.offline:
                first = clipped[missing[0]]
                raise S3Error(
                    self.uri,
                    f"is open from the local cache because the endpoint is unreachable ({self.offline_reason}); "
                    f"bytes {first[0]:,}-{first[0] + first[1]:,} are not in the cache",
                    "offline",
                )
            spans = sorted({clipped[i] for i in missing})
            fetches: list[list[int]] = []  # [start, end]
            for offset, length in spans:
                if fetches and offset <= fetches[-1][1] + _COALESCE_GAP:
                    fetches[-1][1] = max(fetches[-1][1], offset + length)
                else:
                    fetches.append([offset, offset + length])
            answers = self._client.get_ranges(self.bucket, self.key, [(a, b - a) for a, b in fetches], self.stats,
                                              if_match=self.etag or None)
            failure: S3Error | None = None
            got: list[tuple[int, bytes]] = []
            for (start, end), answer in zip(fetches, answers):
                if isinstance(answer, S3Error):
                    failure = failure or answer
                elif answer.start != start or len(answer.data) != end - start:
                    failure = failure or S3Error(
                        self.uri, f"the server sent bytes {answer.start:,}+{len(answer.data):,} for {start:,}-{end:,}", "s3"
                    )
                else:
                    self._store(start, answer.data)
                    got.append((start, answer.data))
            if failure is not None:
                raise failure
            for i in missing:
                offset, length = clipped[i]
                for start, data in got:
                    if start <= offset and offset + length <= start + len(data):
                        out[i] = data[offset - start : offset - start + length] if (offset, length) != (start, len(data)) else data
                        break
        return out  # type: ignore[return-value]

    @property
    def local_path(self) -> Path | None:
        """None: S3 objects are never memory-mapped."""
        return None

    @property
    def identity(self) -> str:
        """Changes with the object's version (ETag): a key for derived caches."""
        return f"s3:{self.endpoint_url or 'aws'}:{self.bucket}/{self.key}@{self.etag}:{self.size}"

    @property
    def bytes_read(self) -> int:
        """Bytes fetched over the network so far (cache hits not counted)."""
        return self.stats.bytes_fetched

    @property
    def requests(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self.stats.requests

    def _check_open(self) -> None:
        if self._closed:
            raise S3Error(self.uri, "the source is closed", "closed")

    def close(self) -> None:
        """Forget this object (connections are shared and stay pooled)."""
        self._closed = True

    def __repr__(self) -> str:
        state = " offline" if self.offline else ""
        return f"<S3Source {self.uri} {self.size:,} B{state}>"
