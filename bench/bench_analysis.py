"""Benchmark the saturation analyses on a generated full-size exposure.

Parts, each in its own process so that its peak RSS is its own:

growth-full
    Saturation growth (per-read saturated/new/nearby/diagonal counts) of a
    whole 55 x 4096 x 4096 exposure in one streaming pass (target <= 15 s,
    <= 1.5 GiB).  The tutorial's way (``make_saturation_mask_dn``: the whole
    cube in memory, two convolve2d per frame) cannot hold a full exposure
    (the uint16 cube alone is 1.8 GB, its four masks 3.7 GB), so its
    per-frame cost is measured on a few frames and scaled to 55.
growth-cutout
    The same on a 512 x 512 box about the star (target <= 1 s), against the
    tutorial's way on the same cutout (cube read, masks, counts); results
    checked equal.
profile
    Per-read radial profiles about the star (frame, difference, slope ratio,
    onset, saturated fraction) after one preparation pass (target <= 50 ms
    per read).  The tutorial has no radial profile.
stats
    Statistics (mean, median, std, min, max, good and saturated counts) of a
    512 x 512 region over 55 reads (target <= 0.5 s), against the plain numpy
    way (read the cutout cube, nan-statistics per read); results checked equal.

Usage::

    brightstar synth /work/scratch/i14/full --frames 55      # once
    python bench/bench_analysis.py /work/scratch/i14/full     # all parts

The machine may be shared: the load average and CPU time are printed.  The
file is read from the OS page cache when it is there (warm), as a viewer
that has the file open sees it.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from processing import synth  # noqa: E402
from processing.diagnostics.growth import saturation_growth  # noqa: E402
from processing.diagnostics.profile import star_profiles  # noqa: E402
from processing.diagnostics.regionstats import rectangle, region_stats  # noqa: E402
from processing.figures import load_reference_array  # noqa: E402
from processing.io import open_exposure  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def tutorial_masks(frames_dn, sat_dn):
    """make_saturation_mask_dn (trimmed of comments), with the threshold test done exactly.

    Verbatim, the tutorial casts the thresholds to uint16, turning the NaN
    thresholds of the reference (-> inf -> undefined, 0 on x86) into
    "saturated everywhere"; the comparison here is the documented meaning
    (see processing/diagnostics/thresholds.py) so that results can be compared.
    """
    from scipy.signal import convolve2d

    N = frames_dn.shape[0]
    with np.errstate(invalid="ignore"):
        sat_mask = (frames_dn >= sat_dn) & np.isfinite(sat_dn)
    kernel_4 = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=np.uint8)
    kernel_diag = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1]], dtype=np.uint8)
    nearby = np.zeros_like(sat_mask, dtype=bool)
    diag = np.zeros_like(sat_mask, dtype=bool)
    new = np.zeros_like(sat_mask, dtype=bool)
    for i in range(N):
        s = sat_mask[i]
        conv4 = convolve2d(s.astype(np.uint8), kernel_4, mode="same", boundary="fill", fillvalue=0) > 0
        convdg = convolve2d(s.astype(np.uint8), kernel_diag, mode="same", boundary="fill", fillvalue=0) > 0
        nearby[i] = (~s) & conv4
        diag[i] = (~s) & (~nearby[i]) & convdg
        new[i] = s if i == 0 else s & (~sat_mask[i - 1])
    return sat_mask, nearby, new, diag


def tutorial_counts(masks):
    sat, nearby, new, diag = masks
    return [m.sum(axis=(1, 2)) for m in (sat, new, nearby, diag)]


def load(root: Path):
    manifest = synth.read_manifest(root)
    if manifest is None:
        raise SystemExit(f"{root}: no synthetic set (run: brightstar synth {root} --frames 55)")
    exp = open_exposure(root / manifest["illuminated"])
    sat = load_reference_array(root / manifest["references"]["saturation"], "data").astype(np.float32)
    h, w = exp.shape[1:]
    if sat.shape != (h, w):
        sat = sat[4:-4, 4:-4]
    return exp, sat, tuple(manifest["star_center"])


def star_box(center, half, shape):
    r, c = (int(round(v)) for v in center)
    return max(0, r - half), min(shape[1], r + half), max(0, c - half), min(shape[2], c + half)


def part_growth_full(root: Path) -> None:
    exp, sat, _ = load(root)
    n = exp.shape[0]
    # Reading alone, to tell the file's cost from ours.
    t0 = time.perf_counter()
    for k in range(n):
        np.asarray(exp.frame(k)).max()
        if (k + 1) % 4 == 0:
            exp.release_pages()
    reading = time.perf_counter() - t0
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    growth = saturation_growth(exp, sat, read_times=exp.read_times)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    peak = peak_rss_mib()
    print(f"[growth-full] {exp.shape}: one streaming pass {wall:.2f} s wall, {cpu:.2f} s CPU; "
          f"reading the 55 reads alone {reading:.2f} s; peak RSS {peak:.0f} MiB")
    print(f"[growth-full] last read: {growth.saturated[-1]} saturated, equivalent radius "
          f"{growth.equivalent_radius_px[-1]:.2f} px")
    # The tutorial's way, per frame, on 3 frames (it cannot hold the whole cube).
    frames = [n // 2 - 1, n // 2, n // 2 + 1]
    t0 = time.perf_counter()
    cube = np.stack([np.array(exp.frame(k)) for k in frames])
    masks = tutorial_masks(cube, sat)
    per_frame = (time.perf_counter() - t0) / len(frames)
    t_sat, _, t_nearby, t_diag = tutorial_counts(masks)  # its "new" needs the read before the sample
    same = (np.array_equal(t_sat, growth.saturated[frames]) and np.array_equal(t_nearby, growth.nearby[frames])
            and np.array_equal(t_diag, growth.diagonal[frames]))
    print(f"[growth-full] tutorial's way: {per_frame:.2f} s per read -> ~{per_frame * n:.0f} s for {n} reads, "
          f"and ~{n * np.prod(exp.shape[1:]) * 6 / 2**30:.1f} GiB for the cube and its masks; "
          f"saturated counts equal on the sampled reads: {same}")
    ok = wall <= 15 and peak <= 1536
    print(f"[growth-full] target <= 15 s and <= 1536 MiB: {'PASS' if ok else 'FAIL'}")


def part_growth_cutout(root: Path) -> None:
    exp, sat, center = load(root)
    box = star_box(center, 256, exp.shape)
    saturation_growth(exp, sat, region=(0, 8, 0, 8))  # warm-up (imports)
    best, cpus = [], []
    for _ in range(3):
        c0, t0 = cpu_seconds(), time.perf_counter()
        growth = saturation_growth(exp, sat, region=box)
        best.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds() - c0)
    y0, y1, x0, x1 = box
    t0 = time.perf_counter()
    cube = exp.cutout(y0, y1, x0, x1)
    counts = tutorial_counts(tutorial_masks(cube, sat[y0:y1, x0:x1]))
    tut = time.perf_counter() - t0
    same = all(np.array_equal(a, getattr(growth, b)) for a, b in zip(counts, ("saturated", "new", "nearby", "diagonal")))
    print(f"[growth-cutout] {exp.shape[0]} x 512 x 512 box {box}: ours best {min(best):.3f} s ({min(cpus):.3f} s CPU, "
          f"incl. reading the box), "
          f"tutorial's way {tut:.3f} s -> {tut / min(best):.1f}x; counts identical: {same}")
    print(f"[growth-cutout] target <= 1 s: {'PASS' if min(best) <= 1 else 'FAIL'}; peak RSS {peak_rss_mib():.0f} MiB")


def part_profile(root: Path) -> None:
    exp, sat, center = load(root)
    t0 = time.perf_counter()
    profiles = star_profiles(exp, exp, sat, max_radius=128.0)
    prep = time.perf_counter() - t0
    n = exp.shape[0]
    c0, t0 = cpu_seconds(), time.perf_counter()
    for k in range(n):
        profiles.at(k)
    per_read = (time.perf_counter() - t0) / n
    cpu_per_read = (cpu_seconds() - c0) / n
    c = profiles.center
    print(f"[profile] centre found at ({c[0]:.3f}, {c[1]:.3f}) (generator: {center}); preparation "
          f"(centre + one pass over the {profiles.values.shape} box) {prep:.2f} s")
    print(f"[profile] 5 profiles (frame, difference, ratio, onset, saturated fraction) to r = 128 px: "
          f"{per_read * 1e3:.1f} ms per read ({cpu_per_read * 1e3:.1f} ms CPU); target <= 50 ms: {'PASS' if per_read <= 0.05 else 'FAIL'}; "
          f"peak RSS {peak_rss_mib():.0f} MiB (no tutorial equivalent)")


def part_stats(root: Path) -> None:
    exp, sat, center = load(root)
    y0, y1, x0, x1 = star_box(center, 256, exp.shape)
    y0, y1, x0, x1 = y0 + 300, y1 + 300, x0 + 300, x1 + 300  # off the star: mostly good pixels
    region = rectangle(y0, y1, x0, x1)
    region_stats(exp, rectangle(0, 8, 0, 8), sat_dn=sat)  # warm-up
    best, cpus = [], []
    for _ in range(3):
        c0, t0 = cpu_seconds(), time.perf_counter()
        stats = region_stats(exp, region, sat_dn=sat)
        best.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds() - c0)
    t0 = time.perf_counter()
    cube = exp.cutout(y0, y1, x0, x1).astype(np.float64)
    cube[cube >= sat[y0:y1, x0:x1]] = np.nan
    plain = np.stack([np.nanmean(cube, axis=(1, 2)), np.nanmedian(cube, axis=(1, 2)), np.nanstd(cube, axis=(1, 2)),
                      np.nanmin(cube, axis=(1, 2)), np.nanmax(cube, axis=(1, 2))], axis=1)
    t_plain = time.perf_counter() - t0
    ours = np.stack([stats.mean, stats.median, stats.std, stats.min, stats.max], axis=1)
    same = np.allclose(ours, plain, rtol=1e-12, equal_nan=True)
    print(f"[stats] 512 x 512 region x {exp.shape[0]} reads: ours best {min(best):.3f} s ({min(cpus):.3f} s CPU), plain numpy (cutout + "
          f"nan-statistics) {t_plain:.3f} s; equal: {same}; target <= 0.5 s: {'PASS' if min(best) <= 0.5 else 'FAIL'}; "
          f"peak RSS {peak_rss_mib():.0f} MiB")


PARTS = {"growth-full": part_growth_full, "growth-cutout": part_growth_cutout, "profile": part_profile,
         "stats": part_stats}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="folder of a synthetic set (brightstar synth ROOT --frames 55)")
    parser.add_argument("--part", choices=list(PARTS), help="run one part in this process")
    args = parser.parse_args(argv)
    if args.part:
        PARTS[args.part](args.root)
        return
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; numpy {np.__version__}", flush=True)
    for part in PARTS:
        subprocess.run([sys.executable, __file__, str(args.root), "--part", part], check=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
