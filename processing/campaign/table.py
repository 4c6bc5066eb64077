"""A campaign results folder as one table (what the GUI's Campaign dock lists), plus the report's plot data.

One row per exposure.  Columns hold plain numbers or text (None where a
value does not apply, e.g. a dark's saturated area), so a view can sort
them numerically; the row's file and star position travel alongside for
"open this exposure at its star".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from .report import report_data
from .run import load_results

#: (column title, unit) of :attr:`CampaignTable.rows`.
COLUMNS = (
    ("exposure", ""), ("type", ""), ("detector", ""), ("start", "s from first"), ("magnitude", ""),
    ("saturated", "px"), ("equiv. radius", "px"), ("onset radius", "px"), ("star row", "px"), ("star col", "px"),
    ("persistence", "DN/s"), ("status", ""),
)


def _num(value):
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


@dataclass(frozen=True)
class CampaignTable:
    """A results folder, tabulated.

    Attributes
    ----------
    folder : str
    rows : tuple of tuple
        One per exposure, in time order, values as :data:`COLUMNS`.
    uris : tuple of str
        The exposure of each row.
    stars : tuple of (float, float) or None
        Star centre (row, col), px, of each row (None for darks and failures).
    reads : tuple of int
    references : tuple of str or None
        The reference folder of each row's detector when the campaign has
        one per detector (``references/<WFInn>/`` above the exposures), else None.
    plots : dict
        :func:`processing.campaign.report.report_data` of the same results.
    """

    folder: str
    rows: tuple
    uris: tuple
    stars: tuple
    reads: tuple
    references: tuple
    plots: dict = field(compare=False, hash=False)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f"{name} ({unit})" if unit else name for name, unit in COLUMNS)


def campaign_table(folder, magnitudes: dict[str, float] | None = None) -> CampaignTable:
    """Tabulate the results in ``folder`` (written by ``brightstar campaign run``).

    Raises
    ------
    FileNotFoundError
        If ``folder`` is not a folder or holds no result.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such results folder")
    results = load_results(folder)
    if not results:
        raise FileNotFoundError(f"{folder}: holds no campaign results (*.json from brightstar campaign run)")
    plots = report_data(results, magnitudes)
    mags = {name: e["magnitude"] for name, e in plots["exposures"].items()}
    rows, uris, stars, reads, refs = [], [], [], [], []
    starts = [s for s in (_num(r.get("start_s")) for r in results) if s is not None]
    t0 = min(starts) if starts else 0.0
    for r in results:
        growth = r.get("growth") or {}
        sat = growth.get("saturated") or [None]
        radius = growth.get("equivalent_radius_px") or [None]
        rates = [p.get("rate_dn_s") for p in r.get("persistence") or [] if _num(p.get("rate_dn_s")) is not None]
        dark = r.get("exposure_type") == "WFI_DARK"
        rows.append((r.get("name"), "dark" if dark else "illuminated", r.get("detector"),
                     None if _num(r.get("start_s")) is None else _num(r.get("start_s")) - t0,
                     _num(mags.get(r.get("name"))), _num(sat[-1]), _num(radius[-1]), _num(r.get("onset_outer_radius_px")),
                     _num(r.get("star_row")), _num(r.get("star_col")), max(rates) if rates else None, r.get("status")))
        uris.append(r.get("uri"))
        row, col = _num(r.get("star_row")), _num(r.get("star_col"))
        stars.append((row, col) if row is not None and col is not None else None)
        reads.append(int(r.get("reads") or 0))
        refs.append(_detector_references(r.get("uri") or "", r.get("detector") or ""))
    return CampaignTable(str(folder), tuple(rows), tuple(uris), tuple(stars), tuple(reads), tuple(refs), plots)


def _detector_references(uri: str, detector: str) -> str | None:
    """``references/<detector>/`` in a folder above a local exposure, if there is one."""
    if not detector or uri.startswith("s3://"):
        return None
    for parent in Path(uri).parents:
        folder = parent / "references" / detector
        if folder.is_dir():
            return str(folder)
    return None
