"""Benchmark: what trusting every byte costs.

1. ``verify`` of a full-size exposure (1.9 GB), ours (blocks hashed in
   parallel, by byte range) vs the tutorial's way of checking
   (``asdf.open(validate_checksums=True)`` reading every array);
   target <= 10 s on 2 cores.
2. The calibrated cache's per-frame check: a 4096 x 4096 float32 frame read
   with and without its band checksums (target: <= 10 ms added).
3. First frame and scrubbing of the full-size exposure, read with ``pread``
   (this tree) vs the memory map (``--before DIR``: another checkout, e.g.
   ``/work/main`` before this change), each in a fresh interpreter;
   target: first frame <= 0.3 s.

Run::

    python bench/bench_trust.py FULL_UNCAL.asdf [--before /path/to/old/checkout] [--scratch DIR]

The file is read once first (warm page cache) so that runs compare CPU and
copies, not the disk.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_FRAME = r"""
import sys, time
import numpy as np
t0 = time.perf_counter()
from processing.io import open_exposure
exp = open_exposure(sys.argv[1])
f = np.asarray(exp.frame(0)).copy() if not np.asarray(exp.frame(0)).flags.owndata else exp.frame(0)
t1 = time.perf_counter()
ts = []
for k in range(exp.shape[0]):
    a = time.perf_counter()
    f = exp.frame(k)
    f = f if f.flags.owndata else np.array(f)  # what the viewer holds: an array of its own
    ts.append(time.perf_counter() - a)
c0 = time.perf_counter(); exp.cutout(1800, 2312, 1800, 2312); c1 = time.perf_counter()
print(f"{t1 - t0:.3f} {np.median(ts) * 1e3:.1f} {max(ts) * 1e3:.1f} {c1 - c0:.3f}")
"""


def warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(64 << 20):
            pass


def bench_verify(path: Path) -> None:
    from processing.progress import run
    from processing.verify import verify_job

    for workers in (1, 2):
        t0 = time.perf_counter()
        result = run(verify_job(path, workers=workers))
        dt = time.perf_counter() - t0
        print(f"verify ours, {workers} worker(s): {dt:6.2f} s  ({path.stat().st_size / dt / 1e9:.2f} GB/s) -> {result.status}")
    import asdf

    t0 = time.perf_counter()
    with asdf.open(path, validate_checksums=True, lazy_load=False, memmap=False) as af:
        _ = af.tree
    dt = time.perf_counter() - t0
    print(f"verify tutorial (asdf.open validate_checksums=True): {dt:6.2f} s")


def bench_frame_check(scratch: Path) -> None:
    import asdf
    import numpy as np

    from processing.asdf_blocks import array_ref, read_layout
    from processing.frame_sums import BandCheck, seal
    from processing.io import LazyArray, _make_reader
    from processing.sources import LocalFileSource

    path = scratch / "entry.asdf"
    rng = np.random.default_rng(0)
    cube = rng.normal(1000, 30, (4, 4096, 4096)).astype(np.float32)
    asdf.AsdfFile({"roman": {"data": cube}}).write_to(path, all_array_compression=None)
    del cube
    sums = seal(path)
    source = LocalFileSource(path)
    layout = read_layout(source)
    ref = array_ref(layout.tree["roman"]["data"], str(path), "roman.data")
    arr = LazyArray(ref, _make_reader(source, layout, ref))
    spec = sums["arrays"]["data"]
    check = BandCheck(str(path), "data", ref.offset, spec["band"], np.frombuffer(bytes.fromhex(spec["digests"]), "<u8"), lambda: None)

    def timed(n=15):
        ts = []
        for i in range(n):
            t0 = time.perf_counter()
            arr.frame(i % 4)
            ts.append(time.perf_counter() - t0)
        return float(np.median(ts)) * 1e3

    timed(4)
    plain = timed()
    arr.check = check
    checked = timed()
    arr.check = None
    plain2 = timed()
    base = min(plain, plain2)
    print(f"4096x4096 float32 frame read: {base:.1f} ms plain, {checked:.1f} ms with band checksums "
          f"(+{checked - base:.1f} ms)")
    source.close()


def bench_first_frame(path: Path, before: Path | None) -> None:
    trees = [("this tree (pread)", ROOT)] + ([("before (memory map)", before)] if before else [])
    for label, tree in trees:
        rows = []
        for _ in range(3):
            env = dict(os.environ, PYTHONPATH=str(tree))
            out = subprocess.run([sys.executable, "-c", FIRST_FRAME, str(path)], capture_output=True, text=True, env=env,
                                 cwd=tree, timeout=600)
            rows.append([float(v) for v in out.stdout.split()])
        first = sorted(r[0] for r in rows)[1]
        scrub = sorted(r[1] for r in rows)[1]
        cut = sorted(r[3] for r in rows)[1]
        print(f"{label:22s} first frame {first:.3f} s, scrub median {scrub:.1f} ms/frame, "
              f"512x512x{55} cutout {cut:.3f} s (median of 3 runs)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exposure", type=Path, help="a full-size (55, 4096, 4096) uncompressed exposure")
    parser.add_argument("--before", type=Path, default=None, help="another checkout to compare first-frame speed with")
    parser.add_argument("--scratch", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    warm(args.exposure)
    bench_verify(args.exposure)
    with tempfile.TemporaryDirectory(dir=args.scratch) as tmp:
        bench_frame_check(Path(tmp))
    bench_first_frame(args.exposure, args.before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
