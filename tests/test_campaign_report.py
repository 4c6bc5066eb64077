"""``brightstar campaign report``: the plots' data and the PDF read back."""

from __future__ import annotations

import pytest

from processing.campaign.index import build_index_job
from processing.campaign.report import report_data
from processing.campaign.run import load_results, run_serial
from processing.cli import main
from processing.progress import run


def test_report_plots_the_campaign(campaign, tmp_path, capsys):
    rows = run(build_index_job(str(campaign["root"])))
    run_serial(rows, tmp_path / "results", campaign["root"] / "references")
    data = report_data(load_results(tmp_path / "results"))
    assert data["magnitude_label"] == "magnitude"
    assert sorted(e["magnitude"] for e in data["exposures"].values()) == sorted(
        e["magnitude"] for e in campaign["illuminated"])
    by_mag = sorted(data["exposures"].values(), key=lambda e: e["magnitude"])
    outer = [e["onset_outer_radius_px"] for e in by_mag]
    assert outer == sorted(outer, reverse=True) and outer[0] > 30
    assert len(data["persistence"]) == 4
    for p in data["persistence"].values():
        assert len(p["time_since_s"]) == campaign["config"]["n_darks"] and p["tau_s"] > 0

    pdf = tmp_path / "campaign.pdf"
    assert main(["campaign", "report", str(tmp_path / "results"), str(pdf)]) == 0
    assert pdf.read_bytes()[:5] == b"%PDF-" and b"%%EOF" in pdf.read_bytes()[-64:]
    _check_pdf(pdf, data, campaign)


#: The four plots: title -> (x label, y label) as the PDF must show them.
PLOTS = {"Saturated equivalent radius": ("time since first read (s)", "equivalent radius sqrt(N/pi) (px)"),
         "Saturated area": ("time since first read (s)", "saturated pixels"),
         "Onset radius (o: outer 95 %, s: final equivalent)": ("magnitude", "radius (px)"),
         "Persistence in the darks": ("time since end of illumination (s)", "persistence (DN/s)")}


def _texts(page) -> list[tuple[str, float, float, bool]]:
    """Every text line on the page: (text, x, y of its start in points, rotated 90 degrees).

    matplotlib writes a line as one text object but breaks it around ligatures ("fi"), which the
    visitor reports as separate runs with the same text matrix origin: those are joined.
    """
    runs: list[list] = []

    def visit(text, cm, tm, font, size):
        if not text:
            return
        key = tuple(round(v, 3) for v in cm)
        if runs and runs[-1][4] == key:
            runs[-1][0] += text
            return
        runs.append([text, cm[0] * tm[4] + cm[2] * tm[5] + cm[4], cm[1] * tm[4] + cm[3] * tm[5] + cm[5],
                     abs(cm[1]) > 0.5, key])

    page.extract_text(visitor_text=visit)
    return [(t.strip(), x, y, r) for t, x, y, r, _ in runs if t.strip()]


def _embedded(font) -> bool:
    """Whether a PDF font dictionary carries its glyphs (a font file, or Type 3 glyph procedures)."""
    font = font.get_object()
    if font["/Subtype"] == "/Type3":
        return "/CharProcs" in font
    if font["/Subtype"] == "/Type0":
        font = font["/DescendantFonts"][0].get_object()
    desc = font.get("/FontDescriptor")
    return desc is not None and any(k in desc.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def _check_pdf(path, data, campaign) -> None:
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(str(path))
    assert len(reader.pages) == 1
    assert reader.metadata.title == "Bright-star campaign report"
    page = reader.pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    runs = _texts(page)

    def where(text, rotated=False):
        found = [(x, y) for t, x, y, r in runs if t == text and r == rotated]
        assert found, f"{text!r} not on the page"
        return found

    titles = {title: where(title) for title in PLOTS}
    assert all(len(t) == 1 for t in titles.values())
    cells = set()
    for title, (xlabel, ylabel) in PLOTS.items():
        [(tx, ty)] = titles[title]
        column = int(tx > width / 2)
        cells.add((column, int(ty > height / 2)))
        # Below this title, in its column, before the next plot's title: its x label, and its y label
        # (rotated 90 degrees) left of that x label and right of the left column's x labels.
        floor = max([y for t, [(x, y)] in titles.items() if int(x > width / 2) == column and y < ty], default=0.0)
        xs = [(x, y) for x, y in where(xlabel) if int(x > width / 2) == column and floor < y < ty]
        assert len(xs) == 1, (title, xs)
        left = max([x for t, [(x, y)] in titles.items() if x < width / 2], default=0.0) if column else 0.0
        ys = [(x, y) for x, y in where(ylabel, rotated=True) if left < x < xs[0][0] and floor < y < ty]
        assert len(ys) == 1 and xs[0][1] < ys[0][1], (title, xs, ys)
    assert cells == {(0, 0), (0, 1), (1, 0), (1, 1)}  # a 2 x 2 grid: one plot per quarter of the page
    text = page.extract_text()
    assert f"{len(data['exposures'])} illuminated exposures, {campaign['config']['n_darks'] * 2} darks" in text
    # Legends: every illuminated exposure by magnitude and detector; every footprint's fitted tau.
    for e in campaign["illuminated"]:
        assert f"{e['magnitude']:g} {e['detector']}" in text
    for p in data["persistence"].values():
        assert f"{p['magnitude']:g}, tau {p['tau_s']:.0f} s" in text
    fonts = page["/Resources"]["/Font"]
    assert fonts and all(_embedded(f) for f in fonts.values())
    assert all(fonts[k].get_object()["/Subtype"] == "/Type0" for k in fonts)  # TrueType subsets, text stays text


def test_report_of_nothing_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["campaign", "report", str(tmp_path / "empty"), str(tmp_path / "x.pdf")]) == 2
    assert "holds no campaign results" in capsys.readouterr().err
    assert not (tmp_path / "x.pdf").exists()
