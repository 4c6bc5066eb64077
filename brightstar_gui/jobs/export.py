"""Export jobs (Qt-free): figures, the pixel's ramp as CSV, the cutout cube as ASDF.

The window gathers plain values (what is open, the frame, the region, the
display settings) into an :class:`ExportRequest`; :func:`export_job` writes
the file in a worker thread with the same code as ``brightstar figure``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processing import figures
from processing.progress import Progress

EXPORT_KINDS = ("pane", "group", "differences", "rows", "ramp-csv", "cutout-asdf")


@dataclass
class ExportRequest:
    """Everything an export needs, as plain values.

    Attributes
    ----------
    kind : one of :data:`EXPORT_KINDS`
    path : Path
    data : figures.FigureData or None
    pane : str
        For ``kind == "pane"``.
    specs : dict of pane -> figures.PaneSpec
    frame, baseline : int
    frames : list of int
        For the tutorial's figure sets.
    ramp : dict or None
        For ``ramp-csv`` (see :meth:`RampPanel.ramp_table`).
    cube_source : frame source and region, for ``cutout-asdf``
    settings : dict
        Written next to figures as ``<name>.json`` (what made them).
    """

    kind: str
    path: Path
    data: Any = None
    pane: str = "difference"
    specs: dict = field(default_factory=dict)
    frame: int = 0
    baseline: int = 1
    frames: list = field(default_factory=list)
    ramp: dict | None = None
    cube_source: Any = None
    region: tuple | None = None
    meta: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


def export_job(req: ExportRequest):
    """Write one export (a progress generator returning the path written)."""
    if req.kind not in EXPORT_KINDS:
        raise ValueError(f"unknown export kind {req.kind!r}; expected one of {EXPORT_KINDS}")
    yield Progress(0.05, f"exporting {req.kind}")
    path = Path(req.path)
    if req.kind == "ramp-csv":
        if req.ramp is None:
            raise ValueError("no pixel selected: click a pixel first")
        return figures.write_ramp_csv(path, req.ramp)
    if req.kind == "cutout-asdf":
        y0, y1, x0, x1 = req.region
        cube = req.cube_source.cutout(y0, y1, x0, x1)
        yield Progress(0.7, "writing ASDF")
        return figures.write_cutout_asdf(path, cube, req.region, req.meta)
    if req.kind == "pane":
        fig = figures.pane_figure(req.data, req.specs.get(req.pane) or figures.PaneSpec(req.pane), req.frame, req.baseline)
    elif req.kind == "group":
        fig = figures.group_figure(req.data, req.specs, req.frame, req.baseline)
    elif req.kind == "differences":
        fig = figures.differences_figure(req.data, req.frames, req.baseline)
    else:
        fig = figures.rows_figure(req.data, req.frames)
    yield Progress(0.6, "drawing")
    out = figures.save_figure(fig, path)
    if req.settings:
        path.with_suffix(path.suffix + ".json").write_text(json.dumps(req.settings, indent=1, default=str))
    yield Progress(1.0, f"wrote {out.name}")
    return out
