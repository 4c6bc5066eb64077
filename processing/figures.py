"""The tutorial's figures: pane images, their levels, colour tables, and files.

The viewer shows four panes of a frame -- raw, difference (frame minus a
baseline frame), slope ratio (frame-to-frame difference over the mean slope)
and the saturation mask -- and exports them, and the tutorial's two figure
sets, as PNG, SVG or PDF.  Everything here is Qt-free so that the GUI's
render worker and the headless ``brightstar figure`` command compute the same
pixels:

* pane arithmetic (:func:`difference`, :func:`slope_ratio_image`,
  :func:`mask_codes`) in float32, never wrapping uint16;
* display levels over *good* pixels only (:func:`good_levels`), because
  automatic levels subsample and let hot pixels set the scale;
* colour tables with a stretch folded in (:func:`lookup_table`), so that a
  log or asinh stretch is a different table, not a different image;
* the data behind a figure (:class:`FigureData`) and how each pane is drawn
  (:class:`PaneSpec`).

The figures themselves are built in :mod:`processing.figure_kinds` (laid
out pixel-exact by :mod:`processing.figure_layout`, non-data colours from
:mod:`processing.pane_colours`) and written by
:mod:`processing.figure_files`; data exports are in
:mod:`processing.exports`.  matplotlib is
imported only when drawing (Agg canvas, no pyplot: safe in worker threads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: The four panes, in display order.
PANES = ("raw", "difference", "ratio", "mask")
#: Pane names, as the viewer's pane selector and its pane titles say them.
PANE_TITLES = {
    "raw": "Frame",
    "difference": "Difference",
    "ratio": "Frame slope / mean slope",
    "mask": "Saturation mask",
}
#: Default colour maps: the tutorial's (imshow's viridis for differences,
#: inferno_r for the image, RdYlBu for the ratio, magma_r for the mask).
DEFAULT_CMAPS = {"raw": "inferno_r", "difference": "viridis", "ratio": "RdYlBu", "mask": "magma_r"}
COLORMAPS = ("viridis", "inferno", "inferno_r", "magma", "magma_r", "plasma", "cividis", "gray", "gray_r", "RdYlBu", "RdBu_r", "coolwarm")
SCALES = ("linear", "log", "asinh")
#: The mask pane's codes: saturated 3, 4-neighbour 2, diagonal neighbour 1 (the tutorial's weighted sum).
MASK_SATURATED, MASK_NEARBY, MASK_DIAGONAL = 3, 2, 1
LUT_SIZE = 4096


# -- pane arithmetic ----------------------------------------------------------------


def as_float(frame: np.ndarray) -> np.ndarray:
    """``frame`` as float32 (a copy for integer data), DN."""
    return np.asarray(frame, dtype=np.float32)


def difference(frame: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """``frame - baseline`` in float32, DN (no uint16 wrap-around)."""
    return np.subtract(frame, baseline, dtype=np.float32)


def slope_ratio_image(frame: np.ndarray, previous: np.ndarray, mean_slope: np.ndarray) -> np.ndarray:
    """``(frame - previous) / mean_slope``, float32; NaN where the mean is 0 or not finite."""
    diff = np.subtract(frame, previous, dtype=np.float32)
    mean = np.asarray(mean_slope, dtype=np.float32)
    out = np.full(diff.shape, np.nan, dtype=np.float32)
    np.divide(diff, mean, out=out, where=np.isfinite(mean) & (mean != 0))
    return out


def mask_codes(sat: np.ndarray) -> np.ndarray:
    """The tutorial's mask image ``3 sat + 2 nearby + diag`` as uint8, (H, W).

    ``nearby`` are 4-neighbours of saturated pixels that are not saturated,
    ``diag`` diagonal neighbours that are neither; pixels beyond the edge
    count as unsaturated.  Only the bounding box of ``sat`` is worked on, so
    a full 4096 x 4096 frame with a saturated star costs one pass.
    """
    sat = np.asarray(sat, dtype=bool)
    h, w = sat.shape
    codes = np.zeros((h, w), dtype=np.uint8)
    rows = np.flatnonzero(sat.any(axis=1))
    if rows.size == 0:
        return codes
    cols = np.flatnonzero(sat[rows[0] : rows[-1] + 1].any(axis=0))
    r0, r1 = max(rows[0] - 1, 0), min(rows[-1] + 2, h)
    c0, c1 = max(cols[0] - 1, 0), min(cols[-1] + 2, w)
    box = sat[r0:r1, c0:c1]
    from .diagnostics.neighbours import Neighbours

    nearby = np.empty(box.shape, dtype=bool)
    diag = np.empty(box.shape, dtype=bool)
    Neighbours(box.shape).classify(box, nearby, diag)
    out = codes[r0:r1, c0:c1]
    out[diag] = MASK_DIAGONAL
    out[nearby] = MASK_NEARBY
    out[box] = MASK_SATURATED
    return codes


def block_reduce(a: np.ndarray, step: int, how: str = "max") -> np.ndarray:
    """Reduce ``(H, W)`` to ``(ceil(H/step), ceil(W/step))`` by block max or any.

    Used to shrink masks for display without losing a single flagged pixel
    (a strided sample would miss most of them).
    """
    if step <= 1:
        return a
    h, w = a.shape
    hb, wb = -(-h // step), -(-w // step)
    if how == "max" and a.dtype.kind in "ub":
        # Sparse masks: reduce only the blocks around the nonzero pixels.
        rows = np.flatnonzero(a.any(axis=1))
        out = np.zeros((hb, wb), dtype=a.dtype)
        if rows.size == 0:
            return out
        b0, b1 = rows[0] // step, rows[-1] // step + 1
        cols = np.flatnonzero(a[b0 * step : b1 * step].any(axis=0))
        c0, c1 = cols[0] // step, cols[-1] // step + 1
        out[b0:b1, c0:c1] = block_reduce(a[b0 * step : b1 * step, c0 * step : c1 * step], step, "dense-max")
        return out
    if (hb * step, wb * step) != (h, w):
        padded = np.zeros((hb * step, wb * step), dtype=a.dtype)
        padded[:h, :w] = a
        a = padded
    blocks = a.reshape(hb, step, wb, step)
    if how == "any":
        return blocks.any(axis=(1, 3))
    return blocks.max(axis=(1, 3))  # "max" of non-sparse dtypes, or "dense-max"


# -- levels ---------------------------------------------------------------------------


def _good_sample(values: np.ndarray, bad: np.ndarray | None, max_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """An evenly strided sample of ``values`` (at most ~``max_samples``) and its good-pixel mask.

    Flagged (``bad``) and non-finite pixels are excluded explicitly, unlike
    pyqtgraph's auto levels, which subsample and miss single hot pixels.
    """
    values = np.asarray(values)
    step = max(1, int(math.ceil(math.sqrt(values.size / max_samples)))) if values.size else 1
    sample = values[::step, ::step]
    good = np.isfinite(sample) if sample.dtype.kind == "f" else np.ones(sample.shape, bool)
    if bad is not None:
        good &= ~np.asarray(bad)[::step, ::step]
    return sample, good

def good_levels(values: np.ndarray, bad: np.ndarray | None = None, low: float = 2.0, high: float = 98.0,
                max_samples: int = 262_144) -> tuple[float, float]:
    """Percentile levels over good pixels.

    Parameters
    ----------
    values : (H, W) array, DN
    bad : (H, W) bool, optional
        Pixels to leave out (flagged in the DQ); non-finite values are left
        out too.
    low, high : float
        Percentiles, 0-100 (the tutorial's 2 and 98).
    max_samples : int
        A regular strided subsample of about this many pixels is used on
        larger images; flagged pixels are removed from it explicitly.

    Returns
    -------
    (lo, hi) : float
        ``(0, 1)`` if no good pixel remains; ``hi > lo`` always.
    """
    sample, good = _good_sample(values, bad, max_samples)
    pick = sample[good]
    if pick.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(pick, [low, high])
    lo, hi = float(lo), float(hi)
    if not hi > lo:
        hi = lo + max(abs(lo) * 1e-6, 1e-6)
    return lo, hi


def histogram(values: np.ndarray, bad: np.ndarray | None, levels: tuple[float, float], bins: int = 128,
              max_samples: int = 262_144) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of good pixels over a range somewhat wider than ``levels``."""
    sample, good = _good_sample(values, bad, max_samples)
    lo, hi = levels
    span = hi - lo
    start, stop = lo - 0.25 * span, hi + 0.25 * span
    # np.histogram is several times slower than binning by hand.
    idx = np.subtract(sample[good], start, dtype=np.float32)
    idx *= bins / (stop - start)
    idx = idx[(idx >= 0) & (idx < bins)].astype(np.intp)
    counts = np.bincount(idx, minlength=bins)[:bins]
    return counts, np.linspace(start, stop, bins + 1)


# -- colour ---------------------------------------------------------------------------


#: The stretches' constants (DS9's): log is log(1 + a x) / log(1 + a), asinh is asinh(x / a) / asinh(1 / a).
LOG_A = 1000.0
ASINH_A = 0.1


def stretch(x: np.ndarray, scale: str) -> np.ndarray:
    """Map ``x`` in [0, 1] through a display stretch (linear, log, asinh)."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    if scale == "linear":
        return x
    if scale == "log":
        return np.log1p(LOG_A * x) / np.log1p(LOG_A)
    if scale == "asinh":
        return np.arcsinh(x / ASINH_A) / np.arcsinh(1.0 / ASINH_A)
    raise ValueError(f"unknown scale {scale!r}; expected one of {SCALES}")


def lookup_table(cmap: str, scale: str = "linear", size: int = LUT_SIZE) -> np.ndarray:
    """RGBA colour table, ``(size, 4)`` uint8, with the stretch folded in.

    Entry ``i`` is the colour of data at fraction ``i / (size - 1)`` of the
    way from the low to the high level.
    """
    import matplotlib

    colormap = matplotlib.colormaps[cmap]
    rgba = colormap(stretch(np.linspace(0.0, 1.0, size), scale))
    return np.round(rgba * 255).astype(np.uint8)


def colorize(values: np.ndarray, levels: tuple[float, float], lut: np.ndarray, bad: np.ndarray | None = None,
             bad_color: tuple[int, int, int, int] = (255, 255, 255, 255)) -> np.ndarray:
    """Map values to RGBA through ``lut``; ``bad`` and non-finite pixels get ``bad_color``.

    Parameters
    ----------
    values : (h, w) array
    levels : (lo, hi)
        Data values of the first and last table entries.
    lut : (n, 4) uint8
    bad : (h, w) bool, optional

    Returns
    -------
    (h, w, 4) uint8, row-major
    """
    lo, hi = float(levels[0]), float(levels[1])
    n = lut.shape[0]
    scale = (n - 1) / (hi - lo) if hi != lo else 0.0
    v = np.asarray(values, dtype=np.float32)
    idx = np.subtract(v, lo, dtype=np.float32)
    idx *= scale
    # NaN and +-inf are clipped here and painted over below.
    np.clip(idx, 0, n - 1, out=idx)
    with np.errstate(invalid="ignore"):
        index = idx.astype(np.uint16)
    # One 32-bit gather per pixel (RGBA packed), several times faster than lut[index].
    packed = np.ascontiguousarray(lut).view(np.uint32).reshape(n)
    out32 = np.take(packed, index)
    flag = ~np.isfinite(v)
    if bad is not None:
        flag |= bad
    if flag.any():
        out32[flag] = np.array([bad_color], dtype=np.uint8).view(np.uint32)[0]
    return out32.view(np.uint8).reshape(*v.shape, 4)


# -- reference files and data sets ------------------------------------------------------


def find_references(uri: str | Path, max_up: int = 5) -> dict[str, Path] | None:
    """Reference files of the synthetic data set that holds ``uri``, if any.

    Kept for old callers: the one resolution is
    :func:`processing.calibrate.references.resolve`.
    """
    from .calibrate.references import own_set

    text = str(uri)
    if "://" in text and not text.startswith("file://"):
        return None
    found = own_set(Path(text.removeprefix("file://")), max_up)
    return dict(found.paths) if found else None


def references_in_folder(folder: str | Path) -> dict[str, Path]:
    """Reference files in ``folder`` by type (see :func:`processing.calibrate.references.in_folder`)."""
    from .calibrate.references import in_folder

    return in_folder(Path(folder))


def load_reference_array(path: str | Path, key: str) -> np.ndarray:
    """Array ``roman.<key>`` of a reference file (``data`` of saturation, ``dq`` of mask)."""
    from .errors import ExposureError, ReferenceFileError
    from .io import read_asdf_array

    try:
        return read_asdf_array(path, f"roman.{key}")
    except ExposureError as err:  # a bad reference is reported as a reference problem
        raise ReferenceFileError(f"cannot read roman.{key} of reference file {err}") from err


def align_to_frame(ref: np.ndarray, frame_shape: tuple[int, int]) -> np.ndarray:
    """Crop a 4096 x 4096 reference map to 4088 x 4088 frames (or return it as is)."""
    h, w = frame_shape
    if ref.shape == (h, w):
        return ref
    if ref.shape == (h + 8, w + 8):
        return ref[4:-4, 4:-4]
    raise ValueError(f"reference map of shape {ref.shape} does not fit frames of shape {(h, w)}")


# -- figures ----------------------------------------------------------------------------


@dataclass
class PaneSpec:
    """How one pane is drawn in a figure.

    Attributes
    ----------
    kind : {"raw", "difference", "ratio", "mask"}
    cmap : str
    scale : {"linear", "log", "asinh"}
    levels : (lo, hi) or None
        None: percentile levels over good pixels (``percentiles``).
    percentiles : (low, high)
    flag_color, nan_color : (r, g, b, a) 0-255 or None
        Colours of DQ-flagged and undefined pixels; None: chosen for
        ``cmap`` (:mod:`processing.pane_colours`).
    """

    kind: str
    cmap: str | None = None
    scale: str = "linear"
    levels: tuple[float, float] | None = None
    percentiles: tuple[float, float] = (2.0, 98.0)
    flag_color: tuple[int, int, int, int] | None = None
    nan_color: tuple[int, int, int, int] | None = None

    def __post_init__(self):
        if self.kind not in PANES:
            raise ValueError(f"unknown pane {self.kind!r}; expected one of {PANES}")
        if self.cmap is None:
            self.cmap = DEFAULT_CMAPS[self.kind]
        if self.levels is None and self.kind == "ratio":
            self.levels = (0.75, 1.25)
        if self.levels is None and self.kind == "mask":
            self.levels = (0.0, 3.0)


@dataclass
class FigureData:
    """Frames of a region and what the panes need, for the figure writers.

    Attributes
    ----------
    frames : frame source
        Values (raw or calibrated), full frames; ``region`` is cut from them.
    raw : frame source or None
        Raw frames for the saturation test (None: ``frames`` are raw).
    region : (y0, y1, x0, x1)
    sat_dn : (H, W) array or None
        Saturation thresholds of the full frame, DN.
    pixeldq : (H, W) uint32 or None
    mean_slope : (h, w) float32 or None
        Of the region, DN/frame.
    title : str
        Put in front of each panel title, e.g. ``"SCA 11"``.
    superbias : (H, W) array or None
        Subtracted from the raw pane when given, DN.
    data_kind : {"raw", "calibrated"}
        What ``frames`` hold (titles and sidecars say it).
    source : str
        The exposure's URI.
    references : dict of str to str
        Reference files used, by type (sidecars say them).
    """

    frames: Any
    raw: Any = None
    region: tuple[int, int, int, int] | None = None
    sat_dn: np.ndarray | None = None
    pixeldq: np.ndarray | None = None
    mean_slope: np.ndarray | None = None
    title: str = ""
    superbias: np.ndarray | None = None
    data_kind: str = "raw"
    source: str = ""
    references: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        n, h, w = self.frames.shape
        if self.region is None:
            self.region = (0, h, 0, w)

    @property
    def source_name(self) -> str:
        """The file name of :attr:`source` (``""`` if none)."""
        return str(self.source).rstrip("/").rsplit("/", 1)[-1]

    def _cut(self, a):
        y0, y1, x0, x1 = self.region
        return None if a is None else a[y0:y1, x0:x1]

    def frame(self, k: int) -> np.ndarray:
        return self._cut(self.frames.frame(k))

    def raw_frame(self, k: int) -> np.ndarray:
        return self._cut((self.raw if self.raw is not None else self.frames).frame(k))

    @property
    def bad(self) -> np.ndarray | None:
        dq = self._cut(self.pixeldq)
        return None if dq is None else dq != 0

    def pane(self, kind: str, k: int, baseline: int = 1) -> np.ndarray:
        """The values of pane ``kind`` at frame ``k``, (h, w) (:func:`processing.panes.compose`)."""
        from .panes import PaneInputs, compose

        if kind not in PANES:
            raise ValueError(f"unknown pane {kind!r}")
        inputs: dict = {"frame": self.frame(k)}
        if kind == "raw":
            inputs["superbias"] = self._cut(self.superbias)
        elif kind == "difference":
            inputs["baseline"] = self.frame(baseline)
        elif kind == "ratio":
            inputs["mean_slope"] = self.mean_slope
            inputs["previous"] = self.frame(k - 1) if k >= 1 else None
        elif kind == "mask" and self.sat_dn is not None:
            from .diagnostics.thresholds import SaturationTest

            y0, y1, x0, x1 = self.region
            test = SaturationTest(self.sat_dn, np.shape(self.sat_dn))
            inputs["saturated"] = test.region(self.raw_frame(k), y0, x0)
        return compose(kind, PaneInputs(**inputs))


FIGURE_KINDS = ("pane", "group", "differences", "rows")
from .figure_files import FORMATS  # noqa: E402, F401  (re-exported: the one list of figure formats)


def default_frames(n: int) -> list[int]:
    """The tutorial's frames: 2, the middle one and the last (those that exist)."""
    return sorted({k for k in (2, max(2, n // 2), n - 1) if 0 <= k < n}) or [n - 1]
