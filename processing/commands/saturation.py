"""``brightstar saturation URI``: how the saturated area grows, read by read."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._analysis_input import add_input_arguments, box_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "saturation",
        help="per-read counts of saturated, newly saturated, 4-neighbour and diagonal pixels",
        description=("Count, for every read, the pixels of the tutorial's saturation masks (saturated, new, "
                     "4-neighbours, diagonal neighbours) and the equivalent radius sqrt(N_saturated / pi), over the "
                     "whole frame or a region, in one streaming pass."),
    )
    add_input_arguments(p)
    p.add_argument("--region", type=box_argument, default=None, metavar="Y0,Y1,X0,X1",
                   help="count only rows Y0:Y1, columns X0:X1 (0-based, end excluded)")
    p.add_argument("--csv", type=Path, default=None, metavar="OUT",
                   help="write the table (read,time_s,saturated,new,nearby,diagonal,equivalent_radius_px) here")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ..diagnostics.growth import saturation_growth_job
    from ._analysis_input import checked_box, emit_table, open_input
    from ._progress_bar import run_with_bar

    with open_input(args) as inp:
        region = checked_box(args.region, inp.exposure)
        job = saturation_growth_job(inp.frames, inp.thresholds, region=region, read_times=inp.read_times)
        growth = run_with_bar(job, "saturation growth", quiet=args.quiet)
    columns = growth.columns()
    emit_table(columns, args.csv)
    return 0
