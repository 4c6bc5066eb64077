"""Benchmark the real window, offscreen: slider steps, pixel clicks, memory.

Measures, driving :class:`brightstar_gui.widgets.main_window.MainWindow` as a user
does (offscreen Qt platform, window 1600 x 1000):

* slider step -> all four panes redrawn (state change to the panes' images
  uploaded and painted), median over steps, on a 512 x 512 cutout and on
  full 4096 x 4096 frames (whole frame in view, and zoomed to 1:1);
* pixel click -> ramp plot updated, median;
* process RSS (peak and at the end) with a full 55-frame exposure open,
  after scrubbing every frame in full-frame view and computing the
  full-frame mean slope.

Data: the illuminated exposure and references of :mod:`processing.synth`
(55 x 4096 x 4096, uncompressed) in ``/tmp/bench-data`` (written on first
run, a few minutes).  Usage::

    QT_QPA_PLATFORM=offscreen python bench/bench_gui.py [--data DIR] [--frames N] [--size S]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def ensure_data(folder: Path, frames: int, size: int) -> Path:
    """Write the illuminated exposure and the references (no darks) if missing."""
    from processing import synth
    from processing.progress import run

    manifest = synth.read_manifest(folder)
    if manifest and manifest["config"]["frames"] == frames and manifest["config"]["size"] == size:
        return folder / manifest["illuminated"]
    t0 = time.perf_counter()
    print(f"writing {frames} x {size} x {size} into {folder} ...", file=sys.stderr, flush=True)
    manifest = run(synth.write_first_look_job(folder, synth.SynthConfig(frames=frames, size=size)))
    print(f"  written in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return folder / manifest["illuminated"]


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("/tmp/bench-data"))
    p.add_argument("--frames", type=int, default=55)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--steps", type=int, default=20, help="slider steps per case")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    os.environ.setdefault("BRIGHTSTAR_CONFIG_DIR", str(args.data / "config"))
    os.environ.setdefault("BRIGHTSTAR_CACHE_DIR", str(args.data / "cache"))
    uri = ensure_data(args.data, args.frames, args.size)

    import threading

    import pyqtgraph as pg
    from PyQt6 import QtCore, QtWidgets

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    from brightstar_gui.models import Cutout
    from brightstar_gui.widgets.main_window import MainWindow

    peak = {"rss": rss_mb()}
    stop = threading.Event()

    def sample():
        while not stop.wait(0.05):
            peak["rss"] = max(peak["rss"], rss_mb())

    threading.Thread(target=sample, daemon=True).start()
    baseline_rss = rss_mb()

    w = MainWindow()
    w.resize(1600, 1000)
    w.show()
    app.processEvents()

    def wait(cond, timeout=600.0):
        t0 = time.perf_counter()
        while not cond():
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 5)
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError("benchmark step timed out")

    # The UI-thread stall monitor: the longest gap between timer ticks.
    gaps = {"max": 0.0, "last": time.perf_counter()}

    def tick():
        now = time.perf_counter()
        gaps["max"] = max(gaps["max"], now - gaps["last"])
        gaps["last"] = now

    ticker = QtCore.QTimer()
    ticker.timeout.connect(tick)
    ticker.start(10)

    t0 = time.perf_counter()
    w.open_uri(str(uri))
    wait(lambda: w.dataset is not None and w.last_render is not None and not w.controller.render_inflight)
    t_open = time.perf_counter() - t0
    results: dict = {"shape": list(w.dataset.shape), "open_to_first_panes_s": round(t_open, 3)}

    def step_times(n_steps: int) -> list[float]:
        times = []
        n = w.state.n_frames
        for i in range(n_steps):
            target = (w.state.frame + 1) % n
            done = {"t": None}

            def on_render(_seconds, target=target):
                if w.last_render.request.frame == target and done["t"] is None:
                    w.panes.graphics.viewport().repaint()  # painted, not just uploaded
                    done["t"] = time.perf_counter()

            w.frame_rendered.connect(on_render)
            t = time.perf_counter()
            w.slider.slider.setValue(target)
            wait(lambda: done["t"] is not None, 60)
            w.frame_rendered.disconnect(on_render)
            times.append((done["t"] - t) * 1000)
        return times

    def case(name: str):
        step_times(2)  # warm: page cache, LUTs
        gaps["max"] = 0.0
        gaps["last"] = time.perf_counter()
        ts = step_times(args.steps)
        r = w.last_render.request
        results[name] = {"median_ms": round(statistics.median(ts), 1), "p90_ms": round(sorted(ts)[int(0.9 * len(ts)) - 1], 1),
                         "max_ms": round(max(ts), 1), "region": list(r.region), "view": list(r.view), "step": r.step,
                         "ui_max_gap_ms": round(gaps["max"] * 1000, 1)}
        print(f"{name:28s} median {results[name]['median_ms']:6.1f} ms  p90 {results[name]['p90_ms']:6.1f}  "
              f"max {results[name]['max_ms']:6.1f}  step {r.step}  ui gap {results[name]['ui_max_gap_ms']} ms", flush=True)

    h, wd = w.state.frame_shape
    star = w.dataset.star
    # 1. 512 x 512 cutout around the star.
    w.state.cutout = Cutout(star[0], star[1], 256, True)
    wait(lambda: w.last_render.request.region == w.state.region() and not w.controller.render_inflight)
    wait(lambda: w.controller.mean_slope("raw", w.state.region()) is not None, 300)
    w.controller.request_render()
    wait(lambda: not w.controller.render_inflight)
    case("cutout_512")

    # 2. Pixel click -> ramp plot.
    clicks = []
    for i in range(15):
        done = {"t": None}

        def on_ramp():
            w.ramp.plot.viewport().repaint()
            done["t"] = time.perf_counter()

        w.ramp_plotted.connect(on_ramp)
        t = time.perf_counter()
        w.panes.click_pixel(star[0] - 40 + 5 * i, star[1] + 3 * i)
        wait(lambda: done["t"] is not None, 30)
        w.ramp_plotted.disconnect(on_ramp)
        clicks.append((done["t"] - t) * 1000)
    results["pixel_click_ms"] = {"median_ms": round(statistics.median(clicks[2:]), 1), "max_ms": round(max(clicks[2:]), 1)}
    print(f"{'pixel click -> ramp plot':28s} median {results['pixel_click_ms']['median_ms']:6.1f} ms", flush=True)

    # 3. Full frames, whole frame in view (the mean slope of the full frame in the background).
    w.state.cutout = Cutout(star[0], star[1], 256, False)
    wait(lambda: w.last_render.request.region == (0, h, 0, wd) and not w.controller.render_inflight)
    t0 = time.perf_counter()
    w.controller.ensure_summary(full=True)
    wait(lambda: w.controller.summary_for("raw", (0, h, 0, wd)) is not None, 1200)
    results["full_frame_mean_slope_s"] = round(time.perf_counter() - t0, 1)
    print(f"{'full-frame mean slope':28s} {results['full_frame_mean_slope_s']} s (background)", flush=True)
    w.controller.request_render()
    wait(lambda: not w.controller.render_inflight)
    case("full_4096_fit")

    # 4. Full frames zoomed to about 1:1 around the star.
    (vy0, vy1, vx0, vx1), per_px = w.panes.visible()
    span_x, span_y = (vx1 - vx0) / per_px, (vy1 - vy0) / per_px
    w.panes.viewbox.setRange(xRange=(star[1] - span_x / 2, star[1] + span_x / 2), yRange=(star[0] - span_y / 2, star[0] + span_y / 2), padding=0)
    app.processEvents()
    time.sleep(0.2)
    app.processEvents()
    w.controller.request_render()
    wait(lambda: not w.controller.render_inflight)
    case("full_4096_zoom_1to1")

    # 5. Scrub every frame at full-frame view, then memory.
    w.controller.reset_zoom()
    app.processEvents()
    for k in range(w.state.n_frames):
        w.state.frame = k
        wait(lambda: not w.controller.render_inflight and w.last_render.request.frame == k, 60)
    results["rss_mb"] = {"baseline_before_window": round(baseline_rss), "end": round(rss_mb()), "peak": round(peak["rss"])}
    print(f"{'RSS':28s} end {results['rss_mb']['end']} MB  peak {results['rss_mb']['peak']} MB "
          f"(interpreter + imports before the window: {results['rss_mb']['baseline_before_window']} MB)", flush=True)

    stop.set()
    w.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
