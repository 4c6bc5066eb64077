"""One pixel's value in one pane, at full resolution, and the words that say what it is (Qt-free).

"Copy value" of a pane must give that pane's quantity at the pixel -- raw
or calibrated DN (superbias-subtracted or not), the difference from the
baseline frame, the slope ratio, the mask category -- whatever the pane
drew.  A downsampled pane (a full frame shows every n-th pixel) did not read
the pixel, so :func:`pane_value_job` renders that one pixel at step 1 with
the same :func:`~brightstar_gui.jobs.render.render_job` the panes use (one
implementation of each pane's rule), over a 1 x 1 region so nothing else is
read or levelled.  :func:`value_text` says what the number is.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from processing.pane_colours import MASK_LABELS

from .render import RenderRequest, probe_values, render_job


def pane_value_request(req: RenderRequest, pane: str, row: int, col: int, frame: int,
                       mean_slope: np.ndarray | None) -> RenderRequest:
    """``req`` narrowed to pixel (row, col) of ``pane`` at full resolution, frame ``frame``.

    ``mean_slope``: the pixel's mean slope as a (1, 1) float array (from a
    summary covering it), or None when none covers it (the ratio is then not
    known).  The saturated box of ``req`` is for its region; the one pixel is
    tested itself ("unknown").
    """
    box = (int(row), int(row) + 1, int(col), int(col) + 1)
    panes = (pane,)
    return replace(req, frame=int(frame), region=box, view=box, step=1, level_region=None, panes=panes,
                   histogram_pane=pane, mean_slope=mean_slope, saturated_box="unknown", reads=None)


def pane_value_job(req: RenderRequest) -> dict[str, Any]:
    """The probed values of the request's one pixel (:func:`~.render.probe_values` keys) plus the pane's message."""
    result = render_job(req)
    y0, _, x0, _ = req.view
    values = probe_values(result, y0, x0) or {}
    pane = req.panes[0]
    values["message"] = result.panes[pane].message if pane in result.panes else ""
    return values


def fmt_value(value: float | None) -> str:
    if value is None:
        return "off the detector"
    if value != value:
        return "NaN"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3f}"


def kind_label(kind: str, superbias_subtracted: bool) -> str:
    """What a frame's values are: "raw", "calibrated", "raw - superbias"."""
    return kind + (" - superbias" if superbias_subtracted else "")


def value_text(pane: str, v: dict, req: RenderRequest, step: int = 1) -> str:
    """What pixel ``v`` (:func:`~.render.probe_values` keys) of ``pane`` is, with its units.

    ``req``: the request that gave ``v``.  ``step`` > 1: the pane on screen
    shows every ``step``-th pixel, so the text says the value is this
    pixel's own at full resolution.
    """
    kind = req.kind
    if pane == "difference" and "difference" in v:
        text = f"difference (frame {req.frame} - frame {req.baseline}) {fmt_value(v['difference'])} DN ({kind})"
    elif pane == "ratio" and "ratio" in v:
        mean = v.get("mean_slope", float("nan"))
        text = (f"frame slope / mean slope {v['ratio']:.4f} ({kind}: frame {req.frame} - frame {req.frame - 1} "
                f"over a mean slope of {fmt_value(round(mean, 3) if math.isfinite(mean) else mean)} DN/frame)")
    elif pane == "mask" and "mask" in v:
        code = int(v["mask"])
        name = MASK_LABELS[code] if 0 <= code < len(MASK_LABELS) else "?"
        text = f"saturation mask {code} ({name})"
    elif pane in ("ratio", "mask"):
        why = v.get("message") or "not computed here"
        return f"{'slope ratio' if pane == 'ratio' else 'saturation mask'}: no value ({why})"
    else:
        text = f"{kind_label(kind, req.subtract_superbias and req.superbias is not None)} {fmt_value(v['value'])} DN"
    if step > 1:
        text += f" (this pixel at full resolution; the pane shows every {step}th pixel)"
    return text
