"""Browsing S3 like folders: one level of prefixes and files, with sizes.

The tutorial's exposures live under ``s3://stpubdata/roman/nexus/tvac/``, in
program and activity "folders" (S3 prefixes)::

    OTP00651_BrightStar_TV2b_R1_MCEB/Activity_22/TVAC2_..._WFI11_uncal.asdf

:func:`list_dir` lists one level (S3 ``ListObjectsV2`` with delimiter
``/``), which is what a folder tree needs when the user expands a node.  It
is plain blocking code: the GUI calls it from a worker thread, the CLI
(``brightstar ls``) directly.
"""

from __future__ import annotations

import logging

from dataclasses import dataclass
from datetime import datetime

from .s3 import S3Client, S3Error, S3Options, S3Stats, parse_s3_uri, resolve_endpoint

log = logging.getLogger(__name__)

#: Where the tutorial's TVAC data live (anonymous access).
DEFAULT_LOCATION = "s3://stpubdata/roman/nexus/tvac/"


@dataclass(frozen=True)
class S3Entry:
    """One object of a listing.

    Attributes
    ----------
    uri : str
        ``s3://bucket/key``.
    name : str
        Last part of the key (what a file browser shows).
    size : int
        Bytes.
    last_modified : datetime or None
    """

    uri: str
    name: str
    size: int
    last_modified: datetime | None = None


def normalize_location(uri: str) -> str:
    """A folder URI as listed: ``s3://bucket/`` or ``s3://bucket/a/b/``.

    Whitespace is stripped and a missing trailing slash added (listing
    ``a/b`` would otherwise return the folder ``a/b/`` itself).

    Raises
    ------
    S3Error
        If the text is not an ``s3://bucket[/prefix]`` URI.
    """
    text = uri.strip()
    bucket, prefix = parse_s3_uri(text)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return f"s3://{bucket}/{prefix}"


def parent_location(uri: str) -> str:
    """The folder above ``uri`` (the bucket root stays the bucket root)."""
    bucket, prefix = parse_s3_uri(normalize_location(uri))
    parts = prefix.rstrip("/").split("/") if prefix else []
    return f"s3://{bucket}/" + "".join(p + "/" for p in parts[:-1])


def list_dir(uri: str, *, anon: bool = True, endpoint_url: str | None = None, options: S3Options | None = None,
             stats: S3Stats | None = None, max_entries: int = 100_000) -> tuple[list[str], list[S3Entry]]:
    """List one level of an S3 "folder".

    Parameters
    ----------
    uri : str
        ``s3://bucket/`` or ``s3://bucket/prefix/`` (a trailing slash is added).
    anon : bool
        Anonymous access (public buckets).
    endpoint_url : str, optional
        Endpoint; default from :func:`processing.s3.resolve_endpoint`.
    options : S3Options, optional
        Timeouts and retries.
    stats : S3Stats, optional
        Counts the requests made.
    max_entries : int
        Stop after this many prefixes and files (pages of 1000).

    Returns
    -------
    prefixes : list of str
        Sub-folders as ``s3://bucket/prefix/sub/``, sorted.
    files : list of S3Entry
        Objects directly under the prefix, sorted by name.

    Raises
    ------
    S3Error
        Bucket missing (``kind="no_bucket"``), listing not allowed
        (``"forbidden"``), endpoint unreachable, ... with a message for users.
    """
    location = normalize_location(uri)
    bucket, prefix = parse_s3_uri(location)
    endpoint = resolve_endpoint(endpoint_url)
    client = S3Client.shared(endpoint, anon, options or S3Options.from_env())
    raw_prefixes, objects = client.list_prefix(bucket, prefix, stats or S3Stats(), max_entries=max_entries)
    prefixes = sorted(f"s3://{bucket}/{p}" for p in raw_prefixes)
    files = []
    for obj in objects:
        key = obj["Key"]
        if key == prefix or key.endswith("/"):
            continue  # "folder marker" objects some tools create
        files.append(S3Entry(uri=f"s3://{bucket}/{key}", name=key[len(prefix):], size=int(obj.get("Size", 0)),
                             last_modified=obj.get("LastModified")))
    files.sort(key=lambda e: e.name)
    return prefixes, files


def human_size(nbytes: int) -> str:
    """``1_853_000_000`` -> ``"1.85 GB"`` (decimal units, as S3 consoles show)."""
    if nbytes < 1000:
        return f"{nbytes} B"
    value = float(nbytes)
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        value /= 1000
        if value < 999.5 or unit == "PB":
            return f"{value:.3g} {unit}"
    return f"{nbytes} B"  # pragma: no cover


__all__ = ["DEFAULT_LOCATION", "S3Entry", "S3Error", "human_size", "list_dir", "normalize_location", "parent_location"]
