"""Benchmark: faithful figure files against the tutorial's way of saving them.

For a cutout of a synthetic exposure, the same difference image is saved
twice, in PNG and PDF:

* **tutorial**: ``plt.subplots`` + ``imshow`` + ``colorbar`` with
  constrained layout, default interpolation, ``savefig(dpi=120)`` -- what the
  tutorial's notebook (and this project before issue 13) did;
* **brightstar**: :func:`processing.figure_kinds.pane_figure` +
  :func:`processing.figure_files.save_figure`.

For each it prints the wall time, the file size, the raster embedded in the
PDF (``pdfimages -list``: width x height, against the cutout's pixels), the
PDF's font types (``pdffonts``), and how many of the cutout's data pixels
the PNG shows as one uniform block of whole output pixels.  The load average
is printed too: other work on the shared cores slows every number.

Run::

    python bench/bench_figure_export.py [--size 1024] [--half 256] [--data /tmp/bench-data/figures]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np


def _pdf_info(path: Path) -> tuple[str, str]:
    images = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True).stdout.splitlines()[2:]
    sizes = [f"{ln.split()[3]}x{ln.split()[4]}" for ln in images if int(ln.split()[3]) > 1]
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout.splitlines()[2:]
    types = sorted({ln[37:54].strip() for ln in fonts})
    return ", ".join(sizes) or "-", ", ".join(types) or "-"


def _tutorial(img: np.ndarray, levels, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5), constrained_layout=True)
    im = ax.imshow(img, origin="lower", cmap="viridis", vmin=levels[0], vmax=levels[1])
    fig.colorbar(im, ax=ax, shrink=0.9).set_label("DN")
    ax.set_xlabel("x [pix]")
    ax.set_ylabel("y [pix]")
    fig.savefig(out, dpi=120)
    plt.close(fig)


def _uniform_fraction(png: Path, box: dict | None, h: int, w: int, zoom: int) -> str:
    from PIL import Image

    if box is None:
        return "n/a (the axes size is not a whole multiple)"
    im = np.asarray(Image.open(png).convert("RGBA"))
    sub = im[box["top"] : box["top"] + h * zoom, box["left"] : box["left"] + w * zoom]
    blocks = sub.reshape(h, zoom, w, zoom, 4)
    uniform = (blocks == blocks[:, :1, :, :1]).all(axis=(1, 3, 4))
    return f"{uniform.mean() * 100:.1f} % of {h * w} pixels"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=1024, help="frame size of the synthetic exposure")
    ap.add_argument("--half", type=int, default=256, help="cutout half-size (a 2*half square)")
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "bench-data" / "figures")
    args = ap.parse_args()

    from processing import figure_kinds, figures, synth
    from processing.figure_files import save_figure
    from processing.io import open_exposure
    from processing.progress import run

    if synth.read_manifest(args.data) is None:
        run(synth.write_first_look_job(args.data, synth.SynthConfig(frames=6, size=args.size, seed=1)))
    manifest = synth.read_manifest(args.data)
    path = args.data / manifest["illuminated"]
    r, c = manifest["star_center"]
    region = (r - args.half, r + args.half, c - args.half, c + args.half)
    print(f"load average {os.getloadavg()[0]:.1f}; cutout {2 * args.half} x {2 * args.half} of {path.name}")
    out = Path(tempfile.mkdtemp(prefix="bench-fig-"))
    with open_exposure(path) as exp:
        data = figures.FigureData(frames=exp, region=region, title="SCA 11")
        img = data.pane("difference", 4)
        levels = figures.good_levels(img)
        rows = []
        for fmt in ("png", "pdf"):
            t0 = time.perf_counter()
            _tutorial(img, levels, out / f"tutorial.{fmt}")
            rows.append(("tutorial", fmt, time.perf_counter() - t0, out / f"tutorial.{fmt}", None, 1))
            t0 = time.perf_counter()
            fig = figure_kinds.pane_figure(data, figures.PaneSpec("difference", levels=levels), 4,
                                           native=fmt == "pdf")
            save_figure(fig, out / f"brightstar.{fmt}")
            rec = fig.brightstar_record
            rows.append(("brightstar", fmt, time.perf_counter() - t0, out / f"brightstar.{fmt}",
                         rec["panes"][0]["image_px"], rec["raster"]["zoom"]))
    h = w = 2 * args.half
    print(f"{'way':<11} {'fmt':<4} {'wall s':>7} {'size kB':>8}  detail")
    for way, fmt, wall, p, box, zoom in rows:
        if fmt == "pdf":
            sizes, fonts = _pdf_info(p)
            detail = f"embedded {sizes} (cutout {w}x{h}); fonts: {fonts}"
        else:
            detail = "uniform blocks: " + _uniform_fraction(p, box, h, w, zoom)
        print(f"{way:<11} {fmt:<4} {wall:7.2f} {p.stat().st_size / 1e3:8.0f}  {detail}")


if __name__ == "__main__":
    main()
