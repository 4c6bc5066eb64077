"""Benchmark: time to first frame and peak memory, ours vs the tutorial's way.

For a full-size (55, 4096, 4096) synthetic TVAC exposure, uncompressed and
lz4, each measurement runs in a fresh interpreter so memory and page cache
effects of one do not leak into another:

* ``ours``      -- ``open_exposure(path).frame(0)`` copied into a new array
  (what the viewer does to show a frame), then frame 27 and a 512 x 512
  cutout across all reads;
* ``tutorial``  -- ``asdf.open`` + ``roman_datamodels.open(af).copy()``, then
  ``data[0]`` (the tutorial's ``open_asdf_datamodel``).

Peak RSS is reported above the interpreter's baseline after imports.  Page
cache: the file is read once beforehand ("warm"); with ``--cold`` the kernel's
cache is dropped before each run (needs root; skipped when not permitted).

Run::

    python bench/bench_open.py [--frames 55] [--data /tmp/bench-data/open]

Also reports the synthetic generator's wall time and peak RSS when it has to
write the files (target: < 4 GiB for the full set).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, os, resource, sys, time
import numpy as np
mode, path = sys.argv[1], sys.argv[2]

def rss_now():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0

def peak():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0

if mode == "ours":
    from processing.io import open_exposure
    base = rss_now()
    t0 = time.perf_counter()
    exp = open_exposure(path)
    frame = np.array(exp.frame(0))
    t_first = time.perf_counter() - t0
    peak_first = peak() - base
    t1 = time.perf_counter()
    other = np.array(exp.frame(27 if exp.shape[0] > 27 else exp.shape[0] - 1))
    t_other = time.perf_counter() - t1
    t2 = time.perf_counter()
    cut = exp.cutout(1644, 2156, 1644, 2156)
    t_cut = time.perf_counter() - t2
    out = dict(first=t_first, other=t_other, cutout=t_cut, peak_above=peak_first, peak_after_cutout=peak() - base, base=base,
               checksum=int(frame.astype(np.int64).sum()), shape=list(exp.shape))
else:
    import asdf, roman_datamodels as rdm
    base = rss_now()
    t0 = time.perf_counter()
    with open(path, "rb") as fb:
        with asdf.open(fb) as af:
            model = rdm.open(af).copy()
    frame = np.array(model.data[0])
    t_first = time.perf_counter() - t0
    out = dict(first=t_first, peak_above=peak() - base, base=base,
               checksum=int(np.asarray(frame).astype(np.int64).sum()), shape=list(model.data.shape))
print(json.dumps(out))
"""


def _drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
        return True
    except OSError:
        return False


def _warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(64 << 20):
            pass


def _child(mode: str, path: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, mode, str(path)], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def _ensure(data: Path, frames: int, compression: str) -> tuple[Path, dict | None]:
    from processing import synth

    path = data / f"tvac_{frames}_{compression}.asdf"
    if path.exists():
        return path, None
    t0 = time.perf_counter()
    # The child reports its own high-water mark (RUSAGE_CHILDREN would mix
    # in earlier children such as the tutorial's 5 GiB run).
    code = (
        "from processing import synth; "
        f"synth.write_exposure({str(path)!r}, frames={frames}, compression={compression!r}); "
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
    )
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    peak_kb = int(res.stdout.strip().splitlines()[-1])
    return path, {"wall": time.perf_counter() - t0, "peak_rss": peak_kb * 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=55)
    ap.add_argument("--data", type=Path, default=Path("/tmp/bench-data/open"))
    ap.add_argument("--cold", action="store_true", help="drop the page cache before each run (root)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of ours per file (median reported)")
    args = ap.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)

    print(f"# bench_open: {args.frames} x 4096 x 4096 uint16, cores={os.cpu_count()}, load={os.getloadavg()[0]:.2f}")
    for compression in ("none", "lz4"):
        path, gen = _ensure(args.data, args.frames, compression)
        size = path.stat().st_size
        if gen:
            print(f"synth {compression}: wrote {size / 1e9:.2f} GB in {gen['wall']:.1f} s, peak RSS {gen['peak_rss'] / 2**30:.2f} GiB")
        runs = []
        for _ in range(args.repeat):
            if args.cold and not _drop_caches():
                print("  (cannot drop the page cache here: warm numbers)")
                args.cold = False
            if not args.cold:
                _warm(path)
            runs.append(_child("ours", path))
        runs.sort(key=lambda r: r["first"])
        ours = runs[len(runs) // 2]
        if args.cold:
            _drop_caches()
        else:
            _warm(path)
        tut = _child("tutorial", path)
        assert ours["checksum"] == tut["checksum"], "frame 0 differs between our reader and the tutorial's"
        print(f"\n{compression:5s} file {size / 1e9:.2f} GB ({'cold' if args.cold else 'warm'} page cache)")
        print(f"  {'':22s} {'first frame':>12s} {'peak RSS above baseline':>24s}")
        print(f"  {'ours (open+frame 0)':22s} {ours['first']:10.3f} s {ours['peak_above'] / 2**30:21.3f} GiB")
        print(f"  {'tutorial (.copy())':22s} {tut['first']:10.3f} s {tut['peak_above'] / 2**30:21.3f} GiB")
        print(f"  speed-up {tut['first'] / ours['first']:.0f}x; ours: another frame {ours['other'] * 1e3:.1f} ms, "
              f"512x512 cutout over all reads {ours['cutout'] * 1e3:.1f} ms; "
              f"peak RSS above baseline after both {ours['peak_after_cutout'] / 2**30:.3f} GiB "
              "(mapped file pages, reclaimable)")


if __name__ == "__main__":
    main()
