"""``brightstar onset URI --out ONSET.asdf``: the first saturated read of every pixel."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ._analysis_input import add_input_arguments, box_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "onset",
        help="map of the first saturated read of every pixel (NaN where never), to an ASDF file",
        description=("Write the first saturated read of every pixel as a float32 (H, W) array 'onset' (read "
                     "index; NaN where the pixel never saturates), with the read times 'read_times' (s), to an "
                     "ASDF file (checksummed, written atomically)."),
    )
    add_input_arguments(p)
    p.add_argument("--out", type=Path, required=True, metavar="ONSET.asdf", help="output ASDF file")
    p.add_argument("--region", type=box_argument, default=None, metavar="Y0,Y1,X0,X1",
                   help="map only rows Y0:Y1, columns X0:X1 (0-based, end excluded)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from ..diagnostics.onset import onset_map_job, write_onset_map
    from ._analysis_input import checked_box, open_input
    from ._progress_bar import run_with_bar

    with open_input(args) as inp:
        region = checked_box(args.region, inp.exposure)
        job = onset_map_job(inp.frames, inp.thresholds, region=region, read_times=inp.read_times)
        result = run_with_bar(job, "onset map", quiet=args.quiet)
        meta = {"source": str(args.uri), "saturation": "groupdq SATURATED" if inp.raw is None or args.calibrated
                else "raw DN >= saturation reference", "units": "read index (0-based); NaN: never saturated"}
    write_onset_map(args.out, result, meta)
    seen = np.isfinite(result.onset)
    print(args.out)
    print(f"{int(seen.sum())} of {seen.size} pixels saturate"
          + (f", first in read {int(np.nanmin(result.onset))}" if seen.any() else ""))
    return 0
