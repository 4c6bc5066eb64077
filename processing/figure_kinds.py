"""The four figure kinds -- one pane, the pane group, the tutorial's two sets -- drawn pixel-exact.

Each builder computes its panes' values with :class:`~processing.figures.FigureData`,
colours them once (:func:`compose`: the colour table with the stretch folded
in, DQ-flagged pixels in the flag colour, undefined pixels in the NaN colour,
the mask as four categories), and places them with
:mod:`processing.figure_layout` so that every data pixel is a whole number
of output pixels.  What was drawn (levels, scales, colours, counts of flagged
pixels, zoom) is kept on the figure as ``fig.brightstar_record`` for the
JSON sidecar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import figure_layout as fl
from . import pane_colours
from .figures import PANES, FigureData, PaneSpec, good_levels, lookup_table, stretch

#: Colour-bar labels, one per pane kind.
UNITS = {"raw": "DN", "difference": "\N{GREEK CAPITAL LETTER DELTA} DN", "ratio": "frame slope / mean slope"}


@dataclass
class Composed:
    """A pane coloured for a file.

    Attributes
    ----------
    rgba : (h, w, 4) uint8
    lut : (n, 4) uint8 or None
        The colour table (None for the categorical mask).
    levels : (lo, hi)
    entries : list of (label, rgba)
        Legend: flag and NaN colours (with pixel counts) or the mask's categories.
    record : dict
        What the sidecar says about the pane.
    """

    rgba: np.ndarray
    lut: np.ndarray | None
    levels: tuple[float, float]
    entries: list
    record: dict


def compose(img: np.ndarray, spec: PaneSpec, levels: tuple[float, float], bad: np.ndarray | None) -> Composed:
    """Colour one pane: values through ``spec``'s table, flags and NaN on top.

    Parameters
    ----------
    img : (h, w) float32
        Pane values (mask codes 0-3 for the mask pane).
    bad : (h, w) bool or None
        DQ-flagged pixels (ignored for the mask pane, whose categories are
        the data).

    Returns
    -------
    Composed
    """
    if spec.kind == "mask":
        colours = pane_colours.mask_colours(spec.cmap)
        codes = np.clip(np.nan_to_num(np.rint(img), nan=0), 0, 3).astype(np.intp)
        counts = np.bincount(codes.ravel(), minlength=4)
        entries = [(f"{name} ({n} px)", tuple(int(v) for v in colours[i]))
                   for i, (name, n) in enumerate(zip(pane_colours.MASK_LABELS, counts))]
        record = {"cmap": spec.cmap, "categories": {name: {"code": i, "colour": pane_colours.hex_colour(colours[i]),
                                                           "pixels": int(counts[i])}
                                                    for i, name in enumerate(pane_colours.MASK_LABELS)}}
        return Composed(colours[codes], None, (0.0, 3.0), entries, record)
    lut = lookup_table(spec.cmap, spec.scale)
    flag = spec.flag_color or pane_colours.flag_colour(spec.cmap)
    nan = spec.nan_color or pane_colours.nan_colour(spec.cmap)
    rgba = pane_colours.colour_pane(img, levels, lut, bad, flag, nan)
    undefined = ~np.isfinite(img)
    n_flag = 0
    if bad is not None and bad.any():
        n_flag = int(np.count_nonzero(bad))
        undefined &= ~bad
    n_nan = int(np.count_nonzero(undefined))
    entries = []
    if n_flag:
        entries.append((f"DQ-flagged ({n_flag} px)", tuple(flag)))
    if n_nan:
        entries.append((f"undefined ({n_nan} px)", tuple(nan)))
    record = {"cmap": spec.cmap, "scale": spec.scale, "levels": [float(levels[0]), float(levels[1])],
              "percentiles": None if spec.levels is not None else list(spec.percentiles),
              "flag_colour": pane_colours.hex_colour(flag), "nan_colour": pane_colours.hex_colour(nan),
              "flagged_pixels": n_flag, "undefined_pixels": n_nan}
    return Composed(rgba, lut, (float(levels[0]), float(levels[1])), entries, record)


def _position(levels, scale):
    lo, hi = levels
    return lambda v: float(stretch((v - lo) / (hi - lo), scale))


def _extent(region, raster: fl.Raster, shape) -> tuple[float, float, float, float]:
    y0, _, x0, _ = region
    h, w = shape
    return (x0 - 0.5, x0 - 0.5 + w * raster.bin, y0 - 0.5, y0 - 0.5 + h * raster.bin)


def _levels(spec: PaneSpec, img, bad):
    if spec.levels is not None:
        return spec.levels
    return good_levels(img, None if spec.kind == "mask" else bad, *spec.percentiles)


def describe(data: FigureData, kind: str) -> str:
    """What the pane's values are: ``"raw DN, superbias-subtracted"``, ``"calibrated DN"``, ..."""
    base = f"{data.data_kind} DN"
    if kind == "raw" and data.superbias is not None:
        return base + ", superbias-subtracted"
    if kind == "mask":
        return "raw DN vs saturation reference"
    return base


def pane_title(data: FigureData, kind: str, k: int, baseline: int) -> str:
    """Two title lines: where and when, then what the values are."""
    prefix = f"{data.title} \N{MIDDLE DOT} " if data.title else ""
    what = describe(data, kind)
    if kind == "difference":
        return f"{prefix}frame {k} \N{MINUS SIGN} frame {baseline}\n{what}"
    if kind == "ratio":
        return f"{prefix}frame {k}: ({k} \N{MINUS SIGN} {k - 1}) / mean slope\n{what}"
    if kind == "mask":
        return f"{prefix}frame {k}: saturated or near\n{what}"
    return f"{prefix}frame {k}\n{what}"


@dataclass
class _Pane:
    kind: str
    spec: PaneSpec
    composed: Composed | None
    title: str
    label: str
    error: str | None = None
    frame: int = 0
    shape: tuple[int, int] = (0, 0)


def _prepare(data: FigureData, kind: str, spec: PaneSpec, k: int, baseline: int, raster: _Rasters,
             title: str | None = None, label: str | None = None, scale_values: float = 1.0,
             levels: tuple[float, float] | None = None) -> _Pane:
    title = title if title is not None else pane_title(data, kind, k, baseline)
    try:
        img = data.pane(kind, k, baseline)
    except ValueError as err:
        return _Pane(kind, spec, None, title, "", error=str(err), frame=k)
    if scale_values != 1.0:
        img = img / scale_values
    bad = None if kind == "mask" else data.bad
    img, bad = fl.bin_pane(img, bad, raster.bin, "max" if kind == "mask" else "mean")
    lv = levels if levels is not None else _levels(spec, img, bad)
    composed = compose(img, spec, lv, bad)
    if label is None:
        label = "mask category" if kind == "mask" else UNITS[kind]
        if kind != "mask" and spec.scale != "linear":
            label += f" ({spec.scale} stretch)"
    composed.record.update({"pane": kind, "frame": k, "data": describe(data, kind), "title": title.replace("\n", "; ")})
    if kind == "difference":
        composed.record["baseline"] = baseline
    return _Pane(kind, spec, composed, title, label, frame=k, shape=img.shape)


def _draw(fig, g: fl.Grid, cell: fl.Cell, pane: _Pane, data: FigureData, raster: _Rasters, side: fl.Box | None):
    if pane.composed is None:
        ax = fig.add_axes((cell.image.x / g.width, cell.image.y / g.height, cell.image.w / g.width, cell.image.h / g.height))
        ax.text(0.5, 0.5, fl.wrap_title(pane.error, cell.image.w, g.dpi, 4), ha="center", va="center",
                transform=ax.transAxes, fontsize=fl.LABEL_PT)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(fl.wrap_title(pane.title, cell.image.w, g.dpi), fontsize=fl.TITLE_PT, fontweight="bold")
        return None
    c = pane.composed
    box = cell.image
    c.record["image_px"] = {"left": box.x, "top": g.height - box.y - box.h, "width": box.w, "height": box.h}
    ax = fl.image_axes(fig, g, cell, c.rgba, _extent(data.region, raster.draw, pane.shape), pane.title)
    if side is not None:
        draw_side(fig, g, side, c, pane.label, pane.spec.scale)
    return ax


def draw_side(fig, g: fl.Grid, side: fl.Box, c: Composed, label: str, scale: str) -> None:
    """Colour bar (or the mask's categories) and the flag legend in a side column."""
    if c.lut is None:
        fl.legend(fig, g, side, c.entries[::-1], title=label)
        return
    frac = fl.legend_height_fraction(len(c.entries), side, g.dpi)
    fl.colour_bar(fig, g, side, c.lut, c.levels, _position(c.levels, scale), label, frac, scale != "linear")
    fl.legend(fig, g, side, c.entries)


def _new_figure(g: fl.Grid):
    from matplotlib.figure import Figure

    return Figure(figsize=g.figsize, dpi=g.dpi)


def _finish(fig, kind: str, g: fl.Grid, raster: _Rasters, panes: list[_Pane], data: FigureData, **extra):
    lay, b = raster.layout, raster.draw.bin
    if raster.draw is not lay and lay.bin > 1:
        note = f"arrays embedded whole (one image pixel per data pixel), drawn {lay.bin}x smaller than in a PNG"
    elif b > 1:
        note = f"each displayed pixel is {lay.zoom} x {lay.zoom} output pixels and the mean of {b} x {b} data pixels, flagged if any is"
    else:
        note = f"each data pixel is {lay.zoom} x {lay.zoom} output pixels"
    fig.brightstar_record = {
        "figure": kind, "dpi": g.dpi, "size_px": [g.width, g.height],
        "raster": {"zoom": lay.zoom, "bin": b, "note": note},
        "region": {"y0": int(data.region[0]), "y1": int(data.region[1]), "x0": int(data.region[2]), "x1": int(data.region[3])},
        "panes": [p.composed.record if p.composed is not None else {"pane": p.kind, "frame": p.frame, "error": p.error}
                  for p in panes],
        **extra,
    }
    return fig


@dataclass(frozen=True)
class _Rasters:
    """The layout's raster (sizes) and the one the data are drawn with (binning)."""

    layout: fl.Raster
    draw: fl.Raster

    @property
    def bin(self) -> int:
        return self.draw.bin


def _raster(shape, ncols, dpi, width, native, side="each") -> _Rasters:
    layout = fl.choose_raster(*shape, ncols, dpi, width, side)
    return _Rasters(layout, fl.Raster(layout.zoom, 1) if native else layout)


def _shape(data: FigureData) -> tuple[int, int]:
    y0, y1, x0, x1 = data.region
    return y1 - y0, x1 - x0


def _lines(titles: list[str], image_w: int, dpi: float) -> int:
    return max(fl.title_lines(t, image_w, dpi) for t in titles)


def pane_figure(data: FigureData, spec: PaneSpec, k: int, baseline: int = 1, *, dpi: float = 100, width: int | None = None,
                native: bool = False):
    """One pane at frame ``k``: title, ticks, colour bar (or categories) and flag legend.

    ``dpi`` and ``width`` set the layout (:func:`processing.figure_layout.choose_raster`);
    ``native`` (for PDF and SVG) never bins: the panes' arrays are embedded
    whole at the size the layout gives them.  The same keywords apply to
    every builder here.
    """
    raster = _raster(_shape(data), 1, dpi, width, native)
    pane = _prepare(data, spec.kind, spec, k, baseline, raster)
    iw, ih = raster.layout.image_px(*_shape(data))
    g = fl.grid(1, 1, (iw, ih), dpi, title_lines=_lines([pane.title], iw, dpi))
    fig = _new_figure(g)
    cell = g.cells[0][0]
    _draw(fig, g, cell, pane, data, raster, cell.side)
    return _finish(fig, "pane", g, raster, [pane], data, baseline=baseline)


def group_figure(data: FigureData, specs: dict[str, PaneSpec], k: int, baseline: int = 1, *, dpi: float = 100,
                 width: int | None = None, native: bool = False):
    """The four panes at frame ``k`` in a 2 x 2 grid, each with its own colour bar and tick labels."""
    raster = _raster(_shape(data), 2, dpi, width, native)
    panes = [_prepare(data, kind, specs.get(kind) or PaneSpec(kind), k, baseline, raster) for kind in PANES]
    iw, ih = raster.layout.image_px(*_shape(data))
    sup = f"{data.title} \N{MIDDLE DOT} frame {k} \N{MIDDLE DOT} {data.source_name}".strip(" \N{MIDDLE DOT}")
    g = fl.grid(2, 2, (iw, ih), dpi, title_lines=_lines([p.title for p in panes], iw, dpi), suptitle_lines=1)
    fig = _new_figure(g)
    for pane, cell in zip(panes, [c for row in g.cells for c in row]):
        _draw(fig, g, cell, pane, data, raster, cell.side)
    fl.suptitle(fig, g, sup)
    return _finish(fig, "group", g, raster, panes, data, baseline=baseline)


def differences_figure(data: FigureData, frames: list[int], baseline: int = 1, percentiles=(2.0, 98.0),
                       cmap: str = "viridis", *, scale: str = "linear", dpi: float = 100, width: int | None = None,
                       native: bool = False):
    """The tutorial's first figure: differences of frames, shared levels and one colour bar."""
    raster = _raster(_shape(data), len(frames), dpi, width, native, side="shared")
    diffs = [fl.bin_pane(data.pane("difference", k, baseline), data.bad, raster.bin)[0] for k in frames]
    bad = fl.bin_pane(np.zeros(_shape(data), np.float32), data.bad, raster.bin)[1]
    levels = [good_levels(d, bad, *percentiles) for d in diffs]
    lo, hi = min(lv[0] for lv in levels), max(lv[1] for lv in levels)
    spec = PaneSpec("difference", cmap=cmap, scale=scale, levels=(lo, hi))
    panes = [_prepare(data, "difference", spec, k, baseline, raster, levels=(lo, hi)) for k in frames]
    for p in panes:
        p.composed.record["percentiles"] = list(percentiles)
        p.composed.record["levels_shared"] = True
    iw, ih = raster.layout.image_px(*_shape(data))
    sup = f"{data.title} \N{MIDDLE DOT} {describe(data, 'difference')} \N{MIDDLE DOT} {data.source_name}".strip(" \N{MIDDLE DOT}")
    g = fl.grid(1, len(frames), (iw, ih), dpi, side="shared", title_lines=_lines([p.title for p in panes], iw, dpi),
                suptitle_lines=1)
    fig = _new_figure(g)
    for pane, cell in zip(panes, g.cells[0]):
        _draw(fig, g, cell, pane, data, raster, None)
    # Flag counts are the same in every panel (one pixeldq): one legend.
    draw_side(fig, g, g.shared_side, panes[-1].composed, panes[-1].label, scale)
    fl.suptitle(fig, g, sup)
    return _finish(fig, "differences", g, raster, panes, data, baseline=baseline, frames=list(frames))


def rows_figure(data: FigureData, frames: list[int], *, dpi: float = 100, width: int | None = None,
                native: bool = False):
    """The tutorial's final figures: for each frame, image (10^3 DN), slope ratio and mask."""
    frames = [k for k in frames if k >= 1]
    if not frames:
        raise ValueError("the rows figure needs frames >= 1 (the slope ratio uses the previous frame)")
    raster = _raster(_shape(data), 3, dpi, width, native)
    panes = []
    for k in frames:
        panes.append(_prepare(data, "raw", PaneSpec("raw", cmap="inferno_r", levels=(0, 80)), k, 1, raster,
                              title=f"Image \N{MIDDLE DOT} frame {k}\n{describe(data, 'raw')}",
                              label="signal [10\N{SUPERSCRIPT THREE} DN]", scale_values=1e3))
        panes.append(_prepare(data, "ratio", PaneSpec("ratio"), k, 1, raster,
                              title=f"Difference / mean slope \N{MIDDLE DOT} frame {k}\n{describe(data, 'ratio')}"))
        panes.append(_prepare(data, "mask", PaneSpec("mask"), k, 1, raster,
                              title=f"Saturated or corrupted \N{MIDDLE DOT} frame {k}\n{describe(data, 'mask')}"))
    iw, ih = raster.layout.image_px(*_shape(data))
    g = fl.grid(len(frames), 3, (iw, ih), dpi, title_lines=_lines([p.title for p in panes], iw, dpi), suptitle_lines=1)
    fig = _new_figure(g)
    for pane, cell in zip(panes, [c for row in g.cells for c in row]):
        _draw(fig, g, cell, pane, data, raster, cell.side)
    fl.suptitle(fig, g, f"{data.title} \N{MIDDLE DOT} {data.source_name}".strip(" \N{MIDDLE DOT}"))
    return _finish(fig, "rows", g, raster, panes, data, frames=frames)
