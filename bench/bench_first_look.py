"""How long the demo's first look takes to write, phase by phase.

``python bench/bench_first_look.py [--size 4096] [--frames 55] [--out DIR]``

Writes the illuminated exposure and the reference files the way
``brightstar-gui --demo`` does -- the exposure first (the window opens it
then), the reference files second -- and prints,
for each phase (detector model and scene, the reads, closing the file, the
reference files), wall time and the process's CPU time (user + system),
the time until the exposure can be opened, then peak RSS and the bytes on
disk.  CPU time says what an idle machine would need when the measurement
runs on a busy one; the load average is printed beside.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--frames", type=int, default=55)
    p.add_argument("--out", type=Path, default=None, help="scratch folder (deleted afterwards)")
    args = p.parse_args()

    from processing import synth

    out = Path(tempfile.mkdtemp(prefix="first-look-", dir=args.out))
    cfg = synth.SynthConfig(frames=args.frames, size=args.size)
    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), _cpu()
    marks = [("start", t0, c0)]

    def drive(job, on_message):
        try:
            while True:
                on_message(next(job).message)
        except StopIteration as stop:
            return stop.value

    def step(msg):
        if msg.endswith(f"read 1/{cfg.frames}"):
            marks.append(("detector, scene, first read", time.perf_counter(), _cpu()))
        elif msg.endswith(f"read {cfg.frames}/{cfg.frames}"):
            marks.append((f"reads 2..{cfg.frames}", time.perf_counter(), _cpu()))

    exposure = drive(synth.write_illuminated_job(out, cfg), step)
    marks.append(("close the exposure file", time.perf_counter(), _cpu()))
    ready = marks[-1]
    drive(synth.write_first_look_references_job(out, cfg, exposure), lambda msg: None)
    marks.append(("reference files", time.perf_counter(), _cpu()))
    print(f"first look, {cfg.frames} reads of {cfg.size} x {cfg.size}, {os.cpu_count()} cores, "
          f"load average {load0:.1f} -> {os.getloadavg()[0]:.1f}")
    for (_, t_a, c_a), (name, t_b, c_b) in zip(marks, marks[1:]):
        print(f"  {name:28s} {t_b - t_a:7.1f} s wall {c_b - c_a:7.1f} s CPU")
    print(f"  {'exposure ready to open':28s} {ready[1] - t0:7.1f} s wall {ready[2] - c0:7.1f} s CPU")
    print(f"  {'total':28s} {marks[-1][1] - t0:7.1f} s wall {marks[-1][2] - c0:7.1f} s CPU")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB, on disk {size / 1e9:.2f} GB")
    shutil.rmtree(out)


if __name__ == "__main__":
    main()
