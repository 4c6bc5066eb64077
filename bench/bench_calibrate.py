"""Benchmark: the streaming calibration engine against romancal's whole cube.

Both engines run through the public API (``processing.calibrate.calibrate_job``,
cache off) on full-size synthetic TVAC exposures, each run in its own fresh
interpreter so that peak RSS is that run's alone:

* 6 and 12 reads: ``streaming`` and ``romancal`` side by side;
* 55 reads: ``streaming`` alone (romancal would need ~30 GiB).

Each streaming measurement runs ``--processes`` fresh interpreters one
after the other (default 2), sharing one empty private cache, each doing
``--runs`` calibrations (default 2).  Every run is labelled: **cold, first
use** (the first process's first run: imports, and every reference file
checked and recorded), **cold, references recorded** (a later process's
first run: what a new ``brightstar calibrate`` or campaign worker pays)
and **warm** (a later run in the same process: the per-exposure cost of a
campaign worker or the GUI's next calibration).  Each run prints its wall,
user and sys time (all threads) of each pass, from the engine's progress
messages, and the load average at its start and end.  The reference
checks run on a helper thread while romancal is imported, so "references"
includes the imports ("open + imports" is then only the opening); the
linearity pass includes the band digests of the planes it finishes
(hashed on helper threads; cache entries carry no MD5 since s20, see
processing/frame_sums.py), so "seal" is left with the small arrays, the
fsync and the commit.  Peak RSS is the child's ``ru_maxrss``; for the romancal engine the pipeline
runs in a grandchild process, and the figure reported is the sum of both
peaks (an upper bound of what was resident at once).  The machine's load
average is printed too: other work on the same cores slows every number.

Targets (issue 4): 55 reads in <= 45 s wall (issue 15: <= 20 s) and <= 3 GiB peak RSS; at 12
reads streaming wall <= 0.6x and peak RSS <= 0.3x romancal's.

Run::

    python bench/bench_calibrate.py [--data /tmp/bench-data/calibrate] [--both 6 12] [--alone 55]
                                    [--distinct-refpix]
    python bench/bench_calibrate.py --exposure FILE_uncal.asdf --refs REFERENCE_DIR [--processes 2 --runs 2]

Inputs are generated with :mod:`processing.synth` into ``--data`` when
missing (the 55-read exposure takes about two minutes) and reused after.
``--distinct-refpix`` also runs the streaming engine with a REFPIX reference
whose 32 channels all differ (as real ones do; the synthetic one gives every
channel the same coefficients, which lets the engine share one inverse FFT
per read between them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GIB = 1024**3

CHILD = r"""
import json, os, resource, sys, time
engine, path, refs, runs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
t_start = time.perf_counter()
from processing.calibrate import calibrate_job
def usage():
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime, me.ru_stime
print(json.dumps({"import": [time.perf_counter() - t_start, *usage()]}), flush=True)
# Phase of each progress message (the streaming engine's pass labels).
PHASES = (("saturation", "pass 1: saturation + refpix sums"), ("refpix read", "pass 2: refpix"),
          ("linearity", "pass 3: linearity"), ("checksums", "seal: digests, fsync, commit"), ("references", "references"),
          ("opening", "open + imports"))
for run in range(runs):
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    u0, s0 = usage()
    marks, last = [], None
    job = calibrate_job(path, refs=refs, engine=engine, use_cache=False)
    try:
        while True:
            message = next(job).message or ""
            phase = next((name for key, name in PHASES if key in message), "other (dq_init, layout, small arrays)")
            if phase != last:
                marks.append((phase, time.perf_counter() - t0, *usage()))
                last = phase
    except StopIteration as stop:
        result = stop.value
    wall = time.perf_counter() - t0
    marks.append(("end", wall, *usage()))
    phases = {}
    for (name, w0, a0, b0), (_, w1, a1, b1) in zip(marks, marks[1:]):
        acc = phases.setdefault(name, [0.0, 0.0, 0.0])
        acc[0] += w1 - w0
        acc[1] += a1 - a0
        acc[2] += b1 - b0
    u1, s1 = usage()
    print(json.dumps({"run": run, "wall": wall, "user": u1 - u0, "sys": s1 - s0, "phases": phases,
                      "load": [load0, os.getloadavg()[0]], "cal_step": result.cal_step,
                      "since_start": time.perf_counter() - t_start}), flush=True)
    os.unlink(result.path)  # keep the disk free for the next run (the cache is this bench's own)
me = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "rss_self": me.ru_maxrss * 1024,
    "rss_children": kids.ru_maxrss * 1024,
    "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
}))
"""


def _ensure_inputs(data: Path, frames: list[int], distinct: bool) -> dict:
    from processing import synth
    from processing.progress import run

    refs_dir = data / "references"
    cfg = synth.SynthConfig(frames=2, size=4096, seed=0)
    det = None
    if not (refs_dir / "roman_wfi_refpix_synth.asdf").exists():
        det = synth.Detector(cfg)
        t0 = time.perf_counter()
        run(synth.write_reference_files_job(refs_dir, cfg, det))
        print(f"wrote reference files in {time.perf_counter() - t0:.0f} s", flush=True)
    paths = {}
    for n in frames:
        path = data / f"tvac_{n}.asdf"
        if not path.exists():
            det = det or synth.Detector(cfg)
            t0 = time.perf_counter()
            plan = synth.ExposurePlan(path, synth.ILLUM_STAMP, True)
            run(synth.write_exposure_job(plan, synth.SynthConfig(frames=n, size=4096, seed=0), det))
            print(f"wrote {path.name} in {time.perf_counter() - t0:.0f} s", flush=True)
        paths[n] = path
    refs = {t: str(refs_dir / f"roman_wfi_{t}_synth.asdf") for t in ("mask", "saturation", "linearity", "inverselinearity", "refpix")}
    out = {"exposures": paths, "refs": refs}
    if distinct:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from test_calibrate_equality import _distinct_refpix

        out["refs_distinct"] = {**refs, "refpix": str(_distinct_refpix(data / "refpix-distinct" / "roman_wfi_refpix_distinct.asdf"))}
    return out


def _reads(path: Path) -> int:
    from processing.io import open_exposure

    with open_exposure(path) as exposure:
        return exposure.shape[0]


def _warm(path: Path) -> None:
    """Read the file once so every engine starts from a warm page cache."""
    with open(path, "rb") as fh:
        while fh.read(64 * 1024 * 1024):
            pass


def measure(engine: str, path: Path, refs: dict, processes: int = 1, runs: int = 1) -> list[dict]:
    """Calibrate ``runs`` times in each of ``processes`` fresh interpreters, one after the other.

    They share one private cache directory, empty at the start: the first
    process's first run is the very first use (every reference file is
    checked and recorded), a later process's first run is an ordinary cold
    process (the references' record is there), and every later run in a
    process is warm (imports done, references checked: what a campaign
    worker or the GUI's next calibration pays).  Returns one dict per run.
    """
    _warm(path)
    cache = Path(tempfile.mkdtemp(prefix=f"bench-cache-{engine}-", dir=path.parent))
    env = dict(os.environ, BRIGHTSTAR_CACHE_DIR=str(cache))
    out = []
    try:
        for proc in range(processes):
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", CHILD, engine, str(path), json.dumps(refs), str(runs)],
                                  capture_output=True, text=True, env=env)
            outer = time.perf_counter() - t0
            if done.returncode != 0:
                raise RuntimeError(f"{engine} on {path.name} failed:\n{done.stderr[-3000:]}")
            lines = [json.loads(line) for line in done.stdout.strip().splitlines() if line.startswith("{")]
            imported, *per_run, tail = lines
            for r in per_run:
                kind = "warm" if r["run"] else ("cold, first use" if proc == 0 else "cold, references recorded")
                r.update(engine=engine, frames=_reads(path), process_wall=outer, kind=kind, process=proc,
                         peak_rss=tail["rss_self"] + tail["rss_children"], process_load=(load0, os.getloadavg()[0]),
                         imports=imported["import"] if r["run"] == 0 else None)
                r["cpu"] = r["user"] + r["sys"]
                out.append(r)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return out


def _row(r: dict, label: str = "") -> str:
    line = (f"{r['frames']:>4}  {r['engine'] + label:<22} {r['wall']:7.1f} s  {r['peak_rss'] / GIB:6.2f} GiB  "
            f"user {r['user']:6.1f} s  sys {r['sys']:5.1f} s   load {r['load'][0]:.1f}->{r['load'][1]:.1f}"
            f"   [{r.get('kind', '')}]")
    if r.get("imports"):
        wall, user, sys_ = r["imports"]
        line += f"\n        {'(before it: import processing.calibrate)':<38} wall {wall:6.1f} s  user {user:6.1f} s  sys {sys_:5.1f} s"
    if r["engine"] == "streaming":  # wall and CPU of each pass
        for name, (wall, user, sys_) in r.get("phases", {}).items():
            line += f"\n        {name:<38} wall {wall:6.1f} s  user {user:6.1f} s  sys {sys_:5.1f} s"
    return line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/bench-data/calibrate"))
    parser.add_argument("--both", type=int, nargs="*", default=[6, 12], help="reads for both engines")
    parser.add_argument("--alone", type=int, nargs="*", default=[55], help="reads for the streaming engine alone")
    parser.add_argument("--distinct-refpix", action="store_true", help="also run streaming with per-channel refpix coefficients")
    parser.add_argument("--json", type=Path, default=None, help="write all results here")
    parser.add_argument("--exposure", type=Path, default=None,
                        help="measure the streaming engine on this existing exposure only (with --refs)")
    parser.add_argument("--refs", type=Path, default=None, help="reference folder for --exposure")
    parser.add_argument("--processes", type=int, default=2,
                        help="fresh interpreters per streaming measurement, sharing one cache (default 2: first use, then cold)")
    parser.add_argument("--runs", type=int, default=2, help="calibrations per interpreter (default 2: cold, then warm)")
    args = parser.parse_args(argv)
    if args.exposure is not None:
        refs = {t: str(next(args.refs.glob(f"*_{t}_*.asdf"))) for t in ("mask", "saturation", "linearity", "inverselinearity", "refpix")}
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
        results = measure("streaming", args.exposure, refs, args.processes, args.runs)
        for r in results:
            print(_row(r), flush=True)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=str))
        return 0
    args.data.mkdir(parents=True, exist_ok=True)
    inputs = _ensure_inputs(args.data, sorted(set(args.both) | set(args.alone)), args.distinct_refpix)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"{'reads':>5} {'engine':<22} {'wall':>9}  {'peak RSS':>10}", flush=True)
    results = []
    for n in args.both:
        pair = {}
        for engine in ("streaming", "romancal"):
            # Both engines once each, cold, for the ratio; then the streaming engine's cold and warm runs.
            (r,) = measure(engine, inputs["exposures"][n], inputs["refs"])
            results.append(r)
            pair[engine] = r
            print(_row(r), flush=True)
        ratio_wall = pair["streaming"]["wall"] / pair["romancal"]["wall"]
        ratio_rss = pair["streaming"]["peak_rss"] / pair["romancal"]["peak_rss"]
        print(f"{n:>5}  streaming / romancal: wall {ratio_wall:.2f}x, peak RSS {ratio_rss:.2f}x", flush=True)
    for n in args.alone:
        for r in measure("streaming", inputs["exposures"][n], inputs["refs"], args.processes, args.runs):
            results.append(r)
            print(_row(r), flush=True)
        if args.distinct_refpix:
            for r in measure("streaming", inputs["exposures"][n], inputs["refs_distinct"], 1, args.runs):
                r["refpix"] = "distinct"
                results.append(r)
                print(_row(r, " (distinct refpix)"), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
