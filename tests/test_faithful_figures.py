"""Figure files read back: native resolution, flags in their colour, fonts, ticks, sidecars.

Every test writes a file with the project's code and reads it back (PNG
pixels with Pillow, PDF with poppler's ``pdfimages``/``pdffonts``, SVG's
embedded PNGs), on the synthetic small set.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from processing import figure_files, figure_kinds, figure_layout, figures, pane_colours
from processing.figure_files import figure_sidecar
from processing.cli import main
from processing.io import open_exposure

KINDS = ("pane", "group", "differences", "rows")
needs_poppler = pytest.mark.skipif(shutil.which("pdfimages") is None or shutil.which("pdffonts") is None,
                                   reason="poppler-utils (pdfimages, pdffonts) not installed")


@pytest.fixture(scope="module")
def small_data(small_set):
    """FigureData of a 100 x 90 cutout around the star, with the mask reference as pixeldq."""
    exp = open_exposure(small_set["illuminated"])
    n, h, w = exp.shape
    refs = small_set["references"]
    sat = figures.align_to_frame(figures.load_reference_array(refs["saturation"], "data").astype(np.float32), (h, w))
    dq = figures.align_to_frame(figures.load_reference_array(refs["mask"], "dq"), (h, w))
    r, c = small_set["star_center"]
    region = (r - 50, r + 50, c - 40, c + 50)
    from processing.diagnostics import mean_slope

    y0, y1, x0, x1 = region
    cube = exp.cutout(y0, y1, x0, x1)
    slope = mean_slope(cube, cube, sat[y0:y1, x0:x1])
    data = figures.FigureData(frames=exp, region=region, sat_dn=sat, pixeldq=dq, mean_slope=slope, title="SCA 11",
                              source=str(small_set["illuminated"]), references={k: str(v) for k, v in refs.items()})
    yield data
    exp.close()


def _pdf_images(path) -> list[tuple[int, int, str]]:
    out = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines()[2:]:
        f = line.split()
        rows.append((int(f[3]), int(f[4]), f[9]))  # width, height, interpolate
    return rows


def _pdf_font_types(path) -> list[str]:
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()[2:]
    # The type column starts at column 37 and is 17 characters wide.
    return [ln[37:54].strip() for ln in lines]


@needs_poppler
@pytest.mark.parametrize("kind", KINDS)
def test_pdf_embeds_every_pane_at_native_resolution_with_truetype_text(small_set, tmp_path, kind):
    out = tmp_path / f"{kind}.pdf"
    r, c = small_set["star_center"]
    assert main(["figure", str(small_set["illuminated"]), str(out), "--kind", kind, "--pane", "raw", "--frames", "3,6",
                 "--cutout", f"{r},{c},60", "--quiet"]) == 0
    images = _pdf_images(out)
    panes = [(w, h) for w, h, _ in images if w > 1]  # colour bars are 1 pixel wide
    expected = {"pane": 1, "group": 4, "differences": 2, "rows": 6}[kind]
    assert len(panes) == expected
    assert all(w >= 120 and h >= 120 for w, h in panes), images
    assert all(interp == "no" for *_, interp in images)  # viewers must not smooth them
    types = _pdf_font_types(out)
    assert types and not any("Type 3" in t for t in types), types
    assert all("TrueType" in t for t in types), types


def _pane_pixels(png, record) -> np.ndarray:
    box = record["image_px"]
    im = np.asarray(Image.open(png).convert("RGBA"))
    return im[box["top"] : box["top"] + box["height"], box["left"] : box["left"] + box["width"]]


def _blocks(pixels: np.ndarray, zoom: int) -> np.ndarray:
    """(H*z, W*z, 4) -> (H, W, 4) after checking each z x z block is one colour."""
    hz, wz, _ = pixels.shape
    blocks = pixels.reshape(hz // zoom, zoom, wz // zoom, zoom, 4)
    assert (blocks == blocks[:, :1, :, :1]).all(), "a data pixel is not a uniform block"
    return blocks[:, 0, :, 0]


@pytest.mark.parametrize("dpi, width", [(100, None), (150, None), (72, 1500)])
def test_png_pane_is_whole_blocks_of_the_composed_colours(small_data, tmp_path, dpi, width):
    spec = figures.PaneSpec("difference", scale="asinh")
    fig = figure_kinds.pane_figure(small_data, spec, 5, dpi=dpi, width=width)
    png = figure_files.save_figure(fig, tmp_path / "p.png")
    rec = fig.brightstar_record
    zoom = rec["raster"]["zoom"]
    assert rec["raster"]["bin"] == 1
    assert zoom >= 1 and rec["panes"][0]["image_px"]["width"] == 90 * zoom
    if width is not None:
        assert Image.open(png).size[0] <= width
    shown = _blocks(_pane_pixels(png, rec["panes"][0]), zoom)
    levels = tuple(rec["panes"][0]["levels"])
    expected = figure_kinds.compose(small_data.pane("difference", 5), spec, levels, small_data.bad).rgba
    np.testing.assert_array_equal(shown, expected[::-1])  # origin="lower": row 0 at the bottom


@pytest.mark.parametrize("scale", ["asinh", "log", "linear"])
@pytest.mark.parametrize("cmap", ["inferno_r", "gray"])
def test_flagged_pixels_are_the_flag_colour_under_every_scale(small_data, tmp_path, scale, cmap):
    fig = figure_kinds.pane_figure(small_data, figures.PaneSpec("raw", cmap=cmap, scale=scale), 4)
    png = figure_files.save_figure(fig, tmp_path / "p.png")
    rec = fig.brightstar_record
    shown = _blocks(_pane_pixels(png, rec["panes"][0]), rec["raster"]["zoom"])[::-1]
    bad = small_data.bad
    assert bad.any() and (~bad).any()
    flag = np.array(pane_colours.flag_colour(cmap), np.uint8)
    assert (shown[bad] == flag).all()
    # ... and no unflagged pixel has it: the colour means "flagged" only.
    assert not (shown[~bad] == flag).all(axis=-1).any()
    assert rec["panes"][0]["flagged_pixels"] == int(bad.sum())
    assert rec["panes"][0]["flag_colour"] == pane_colours.hex_colour(flag)


def test_nan_pixels_get_their_own_colour_and_legend(small_data, tmp_path):
    fig = figure_kinds.pane_figure(small_data, figures.PaneSpec("ratio"), 5)
    png = figure_files.save_figure(fig, tmp_path / "r.png")
    rec = fig.brightstar_record["panes"][0]
    shown = _blocks(_pane_pixels(png, rec), fig.brightstar_record["raster"]["zoom"])[::-1]
    ratio = small_data.pane("ratio", 5)
    undefined = ~np.isfinite(ratio) & ~small_data.bad
    assert undefined.any()
    assert (shown[undefined] == np.array(pane_colours.nan_colour("RdYlBu"), np.uint8)).all()
    assert rec["undefined_pixels"] == int(undefined.sum())
    texts = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert f"undefined ({int(undefined.sum())} px)" in texts
    assert f"DQ-flagged ({int(small_data.bad.sum())} px)" in texts


def test_mask_is_four_categories_with_a_legend(small_data, tmp_path):
    fig = figure_kinds.pane_figure(small_data, figures.PaneSpec("mask"), 6)
    png = figure_files.save_figure(fig, tmp_path / "m.png")
    rec = fig.brightstar_record["panes"][0]
    shown = _blocks(_pane_pixels(png, rec), fig.brightstar_record["raster"]["zoom"])[::-1]
    codes = small_data.pane("mask", 6).astype(int)
    colours = pane_colours.mask_colours("magma_r")
    for code, name in enumerate(pane_colours.MASK_LABELS):
        assert rec["categories"][name]["pixels"] == int((codes == code).sum())
        assert (shown[codes == code] == colours[code]).all()
    assert (codes == 3).any() and (codes == 2).any() and (codes == 1).any()
    legend = [ax.get_legend() for ax in fig.axes if ax.get_legend()][0]
    assert [t.get_text().split(" (")[0] for t in legend.get_texts()] == list(pane_colours.MASK_LABELS[::-1])


@pytest.mark.parametrize("scale", ["asinh", "log", "linear"])
def test_tick_labels_never_overlap_and_every_axis_has_them(small_data, scale):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    specs = {k: figures.PaneSpec(k, scale=scale) for k in ("raw", "difference", "ratio")}
    fig = figure_kinds.group_figure(small_data, specs, 5)
    FigureCanvasAgg(fig).draw()
    images = [ax for ax in fig.axes if ax.get_images() and ax.get_xlabel()]
    assert len(images) == 4
    for ax in images:  # the top row too
        assert [t.get_text() for t in ax.get_xticklabels() if t.get_text()], "x tick labels missing"
        assert [t.get_text() for t in ax.get_yticklabels() if t.get_text()], "y tick labels missing"
        assert ax.get_xlabel() == "x [pixel]" and ax.get_ylabel() == "y [pixel]"
    bars = [ax for ax in fig.axes if ax.get_images() and not ax.get_xlabel()]
    assert len(bars) == 3  # raw, difference, ratio; the mask has a legend
    for ax in fig.axes:
        assert not figure_layout.labels_overlap(ax)
    for ax in bars:
        assert len([t for t in ax.get_yticklabels() if t.get_text()]) >= 3


def test_nice_ticks_are_spaced_on_a_stretched_bar():
    pos = lambda v: float(figures.stretch((v - 0) / 50000, "asinh"))  # noqa: E731
    ticks = figure_layout.nice_ticks(0, 50000, pos, 0.06, stretched=True)
    p = [pos(v) for v in ticks]
    assert all(b - a >= 0.06 for a, b in zip(p, p[1:]))
    assert len(ticks) >= 5 and min(ticks) < 5000  # the expanded low end is labelled


def test_titles_and_sidecar_state_what_the_data_are(small_data, tmp_path):
    import dataclasses

    sb = np.full(small_data.frames.shape[1:], 100.0, np.float32)
    data = dataclasses.replace(small_data, superbias=sb)
    fig = figure_kinds.pane_figure(data, figures.PaneSpec("raw", scale="log"), 4)
    out = figure_files.save_figure(fig, tmp_path / "sb.svg", sidecar=figure_sidecar(data, frame=4))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert any("superbias-subtracted" in t and "raw DN" in t and "frame 4" in t for t in titles)
    side = json.loads((tmp_path / "sb.svg.json").read_text())
    assert side["superbias_subtracted"] is True and "superbias-subtracted" in side["data_kind"]
    assert side["references"]["saturation"].endswith(".asdf")
    pane = side["panes"][0]
    assert pane["scale"] == "log" and pane["cmap"] == "inferno_r" and len(pane["levels"]) == 2
    assert pane["data"] == "raw DN, superbias-subtracted" and pane["frame"] == 4
    for name in ("romancal", "roman_datamodels", "asdf", "brightstar-gui"):
        assert side["versions"][name] and side["versions"][name] != "not installed"
    # SVG: text as paths, the pane embedded as its own PNG at native size.
    svg = out.read_text()
    assert "<text" not in svg
    sizes = [Image.open(io.BytesIO(base64.b64decode(m))).size
             for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=\n]+)", svg)]
    assert (90, 100) in sizes


def test_cli_refuses_to_overwrite_and_writes_the_sidecar(small_set, tmp_path, capsys):
    out = tmp_path / "d.png"
    args = ["figure", str(small_set["illuminated"]), str(out), "--kind", "differences", "--frames", "2,5", "--quiet",
            "--dpi", "120"]
    assert main(args) == 0
    before = out.read_bytes()
    side = json.loads((tmp_path / "d.png.json").read_text())
    assert side["figure"] == "differences" and side["frames"] == [2, 5] and side["dpi"] == 120
    assert side["data_kind"] == "raw" and "mask" in side["references"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "d.png" in err and "exists" in err and "--overwrite" in err
    assert out.read_bytes() == before
    assert main([*args, "--overwrite"]) == 0
    assert not list(tmp_path.glob(".*partial*"))


def test_raster_zooms_small_cutouts_and_bins_only_above_1024():
    assert figure_layout.choose_raster(256, 256, 1, 100) == figure_layout.Raster(2, 1)
    assert figure_layout.choose_raster(512, 512, 2, 100) == figure_layout.Raster(1, 1)
    assert figure_layout.choose_raster(1024, 1024, 2, 100) == figure_layout.Raster(1, 1)
    assert figure_layout.choose_raster(4088, 4088, 1, 100) == figure_layout.Raster(1, 4)
    # A width asks for whole zooms that fit, or the least binning that does.
    r = figure_layout.choose_raster(100, 100, 1, 100, width_px=800)
    assert r.bin == 1 and r.zoom >= 5
    r = figure_layout.choose_raster(4088, 4088, 1, 100, width_px=2000)
    assert r.zoom == 1 and 4088 / r.bin <= 2000 - 200


def test_binned_pane_flags_a_block_if_any_pixel_is():
    values = np.arange(36, dtype=np.float32).reshape(6, 6)
    bad = np.zeros((6, 6), bool)
    bad[4, 1] = True
    values[0, 0] = np.nan
    out, out_bad = figure_layout.bin_pane(values, bad, 3)
    assert out.shape == (2, 2) and out_bad.tolist() == [[False, False], [True, False]]
    assert out[0, 0] == pytest.approx(np.nanmean(values[:3, :3]))


@pytest.mark.parametrize("kind", KINDS)
def test_every_pane_of_every_kind_is_whole_blocks_with_flags_in_colour(small_data, tmp_path, kind):
    if kind == "pane":
        fig = figure_kinds.pane_figure(small_data, figures.PaneSpec("raw", scale="asinh"), 4)
    elif kind == "group":
        fig = figure_kinds.group_figure(small_data, {"raw": figures.PaneSpec("raw", scale="log")}, 4)
    elif kind == "differences":
        fig = figure_kinds.differences_figure(small_data, [2, 5], scale="asinh")
    else:
        fig = figure_kinds.rows_figure(small_data, [3, 6])
    png = figure_files.save_figure(fig, tmp_path / f"{kind}.png")
    rec = fig.brightstar_record
    bad = small_data.bad
    for pane in rec["panes"]:
        shown = _blocks(_pane_pixels(png, pane), rec["raster"]["zoom"])[::-1]
        assert shown.shape[:2] == bad.shape
        if pane["pane"] != "mask":
            flag = np.array([int(pane["flag_colour"][i : i + 2], 16) for i in (1, 3, 5)])
            assert (shown[bad][:, :3] == flag).all(), pane["title"]


def test_binned_pane_keeps_every_flag_visible(small_data, tmp_path):
    fig = figure_kinds.pane_figure(small_data, figures.PaneSpec("raw", scale="asinh"), 4, width=300)
    png = figure_files.save_figure(fig, tmp_path / "b.png")
    rec = fig.brightstar_record
    b = rec["raster"]["bin"]
    assert b >= 2 and Image.open(png).size[0] <= 300
    shown = _blocks(_pane_pixels(png, rec["panes"][0]), rec["raster"]["zoom"])[::-1]
    binned_bad = figures.block_reduce(small_data.bad, b, "any")
    flag = np.array(pane_colours.flag_colour("inferno_r"), np.uint8)
    assert (shown[binned_bad] == flag).all()
    assert rec["panes"][0]["flagged_pixels"] == int(binned_bad.sum())
    assert "mean of" in rec["raster"]["note"]


@needs_poppler
def test_pdf_never_bins_even_when_the_layout_does(small_set, tmp_path):
    pdf, png = tmp_path / "n.pdf", tmp_path / "n.png"
    args = [str(small_set["illuminated"]), "--kind", "pane", "--pane", "raw", "--cutout", "full", "--width", "400", "--quiet"]
    assert main(["figure", args[0], str(png), *args[1:]]) == 0
    assert main(["figure", args[0], str(pdf), *args[1:]]) == 0
    assert json.loads((tmp_path / "n.png.json").read_text())["raster"]["bin"] == 2
    assert json.loads((tmp_path / "n.pdf.json").read_text())["raster"]["bin"] == 1
    assert [(w, h) for w, h, _ in _pdf_images(pdf) if w > 1] == [(256, 256)]


def test_cli_says_when_a_width_or_dpi_cannot_work(small_set, tmp_path, capsys):
    out = tmp_path / "w.png"
    assert main(["figure", str(small_set["illuminated"]), str(out), "--kind", "group", "--width", "300", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "300 px" in err and "--width" in err and not out.exists()
    assert main(["figure", str(small_set["illuminated"]), str(out), "--dpi", "0", "--quiet"]) == 2
    assert "dpi" in capsys.readouterr().err and not out.exists()
