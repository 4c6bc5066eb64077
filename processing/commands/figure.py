"""``brightstar figure URI OUT``: the viewer's figures, headless (no window, no Qt)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._validate import check_cutout, check_frame, check_output_file, cutout_spec, frame_list


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "figure",
        help="write the viewer's figures (a pane, the four panes, the tutorial's figure sets) to PNG/SVG/PDF",
        description="Write the same figures as the viewer's export, without a window.",
    )
    p.add_argument("uri", help="exposure: local path or s3://bucket/key")
    p.add_argument("out", type=Path, help="output file (.png, .svg or .pdf)")
    p.add_argument("--kind", choices=["pane", "group", "differences", "rows"], default="differences",
                   help="what to draw (default: the tutorial's differences of three frames)")
    p.add_argument("--pane", choices=["raw", "difference", "ratio", "mask"], default="difference",
                   help="pane for --kind pane")
    p.add_argument("--frame", type=int, default=None, help="frame for --kind pane/group (default: the middle one)")
    p.add_argument("--frames", type=frame_list, default=None, help="comma-separated frames for differences/rows (default 2, N//2, N-1)")
    p.add_argument("--baseline", type=int, default=1, help="baseline frame of the differences (default 1)")
    p.add_argument("--cutout", type=cutout_spec, default=None, metavar="ROW,COL,HALF",
                   help="square cutout (default: 256 around the star, or the frame's centre when there is none, e.g. a dark); "
                        "'full' for the whole frame")
    p.add_argument("--calibrated", type=Path, default=None, help="a calibrated RampModel of URI to draw instead of raw DN")
    p.add_argument("--references", type=Path, default=None,
                   help="folder of reference files (default: those of the synthetic set holding URI)")
    p.add_argument("--dpi", type=float, default=100.0,
                   help="output pixels per inch (PNG) and text scale; default 100")
    p.add_argument("--width", type=int, default=None, metavar="PX",
                   help="figure width to fit, pixels: each data pixel becomes a whole number of output pixels "
                        "(default: native resolution, zoomed to at least 400 px per pane, for cutouts up to 1024 px)")
    p.add_argument("--scale", choices=["linear", "log", "asinh"], default=None, help="stretch of the panes (default linear)")
    p.add_argument("--cmap", default=None, help="colour map of the panes (default: each pane's own)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT (and OUT.json) if they exist")
    p.add_argument("--no-sidecar", action="store_true", help="do not write OUT.json (what made the figure)")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (mirrors, tests)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args) -> int:
    import sys

    from ..figure_layout import LayoutError

    try:
        return _draw(args)
    except (FileExistsError, LayoutError) as err:
        print(f"brightstar: error: {err}", file=sys.stderr)
        return 2


def _draw(args) -> int:
    import sys

    import numpy as np

    from .. import figure_files, figure_kinds, figures
    from ..io import open_exposure
    from ._progress_bar import run_with_bar

    from ..errors import UsageError

    check_output_file(args.out, tuple(f".{f}" for f in figures.FORMATS), "a figure")
    exp = open_exposure(args.uri, endpoint_url=args.endpoint_url)
    cal = None
    try:
        n, h, w = exp.shape
        for option, value in (("--frame", args.frame), ("--baseline", args.baseline)):
            if value is not None:
                check_frame(option, value, n)
        for k in args.frames or []:
            check_frame("--frames", k, n)
        check_cutout(args.cutout, h, w)
        if args.calibrated:
            cal = open_exposure(args.calibrated)
            if cal.model_type != "RampModel":
                raise UsageError(f"--calibrated {args.calibrated}: is a {cal.model_type}, not a calibrated RampModel")
            if cal.shape != exp.shape:
                raise UsageError(f"--calibrated {args.calibrated}: has shape {cal.shape}, {args.uri} has {exp.shape}")
        from ..calibrate.references import VIEWER_TYPES, resolve

        found = resolve(exp, args.references, types=VIEWER_TYPES, endpoint_url=args.endpoint_url)
        refs = dict(found.paths) if found is not None else {}
        sat_dn = pixeldq = None
        used = {}  # the reference files this figure uses, for its sidecar
        if "saturation" in refs:
            sat_dn = figures.align_to_frame(figures.load_reference_array(refs["saturation"], "data").astype(np.float32), (h, w))
            used["saturation"] = refs["saturation"]
        if cal is not None and "pixeldq" in cal.arrays:
            pixeldq = cal.arrays["pixeldq"].read()
        elif "mask" in refs:
            pixeldq = figures.align_to_frame(figures.load_reference_array(refs["mask"], "dq"), (h, w))
            used["mask"] = refs["mask"]
        if args.cutout == "full":
            region = (0, h, 0, w)
        else:
            if args.cutout:
                row, col, half = args.cutout
            else:
                from ..diagnostics.centroid import SATURATED_DN_GUESS, NoSourceError, find_star

                last = exp.frame(n - 1)
                try:  # the viewer's rule (brightstar_gui.jobs.opening.locate_star)
                    row, col = find_star(last, last >= SATURATED_DN_GUESS)
                except NoSourceError as err:
                    print(f"brightstar: note: {err}; the cutout is centred on the frame", file=sys.stderr)
                    row, col = h // 2, w // 2
                half = 256
            region = (max(0, row - half), min(h, row + half), max(0, col - half), min(w, col + half))
        values = cal if cal is not None else exp
        mean_slope = None
        needs_slope = args.kind in ("rows", "group") or (args.kind == "pane" and args.pane == "ratio")
        if sat_dn is not None and needs_slope:
            from ..diagnostics import mean_slope_job

            y0, y1, x0, x1 = region
            cube = values.cutout(y0, y1, x0, x1)
            raw = cube if cal is None else exp.cutout(y0, y1, x0, x1)
            mean_slope = run_with_bar(mean_slope_job(cube, raw, sat_dn[y0:y1, x0:x1]), "mean slope", quiet=args.quiet)
        det = exp.get_meta("instrument.detector") or ""
        title = f"SCA {det[3:].lstrip('0')}" if det.startswith("WFI") else det
        data = figures.FigureData(frames=values, raw=exp, region=region, sat_dn=sat_dn, pixeldq=pixeldq,
                                  mean_slope=mean_slope, title=title, data_kind="calibrated" if cal is not None else "raw",
                                  source=str(args.calibrated or args.uri), references=used)
        frames = list(args.frames) if args.frames else figures.default_frames(n)  # checked against n above
        frame = args.frame if args.frame is not None else min(n - 1, max(2, n // 2))
        from ..figure_files import check_writable, figure_sidecar, sidecar_path

        # Before any drawing: an existing file is an error, not a surprise at the end.
        check_writable(args.out, args.overwrite, *([] if args.no_sidecar else [sidecar_path(args.out)]))
        # PDF and SVG embed each pane's array whole, whatever the layout's size.
        size = {"dpi": args.dpi, "width": args.width, "native": args.out.suffix.lower() in (".pdf", ".svg")}
        look = {k: v for k, v in (("scale", args.scale), ("cmap", args.cmap)) if v is not None}
        if args.kind == "pane":
            fig = figure_kinds.pane_figure(data, figures.PaneSpec(args.pane, **look), frame, args.baseline, **size)
        elif args.kind == "group":
            specs = {k: figures.PaneSpec(k, **({"scale": args.scale} if args.scale and k != "mask" else {}),
                                         **({"cmap": args.cmap} if args.cmap and k != "mask" else {}))
                     for k in figures.PANES}
            fig = figure_kinds.group_figure(data, specs, frame, args.baseline, **size)
        elif args.kind == "differences":
            fig = figure_kinds.differences_figure(data, frames, args.baseline, cmap=args.cmap or "viridis",
                                             scale=args.scale or "linear", **size)
        else:
            fig = figure_kinds.rows_figure(data, frames, **size)
        sidecar = None if args.no_sidecar else figure_sidecar(
            data, frame=frame if args.kind in ("pane", "group") else None,
            frames=frames if args.kind in ("differences", "rows") else None, baseline=args.baseline,
            scale=args.scale, cmap=args.cmap)
        out = figure_files.save_figure(fig, args.out, overwrite=args.overwrite, sidecar=sidecar)  # atomic (figure_files)
        print(out)
        return 0
    finally:
        exp.close()
        if cal is not None:
            cal.close()

