"""Benchmark the real window under X (xcb): playback rate, pixel click, first panes, S3 bytes.

Drives :class:`brightstar_gui.widgets.main_window.MainWindow` on the xcb
platform (run it under Xvfb), as a user does, and reads the achieved rate
the slider row shows (the controller's ``achieved_rate``) and the
``--trace`` events:

* playback asked at ``--fps`` (60) of a 512 x 512 cutout around the star,
  and with the full 4096 x 4096 frame in view: frames put on screen per
  second over ``--seconds`` after a warm-up;
* pixel click -> ramp plot drawn, median of 15;
* open a local exposure -> first panes on screen;
* over a loopback S3 endpoint (``bench/range_s3_server.py``: ranged GETs of
  the same full-size file, as S3 answers them; moto re-reads the whole
  object on every GET, which would time the mock): playback of a 512 x 512
  cutout and the bytes fetched per new read (the tests assert the bytes
  against moto, ``tests/test_region_reads.py``);
* the process's peak and final RSS.

``--compare REF [REF ...]`` also measures the viewer at git commit REF
(e.g. ``main``) with this same script in the same run, under about the same
load: playback of the cutout and of the full frame (or the opens, with
``--open-only``).  (``--before``, a separate harness for the single-class
window before the model/controller redesign, is gone: it no longer ran;
``--compare`` measures any commit after the redesign with this harness.)

Usage (the data set from ``brightstar synth DIR``)::

    Xvfb :93 -screen 0 1920x1200x24 &
    DISPLAY=:93 python bench/bench_playback.py --data DIR [--scratch DIR] [--size 1280x800] [--fps 60] [--no-s3] [--compare main]
    DISPLAY=:93 python bench/bench_playback.py --data DIR --open-only [--compare REF]   # the opens only

Each playback reports the achieved rate and, load-independent, the UI
thread's CPU per frame on screen (``ui_cpu_ms_per_frame``: mean, median, 10th
percentile; 60 fps needs well under 16.7 ms), the render job's median time
(on its worker thread), and the CPU per frame of the whole viewer process
(``process_cpu_ms_per_frame``: UI and workers) and of the X server
(``x_server_cpu_ms_per_frame``, found by its ``:N`` in /proc): the cores are
shared by all three.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def find_dark(folder: Path) -> Path | None:
    """The first dark of a ``brightstar synth`` data set, or None."""
    from processing import synth

    darks = (synth.read_manifest(folder) or {}).get("darks", [])
    return folder / (darks[0]["path"] if isinstance(darks[0], dict) else darks[0]) if darks else None


def x_server_pid() -> int | None:
    """Process id of the X server of ``$DISPLAY`` (an Xvfb/Xorg started with ``:N``), if it is found in /proc."""
    display = os.environ.get("DISPLAY", "").split(".")[0]
    if not display.startswith(":"):
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and Path(argv[0].decode(errors="replace")).name in ("Xvfb", "Xorg", "X") and display.encode() in argv:
            return int(entry.name)
    return None


def process_cpu(pid: int | None = None) -> float:
    """CPU seconds (user + system) of process ``pid`` (None: this one, all threads)."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def find_illuminated(folder: Path) -> Path:
    from processing import synth

    manifest = synth.read_manifest(folder)
    if manifest is None:
        raise SystemExit(f"{folder}: no data set (write one with `brightstar synth {folder}`)")
    return folder / manifest["illuminated"]


class Bench:
    def __init__(self, app, size, trace_path: Path, endpoint_url=None):
        from brightstar_gui.trace import TraceWriter
        from brightstar_gui.widgets.main_window import MainWindow

        self.app = app
        self.trace = TraceWriter(trace_path)
        self.trace_path = trace_path
        self.w = MainWindow(endpoint_url=endpoint_url, trace=self.trace.write)
        self.w.resize(*size)
        self.w.show()
        self.pump(0.5)

    def pump(self, seconds: float) -> None:
        """Run the event loop for ``seconds`` (blocking when idle, as the application's loop does).

        A ``processEvents`` loop would spin the UI thread at 100 % of a core,
        taking it from the render jobs and the X server on a 2-core machine.
        """
        from PyQt6 import QtCore

        loop = QtCore.QEventLoop()
        QtCore.QTimer.singleShot(max(0, int(seconds * 1000)), loop.quit)
        loop.exec()

    def wait(self, cond, timeout=300.0) -> float:
        """Run the event loop until ``cond()`` (checked every 2 ms); seconds waited."""
        from PyQt6 import QtCore

        t0 = time.perf_counter()
        if cond():
            return 0.0
        loop = QtCore.QEventLoop()
        timer = QtCore.QTimer()
        timer.setInterval(2)
        state = {"timed_out": False}

        def check():
            if cond():
                loop.quit()
            elif time.perf_counter() - t0 > timeout:
                state["timed_out"] = True
                loop.quit()

        timer.timeout.connect(check)
        timer.start()
        loop.exec()
        timer.stop()
        if state["timed_out"]:
            raise TimeoutError("benchmark step timed out")
        return time.perf_counter() - t0

    def settled(self) -> bool:
        c = self.w.controller
        return c.last_render is not None and not c.render_inflight

    def idle(self) -> bool:
        """No background work left (references, cached-calibration lookup, mean slope): measure then."""
        pool = self.w.pool
        return self.settled() and not any(pool.busy(ch) for ch in ("context", "cached", "summary", "attach", "warm"))

    def open(self, uri: str) -> float:
        """Seconds from asking to open to the first panes on screen."""
        return self.open_timed(uri)["first_panes_s"]

    def open_timed(self, uri: str) -> dict:
        """Open ``uri`` as File > Open does; seconds and CPU to the first panes.

        ``first_panes_s``: from asking to open to the first frame applied to
        the panes (the window's ``frame_rendered``); ``painted_s``: to the end
        of the panes' next paint, when the pixels are on screen.
        ``ui_cpu_s``: the UI thread's CPU over that time, ``process_cpu_s``
        every thread's (the open job's star finding, the render, and whatever
        else runs then); with the load average, as wall time depends on it.
        """
        import resource

        from PyQt6 import QtCore

        c = self.w.controller
        first = {"t": None, "painted": None}
        viewport = self.w.panes.graphics.viewport()

        class Painted(QtCore.QObject):
            def eventFilter(self, obj, event):  # noqa: N802 - Qt name
                if event.type() == QtCore.QEvent.Type.Paint and first["t"] is not None and first["painted"] is None:
                    # Runs once this paint is done (a zero timer after the paint event).
                    QtCore.QTimer.singleShot(0, lambda: first.update(painted=first["painted"] or time.perf_counter()))
                return False

        def on_render(_s):
            if first["t"] is None:
                first["t"] = time.perf_counter()

        watcher = Painted()
        viewport.installEventFilter(watcher)
        self.w.frame_rendered.connect(on_render)
        ru0, cpu0 = resource.getrusage(resource.RUSAGE_SELF), time.thread_time()
        t0 = time.perf_counter()
        self.w.open_uri(uri)
        self.wait(lambda: first["t"] is not None)
        ui_cpu = time.thread_time() - cpu0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        self.wait(lambda: first["painted"] is not None, 10)
        self.w.frame_rendered.disconnect(on_render)
        viewport.removeEventFilter(watcher)
        self.wait(lambda: c.context is not None and self.settled())
        return {"first_panes_s": round(first["t"] - t0, 3), "painted_s": round(first["painted"] - t0, 3),
                "ui_cpu_s": round(ui_cpu, 3),
                "process_cpu_s": round(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 3),
                "load_avg": round(os.getloadavg()[0], 1)}

    def play(self, fps: float, warm: float, seconds: float) -> dict:
        """Play at ``fps``; the achieved rate over ``seconds`` after ``warm`` (trace and readout)."""
        c, m = self.w.controller, self.w.model
        m.fps = fps
        m.playing = True
        self.pump(warm)
        # UI-thread CPU per frame put on screen (load-independent, unlike the
        # rate): what the frame costs the UI thread, whoever else runs.
        cpu_at: list[float] = []
        on_frame = lambda *_: cpu_at.append(time.thread_time())  # noqa: E731
        self.w.frame_rendered.connect(on_frame)
        xpid = x_server_pid()
        t_start = time.monotonic()
        cpu0, proc0, x0 = time.thread_time(), process_cpu(), process_cpu(xpid) if xpid else None
        bytes0 = c.bytes_fetched()
        self.pump(seconds)
        t_end = time.monotonic()
        cpu1, proc1, x1 = time.thread_time(), process_cpu(), process_cpu(xpid) if xpid else None
        self.w.frame_rendered.disconnect(on_frame)
        readout = self.w.slider.rate_label.text().strip()
        bytes1 = c.bytes_fetched()
        m.playing = False
        self.wait(self.settled, 60)
        from brightstar_gui.trace import read_trace

        events = [e for e in read_trace(self.trace_path) if e["event"] == "rendered"]
        # Bytes moved per read shown for the first time (from the trace's cumulative count).
        seen, new_read_bytes, last_bytes = set(), [], None
        for e in events:
            if e["t"] >= t_start and e["frame"] not in seen and last_bytes is not None:
                new_read_bytes.append(e["bytes_fetched"] - last_bytes)
            if e["t"] >= t_start:
                seen.add(e["frame"])
            last_bytes = e["bytes_fetched"]
        rendered = [e for e in events if t_start <= e["t"] <= t_end]
        frames = {e["frame"] for e in rendered}
        rate = (len(rendered) - 1) / (rendered[-1]["t"] - rendered[0]["t"]) if len(rendered) > 2 else 0.0
        last = rendered[-1] if rendered else {}
        deltas = sorted(1000 * (b - a) for a, b in zip(cpu_at, cpu_at[1:]))
        job_ms = sorted(1000 * e["seconds"] for e in rendered if "seconds" in e)
        ui = {"ui_cpu_ms_per_frame": round(1000 * (cpu1 - cpu0) / max(1, len(cpu_at)), 2),
              "ui_cpu_ms_per_frame_median": round(statistics.median(deltas), 2) if deltas else None,
              "ui_cpu_ms_per_frame_p10": round(deltas[len(deltas) // 10], 2) if deltas else None,
              "render_job_ms_median": round(statistics.median(job_ms), 2) if job_ms else None,
              # Every thread of the viewer (UI + render workers), and the X server: all share the cores.
              "process_cpu_ms_per_frame": round(1000 * (proc1 - proc0) / max(1, len(cpu_at)), 2),
              "x_server_cpu_ms_per_frame": round(1000 * (x1 - x0) / max(1, len(cpu_at)), 2) if xpid else None,
              "load_avg": round(os.getloadavg()[0], 1)}
        return {"asked_fps": fps, "achieved_fps": round(rate, 1), "readout": readout, **ui, "frames_shown": len(rendered),
                "distinct_frames": len(frames), "panes": last.get("panes"),
                "bytes_per_frame": round((bytes1 - bytes0) / max(1, len(rendered))) if bytes1 > bytes0 else 0,
                "bytes_per_new_read_max": max(new_read_bytes, default=0),
                "bytes_per_new_read_median": int(statistics.median(new_read_bytes)) if new_read_bytes else 0}

    def clicks(self, star, n=15) -> dict:
        times = []
        for i in range(n):
            done = {"t": None}

            def on_ramp():
                self.w.ramp.plot.viewport().repaint()
                done["t"] = time.perf_counter()

            self.w.ramp_plotted.connect(on_ramp)
            t = time.perf_counter()
            self.w.panes.click_pixel(star[0] - 40 + 5 * i, star[1] + 3 * i)
            self.wait(lambda: done["t"] is not None, 30)
            self.w.ramp_plotted.disconnect(on_ramp)
            times.append((time.perf_counter() - t) * 1000 if done["t"] is None else (done["t"] - t) * 1000)
        return {"median_ms": round(statistics.median(times[2:]), 1), "max_ms": round(max(times[2:]), 1)}

    def close(self):
        self.w.close()
        self.pump(0.2)
        self.trace.close()


def measure_ref(ref: str, args, scratch: Path) -> dict:
    """This script's playback measurements (cutout, full frame) of the viewer at commit ``ref``.

    The same harness, the tree of ``ref`` first on the path: compares a
    change with the commit before it under the same load.
    """
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        out = Path(tmp) / "result.json"
        env = dict(os.environ, PYTHONPATH=tmp)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--data", str(args.data), "--scratch", str(scratch / ref),
               "--fps", str(args.fps), "--warm", str(args.warm), "--seconds", str(args.seconds), "--size", args.size,
               "--no-s3", "--playback-only", "--json", str(out)] + (["--open-only"] if args.open_only else [])
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(f"the viewer at {ref} failed: {proc.stderr[-2000:]}")
        res = json.loads(out.read_text())
        keys = ("open_to_first_panes_s", "open", "open_dark", "open_again", "cutout_512", "full_frame")
        return {"ref": ref, **{k: res[k] for k in keys if k in res}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="a `brightstar synth` data set (full size)")
    p.add_argument("--size", default="1280x800", help="window size WxH")
    p.add_argument("--fps", type=float, default=60.0)
    p.add_argument("--warm", type=float, default=2.0)
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--no-s3", action="store_true")
    p.add_argument("--compare", nargs="+", default=[], metavar="REF",
                   help="also measure playback of the viewer at git commit(s) REF with this same script (e.g. HEAD~1)")
    p.add_argument("--playback-only", action="store_true", help="skip the pixel clicks")
    p.add_argument("--open-only", action="store_true",
                   help="only the opens: the exposure (first of the process), a dark of the set, the exposure again")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--scratch", type=Path, default=None,
                   help="folder for traces, config and cache (default DATA/bench-playback; the data set may be read-only)")
    args = p.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        raise SystemExit("bench_playback needs an X display (run it under Xvfb: DISPLAY=:N)")
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    scratch = args.scratch or args.data / "bench-playback"
    scratch.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("BRIGHTSTAR_CONFIG_DIR", str(scratch / "config"))
    os.environ.setdefault("BRIGHTSTAR_CACHE_DIR", str(scratch / "cache"))
    size = tuple(int(v) for v in args.size.lower().split("x"))
    uri = find_illuminated(args.data)

    import pyqtgraph as pg
    from PyQt6 import QtWidgets

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["bench"])
    from brightstar_gui.models import Cutout

    peak = {"rss": rss_mb()}
    stop = threading.Event()

    def sample():
        while not stop.wait(0.05):
            peak["rss"] = max(peak["rss"], rss_mb())

    threading.Thread(target=sample, daemon=True).start()
    results: dict = {"platform": app.platformName(), "window": list(size), "load_avg_before": os.getloadavg()}
    b = Bench(app, size, scratch / "trace.jsonl")
    w, c = b.w, b.w.controller
    b.wait(lambda: not w.pool.busy("warm"), 60)  # a user opens a file after the window is up
    results["open"] = b.open_timed(str(uri))  # the first open of the process
    results["open_to_first_panes_s"] = results["open"]["first_panes_s"]
    print("open -> first panes:", results["open"], flush=True)
    if args.open_only:
        # Then a dark of the same set, and the exposure again (opened before: warm).
        dark = find_dark(args.data)
        if dark is not None:
            results["open_dark"] = b.open_timed(str(dark))
            print("open a dark -> first panes:", results["open_dark"], flush=True)
        results["open_again"] = b.open_timed(str(uri))
        print("open again -> first panes:", results["open_again"], flush=True)
        b.close()
        for ref in args.compare:
            results.setdefault("compare", []).append(measure_ref(ref, args, scratch))
            print(f"viewer at {ref}:", results["compare"][-1], flush=True)
        return finish(results, args, stop)
    star = c.dataset.star
    n, h, wd = c.dataset.shape
    # The mean slope of the cutout first (the ratio pane is then drawn too).
    w.model.cutout = Cutout(star[0], star[1], 256, True)
    b.wait(lambda: c.mean_slope("raw", w.model.region()) is not None and b.idle(), 600)
    results["cutout_512"] = b.play(args.fps, args.warm, args.seconds)
    print("cutout 512 x 512:", results["cutout_512"], flush=True)
    if not args.playback_only:
        results["pixel_click_to_ramp"] = b.clicks(star)
        print("pixel click -> ramp:", results["pixel_click_to_ramp"], flush=True)
    w.model.cutout = Cutout(star[0], star[1], 256, False)
    b.wait(lambda: c.last_render.request.region == (0, h, 0, wd) and b.settled(), 120)
    # The full frame's mean slope (and saturation onset) runs in the background first.
    t0 = time.perf_counter()
    b.wait(lambda: c.summary_for("raw", (0, h, 0, wd)) is not None and b.idle(), 1200)
    results["full_frame_mean_slope_s"] = round(time.perf_counter() - t0, 1)
    b.pump(0.5)
    results["full_frame"] = b.play(args.fps, args.warm, args.seconds)
    print("full frame in view:", results["full_frame"], flush=True)
    results["rss_mb"] = {"end": round(rss_mb()), "peak": round(peak["rss"])}
    b.close()

    if not args.no_s3:
        from range_s3_server import RangeServer

        with RangeServer({"bench/" + uri.name: uri}) as server:
            s3_uri = f"s3://bench/{uri.name}"
            b = Bench(app, size, scratch / "trace-s3.jsonl", endpoint_url=server.endpoint_url)
            c = b.w.controller
            b.wait(lambda: not b.w.pool.busy("warm"), 60)
            results["s3_open_to_first_panes_s"] = round(b.open(s3_uri), 3)
            b.w.model.cutout = Cutout(2048, 2048, 256, True)
            b.wait(lambda: b.settled() and c.last_render.request.region == b.w.model.region(), 120)
            b.wait(lambda: b.idle(), 600)
            results["s3_cutout_512"] = b.play(args.fps, args.warm, args.seconds)
            print("S3 cutout 512 x 512:", results["s3_cutout_512"], flush=True)
            b.close()
    for ref in args.compare:
        results.setdefault("compare", []).append(measure_ref(ref, args, scratch))
        print(f"viewer at {ref}:", results["compare"][-1], flush=True)
    return finish(results, args, stop)


def finish(results: dict, args, stop: threading.Event) -> int:
    """Stop the RSS sampler, print the results (and write ``--json``)."""
    stop.set()
    results["load_avg_after"] = os.getloadavg()
    print(json.dumps(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
