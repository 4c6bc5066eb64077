"""``brightstar verify URI``: check every block of an ASDF file against its checksum."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify",
        help="check every binary block of an ASDF file against its MD5 checksum",
        description=("Recompute the MD5 checksum of every block of an ASDF file (local or s3://) and compare it "
                     "with the one in the block's header. Exit status 0: every block matches; 2: a block is "
                     "corrupt (named) or the file cannot be read. Files whose blocks carry no checksums are "
                     "reported as such (exit 0, nothing could be checked)."),
    )
    p.add_argument("uri", nargs="+", help="local path or s3://bucket/key (several allowed)")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (mirrors, tests)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args) -> int:
    import sys

    from ..verify import CORRUPT, verify_job
    from ._progress_bar import run_with_bar

    status = 0
    for uri in args.uri:
        result = run_with_bar(verify_job(uri, endpoint_url=args.endpoint_url), "verify", quiet=args.quiet)
        if result.status == CORRUPT:
            print(f"brightstar: error: {result.describe()}", file=sys.stderr)
            status = 2
        else:
            print(result.describe())
    return status
