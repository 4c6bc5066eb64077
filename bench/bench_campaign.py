"""Campaign throughput: exposures per minute with 1 and 2 dask workers, against one process in a loop.

Usage::

    PYTHONPATH=. python bench/bench_campaign.py                 # small: 256 px x 8 reads, 16 exposures
    PYTHONPATH=. python bench/bench_campaign.py --full          # and full-size: 4096 x 4096, 6 reads, 6 exposures
        [--scratch DIR] [--keep] [--full-frames N --full-stars K --full-darks D]
        [--small-campaign DIR] [--full-campaign DIR]         # reuse campaigns written before (manifest.json)
        [--skip-small]
        [--calibration FILE_uncal.asdf --refs REFERENCE_DIR]  # also the calibration per 55-read exposure
    PYTHONPATH=. python bench/bench_campaign.py --calibrate --skip-small --full-frames 4 --full-stars 2
                                                                # `campaign run --calibrate`, timed in the workers

For each campaign size it writes a synthetic campaign (``brightstar synth
--campaign``; full size: the first K stars and D darks per detector, into
``--scratch``, deleted afterwards unless ``--keep``), indexes it, and runs
the same tasks three ways, results checked equal:

* **serial** -- the tutorial's way: one exposure after the other in one
  process (a fresh interpreter, so its peak memory is its own);
* **dask, 1 worker** and **dask, 2 workers** -- ``run_on_client`` on an
  embedded LocalCluster of worker processes (the cluster start and imports
  are timed apart and not counted).

Printed per way: wall time of the tasks, exposures per minute, CPU seconds
(user + sys) per exposure summed over the processes doing the work, and
the peak resident memory (ru_maxrss) of each process.  The issue's budget
is <= 3 GiB per worker: the last line says whether it held.

``--calibrate`` runs the full-size campaign's tasks with calibration
(``campaign run --calibrate``: each task calibrates its exposure through an
empty cache, then analyses the calibrated ramp) the same three ways, and
prints the calibration time of each exposure measured inside the process
that ran it (the worker): wall and CPU (user + sys) seconds of the
streaming engine, imports done beforehand ("warm"), cache empty.

``--calibration`` also times what a ``campaign run --calibrate`` task does
first, on one full-size exposure (a 55-read 4096 x 4096 file): the streaming
engine in a fresh interpreter, cache off, wall and CPU of each pass
(``bench/bench_calibrate.py``'s measurement).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import shutil
import tempfile
import time
from pathlib import Path

#: The issue's memory budget per worker, MiB.
BUDGET_MIB = 3 * 1024


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _warm() -> None:
    """Import what a task imports (a cold worker spends seconds on it), so the timing is the work."""
    import scipy.ndimage  # noqa: F401

    import processing.campaign.analysis  # noqa: F401
    import processing.diagnostics.centroid  # noqa: F401
    import processing.diagnostics.growth  # noqa: F401
    import processing.figures  # noqa: F401
    import processing.io  # noqa: F401


def _warm_calibration() -> None:
    """Import the calibration engine and romancal's packages (what a first --calibrate task pays extra), and time it.

    Every later calibration in this process is recorded (wall, CPU) by
    wrapping the campaign task's calibration call.
    """
    import importlib
    import pkgutil

    import processing.calibrate
    import processing.campaign.analysis as analysis

    for mod in pkgutil.iter_modules(processing.calibrate.__path__):
        importlib.import_module(f"processing.calibrate.{mod.name}")
    for name in ("asdf", "roman_datamodels.datamodels", "romancal", "stcal"):
        importlib.import_module(name)
    if getattr(analysis, "_bench_times", None) is not None:
        return
    original, analysis._bench_times = analysis._calibrated, []

    def timed(row, *args, **kwargs):
        cpu, t = _cpu_s(), time.perf_counter()
        path, from_cache = original(row, *args, **kwargs)
        analysis._bench_times.append({"name": row["name"], "wall": time.perf_counter() - t, "cpu": _cpu_s() - cpu,
                                      "from_cache": from_cache})
        return path, from_cache

    analysis._calibrated = timed


def _calibration_times() -> list[dict]:
    import processing.campaign.analysis as analysis

    return list(getattr(analysis, "_bench_times", None) or [])


def _serial_in_this_process(rows, out, refs, calibrate: bool = False) -> dict:
    """The tutorial's way, run in a fresh process: returns wall, CPU and peak RSS of the loop."""
    from processing.campaign.run import run_serial

    _warm()
    if calibrate:
        _warm_calibration()
    cpu, t = _cpu_s(), time.perf_counter()
    summary = run_serial(rows, out, refs, calibrate=calibrate)
    return {"wall": time.perf_counter() - t, "cpu": _cpu_s() - cpu, "rss": [_peak_rss_mib()],
            "failed": summary.failed, "calibrations": _calibration_times()}


def _serial(rows, out, refs, calibrate: bool = False) -> dict:
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_serial_in_this_process, rows, str(out), str(refs), calibrate).result()


def _on_dask(rows, out, refs, workers: int, calibrate: bool = False) -> dict:
    from distributed import Client

    from processing.campaign.run import local_cluster, run_on_client

    t = time.perf_counter()
    with local_cluster(workers) as cluster, Client(cluster) as client:
        client.run(_warm)
        if calibrate:
            client.run(_warm_calibration)
        start = time.perf_counter() - t
        cpu = client.run(_cpu_s)
        t = time.perf_counter()
        summary = run_on_client(client, rows, out, refs, calibrate=calibrate)
        wall = time.perf_counter() - t
        cpu_after = client.run(_cpu_s)
        rss = list(client.run(_peak_rss_mib).values())
        calibrations = [c for times in client.run(_calibration_times).values() for c in times]
    return {"wall": wall, "cpu": sum(cpu_after[w] - cpu[w] for w in cpu_after), "rss": rss, "start": start,
            "failed": summary.failed, "calibrations": calibrations}


def _comparable(results: list[dict]) -> list[dict]:
    # Each way calibrates into its own (empty) cache: where the calibrated ramp went differs, nothing else.
    return [{k: v for k, v in r.items() if k != "calibrated_path"} for r in results]


def measure_campaign(root: Path, scratch: Path, calibrate: bool = False) -> list[dict]:
    """Index ``root`` and run its tasks serially and on 1 and 2 workers; results must agree.

    With ``calibrate`` every way calibrates (``--calibrate``) into its own empty cache under ``scratch``.
    """
    import os

    from processing.campaign.index import build_index_job
    from processing.campaign.run import load_results
    from processing.progress import run

    t = time.perf_counter()
    rows = run(build_index_job(str(root)))
    n = len(rows)
    shapes = sorted({(r["width"], r["reads"]) for r in rows})
    label = " + ".join(f"{w} px x {k} reads" for w, k in shapes) + (", calibrated" if calibrate else "")
    print(f"[{label}] index: {n} exposures in {time.perf_counter() - t:.1f} s", flush=True)
    refs = root / "references"
    lines = []
    for way, go in (("serial (tutorial's way)", lambda out: _serial(rows, out, refs, calibrate)),
                    ("dask, 1 worker", lambda out: _on_dask(rows, out, refs, 1, calibrate)),
                    ("dask, 2 workers", lambda out: _on_dask(rows, out, refs, 2, calibrate))):
        out = scratch / f"results-{label}-{len(lines)}"
        cache = scratch / f"cache-{label}-{len(lines)}"
        os.environ["BRIGHTSTAR_CACHE_DIR"] = str(cache)  # inherited by the serial process and the workers
        r = go(out)
        shutil.rmtree(cache, ignore_errors=True)
        assert not r["failed"], r["failed"]
        assert not any(c["from_cache"] for c in r["calibrations"]), "a calibration came from a cache"
        results = _comparable(load_results(out))
        if lines:
            assert results == lines[0]["results"], f"{way}: results differ from the serial run's"
        r.update(way=way, n=n, results=results, label=label)
        lines.append(r)
        extra = f" (cluster start + imports {r['start']:.1f} s, not counted)" if "start" in r else ""
        print(f"[{label}] {way}: {r['wall']:.1f} s{extra}", flush=True)
        shutil.rmtree(out, ignore_errors=True)
    return lines


def print_table(lines: list[dict]) -> None:
    head = f"{'campaign':<34} {'way':<24} {'wall s':>8} {'exp/min':>8} {'x serial':>8} {'CPU s/exp':>9}  peak RSS MiB"
    print("\n" + head + "\n" + "-" * (len(head) + 12))
    serial = {}
    for r in lines:
        rate = 60 * r["n"] / r["wall"]
        serial.setdefault(r["label"], rate)
        print(f"{r['label']:<34} {r['way']:<24} {r['wall']:8.1f} {rate:8.1f} {rate / serial[r['label']]:8.2f} "
              f"{r['cpu'] / r['n']:9.2f}  {', '.join(f'{v:.0f}' for v in r['rss'])}")
    timed = [r for r in lines if r["calibrations"]]
    if timed:
        print("\ncalibration per exposure inside the process that ran the task (imports done before, cache empty):")
        print(f"{'campaign':<34} {'way':<24} {'exposures':>9} {'wall s':>8} {'CPU s':>8}  wall s each")
        for r in timed:
            c = r["calibrations"]
            walls = [x["wall"] for x in c]
            print(f"{r['label']:<34} {r['way']:<24} {len(c):9d} {sum(walls) / len(c):8.2f} "
                  f"{sum(x['cpu'] for x in c) / len(c):8.2f}  {', '.join(f'{w:.1f}' for w in walls)}")
    worst = max(v for r in lines if r["way"].startswith("dask") for v in r["rss"])
    print(f"\npeak memory per worker: {worst:.0f} MiB (budget {BUDGET_MIB} MiB: "
          f"{'met' if worst <= BUDGET_MIB else 'NOT met'})")


def _campaign(root: Path | None, scratch: Path, name: str, **config) -> Path:
    from processing.campaign.synth import CampaignConfig, write_campaign_job
    from processing.progress import run

    if root is not None and (root / "manifest.json").exists():
        return root
    root = scratch / name
    t = time.perf_counter()
    run(write_campaign_job(root, CampaignConfig(**config)))
    print(f"synth --campaign {name} ({config}): {time.perf_counter() - t:.1f} s", flush=True)
    return root


def main() -> None:
    from processing.campaign.synth import DEFAULT_STARS

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=256, help="small campaign's size (px)")
    p.add_argument("--frames", type=int, default=8, help="small campaign's reads")
    p.add_argument("--full", action="store_true", help="also a full-size (4096 x 4096) campaign")
    p.add_argument("--full-frames", type=int, default=6)
    p.add_argument("--full-stars", type=int, default=4, help="illuminated exposures (of the default six)")
    p.add_argument("--full-darks", type=int, default=1, help="darks per detector")
    p.add_argument("--small-campaign", type=Path, default=None, metavar="DIR")
    p.add_argument("--full-campaign", type=Path, default=None, metavar="DIR",
                   help="a folder of exposures with manifest.json and references/ (e.g. the 55-read demo set)")
    p.add_argument("--skip-small", action="store_true", help="only the full-size campaign")
    p.add_argument("--calibrate", action="store_true",
                   help="also run the full-size campaign with --calibrate (calibration timed inside the workers)")
    p.add_argument("--scratch", type=Path, default=None, metavar="DIR",
                   help="where to write campaigns and results (full size: ~1.3 GB; default a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the campaigns written")
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
    if args.scratch is not None:
        args.scratch.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench_campaign_", dir=args.scratch))
    lines = []
    try:
        if not args.skip_small:
            small = _campaign(args.small_campaign, scratch, "small", size=args.size, frames=args.frames)
            lines += measure_campaign(small, scratch)
        if args.full:
            full = _campaign(args.full_campaign, scratch, "full", size=4096, frames=args.full_frames,
                             stars=DEFAULT_STARS[:args.full_stars], n_darks=args.full_darks)
            lines += measure_campaign(full, scratch)
        if args.calibrate:
            full = full if args.full else _campaign(args.full_campaign, scratch, "full", size=4096,
                                                    frames=args.full_frames, stars=DEFAULT_STARS[:args.full_stars],
                                                    n_darks=args.full_darks)
            lines += measure_campaign(full, scratch, calibrate=True)
        print_table(lines)
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
