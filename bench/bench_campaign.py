"""Campaign throughput: exposures per minute with 1 and 2 dask workers, against one process in a loop.

Usage::

    PYTHONPATH=. python bench/bench_campaign.py [CAMPAIGN_DIR] [--size 256 --frames 8]
                                                [--calibration FILE_uncal.asdf --refs REFERENCE_DIR]

Writes a synthetic campaign (``brightstar synth --campaign``) into a scratch
folder unless CAMPAIGN_DIR holds one, indexes it, then times
``run_serial`` (one process, one exposure after the other: the tutorial's
way) and ``run_on_client`` on a LocalCluster of 1 and 2 worker processes
(cluster start-up timed separately).  Prints exposures per minute and the
peak resident memory of each worker (ru_maxrss).

``--calibration`` also times the calibration a ``campaign run --calibrate``
task does first, on one full-size exposure (e.g. a 55-read 4096 x 4096
file): the streaming engine in a fresh interpreter, cache off, with the
wall and CPU time (user + sys) of each pass (``bench/bench_calibrate.py``'s
measurement).  A synthetic campaign's own exposures are too narrow for
refpix (it needs 4096 columns) unless written with ``--size 4096``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _warm() -> None:
    """Import what a task imports (a cold worker spends seconds on it), so the timing is the work."""
    import scipy.ndimage  # noqa: F401

    import processing.campaign.analysis  # noqa: F401
    import processing.diagnostics.centroid  # noqa: F401
    import processing.diagnostics.growth  # noqa: F401
    import processing.figures  # noqa: F401
    import processing.io  # noqa: F401


def main() -> None:
    from distributed import Client

    from processing.campaign.index import build_index_job
    from processing.campaign.run import local_cluster, run_on_client, run_serial
    from processing.campaign.synth import CampaignConfig, write_campaign_job
    from processing.progress import run

    p = argparse.ArgumentParser()
    p.add_argument("campaign", nargs="?", type=Path, default=None)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--calibration", type=Path, default=None, metavar="FILE",
                   help="also time the calibration of this full-size exposure")
    p.add_argument("--refs", type=Path, default=None, metavar="DIR", help="reference folder for --calibration")
    args = p.parse_args()
    if args.calibration is not None:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_calibrate

        refs_dir = args.refs or args.calibration.parent / "references"
        refs = {t: str(next(refs_dir.glob(f"*_{t}_*.asdf"))) for t in
                ("mask", "saturation", "linearity", "inverselinearity", "refpix")}
        r = bench_calibrate.measure("streaming", args.calibration, refs)
        print("calibration per exposure (what --calibrate adds per task):")
        print(bench_calibrate._row(r), flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench_campaign_"))
    try:
        root = args.campaign
        if root is None or not (root / "manifest.json").exists():
            root = scratch / "campaign"
            t = time.perf_counter()
            run(write_campaign_job(root, CampaignConfig(size=args.size, frames=args.frames)))
            print(f"synth --campaign ({args.size} px, {args.frames} reads): {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        rows = run(build_index_job(str(root)))
        n = len(rows)
        print(f"index: {n} exposures in {time.perf_counter() - t:.2f} s")
        refs = root / "references"
        _warm()
        t = time.perf_counter()
        run_serial(rows, scratch / "serial", refs)
        dt = time.perf_counter() - t
        print(f"serial, one process:  {dt:6.2f} s  {60 * n / dt:7.1f} exposures/min")
        for workers in (1, 2):
            t = time.perf_counter()
            with local_cluster(workers) as cluster, Client(cluster) as client:
                client.run(_warm)
                start = time.perf_counter() - t
                t = time.perf_counter()
                summary = run_on_client(client, rows, scratch / f"dask{workers}", refs)
                dt = time.perf_counter() - t
                rss = client.run(_peak_rss_mib)
            assert not summary.failed, summary.failed
            print(f"dask, {workers} worker(s): {dt:6.2f} s  {60 * n / dt:7.1f} exposures/min "
                  f"(cluster start + imports {start:.1f} s; peak RSS per worker "
                  f"{', '.join(f'{v:.0f}' for v in rss.values())} MiB)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
