"""The synthetic detector's fixed per-pixel maps and the illuminated scene (:class:`Detector`)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .synth_config import _DEFECTS, _RINGS, AMP33_WIDTH, BORDER, FULL_SIZE, N_CHANNELS, SynthConfig

#: Rows per band of the scene, computed on a few threads.
_SCENE_ROWS = 256


def _normal_map(rng: np.random.Generator, loc: float, scale: float, shape) -> np.ndarray:
    """Normal deviates as float32, drawn as float32 (a third of the time of
    ``rng.normal(...).astype(np.float32)`` on a 4096 x 4096 map)."""
    out = rng.standard_normal(shape, dtype=np.float32)
    out *= np.float32(scale)
    out += np.float32(loc)
    return out


class Detector:
    """The fixed, per-pixel properties of the synthetic detector.

    All maps have shape (size, size), float32 unless noted.

    Attributes
    ----------
    bias : DN
    well : maximum measured signal above bias, DN
    a2 : non-linearity coefficient, 1/DN
    sat_dn : saturation threshold in raw DN (bias included), NaN = no check
    dark : dark current, DN/s
    response : relative response (flat field; 0 for dead pixels)
    mask_dq : uint32 DQ of the mask reference file
    amp33_bias : (size, 128) bias of the amp33 channel, DN
    hot, sat_nan, ad_floor : (rows, cols) index arrays of the hot pixels, the
        NaN thresholds and the pixels below the A/D floor
    """

    def __init__(self, cfg: SynthConfig):
        self.cfg = cfg
        n = cfg.size
        rng = np.random.default_rng([cfg.seed, 1])
        yy = np.linspace(-1, 1, n, dtype=np.float32)
        chan_level = rng.normal(11000.0, 250.0, N_CHANNELS).astype(np.float32)
        chan_of_col = np.minimum(np.arange(n) // cfg.channel_width, N_CHANNELS - 1)
        bias = chan_level[chan_of_col][None, :] + 180.0 * yy[:, None] + 60.0 * yy[None, :] ** 2
        bias = bias + _normal_map(rng, 0.0, 120.0, (n, n))
        self.bias = bias.astype(np.float32)
        self.amp33_bias = (rng.normal(11200.0, 40.0, (n, AMP33_WIDTH)) + 150.0 * yy[:, None]).astype(np.float32)
        self.well = _normal_map(rng, cfg.full_well, 0.02 * cfg.full_well, (n, n))
        self.a2 = _normal_map(rng, cfg.nonlinearity, 0.05 * cfg.nonlinearity, (n, n))
        # Charge at which the measured signal S - a2 S^2 reaches the well.
        self.charge_well = ((1.0 - np.sqrt(1.0 - 4.0 * self.a2 * self.well)) / (2.0 * self.a2)).astype(np.float32)
        self.response = _normal_map(rng, 1.0, 0.02, (n, n))
        self.dark = np.full((n, n), 0.005, np.float32)

        # Imported here, after the maps: roman_datamodels takes seconds to
        # import, which a first look does on another thread meanwhile
        # (processing.synth_files.prewarm_datamodels).
        from roman_datamodels.dqflags import pixel

        mask = np.zeros((n, n), np.uint32)
        b = BORDER
        ref = np.zeros((n, n), bool)
        ref[:b, :] = ref[-b:, :] = ref[:, :b] = ref[:, -b:] = True
        mask[ref] |= pixel.REFERENCE_PIXEL
        # Defective pixels at distinct places in the light-sensitive area,
        # at the densities of a real H4RG mask (about 0.19 % flagged).
        inner = n - 2 * b
        counts = {kind: max(minimum, int(n * n * density)) for kind, (density, minimum) in _DEFECTS.items()}
        picks = rng.choice(inner * inner, sum(counts.values()), replace=False)
        where = {}
        for kind, count in counts.items():
            where[kind], picks = (b + picks[:count] // inner, b + picks[:count] % inner), picks[count:]
        hot, warm, dead, low_qe, nan, floor = (where[k] for k in _DEFECTS)
        self.dark[hot] = rng.uniform(1.0, 60.0, counts["hot"]).astype(np.float32)
        mask[hot] |= pixel.HOT
        self.dark[warm] = rng.uniform(0.2, 1.0, counts["warm"]).astype(np.float32)
        mask[warm] |= pixel.WARM
        self.response[dead] = 0.0
        mask[dead] |= pixel.DEAD | pixel.DO_NOT_USE
        self.response[low_qe] = rng.uniform(0.2, 0.7, counts["low_qe"]).astype(np.float32)
        mask[low_qe] |= pixel.LOW_QE
        # Pixels whose bias sits below the A/D converter's floor: they read
        # 0 DN (romancal flags them AD_FLOOR) until enough light lifts them.
        # The mask does not know them, as in the tutorial's data.
        self.bias[floor] = rng.uniform(-3000.0, -100.0, counts["ad_floor"]).astype(np.float32)
        self.ad_floor = floor
        # Reference pixels see no light and no dark current.
        self.response[ref] = 0.0
        self.dark[ref] = 0.0
        self.mask_dq = mask
        self.hot = hot

        # Threshold just below the clip, so a saturated pixel (bias + well,
        # plus noise) is always flagged; a few pixels have no threshold.
        self.sat_dn = (self.bias + 0.97 * self.well).astype(np.float32)
        self.sat_dn[nan] = np.nan
        self.sat_nan = nan

    def star_flux(self) -> np.ndarray:
        """Flux of the illuminated scene, DN/s, shape (size, size) float32.

        The star's Moffat core (alpha in pixels, the same on every detector
        size), the projector's out-of-focus ghost (a disc with a soft rim
        that saturates read after read), its faint concentric rings and a
        diffuse background; lengths of the projector's light scale with
        ``size``.  Computed in row bands on a few threads (every pixel's
        value is a function of its position alone).
        """
        n = self.cfg.size
        flux = np.empty((n, n), np.float32)
        bands = [(r0, min(n, r0 + _SCENE_ROWS)) for r0 in range(0, n, _SCENE_ROWS)]
        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="synth-scene") as pool:
            for _ in pool.map(lambda band: self._scene_rows(flux, *band), bands):
                pass
        return flux

    def _scene_rows(self, out: np.ndarray, r0: int, r1: int) -> None:
        """Fill rows ``r0:r1`` of :meth:`star_flux` into ``out``."""
        cfg = self.cfg
        n = cfg.size
        cy, cx = cfg.center()
        y = np.arange(r0, r1, dtype=np.float32)[:, None] - cy
        x = np.arange(n, dtype=np.float32)[None, :] - cx
        r2 = y * y + x * x
        scale = n / FULL_SIZE
        core = 1.0 + r2 / np.float32(cfg.star_core_radius**2)
        flux = np.float32(cfg.star_peak) / (core ** cfg.star_beta if cfg.star_beta != 2.0 else core * core)
        del core
        r = np.sqrt(r2)
        rim = (r / np.float32(cfg.glow_radius * scale)) ** np.float32(cfg.glow_edge)
        rim += 1.0
        flux += np.float32(cfg.glow_peak) / rim
        del rim
        # The rings' three lobes, 0.75 + 0.25 cos(3 theta), without the angle:
        # cos(3 theta) = x (x^2 - 3 y^2) / r^3 (1 at the centre, as arctan2(0, 0) = 0).
        with np.errstate(invalid="ignore", divide="ignore"):
            lobes = x * (x * x - 3.0 * (y * y)) / (r2 * r)
        lobes[r2 == 0] = 1.0
        lobes *= 0.25
        lobes += 0.75
        rings = np.zeros_like(r)
        z = np.empty_like(r)
        for radius, amp, width in _RINGS:
            w = max(1.5, width * scale)
            np.subtract(r, np.float32(radius * scale), out=z)
            z *= np.float32(1.0 / w)
            z *= z
            z *= np.float32(-0.5)
            np.exp(z, out=z)
            z *= np.float32(amp)
            rings += z
        rings *= lobes
        flux += rings
        flux += np.float32(cfg.background)
        flux *= self.response[r0:r1]
        out[r0:r1] = flux
