"""The render job: the four pane images of one frame, coloured (Qt-free).

A :class:`RenderRequest` names the frame, the data region (cutout or full
frame, over which levels are computed), the part of it to draw (the visible
area plus a margin) and the pixel step (screen resolution).  The job reads
only those rows and columns, through the exposure's region reads
(:meth:`processing.io.Exposure.frame_region`), composes the panes with
:func:`processing.panes.compose` -- the function exported figures use -- and
colours them, so the UI thread only uploads RGBA pixels.
"""

from __future__ import annotations

import functools
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from processing import figures, pane_colours
from processing.panes import PaneInputs, compose, flag_blocks, mask_pane
from processing.progress import Cancelled, CancelToken

from .opening import Context, Dataset
from .reads import RegionReads

Region = tuple[int, int, int, int]

#: What the derived panes say until the reference files are read.
LOADING_REFERENCES = "loading reference files..."

#: Pixels of a region sampled (evenly strided) for its levels and histogram:
#: the 2nd and 98th percentiles of 16k good pixels are within a fraction of a
#: percent of the full region's, at a quarter of the cost of 65k per frame.
LEVEL_SAMPLES = 16_384


@functools.lru_cache(maxsize=64)
def lut(cmap: str, scale: str) -> np.ndarray:
    """Colour table of ``cmap`` with ``scale`` folded in ((4096, 4) uint8; pure, memoised)."""
    table = figures.lookup_table(cmap, scale)
    table.flags.writeable = False
    return table


@dataclass(frozen=True)
class PaneStyle:
    """What the renderer needs of a pane's display settings (plain values)."""

    mode: str
    low: float
    high: float
    vmin: float
    vmax: float
    cmap: str
    scale: str


@dataclass(frozen=True)
class RenderRequest:
    """One frame's panes for a view.

    Attributes
    ----------
    dataset : Dataset
    context : Context or None
        None until the references are loaded (raw and difference panes only).
    values : frame source
        The exposure whose values are shown (raw, or the attached calibrated ramp).
    kind : "raw" or "calibrated"
    frame, baseline : int
    region : (y0, y1, x0, x1)
        The data region (cutout or full frame); levels are computed over it.
    view : (y0, y1, x0, x1)
        Part of the region to draw.
    step : int
        Draw every ``step``-th pixel (masks and flags are block-reduced, so
        no flagged pixel disappears).
    styles : tuple of (pane, PaneStyle)
    flag_color : (r, g, b) or None
        Colour of DQ-flagged pixels; None: chosen per colour map
        (:func:`processing.pane_colours.screen_colours`, as in figure files).
    level_region : (y0, y1, x0, x1) or None
        Where percentile levels are computed (the visible area, when the
        user asks for that); None: over ``region``.
    mean_slope : (h, w) float32 over ``region`` or None, read-only
    saturated_box : (y0, y1, x0, x1), None or "unknown"
        Where the pixels saturated at ``frame`` lie, from the saturation
        onset of the mean-slope pass (None: nowhere); the mask is then
        tested only there.  "unknown": test the whole view.
    superbias : (H, W) float32 or None, read-only
    reads : RegionReads
        Memo of region reads (see :mod:`brightstar_gui.jobs.reads`).
    """

    dataset: Dataset
    context: Context | None
    values: Any
    kind: str
    frame: int
    baseline: int
    region: Region
    view: Region
    step: int
    styles: tuple
    flag_color: tuple[int, int, int] | None = None
    subtract_superbias: bool = False
    mean_slope: np.ndarray | None = field(default=None, compare=False)
    superbias: np.ndarray | None = field(default=None, compare=False)
    panes: tuple[str, ...] = figures.PANES
    histogram_pane: str | None = None
    saturated_box: tuple[int, int, int, int] | None | str = "unknown"
    reads: RegionReads | None = field(default=None, compare=False)
    level_region: Region | None = None

    def style(self, pane: str) -> PaneStyle:
        return dict(self.styles)[pane]

    def same_view(self, other: RenderRequest) -> bool:
        """Same panes except for the frame (what playback prefetch may reuse)."""
        from dataclasses import replace

        return replace(self, frame=other.frame) == other


@dataclass(frozen=True)
class PaneImage:
    """A rendered pane: RGBA pixels and where they go.

    Attributes
    ----------
    rgba : (h, w, 4) uint8 or None
        The pane's colours, row-major (what figures and tests read).
    argb : (h, w) uint32 or None
        The same colours as Qt's ``QImage.Format_ARGB32`` words
        (``0xAARRGGBB``), computed here in the worker: the screen blits them
        as they are, where RGBA bytes would be converted on every paint
        (1-1.5 ms a pane on the UI thread under xcb).
    opaque : bool
        Every alpha is 255 (then ARGB32 equals its premultiplied form, the
        fastest format to draw).
    """

    rgba: np.ndarray | None
    rect: tuple[float, float, float, float]  # x, y, width, height in pixel coordinates
    levels: tuple[float, float]
    histogram: tuple[np.ndarray, np.ndarray] | None = None
    message: str = ""
    argb: np.ndarray | None = field(default=None, compare=False, repr=False)
    opaque: bool = field(default=False, compare=False)

    def __post_init__(self):
        if self.rgba is not None and self.argb is None:
            argb, opaque = argb32(self.rgba)
            object.__setattr__(self, "argb", argb)
            object.__setattr__(self, "opaque", opaque)


def argb32(rgba: np.ndarray) -> tuple[np.ndarray, bool]:
    """RGBA bytes ``(h, w, 4)`` as ARGB32 words ``(h, w)`` uint32 (``0xAARRGGBB``), and whether all are opaque.

    On a little-endian machine the RGBA bytes read as a uint32 are
    ``0xAABBGGRR``: swapping the R and B bytes with three in-place word
    operations is the cheapest of the ways tried (~0.2 ms for 171 x 171).
    """
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    if sys.byteorder == "little":
        v = rgba.view(np.uint32)[..., 0]
        argb = v & np.uint32(0xFF00FF00)
        t = v << np.uint32(16)
        t &= np.uint32(0x00FF0000)
        argb |= t
        np.right_shift(v, np.uint32(16), out=t)
        t &= np.uint32(0xFF)
        argb |= t
    else:  # the word's bytes are A, R, G, B in memory order
        out = np.empty(rgba.shape[:2] + (4,), np.uint8)
        out[..., 0], out[..., 1:] = rgba[..., 3], rgba[..., :3]
        argb = out.view(np.uint32)[..., 0]
    argb.flags.writeable = False
    return argb, bool(rgba[..., 3].min(initial=255) == 255)


@dataclass(frozen=True)
class RenderResult:
    """The panes of one request, plus the values read (for the hover readout)."""

    request: RenderRequest
    panes: dict
    probe: dict
    seconds: float = 0.0


def region_read(req: RenderRequest, name: str, source, k: int, box: Region, step: int = 1) -> np.ndarray:
    """``source.frame_region(k, box, step)`` through the request's memo."""
    read = lambda: np.asarray(source.frame_region(k, *box, step))  # noqa: E731
    if req.reads is None:
        return read()
    return req.reads.get((req.dataset.id, name, id(source), k, box, step), read)


def grown(box: Region, shape: tuple[int, int], by: int = 1) -> Region:
    """``box`` grown by ``by`` pixels on each side, clipped to a frame of ``shape``."""
    y0, y1, x0, x1 = box
    return max(y0 - by, 0), min(y1 + by, shape[0]), max(x0 - by, 0), min(x1 + by, shape[1])


def view_read(req: RenderRequest, name: str, source, k: int) -> np.ndarray:
    """Frame ``k`` of ``source`` over the request's view at its step.

    At full resolution the view plus a one-pixel margin is read (and the view
    cut from it): the mask test needs that margin, so when the saturation
    source is the shown exposure one read serves both (one row band over S3).
    """
    step = max(1, int(req.step))
    if step > 1:
        return region_read(req, name, source, k, req.view, step)
    vy0, vy1, vx0, vx1 = req.view
    big = grown(req.view, req.dataset.shape[1:])
    arr = region_read(req, name, source, k, big, 1)
    return arr[vy0 - big[0] : vy1 - big[0], vx0 - big[2] : vx1 - big[2]]


def _sample_step(shape) -> int:
    """Stride giving about :data:`LEVEL_SAMPLES` pixels of a region for its levels."""
    return max(1, int(math.ceil(math.sqrt(shape[0] * shape[1] / LEVEL_SAMPLES))))


def _ceil_to(length: int, step: int) -> int:
    return -(-length // step) * step


def render_job(req: RenderRequest, token: CancelToken | None = None) -> RenderResult:
    """Compute and colour the panes of ``req`` (a pure function of the request)."""
    t0 = time.perf_counter()
    y0, y1, x0, x1 = req.region
    vy0, vy1, vx0, vx1 = req.view
    step = max(1, int(req.step))
    n, h, w = req.dataset.shape
    k = min(max(req.frame, 0), n - 1)
    b = min(max(req.baseline, 0), n - 1)
    ctx = req.context
    src = req.values
    rect = (float(vx0), float(vy0), float(_ceil_to(vx1 - vx0, step)), float(_ceil_to(vy1 - vy0, step)))
    ly0, ly1, lx0, lx1 = levels_box = req.level_region or req.region
    s = _sample_step((ly1 - ly0, lx1 - lx0))
    whole = req.view == levels_box and s % step == 0

    def check():
        if token is not None and token.cancelled:
            raise Cancelled("cancelled")

    def view_of(name, source, kk):
        return view_read(req, name, source, kk)

    def sample_of(name, source, kk, view_arr):
        # Levels over the whole region, not the view: zooming keeps the stretch
        # (unless the user asked for the visible area's).
        if whole:
            return view_arr[:: s // step, :: s // step]
        return region_read(req, name, source, kk, levels_box, s)

    bad = None if ctx is None else ctx.bad
    bad_view = bad_sample = None
    if bad is not None:
        bad_view = _memo(req, ("bad-blocks", req.view, step), lambda: flag_blocks(np.asarray(bad[vy0:vy1, vx0:vx1]), step))
        bad_sample = bad[ly0:ly1:s, lx0:lx1:s]

    frame_v = view_of(req.kind, src, k)
    frame_s = functools.cache(lambda: sample_of(req.kind, src, k, frame_v))  # read once, if a pane needs it
    probe: dict[str, Any] = {"view": req.view, "step": step, "frame": frame_v, "kind": req.kind, "k": k, "baseline": b}
    panes: dict[str, PaneImage] = {}

    def finish(kind, sample_of_pane, values_view, message=""):
        # ``sample_of_pane()`` composes the levels sample: only when percentile
        # levels or a histogram need it (a manual stretch while playing does not).
        style = req.style(kind)
        want_hist = req.histogram_pane in (None, kind)
        sample = sample_of_pane() if style.mode != "manual" or want_hist else None
        if style.mode == "manual":
            levels = (style.vmin, style.vmax)
        else:
            levels = figures.good_levels(sample, bad_sample, style.low, style.high, max_samples=sample.size + 1)
        hist = None
        if want_hist:
            hist = figures.histogram(sample, bad_sample, levels, max_samples=sample.size + 1)
        flag, nan = pane_colours.screen_colours(style.cmap, req.flag_color)
        rgba = pane_colours.colour_pane(values_view, levels, lut(style.cmap, style.scale), bad_view, flag, nan)
        panes[kind] = PaneImage(rgba, rect, levels, hist, message)

    if "raw" in req.panes:
        sb = req.superbias if req.subtract_superbias else None
        sb_v = None if sb is None else sb[vy0:vy1:step, vx0:vx1:step]
        sb_s = None if sb is None else (sb[ly0:ly1:s, lx0:lx1:s])
        if sb is not None:
            probe["superbias"] = sb_v
        finish("raw", lambda: compose("raw", PaneInputs(frame_s(), superbias=sb_s)),
               compose("raw", PaneInputs(frame_v, superbias=sb_v)))
        check()

    if "difference" in req.panes:
        base_v = view_of(req.kind, src, b)
        probe["baseline_frame"] = base_v
        finish("difference", lambda: compose("difference", PaneInputs(frame_s(), baseline=sample_of(req.kind, src, b, base_v))),
               compose("difference", PaneInputs(frame_v, baseline=base_v)))
        check()

    if "ratio" in req.panes:
        mean = req.mean_slope
        if mean is None or k < 1:
            if k < 1:
                message = "frame 0 has no previous frame"
            elif ctx is None or ctx.saturation is None:
                message = "no saturation reference: no mean slope" if ctx is not None else LOADING_REFERENCES
            else:
                message = "computing the mean slope..."
            style = req.style("ratio")
            panes["ratio"] = PaneImage(None, rect, (style.vmin, style.vmax), None, message)
        else:
            prev_v = view_of(req.kind, src, k - 1)
            probe["previous_frame"] = prev_v
            mean_v = mean[vy0 - y0 : vy1 - y0 : step, vx0 - x0 : vx1 - x0 : step]
            probe["mean_slope"] = mean_v

            def ratio_sample():
                prev_s = sample_of(req.kind, src, k - 1, prev_v)
                mean_s = mean[ly0 - y0 : ly1 - y0 : s, lx0 - x0 : lx1 - x0 : s] if not whole else mean_v[:: s // step, :: s // step]
                return compose("ratio", PaneInputs(frame_s(), previous=prev_s, mean_slope=mean_s))

            finish("ratio", ratio_sample, compose("ratio", PaneInputs(frame_v, previous=prev_v, mean_slope=mean_v)))
        check()

    if "mask" in req.panes:
        style = req.style("mask")
        if ctx is None or ctx.saturation is None:
            message = LOADING_REFERENCES if ctx is None else "no saturation reference"
            panes["mask"] = PaneImage(None, rect, (0.0, 3.0), None, message)
        else:
            codes_view = _mask_view(req, ctx, k, frame_v)
            probe["mask_codes"] = codes_view
            # Four categories, the colours of the figure files' legend (no levels, no stretch).
            counts = np.bincount(codes_view.ravel(), minlength=4)[:4]
            rgba = pane_colours.colour_mask(codes_view, style.cmap)
            argb, opaque = _mask_argb(codes_view, style.cmap)
            panes["mask"] = PaneImage(rgba, rect, (0.0, 3.0), (counts, np.arange(5) - 0.5), argb=argb, opaque=opaque)
    if ctx is not None and ctx.pixeldq is not None:
        probe["pixeldq"] = ctx.pixeldq
    return RenderResult(req, panes, probe, time.perf_counter() - t0)


def _mask_argb(codes: np.ndarray, cmap: str) -> tuple[np.ndarray, bool]:
    """ARGB32 words of mask ``codes`` (what :func:`argb32` makes of their RGBA), by one table gather."""
    table = pane_colours.mask_colours(cmap)
    words, opaque = _argb_table(table.tobytes())
    idx = pane_colours.mask_index(codes)
    argb = np.take(words, idx)
    argb.flags.writeable = False
    if not opaque:  # a translucent category: opaque only if none of its pixels is shown
        opaque = bool(np.take(table[:, 3], idx).min(initial=255) == 255)
    return argb, opaque


@functools.lru_cache(maxsize=32)
def _argb_table(rgba_bytes: bytes) -> tuple[np.ndarray, bool]:
    words, opaque = argb32(np.frombuffer(rgba_bytes, np.uint8).reshape(-1, 1, 4))
    return words.reshape(-1), opaque


def _mask_view(req: RenderRequest, ctx: Context, k: int, frame_v: np.ndarray) -> np.ndarray:
    """Mask codes of the view at ``step`` (block maximum), uint8.

    With a known ``saturated_box`` only that box (grown by the one pixel of
    neighbours, aligned to the step grid) is tested -- exact, because every
    pixel saturated at frame k lies in it -- so a full frame in view costs a
    star's worth of pixels, not 16 million.
    """
    vy0, vy1, vx0, vx1 = req.view
    step = max(1, int(req.step))
    _, h, w = req.dataset.shape
    shape = (-(-(vy1 - vy0) // step), -(-(vx1 - vx0) // step))
    box = req.saturated_box
    if box == "unknown":
        return _mask_part(req, ctx, k, req.view, step)
    out = np.zeros(shape, np.uint8)
    if box is None:
        return out
    y0, y1, x0, x1 = box
    gy0, gy1 = max(vy0, y0 - 1), min(vy1, y1 + 1)
    gx0, gx1 = max(vx0, x0 - 1), min(vx1, x1 + 1)
    if gy1 <= gy0 or gx1 <= gx0:
        return out
    gy0, gx0 = vy0 + (gy0 - vy0) // step * step, vx0 + (gx0 - vx0) // step * step
    gy1, gx1 = min(vy1, vy0 + _ceil_to(gy1 - vy0, step)), min(vx1, vx0 + _ceil_to(gx1 - vx0, step))
    part = _mask_part(req, ctx, k, (gy0, gy1, gx0, gx1), step)
    r0, c0 = (gy0 - vy0) // step, (gx0 - vx0) // step
    out[r0 : r0 + part.shape[0], c0 : c0 + part.shape[1]] = part
    return out


def _mask_part(req: RenderRequest, ctx: Context, k: int, part: Region, step: int) -> np.ndarray:
    """Mask codes of ``part`` of the frame, tested with a one-pixel margin, block-reduced by ``step``."""
    py0, py1, px0, px1 = part
    _, h, w = req.dataset.shape
    # One pixel of margin so that neighbours across the part's edge count.
    my0, my1 = max(py0 - 1, 0), min(py1 + 1, h)
    mx0, mx1 = max(px0 - 1, 0), min(px1 + 1, w)
    name = req.kind if ctx.sat_source is req.values else "saturation"
    raw_k = region_read(req, name, ctx.sat_source, k, (my0, my1, mx0, mx1), 1)
    sat = ctx.saturation.region(raw_k, my0, mx0)
    margin = (py0 - my0, my1 - py1, px0 - mx0, mx1 - px1)
    # The mask pane's rule (what compose("mask") returns as float32), kept as uint8 codes.
    return mask_pane(sat, margin, step)


def _memo(req: RenderRequest, key, compute):
    if req.reads is None:
        return compute()
    return req.reads.get((req.dataset.id,) + key, compute)


def prefetch_job(req: RenderRequest, frames: tuple[int, ...], token: CancelToken | None = None) -> int:
    """Read ahead what rendering ``frames`` with ``req``'s view will read; returns bytes read.

    Fills the request's memo only (bounded); cancelled when playback jumps.
    """
    total = 0
    n = req.dataset.shape[0]
    ctx = req.context
    for kk in frames:
        if token is not None and token.cancelled:
            raise Cancelled("cancelled")
        kk %= n
        total += view_read(req, req.kind, req.values, kk).nbytes
        if ctx is not None and ctx.saturation is not None and ctx.sat_source is not req.values and "mask" in req.panes:
            total += region_read(req, "saturation", ctx.sat_source, kk, grown(req.view, req.dataset.shape[1:]), 1).nbytes
    return total


def probe_values(result: RenderResult, row: int, col: int) -> dict[str, Any] | None:
    """Exact values under the cursor from what a render read, or None if it did not read that pixel."""
    probe = result.probe
    vy0, vy1, vx0, vx1 = probe["view"]
    step = probe["step"]
    if not (vy0 <= row < vy1 and vx0 <= col < vx1) or (row - vy0) % step or (col - vx0) % step:
        return None
    r, c = (row - vy0) // step, (col - vx0) // step
    out: dict[str, Any] = {"row": row, "col": col, "frame": probe["k"]}
    value = float(probe["frame"][r, c])
    if "superbias" in probe:
        value -= float(probe["superbias"][r, c])
    out["value"] = value
    if "baseline_frame" in probe:
        out["difference"] = float(np.float32(probe["frame"][r, c]) - np.float32(probe["baseline_frame"][r, c]))
    if "mean_slope" in probe and "previous_frame" in probe:
        mean = float(probe["mean_slope"][r, c])
        d = float(np.float32(probe["frame"][r, c]) - np.float32(probe["previous_frame"][r, c]))
        out["ratio"] = d / mean if math.isfinite(mean) and mean != 0 else float("nan")
        out["mean_slope"] = mean
    if "mask_codes" in probe:
        codes = probe["mask_codes"]
        if r < codes.shape[0] and c < codes.shape[1]:
            out["mask"] = int(codes[r, c])
    if "pixeldq" in probe:
        out["pixeldq"] = int(probe["pixeldq"][row, col])
    return out
