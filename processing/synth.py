"""Realistic synthetic TVAC bright-star exposures and reference files.

The real data (``s3://stpubdata/roman/nexus/tvac/``) and the Roman CRDS server
are not reachable everywhere, so the project makes its own: real
``roman_datamodels`` files that romancal's exposure steps accept, with the
features the tutorial's figures show.

The detector model (all quantities in DN; times in seconds)
------------------------------------------------------------
* 4096 x 4096 pixels with a 4-pixel reference border, read through 32
  channels of 128 columns, plus the amp33 reference channel (N, 4096, 128).
* Bias 10-12 kDN: a per-channel level, a gentle gradient and per-pixel
  structure.  Read noise about 5 DN per read.
* Correlated noise per read: a per-channel offset and a row-wise common-mode
  (readout-time) signal shared by all channels and amp33, so it shows in the
  border reference pixels and in amp33 and refpix has something real to take
  out.  The REFPIX reference low-passes amp33 (:func:`refpix_alpha`), so the
  correction removes the common mode without adding amp33's own read noise.
* Illuminated pixels integrate charge with shot noise; the measured signal is
  non-linear (``M = S - a2 S**2``) and clips at a per-pixel full well.  The
  saturation reference's threshold sits just below the clip, in raw DN
  (bias included), a few thresholds are NaN (``NO_SAT_CHECK``).
* A bright point source (about magnitude 4 through F146): a Moffat core
  (r**-4 wings) that saturates in the first reads, the projector's
  out-of-focus ghost -- a disc of ~450 DN/s and ~185 px radius with a steep
  rim, whose pixels saturate read after read out to ~170 px -- three broad,
  faint concentric rings outside the tutorial's cutout, and a diffuse
  background of 0.15 DN/s.
* Hot, warm, dead and low-QE pixels flagged in the mask (with the reference
  border), NaN thresholds, and a sprinkle of pixels whose bias lies below
  the A/D converter's floor (they read 0 DN).

The parameters are tuned so that the full-size set, calibrated by the
streaming engine, prints the tutorial's numbers for the real exposure within
25 % (``bench/bench_synth_realism.py``): frame-difference percentiles over
the detector and the 512 x 512 cutout, flagged, saturated (~92 000) and
A/D-floor (~870) pixel counts.

Files are written frame by frame through a memory map, so the full set (four
55-read exposures and the references, 8.0 GB) needs well under 4 GiB of
memory: writing the first look peaks at 2.9 GB RSS, half of it page cache of
the memory map (``bench/bench_first_look.py``).
"""

from __future__ import annotations

import logging

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .asdf_recompress import recompress_lz4
from .progress import Job, Progress, run, scaled

log = logging.getLogger(__name__)

# The tutorial's layout and names ----------------------------------------------
PROGRAM_DIR = "OTP00651_BrightStar_TV2b_R1_MCEB"
ILLUM_ACTIVITY = "Activity_22"
DARK_ACTIVITY = "Activity_40"
ILLUM_STAMP = "20240506204523"
DARK_STAMPS = ("20240506225304", "20240506225611", "20240506225917")
DETECTOR = "WFI11"
FILTER = "F146"
FRAME_TIME = 3.04  # s, WFI full-frame read time
FULL_SIZE = 4096
BORDER = 4  # reference pixels on each edge
N_CHANNELS = 32
AMP33_WIDTH = 128

REFERENCE_TYPES = ("mask", "saturation", "linearity", "inverselinearity", "refpix")

#: Defective pixels: kind -> (fraction of the detector, minimum count).  hot
#: and warm pixels have dark current, dead ones no response, low-QE ones a
#: fraction of it, "nan" ones no saturation threshold (NO_SAT_CHECK), and
#: "ad_floor" ones a bias below 0 DN.  All but ad_floor are flagged in the
#: mask or the saturation reference: 494 of the tutorial's 512 x 512 cutout
#: pixels are flagged, and romancal finds 868 A/D-floor pixels.
_DEFECTS = {
    "hot": (3.0e-4, 3),
    "warm": (9.0e-4, 3),
    "dead": (1.2e-4, 2),
    "low_qe": (5.4e-4, 2),
    "nan": (2.0e-5, 2),
    "ad_floor": (5.2e-5, 2),
}
#: The projector's rings: (radius px at 4096, DN/s, Gaussian width px at 4096).
_RINGS = ((560.0, 36.0, 35.0), (900.0, 27.0, 35.0), (1250.0, 20.0, 35.0))


def exposure_filename(stamp: str, detector: str = DETECTOR) -> str:
    """``TVAC2_TOHOTQUAL_WFISAT_<stamp>_<detector>_uncal.asdf``."""
    return f"TVAC2_TOHOTQUAL_WFISAT_{stamp}_{detector}_uncal.asdf"


@dataclass
class SynthConfig:
    """Parameters of a synthetic data set.

    Attributes
    ----------
    frames : int
        Reads per exposure (the tutorial's have 55).
    size : int
        Detector rows and columns including the reference border (4096 for
        real data; smaller sizes make fast tests, but refpix needs 4096).
    seed : int
        Seeds every random number; the same seed gives the same files.
    compression : {"none", "lz4", "zlib", "bzp2"}
        Block compression of the exposures.
    star_center : (int, int) or None
        Row and column of the star; default scales the tutorial's
        (1900, 1900) to ``size``.
    star_peak : float
        Peak flux of the star's Moffat core, DN/s (``star_core_radius`` is
        its alpha in pixels, ``star_beta`` its beta: wings fall as r**-4).
    glow_peak, glow_radius, glow_edge : float
        The projector's out-of-focus ghost, a disc of ``glow_peak`` DN/s
        and radius ``glow_radius`` (pixels at 4096, scaled with ``size``)
        whose rim falls as ``(r / glow_radius) ** -glow_edge``.
    background : float
        Diffuse light over the whole detector, DN/s.
    """

    frames: int = 55
    size: int = FULL_SIZE
    seed: int = 0
    compression: str = "none"
    star_center: tuple[int, int] | None = None
    star_peak: float = 3.6e7
    star_core_radius: float = 4.0  # px, Moffat alpha (the PSF keeps its size on smaller detectors)
    star_beta: float = 2.0
    glow_peak: float = 450.0  # DN/s, the projector's ghost disc
    glow_radius: float = 185.0  # px at 4096 (scaled with size)
    glow_edge: float = 9.5  # steepness of the ghost's rim
    background: float = 0.15  # DN/s, diffuse light over the whole detector
    read_noise: float = 5.0
    channel_noise: float = 6.0
    row_noise: float = 3.0
    full_well: float = 50000.0
    nonlinearity: float = 1.6e-6  # a2 in M = S - a2 S^2, 1/DN
    frame_time: float = FRAME_TIME
    extra: dict = field(default_factory=dict)

    def center(self) -> tuple[int, int]:
        if self.star_center is not None:
            return tuple(self.star_center)  # type: ignore[return-value]
        return (int(round(self.size * 1900 / FULL_SIZE)), int(round(self.size * 1900 / FULL_SIZE)))

    @property
    def channel_width(self) -> int:
        return max(1, self.size // N_CHANNELS)


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
        from roman_datamodels.dqflags import pixel

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
        ``size``.
        """
        cfg = self.cfg
        n = cfg.size
        cy, cx = cfg.center()
        y = np.arange(n, dtype=np.float32)[:, None] - cy
        x = np.arange(n, dtype=np.float32)[None, :] - cx
        r2 = y * y + x * x
        scale = n / FULL_SIZE
        core = 1.0 + r2 / np.float32(cfg.star_core_radius**2)
        flux = np.float32(cfg.star_peak) / (core ** cfg.star_beta if cfg.star_beta != 2.0 else core * core)
        del core
        r = np.sqrt(r2, out=r2)
        rim = (r / np.float32(cfg.glow_radius * scale)) ** np.float32(cfg.glow_edge)
        flux += np.float32(cfg.glow_peak) / (1.0 + rim)
        del rim
        theta = np.arctan2(y, x)
        lobes = 0.75 + 0.25 * np.cos(3 * theta)
        del theta
        for radius, amp, width in _RINGS:
            w = max(1.5, width * scale)
            flux += amp * lobes * np.exp(-0.5 * ((r - radius * scale) / w) ** 2)
        flux += np.float32(cfg.background)
        flux *= self.response
        return flux.astype(np.float32, copy=False)


@dataclass
class ExposurePlan:
    """What one synthetic exposure is.

    Attributes
    ----------
    path : Path
    stamp : str
        Timestamp of the file name (YYYYMMDDhhmmss).
    illuminated : bool
    model : {"tvac", "raw"}
        Write a ``TvacModel`` or a flight ``ScienceRawModel``.
    seed_offset : int
        Separates the noise of different exposures.
    """

    path: Path
    stamp: str
    illuminated: bool
    model: str = "tvac"
    seed_offset: int = 0


#: Rows per block of a frame: a block's float32 working set (~4 MiB at 4096
#: columns) stays in cache while every step of the detector model runs on it.
_BLOCK_ROWS = 256


_NORMAL_TABLE: np.ndarray | None = None


def _standard_normal(g: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Standard normal deviates, float32, by inverse-transform sampling.

    16 random bits pick one of 65536 equal-probability quantiles of N(0, 1)
    (``scipy.special.ndtri``): the variance is 0.99999, the tails stop at
    4.3 sigma (probability 2e-5 beyond).  Twice as fast as
    ``Generator.standard_normal(dtype=float32)``, and the noise draws are
    most of a synthetic read's time.
    """
    global _NORMAL_TABLE
    if _NORMAL_TABLE is None:
        from scipy.special import ndtri

        _NORMAL_TABLE = ndtri((np.arange(65536) + 0.5) / 65536).astype(np.float32)
    count = int(np.prod(shape))
    bits = g.bit_generator.random_raw(-(-count // 4))
    return np.take(_NORMAL_TABLE, bits.view(np.uint16)[:count].reshape(shape))


def _workers() -> int:
    """Threads that build a frame's row blocks (numpy's ufuncs and RNG fills release the GIL)."""
    return max(1, min(4, os.cpu_count() or 1))


def generate_frames(cfg: SynthConfig, det: Detector, illuminated: bool, seed_offset: int = 0):
    """Yield ``(k, frame, amp33_frame)`` for k = 0..N-1, one read at a time.

    frame : (size, size) uint16, DN; amp33_frame : (size, 128) uint16, DN.

    A frame is built in row blocks of :data:`_BLOCK_ROWS`, on a few threads:
    each block draws its own read (and shot) noise from a generator seeded by
    (seed, exposure, read, block), so the files depend on the seed only, not
    on the number of threads.  Memory: the accumulated charge and the
    per-pixel rate maps (a few float32 frames), no cube.
    """
    n = cfg.size
    dt = cfg.frame_time
    rng = np.random.default_rng([cfg.seed, 2, seed_offset])
    flux = det.star_flux() if illuminated else None
    # Charge added per read (constant) and its shot noise: drawn only where
    # charge accumulates noticeably (the scene's glow, hot pixels).
    step = (det.dark if flux is None else flux + det.dark) * np.float32(dt)
    del flux
    shot_sigma = np.where(step > 0.5, np.sqrt(step), np.float32(0.0)).astype(np.float32)
    shot_rows = np.flatnonzero(shot_sigma.any(axis=1))
    sparse = np.nonzero(shot_sigma) if np.count_nonzero(shot_sigma) < 0.05 * n * n else None
    accumulated = np.zeros((n, n), np.float32)
    chan_of_col = np.minimum(np.arange(n) // cfg.channel_width, N_CHANNELS - 1)
    blocks = [(r0, min(n, r0 + _BLOCK_ROWS)) for r0 in range(0, n, _BLOCK_ROWS)]
    has_shot = np.zeros(len(blocks), bool)
    for i, (r0, r1) in enumerate(blocks):
        has_shot[i] = np.any((shot_rows >= r0) & (shot_rows < r1))

    def build(k: int, i: int, frame: np.ndarray, common: np.ndarray, chan_cols: np.ndarray) -> None:
        r0, r1 = blocks[i]
        g = np.random.default_rng([cfg.seed, 3, seed_offset, k, i])
        acc = accumulated[r0:r1]
        acc += step[r0:r1]
        if sparse is None and has_shot[i]:
            shot = _standard_normal(g, acc.shape)
            shot *= shot_sigma[r0:r1]
            acc += shot
        # Charge stops accumulating at full well; the measured signal is the
        # non-linear response to it (monotonic up to the well).
        np.minimum(acc, det.charge_well[r0:r1], out=acc)
        out = acc * det.a2[r0:r1]
        out *= acc
        np.subtract(acc, out, out=out)
        np.maximum(out, 0.0, out=out)
        out += det.bias[r0:r1]
        # Correlated noise: a row-wise common mode (readout time) shared with
        # amp33, and a per-channel offset; then the read noise.
        out += common[r0:r1, None]
        out += chan_cols[None, :]
        read = _standard_normal(g, acc.shape)
        read *= cfg.read_noise
        out += read
        np.clip(out, 0, 65535, out=out)
        np.rint(out, out=out)
        frame[r0:r1] = out

    pool = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="synth-frame")
    try:
        for k in range(cfg.frames):
            common = (np.cumsum(rng.standard_normal(n)) * 0.15 + rng.standard_normal(n)).astype(np.float32) * cfg.row_noise
            chan = rng.normal(0.0, cfg.channel_noise, N_CHANNELS).astype(np.float32)
            if sparse is not None and sparse[0].size:
                accumulated[sparse] += rng.standard_normal(sparse[0].size).astype(np.float32) * shot_sigma[sparse]
            frame = np.empty((n, n), np.uint16)
            chan_cols = chan[chan_of_col]
            for fut in [pool.submit(build, k, i, frame, common, chan_cols) for i in range(len(blocks))]:
                fut.result()
            amp33 = det.amp33_bias + common[:, None] + rng.normal(0.0, cfg.read_noise, (n, AMP33_WIDTH)).astype(np.float32)
            amp33 += rng.normal(0.0, cfg.channel_noise)
            amp33_frame = np.rint(np.clip(amp33, 0, 65535)).astype(np.uint16)
            yield k, frame, amp33_frame
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _time(stamp: str):
    from astropy.time import Time

    iso = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[8:10]}:{stamp[10:12]}:{stamp[12:14]}"
    return Time(iso, format="isot", scale="utc")


def _build_model(plan: ExposurePlan, cfg: SynthConfig, data: np.ndarray, amp33: np.ndarray):
    """A TvacModel or ScienceRawModel around (memory-mapped) arrays."""
    import astropy.units as u
    from roman_datamodels import datamodels as rdm

    nread = data.shape[0]
    start = _time(plan.stamp)
    if plan.model == "tvac":
        model = rdm.TvacModel.create_fake_data(shape=(1, 8, 8))
        model.data = u.Quantity(data, u.DN, dtype=np.uint16, copy=False)
        model.amp33 = u.Quantity(amp33, u.DN, dtype=np.uint16, copy=False)
        model.guidewindow = u.Quantity(np.zeros((nread, 16, 16), np.uint16), u.DN, dtype=np.uint16, copy=False)
        exp = model.meta.exposure
        exp.type = "WFI_IMAGE" if plan.illuminated else "WFI_DARK"
        exp.start_time = start
        exp.ngroups = nread
        exp.nframes = 1
        exp.frame_divisor = 1
        exp.groupgap = 0
        exp.frame_time = cfg.frame_time
        exp.group_time = cfg.frame_time
        exp.exposure_time = cfg.frame_time * nread
        exp.ma_table_name = "TVAC_SATURATION_55" if nread == 55 else f"TVAC_SATURATION_{nread}"
        exp.ma_table_number = 1
        exp.read_pattern = [[i + 1] for i in range(nread)]
        gt = model.meta.groundtest
        gt.test_name = "WFI Bright Star Saturation" if plan.illuminated else "WFI Bright Star Saturation: final dark"
        gt.test_phase = "TVAC2"
        gt.test_environment = "TOHOTQUAL"
        gt.test_script = "WFISAT"
        gt.detector_id = "SCA11"
        gt.detector_temp = 95.0
        gt.ota_temp = 265.0
        gt.readout_col_num = FULL_SIZE + AMP33_WIDTH
        gt.product_date = start
        gt.conversion_date = start
        gt.frames_temp = np.full(nread, 95.0)
        model.meta.hdf5_telemetry = "synthetic (brightstar-gui processing.synth)"
    elif plan.model == "raw":
        model = rdm.ScienceRawModel.create_fake_data(shape=(1, 8, 8))
        model.data = data.view(np.ndarray)  # asdf validates plain ndarrays, not memmaps
        model.amp33 = amp33
        exp = model.meta.exposure
        exp.type = "WFI_IMAGE" if plan.illuminated else "WFI_DARK"
        exp.start_time = start
        exp.end_time = _time(plan.stamp) + cfg.frame_time * nread * u.s
        exp.nresultants = nread
        exp.frame_time = cfg.frame_time
        exp.exposure_time = cfg.frame_time * nread
        exp.effective_exposure_time = cfg.frame_time * (nread - 1)
        exp.ma_table_name = f"SYNTH_{nread}"
        exp.ma_table_number = 1
        exp.read_pattern = [[i + 1] for i in range(nread)]
        exp.truncated = False
    else:
        raise ValueError(f"unknown model kind {plan.model!r}; expected 'tvac' or 'raw'")
    model.meta.instrument.detector = DETECTOR
    model.meta.instrument.optical_element = FILTER if plan.illuminated else "DARK"
    return model


def _compression_arg(compression: str) -> str | None:
    if compression in ("none", None, ""):
        return None
    if compression not in ("lz4", "zlib", "bzp2"):
        raise ValueError(f"unknown compression {compression!r}; expected none, lz4, zlib or bzp2")
    return compression


def _save_atomically(model, path: Path, compression: str) -> None:
    """Save a datamodel to ``path`` via a scratch directory (no half-written files).

    The file is written under its final name (romancal records
    ``meta.filename``) in a hidden sibling directory, then renamed into place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.parent / f".partial-{os.getpid()}-{path.name}"
    scratch.mkdir(exist_ok=True)
    comp = _compression_arg(compression)
    from .writers import disk_full_error

    try:
        if comp == "lz4":
            # asdf would hold the whole compressed cube in memory: save
            # uncompressed, then re-encode block by block.
            model.save(scratch / path.name, all_array_compression=None)
            recompress_lz4(scratch / path.name, scratch / (path.name + ".lz4"))
            os.replace(scratch / (path.name + ".lz4"), path)
        else:
            model.save(scratch / path.name, all_array_compression=comp)
            os.replace(scratch / path.name, path)
    except OSError as err:  # ENOSPC, EROFS: said plainly, nothing left behind
        raise disk_full_error(err, path, getattr(getattr(model, "data", None), "nbytes", None), "the synthetic exposure") from err
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_exposure_job(plan: ExposurePlan, cfg: SynthConfig, det: Detector | None = None) -> Job[Path]:
    """Write one synthetic exposure, frame by frame, reporting progress.

    The cube is filled into a temporary memory map next to the output and
    saved from there, so memory holds a few frames, not the cube.
    """
    det = det if det is not None else Detector(cfg)
    n = cfg.size
    plan.path.parent.mkdir(parents=True, exist_ok=True)
    from .writers import disk_full_error, preallocate, remove_stale_partials

    remove_stale_partials(plan.path.parent)
    scratch = plan.path.with_name(f".partial-{os.getpid()}-{plan.path.name}.cube.npy")
    try:
        try:
            data = np.lib.format.open_memmap(scratch, mode="w+", dtype=np.uint16, shape=(cfg.frames, n, n))
            # Reserve the cube's bytes: writing a sparse memory map on a full
            # disk is SIGBUS; here it is an error naming the place and the size.
            with open(scratch, "r+b") as fh:
                preallocate(fh.fileno(), os.fstat(fh.fileno()).st_size, scratch, "the synthetic cube")
        except OSError as err:
            raise disk_full_error(err, scratch, cfg.frames * n * n * 2, "the synthetic cube") from err
        amp33 = np.empty((cfg.frames, n, AMP33_WIDTH), np.uint16)
        for k, frame, amp in generate_frames(cfg, det, plan.illuminated, plan.seed_offset):
            data[k] = frame
            amp33[k] = amp
            yield Progress(0.8 * (k + 1) / cfg.frames, f"{plan.path.name}: read {k + 1}/{cfg.frames}")
        data.flush()
        model = _build_model(plan, cfg, data, amp33)
        yield Progress(0.85, f"{plan.path.name}: saving")
        _save_atomically(model, plan.path, cfg.compression)
        log.info("synth: wrote %s (%s)", plan.path, cfg.compression)
        del model, data
    finally:
        if scratch.exists():
            scratch.unlink()
    yield Progress(1.0, f"{plan.path.name}: done")
    return plan.path


def write_exposure(path, frames: int = 55, size: int = FULL_SIZE, seed: int = 0, compression: str = "none",
                   illuminated: bool = True, model: str = "tvac", **config) -> Path:
    """Write one synthetic exposure (see :class:`SynthConfig`); return its path."""
    cfg = SynthConfig(frames=frames, size=size, seed=seed, compression=compression, **config)
    plan = ExposurePlan(path=Path(path), stamp=ILLUM_STAMP, illuminated=illuminated, model=model)
    return run(write_exposure_job(plan, cfg))


def _ref_meta(model, reftype: str, description: str) -> None:
    from astropy.time import Time

    meta = model.meta
    meta.instrument.detector = DETECTOR
    meta.description = description
    meta.author = "brightstar-gui processing.synth"
    meta.pedigree = "DUMMY"
    meta.useafter = Time("2020-01-01T00:00:00", format="isot", scale="utc")


def refpix_alpha(rows: int) -> np.ndarray:
    """The REFPIX reference's amp33 weights: the row-wise common mode, not amp33's own noise.

    With gamma = zeta = 0, refpix subtracts the amp33 signal filtered by
    ``alpha`` in the frequency domain of the read-out time stream (rows x
    140 samples per channel).  ``alpha = L / (2 (L//2 + 1))`` at every
    frequency would subtract the time-aligned amp33 pixels themselves, and
    with them amp33's white read noise (the corrected noise would be
    sqrt(2) x the read noise, the tutorial's 2nd percentiles show it is
    not).  The common mode changes once per row (140 samples), so weights
    that pass up to one cycle per row and roll off by three keep it and
    drop almost all of amp33's white noise, as a fitted IRRC reference does.

    Returns
    -------
    (32, L//2 + 1) complex128
    """
    length = rows * (AMP33_WIDTH + 12)
    nfreq = length // 2 + 1
    per_row = np.arange(nfreq) * (AMP33_WIDTH + 12) / length  # cycles per row
    taper = np.clip((per_row - 1.0) / 2.0, 0.0, 1.0)
    weight = np.cos(0.5 * np.pi * taper) ** 2
    return np.repeat((weight * (length / (2 * nfreq))).astype(np.complex128)[None, :], N_CHANNELS, axis=0)


def write_reference_files_job(outdir: Path, cfg: SynthConfig, det: Detector | None = None) -> Job[dict[str, Path]]:
    """Write the mask, saturation, linearity, inverselinearity and refpix references.

    Returns
    -------
    dict
        Reference type -> path, as romancal's ``override_<type>`` wants.
    """
    from roman_datamodels import datamodels as rdm
    from roman_datamodels.dqflags import pixel

    det = det if det is not None else Detector(cfg)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    n = cfg.size
    out: dict[str, Path] = {}

    mask = rdm.MaskRefModel.create_fake_data()
    _ref_meta(mask, "MASK", "Synthetic WFI11 bad-pixel mask: reference border, hot and dead pixels")
    mask.dq = det.mask_dq
    out["mask"] = outdir / "roman_wfi_mask_synth.asdf"
    _save_atomically(mask, out["mask"], "lz4")
    yield Progress(0.15, "mask")

    sat = rdm.SaturationRefModel.create_fake_data()
    _ref_meta(sat, "SATURATION", "Synthetic WFI11 saturation thresholds in raw DN")
    sat.data = det.sat_dn
    sat_dq = np.zeros((n, n), np.uint32)
    sat_dq[np.isnan(det.sat_dn)] |= pixel.NO_SAT_CHECK
    sat.dq = sat_dq
    out["saturation"] = outdir / "roman_wfi_saturation_synth.asdf"
    _save_atomically(sat, out["saturation"], "lz4")
    yield Progress(0.3, "saturation")

    # Linearity: the series inverse of x = S - a2 S^2 (Catalan numbers:
    # S = x + a2 x^2 + 2 a2^2 x^3 + 5 a2^3 x^4 + 14 a2^4 x^5), better than
    # 0.02 % up to full well.  Inverse linearity is the forward law.
    a2 = det.a2
    coeffs = np.zeros((6, n, n), np.float32)
    for power, catalan in enumerate((1.0, 1.0, 2.0, 5.0, 14.0), start=1):
        coeffs[power] = catalan * a2 ** (power - 1)
    lin = rdm.LinearityRefModel.create_fake_data()
    _ref_meta(lin, "LINEARITY", "Synthetic WFI11 classic non-linearity correction")
    lin.coeffs = coeffs
    lin.dq = np.zeros((n, n), np.uint32)
    out["linearity"] = outdir / "roman_wfi_linearity_synth.asdf"
    _save_atomically(lin, out["linearity"], "lz4")
    del lin
    yield Progress(0.5, "linearity")

    inv = np.zeros((3, n, n), np.float32)
    inv[1] = 1.0
    inv[2] = -a2
    del coeffs
    ilin = rdm.InverselinearityRefModel.create_fake_data()
    _ref_meta(ilin, "INVERSELINEARITY", "Synthetic WFI11 inverse non-linearity")
    ilin.coeffs = inv
    ilin.dq = np.zeros((n, n), np.uint32)
    out["inverselinearity"] = outdir / "roman_wfi_inverselinearity_synth.asdf"
    _save_atomically(ilin, out["inverselinearity"], "lz4")
    del ilin, inv
    yield Progress(0.7, "inverselinearity")

    # Refpix: gamma = zeta = 0 and alpha the amp33 weights of refpix_alpha.
    alpha = refpix_alpha(n)
    refpix = rdm.RefpixRefModel.create_fake_data()
    _ref_meta(refpix, "REFPIX", "Synthetic WFI11 refpix: correction = time-aligned amp33, low-pass filtered")
    refpix.gamma = np.zeros_like(alpha)
    refpix.zeta = np.zeros_like(alpha)
    refpix.alpha = alpha
    out["refpix"] = outdir / "roman_wfi_refpix_synth.asdf"
    _save_atomically(refpix, out["refpix"], "lz4")
    yield Progress(1.0, "refpix")
    return out


def dataset_paths(outdir: Path) -> dict[str, object]:
    """Where :func:`write_dataset_job` puts each file, without writing anything."""
    base = Path(outdir) / PROGRAM_DIR
    return {
        "illuminated": base / ILLUM_ACTIVITY / exposure_filename(ILLUM_STAMP),
        "darks": [base / DARK_ACTIVITY / exposure_filename(s) for s in DARK_STAMPS],
        "references": Path(outdir) / "references",
        "manifest": Path(outdir) / "manifest.json",
    }


def _write_manifest(outdir: Path, cfg: SynthConfig, refs: dict[str, Path], complete: bool) -> dict:
    where = dataset_paths(outdir)
    manifest = {
        "generator": "brightstar-gui processing.synth",
        "complete": complete,
        "config": {k: v for k, v in asdict(cfg).items() if k != "extra"},
        "star_center": list(cfg.center()),
        "illuminated": str(Path(where["illuminated"]).relative_to(outdir)),
        "darks": [str(Path(p).relative_to(outdir)) for p in where["darks"]],
        "references": {k: str(Path(v).relative_to(outdir)) for k, v in refs.items()},
        "detector": DETECTOR,
        "optical_element": FILTER,
    }
    manifest_path = Path(where["manifest"])
    tmp = manifest_path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, manifest_path)
    return manifest


def write_first_look_job(outdir, cfg: SynthConfig, det: Detector | None = None) -> Job[dict]:
    """Write the illuminated exposure and the reference files: enough to look.

    Writes a manifest with ``"complete": false`` (the darks are still to
    come), so a viewer can open the exposure with its references while
    :func:`write_darks_job` writes the rest.

    Returns
    -------
    dict
        The (incomplete) manifest.
    """
    outdir = Path(outdir)
    where = dataset_paths(outdir)
    manifest_path = Path(where["manifest"])
    if manifest_path.exists():
        manifest_path.unlink()  # nothing is usable until rewritten
    if det is None:
        yield Progress(0.0, "building the detector model")  # seconds at 4096 x 4096: say so first
        det = Detector(cfg)
    yield Progress(0.02, "detector model")
    plan = ExposurePlan(Path(where["illuminated"]), ILLUM_STAMP, True, seed_offset=0)
    yield from scaled(write_exposure_job(plan, cfg, det), 0.02, 0.75)
    refs = yield from scaled(write_reference_files_job(Path(where["references"]), cfg, det), 0.75, 1.0, "references: ")
    return _write_manifest(outdir, cfg, refs, complete=False)


def write_darks_job(outdir, cfg: SynthConfig, det: Detector | None = None) -> Job[dict]:
    """Write the three darks after :func:`write_first_look_job`; completes the manifest.

    Returns
    -------
    dict
        The complete manifest.
    """
    outdir = Path(outdir)
    first = read_manifest(outdir)
    if first is None:
        raise ValueError(f"{outdir}: no manifest; write the first look (illuminated exposure, references) first")
    refs = {k: outdir / v for k, v in first["references"].items()}
    if det is None:
        yield Progress(0.0, "building the detector model")
        det = Detector(cfg)
    yield Progress(0.02, "detector model")
    where = dataset_paths(outdir)
    plans = [ExposurePlan(p, s, False, seed_offset=i + 1) for i, (p, s) in enumerate(zip(where["darks"], DARK_STAMPS))]
    span = 0.98 / len(plans)
    for i, plan in enumerate(plans):
        yield from scaled(write_exposure_job(plan, cfg, det), 0.02 + i * span, 0.02 + (i + 1) * span)
    return _write_manifest(outdir, cfg, refs, complete=True)


def write_dataset_job(outdir, cfg: SynthConfig) -> Job[dict]:
    """Write the tutorial's set: the illuminated exposure, references, three darks.

    A ``manifest.json`` lists the files and the parameters; ``"complete":
    true`` in it marks a complete set.

    Returns
    -------
    dict
        The manifest.
    """
    det = Detector(cfg)
    yield from scaled(write_first_look_job(outdir, cfg, det), 0.0, 0.3)
    return (yield from scaled(write_darks_job(outdir, cfg, det), 0.3, 1.0))


def read_manifest(outdir) -> dict | None:
    """The manifest of a synthetic set in ``outdir`` (complete or not), or None.

    ``manifest["complete"]`` tells whether the darks are written too.
    """
    path = Path(outdir) / "manifest.json"
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    manifest.setdefault("complete", True)
    return manifest


def remove_dataset(outdir) -> None:
    """Delete a synthetic set written by :func:`write_dataset_job`."""
    outdir = Path(outdir)
    for name in (PROGRAM_DIR, "references", "manifest.json"):
        target = outdir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
