"""Data exports (Qt-free): a cutout as a Roman ASDF file, pixel ramps as CSV.

* :func:`cutout_asdf_job` writes the region of an exposure as the same kind
  of datamodel as its source (``TvacModel``, ``ScienceRawModel`` or
  ``RampModel``), so :func:`processing.io.open_exposure`, ``asdf`` and
  ``roman_datamodels`` all open it: every array of the source cut to the
  region (data, pixeldq, groupdq, amp33 rows, border pixels), the source's
  ``meta`` unchanged, and a ``brightstar_cutout`` node with the region, the
  read times, each pixel's saturation onset and where it all came from.
  asdf writes an MD5 checksum for every block.
* :func:`ramp_table` and :func:`write_ramp_csv`: the ramps of the selected
  pixel, its 3 x 3 neighbours and any pinned pixels, one row per pixel and
  read, times rounded to microseconds, DN written as their shortest exact
  decimal (no ``9.120000000000001``).  :func:`pinned_table` is the same
  table for several pinned pixels alone (the viewer's "export pins").

Both refuse to replace an existing file unless ``overwrite`` and write under
a temporary name first, so an interrupted export leaves nothing that looks
complete.
"""

from __future__ import annotations

import copy
import datetime as _dt
import io as _io
from pathlib import Path
from typing import Any

import numpy as np

from .figure_files import _atomic, check_writable, software_versions
from .progress import Job, Progress, run

#: groupdq bit of saturation (romancal's ``dqflags.group["SATURATED"]``).
GROUPDQ_SATURATED = 2


# -- saturation onset ---------------------------------------------------------------------------


def onset_from_raw(raw_cube: np.ndarray, sat_dn: np.ndarray) -> np.ndarray:
    """First read at which each pixel is at or above its saturation threshold.

    The rule of :func:`processing.diagnostics.saturation_onset`, on a cutout.

    Parameters
    ----------
    raw_cube : (N, h, w) raw DN
    sat_dn : (h, w) DN

    Returns
    -------
    (h, w) int16 (int32 for N > 32767)
        -1 where the pixel never saturates.
    """
    from .diagnostics import saturation_onset

    return saturation_onset(raw_cube, sat_dn)


def onset_from_groupdq(groupdq: np.ndarray) -> np.ndarray:
    """First read flagged SATURATED in ``groupdq`` (N, h, w); -1 where none."""
    from .diagnostics.ramp import onset_dtype

    return _first((np.asarray(groupdq) & GROUPDQ_SATURATED) != 0, onset_dtype(len(groupdq)))


def _first(sat: np.ndarray, dtype) -> np.ndarray:
    ever = sat.any(axis=0)
    return np.where(ever, sat.argmax(axis=0), -1).astype(dtype)


# -- cutout ASDF -----------------------------------------------------------------------------------


def _source_tree(exposure):
    """The source's tree through asdf's converters, from its header bytes only (no blocks read)."""
    import asdf

    head = exposure.source.read(0, exposure.layout.tree_end)
    with asdf.config_context() as cfg:
        cfg.validate_on_read = False
        af = asdf.open(_io.BytesIO(head), lazy_load=True, memmap=False, lazy_tree=True)
        try:
            return copy.deepcopy(af["roman"]["meta"])
        finally:
            af.close()


def _cut(arr, shape3, region) -> np.ndarray:
    """An array of the ``roman`` node cut to ``region`` by how its axes match the cube's."""
    n, h, w = shape3
    y0, y1, x0, x1 = region
    s = tuple(arr.shape)
    if s == (n, h, w):
        return arr.cutout(y0, y1, x0, x1)
    if s == (h, w):
        return arr.read()[y0:y1, x0:x1]
    if len(s) == 3 and s[:2] == (n, h):  # amp33, left/right border pixels
        return arr.cutout(y0, y1, 0, s[2])
    if len(s) == 3 and s[0] == n and s[2] == w:  # top/bottom border pixels
        return arr.read()[:, :, x0:x1]
    if len(s) == 2 and s[0] == h:
        return arr.read()[y0:y1]
    if len(s) == 2 and s[1] == w:
        return arr.read()[:, x0:x1]
    return arr.read()  # not per pixel (guide window): whole


_MODELS = {"TvacModel": "TvacModel", "ScienceRawModel": "ScienceRawModel", "RampModel": "RampModel"}


def cutout_asdf_job(path: str | Path, exposure, region, *, pixeldq: np.ndarray | None = None,
                    sat_dn: np.ndarray | None = None, references: dict | None = None, raw=None,
                    overwrite: bool = False) -> Job[Path]:
    """Write ``region`` of ``exposure`` as a Roman ASDF file of the same model (progress generator).

    Parameters
    ----------
    path : str or Path
    exposure : processing.io.Exposure
        The file whose values are cut (raw or calibrated).
    region : (y0, y1, x0, x1)
        Rows and columns, frame pixels (half-open).
    pixeldq : (H, W) uint32, optional
        Full-frame pixel DQ (e.g. of the mask reference) for a raw source,
        which has none; a calibrated source's own is used if present.
    sat_dn : (H, W) float, optional
        Saturation thresholds, DN, for the onset of a raw source.
    references : dict of str to path, optional
        Reference files, recorded in ``brightstar_cutout``.
    raw : processing.io.Exposure, optional
        The raw exposure behind a calibrated one (recorded).
    overwrite : bool
        Replace an existing file; otherwise :class:`FileExistsError`.

    Returns
    -------
    Path
    """
    import asdf
    from roman_datamodels import datamodels as rdm

    path = check_writable(path, overwrite)
    n, h, w = exposure.shape
    y0, y1, x0, x1 = (int(v) for v in region)
    if not (0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w):
        raise ValueError(f"cutout region {(y0, y1, x0, x1)} is not inside frames of {h} x {w}")
    region = (y0, y1, x0, x1)
    yield Progress(0.05, "reading the source's metadata")
    meta = _source_tree(exposure)
    model_cls = getattr(rdm, _MODELS[exposure.model_type])
    cube = exposure.cutout(y0, y1, x0, x1)
    model = model_cls.create_fake_data(shape=cube.shape)
    model.meta = meta
    # The source's name is in brightstar_cutout.source; the file's own here
    # (a tagged scalar of the model's kind).
    model.meta.filename = type(model.meta.filename)(path.name)
    yield Progress(0.3, "cutting the arrays")
    arrays = {}
    for i, (key, arr) in enumerate(exposure.arrays.items()):
        arrays[key] = cube if key == "data" else _cut(arr, exposure.shape, region)
        yield Progress(0.3 + 0.4 * (i + 1) / len(exposure.arrays), f"cut {key}")
    if "pixeldq" not in arrays and pixeldq is not None:
        arrays["pixeldq"] = np.asarray(pixeldq, np.uint32)[y0:y1, x0:x1]
    if "groupdq" in arrays:
        onset, rule = onset_from_groupdq(arrays["groupdq"]), "first read with groupdq SATURATED (2)"
    elif sat_dn is not None:
        onset, rule = onset_from_raw(cube, np.asarray(sat_dn)[y0:y1, x0:x1]), "first read with raw DN >= saturation reference"
    else:
        onset, rule = None, "no saturation reference"
    fake = model._instance
    for key, value in arrays.items():
        # A copy, not a view: asdf would write a view's whole base array with strides.
        value = np.array(value, order="C", copy=True)
        template = fake.get(key) if hasattr(fake, "get") else None
        unit = getattr(template, "unit", None)
        if unit is not None:
            import astropy.units as u

            value = u.Quantity(value, unit, dtype=value.dtype, copy=False)
        setattr(model, key, value)
    for key in ("pixeldq", "groupdq"):  # templates the source lacks: shaped to the cutout, not left fake
        if key in fake and key not in arrays:
            setattr(model, key, np.zeros(cube.shape[1:] if key == "pixeldq" else cube.shape, fake[key].dtype))
    times = exposure.read_times
    info: dict[str, Any] = {
        "source": exposure.uri, "source_model": exposure.model_type,
        "raw_source": None if raw is None else raw.uri,
        "region": {"y0": y0, "y1": y1, "x0": x0, "x1": x1, "note": "rows y0:y1, columns x0:x1 of the source frames"},
        "read_times_s": None if times is None else np.round(np.asarray(times, np.float64), 6),
        "saturation_onset": onset, "saturation_onset_rule": rule + "; -1: never saturated",
        "pixeldq_origin": "source" if "pixeldq" in exposure.arrays else ("mask reference" if pixeldq is not None else None),
        "references": {k: str(v) for k, v in (references or {}).items()},
        "software": software_versions(),
        "written_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    yield Progress(0.75, "writing ASDF")
    model.validate()
    with _atomic(path) as tmp, asdf.config_context() as cfg:
        # Small arrays (temperatures, read times) stay in the tree as in the source.
        cfg.array_inline_threshold = 100
        af = asdf.AsdfFile({"roman": model._instance, "brightstar_cutout": {k: v for k, v in info.items() if v is not None}})
        af.write_to(tmp)
    yield Progress(1.0, f"wrote {path.name}")
    return path


def write_cutout_asdf(path: str | Path, exposure, region, **kwargs) -> Path:
    """Run :func:`cutout_asdf_job` to completion."""
    return run(cutout_asdf_job(path, exposure, region, **kwargs))


# -- ramp CSV ----------------------------------------------------------------------------------------


def neighbourhood(row: int, col: int, shape: tuple[int, int], pinned=()) -> list[tuple[int, int, str]]:
    """``(row, col, role)`` of the selected pixel, its 3 x 3 neighbours inside the frame, and pinned pixels."""
    h, w = shape
    out = [(row, col, "selected")]
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            r, c = row + dr, col + dc
            if (dr or dc) and 0 <= r < h and 0 <= c < w:
                out.append((r, c, "neighbour"))
    seen = {(r, c) for r, c, _ in out}
    for r, c in pinned:
        r, c = int(r), int(c)
        if (r, c) not in seen and 0 <= r < h and 0 <= c < w:
            out.append((r, c, "pinned"))
            seen.add((r, c))
    return out


def ramp_table(row: int, col: int, *, raw=None, calibrated=None, pinned=(), sat_dn: np.ndarray | None = None,
               pixeldq: np.ndarray | None = None, read_times: np.ndarray | None = None, header: dict | None = None) -> dict:
    """Ramps of the selected pixel, its 3 x 3 neighbours and ``pinned`` pixels.

    Parameters
    ----------
    row, col : int
        The selected pixel, frame coordinates.
    raw, calibrated : frame sources with ``cutout(y0, y1, x0, x1)`` and ``shape`` (N, H, W)
        At least one.  A calibrated source's ``arrays["groupdq"]`` is read too.
    pinned : iterable of (row, col)
    sat_dn : (H, W) DN, optional
        For the ``saturated`` column of raw ramps.
    pixeldq : (H, W) uint32, optional
    read_times : (N,) s, optional

    Returns
    -------
    dict
        ``columns`` (list of str), ``rows`` (list of tuples), ``header`` (dict).
    """
    primary = raw if raw is not None else calibrated
    if primary is None:
        raise ValueError("a ramp table needs a raw or a calibrated exposure")
    _, h, w = primary.shape
    if not (0 <= row < h and 0 <= col < w):
        raise ValueError(f"pixel ({row}, {col}) is outside frames of {h} x {w}")
    return pixels_table(neighbourhood(row, col, (h, w), pinned), raw=raw, calibrated=calibrated, sat_dn=sat_dn,
                        pixeldq=pixeldq, read_times=read_times, header=header)


def pinned_table(pinned, **kwargs) -> dict:
    """Ramps of several pinned pixels together, roles ``pin 1``, ``pin 2`` ... in pin order.

    ``pinned``: (row, col) pairs, at least one; keyword arguments as for
    :func:`pixels_table`.  The header lists the pins.
    """
    pins = [(int(r), int(c)) for r, c in pinned]
    if not pins:
        raise ValueError("no pinned pixels: pin a pixel first")
    header = {"pinned_pixels": "; ".join(f"pin {i + 1} = row {r}, col {c}" for i, (r, c) in enumerate(pins)),
              **(kwargs.pop("header", None) or {})}
    return pixels_table([(r, c, f"pin {i + 1}") for i, (r, c) in enumerate(pins)], header=header, **kwargs)


def pixels_table(pixels, *, raw=None, calibrated=None, sat_dn: np.ndarray | None = None,
                 pixeldq: np.ndarray | None = None, read_times: np.ndarray | None = None,
                 header: dict | None = None) -> dict:
    """Ramps of ``pixels`` ((row, col, role) triples), one table row per pixel and read.

    Parameters as for :func:`ramp_table`; a pixel outside the frame raises
    ValueError naming it (before anything is read).
    """
    from .diagnostics.thresholds import SaturationTest

    primary = raw if raw is not None else calibrated
    if primary is None:
        raise ValueError("a ramp table needs a raw or a calibrated exposure")
    n, h, w = primary.shape
    for r, c, _ in pixels:
        if not (0 <= r < h and 0 <= c < w):
            raise ValueError(f"pixel ({r}, {c}) is outside frames of {h} x {w}")
    gdq_arr = getattr(calibrated, "arrays", {}).get("groupdq") if calibrated is not None else None
    columns = ["row", "col", "role", "read", "time_s"]
    columns += [c for c, have in (("raw_dn", raw is not None), ("calibrated_dn", calibrated is not None),
                                  ("groupdq", gdq_arr is not None), ("saturated", raw is not None and sat_dn is not None),
                                  ("pixeldq", pixeldq is not None)) if have]
    rows = []
    for r, c, role in pixels:
        cells = {"raw_dn": None if raw is None else raw.cutout(r, r + 1, c, c + 1)[:, 0, 0],
                 "calibrated_dn": None if calibrated is None else calibrated.cutout(r, r + 1, c, c + 1)[:, 0, 0],
                 "groupdq": None if gdq_arr is None else gdq_arr.cutout(r, r + 1, c, c + 1)[:, 0, 0]}
        if "saturated" in columns:
            test = SaturationTest(np.asarray(sat_dn)[r : r + 1, c : c + 1], (1, 1))
            cells["saturated"] = np.array([test(v.reshape(1, 1))[0, 0] for v in cells["raw_dn"]])
        for k in range(n):
            values = {"row": r, "col": c, "role": role, "read": k,
                      "time_s": None if read_times is None else float(read_times[k]),
                      "pixeldq": None if pixeldq is None else int(pixeldq[r, c])}
            values.update({key: None if v is None else v[k] for key, v in cells.items()})
            rows.append(tuple(values[col_] for col_ in columns))
    return {"columns": columns, "rows": rows, "header": dict(header or {})}


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, (np.floating,)):
        return np.format_float_positional(v, unique=True, trim="-")
    if isinstance(v, float):
        return np.format_float_positional(v, unique=True, trim="-")
    return str(v)


def write_ramp_csv(path: str | Path, table: dict, *, overwrite: bool = False) -> Path:
    """Write a :func:`ramp_table` as CSV with ``# key: value`` header lines.

    ``time_s`` is rounded to microseconds; raw DN are integers; calibrated
    DN are float32 written as their shortest exact decimal.
    """
    import csv

    path = check_writable(path, overwrite)
    columns = list(table["columns"])
    header = {"written_by": f"brightstar-gui {software_versions()['brightstar-gui']}",
              "written_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), **table.get("header", {})}
    with _atomic(path) as tmp:
        with open(tmp, "w", newline="") as fh:
            for k, v in header.items():
                fh.write(f"# {k}: {v}\n")
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(columns)
            t = columns.index("time_s")
            for row in table["rows"]:
                cells = [_cell(v) for v in row]
                if row[t] is not None:
                    cells[t] = f"{row[t]:.6f}"
                writer.writerow(cells)
    return path
