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
    p.add_argument("--frames", type=int, default=None, help="reads per exposure (default 55; 8 with --campaign)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--size", type=int, default=None,
                   help="detector rows/columns incl. reference border (default 4096; 256 with --campaign)")
    p.add_argument("--campaign", action="store_true",
                   help="write a whole campaign instead: stars of magnitude 4 to 18 on WFI04 and WFI11, then darks "
                        "carrying persistence, with a manifest of the truth (processing.campaign.synth)")
    p.add_argument("--compression", choices=["none", "lz4", "zlib", "bzp2"], default="none",
                   help="block compression of the exposures (default none)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from .. import synth
    from ..errors import UsageError
    from ..writers import check_output_dir

    if args.frames is None:
        args.frames = 8 if args.campaign else 55
    if args.size is None:
        args.size = 256 if args.campaign else 4096
    if args.frames < 2:
        raise UsageError(f"--frames {args.frames}: an exposure needs at least 2 reads")
    if args.size < 64 or args.size % 32:
        raise UsageError(f"--size {args.size}: must be a multiple of 32, at least 64")
    check_output_dir(args.outdir, "the synthetic data set")  # a file, read-only, full: said before any work
    if args.campaign:
        return _run_campaign(args)
    cfg = synth.SynthConfig(frames=args.frames, size=args.size, seed=args.seed, compression=args.compression)
    manifest = run_with_bar(synth.write_dataset_job(args.outdir, cfg), "synth", quiet=args.quiet)
    print(args.outdir / manifest["illuminated"])
    for dark in manifest["darks"]:
        print(args.outdir / dark)
    for path in manifest["references"].values():
        print(args.outdir / path)
    return 0


def _run_campaign(args) -> int:
    from ..campaign.synth import CampaignConfig, write_campaign_job

    cfg = CampaignConfig(size=args.size, frames=args.frames, seed=args.seed, compression=args.compression)
    manifest = run_with_bar(write_campaign_job(args.outdir, cfg), "synth campaign", quiet=args.quiet)
    for entry in manifest["illuminated"] + manifest["darks"]:
        print(args.outdir / entry["path"])
    print(args.outdir / "manifest.json")
    return 0
