"""``brightstar campaign index|run|report``: the whole bright-star campaign."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._progress_bar import run_with_bar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("campaign", help="index, analyse (on dask.distributed) and report a whole campaign",
                       description="Index every exposure under a folder or s3:// prefix, analyse each one as a "
                                   "dask task, and plot the campaign.")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ix = verbs.add_parser("index", help="list every exposure with its metadata and the star's position")
    ix.add_argument("prefix", help="local folder or s3://bucket/prefix/")
    ix.add_argument("--out", type=Path, default=Path("campaign_index.parquet"),
                    help="INDEX.parquet or INDEX.csv (default campaign_index.parquet)")
    ix.add_argument("--endpoint-url", default=None, help="S3 endpoint (mirrors, tests)")
    ix.add_argument("--quiet", action="store_true", help="no progress bar")
    ix.set_defaults(func=_index)


def _index(args) -> int:
    from ..campaign.index import build_index_job, write_index

    rows = run_with_bar(build_index_job(args.prefix, endpoint_url=args.endpoint_url), "campaign index",
                        quiet=args.quiet)
    write_index(rows, args.out)
    bad = [r for r in rows if r["error"]]
    for r in bad:
        print(f"brightstar: warning: {r['uri']}: {r['error']}", file=sys.stderr)
    print(f"{args.out}: {len(rows)} exposures ({len(bad)} unreadable)")
    return 0
