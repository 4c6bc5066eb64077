"""``brightstar info URI``: what a file is, as the browser shows it."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe an exposure (model, shape, compression, meta)")
    p.add_argument("uri", help="local path or s3://bucket/key")
    p.add_argument("--meta", action="store_true", help="print the whole ASDF tree as JSON")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (mirrors, tests)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ..io import open_exposure

    with open_exposure(args.uri, endpoint_url=args.endpoint_url) as exp:
        if args.meta:
            print(json.dumps(exp.meta, indent=1, default=str))
        else:
            for key, value in exp.summary().items():
                print(f"{key:16s} {value}")
    return 0
