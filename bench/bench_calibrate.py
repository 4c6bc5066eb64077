"""Benchmark: the streaming calibration engine against romancal's whole cube.

Both engines run through the public API (``processing.calibrate.calibrate_job``,
cache off) on full-size synthetic TVAC exposures, each run in its own fresh
interpreter so that peak RSS is that run's alone:

* 6 and 12 reads: ``streaming`` and ``romancal`` side by side;
* 55 reads: ``streaming`` alone (romancal would need ~30 GiB).

Each streaming run also prints the wall and CPU time (user + sys, all
threads) of each pass, from the engine's progress messages.  The reference
checks run on a helper thread while romancal is imported, so "references"
includes the imports ("open + imports" is then only the opening); the
linearity pass includes the MD5 and band digests of the planes it finishes
(hashed on helper threads), so "seal" is left with the small arrays.  Peak RSS is the child's ``ru_maxrss``; for the romancal engine the pipeline
runs in a grandchild process, and the figure reported is the sum of both
peaks (an upper bound of what was resident at once).  The machine's load
average is printed too: other work on the same cores slows every number.

Targets (issue 4): 55 reads in <= 45 s wall (issue 15: <= 20 s) and <= 3 GiB peak RSS; at 12
reads streaming wall <= 0.6x and peak RSS <= 0.3x romancal's.

Run::

    python bench/bench_calibrate.py [--data /tmp/bench-data/calibrate] [--both 6 12] [--alone 55]
                                    [--distinct-refpix]
    python bench/bench_calibrate.py --exposure FILE_uncal.asdf --refs REFERENCE_DIR

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
engine, path, refs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
from processing.calibrate import calibrate_job
def cpu():
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime
# Phase of each progress message (the streaming engine's pass labels).
PHASES = (("saturation", "pass 1: saturation + refpix sums"), ("refpix read", "pass 2: refpix"),
          ("linearity", "pass 3: linearity"), ("checksums", "seal: checksums"), ("references", "references"),
          ("opening", "open + imports"))
t0, c0 = time.perf_counter(), cpu()
marks, last = [], None
job = calibrate_job(path, refs=refs, engine=engine, use_cache=False)
try:
    while True:
        message = next(job).message or ""
        phase = next((name for key, name in PHASES if key in message), "other (dq_init, layout, small arrays)")
        if phase != last:
            marks.append((phase, time.perf_counter() - t0, cpu() - c0))
            last = phase
except StopIteration as stop:
    result = stop.value
wall = time.perf_counter() - t0
marks.append(("end", wall, cpu() - c0))
phases = {}
for (name, w0, k0), (_, w1, k1) in zip(marks, marks[1:]):
    acc = phases.setdefault(name, [0.0, 0.0])
    acc[0] += w1 - w0
    acc[1] += k1 - k0
me = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "wall": wall,
    "phases": phases,
    "rss_self": me.ru_maxrss * 1024,
    "rss_children": kids.ru_maxrss * 1024,
    "cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
    "cal_step": result.cal_step,
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


def measure(engine: str, path: Path, refs: dict) -> dict:
    """Run one calibration in a fresh interpreter with an empty private cache."""
    _warm(path)
    cache = Path(tempfile.mkdtemp(prefix=f"bench-cache-{engine}-", dir=path.parent))
    env = dict(os.environ, BRIGHTSTAR_CACHE_DIR=str(cache))
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, engine, str(path), json.dumps(refs)],
                              capture_output=True, text=True, env=env)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    outer = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{engine} on {path.name} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(engine=engine, frames=_reads(path), process_wall=outer,
                  peak_rss=result["rss_self"] + result["rss_children"], load=(load0, os.getloadavg()[0]))
    return result


def _row(r: dict, label: str = "") -> str:
    line = (f"{r['frames']:>4}  {r['engine'] + label:<22} {r['wall']:7.1f} s  {r['peak_rss'] / GIB:6.2f} GiB  "
            f"cpu {r['cpu']:6.1f} s   load {r['load'][0]:.1f}->{r['load'][1]:.1f}")
    if r["engine"] == "streaming":  # wall and CPU (user + sys) of each pass
        for name, (wall, cpu) in r.get("phases", {}).items():
            line += f"\n        {name:<38} wall {wall:6.1f} s  cpu {cpu:6.1f} s"
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
    args = parser.parse_args(argv)
    if args.exposure is not None:
        refs = {t: str(next(args.refs.glob(f"*_{t}_*.asdf"))) for t in ("mask", "saturation", "linearity", "inverselinearity", "refpix")}
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
        r = measure("streaming", args.exposure, refs)
        print(_row(r), flush=True)
        return 0
    args.data.mkdir(parents=True, exist_ok=True)
    inputs = _ensure_inputs(args.data, sorted(set(args.both) | set(args.alone)), args.distinct_refpix)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"{'reads':>5} {'engine':<22} {'wall':>9}  {'peak RSS':>10}", flush=True)
    results = []
    for n in args.both:
        pair = {}
        for engine in ("streaming", "romancal"):
            r = measure(engine, inputs["exposures"][n], inputs["refs"])
            results.append(r)
            pair[engine] = r
            print(_row(r), flush=True)
        ratio_wall = pair["streaming"]["wall"] / pair["romancal"]["wall"]
        ratio_rss = pair["streaming"]["peak_rss"] / pair["romancal"]["peak_rss"]
        print(f"{n:>5}  streaming / romancal: wall {ratio_wall:.2f}x, peak RSS {ratio_rss:.2f}x", flush=True)
    for n in args.alone:
        r = measure("streaming", inputs["exposures"][n], inputs["refs"])
        results.append(r)
        print(_row(r), flush=True)
        if args.distinct_refpix:
            r = measure("streaming", inputs["exposures"][n], inputs["refs_distinct"])
            r["refpix"] = "distinct"
            results.append(r)
            print(_row(r, " (distinct refpix)"), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
