"""The campaign index: one row per exposure, from the ASDF trees and two small reads.

For every ``*_uncal.asdf`` under a local folder or an ``s3://`` prefix the
index records what the tree says (activity, detector, filter, exposure type,
reads, frame time, start time, size) and where the star is.  The star is
found on read ``N-1`` minus read 0 (a bias-free image; a raw read alone
carries a per-pixel bias structure that hides faint stars) by
:func:`processing.diagnostics.centroid.star_centre`; nothing else of the cube
is read, so indexing a 1.9 GB exposure costs its tree plus two frames.
Without reference files, pixels of the last read at or above
:data:`SATURATED_DN_GUESS` are taken as the saturated core (a core saturated
from read 0 is flat in the difference image, so the finder must know it).

A file that cannot be read gets a row with its ``error`` and no numbers: the
index names it and the others are listed.
"""

from __future__ import annotations

import math
import os
import re
from datetime import datetime
from pathlib import Path

import numpy as np

from ..diagnostics.centroid import SATURATED_DN_GUESS
from ..errors import ExposureError
from ..progress import Job, Progress

#: Index columns, in order.
INDEX_COLUMNS = ("uri", "name", "activity", "detector", "filter", "exposure_type", "reads", "frame_time_s",
                 "start_time", "start_s", "size_bytes", "height", "width", "star_row", "star_col",
                 "star_significance", "error")
#: Times in ``start_s`` are seconds since this instant (UTC).
EPOCH = datetime(2000, 1, 1)
_ACTIVITY = re.compile(r"(Activity_\d+)")
PATTERN = "_uncal.asdf"
#: Raw DN above which a pixel is taken as saturated for locating the star (H4RG full well is ~60-65 kDN raw).
#: Width of the wing annulus the centre is measured on, pixels: narrow, so a big
#: saturated core near a detector edge keeps its annulus on the detector.
WING_WIDTH = 8.0


def list_exposures(prefix: str, *, endpoint_url: str | None = None) -> list[str]:
    """Every ``*_uncal.asdf`` under a local folder or an ``s3://`` prefix, sorted.

    Raises
    ------
    ExposureError
        If a local folder does not exist.
    """
    text = os.fspath(prefix)
    if text.startswith("s3://"):
        from ..s3_browse import list_dir

        found, todo = [], [text]
        while todo:
            folders, files = list_dir(todo.pop(), endpoint_url=endpoint_url)
            found += [f.uri for f in files if f.name.endswith(PATTERN)]
            todo += folders
        return sorted(found)
    # Absolute: the URIs go to workers whose working folder is not ours (an external cluster).
    root = Path(os.path.abspath(text))
    if not root.is_dir():
        raise ExposureError(text, "is not a folder (campaign index wants a folder or an s3:// prefix)")
    # Hidden folders below the root (partial writes, caches) are skipped; the root's own path may be anything.
    return sorted(str(p) for p in root.rglob("*" + PATTERN)
                  if not any(part.startswith(".") for part in p.relative_to(root).parts))


def start_seconds(start_time) -> float:
    """``meta.exposure.start_time`` (ISO text) as seconds since :data:`EPOCH`; NaN if unreadable."""
    try:
        return (datetime.fromisoformat(str(start_time)) - EPOCH).total_seconds()
    except ValueError:
        return math.nan


def _empty_row(uri: str) -> dict:
    row = {k: None for k in INDEX_COLUMNS}
    row.update(uri=uri, name=uri.rsplit("/", 1)[-1], reads=-1, height=-1, width=-1, size_bytes=-1,
               frame_time_s=math.nan, start_s=math.nan, star_row=math.nan, star_col=math.nan,
               star_significance=math.nan, error="")
    match = _ACTIVITY.search(uri)
    row["activity"] = match.group(1) if match else ""
    return row


def index_row(uri: str, *, endpoint_url: str | None = None) -> dict:
    """The index row of one exposure (``error`` set, numbers missing, when it cannot be read)."""
    from ..diagnostics.centroid import NoSourceError, star_centre
    from ..diagnostics.star import brightest_source
    from ..io import open_exposure

    row = _empty_row(uri)
    try:
        with open_exposure(uri, endpoint_url=endpoint_url) as exp:
            n, h, w = exp.shape
            start = exp.get_meta("exposure.start_time")
            row.update(detector=str(exp.get_meta("instrument.detector", "")),
                       filter=str(exp.get_meta("instrument.optical_element", "")),
                       exposure_type=str(exp.get_meta("exposure.type", "")), reads=n, height=h, width=w,
                       frame_time_s=exp.frame_time or math.nan, start_time=str(start or ""),
                       start_s=start_seconds(start), size_bytes=int(exp.size))
            if n >= 2:
                last = exp.frame(n - 1)
                diff = last.astype(np.float32) - exp.frame(0)
                saturated = last >= SATURATED_DN_GUESS
                try:
                    # A saturated core is a plateau of the raw read (and a hole in the difference).
                    guess = brightest_source(np.where(saturated, 1.0, 0.0)) if saturated.any() else None
                    centre = star_centre(diff, saturated=saturated, guess=guess, wing_width=WING_WIDTH)
                    row.update(star_row=centre.row, star_col=centre.col, star_significance=centre.significance)
                except NoSourceError:
                    pass  # a dark: no star, the position stays NaN
    except (ExposureError, ValueError, OSError) as err:
        row["error"] = str(err)
    return row


def build_index_job(prefix: str, *, endpoint_url: str | None = None) -> Job[list[dict]]:
    """Index every exposure under ``prefix`` (see :func:`index_row`), in time order.

    Raises
    ------
    ExposureError
        If nothing is found (names the prefix).
    """
    uris = list_exposures(prefix, endpoint_url=endpoint_url)
    if not uris:
        raise ExposureError(os.fspath(prefix), f"holds no *{PATTERN} exposure")
    rows = []
    for i, uri in enumerate(uris):
        rows.append(index_row(uri, endpoint_url=endpoint_url))
        yield Progress((i + 1) / len(uris), f"index: {rows[-1]['name']}")
    rows.sort(key=lambda r: (math.inf if math.isnan(r["start_s"]) else r["start_s"], r["detector"] or "", r["uri"]))
    return rows


def write_index(rows: list[dict], path: str | os.PathLike) -> Path:
    """Write the index as Parquet (``.parquet``) or CSV (``.csv``), atomically."""
    import pyarrow as pa

    path = Path(path)
    table = pa.Table.from_pylist([{k: r[k] for k in INDEX_COLUMNS} for r in rows], schema=_schema())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        elif path.suffix == ".csv":
            import pyarrow.csv as pcsv

            pcsv.write_csv(table, tmp)
        else:
            raise ValueError(f"{path}: the index is written as .parquet or .csv")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_index(path: str | os.PathLike) -> list[dict]:
    """Rows of an index written by :func:`write_index`.

    Raises
    ------
    ExposureError
        If the file is missing or lacks the index columns.
    """
    path = Path(path)
    if not path.exists():
        raise ExposureError(str(path), "no such index file (write one with brightstar campaign index)")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    else:
        import pyarrow.csv as pcsv

        table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(column_types=_schema()))
    missing = [c for c in INDEX_COLUMNS if c not in table.column_names]
    if missing:
        raise ExposureError(str(path), f"is not a campaign index: no column {', '.join(missing)}")
    rows = table.to_pylist()
    floats = [f.name for f in _schema() if str(f.type) == "double"]
    for r in rows:
        r["error"] = r["error"] or ""
        for c in floats:  # CSV writes NaN as an empty field
            if r[c] is None:
                r[c] = math.nan
    return [{c: r[c] for c in INDEX_COLUMNS} for r in rows]


def _schema():
    import pyarrow as pa

    strings = ("uri", "name", "activity", "detector", "filter", "exposure_type", "start_time", "error")
    ints = ("reads", "size_bytes", "height", "width")
    return pa.schema([(c, pa.string() if c in strings else pa.int64() if c in ints else pa.float64())
                      for c in INDEX_COLUMNS])
