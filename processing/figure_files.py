"""Writing figures: PNG/SVG/PDF with embedded fonts, a JSON sidecar, no silent overwrite.

* PDF text is TrueType (``pdf.fonttype`` 42), never Type 3 bitmaps; SVG
  text is paths, so neither depends on the reader's fonts.
* Images are not composited into one raster at the figure's dpi
  (``image.composite_image`` off): PDF and SVG embed each pane's array
  as it is.
* The file and its sidecar ``<name>.<suffix>.json`` are written under
  temporary names and renamed into place, so an interrupted export never
  leaves a file that reads as complete; an existing file is kept unless
  ``overwrite``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

FORMATS = ("png", "svg", "pdf")
#: matplotlib settings for every figure file.
RC = {"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "path", "image.composite_image": False}
_PACKAGES = ("brightstar-gui", "romancal", "roman_datamodels", "asdf", "stcal", "numpy", "matplotlib")


def software_versions() -> dict[str, str]:
    """Versions of this program and the pipeline packages, by distribution name."""
    import platform

    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["python"] = platform.python_version()
    return out


def sidecar_path(path: str | Path) -> Path:
    """``fig.png`` -> ``fig.png.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def check_writable(path: str | Path, overwrite: bool, *also: Path) -> Path:
    """Refuse to replace an existing ``path`` (or any of ``also``) unless ``overwrite``.

    Raises
    ------
    FileExistsError
        Naming the file and how to replace it.
    """
    path = Path(path)
    if not overwrite:
        for p in (path, *also):
            if p.exists():
                raise FileExistsError(f"{p} already exists; not replacing it (use --overwrite, or choose another name)")
    return path


@contextmanager
def _atomic(path: Path):
    """A temporary sibling of ``path``, renamed onto it when the block ends without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _file_metadata(fmt: str, record: dict) -> dict:
    title = "; ".join(p.get("title", "") for p in record.get("panes", []) if p.get("title"))
    software = f"brightstar-gui {record.get('versions', {}).get('brightstar-gui', '')}".strip()
    summary = json.dumps({k: record[k] for k in ("figure", "source", "data_kind", "references") if k in record},
                         default=str)
    if fmt == "png":
        return {"Title": title, "Software": software, "Description": summary}
    if fmt == "pdf":
        return {"Title": title, "Creator": software, "Subject": summary}
    return {"Title": title, "Creator": software, "Description": summary}


def save_figure(fig, path: str | Path, dpi: float | None = None, *, overwrite: bool = False,
                sidecar: dict | None = None) -> Path:
    """Write a figure (PNG, SVG or PDF by suffix) and, given ``sidecar``, its JSON record.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Drawn through the Agg canvas (no pyplot: safe in worker threads).
    path : str or Path
    dpi : float, optional
        Default: the figure's own, which the pixel-exact layout was made for.
    overwrite : bool
        Replace an existing file (and sidecar); otherwise
        :class:`FileExistsError`.
    sidecar : dict, optional
        Merged with ``fig.brightstar_record`` and the software versions and
        written to ``<path>.json``.

    Returns
    -------
    Path
    """
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"unsupported figure format {fmt!r} of {path}; use one of {FORMATS}")
    side = sidecar_path(path)
    check_writable(path, overwrite, *([side] if sidecar is not None else []))
    record = {**getattr(fig, "brightstar_record", {}), **(sidecar or {})}
    record["versions"] = software_versions()
    record["file"] = path.name
    record["format"] = fmt
    record["written_utc"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    FigureCanvasAgg(fig)
    with rc_context(RC), _atomic(path) as tmp:
        fig.savefig(tmp, dpi=dpi or fig.dpi, format=fmt, metadata=_file_metadata(fmt, record))
    if sidecar is not None:
        with _atomic(side) as tmp:
            tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")
    return path


def figure_sidecar(data, **settings) -> dict:
    """The data-level part of a sidecar: source, data kind, references, region and ``settings``.

    Parameters
    ----------
    data : processing.figures.FigureData
    settings : dict
        Anything else that made the figure (frames, baseline, command line).
    """
    kind = data.data_kind + (", superbias-subtracted raw pane" if data.superbias is not None else "")
    return {"source": data.source, "data_kind": kind, "superbias_subtracted": data.superbias is not None,
            "references": {k: str(v) for k, v in (data.references or {}).items()}, **settings}
