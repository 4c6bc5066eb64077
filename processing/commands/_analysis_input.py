"""What the analysis commands share: the exposure, its saturation test, the output tables."""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExposureError, ReferenceFileError


def box_argument(text: str) -> tuple[int, int, int, int]:
    """argparse type of ``Y0,Y1,X0,X1``."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"expected four integers Y0,Y1,X0,X1; got {text!r}")
    return values  # type: ignore[return-value]


def point_argument(text: str) -> tuple[float, float]:
    """argparse type of ``Y,X`` (pixels, may be fractional)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 2 or not all(np.isfinite(values)):
        raise argparse.ArgumentTypeError(f"expected two numbers Y,X; got {text!r}")
    return values  # type: ignore[return-value]


def add_input_arguments(p: argparse.ArgumentParser) -> None:
    """URI, --calibrated, --references, --endpoint-url, --quiet."""
    p.add_argument("uri", help="exposure: local path or s3://bucket/key (raw, or a calibrated RampModel)")
    p.add_argument("--calibrated", action="store_true",
                   help="use the calibrated ramp (romancal's groupdq SATURATED flag) instead of raw DN against the "
                        "saturation reference; a raw URI is calibrated first (cached). A RampModel URI always is.")
    p.add_argument("--references", type=Path, default=None, metavar="DIR",
                   help="folder of reference files (default: those of the synthetic set holding URI, "
                        "BRIGHTSTAR_REFS_DIR, CRDS when configured)")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (mirrors, tests)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@dataclass
class AnalysisInput:
    """An opened exposure and how to test it for saturation.

    Attributes
    ----------
    exposure : Exposure
        What the numbers are read from (the calibrated ramp with ``--calibrated``).
    raw : Exposure or None
        The raw exposure, when the input was raw.
    frames : frame source
        What the saturation test reads (the raw DN, or the groupdq flags).
    thresholds : (H, W) array, DN
    read_times : (N,) float64, s (NaN if unknown)
    """

    exposure: Any
    raw: Any
    frames: Any
    thresholds: np.ndarray
    read_times: np.ndarray


def saturation_thresholds(exposure, references: Path | None, endpoint_url: str | None = None) -> np.ndarray:
    """The saturation reference's ``data`` for a raw exposure, via the package's one reference resolution."""
    from ..calibrate.references import resolve
    from ..figures import load_reference_array

    refset = resolve(exposure, references, types=("saturation",), endpoint_url=endpoint_url)
    if refset is None or "saturation" not in refset.paths:
        raise ReferenceFileError(f"{exposure.uri}: no saturation reference file found to tell saturated pixels; "
                                 "pass --references DIR (or use --calibrated)")
    return load_reference_array(refset.paths["saturation"], "data").astype(np.float32)


@contextlib.contextmanager
def open_input(args) -> Iterator[AnalysisInput]:
    """Open ``args.uri`` (calibrating it first for ``--calibrated``) and close what was opened."""
    from ..diagnostics.saturated import saturation_input
    from ..io import open_exposure
    from ._progress_bar import run_with_bar

    opened = []
    try:
        first = open_exposure(args.uri, endpoint_url=args.endpoint_url)
        opened.append(first)
        raw = None if "groupdq" in first.arrays else first
        exposure = first
        if args.calibrated and raw is not None:
            from ..calibrate import calibrate_job
            from ..calibrate.whole_cube import CalibrationFailed
            from ..crds_env import PipelineExit

            try:
                result = run_with_bar(calibrate_job(args.uri, refs=args.references, endpoint_url=args.endpoint_url),
                                      "calibrate", quiet=args.quiet)
            except (CalibrationFailed, PipelineExit) as err:  # the shared handler knows only bad-input errors
                raise ExposureError(args.uri, f"calibration failed: {err}") from err
            exposure = open_exposure(result.path)
            opened.append(exposure)
        thresholds = None
        if "groupdq" not in exposure.arrays:
            thresholds = saturation_thresholds(exposure, args.references, args.endpoint_url)
        frames, thresholds = saturation_input(exposure, thresholds)
        times = exposure.read_times
        if times is None and raw is not None:
            times = raw.read_times
        n = exposure.shape[0]
        yield AnalysisInput(exposure, raw, frames, thresholds,
                            np.full(n, np.nan) if times is None else np.asarray(times, dtype=np.float64))
    finally:
        for exp in reversed(opened):
            exp.close()


def checked_box(box, exposure) -> tuple[int, int, int, int] | None:
    """``--region`` checked against the exposure, as an ExposureError naming the file."""
    if box is None:
        return None
    from ..diagnostics.frames import check_box

    try:
        return check_box(box, exposure.shape, "--region")
    except ValueError as err:
        raise ExposureError(exposure.uri, str(err)) from None


def write_csv(path: Path, columns: dict[str, Any], formats: dict[str, str] | None = None) -> Path:
    """Write equal-length columns as CSV, atomically (temporary file, then rename).

    Floats are written with 10 significant digits unless ``formats`` gives
    a format for the column; NaN is written as ``nan``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(columns)
    data = [np.asarray(columns[n]) for n in names]
    formats = formats or {}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(names)
            for i in range(len(data[0]) if data else 0):
                writer.writerow([_cell(col[i], formats.get(name)) for name, col in zip(names, data)])
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _cell(value, fmt: str | None) -> str:
    if fmt is not None:
        return format(value, fmt)
    if isinstance(value, (np.integer, int)):
        return str(int(value))
    return format(float(value), ".10g")


def print_table(columns: dict[str, Any]) -> None:
    """The same table on stdout, aligned, for a reader."""
    names = list(columns)
    rows = [[_cell(v, ".6g" if np.asarray(columns[n]).dtype.kind == "f" else None) for n, v in zip(names, row)]
            for row in zip(*(np.asarray(columns[n]) for n in names))]
    widths = [max(len(n), *(len(r[i]) for r in rows)) if rows else len(n) for i, n in enumerate(names)]
    print("  ".join(n.rjust(wd) for n, wd in zip(names, widths)))
    for r in rows:
        print("  ".join(c.rjust(wd) for c, wd in zip(r, widths)))


def emit_table(columns: dict[str, Any], csv_path: Path | None) -> None:
    """The command's result: written as CSV to ``csv_path`` (its path printed), else as a table on stdout."""
    if csv_path is not None:
        write_csv(csv_path, columns)
        print(csv_path)
    else:
        print_table(columns)
