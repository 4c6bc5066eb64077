"""What is open and the work the panes need, Qt-free (runs in worker threads).

A :class:`Session` holds the opened exposure (and its calibrated ramp, when
there is one), the saturation thresholds and pixel DQ, and the mean slopes
computed so far.  The functions here are the jobs the window submits to its
worker channels:

* :func:`open_job` -- open a file, find its references and a cached
  calibration, locate the star;
* :func:`render` -- the four pane images of one frame for the visible part of
  the data region, at the screen's resolution, already coloured (the UI
  thread only uploads them);
* :func:`summary_job` -- the mean slope (and saturation onset and counts) of
  a region, one frame at a time with progress;
* :func:`pixel_ramps` -- the ramps of a pixel and its 3 x 3 neighbours.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from processing import figures
from processing.io import Exposure, open_exposure
from processing.progress import CancelToken, Cancelled, Progress

Region = tuple[int, int, int, int]


# -- frame sources ---------------------------------------------------------------------


class RegionFrames:
    """Frame source over a region of an exposure (views of memory-mapped frames)."""

    def __init__(self, frames: Any, region: Region):
        self.frames = frames
        self.region = region
        y0, y1, x0, x1 = region
        self.shape = (frames.shape[0], y1 - y0, x1 - x0)

    def frame(self, k: int) -> np.ndarray:
        y0, y1, x0, x1 = self.region
        return self.frames.frame(k)[y0:y1, x0:x1]


class GroupdqSaturation:
    """``groupdq & SATURATED`` as uint8 frames: a 'raw' source whose threshold is 1.

    Used when only a calibrated ramp is open (no raw DN to test).
    """

    def __init__(self, groupdq):
        self.groupdq = groupdq
        self.shape = tuple(groupdq.shape)

    def frame(self, k: int) -> np.ndarray:
        return (np.asarray(self.groupdq.frame(k)) & 2).astype(np.uint8)


#: Distinct frames rendered before the session's mapped pages are released.
_FRAMES_BEFORE_RELEASE = 12


# -- the session ---------------------------------------------------------------------------


@dataclass
class Session:
    """An opened exposure and what was derived from it.

    Attributes
    ----------
    uri : str
    raw : Exposure or None
        The uncal / L1 exposure (raw DN).
    calibrated : Exposure or None
        A RampModel of it (calibrated DN).
    sat_dn : (H, W) float32 or None
        Saturation thresholds aligned to the frames (raw DN).
    pixeldq : (H, W) uint32 or None
    references : dict of type -> Path
    star : (row, col) or None
    summaries : dict
        ``(kind, region) -> RampSummary``.
    superbias : (H, W) float32 or None
    """

    uri: str
    raw: Exposure | None
    calibrated: Exposure | None = None
    sat_dn: np.ndarray | None = None
    pixeldq: np.ndarray | None = None
    references: dict[str, Path] = field(default_factory=dict)
    star: tuple[int, int] | None = None
    summaries: dict = field(default_factory=dict)
    superbias: np.ndarray | None = None
    calibration_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    #: True until :func:`context_job` has read the reference files (panes say "loading").
    references_loading: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _thresholds: dict = field(default_factory=dict, repr=False)
    _bad_cache: dict = field(default_factory=dict, repr=False)
    _touched: set = field(default_factory=set, repr=False)

    @property
    def primary(self) -> Exposure:
        return self.raw if self.raw is not None else self.calibrated  # type: ignore[return-value]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.primary.shape

    def frames(self, kind: str) -> Exposure:
        """The exposure shown for ``kind`` (``"raw"`` or ``"calibrated"``)."""
        if kind == "calibrated" and self.calibrated is not None:
            return self.calibrated
        return self.primary

    def saturation_source(self):
        """(frames, sat_dn) for the saturation test, or (None, None)."""
        if self.raw is not None and self.sat_dn is not None:
            return self.raw, self.sat_dn
        if self.calibrated is not None and "groupdq" in self.calibrated.arrays:
            return GroupdqSaturation(self.calibrated.arrays["groupdq"]), np.ones(self.shape[1:], np.float32)
        return None, None

    def threshold(self, dtype) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Saturation thresholds in ``dtype`` for the whole frame (computed once)."""
        src, sat = self.saturation_source()
        if src is None:
            return None
        key = np.dtype(dtype)
        with self._lock:
            if key not in self._thresholds:
                self._thresholds[key] = figures.threshold_in_dtype(sat, key)
            return self._thresholds[key]

    def bad(self) -> np.ndarray | None:
        """``pixeldq != 0`` for the whole frame (computed once)."""
        if self.pixeldq is None:
            return None
        with self._lock:
            if "full" not in self._bad_cache:
                self._bad_cache["full"] = self.pixeldq != 0
            return self._bad_cache["full"]

    def note_frames_touched(self, kind: str, frames) -> None:
        """Release mapped pages once many distinct frames have been read (bounded RSS)."""
        with self._lock:
            self._touched.update((kind, f) for f in frames)
            release = len(self._touched) > _FRAMES_BEFORE_RELEASE
            if release:
                self._touched.clear()
        if release:
            for exp in (self.raw, self.calibrated):
                if exp is not None:
                    exp.release_pages()

    def pooled_bad(self, view: Region, step: int, compute) -> np.ndarray:
        """Flags of ``view`` block-reduced by ``step`` (cached: they do not change with the frame)."""
        key = ("pooled", view, step)
        with self._lock:
            hit = self._bad_cache.get(key)
        if hit is None:
            hit = compute()
            with self._lock:
                for old in [k for k in self._bad_cache if k != "full"][:-4]:
                    del self._bad_cache[old]
                self._bad_cache[key] = hit
        return hit

    def summary_for(self, kind: str, region: Region):
        """A ramp summary covering ``region``: (summary, its region) or (None, None).

        A full-frame summary serves every cutout.
        """
        with self._lock:
            items = list(self.summaries.items())
        for (k, reg), summary in items:
            if k != kind:
                continue
            y0, y1, x0, x1 = region
            if reg[0] <= y0 and reg[1] >= y1 and reg[2] <= x0 and reg[3] >= x1:
                return summary, reg
        return None, None

    def mean_slope(self, kind: str, region: Region) -> np.ndarray | None:
        summary, reg = self.summary_for(kind, region)
        if summary is None:
            return None
        y0, y1, x0, x1 = region
        return summary.mean_slope[y0 - reg[0] : y1 - reg[0], x0 - reg[2] : x1 - reg[2]]

    def close(self) -> None:
        for exp in (self.raw, self.calibrated):
            if exp is not None:
                try:
                    exp.close()
                except Exception:  # noqa: BLE001 - closing must not fail a shutdown
                    pass


# -- opening ------------------------------------------------------------------------------------


def find_cached_calibration(uri: str, refs: dict | None = None, endpoint_url: str | None = None) -> Path | None:
    """A calibrated RampModel of ``uri`` already in the cache, or None (no computation)."""
    from processing import calibrate

    try:
        found = calibrate.find_cached(uri, refs=refs or None, endpoint_url=endpoint_url)
    except Exception:  # noqa: BLE001 - a cache miss, whatever the reason
        return None
    return Path(found) if found else None


def calibration_job(uri: str, refs: dict[str, Path] | None, endpoint_url: str | None = None):
    """The calibration job of :mod:`processing.calibrate` for ``uri``."""
    from processing import calibrate

    return calibrate.calibrate_job(uri, refs=refs or None, endpoint_url=endpoint_url)


def load_references(session: Session) -> None:
    """Saturation thresholds and the mask DQ from the session's reference files."""
    shape = session.shape[1:]
    refs = session.references
    if "saturation" in refs and session.raw is not None:
        sat = figures.load_reference_array(refs["saturation"], "data").astype(np.float32, copy=False)
        session.sat_dn = np.ascontiguousarray(figures.align_to_frame(sat, shape))
    if session.pixeldq is None and "mask" in refs:
        dq = figures.load_reference_array(refs["mask"], "dq").astype(np.uint32, copy=False)
        session.pixeldq = np.ascontiguousarray(figures.align_to_frame(dq, shape))


def open_job(uri: str, endpoint_url: str | None = None, references: dict[str, Path] | None = None, token: CancelToken | None = None):
    """Open ``uri`` for display: a progress generator returning a Session.

    Only what the first paint needs: the exposure (decompressed to the cache
    first if it is zlib/bzp2) and the star for the default cutout.  Reference
    files and a cached calibration are loaded afterwards by
    :func:`context_job`, so a full exposure shows in a fraction of a second.
    """
    yield Progress(0.02, f"opening {Path(str(uri)).name}")
    exp = open_exposure(uri, endpoint_url=endpoint_url)
    try:
        if exp.needs_preparation:
            prep = exp.prepare()
            for report in prep:
                yield Progress(0.05 + 0.8 * report.fraction, report.message)
        if exp.model_type == "RampModel":
            session = Session(uri=str(uri), raw=None, calibrated=exp)
        else:
            session = Session(uri=str(uri), raw=exp)
        session.references = dict(references or {})  # resolved and checked after the first paint
        yield Progress(0.9, "finding the star")
        n = exp.shape[0]
        last = exp.frame(n - 1)
        from processing.diagnostics import brightest_source

        try:
            session.star = tuple(int(v) for v in brightest_source(last))
        except ValueError:
            session.star = None
        yield Progress(1.0, "open")
        return session
    except BaseException:
        exp.close()
        raise


def context_job(session: Session, endpoint_url: str | None = None):
    """Load what the derived panes need after the first paint (a progress generator).

    Saturation thresholds and mask DQ from the reference files, the
    exposure's own pixel DQ, and a calibrated cube already in the cache.
    Returns the same session.
    """
    yield Progress(0.05, "checking reference files")
    from processing.calibrate.references import VIEWER_TYPES, resolve
    from processing.errors import ReferenceFileError

    try:
        try:
            found = resolve(session.primary, session.references or None, types=VIEWER_TYPES, endpoint_url=endpoint_url)
            session.references = dict(found.paths) if found is not None else {}
        except ReferenceFileError as err:
            session.references = {}
            session.notes.append(f"reference files not used: {err}")
        yield Progress(0.1, "reading reference files")
        load_references(session)
    finally:
        # Loaded or failed: the panes stop saying "loading" either way.
        session.references_loading = False
    exp = session.primary
    if "pixeldq" in exp.arrays:
        session.pixeldq = np.asarray(exp.arrays["pixeldq"].read(), dtype=np.uint32)
    if session.raw is not None:
        yield Progress(0.5, "looking for a cached calibration")
        cached = find_cached_calibration(session.uri, session.references, endpoint_url)
        if cached is not None:
            yield Progress(0.8, "opening the cached calibration")
            attach_calibrated(session, cached)
    if session.raw is not None and session.sat_dn is None:
        session.notes.append("no saturation reference: the mask and slope-ratio panes need one (Calibration > Reference files)")
    yield Progress(1.0, "references loaded")
    return session


def attach_calibrated(session: Session, path: str | Path) -> None:
    """Open a calibrated RampModel and use its pixel DQ."""
    cal = open_exposure(str(path))
    if cal.shape != session.shape:
        cal.close()
        raise ValueError(f"calibrated ramp {path} has shape {cal.shape}; the exposure has {session.shape}")
    if session.calibrated is not None and session.calibrated is not session.raw:
        session.calibrated.close()
    session.calibrated = cal
    session.calibration_path = Path(path)
    if "pixeldq" in cal.arrays:
        session.pixeldq = np.asarray(cal.arrays["pixeldq"].read(), dtype=np.uint32)
        session._bad_cache.clear()
    with session._lock:
        for key in [k for k in session.summaries if k[0] == "calibrated"]:
            del session.summaries[key]


# -- rendering ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaneStyle:
    """What the renderer needs of a pane's display settings (plain values)."""

    mode: str
    low: float
    high: float
    vmin: float
    vmax: float
    lut: Any  # (n, 4) uint8 (an ndarray; compared by identity)


@dataclass(frozen=True)
class RenderRequest:
    """One frame's panes for a view.

    Attributes
    ----------
    kind : "raw" or "calibrated"
    frame, baseline : int
    region : (y0, y1, x0, x1)
        The data region (cutout or full frame); levels are computed over it.
    view : (y0, y1, x0, x1)
        Part of the region to draw (visible area plus a margin).
    step : int
        Draw every ``step``-th pixel (masks and flags are block-reduced, so
        no flagged pixel disappears).
    styles : dict of pane -> PaneStyle
    flag_color : (r, g, b)
    subtract_superbias : bool
    """

    kind: str
    frame: int
    baseline: int
    region: Region
    view: Region
    step: int
    styles: dict
    flag_color: tuple[int, int, int] = (255, 255, 255)
    subtract_superbias: bool = False
    panes: tuple[str, ...] = figures.PANES
    histogram_pane: str | None = None


@dataclass
class PaneImage:
    """A rendered pane: RGBA pixels and where they go."""

    rgba: np.ndarray | None
    rect: tuple[float, float, float, float]  # x, y, width, height in pixel coordinates
    levels: tuple[float, float]
    histogram: tuple[np.ndarray, np.ndarray] | None = None
    message: str = ""


@dataclass
class RenderResult:
    """The four panes of one request, plus exact full-resolution values for the readout."""

    request: RenderRequest
    panes: dict[str, PaneImage]
    probe: dict[str, Any]
    seconds: float = 0.0


def _view_slice(a: np.ndarray, region: Region, view: Region, step: int) -> np.ndarray:
    """``a`` is the region's array; cut the view from it at ``step``."""
    y0, _, x0, _ = region
    vy0, vy1, vx0, vx1 = view
    return a[vy0 - y0 : vy1 - y0 : step, vx0 - x0 : vx1 - x0 : step]


def render(session: Session, req: RenderRequest, token: CancelToken | None = None) -> RenderResult:
    """Compute and colour the panes of ``req`` (call from a worker thread)."""
    import time

    t0 = time.perf_counter()
    y0, y1, x0, x1 = req.region
    vy0, vy1, vx0, vx1 = req.view
    step = max(1, int(req.step))
    n = session.shape[0]
    k = min(max(req.frame, 0), n - 1)
    b = min(max(req.baseline, 0), n - 1)
    src = session.frames(req.kind)
    full_bad = session.bad()
    bad_region = None if full_bad is None else full_bad[y0:y1, x0:x1]
    bad_view = None if bad_region is None else session.pooled_bad(req.view, step, lambda: figures.block_reduce(
        _view_slice_full(bad_region, req), step, "any"))
    color = (*req.flag_color, 255)

    def cut(a):
        return a[y0:y1, x0:x1]

    frame_k = cut(src.frame(k))
    probe: dict[str, Any] = {"region": req.region, "frame": frame_k, "kind": req.kind, "k": k, "baseline": b}
    panes: dict[str, PaneImage] = {}
    rect = (float(vx0), float(vy0), float(_ceil_to(vx1 - vx0, step)), float(_ceil_to(vy1 - vy0, step)))

    def check():
        if token is not None and token.cancelled:
            raise Cancelled("cancelled")

    s = _sample_step((y1 - y0, x1 - x0))
    bad_sample = None if bad_region is None else bad_region[::s, ::s]

    def finish(kind, sample, values_view, bad_v, message=""):
        # Levels over good pixels of the whole region (a strided sample of it,
        # flagged pixels removed explicitly), not of the view: zooming does
        # not change the stretch.
        style: PaneStyle = req.styles[kind]
        if style.mode == "manual":
            levels = (style.vmin, style.vmax)
        else:
            levels = figures.good_levels(sample, bad_sample, style.low, style.high, max_samples=sample.size + 1)
        hist = None
        if req.histogram_pane in (None, kind):
            hist = figures.histogram(sample, bad_sample, levels, max_samples=sample.size + 1)
        rgba = figures.colorize(values_view, levels, style.lut, bad_v, color)
        panes[kind] = PaneImage(rgba, rect, levels, hist, message)

    if "raw" in req.panes:
        sb = session.superbias if (req.subtract_superbias and session.superbias is not None) else None
        raw_view = _view_slice(frame_k, req.region, req.view, step).astype(np.float32)
        raw_sample = frame_k[::s, ::s].astype(np.float32)
        if sb is not None:
            sb_region = cut(sb)
            raw_view -= _view_slice(sb_region, req.region, req.view, step)
            raw_sample -= sb_region[::s, ::s]
            probe["superbias"] = sb_region
        finish("raw", raw_sample, raw_view, _fit(bad_view, raw_view))
        check()

    if "difference" in req.panes:
        frame_b = cut(src.frame(b))
        probe["baseline_frame"] = frame_b
        diff_view = figures.difference(_view_slice(frame_k, req.region, req.view, step), _view_slice(frame_b, req.region, req.view, step))
        finish("difference", figures.difference(frame_k[::s, ::s], frame_b[::s, ::s]), diff_view, _fit(bad_view, diff_view))
        check()

    if "ratio" in req.panes:
        mean = session.mean_slope(req.kind, req.region)
        if mean is None or k < 1:
            message = "frame 0 has no previous frame" if k < 1 else _no_slope_message(session)
            panes["ratio"] = PaneImage(None, rect, (req.styles["ratio"].vmin, req.styles["ratio"].vmax), None, message)
        else:
            prev = cut(src.frame(k - 1))
            probe["previous_frame"] = prev
            probe["mean_slope"] = mean
            ratio_view = figures.slope_ratio_image(
                _view_slice(frame_k, req.region, req.view, step), _view_slice(prev, req.region, req.view, step),
                _view_slice(mean, req.region, req.view, step),
            )
            ratio_sample = figures.slope_ratio_image(frame_k[::s, ::s], prev[::s, ::s], mean[::s, ::s])
            finish("ratio", ratio_sample, ratio_view, _fit(bad_view, ratio_view))
        check()

    if "mask" in req.panes:
        sat_src, _ = session.saturation_source()
        if sat_src is None:
            panes["mask"] = PaneImage(None, rect, (0.0, 3.0), None, _no_reference_message(session))
        else:
            raw_k = sat_src.frame(k)
            thr, keep = session.threshold(raw_k.dtype)
            # One pixel of margin so that neighbours across the view's edge count.
            my0, my1 = max(vy0 - 1, 0), min(vy1 + 1, session.shape[1])
            mx0, mx1 = max(vx0 - 1, 0), min(vx1 + 1, session.shape[2])
            sat = figures.saturated(raw_k[my0:my1, mx0:mx1], thr[my0:my1, mx0:mx1], None if keep is None else keep[my0:my1, mx0:mx1])
            codes = figures.mask_codes(sat)[vy0 - my0 : vy1 - my0, vx0 - mx0 : vx1 - mx0]
            codes_view = figures.block_reduce(codes, step, "max").astype(np.float32)
            probe["mask_codes"] = (codes, (vy0, vx0))
            style: PaneStyle = req.styles["mask"]
            levels = (style.vmin, style.vmax) if style.mode == "manual" else (0.0, 3.0)
            counts = np.bincount(codes_view.astype(np.int64).ravel(), minlength=4)[:4]
            rgba = figures.colorize(codes_view, levels, style.lut, None, color)
            panes["mask"] = PaneImage(rgba, rect, levels, (counts, np.arange(5) - 0.5))
    session.note_frames_touched(req.kind, (k, b, k - 1))
    if bad_region is not None:
        probe["bad"] = bad_region
    if session.pixeldq is not None:
        probe["pixeldq"] = session.pixeldq
    return RenderResult(req, panes, probe, time.perf_counter() - t0)


def _ceil_to(length: int, step: int) -> int:
    return -(-length // step) * step


def _view_slice_full(a_region: np.ndarray, req: RenderRequest) -> np.ndarray:
    y0, _, x0, _ = req.region
    vy0, vy1, vx0, vx1 = req.view
    return a_region[vy0 - y0 : vy1 - y0, vx0 - x0 : vx1 - x0]


def _fit(bad_view, values_view):
    if bad_view is None:
        return None
    h, w = values_view.shape
    return bad_view[:h, :w]


_LEVEL_SAMPLES = 65_536


def _sample_step(shape) -> int:
    """Stride giving about ``_LEVEL_SAMPLES`` pixels of a region for its levels."""
    return max(1, int(math.ceil(math.sqrt(shape[0] * shape[1] / _LEVEL_SAMPLES))))


def _no_reference_message(session: Session) -> str:
    return LOADING_REFERENCES if session.references_loading else "no saturation reference"


#: What the derived panes say while the reference files load (not an error).
LOADING_REFERENCES = "loading reference files..."


def _no_slope_message(session: Session) -> str:
    src, _ = session.saturation_source()
    if src is None:
        return LOADING_REFERENCES if session.references_loading else "no saturation reference: no mean slope"
    return "computing the mean slope..."


# -- summaries ----------------------------------------------------------------------------------------


def summary_job(session: Session, kind: str, region: Region):
    """Mean slope, saturation onset and counts over ``region`` (a progress generator).

    Full frames are read through a freshly opened exposure, closed at the end,
    so that the pages of the 55 frames it maps are released with it.
    """
    from processing.diagnostics import ramp_summary_job

    sat_src, sat_dn = session.saturation_source()
    if sat_src is None:
        raise ValueError("the mean slope needs saturation thresholds: open the saturation reference file")
    y0, y1, x0, x1 = region
    n, h, w = session.shape
    values_exp = session.frames(kind)
    full = (y1 - y0) * (x1 - x0) > 0.25 * h * w
    opened: list[Exposure] = []
    try:
        if full and values_exp.compression is None and not str(values_exp.uri).startswith("s3://"):
            values_exp = open_exposure(values_exp.uri)
            opened.append(values_exp)
            if sat_src is session.raw:
                sat_src = values_exp if kind == "raw" else open_exposure(session.raw.uri)
                if sat_src is not values_exp:
                    opened.append(sat_src)
        if not full and values_exp.compression is not None:
            values = values_exp.cutout(y0, y1, x0, x1)
            raw = values if sat_src is values_exp else (
                sat_src.cutout(y0, y1, x0, x1) if hasattr(sat_src, "cutout") else RegionFrames(sat_src, region))
        else:
            values = RegionFrames(values_exp, region)
            raw = values if sat_src is values_exp else RegionFrames(sat_src, region)
        job = ramp_summary_job(values, raw, np.asarray(sat_dn)[y0:y1, x0:x1])
        try:
            i = 0
            while True:
                report = next(job)
                i += 1
                if full and i % 4 == 0:  # keep the resident set small on full frames
                    for exp in opened:
                        exp.release_pages()
                yield report
        except StopIteration as stop:
            summary = stop.value
    finally:
        for exp in opened:
            exp.close()
    with session._lock:
        # Keep a few: a full-frame one and the latest cutouts.
        keys = [k for k in session.summaries if k[1] != (0, h, 0, w)]
        for key in keys[:-3]:
            del session.summaries[key]
        session.summaries[(kind, region)] = summary
    return summary


# -- pixel ramps ----------------------------------------------------------------------------------------


def pixel_ramps(session: Session, row: int, col: int) -> dict:
    """Ramps of pixel (row, col) and its 3 x 3 neighbourhood, with DQ and saturation.

    Returns
    -------
    dict
        ``row, col``; ``raw`` (N, 3, 3) DN or None; ``calibrated`` (N, 3, 3)
        or None; ``groupdq`` (N, 3, 3) uint8 or None; ``saturated`` (N, 3, 3)
        bool or None; ``onset`` (3, 3) int (-1: never); ``mean_slope`` float
        (DN/frame) of the centre; ``pixeldq`` int; ``times`` (N,) s or None;
        ``box`` (r0, r1, c0, c1) of the neighbourhood (clipped at edges).
    """
    n, h, w = session.shape
    r0, r1, c0, c1 = max(row - 1, 0), min(row + 2, h), max(col - 1, 0), min(col + 2, w)
    out: dict[str, Any] = {"row": row, "col": col, "box": (r0, r1, c0, c1)}
    raw = session.raw.cutout(r0, r1, c0, c1) if session.raw is not None else None
    cal = session.calibrated.cutout(r0, r1, c0, c1) if session.calibrated is not None else None
    out["raw"], out["calibrated"] = raw, cal
    gdq = None
    if session.calibrated is not None and "groupdq" in session.calibrated.arrays:
        gdq = session.calibrated.arrays["groupdq"].cutout(r0, r1, c0, c1)
    out["groupdq"] = gdq
    sat = None
    if raw is not None and session.sat_dn is not None:
        thr, keep = figures.threshold_in_dtype(session.sat_dn[r0:r1, c0:c1], raw.dtype)
        sat = raw >= thr[None]
        if keep is not None:
            sat &= keep[None]
    elif gdq is not None:
        sat = (gdq & 2) != 0
    out["saturated"] = sat
    if sat is not None:
        ever = sat.any(axis=0)
        out["onset"] = np.where(ever, sat.argmax(axis=0), -1)
    else:
        out["onset"] = None
    values = cal if cal is not None else raw
    out["mean_slope"] = _pixel_mean_slope(values, sat, row - r0, col - c0)
    out["mean_slope_raw"] = _pixel_mean_slope(raw, sat, row - r0, col - c0) if raw is not None else None
    out["pixeldq"] = int(session.pixeldq[row, col]) if session.pixeldq is not None else None
    out["times"] = session.primary.read_times
    return out


def _pixel_mean_slope(values, sat, r, c) -> float | None:
    """The tutorial's mean slope for one pixel (differences not saturated nor next to saturation)."""
    if values is None:
        return None
    v = np.asarray(values, dtype=np.float64)[:, r, c]
    diffs = np.diff(v)
    if sat is None:
        valid = np.ones(diffs.shape, bool)
    else:
        s = np.asarray(sat)
        around = s[:, r, c].copy()
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            rr, cc = r + dr, c + dc
            if 0 <= rr < s.shape[1] and 0 <= cc < s.shape[2]:
                around |= s[:, rr, cc]
        valid = ~around[1:]
    if not valid.any():
        return None
    return float(diffs[valid].mean())


def probe_values(result: RenderResult, row: int, col: int) -> dict[str, Any] | None:
    """Exact values under the cursor from a render's full-resolution arrays."""
    probe = result.probe
    y0, y1, x0, x1 = probe["region"]
    if not (y0 <= row < y1 and x0 <= col < x1):
        return None
    r, c = row - y0, col - x0
    out: dict[str, Any] = {"row": row, "col": col, "frame": probe["k"]}
    raw = float(probe["frame"][r, c])
    if "superbias" in probe:
        raw -= float(probe["superbias"][r, c])
    out["value"] = raw
    if "baseline_frame" in probe:
        out["difference"] = float(np.float32(probe["frame"][r, c]) - np.float32(probe["baseline_frame"][r, c]))
    if "mean_slope" in probe and "previous_frame" in probe:
        mean = float(probe["mean_slope"][r, c])
        d = float(np.float32(probe["frame"][r, c]) - np.float32(probe["previous_frame"][r, c]))
        out["ratio"] = d / mean if math.isfinite(mean) and mean != 0 else float("nan")
        out["mean_slope"] = mean
    if "mask_codes" in probe:
        codes, (vy0, vx0) = probe["mask_codes"]
        rr, cc = row - vy0, col - vx0
        if 0 <= rr < codes.shape[0] and 0 <= cc < codes.shape[1]:
            out["mask"] = int(codes[rr, cc])
    if "pixeldq" in probe:
        out["pixeldq"] = int(probe["pixeldq"][row, col])
    return out
