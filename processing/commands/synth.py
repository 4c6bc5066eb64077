"""``brightstar synth OUTDIR``: write the synthetic TVAC data set."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._progress_bar import run_with_bar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="write a synthetic TVAC bright-star set (illuminated exposure, three darks, reference files)",
        description="Write the tutorial's file set as real roman_datamodels files, in the tutorial's folder layout.",
    )
    p.add_argument("outdir", type=Path, help="output directory")
    p.add_argument("--frames", type=int, default=55, help="reads per exposure (default 55)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--size", type=int, default=4096, help="detector rows/columns incl. reference border (default 4096)")
    p.add_argument("--compression", choices=["none", "lz4", "zlib", "bzp2"], default="none",
                   help="block compression of the exposures (default none)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from .. import synth
    from ..errors import UsageError
    from ..writers import check_output_dir

    if args.frames < 2:
        raise UsageError(f"--frames {args.frames}: an exposure needs at least 2 reads")
    if args.size < 64 or args.size % 32:
        raise UsageError(f"--size {args.size}: must be a multiple of 32, at least 64")
    check_output_dir(args.outdir, "the synthetic data set")  # a file, read-only, full: said before any work
    cfg = synth.SynthConfig(frames=args.frames, size=args.size, seed=args.seed, compression=args.compression)
    manifest = run_with_bar(synth.write_dataset_job(args.outdir, cfg), "synth", quiet=args.quiet)
    print(args.outdir / manifest["illuminated"])
    for dark in manifest["darks"]:
        print(args.outdir / dark)
    for path in manifest["references"].values():
        print(args.outdir / path)
    return 0
