"""Benchmark processing.diagnostics against the tutorial's convolve2d approach.

Two parts, each run in its own process so that its peak RSS is its own:

cutout
    All four saturation masks + the mean slope on a 512 x 512 x 55 cutout,
    ours vs the tutorial's ``make_saturation_mask_dn`` +
    ``make_mean_debiased_difference_image_dn`` in the same run (target for
    ours: <= 0.3 s).  The results are checked to be identical.
full
    Streaming mean slope + saturation-onset map (+ per-frame counts, same
    pass) of a 55 x 4096 x 4096 ramp read frame by frame from a synthetic
    frame source (target: <= 30 s, peak RSS <= 1.5 GiB).

Usage::

    python bench/bench_diagnostics.py            # both parts, full size
    python bench/bench_diagnostics.py --quick    # smaller full-frame part (20 x 2048 x 2048)
    python bench/bench_diagnostics.py --part cutout

The machine may be shared: the load average and CPU time are printed so that
a slow wall time can be told apart from a slow program.
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

from processing import diagnostics as dg  # noqa: E402


# ---------------------------------------------------------------------------
# Synthetic data
# ---------------------------------------------------------------------------


class SyntheticRamp:
    """A raw uint16 ramp built frame by frame: bias + k * flux, clipped at 65535.

    The flux has sky + dark (~5 DN/frame), 0.1 % hot pixels and a bright star
    whose core saturates in the first frames and whose wings saturate later,
    so that masks, onsets and slopes all have work to do.
    """

    def __init__(self, n: int, size: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.shape = (n, size, size)
        self.bias = rng.normal(10000.0, 50.0, (size, size)).astype(np.float32)
        flux = rng.gamma(2.0, 2.5, (size, size)).astype(np.float32)
        hot = rng.random((size, size)) < 1e-3
        flux[hot] = rng.uniform(500, 3000, hot.sum()).astype(np.float32)
        cy, cx = 0.46 * size + 0.3, 0.52 * size + 0.6
        # The star's stamp: 800 x 800 at most, so a 4096 frame needs no full-size temporaries.
        r0, r1 = max(0, int(cy) - 400), min(size, int(cy) + 400)
        c0, c1 = max(0, int(cx) - 400), min(size, int(cx) + 400)
        yy, xx = np.ogrid[r0:r1, c0:c1]
        r2 = (yy - cy) ** 2 + (xx - cx) ** 2
        star = 3e5 * np.exp(-r2 / (2 * 6.0**2)) + 2e5 / (1 + r2 / 4.0) ** 1.5
        flux[r0:r1, c0:c1] += star.astype(np.float32)
        self.flux = flux
        self._last: tuple[int, np.ndarray] | None = None

    def frame(self, k: int) -> np.ndarray:
        if self._last is not None and self._last[0] == k:
            return self._last[1]
        f = np.multiply(self.flux, np.float32(k + 1))  # frame 0 has already integrated one frame time
        f += self.bias
        np.minimum(f, 65535.0, out=f)
        out = f.astype(np.uint16)
        self._last = (k, out)
        return out


class CalibratedView:
    """Float32 bias-subtracted frames of a :class:`SyntheticRamp` (reuses its last frame)."""

    def __init__(self, raw: SyntheticRamp):
        self.raw = raw
        self.shape = raw.shape

    def frame(self, k: int) -> np.ndarray:
        f = self.raw.frame(k).astype(np.float32)
        f -= self.raw.bias
        return f


def saturation_map(size: int, seed: int = 1) -> np.ndarray:
    """Integer-valued float32 thresholds around 55000 DN (exact under the tutorial's uint16 cast)."""
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(55000.0, 1500.0, (size, size))).astype(np.float32)


# ---------------------------------------------------------------------------
# The tutorial's functions (verbatim, trimmed of comments)
# ---------------------------------------------------------------------------


def tutorial_masks(frames_dn, sat_dn):
    from scipy.signal import convolve2d

    N, H, W = frames_dn.shape
    sat_dn_use = np.asarray(sat_dn)
    sat_dn_use = np.where(np.isfinite(sat_dn_use), sat_dn_use, np.inf).astype(frames_dn.dtype, copy=False)
    sat_mask = frames_dn >= sat_dn_use
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


def tutorial_mean_slope(frames_dn, raw_frames_dn, sat_dn):
    frame_diffs = np.diff(frames_dn, axis=0)
    sat_mask, nearby_mask, _, _ = tutorial_masks(raw_frames_dn, sat_dn)
    valid = ~(sat_mask[1:] | nearby_mask[1:])
    w = valid.astype(np.float32)
    num = (frame_diffs * w).sum(axis=0, dtype=np.float64)
    den = w.sum(axis=0, dtype=np.float64)
    return np.divide(num, den, out=np.full(den.shape, np.nan, dtype=np.float32), where=den > 0).astype(np.float32)


# ---------------------------------------------------------------------------
# Parts
# ---------------------------------------------------------------------------


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def current_rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn, repeats: int):
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, min(times), float(np.median(times))


def part_cutout(args) -> None:
    n, size = 55, 512
    source = SyntheticRamp(n, size, seed=0)
    raw = np.stack([source.frame(k) for k in range(n)])
    calibrated = raw.astype(np.float32) - source.bias
    sat_dn = saturation_map(size)
    print(f"[cutout] {n} x {size} x {size}: raw uint16, calibrated float32; "
          f"saturated pixels in last frame: {(raw[-1] >= sat_dn).sum()}")

    def ours():
        masks = dg.saturation_masks(raw, sat_dn)
        return masks, dg.mean_slope(calibrated, raw, sat_dn)

    def tutorial():
        masks = tutorial_masks(raw, sat_dn)
        return masks, tutorial_mean_slope(calibrated, raw, sat_dn)

    ours()  # warm-up: first-touch page faults, lazy imports
    (masks, slope), best, median = timed(ours, args.repeats)
    print(f"[cutout] ours     (4 masks + mean slope): best {best:.3f} s, median {median:.3f} s over {args.repeats}")
    (t_masks, t_slope), t_best, t_median = timed(tutorial, max(1, args.repeats // 2))
    print(f"[cutout] tutorial (4 masks + mean slope): best {t_best:.3f} s, median {t_median:.3f} s "
          f"-> ours is {t_best / best:.0f}x faster")
    same = all(np.array_equal(a, b) for a, b in zip(masks, t_masks)) and np.array_equal(slope, t_slope, equal_nan=True)
    print(f"[cutout] results identical to the tutorial's: {same}")
    print(f"[cutout] target <= 0.3 s: {'PASS' if best <= 0.3 else 'FAIL'}; peak RSS {peak_rss_mib():.0f} MiB")


def part_full(args) -> None:
    n, size = (20, 2048) if args.quick else (55, 4096)
    raw = SyntheticRamp(n, size, seed=0)
    calibrated = CalibratedView(raw)
    sat_dn = saturation_map(size)
    rss_before = current_rss_mib()

    cpu0, t0 = cpu_seconds(), time.perf_counter()
    reports = []
    summary = dg.ramp_summary(calibrated, raw, sat_dn, on_progress=reports.append)
    wall = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    peak = peak_rss_mib()

    # The source's own cost: the same reads with no diagnostics, to separate
    # building synthetic frames (in real use: reading the file) from our work.
    raw._last = None
    t0 = time.perf_counter()
    for k in range(n):
        raw.frame(k)
        calibrated.frame(k)
    reading = time.perf_counter() - t0

    print(f"[full] {n} x {size} x {size} streamed from a frame source (uint16 raw + float32 calibrated)")
    print(f"[full] mean slope + onset map + counts, one pass: {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"({len(reports)} progress reports)")
    print(f"[full]   of which building the synthetic frames: ~{reading:.1f} s; diagnostics: ~{wall - reading:.1f} s "
          f"({(wall - reading) / n * 1e3:.0f} ms/frame)")
    print(f"[full] peak RSS {peak:.0f} MiB (RSS before the pass, source + thresholds: {rss_before:.0f} MiB)")
    onset = summary.onset
    print(f"[full] pixels ever saturated: {(onset >= 0).sum()}, saturated in frame 0: {(onset == 0).sum()}, "
          f"last-frame count: {summary.saturated_count[-1]}, finite slopes: {np.isfinite(summary.mean_slope).mean():.4f}")
    if not args.quick:
        ok = wall <= 30 and peak <= 1.5 * 1024
        print(f"[full] target <= 30 s and <= 1536 MiB: {'PASS' if ok else 'FAIL'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller full-frame part (20 x 2048 x 2048)")
    parser.add_argument("--part", choices=("cutout", "full"), help="run one part in this process")
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats for the cutout part")
    args = parser.parse_args(argv)
    if args.part:
        {"cutout": part_cutout, "full": part_full}[args.part](args)
        return
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; numpy {np.__version__}", flush=True)
    for part in ("cutout", "full"):
        cmd = [sys.executable, __file__, "--part", part, "--repeats", str(args.repeats)] + (["--quick"] if args.quick else [])
        subprocess.run(cmd, check=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
