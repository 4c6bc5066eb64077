"""Benchmark pixel click -> ramp panel drawn, stage by stage, in the real window under X (xcb).

Opens the full-size exposure of a ``brightstar synth`` set in
:class:`~brightstar_gui.widgets.main_window.MainWindow`, waits for the
references and the cutout's mean slope, then clicks pixels of the core,
the halo and the background (as a user does: ``panes.click_pixel``) and
times, per click:

* ``total``: click -> ramp panel painted (``ramp_plotted``, then a
  synchronous repaint of the panel: ramp plot, neighbour grid, readout --
  as ``bench_playback.py``'s click measurement, which repaints the plot);
* ``job``: the pixel job in the worker (3 x 3 x N reads, saturation, slope);
* ``set_ramps``: the panel's update on the UI thread (data, ranges, legend, ticks, readout);
* ``paint``: the synchronous repaint;
* ``to_worker``: click -> the job starts in the worker (the UI thread's
  handling of the click, e.g. the panes' selection marker, and the hop);
* ``to_ui``: the job's end -> the panel's update starts (the hop back);
* ``set_ramps_cpu``, ``paint_cpu``: the UI thread's CPU time in those
  stages (``time.thread_time``; on a loaded machine the wall times grow with
  the load, these much less; the X server's share of a paint is not in them).

In the same run, the panel as it was at git ``--before REF`` (default
``main``) is fed the same pixels' data and timed the same way
(``set_ramps`` + paint), so the comparison is under the same load.

Usage::

    Xvfb :94 -screen 0 1280x800x24 &
    DISPLAY=:94 python bench/bench_ramp_click.py --data /work/scratch/full [--clicks 30] [--before main]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def old_panel_class(ref: str):
    """``RampPanel`` of ``brightstar_gui/widgets/ramp_plot.py`` at git ``ref`` (None if it cannot be loaded)."""
    try:
        src = subprocess.run(["git", "-C", str(REPO), "show", f"{ref}:brightstar_gui/widgets/ramp_plot.py"],
                             check=True, capture_output=True, text=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    folder = Path(tempfile.mkdtemp(prefix="ramp-before-"))
    path = folder / "ramp_plot_before.py"
    # Its relative imports (``.panes``, ``..jobs``) resolve inside the current package.
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("brightstar_gui.widgets._ramp_plot_before", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod.RampPanel


def paint(panel) -> None:
    """Paint the ramp panel now: its two plot viewports and the readout, synchronously.

    ``viewport().repaint()`` draws the scene as it is (what
    ``bench_playback.py`` times too); the panes' own repaint of the selection
    marker, which the event loop does next, is not the ramp panel's.
    """
    for view in (panel.plot, panel.grid):
        view.viewport().repaint()
    panel.readout.repaint()


def stats(values: list[float]) -> dict:
    return {"median_ms": round(statistics.median(values), 1), "max_ms": round(max(values), 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="a `brightstar synth` data set (full size)")
    p.add_argument("--size", default="1280x800")
    p.add_argument("--clicks", type=int, default=30)
    p.add_argument("--before", default="main", metavar="REF", help="also time the ramp panel of git REF")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        raise SystemExit("bench_ramp_click needs an X display (run it under Xvfb: DISPLAY=:N)")
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    scratch = Path(tempfile.mkdtemp(prefix="bench-ramp-"))
    os.environ.setdefault("BRIGHTSTAR_CONFIG_DIR", str(scratch / "config"))
    os.environ.setdefault("BRIGHTSTAR_CACHE_DIR", str(scratch / "cache"))
    size = tuple(int(v) for v in args.size.lower().split("x"))

    import pyqtgraph as pg
    from PyQt6 import QtWidgets

    from bench_playback import Bench, find_illuminated

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["bench"])
    from brightstar_gui.models import Cutout

    uri = find_illuminated(args.data)
    b = Bench(app, size, scratch / "trace.jsonl")
    w, c = b.w, b.w.controller
    b.wait(lambda: not w.pool.busy("warm"), 60)
    b.open(str(uri))
    star = c.dataset.star
    w.model.cutout = Cutout(star[0], star[1], 256, True)
    b.wait(lambda: c.mean_slope("raw", w.model.region()) is not None and b.idle(), 600)
    b.pump(0.5)

    # Time the panel's update inside the controller's apply step.
    panel = w.ramp
    timing: dict = {}
    original = panel.set_ramps

    def timed_set_ramps(data, frame):
        t, cpu = time.perf_counter(), time.thread_time()
        timing["applied"] = t
        original(data, frame)
        timing["set_ramps"] = time.perf_counter() - t
        timing["set_ramps_cpu"] = time.thread_time() - cpu

    panel.set_ramps = timed_set_ramps
    r0, c0 = star
    # Core (saturated from read 0), halo (saturates during the ramp), background.
    offsets = [(0, 0), (3, -2), (40, 10), (60, -35), (150, 120), (-200, 90)]
    pixels = [(r0 + dr + i // len(offsets), c0 + dc + i % 3) for i in range(args.clicks)
              for dr, dc in [offsets[i % len(offsets)]]]
    rows = []
    datas = []
    for i, (row, col) in enumerate(pixels):
        done = {"t": None}

        def on_ramp():
            t, cpu = time.perf_counter(), time.thread_time()
            paint(panel)
            timing["paint"] = time.perf_counter() - t
            timing["paint_cpu"] = time.thread_time() - cpu
            done["t"] = time.perf_counter()

        if w.model.selected_pixel == (row, col):
            w.model.selected_pixel = None  # a click on the selected pixel changes nothing
        w.ramp_plotted.connect(on_ramp)
        t0 = time.perf_counter()
        w.panes.click_pixel(row, col)
        b.wait(lambda: done["t"] is not None, 30)
        w.ramp_plotted.disconnect(on_ramp)
        ramps = c.last_ramps
        total = done["t"] - t0
        rows.append({"total": total * 1e3, "job": ramps.job_seconds * 1e3, "set_ramps": timing["set_ramps"] * 1e3,
                     "paint": timing["paint"] * 1e3, "set_ramps_cpu": timing["set_ramps_cpu"] * 1e3,
                     "paint_cpu": timing["paint_cpu"] * 1e3})
        rows[-1]["to_worker"] = (ramps.job_started - t0) * 1e3
        rows[-1]["to_ui"] = (timing["applied"] - ramps.job_started - ramps.job_seconds) * 1e3
        datas.append(ramps.as_dict())
        b.pump(0.05)
    rows = rows[2:]  # the first clicks warm caches and imports
    results = {"platform": app.platformName(), "window": list(size), "load_avg": os.getloadavg(),
               "clicks": len(rows), "uri": str(uri)}
    for key in ("total", "to_worker", "job", "to_ui", "set_ramps", "paint", "set_ramps_cpu", "paint_cpu"):
        results[key] = stats([r[key] for r in rows])
    print("click -> ramp panel painted (this tree):", json.dumps({k: results[k] for k in
                                                                 ("total", "to_worker", "job", "to_ui", "set_ramps", "paint",
                                                                  "set_ramps_cpu", "paint_cpu")}))
    before = old_panel_class(args.before) if args.before else None
    if before is not None:
        old = before()
        old.resize(panel.size())
        old.show()
        b.pump(0.3)
        upd, paints = [], []
        panel.set_ramps = original

        def same_data(p) -> dict:
            out = {"set_ramps": [], "paint": [], "set_ramps_cpu": [], "paint_cpu": []}
            for d in datas:
                # The old panel reads only the fields it knew; both get the same arrays.
                t, cpu = time.perf_counter(), time.thread_time()
                p.set_ramps(d, w.model.frame)
                out["set_ramps"].append((time.perf_counter() - t) * 1e3)
                out["set_ramps_cpu"].append((time.thread_time() - cpu) * 1e3)
                t, cpu = time.perf_counter(), time.thread_time()
                paint(p)
                out["paint"].append((time.perf_counter() - t) * 1e3)
                out["paint_cpu"].append((time.thread_time() - cpu) * 1e3)
                b.pump(0.02)
            return {k: stats(v[2:]) for k, v in out.items()}

        # Interleaved, twice, so both see the same load.
        runs = [(same_data(old), same_data(panel)) for _ in range(2)]
        results["before"] = {"ref": args.before, **{k: min((r[0][k] for r in runs), key=lambda s: s["median_ms"])
                                                   for k in runs[0][0]}}
        results["after_same_data"] = {k: min((r[1][k] for r in runs), key=lambda s: s["median_ms"]) for k in runs[0][1]}
        print(f"panel update + paint, same data: before ({args.before})", json.dumps(results["before"]),
              "after", json.dumps(results["after_same_data"]))
        old.close()
    b.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
