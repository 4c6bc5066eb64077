"""Colours that are not data: DQ-flagged pixels, undefined (NaN) pixels, mask categories.

A flagged pixel must never look like a value, so its colour is chosen per
colour map from outside the map's range (white is the bottom of
``inferno_r`` and the top of ``gray``: a dead pixel drawn white reads as
"no signal" or "saturated").  The screen and the figure files use these same
tables.
"""

from __future__ import annotations

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


def mask_colours(cmap: str = "magma_r") -> np.ndarray:
    """The four mask categories' colours, ``(4, 4)`` uint8: ``cmap`` at 0, 1/3, 2/3 and 1.

    These are the colours a continuous ``cmap`` with levels 0..3 gives the
    codes, so a categorical legend and a linear colour bar agree.
    """
    import matplotlib

    rgba = matplotlib.colormaps[cmap](np.linspace(0.0, 1.0, len(MASK_LABELS)))
    return np.round(rgba * 255).astype(np.uint8)


def hex_colour(rgba) -> str:
    """``#rrggbb`` of an RGBA 0-255 colour (for sidecars)."""
    r, g, b = (int(v) for v in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"
