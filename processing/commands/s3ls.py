"""``brightstar ls s3://bucket/prefix/``: folders and files of an S3 location."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ls",
        help="list an S3 folder (prefixes and files with sizes), e.g. the TVAC bucket",
        description="List one level of an S3 location, anonymously by default. "
                    "Folders are shown as 'PRE name/', files with size and date.",
    )
    p.add_argument("uri", nargs="?", default=None, help="s3://bucket/prefix/ (default: the tutorial's TVAC folder)")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (mirrors, tests); default from "
                   "BRIGHTSTAR_S3_ENDPOINT or AWS_ENDPOINT_URL")
    p.add_argument("--signed", action="store_true", help="use AWS credentials instead of anonymous access")
    p.add_argument("--bytes", action="store_true", help="sizes in bytes, not kB/MB/GB")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ..s3 import S3Stats
    from ..s3_browse import DEFAULT_LOCATION, human_size, list_dir, normalize_location

    location = normalize_location(args.uri or DEFAULT_LOCATION)
    prefixes, files = list_dir(location, anon=not args.signed, endpoint_url=args.endpoint_url, stats=S3Stats())
    base = len(location)
    for prefix in prefixes:
        print(f"{'PRE':>28s} {prefix[base:]}")
    for entry in files:
        size = str(entry.size) if args.bytes else human_size(entry.size)
        when = entry.last_modified.strftime("%Y-%m-%d %H:%M") if entry.last_modified else " " * 16
        print(f"{when} {size:>11s} {entry.name}")
    return 0
