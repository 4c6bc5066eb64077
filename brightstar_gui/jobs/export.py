"""Export jobs (Qt-free): figures, the pixel's ramp as CSV, the cutout cube as ASDF.

The window gathers plain values (what is open, the frame, the region, the
display settings) into an :class:`ExportRequest`; :func:`export_job` writes
the file in a worker thread with the same code as ``brightstar figure``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processing import exports, figure_files, figure_kinds, figures
from processing.figure_files import figure_sidecar
from processing.progress import Progress

EXPORT_KINDS = ("pane", "group", "differences", "rows", "ramp-csv", "pins-csv", "cutout-asdf")


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
    dpi, width : float, int or None
        Output pixels per inch, and a figure width to fit (None: native
        resolution, see :func:`processing.figure_layout.choose_raster`).
    overwrite : bool
        Replace an existing file (the dialog has asked).
    raw_source, calibrated_source : Exposure or None
        For the ramp CSV (both columns when both are open) and the cutout.
    pinned : list of (row, col)
        Extra pixels for the ramp CSV.
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
    dpi: float = 100.0
    width: int | None = None
    overwrite: bool = False
    raw_source: Any = None
    calibrated_source: Any = None
    pinned: list = field(default_factory=list)


def export_job(req: ExportRequest):
    """Write one export (a progress generator returning the path written)."""
    if req.kind not in EXPORT_KINDS:
        raise ValueError(f"unknown export kind {req.kind!r}; expected one of {EXPORT_KINDS}")
    yield Progress(0.05, f"exporting {req.kind}")
    path = Path(req.path)
    data = req.data
    if req.kind == "ramp-csv":
        if req.ramp is None:
            raise ValueError("no pixel selected: click a pixel first")
        row, col = int(req.ramp["header"]["row"]), int(req.ramp["header"]["col"])
        raw = req.raw_source if req.raw_source is not None else (None if req.calibrated_source is not None else req.cube_source)
        table = exports.ramp_table(
            row, col, raw=raw, calibrated=req.calibrated_source, pinned=req.pinned,
            sat_dn=None if data is None else data.sat_dn, pixeldq=None if data is None else data.pixeldq,
            read_times=req.meta.get("read_times"),
            header={"source": req.meta.get("source", ""), "selected_pixel": f"row {row}, col {col}",
                    "units": "time_s: s since the first read; *_dn: DN"})
        return exports.write_ramp_csv(path, table, overwrite=req.overwrite)
    if req.kind == "pins-csv":
        raw = req.raw_source if req.raw_source is not None else (None if req.calibrated_source is not None else req.cube_source)
        table = exports.pinned_table(
            req.pinned, raw=raw, calibrated=req.calibrated_source, sat_dn=None if data is None else data.sat_dn,
            pixeldq=None if data is None else data.pixeldq, read_times=req.meta.get("read_times"),
            header={"source": req.meta.get("source", ""), "units": "time_s: s since the first read; *_dn: DN"})
        return exports.write_ramp_csv(path, table, overwrite=req.overwrite)
    if req.kind == "cutout-asdf":
        return (yield from exports.cutout_asdf_job(
            path, req.cube_source, req.region, pixeldq=None if data is None else data.pixeldq,
            sat_dn=None if data is None else data.sat_dn, references=None if data is None else data.references,
            raw=req.raw_source, overwrite=req.overwrite))
    size = {"dpi": req.dpi, "width": req.width, "native": path.suffix.lower() in (".pdf", ".svg")}
    if req.kind == "pane":
        fig = figure_kinds.pane_figure(data, req.specs.get(req.pane) or figures.PaneSpec(req.pane), req.frame, req.baseline, **size)
    elif req.kind == "group":
        fig = figure_kinds.group_figure(data, req.specs, req.frame, req.baseline, **size)
    elif req.kind == "differences":
        spec = req.specs.get("difference")
        fig = figure_kinds.differences_figure(data, req.frames, req.baseline, cmap=spec.cmap if spec else "viridis",
                                         scale=spec.scale if spec else "linear", **size)
    else:
        fig = figure_kinds.rows_figure(data, req.frames, **size)
    yield Progress(0.6, "drawing")
    sidecar = figure_sidecar(data, frame=req.frame, frames=req.frames, baseline=req.baseline, viewer=req.settings)
    out = figure_files.save_figure(fig, path, overwrite=req.overwrite, sidecar=sidecar)
    yield Progress(1.0, f"wrote {out.name}")
    return out
