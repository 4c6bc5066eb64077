"""``brightstar cache [--clear [NAME]] [--path NAME] [--demo-file]``: see and clear the caches.

Every cache lives under :func:`processing.paths.cache_dir`
(``BRIGHTSTAR_CACHE_DIR`` overrides it).  Without options the command lists
each cache with its size and location; ``--clear`` deletes one or all of
them (they are rebuilt when needed), ``--path`` prints a cache's directory
and ``--demo-file`` the demo set's illuminated exposure, for scripts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

#: Cache name -> what it holds (its directory is ``cache_dir() / name``).
CACHES = {
    "demo": "the synthetic demo set written by brightstar-gui --demo",
    "calibrated": "calibrated cubes (brightstar calibrate, the viewer's Calibrate)",
    "s3": "byte ranges fetched from S3",
    "blocks": "decompressed zlib/bzp2 blocks of local exposures",
    "references": "synthetic reference files for exposures without their own",
    "crds-offline": "the offline CRDS cache romancal reads",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="list the caches (size, location); clear them",
                       description="List brightstar's caches with their size and location, or clear them. "
                                   "Close brightstar-gui before clearing a cache it uses.")
    p.add_argument("--clear", nargs="?", const="all", default=None, metavar="NAME",
                   help=f"delete a cache ({', '.join(CACHES)}) or, without NAME, all of them")
    p.add_argument("--path", default=None, metavar="NAME", help="print the directory of one cache")
    p.add_argument("--demo-file", action="store_true",
                   help="print the demo set's illuminated exposure (a FILE for the other commands)")
    p.set_defaults(func=_run)


def directory_size(path: Path) -> int:
    """Bytes of the regular files under ``path`` (allocated size: sparse files count what they hold)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue  # removed while walking
            total += min(st.st_size, st.st_blocks * 512)
    return total


def cache_table(root: Path) -> list[tuple[str, int, Path, str]]:
    """``(name, bytes, path, what)`` for every known cache and any other folder in ``root``."""
    rows = []
    for name, what in CACHES.items():
        path = root / name
        rows.append((name, directory_size(path) if path.exists() else 0, path, what))
    for path in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in CACHES):
        rows.append((path.name, directory_size(path), path, "other"))
    return rows


def _human(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def _run(args) -> int:
    from .. import paths

    root = paths.cache_dir()
    if args.path is not None:
        if args.path not in CACHES:
            print(f"brightstar: error: no cache named {args.path!r}; known: {', '.join(CACHES)}", file=sys.stderr)
            return 2
        print(root / args.path)
        return 0
    if args.demo_file:
        from ..synth import read_manifest

        manifest = read_manifest(paths.demo_dir())
        if manifest is None:
            print(f"brightstar: error: no demo set in {paths.demo_dir()}; brightstar-gui --demo writes it",
                  file=sys.stderr)
            return 1
        print(paths.demo_dir() / manifest["illuminated"])
        return 0
    if args.clear is not None:
        names = list(CACHES) + [p.name for p in root.iterdir() if p.is_dir() and p.name not in CACHES] \
            if args.clear == "all" else [args.clear]
        if args.clear != "all" and args.clear not in CACHES and not (root / args.clear).is_dir():
            print(f"brightstar: error: no cache named {args.clear!r}; known: {', '.join(CACHES)}", file=sys.stderr)
            return 2
        freed = 0
        for name in names:
            path = root / name
            if path.exists():
                size = directory_size(path)
                shutil.rmtree(path)
                freed += size
                print(f"cleared {name:13s} {_human(size):>10s}  {path}")
        print(f"freed {_human(freed)}")
        return 0
    total = 0
    print(f"caches in {root} (BRIGHTSTAR_CACHE_DIR moves them)")
    for name, size, path, what in cache_table(root):
        total += size
        print(f"{name:13s} {_human(size):>10s}  {path}  - {what}")
    print(f"{'total':13s} {_human(total):>10s}")
    return 0
