"""``brightstar-gui [URI] [--demo] [--endpoint-url URL] [--trace FILE]``: start the viewer."""

from __future__ import annotations

import argparse
import os
import signal
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="brightstar-gui",
        description="Interactive viewer for Roman WFI TVAC bright-star ramp data.",
    )
    p.add_argument("uri", nargs="?", help="exposure to open: a local ASDF file or s3://bucket/key")
    p.add_argument("--demo", action="store_true",
                   help="open the synthetic demo set (written into the user cache on first use)")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (a mirror or a test server)")
    p.add_argument("--trace", default=None, metavar="FILE",
                   help="write one JSON line per event (shown, opened, rendered, progress, error) to FILE")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="more messages on stderr (-v info, -vv debug); the log file is always written")
    # Smaller demo sets for quick looks and screenshots (hidden: not for users).
    p.add_argument("--demo-frames", type=int, default=55, help=argparse.SUPPRESS)
    p.add_argument("--demo-size", type=int, default=4096, help=argparse.SUPPRESS)
    p.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    return p


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

    from .main_window import MainWindow

    window = MainWindow(endpoint_url=args.endpoint_url)
    from . import crash_guard, verify_status

    window._crash_guard = crash_guard.install(window)  # an exception in a slot: a box, never an abort
    window._verify_status = verify_status.install(window)  # checksums checked after the first frame
    trace = None
    if args.trace:
        from .trace import attach

        trace = attach(window, args.trace)
    window.show()
    if args.folder:
        window.scan_folder(args.folder)
    if args.uri:
        window.open_uri(args.uri)
    elif args.demo:
        window.start_demo(frames=args.demo_frames, size=args.demo_size)
    # Ctrl+C in the terminal closes the window (and so joins the workers).
    signal.signal(signal.SIGINT, lambda *_: window.close())
    timer = QtCore.QTimer()
    timer.start(250)
    timer.timeout.connect(lambda: None)  # lets Python see the signal
    code = app.exec()
    if trace is not None:
        trace.write("exit", code=int(code))
        trace.close()
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
