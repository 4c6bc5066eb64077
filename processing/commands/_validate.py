"""Argument checks shared by the commands: types for argparse and checks against the file.

Every bad argument is a :class:`~processing.errors.UsageError` (or an
``argparse`` type error) with a message naming the option and what would be
accepted; :func:`processing.cli.main` prints it as one line
``brightstar: error: ...`` with exit status 2.  Output locations are checked
before any work starts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError


def frame_list(text: str) -> list[int]:
    """``--frames``: comma-separated non-negative integers, at least one."""
    parts = [p.strip() for p in str(text).split(",")]
    if not text.strip() or any(not p for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated frame numbers, e.g. 2,27,54")
    out = []
    for p in parts:
        try:
            k = int(p)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{p!r} is not a frame number") from None
        if k < 0:
            raise argparse.ArgumentTypeError(f"frame numbers start at 0, not {k}")
        out.append(k)
    return out


def cutout_spec(text: str):
    """``--cutout``: ``ROW,COL,HALF`` (HALF > 0) or ``full``."""
    if text == "full":
        return "full"
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected ROW,COL,HALF (three integers) or 'full'") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"{text!r}: expected ROW,COL,HALF (three integers), got {len(values)}")
    if values[2] <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: HALF must be a positive number of pixels, not {values[2]}")
    return tuple(values)


def check_frame(option: str, k: int, n: int) -> None:
    """``k`` must be a frame of an exposure of ``n`` frames."""
    if not 0 <= k < n:
        raise UsageError(f"{option} {k} is out of range: the exposure has {n} frames (0-{n - 1})")


def check_cutout(spec, height: int, width: int) -> None:
    """The cutout's centre must lie on the frame."""
    if spec in (None, "full"):
        return
    row, col, _ = spec
    if not (0 <= row < height and 0 <= col < width):
        raise UsageError(f"--cutout {row},{col},{spec[2]}: the centre is outside the {height} x {width} frame")


def check_output_file(path: Path, suffixes: tuple[str, ...], what: str) -> Path:
    """An output file name with one of ``suffixes``, in a folder that can be written; checked before work."""
    from ..writers import check_output_dir

    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path}: is a folder; give a file name for {what} (e.g. {path / ('out' + suffixes[0])})")
    suffix = path.suffix.lower()
    if suffix not in suffixes:
        if not path.suffix:
            raise UsageError(f"{path}: has no suffix; {what} needs one of {', '.join(suffixes)}")
        raise UsageError(f"{path}: '{path.suffix}' is not a format for {what}; use {', '.join(suffixes)}")
    check_output_dir(path.parent if str(path.parent) else Path("."), what)
    return path
