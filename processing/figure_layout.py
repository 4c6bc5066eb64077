"""Pixel-exact figure layout: panes at whole output pixels per data pixel.

matplotlib's layout engines place axes at fractional pixel positions and size
them to fill the figure, so an image of 512 data pixels ends up drawn across
about 490 output pixels and resampled.  Here the geometry is worked out in
*output pixels* instead:

* :func:`choose_raster` picks a whole zoom factor (output pixels per data
  pixel) -- or, for panes too large for the requested width, a whole binning
  factor -- from the cutout size, the number of columns, ``dpi`` and an
  optional figure width;
* :func:`grid` lays out rows x columns of cells (image, tick labels, title,
  colour bar or legend column) at integer pixel offsets; the figure is a
  whole number of pixels, so ``add_axes`` fractions land on pixel edges;
* :func:`image_axes` draws the pane's RGBA image with ``interpolation="none"``
  (PDF and SVG embed the array itself; Agg maps each data pixel onto exactly
  ``zoom x zoom`` pixels) and moves the spines and ticks outward, off the
  image's edge pixels;
* :func:`colour_bar` draws the colour table that coloured the image, with
  tick labels chosen so that they never overlap (log and asinh stretches
  crowd linear ticks at one end);
* :func:`legend` lists flag colours and mask categories as patches.

Sizes are in inches (fonts in points) scaled by ``dpi``, so a figure keeps
its proportions at any resolution.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np

#: Font sizes, points: one set for every figure kind.
TICK_PT, LABEL_PT, TITLE_PT, LEGEND_PT, SUPTITLE_PT = 8.0, 9.0, 10.0, 8.0, 11.0
#: Margins around an image, inches: tick labels and axis label on the left
#: and below, title lines above, the colour-bar/legend column on the right.
LEFT_IN, BOTTOM_IN, TITLE_LINE_IN, TITLE_PAD_IN = 0.78, 0.52, 0.19, 0.10
SIDE_IN, GAP_IN, BAR_IN, OUTER_IN = 1.55, 0.12, 0.16, 0.10
#: Default size of a pane's image: at least this many output pixels across,
#: and binning only above ``MAX_NATIVE`` data pixels.
MIN_IMAGE_PX, MAX_NATIVE = 400, 1024


class LayoutError(ValueError):
    """A requested size leaves no room for the figure (names the size and the minimum)."""


@dataclass(frozen=True)
class Raster:
    """How data pixels map to output pixels.

    Attributes
    ----------
    zoom : int
        Output pixels per displayed pixel along each axis (>= 1).
    bin : int
        Data pixels per displayed pixel along each axis (1: native).
    """

    zoom: int = 1
    bin: int = 1

    def image_px(self, h: int, w: int) -> tuple[int, int]:
        """Output size ``(width, height)`` of an ``(h, w)`` pane, pixels."""
        return (-(-w // self.bin)) * self.zoom, (-(-h // self.bin)) * self.zoom


def choose_raster(h: int, w: int, ncols: int, dpi: float, width_px: int | None = None, side: str = "each") -> Raster:
    """Zoom and binning for panes of ``(h, w)`` data pixels.

    Parameters
    ----------
    h, w : int
        Pane size, data pixels.
    ncols : int
        Panes side by side.
    dpi : float
        Output pixels per inch (sets the margins in pixels).
    width_px : int, optional
        Figure width to fit, output pixels.  None: each pane is drawn at the
        smallest whole zoom that makes it at least ``MIN_IMAGE_PX`` across,
        and panes larger than ``MAX_NATIVE`` are binned to at most that.
    side : {"each", "shared", "none"}
        Where the colour-bar columns are (see :func:`grid`).

    Returns
    -------
    Raster
    """
    if not dpi > 0:
        raise LayoutError(f"dpi must be positive, not {dpi}")
    if width_px is None:
        size = max(h, w)
        if size > MAX_NATIVE:
            return Raster(1, -(-size // MAX_NATIVE))
        return Raster(max(1, -(-MIN_IMAGE_PX // size)), 1)
    fixed = _fixed_width_px(ncols, dpi, side)
    per_pane = (int(width_px) - fixed) // ncols
    if per_pane < 16:
        raise LayoutError(f"a figure {int(width_px)} px wide leaves no room for {ncols} pane(s) at {dpi:g} dpi "
                          f"(margins, labels and colour bars take {fixed} px); use --width {fixed + 16 * ncols} or more, "
                          f"or a lower --dpi")
    if per_pane >= w:
        return Raster(per_pane // w, 1)
    # Too narrow for one output pixel per data pixel: the smallest binning that fits.
    b = -(-w // max(per_pane, 1))
    while b > 1 and -(-w // (b - 1)) <= per_pane:
        b -= 1
    return Raster(1, b)


def _px(inches: float, dpi: float) -> int:
    return int(round(inches * dpi))


def _fixed_width_px(ncols: int, dpi: float, side: str) -> int:
    side_px = _px(SIDE_IN, dpi) if side != "none" else _px(0.25, dpi)
    per_col = _px(LEFT_IN, dpi) + (side_px if side == "each" else _px(0.25, dpi))
    extra = _px(SIDE_IN, dpi) if side == "shared" else 0
    return 2 * _px(OUTER_IN, dpi) + ncols * per_col + extra


@dataclass(frozen=True)
class Box:
    """A rectangle in figure pixels, origin at the bottom left."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Cell:
    """One pane's place: its image and, when it has one, its side column."""

    image: Box
    side: Box | None
    title: Box


@dataclass(frozen=True)
class Grid:
    """A figure's geometry, pixels.

    Attributes
    ----------
    width, height : int
        Figure size, pixels.
    dpi : float
    cells : list of list of Cell
        ``cells[row][col]``, rows from the top.
    shared_side : Box or None
        The one colour-bar column of a ``side="shared"`` grid.
    suptitle : Box or None
    """

    width: int
    height: int
    dpi: float
    cells: list
    shared_side: Box | None
    suptitle: Box | None

    @property
    def figsize(self) -> tuple[float, float]:
        return self.width / self.dpi, self.height / self.dpi


def grid(nrows: int, ncols: int, image_px: tuple[int, int], dpi: float, *, side: str = "each",
         title_lines: int = 2, suptitle_lines: int = 0) -> Grid:
    """Lay out ``nrows x ncols`` panes of ``image_px = (width, height)`` pixels.

    Parameters
    ----------
    side : {"each", "shared", "none"}
        A colour-bar/legend column right of every pane, one right of the
        whole grid, or none.
    title_lines : int
        Lines of title above each pane.
    suptitle_lines : int
        Lines of figure title above everything.
    """
    iw, ih = image_px
    left, bottom, outer = _px(LEFT_IN, dpi), _px(BOTTOM_IN, dpi), _px(OUTER_IN, dpi)
    side_px = _px(SIDE_IN, dpi) if side == "each" else _px(0.25, dpi)
    top = _px(TITLE_PAD_IN + title_lines * TITLE_LINE_IN, dpi)
    cell_w, cell_h = left + iw + side_px, bottom + ih + top
    sup = _px(suptitle_lines * (TITLE_LINE_IN + 0.04) + (0.08 if suptitle_lines else 0), dpi)
    shared_w = _px(SIDE_IN, dpi) if side == "shared" else 0
    width = 2 * outer + ncols * cell_w + shared_w
    height = 2 * outer + nrows * cell_h + sup
    cells = []
    for r in range(nrows):
        row = []
        y_cell = outer + (nrows - 1 - r) * cell_h
        for c in range(ncols):
            x_cell = outer + c * cell_w
            image = Box(x_cell + left, y_cell + bottom, iw, ih)
            side_box = Box(image.x + iw + _px(GAP_IN, dpi), image.y, side_px - _px(GAP_IN, dpi), ih) if side == "each" else None
            row.append(Cell(image, side_box, Box(image.x, image.y + ih, iw, top)))
        cells.append(row)
    shared = None
    if side == "shared":
        first = cells[-1][-1].image
        shared = Box(outer + ncols * cell_w - side_px + _px(GAP_IN, dpi), first.y, shared_w, cells[0][-1].image.y + ih - first.y)
    suptitle = Box(0, height - outer - sup, width, sup) if sup else None
    return Grid(width, height, dpi, cells, shared, suptitle)


def wrap_title(text: str, width_px: int, dpi: float, max_lines: int = 2, size_pt: float = TITLE_PT) -> str:
    """``text`` wrapped to lines that fit ``width_px`` (about 0.55 em per character)."""
    chars = max(12, int(width_px / (0.55 * size_pt * dpi / 72)))
    lines = []
    for part in text.split("\n"):
        lines.extend(textwrap.wrap(part, chars) or [""])
    if len(lines) > max_lines:
        lines = lines[: max_lines - 1] + [" ".join(lines[max_lines - 1 :])]
    return "\n".join(lines)


def _axes(fig, g: Grid, box: Box):
    return fig.add_axes((box.x / g.width, box.y / g.height, box.w / g.width, box.h / g.height))


def image_axes(fig, g: Grid, cell: Cell, rgba: np.ndarray, extent: tuple[float, float, float, float], title: str,
               xlabel: str = "x [pixel]", ylabel: str = "y [pixel]"):
    """An axes at ``cell.image`` showing ``rgba`` unresampled, with ticks, labels and a title.

    Parameters
    ----------
    rgba : (h, w, 4) uint8
        The pane as coloured (flags and NaN already painted), row 0 at the
        bottom (``origin="lower"``).
    extent : (left, right, bottom, top)
        Data coordinates of the image's outer edges (pixel centres at
        integers).
    """
    ax = _axes(fig, g, cell.image)
    ax.imshow(rgba, origin="lower", extent=extent, interpolation="none", aspect="auto", resample=False)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    # Spines and ticks sit just outside the image so that they do not paint
    # over its edge pixels.
    for spine in ax.spines.values():
        spine.set_position(("outward", 1.5))
    ax.tick_params(labelsize=TICK_PT, direction="out", length=3)
    from matplotlib.ticker import MaxNLocator

    for axis, length in ((ax.xaxis, cell.image.w), (ax.yaxis, cell.image.h)):
        axis.set_major_locator(MaxNLocator(nbins=max(2, int(length / (0.7 * g.dpi))), integer=True, steps=[1, 2, 2.5, 5, 10]))
    ax.set_xlabel(xlabel, fontsize=LABEL_PT)
    ax.set_ylabel(ylabel, fontsize=LABEL_PT)
    ax.set_title(wrap_title(title, cell.image.w + _px(LEFT_IN * 0.6, g.dpi), g.dpi), fontsize=TITLE_PT,
                 fontweight="bold", pad=4)
    return ax


def nice_ticks(lo: float, hi: float, position, min_gap: float, stretched: bool = False) -> list[float]:
    """Round data values in ``[lo, hi]`` whose bar positions are ``min_gap`` apart.

    Parameters
    ----------
    lo, hi : float
        Data values at the two ends of the bar.
    position : callable
        Data value -> position along the bar, 0..1 (the stretch).
    min_gap : float
        Smallest distance between two labels, as a fraction of the bar.
    stretched : bool
        A log or asinh bar: after the evenly spaced values, round values of
        the first tenth, hundredth and thousandth of the range are added
        where they fit (that end of the bar is expanded).

    Returns
    -------
    list of float
        Increasing values.
    """
    from matplotlib.ticker import MaxNLocator

    span = hi - lo
    tol = 1e-9 * abs(span)

    def values(top: float, nbins: int) -> list[float]:
        ticks = MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, top)
        return [float(v) for v in ticks if lo - tol <= v <= hi + tol]

    chosen: list[tuple[float, float]] = []

    def add(candidates):
        for v in candidates:
            p = float(position(v))
            if all(abs(p - q) >= min_gap for _, q in chosen):
                chosen.append((v, p))

    most = max(2, min(8, int(1.0 / min_gap)))
    base = values(hi, 5)
    for nbins in range(most, 1, -1):
        cand = values(hi, nbins)
        pos = sorted(float(position(v)) for v in cand)
        if len(cand) >= 2 and all(b - a >= min_gap for a, b in zip(pos, pos[1:])):
            base = cand
            break
    add(base)
    if stretched:
        for frac in (0.1, 0.01):
            add(values(lo + span * frac, 3))
    return sorted(v for v, _ in chosen)


def format_tick(v: float) -> str:
    """A short label for a round number: ``0``, ``2.5``, ``40000``, ``1.5e+06``."""
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e6:
        return np.format_float_positional(float(f"{v:.6g}"), trim="-")
    return f"{v:.3g}"


def colour_bar(fig, g: Grid, box: Box, lut: np.ndarray, levels: tuple[float, float], position, label: str,
               height_fraction: float = 1.0, stretched: bool = False):
    """A vertical colour bar of ``lut`` at the top of ``box`` with non-overlapping labels.

    Parameters
    ----------
    lut : (n, 4) uint8
        The colour table that coloured the image (stretch folded in).
    levels : (lo, hi)
        Data values of the table's ends.
    position : callable
        Data value -> fraction along the bar (the stretch), so labels sit at
        the colours their values got.
    height_fraction : float
        Part of ``box``'s height used (the rest is left for a legend).
    stretched : bool
        Log or asinh: see :func:`nice_ticks`.
    """
    bar_h = max(int(box.h * height_fraction), _px(0.6, g.dpi))
    bar = Box(box.x, box.y + box.h - bar_h, _px(BAR_IN, g.dpi), bar_h)
    ax = _axes(fig, g, bar)
    ax.imshow(np.asarray(lut)[:, None, :], origin="lower", extent=(0, 1, 0, 1), aspect="auto", interpolation="none")
    ax.set_xticks([])
    ax.yaxis.tick_right()
    ax.yaxis.set_label_position("right")
    lo, hi = levels
    min_gap = 1.5 * TICK_PT * g.dpi / 72 / bar_h
    ticks = nice_ticks(lo, hi, position, min_gap, stretched)
    ax.set_yticks([float(position(v)) for v in ticks], [format_tick(v) for v in ticks])
    ax.set_ylim(0, 1)
    ax.tick_params(labelsize=TICK_PT, length=3)
    ax.set_ylabel(label, fontsize=LABEL_PT)
    return ax


def legend(fig, g: Grid, box: Box, entries: list[tuple[str, tuple]], title: str | None = None):
    """Colour patches with labels at the bottom of ``box``.

    Parameters
    ----------
    entries : list of (label, rgba)
        ``rgba`` as four 0-255 integers.
    """
    if not entries:
        return None
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=np.asarray(c, float) / 255, edgecolor="0.3", linewidth=0.5, label=t) for t, c in entries]
    ax = _axes(fig, g, box)
    ax.set_axis_off()
    return ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(-0.05, 0.0), fontsize=LEGEND_PT,
                     title=title, title_fontsize=LEGEND_PT, frameon=False, handlelength=1.2, borderaxespad=0.0,
                     alignment="left")


def legend_height_fraction(n_entries: int, box: Box, dpi: float, title: bool = False) -> float:
    """Part of a side column left for a colour bar above ``n_entries`` legend rows."""
    if n_entries == 0:
        return 1.0
    rows = n_entries + (1 if title else 0)
    need = (rows * 1.9 * LEGEND_PT + 12) * dpi / 72
    return max(0.35, 1.0 - need / max(box.h, 1))


def suptitle(fig, g: Grid, text: str) -> None:
    """A figure title in the grid's top band."""
    if g.suptitle is None or not text:
        return
    y = (g.suptitle.y + g.suptitle.h / 2) / g.height
    fig.text(0.5, y, wrap_title(text, g.width - 2 * _px(OUTER_IN, g.dpi), g.dpi, 2, SUPTITLE_PT),
             ha="center", va="center", fontsize=SUPTITLE_PT, fontweight="bold")


def title_lines(text: str, width_px: int, dpi: float) -> int:
    """How many lines :func:`wrap_title` makes of ``text``."""
    return wrap_title(text, width_px, dpi).count("\n") + 1


def bin_pane(values: np.ndarray, bad: np.ndarray | None, b: int, how: str = "mean") -> tuple[np.ndarray, np.ndarray | None]:
    """``(h, w)`` values shown in ``b x b`` blocks.

    ``how="mean"`` averages the finite values of a block (NaN if none);
    ``"max"`` takes the block maximum (mask codes).  A block is flagged if
    any of its pixels is, so binning never hides a flagged pixel.
    """
    if b <= 1:
        return values, bad
    h, w = values.shape
    hb, wb = -(-h // b), -(-w // b)
    pad = np.full((hb * b, wb * b), np.nan, np.float64)
    pad[:h, :w] = values
    blocks = pad.reshape(hb, b, wb, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        if how == "max":
            out = np.nanmax(np.where(np.isnan(blocks), -np.inf, blocks), axis=(1, 3))
            out[np.isneginf(out)] = np.nan
        else:
            finite = np.isfinite(blocks)
            out = np.where(finite, blocks, 0).sum(axis=(1, 3)) / finite.sum(axis=(1, 3))
    out_bad = None
    if bad is not None:
        from .figures import block_reduce

        out_bad = block_reduce(np.asarray(bad, bool), b, "any")
    return out.astype(np.float32), out_bad


def labels_overlap(ax) -> bool:
    """True when two tick labels of ``ax`` overlap (call after the figure is drawn)."""
    for axis in (ax.xaxis, ax.yaxis):
        boxes = [t.get_window_extent() for t in axis.get_ticklabels() if t.get_text()]
        for a, b in zip(boxes, boxes[1:]):
            if a.overlaps(b):
                return True
    return False


