"""``brightstar profile URI --frame K``: the star's radial profile in one read."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._analysis_input import add_input_arguments, point_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "profile",
        help="radial profile about the star's centre in one read: frame, difference, slope ratio, onset",
        description=("Azimuthal means in rings about the star's sub-pixel centre (measured from its unsaturated "
                     "wings, or given with --center) of read K, of read K minus the baseline read, of the slope "
                     "ratio and of the saturation onset, with the saturated fraction of each ring."),
    )
    add_input_arguments(p)
    p.add_argument("--frame", type=int, required=True, metavar="K", help="read to profile (0-based)")
    p.add_argument("--center", type=point_argument, default=None, metavar="Y,X",
                   help="centre in pixels (row, column; fractions allowed); default: found from the star's wings")
    p.add_argument("--max-radius", type=float, default=128.0, metavar="PX", help="outer radius, pixels (default 128)")
    p.add_argument("--bin-width", type=float, default=1.0, metavar="PX", help="ring width, pixels (default 1)")
    p.add_argument("--baseline", type=int, default=1, help="read subtracted for the difference (default 1)")
    p.add_argument("--csv", type=Path, default=None, metavar="OUT",
                   help="write the table (" + ",".join(_columns()) + ") here")
    p.set_defaults(func=_run)


def _columns():
    from ..diagnostics.profile import PROFILE_COLUMNS

    return PROFILE_COLUMNS


def _run(args) -> int:
    from ..diagnostics.centroid import NoSourceError
    from ..diagnostics.profile import star_profiles_job
    from ..errors import ExposureError
    from ._analysis_input import emit_table, open_input
    from ._progress_bar import run_with_bar

    with open_input(args) as inp:
        n, h, w = inp.exposure.shape
        for name, value in (("--frame", args.frame), ("--baseline", args.baseline)):
            if not 0 <= value < n:
                raise ExposureError(inp.exposure.uri, f"{name} {value} is out of range: the exposure has reads 0..{n - 1}")
        if args.center is not None and not (0 <= args.center[0] < h and 0 <= args.center[1] < w):
            raise ExposureError(inp.exposure.uri, f"--center {args.center[0]:g},{args.center[1]:g} is outside the {h} x {w} frame")
        if not (args.max_radius > 0 and args.bin_width > 0):
            raise ExposureError(inp.exposure.uri, "--max-radius and --bin-width must be positive")
        job = star_profiles_job(inp.exposure, inp.frames, inp.thresholds, center=args.center,
                                max_radius=args.max_radius, bin_width=args.bin_width, baseline=args.baseline)
        try:
            profiles = run_with_bar(job, "radial profile", quiet=args.quiet)
        except NoSourceError as err:
            raise ExposureError(inp.exposure.uri, f"{err}; give the centre with --center Y,X") from None
    result = profiles.at(args.frame)
    how = "given" if profiles.centre is None else f"from the wings at r = {profiles.centre.inner_radius:.1f}..{profiles.centre.outer_radius:.1f} px"
    print(f"centre row {result.center[0]:.3f}, column {result.center[1]:.3f} ({how}); read {args.frame}", file=sys.stderr)
    columns = result.columns()
    emit_table(columns, args.csv)
    return 0
