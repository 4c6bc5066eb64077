"""``brightstar calibrate URI``: romancal's exposure steps, cached on disk."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._progress_bar import run_with_bar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="run dq_init, saturation, refpix and linearity on an exposure (cached)",
        description=(
            "Calibrate a raw exposure with romancal's exposure steps (dq_init, saturation, refpix, linearity; "
            "the later steps skipped, as in the tutorial). The result is a RampModel ASDF file in the "
            "calibration cache; its path is printed."
        ),
    )
    p.add_argument("uri", help="local path or s3://bucket/key of a TvacModel or ScienceRawModel exposure")
    p.add_argument("--refs", type=Path, default=None, metavar="DIR",
                   help="directory of reference files (mask, saturation, linearity, inverselinearity, refpix); "
                        "default: BRIGHTSTAR_REFS_DIR, then CRDS when configured, then synthetic demo references")
    p.add_argument("--engine", choices=["streaming", "romancal"], default="streaming",
                   help="streaming: bounded memory (default); romancal: the tutorial's whole-cube ExposurePipeline")
    p.add_argument("--out", type=Path, default=None, metavar="OUT.asdf", help="also write the RampModel file here")
    p.add_argument("--no-cache", action="store_true", help="recompute even if a cached result exists")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (mirrors, tests)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args) -> int:
    import sys

    from ..calibrate import calibrate_job
    from ..calibrate.whole_cube import CalibrationFailed
    from ..crds_env import PipelineExit

    job = calibrate_job(args.uri, refs=args.refs, engine=args.engine, use_cache=not args.no_cache, out=args.out,
                        endpoint_url=args.endpoint_url)
    try:
        result = run_with_bar(job, f"calibrate ({args.engine})", quiet=args.quiet)
    except (CalibrationFailed, PipelineExit) as err:  # the shared handler knows only bad-input errors
        print(f"brightstar: error: {err}", file=sys.stderr)
        return 2
    print(result.path)
    steps = ", ".join(f"{k} {v}" for k, v in sorted(result.cal_step.items()) if v == "COMPLETE")
    print(f"{'cached' if result.from_cache else 'computed'}: {steps}")
    return 0
