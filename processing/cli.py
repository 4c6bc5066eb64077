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
import pkgutil
import sys

from . import __version__, commands
from .errors import ExposureError, ReferenceFileError
from .progress import Cancelled


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brightstar",
        description="Roman WFI TVAC bright-star ramps: synthetic data, lazy reading, diagnostics and calibration.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ExposureError, ReferenceFileError) as err:
        print(f"brightstar: error: {err}", file=sys.stderr)
        return 2
    except Cancelled:
        print("brightstar: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("brightstar: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
