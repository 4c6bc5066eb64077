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
    rn = verbs.add_parser("run", help="analyse every exposure of an index as dask.distributed tasks")
    rn.add_argument("index", type=Path, help="INDEX.parquet or .csv from brightstar campaign index")
    where = rn.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                       help="run on this existing dask scheduler (its workers open the files themselves)")
    where.add_argument("--workers", type=int, default=None, metavar="N",
                       help="worker processes of the embedded LocalCluster (default: the machine's cores)")
    where.add_argument("--serial", action="store_true", help="no dask: one exposure after the other here")
    rn.add_argument("--out", type=Path, default=Path("campaign_results"), help="results folder (default campaign_results)")
    rn.add_argument("--references", type=Path, default=None, metavar="DIR",
                    help="reference files, per detector in DIR/<WFInn>/ or flat (default: the synthetic campaign's)")
    rn.add_argument("--calibrate", action="store_true",
                    help="calibrate each exposure first (romancal's steps, through the calibration cache) "
                         "and analyse the calibrated ramp")
    rn.add_argument("--connect-timeout", type=float, default=None, metavar="S",
                    help="seconds to wait for --scheduler to answer (default 20)")
    rn.add_argument("--endpoint-url", default=None, help="S3 endpoint (mirrors, tests)")
    rn.add_argument("--quiet", action="store_true", help="no progress bar")
    rn.set_defaults(func=_run)
    rp = verbs.add_parser("report", help="plot a results folder into a PDF")
    rp.add_argument("results", type=Path, help="RESULTS folder of brightstar campaign run")
    rp.add_argument("out", type=Path, help="OUT.pdf")
    rp.add_argument("--magnitudes", type=Path, default=None, metavar="JSON",
                    help="file name -> magnitude (default: the synthetic campaign's manifest)")
    rp.set_defaults(func=_report)


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


def _run(args) -> int:
    from ..campaign.index import read_index
    from ..campaign.run import CONNECT_TIMEOUT_S, default_references, run_campaign, run_serial
    from ..errors import ReferenceFileError, UsageError

    rows = read_index(args.index)
    refs = args.references or default_references(rows)
    if refs is None:
        raise ReferenceFileError(f"{args.index}: no reference folder found next to the exposures; pass --references DIR")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: at least one worker is needed")
    timeout = CONNECT_TIMEOUT_S if args.connect_timeout is None else args.connect_timeout
    if timeout <= 0:
        raise UsageError(f"--connect-timeout {args.connect_timeout}: must be more than 0 s")
    if args.serial:
        summary = run_serial(rows, args.out, refs, args.endpoint_url, calibrate=args.calibrate)
    else:
        summary = run_campaign(rows, args.out, refs, scheduler=args.scheduler, workers=args.workers,
                               endpoint_url=args.endpoint_url, progress=not args.quiet, calibrate=args.calibrate,
                               connect_timeout=timeout)
    for name, error in summary.failed.items():
        print(f"brightstar: warning: {name}: {error}", file=sys.stderr)
    print(f"{args.out}: {len(summary.computed)} analysed, {len(summary.skipped)} already done, "
          f"{len(summary.failed)} failed")
    return 1 if summary.failed else 0


def _report(args) -> int:
    import json

    from ..campaign.report import write_report
    from ..campaign.run import load_results
    from ..errors import ExposureError

    results = load_results(args.results)
    if not results:
        raise ExposureError(str(args.results), "holds no campaign results (run brightstar campaign run first)")
    mags = json.loads(args.magnitudes.read_text()) if args.magnitudes else None
    try:
        write_report(results, args.out, mags)
    except ValueError as err:
        raise ExposureError(str(args.results), str(err)) from None
    print(args.out)
    return 0
