"""Smoke test of the real program on the real X11 (xcb) platform, under Xvfb.

``.venv/bin/python .ci/xcb_smoke.py [--out DIR]`` (``.ci/run`` runs it):

1. starts ``Xvfb`` on a free display (``-displayfd``);
2. starts ``brightstar-gui --demo`` (a small demo set, 6 reads of 256 x 256)
   with ``QT_QPA_PLATFORM=xcb`` and ``--trace``, in scratch cache/config dirs;
3. waits for the exposure to be shown: a ``rendered`` trace event, then a
   screenshot of the root window in which every pane's area (its place on
   screen, from the trace) holds an image, not a uniform colour;
4. closes the window the way a window manager does, a ``WM_DELETE_WINDOW``
   client message (python-xlib), and expects exit status 0.

Every wait has a timeout; Xvfb and the program are killed whatever happens.
Exit status 0 on success, 1 with a message on any failure.  The screenshot
and the program's output are kept in ``--out`` (default: a temporary dir).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

START_TIMEOUT = 20.0  # s, Xvfb answering
SHOWN_TIMEOUT = 90.0  # s, demo written and panes on screen
EXIT_TIMEOUT = 30.0  # s, after the close request


class SmokeFailure(Exception):
    pass


def start_xvfb(log) -> tuple[subprocess.Popen, str]:
    """Xvfb on the first free display; returns (process, ":N")."""
    if shutil.which("Xvfb") is None:
        raise SmokeFailure("Xvfb is not installed (Debian: apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1920x1200x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=log, stderr=log, start_new_session=True)
    os.close(write_fd)
    deadline = time.monotonic() + START_TIMEOUT
    digits = b""
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        os.set_blocking(pipe.fileno(), False)
        while time.monotonic() < deadline and not digits.endswith(b"\n"):
            if proc.poll() is not None:
                raise SmokeFailure(f"Xvfb exited with status {proc.returncode}")
            try:
                chunk = pipe.read(16)
            except BlockingIOError:
                chunk = None
            if chunk:
                digits += chunk
            else:
                time.sleep(0.05)
    if not digits.strip().isdigit():
        raise SmokeFailure(f"Xvfb did not report its display within {START_TIMEOUT:.0f} s")
    return proc, ":" + digits.decode().strip()


def read_events(path: Path) -> list[dict]:
    out = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line still being written
    return out


def screenshot(disp) -> np.ndarray:
    """The root window as (H, W, 3) uint8 RGB."""
    from Xlib import X

    root = disp.screen().root
    geom = root.get_geometry()
    raw = root.get_image(0, 0, geom.width, geom.height, X.ZPixmap, 0xFFFFFFFF)
    pixels = np.frombuffer(raw.data, np.uint8).reshape(geom.height, geom.width, 4)  # BGRX at depth 24
    return pixels[..., 2::-1].copy()


def pane_report(image: np.ndarray, screen: dict) -> dict[str, tuple[bool, str]]:
    """For each pane: (holds an image?, why) from its screen rectangle."""
    out = {}
    for name, (left, top, width, height) in screen.items():
        if width < 16 or height < 16:
            out[name] = (False, f"no image drawn ({width} x {height} px)")
            continue
        patch = image[max(top, 0) : top + height, max(left, 0) : left + width].reshape(-1, 3)
        colours = len(np.unique(patch.view([("r", np.uint8), ("g", np.uint8), ("b", np.uint8)])))
        spread = float(patch.astype(np.float32).std())
        # Raw and difference are noisy images; the mask shows the saturated
        # core over its background: two colours at least, never one.
        need = 50 if name in ("raw", "difference") else 2
        out[name] = (colours >= need, f"{colours} colours, std {spread:.1f}, {width} x {height} px")
    return out


def find_window(disp, pid: int):
    """The program's top-level window that speaks WM_DELETE_WINDOW."""
    net_wm_pid = disp.intern_atom("_NET_WM_PID")
    wm_delete = disp.intern_atom("WM_DELETE_WINDOW")
    for win in disp.screen().root.query_tree().children:
        try:
            prop = win.get_full_property(net_wm_pid, 0)
            if prop is None or int(prop.value[0]) != pid:
                continue
            if wm_delete in (win.get_wm_protocols() or []):
                attrs = win.get_attributes()
                if attrs.map_state != 0:  # viewable
                    return win
        except Exception:  # noqa: BLE001 - windows come and go
            continue
    return None


def send_close(disp, win) -> None:
    """What a window manager does when the user clicks the close button."""
    from Xlib import X
    from Xlib.protocol import event

    wm_protocols = disp.intern_atom("WM_PROTOCOLS")
    wm_delete = disp.intern_atom("WM_DELETE_WINDOW")
    msg = event.ClientMessage(window=win, client_type=wm_protocols, data=(32, [wm_delete, X.CurrentTime, 0, 0, 0]))
    win.send_event(msg, event_mask=X.NoEventMask)
    disp.flush()


def run_smoke(out: Path) -> None:
    from PIL import Image
    from Xlib import display as xdisplay

    gui = Path(sys.executable).with_name("brightstar-gui")
    if not gui.exists():
        raise SmokeFailure(f"{gui} not found: install the package into this venv first")
    out.mkdir(parents=True, exist_ok=True)
    trace = out / "trace.jsonl"
    xvfb_log = open(out / "xvfb.log", "wb")
    gui_log = open(out / "gui.log", "wb")
    xvfb = gui_proc = None
    t0 = time.monotonic()
    try:
        xvfb, name = start_xvfb(xvfb_log)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "WAYLAND"))}
        env.update(DISPLAY=name, QT_QPA_PLATFORM="xcb", BRIGHTSTAR_CACHE_DIR=str(out / "cache"),
                   BRIGHTSTAR_CONFIG_DIR=str(out / "config"))
        cmd = [str(gui), "--demo", "--demo-frames", "6", "--demo-size", "256", "--trace", str(trace)]
        print(f"xcb smoke: DISPLAY={name} QT_QPA_PLATFORM=xcb {' '.join(cmd)}", flush=True)
        gui_proc = subprocess.Popen(cmd, env=env, stdout=gui_log, stderr=subprocess.STDOUT, start_new_session=True)
        disp = xdisplay.Display(name)

        deadline = time.monotonic() + SHOWN_TIMEOUT
        seen = 0
        last_report = None
        shown_at = None
        while shown_at is None:
            if gui_proc.poll() is not None:
                raise SmokeFailure(f"brightstar-gui exited with status {gui_proc.returncode} before showing the demo")
            if time.monotonic() > deadline:
                raise SmokeFailure(f"the demo exposure was not on screen within {SHOWN_TIMEOUT:.0f} s; "
                                   f"last pane check: {last_report}")
            events = read_events(trace)
            errors = [e for e in events if e["event"] == "error"]
            if errors:
                raise SmokeFailure(f"the window showed an error: {errors[0].get('message')}")
            rendered = [e for e in events if e["event"] == "rendered"]
            if len(rendered) > seen or (rendered and time.monotonic() - t0 > 5 and last_report is not None):
                seen = len(rendered)
                time.sleep(0.5)  # the upload is painted on the next turns of the event loop
                image = screenshot(disp)
                report = pane_report(image, rendered[-1].get("screen", {}))
                last_report = {k: why for k, (_, why) in report.items()}
                if len(report) == 4 and all(ok for ok, _ in report.values()):
                    shown_at = time.monotonic()
                    Image.fromarray(image).save(out / "xcb_smoke.png")
                    for k, (_, why) in report.items():
                        print(f"xcb smoke: pane {k}: {why}", flush=True)
            time.sleep(0.25)
        opened = next(e for e in read_events(trace) if e["event"] == "opened")
        print(f"xcb smoke: demo exposure on screen {shown_at - t0:.1f} s after start ({opened['uri']})", flush=True)

        win = find_window(disp, gui_proc.pid)
        if win is None:
            raise SmokeFailure("no top-level window of brightstar-gui with WM_DELETE_WINDOW on the display")
        send_close(disp, win)
        try:
            code = gui_proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise SmokeFailure(f"brightstar-gui did not exit within {EXIT_TIMEOUT:.0f} s of the close request") from None
        if code != 0:
            raise SmokeFailure(f"brightstar-gui exited with status {code} after the close request")
        log = (out / "gui.log").read_text(errors="replace")
        if "Traceback" in log:
            raise SmokeFailure("brightstar-gui printed a traceback (see gui.log)")
        print(f"xcb smoke: closed by WM_DELETE_WINDOW, exit status 0, {time.monotonic() - t0:.1f} s in all", flush=True)
    finally:
        for proc in (gui_proc, xvfb):
            if proc is not None and proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(10)
        xvfb_log.close()
        gui_log.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="keep the screenshot, trace and logs here")
    args = p.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="xcb-smoke-"))
    try:
        run_smoke(out)
    except SmokeFailure as err:
        print(f"xcb smoke: FAILED: {err}", file=sys.stderr)
        log = out / "gui.log"
        if log.exists():
            print("---- brightstar-gui output (last 40 lines) ----", file=sys.stderr)
            print("\n".join(log.read_text(errors="replace").splitlines()[-40:]), file=sys.stderr)
        print(f"xcb smoke: artifacts in {out}", file=sys.stderr)
        return 1
    print(f"xcb smoke: passed; screenshot {out / 'xcb_smoke.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
