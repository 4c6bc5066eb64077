"""Colours that are not data: DQ-flagged pixels, undefined (NaN) pixels, mask categories.

A flagged pixel must never look like a value, so its colour is chosen per
colour map from outside the map's range (white is the bottom of
``inferno_r`` and the top of ``gray``: a dead pixel drawn white reads as
"no signal" or "saturated"), and differs from the colour of undefined
pixels (the NaN core of the slope ratio is not a DQ flag).  The screen
(:mod:`brightstar_gui.jobs.render`) and the figure files
(:mod:`processing.figure_kinds`) colour panes with the one rule
:func:`colour_pane` and these tables.
"""

from __future__ import annotations

import functools

import numpy as np

RGBA = tuple[int, int, int, int]

_RED, _CYAN, _LIME, _MAGENTA = (255, 0, 0, 255), (0, 229, 255, 255), (0, 255, 0, 255), (255, 0, 255, 255)
#: (flag colour, NaN colour) for colour maps whose hues they are not.
_BY_CMAP: dict[str, tuple[RGBA, RGBA]] = {
    "viridis": (_RED, _MAGENTA),
    "cividis": (_RED, _MAGENTA),
    "gray": (_RED, _CYAN),
    "gray_r": (_RED, _CYAN),
    "inferno": (_CYAN, _LIME),
    "inferno_r": (_CYAN, _LIME),
    "magma": (_CYAN, _LIME),
    "magma_r": (_CYAN, _LIME),
    "plasma": (_CYAN, _LIME),
    "RdYlBu": (_LIME, _MAGENTA),
    "RdBu_r": (_LIME, _MAGENTA),
    "coolwarm": (_LIME, _MAGENTA),
}

#: Mask categories, in code order (see :data:`processing.figures.MASK_SATURATED`).
MASK_LABELS = ("none", "diagonal", "4-neighbour", "saturated")


def flag_colour(cmap: str) -> RGBA:
    """RGBA (0-255) of DQ-flagged pixels drawn with colour map ``cmap``."""
    return _BY_CMAP.get(cmap, (_RED, _CYAN))[0]


def nan_colour(cmap: str) -> RGBA:
    """RGBA (0-255) of undefined (non-finite) pixels drawn with colour map ``cmap``."""
    return _BY_CMAP.get(cmap, (_RED, _CYAN))[1]


def screen_colours(cmap: str, custom: tuple[int, int, int] | None = None) -> tuple[RGBA, RGBA]:
    """(flag, NaN) RGBA for a pane drawn with ``cmap``; ``custom`` (r, g, b) overrides the flag colour.

    A custom flag colour equal to the NaN colour would make the two
    ambiguous again, so the NaN colour then moves to the map's other choice.
    """
    flag, nan = flag_colour(cmap), nan_colour(cmap)
    if custom is not None:
        flag = (*(int(c) for c in tuple(custom)[:3]), 255)
        if flag[:3] == nan[:3]:
            nan = next(c for c in (_MAGENTA, _LIME, _CYAN) if c[:3] != flag[:3])
    return flag, nan


def colour_pane(values: np.ndarray, levels: tuple[float, float], lut: np.ndarray, bad: np.ndarray | None,
                flag: RGBA, nan: RGBA) -> np.ndarray:
    """Colour a pane: values through ``lut``, undefined pixels ``nan``, DQ-flagged pixels ``flag`` on top.

    Parameters
    ----------
    values : (h, w) array
    levels : (lo, hi)
        Data values of the table's first and last entries.
    lut : (n, 4) uint8
        Colour table with the stretch folded in.
    bad : (h', w') bool or None, h' >= h, w' >= w
        DQ-flagged pixels (cut to ``values``' shape).
    flag, nan : RGBA 0-255

    Returns
    -------
    (h, w, 4) uint8
    """
    from .figures import colorize

    rgba = colorize(values, levels, lut, None, nan)
    if bad is not None:
        b = np.asarray(bad)[: rgba.shape[0], : rgba.shape[1]]
        if b.any():
            rgba[b] = flag
    return rgba


@functools.lru_cache(maxsize=32)
def mask_colours(cmap: str = "magma_r") -> np.ndarray:
    """The four mask categories' colours, ``(4, 4)`` uint8 (read-only): ``cmap`` at 0, 1/3, 2/3 and 1.

    These are the colours a continuous ``cmap`` with levels 0..3 gives the
    codes, so a categorical legend and a linear colour bar agree.
    """
    import matplotlib

    rgba = matplotlib.colormaps[cmap](np.linspace(0.0, 1.0, len(MASK_LABELS)))
    out = np.round(rgba * 255).astype(np.uint8)
    out.flags.writeable = False
    return out


def colour_mask(codes: np.ndarray, cmap: str = "magma_r") -> np.ndarray:
    """RGBA (h, w, 4) uint8 of mask codes 0-3 (categories, not a continuous scale).

    Codes are rounded and clipped to 0..3, an undefined (NaN) code is 0.
    """
    idx = mask_index(codes)
    return np.take(_packed(mask_colours(cmap)), idx).view(np.uint8).reshape(*idx.shape, 4)


def mask_index(codes: np.ndarray) -> np.ndarray:
    """Mask codes as table indices 0..3, uint8: rounded, clipped, NaN as 0 (what :func:`colour_mask` looks up)."""
    codes = np.asarray(codes)
    if codes.dtype.kind == "u":
        return np.minimum(codes, 3).astype(np.uint8, copy=False)
    if codes.dtype.kind in "ib":
        return np.clip(codes, 0, 3).astype(np.uint8)
    a = np.rint(np.asarray(codes, dtype=np.float32))
    np.fmax(a, 0, out=a)  # NaN and -inf -> 0 (fmax ignores a NaN)
    np.fmin(a, 3, out=a)  # +inf -> 3
    return a.astype(np.uint8)


def _packed(table: np.ndarray) -> np.ndarray:
    """An ``(n, 4)`` uint8 colour table as ``n`` uint32 words (one gather per pixel instead of four)."""
    return np.ascontiguousarray(table).view(np.uint32).reshape(len(table))


def hex_colour(rgba) -> str:
    """``#rrggbb`` of an RGBA 0-255 colour (for sidecars)."""
    r, g, b = (int(v) for v in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"
