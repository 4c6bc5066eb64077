"""``brightstar``: the command-line face of :mod:`processing`.

Each sub-command lives in its own module of :mod:`processing.commands` and
exposes ``register(subparsers)``; modules are discovered, so adding a command
means adding a file.  Commands print progress on stderr (tqdm) and report
bad input as one line, ``brightstar: error: <file>: <problem>``, with exit
status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from . import __version__, commands
from .errors import ExposureError, OutputError, ReferenceFileError, UsageError
from .progress import Cancelled

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``brightstar: error: ...``, exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse's interface
        self.exit(2, f"brightstar: error: {message} (see 'brightstar {self._command()}--help')\n")

    def _command(self) -> str:
        parts = self.prog.split()[1:]
        return " ".join(parts) + " " if parts else ""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="brightstar",
        description="Roman WFI TVAC bright-star ramps: synthetic data, lazy reading, diagnostics and calibration.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more messages on stderr (-v info, -vv debug); the log file is always written")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def _one_line(err: BaseException) -> int:
    text = " ".join(str(err).split())  # one line, whatever the message held
    print(f"brightstar: error: {text}", file=sys.stderr)
    log.info("exit 2: %s", text)  # the log file keeps it; stderr has it once
    return 2


def main(argv: list[str] | None = None) -> int:
    from . import logs

    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(args.verbose, "brightstar")
    log.info("brightstar %s: %s", __version__, " ".join(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args) or 0)
    except (ExposureError, ReferenceFileError, OutputError, UsageError) as err:
        return _one_line(err)
    except OSError as err:  # ENOSPC, EROFS, EACCES from any writer: said plainly, no traceback
        from .writers import disk_full_error

        log.debug("OSError", exc_info=True)
        return _one_line(disk_full_error(err, err.filename or ".", None))
    except Cancelled:
        print("brightstar: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("brightstar: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
