"""Benchmark the viewer's saturation diagnostics through the controller (no window).

The controller runs its jobs synchronously (SyncRunner) with null views, so
each figure is the time from the user's request to the result handed to
the view: the jobs plus the controller's bookkeeping, not painting.

Measured on an exposure (a full-size one: 55 x 4096 x 4096):

* growth of the cutout (512 x 512 about the star), and of the full frame
  with the onset map in the same pass (peak RSS printed);
* the onset pane for a full-frame view (colouring the cached map), against
  the naive way of recomputing the map for the pane (the full pass again);
* contours of three reads over the cutout;
* the radial profile: preparation once, then one slider step (median over
  reads), against the naive way of preparing the profiles again per step;
* three pinned pixels' ramps, and their CSV export.

Usage::

    python bench/bench_diagnostics_gui.py /work/scratch/full      # a synthetic set's folder

The machine may be shared: the load average and CPU time are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from brightstar_gui.controllers import SyncRunner, ViewerController  # noqa: E402
from brightstar_gui.jobs.profile import profile_prep_job, ProfileRequest  # noqa: E402
from processing.progress import run  # noqa: E402


class Null:
    """A view that accepts every call (and says it is shown)."""

    def __getattr__(self, name):
        if name == "visible":
            return lambda: None
        if name == "active":
            return lambda: True
        return lambda *a, **k: None


class Views:
    def __init__(self):
        self.panes, self.ramp, self.status = Null(), Null(), Null()
        self.growth, self.profile, self.pins, self.onset_overlay = Null(), Null(), Null(), Null()


def rss_mib() -> float:
    """Resident set now (mapped file pages included: they are the OS page cache's, shared)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="a folder written by `brightstar synth`")
    args = p.parse_args()
    manifest = json.loads((args.folder / "manifest.json").read_text())
    uri = args.folder / manifest["illuminated"]
    print(f"exposure {uri}")
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores shared: wall times are not final)")
    views = Views()
    c = ViewerController(views, SyncRunner())
    rows = []

    def row(what, wall, cpu, note=""):
        rows.append((what, wall, cpu, note))
        print(f"  {what:<52} {wall * 1000:9.1f} ms wall {cpu * 1000:9.1f} ms CPU  RSS {rss_mib():6.0f} MiB (peak {peak_mib():6.0f})  {note}",
              flush=True)

    c.diagnostics.growth_scope = "cutout"
    _, wall, cpu = timed(lambda: c.open(str(uri)))
    n, h, w = c.dataset.shape
    row(f"open + references + cutout growth + profile ({n} x {h} x {w})", wall, cpu)
    # The cutout growth alone (a new cutout box, not in the cache).
    m = c.model
    from dataclasses import replace

    _, wall, cpu = timed(lambda: setattr(m, "cutout", replace(m.cutout, row=m.cutout.row + 1)))
    region = m.cutout.region(m.frame_shape)
    row(f"growth of the cutout {region[1] - region[0]} x {region[3] - region[2]}", wall, cpu,
        f"saturated at the last read: {int(c.last_growth.growth.saturated[-1])}")
    _, wall_full, cpu_full = timed(lambda: setattr(c.diagnostics, "growth_scope", "full"))
    row("growth + onset map of the full frame (one pass)", wall_full, cpu_full)
    m.cutout = replace(m.cutout, enabled=False)  # full-frame view: the pane at step ceil(4096 / 1024)
    c.last_render = None
    _, wall, cpu = timed(lambda: setattr(c.diagnostics, "onset_pane", "mask"))
    img = c.last_onset_image
    row(f"onset pane, full-frame view at step {img.request.step}", wall, cpu,
        f"naive (recompute the map): {wall_full * 1000:.0f} ms")
    m.cutout = replace(m.cutout, enabled=True)
    _, wall, cpu = timed(lambda: setattr(c.diagnostics, "contour_reads", (5, 20, n - 1)))
    row("contours of 3 reads over the cutout", wall, cpu,
        f"{sum(len(v) for v in c.last_contours.lines.values())} outlines")

    c._profile_key = None  # prepared during the open already: measure it again
    _, wall_prep, cpu_prep = timed(lambda: c.request_profile())
    row("radial profile: preparation (centre + box pass)", wall_prep, cpu_prep,
        f"centre {tuple(round(v, 3) for v in c.last_profile.center)}" if c.last_profile else "no source")
    steps = []
    for k in range(1, n, max(1, n // 10)):
        m.frame = k  # renders the panes too (not timed): the profile of read k is timed alone
        _, wall, cpu = timed(c._show_profile)
        assert c.last_profile.read == k
        steps.append((wall, cpu))
    prep = c._profile_prep
    req = prep.request
    naive = ProfileRequest(req.dataset_id, req.kind, req.baseline, req.values, req.frames, req.thresholds)
    _, wall_naive, _ = timed(lambda: run(profile_prep_job(naive)).profiles.at(3))
    row(f"radial profile: one slider step (median of {len(steps)})", statistics.median(s[0] for s in steps),
        statistics.median(s[1] for s in steps), f"naive (prepare again per step): {wall_naive * 1000:.0f} ms")

    r, col = (int(v) for v in manifest["star_center"])
    pins = [(r, col), (r, col + 60), (100, 100)]
    _, wall, cpu = timed(lambda: [c.pin_pixel(*pp) for pp in pins])
    row("3 pinned pixels' ramps", wall, cpu)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pins.csv"
        _, wall, cpu = timed(lambda: c.export_pins(str(out)))
        row("export the 3 pins as CSV", wall, cpu, f"{out.stat().st_size} bytes")
    print(f"peak RSS {peak_mib():.0f} MiB; "
          f"load average at end: {os.getloadavg()[0]:.1f}")
    c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
