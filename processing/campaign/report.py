"""``brightstar campaign report``: the campaign's plots in one PDF (matplotlib, no GUI backend).

Page 1 (2 x 2): equivalent radius and saturated area against time in the
exposure, one line per illuminated exposure coloured by magnitude; onset
(95th-percentile radius of every pixel that saturated) and final equivalent
radius against magnitude; persistence rate in the darks against time since
illumination (log scale) per footprint, with the fitted time constant.

Magnitudes are not in the files.  They come from ``magnitudes`` (file name
-> magnitude) or, for a synthetic campaign, from its ``manifest.json``
found above the exposures; without them exposures are coloured and placed
by brightness rank (most saturated first) and the axis says so.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .analysis import fit_persistence


def campaign_magnitudes(results: list[dict]) -> dict[str, float]:
    """File name -> magnitude from a synthetic campaign's manifest above the results' exposures."""
    for res in results:
        uri = res.get("uri") or ""
        if uri.startswith("s3://"):
            continue
        for parent in Path(uri).parents:
            manifest = parent / "manifest.json"
            if manifest.exists():
                try:
                    data = json.loads(manifest.read_text())
                except ValueError:
                    break
                if data.get("kind") == "campaign":
                    return {e["path"].rsplit("/", 1)[-1]: float(e["magnitude"]) for e in data["illuminated"]}
                break
    return {}


def report_data(results: list[dict], magnitudes: dict[str, float] | None = None) -> dict:
    """What the report plots, as plain numbers (also what the test reads back).

    Returns
    -------
    dict
        ``exposures``: name -> {magnitude, time_s, saturated, equivalent_radius_px,
        onset_outer_radius_px}; ``persistence``: source name -> {time_since_s,
        rate_dn_s, tau_s}; ``magnitude_label``.
    """
    ok = [r for r in results if r.get("status") == "ok"]
    mags = dict(magnitudes or campaign_magnitudes(ok))
    illum = [r for r in ok if r.get("growth")]
    label = "magnitude"
    if not all(r["name"] in mags for r in illum):
        order = sorted(illum, key=lambda r: -r["growth"]["saturated"][-1])
        mags = {r["name"]: float(i + 1) for i, r in enumerate(order)}
        label = "brightness rank (1 = most saturated)"
    exposures = {}
    for r in illum:
        g = r["growth"]
        exposures[r["name"]] = {"magnitude": mags[r["name"]], "detector": r["detector"],
                                "time_s": [t if t is not None else math.nan for t in g["time_s"]],
                                "saturated": g["saturated"], "equivalent_radius_px": g["equivalent_radius_px"],
                                "onset_outer_radius_px": r.get("onset_outer_radius_px") or 0.0}
    fits = fit_persistence(ok)
    persistence = {}
    for r in ok:
        for p in r.get("persistence") or []:
            entry = persistence.setdefault(p["source_name"], {"time_since_s": [], "rate_dn_s": [],
                                                              "magnitude": mags.get(p["source_name"], math.nan),
                                                              "tau_s": fits.get(p["source_uri"], {}).get("tau_s")})
            entry["time_since_s"].append(p["time_since_s"])
            entry["rate_dn_s"].append(p["rate_dn_s"])
    return {"exposures": exposures, "persistence": persistence, "magnitude_label": label}


def write_report(results: list[dict], out: str | os.PathLike, magnitudes: dict[str, float] | None = None) -> Path:
    """Write the campaign report PDF atomically; return its path.

    Raises
    ------
    ValueError
        If there is no successful illuminated result to plot.
    """
    import matplotlib
    from matplotlib import cm, colors
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    data = report_data(results, magnitudes)
    if not data["exposures"]:
        raise ValueError("no successful illuminated exposure among the results: nothing to plot")
    mags = [e["magnitude"] for e in data["exposures"].values()]
    norm = colors.Normalize(min(mags), max(mags) if max(mags) > min(mags) else min(mags) + 1)
    cmap = matplotlib.colormaps["viridis"]
    fig = Figure(figsize=(11, 8.5), layout="constrained")
    (a_r, a_n), (a_m, a_p) = fig.subplots(2, 2)
    for name, e in sorted(data["exposures"].items(), key=lambda kv: kv[1]["magnitude"]):
        c = cmap(norm(e["magnitude"]))
        lbl = f"{e['magnitude']:g} {e['detector']}"
        a_r.plot(e["time_s"], e["equivalent_radius_px"], "-o", ms=3, color=c, label=lbl)
        a_n.plot(e["time_s"], e["saturated"], "-o", ms=3, color=c, label=lbl)
        a_m.plot(e["magnitude"], e["onset_outer_radius_px"], "o", color=c)
        a_m.plot(e["magnitude"], e["equivalent_radius_px"][-1], "s", mfc="none", color=c)
    a_r.set(xlabel="time since first read (s)", ylabel="equivalent radius sqrt(N/pi) (px)",
            title="Saturated equivalent radius")
    a_r.legend(fontsize=7, title=data["magnitude_label"], title_fontsize=7)
    a_n.set(xlabel="time since first read (s)", ylabel="saturated pixels", title="Saturated area")
    a_m.set(xlabel=data["magnitude_label"], ylabel="radius (px)",
            title="Onset radius (o: outer 95 %, s: final equivalent)")
    for name, p in sorted(data["persistence"].items()):
        c = cmap(norm(p["magnitude"])) if math.isfinite(p["magnitude"]) else "grey"
        t, rate = np.array(p["time_since_s"]), np.array(p["rate_dn_s"], dtype=float)
        good = rate > 0
        tau = f", tau {p['tau_s']:.0f} s" if p["tau_s"] else ""
        a_p.semilogy(t[good], rate[good], "o", color=c, label=f"{p['magnitude']:g}{tau}")
    a_p.set(xlabel="time since end of illumination (s)", ylabel="persistence (DN/s)",
            title="Persistence in the darks")
    if data["persistence"]:
        a_p.legend(fontsize=7, title="source " + data["magnitude_label"], title_fontsize=7)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=[a_r, a_n, a_m, a_p], label=data["magnitude_label"],
                 shrink=0.6)
    fig.suptitle(f"Bright-star campaign: {len(data['exposures'])} illuminated exposures, "
                 f"{sum(1 for r in results if r.get('persistence') is not None)} darks")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        # TrueType (Type 42) subsets, not matplotlib's default Type 3 glyph procedures: the text stays
        # text (searchable, editable) and journals' PDF checks accept the fonts.
        with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(
                tmp, metadata={"Title": "Bright-star campaign report", "Creator": "brightstar campaign report"}) as pdf:
            pdf.savefig(fig)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out
