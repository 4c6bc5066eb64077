"""The onset map: the first saturated read of every pixel, as a float image.

:func:`~.ramp.saturation_onset` gives the integer index (-1 for never); a map
to display, contour and save wants NaN for "never" and the read times beside
it.  This module adds that (computed by the saturation-growth scan, see
:func:`~.growth.saturation_analysis_job`), its contours, and the ASDF file
``brightstar onset`` writes.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..progress import CancelToken, Job, run
from .ramp import OnProgress


@dataclass(frozen=True)
class OnsetMap:
    """First saturated read of each pixel.

    Attributes
    ----------
    onset : (H, W) float32, read index
        First read ``k`` in which the pixel is saturated; NaN where it never is.
    read_times : (N,) float64, s
        Time of each read since the first (NaN when unknown), so that
        ``read_times[onset]`` is the onset in seconds.
    region : (y0, y1, x0, x1) or None
        The box mapped; None for the whole frame.
    """

    onset: np.ndarray
    read_times: np.ndarray
    region: tuple[int, int, int, int] | None = None

    def onset_seconds(self) -> np.ndarray:
        """The onset as time since the first read, (H, W) float64 s; NaN where never."""
        out = np.full(self.onset.shape, np.nan)
        seen = np.isfinite(self.onset)
        out[seen] = self.read_times[self.onset[seen].astype(np.intp)]
        return out


def onset_map_job(frames: Any, sat_dn: np.ndarray, *, region: Any = None, read_times: Any = None) -> Job[OnsetMap]:
    """Generator form of :func:`onset_map`; yields progress after each read."""
    # The growth scan keeps the onset too, and touches only the window about
    # saturated pixels: 3-4x faster on a full frame than a whole-frame update.
    from .growth import saturation_analysis_job

    _, result = yield from saturation_analysis_job(frames, sat_dn, region=region, read_times=read_times)
    return result


def onset_map(frames: Any, sat_dn: np.ndarray, *, region: Any = None, read_times: Any = None,
              on_progress: OnProgress = None, cancel: CancelToken | None = None) -> OnsetMap:
    """The first saturated read of every pixel, NaN where it never saturates.

    Parameters
    ----------
    frames : (N, H, W) array or frame source, DN
        Raw frames, or the flags of a calibrated ramp
        (:func:`~.saturated.saturation_input`).
    sat_dn : (H, W) or (H + 8, W + 8) array, DN
        Saturation thresholds of the whole frame.
    region : (y0, y1, x0, x1), optional
        Map only this box (only its pixels are read from an exposure).
    read_times : (N,) array, s, optional
    on_progress, cancel
        As for :func:`~.growth.saturation_growth`.

    Returns
    -------
    OnsetMap
    """
    return run(onset_map_job(frames, sat_dn, region=region, read_times=read_times), on_progress, cancel)


def onset_contours(onset: np.ndarray, read: int) -> list[np.ndarray]:
    """Outlines of the area saturated by read ``read`` (onset <= read), for drawing over a pane.

    The mask ``onset <= read`` is contoured at 0.5 (contourpy's marching
    squares), so every line runs half-way between a saturated pixel centre
    and an unsaturated one; the frame is padded with unsaturated pixels so
    that areas touching its edge are closed too.

    Parameters
    ----------
    onset : (H, W) float, read index, NaN never
        E.g. :attr:`OnsetMap.onset`.
    read : int

    Returns
    -------
    list of (M, 2) float64, (row, col) pixels
        Closed polylines (first point repeated last).  With the even-odd
        rule, a pixel centre lies inside them iff the pixel saturated by ``read``.
    """
    import contourpy

    onset = np.asarray(onset)
    if onset.ndim != 2:
        raise ValueError(f"onset must be an (H, W) map; got shape {onset.shape}")
    with np.errstate(invalid="ignore"):
        inside = np.pad(onset <= read, 1).astype(np.float64)
    if not inside.any():
        return []
    gen = contourpy.contour_generator(z=inside, name="serial", line_type=contourpy.LineType.Separate)
    # contourpy gives (x, y) in the padded grid: column and row, one pixel off.
    return [np.column_stack([line[:, 1] - 1.0, line[:, 0] - 1.0]) for line in gen.lines(0.5)]


def write_onset_map(path: str | os.PathLike, result: OnsetMap, meta: dict | None = None) -> Path:
    """Write an onset map to an ASDF file, atomically.

    The tree holds ``onset`` ((H, W) float32, read index, NaN never),
    ``read_times`` ((N,) float64, s), ``region`` (``[y0, y1, x0, x1]`` or
    None) and ``meta`` (e.g. the source file).  Blocks carry asdf's MD5
    checksums.  The file is written under a temporary name in the target
    directory and renamed, so an interrupted write leaves no file that reads
    as a valid map.

    Returns
    -------
    Path
        ``path``.
    """
    import asdf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = {
        "onset": np.ascontiguousarray(result.onset, dtype=np.float32),
        "read_times": np.asarray(result.read_times, dtype=np.float64),
        "region": None if result.region is None else [int(v) for v in result.region],
        "meta": dict(meta or {}),
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        asdf.AsdfFile(tree).write_to(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_onset_map(path: str | os.PathLike) -> OnsetMap:
    """Read a file written by :func:`write_onset_map`, verifying its checksums."""
    import asdf

    with asdf.open(path, validate_checksums=True, lazy_load=False, memmap=False) as af:
        region = af.tree.get("region")
        return OnsetMap(np.array(af["onset"]), np.array(af["read_times"]), None if region is None else tuple(region))
