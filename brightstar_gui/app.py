"""``brightstar-gui [URI] [--frame K] [--cutout ROW,COL,HALF | --full-frame] [--calibrated] [--play FPS] [--trace FILE]``.

Start the viewer, optionally on an exposure, a frame and a region (like
DS9's command-line options); ``--play`` starts playback at a rate;
``--trace`` writes one JSON line per event (:mod:`brightstar_gui.trace`) for
users and benchmarks alike.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path


def _cutout(text: str) -> tuple[int, int, int]:
    try:
        row, col, half = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--cutout takes ROW,COL,HALF (three integers), not {text!r}") from None
    if row < 0 or col < 0 or half < 4:
        raise argparse.ArgumentTypeError(f"--cutout {text}: ROW and COL must be >= 0 and HALF >= 4")
    return row, col, half


def _fps(text: str) -> float:
    try:
        fps = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--play takes frames per second, not {text!r}") from None
    if not 0.5 <= fps <= 120:
        raise argparse.ArgumentTypeError(f"--play {text}: between 0.5 and 120 frames per second")
    return fps


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="brightstar-gui",
        description="Interactive viewer for Roman WFI TVAC bright-star ramp data.",
    )
    p.add_argument("uri", nargs="?", help="exposure to open: a local ASDF file or s3://bucket/key")
    p.add_argument("--frame", type=int, default=None, metavar="K", help="read to show first (clamped to the ramp)")
    region = p.add_mutually_exclusive_group()
    region.add_argument("--cutout", type=_cutout, default=None, metavar="ROW,COL,HALF",
                        help="show the cutout centred on (ROW, COL), HALF pixels each way")
    region.add_argument("--full-frame", action="store_true", help="show the full frame, not the cutout")
    p.add_argument("--calibrated", action="store_true",
                   help="show the calibrated ramp (a cached calibration, else calibrate in the background)")
    p.add_argument("--play", type=_fps, default=None, metavar="FPS", help="start playback at FPS frames per second")
    p.add_argument("--trace", default=None, metavar="FILE",
                   help='write one JSON line per event ("opened", "rendered", "error") to FILE')
    p.add_argument("--demo", action="store_true",
                   help="open the synthetic demo set (written into the user cache on first use)")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (a mirror or a test server)")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="more messages on stderr (-v info, -vv debug); the log file is always written")
    # Smaller demo sets for quick looks and screenshots (hidden: not for users).
    p.add_argument("--demo-frames", type=int, default=55, help=argparse.SUPPRESS)
    p.add_argument("--demo-size", type=int, default=4096, help=argparse.SUPPRESS)
    p.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    p.add_argument("--size", default=None, help=argparse.SUPPRESS)  # WxH of the window, for benchmarks
    return p


def names_s3_prefix(uri: str) -> bool:
    """Whether ``uri`` names an S3 bucket or folder (``s3://b``, ``s3://b/``, ``s3://b/p/``), not an object."""
    if not uri.lower().startswith("s3://"):
        return False
    rest = uri[5:]
    return bool(rest) and ("/" not in rest.rstrip("/") or rest.endswith("/"))


def start(window, args, options) -> None:
    """What the command line asks for once the window shows: a folder listed, an exposure opened, or the demo.

    A local folder given where an exposure is expected (``brightstar-gui
    DIR``) is listed in the Exposures dock as ``--folder DIR`` would, not
    opened as a file (which could only fail: "is a directory"); likewise an
    S3 prefix (``s3://BUCKET/`` or ``s3://BUCKET/PREFIX/``) is listed in
    the S3 tab.
    """
    if args.folder:
        window.scan_folder(args.folder)
    uri = args.uri
    if uri and "://" not in uri and Path(uri).is_dir():
        window.scan_folder(uri)
    elif uri and names_s3_prefix(uri):
        window.show_s3_location(uri)
    elif uri:
        window.open_uri(uri, options)
    elif args.demo:
        window.start_demo(frames=args.demo_frames, size=args.demo_size)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.demo_size < 64 or args.demo_size % 32 or args.demo_frames < 2:
        print("brightstar-gui: --demo-size must be a multiple of 32 >= 64 and --demo-frames >= 2", file=sys.stderr)
        return 2
    # Qt aborts (status 134) with a misleading message when its platform
    # plugin cannot load: say what is missing and how to install it.
    from .platform_check import check

    problem = check()
    if problem is not None:
        print(problem.message(), file=sys.stderr)
        return 2

    from processing import logs

    logs.setup(args.verbose, "brightstar-gui")

    import pyqtgraph as pg
    from PyQt6 import QtCore, QtWidgets

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    QtCore.QCoreApplication.setOrganizationName("brightstar-gui")
    QtCore.QCoreApplication.setApplicationName("brightstar-gui")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])

    from .controllers import StartOptions
    from .widgets.main_window import MainWindow

    window = MainWindow(endpoint_url=args.endpoint_url)
    from . import crash_guard, verify_status

    window._crash_guard = crash_guard.install(window)  # an exception in a slot: a box, never an abort
    window._verify_status = verify_status.install(window)  # checksums checked after the first frame
    if args.size:
        w, h = (int(v) for v in args.size.lower().split("x"))
        window.resize(w, h)
    trace = None
    if args.trace:
        from .trace import attach

        trace = attach(window, args.trace)
    # Ctrl+C (or SIGTERM from a benchmark) closes the window, and so joins the workers.
    # Installed before anything can open a modal box: a message box's own event loop
    # (a bad file on the command line) must not keep the signal from being seen.
    signal.signal(signal.SIGINT, lambda *_: _shut_down(app, window))
    signal.signal(signal.SIGTERM, lambda *_: _shut_down(app, window))
    timer = QtCore.QTimer()
    timer.start(250)
    timer.timeout.connect(lambda: None)  # lets Python see the signal
    window.show()
    options = StartOptions(frame=args.frame, cutout=args.cutout, full_frame=args.full_frame,
                           calibrated=args.calibrated, play_fps=args.play)
    if args.play:
        def start_playing(*_):
            window.model.fps = args.play
            window.model.playing = True
        window.context_loaded.connect(start_playing)
    start(window, args, options)
    code = 0 if _SHUTDOWN["asked"] else app.exec()
    if trace is not None:
        trace.write("exit", code=int(code))
        trace.close()
    return code


def _shut_down(app: QtWidgets.QApplication, window) -> None:
    """Close any modal box, then the window (which joins the workers), then leave the event loop."""
    while (modal := app.activeModalWidget()) is not None and modal is not window:
        modal.close()
        if app.activeModalWidget() is modal:  # a box that refuses to close
            break
    window.close()
    _SHUTDOWN["asked"] = True  # a signal handled in a nested loop, before app.exec(), must not be lost
    app.quit()


#: Set when a signal asked the program to stop (read before the main event loop starts).
_SHUTDOWN = {"asked": False}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
