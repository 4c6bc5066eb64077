"""Benchmark: refpix of one read, before (main's FrameCorrector) and now, in the same run.

Both correctors get the same reads of a full-size exposure (4096 x 4096 +
amp33) and the same offsets (``offset_band`` over all reads, by bands), and
their outputs are compared bit for bit.  Printed, per corrector:

* per read: CPU of the calling thread (``time.thread_time``) and wall,
  interleaved old/new/old/new so that both see the same machine load;
* throughput with 2 reads in flight on a 2-thread pool (as the streaming
  engine runs pass 2), against 1 thread: wall per read and process CPU
  (user + sys) per read.

The "before" corrector is ``processing/calibrate/refpix_streaming.py`` at
``--before`` (default: main at the point this branch started), loaded from
git into a module of its own.

Run::

    python bench/bench_refpix.py [--exposure FILE_uncal.asdf --refs DIR] [--reads 3] [--repeat 3]
                                 [--distinct] [--before REV]

``--distinct`` uses a REFPIX reference whose 32 channels all differ (real
references do; the synthetic one gives every channel the same coefficients,
so one inverse FFT per read serves them all).  The machine's load average is
printed: on a shared machine the numbers are not final.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_EXPOSURE = "/work/scratch/full/OTP00651_BrightStar_TV2b_R1_MCEB/Activity_22/TVAC2_TOHOTQUAL_WFISAT_20240506204523_WFI11_uncal.asdf"
DEFAULT_REFS = "/work/scratch/full/references"
#: main when this branch started (the last FrameCorrector built on romancal's channel view).
DEFAULT_BEFORE = "7fc2e2f"


def _process_cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def _load_before(rev: str):
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:processing/calibrate/refpix_streaming.py"],
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp(prefix="bench-refpix-")) / "refpix_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("refpix_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _inputs(exposure: str, refs: str, reads: int):
    """Offsets over all reads, ``reads`` frames spread over the ramp, and the refpix coefficients."""
    from processing.calibrate import steps
    from processing.calibrate.refpix_streaming import offset_band
    from processing.calibrate.streaming import _load_refpix
    from processing.io import open_exposure

    with open_exposure(exposure) as exp:
        n, height, width = exp.shape
        amp_width = exp.arrays["amp33"].shape[2]
        offset = np.empty((height, width + amp_width), np.float32)
        for y0 in range(0, height, 256):
            y1 = min(height, y0 + 256)
            data = steps.raw_to_float(exp.arrays["data"].cutout(y0, y1, 0, width), 0)
            amp = exp.arrays["amp33"].cutout(y0, y1, 0, amp_width).astype(np.float32)
            offset[y0:y1] = offset_band(data, amp)
        ks = np.linspace(0, n - 1, reads).round().astype(int)
        frames = [(int(k), steps.raw_to_float(exp.arrays["data"].frame(k), 0),
                   exp.arrays["amp33"].frame(k).astype(np.float32)) for k in ks]
    coeffs, plan = _load_refpix(Path(refs) / "roman_wfi_refpix_synth.asdf")
    return offset, frames, coeffs, plan


def _distinct(nfreq: int):
    from romancal.refpix._data import Coefficients

    rng = np.random.default_rng(11)
    gamma = rng.normal(0, 2e-3, (32, nfreq)) + 1j * rng.normal(0, 2e-3, (32, nfreq))
    zeta = rng.normal(0, 2e-3, (32, nfreq)) + 1j * rng.normal(0, 2e-3, (32, nfreq))
    alpha = (np.ones((32, nfreq)) * (1 + 0.02 * np.arange(32))[:, None]).astype(np.complex128)
    return Coefficients(gamma, zeta, alpha)


def _throughput(corrector, frames, threads: int, rounds: int) -> tuple[float, float, int]:
    """Wall and process CPU per read with ``threads`` reads in flight."""
    jobs = [f for _ in range(rounds) for f in frames]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda f: corrector.correct(f[1], f[2]), jobs[:threads]))  # warm up every thread
        w0, c0 = time.perf_counter(), _process_cpu()
        list(pool.map(lambda f: corrector.correct(f[1], f[2]), jobs))
        return (time.perf_counter() - w0) / len(jobs), (_process_cpu() - c0) / len(jobs), len(jobs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exposure", default=DEFAULT_EXPOSURE)
    parser.add_argument("--refs", default=DEFAULT_REFS)
    parser.add_argument("--reads", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--distinct", action="store_true")
    parser.add_argument("--before", default=DEFAULT_BEFORE)
    args = parser.parse_args(argv)

    from processing.calibrate import refpix_streaming as after

    before = _load_before(args.before)
    t0 = time.perf_counter()
    offset, frames, coeffs, plan = _inputs(args.exposure, args.refs, args.reads)
    if args.distinct:
        coeffs, plan = _distinct(coeffs.gamma.shape[1]), None
    print(f"inputs: {len(frames)} reads {[k for k, _, _ in frames]} of {args.exposure} ({time.perf_counter() - t0:.1f} s), "
          f"refpix {'32 distinct channels' if args.distinct else 'synthetic (channels shared)'}")
    correctors = {"before": before.FrameCorrector(coeffs, offset, plan=plan),
                  "after": after.FrameCorrector(coeffs, offset, plan=plan)}
    print(f"computed channels per read: {len(correctors['after'].unique)}; before = {args.before}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    k, det, amp = frames[0]
    buffer = np.empty_like(det)
    # "after, out=": the corrected frame written into a buffer the caller
    # reuses (e.g. the input frame), instead of a fresh 64 MiB array.
    calls = {"before": correctors["before"].correct, "after": correctors["after"].correct,
             "after, out=": lambda d, a: correctors["after"].correct(d, a, out=buffer)}
    for call in calls.values():  # imports, plans, numba's compile or cache load
        call(det, amp)

    cpu = {name: [] for name in calls}
    wall = {name: [] for name in calls}
    for k, det, amp in frames:
        results = {}
        for _ in range(args.repeat):
            for name, call in calls.items():
                w0, c0 = time.perf_counter(), time.thread_time()
                results[name] = call(det, amp)
                cpu[name].append(time.thread_time() - c0)
                wall[name].append(time.perf_counter() - w0)
        same = all(np.array_equal(np.ascontiguousarray(a).view(np.uint32), np.ascontiguousarray(b).view(np.uint32))
                   for other in ("after", "after, out=") for a, b in zip(results["before"], results[other]))
        if not same:
            print(f"read {k}: OUTPUTS DIFFER")
            return 1
    print(f"bits: before == after on every read ({len(frames)} reads, detector and amp33)")
    print(f"\nper read, {args.repeat} x {len(frames)} reads, interleaved (calling thread's CPU; wall):")
    print(f"{'':12s} {'CPU median':>11s} {'CPU min':>9s} {'wall median':>12s} {'wall min':>9s}")
    for name in calls:
        print(f"{name:12s} {np.median(cpu[name]):10.3f}s {min(cpu[name]):8.3f}s {np.median(wall[name]):11.3f}s {min(wall[name]):8.3f}s")
    print(f"CPU per read after / before: {np.median(cpu['after']) / np.median(cpu['before']):.2f}")

    print("\nthroughput (all reads x 2 rounds):")
    print(f"{'':8s} {'threads':>7s} {'wall/read':>10s} {'CPU/read':>9s}")
    for name, corrector in correctors.items():
        for threads in (1, 2):
            w, c, n = _throughput(corrector, frames, threads, 2)
            print(f"{name:8s} {threads:7d} {w:9.3f}s {c:8.3f}s")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
