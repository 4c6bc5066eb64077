"""A synthetic bright-star campaign: several magnitudes on two detectors, then persistent darks.

The real campaign projected point sources of magnitude ~4 to ~18 onto SCAs 4
and 11 and took a series of darks afterwards.  This module writes the same
shape of data set with :mod:`processing.synth`'s generator and writers, in
the bucket's folder layout (``<program>/Activity_22/`` illuminated,
``<program>/Activity_40/`` darks, one file per exposure and detector).

The model (times in seconds, signals in DN)
-------------------------------------------
* Read ``k`` of an exposure starting at ``t0`` is taken at
  ``t0 + (k + 1) * frame_time`` (the generator adds one read's charge before
  the first frame); an exposure's *end of illumination* ``t_end`` is the time
  of its last read.
* The star of magnitude ``m`` is synth's magnitude-4 scene (core and the
  projector's ghost) scaled by ``10 ** (-0.4 * (m - 4))``.
* A pixel saturated (raw DN at or above the saturation threshold) for
  ``T_sat`` seconds of an illuminated exposure carries afterwards a
  persistence current ``A * exp(-(t - t_end) / tau)`` DN/s with
  ``A = A_max * (1 - exp(-T_sat / t_grow))``: more persistence the longer the
  pixel was saturated.  ``tau`` is per detector.  A dark integrates this
  current from its reset (``t0``), so read ``k`` carries
  ``A tau (exp(-(t0 - t_end)/tau) - exp(-(t_k - t_end)/tau))`` DN extra.
  Persistence is added to the darks only (not to later illuminated
  exposures), and footprints of one detector do not overlap.
"""

from __future__ import annotations

import copy
import math
import json
import os
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from .. import synth
from ..progress import Job, Progress, scaled

DETECTORS = ("WFI04", "WFI11")
#: Persistence truth per detector: time constant tau (s), A_max (DN/s), t_grow (s).
PERSISTENCE = {"WFI04": {"tau_s": 150.0, "amplitude_max_dn_s": 20.0, "growth_s": 20.0},
               "WFI11": {"tau_s": 300.0, "amplitude_max_dn_s": 20.0, "growth_s": 20.0}}
#: (magnitude, detector, position as fractions of the detector size): footprints far apart.
DEFAULT_STARS = ((4.0, "WFI11", (0.25, 0.25)), (6.0, "WFI04", (0.25, 0.25)),
                 (9.0, "WFI11", (0.25, 0.75)), (12.0, "WFI04", (0.25, 0.75)),
                 (15.0, "WFI11", (0.75, 0.5)), (18.0, "WFI04", (0.75, 0.5)))
START = datetime(2024, 5, 6, 20, 45, 23)
GAP_S = 6.0  # s between the end of one exposure and the start of the next


def brightness_scale(magnitude: float) -> float:
    """Flux relative to the magnitude-4 star: ``10 ** (-0.4 * (m - 4))``."""
    return 10.0 ** (-0.4 * (float(magnitude) - 4.0))


def _stamp(t: datetime) -> str:
    return t.strftime("%Y%m%d%H%M%S")


@dataclass(frozen=True)
class CampaignConfig:
    """Parameters of a synthetic campaign.

    Attributes
    ----------
    size, frames, seed, compression : as :class:`processing.synth.SynthConfig`
        Defaults are small (256 px, 8 reads) so tests are fast.
    stars : tuple of (magnitude, detector, (row fraction, col fraction))
        The illuminated exposures, in time order.
    n_darks : int
        Darks per detector after the last illuminated exposure.
    """

    size: int = 256
    frames: int = 8
    seed: int = 0
    compression: str = "none"
    stars: tuple = DEFAULT_STARS
    n_darks: int = 5


def _detector_model(base: synth.SynthConfig, detector: str) -> synth.Detector:
    # Each SCA its own pixels: a seed per detector.
    return synth.Detector(replace(base, seed=base.seed * 100 + DETECTORS.index(detector) + 1))


class _Scene:
    """The detector seen with a star at ``cfg``'s position, ``scale`` times as bright as synth's.

    Everything the projector adds (core, ghost, rings) is scaled; the diffuse
    background is not.
    """

    def __init__(self, det: synth.Detector, cfg: synth.SynthConfig, scale: float):
        self.__dict__.update(det.__dict__)
        self.cfg = cfg
        self._det, self._scale = det, np.float32(scale)

    def star_flux(self) -> np.ndarray:
        here = copy.copy(self._det)
        here.cfg = self.cfg
        full = synth.Detector.star_flux(here)
        background = np.float32(self.cfg.background) * self.response
        return ((full - background) * self._scale + background).astype(np.float32)


def _write(plan: synth.ExposurePlan, cfg: synth.SynthConfig, det: synth.Detector, detector: str, scale: float = 1.0,
           persistence=None, track_saturation: bool = False) -> Job[np.ndarray | None]:
    """Write one exposure with synth's generator and writers; return seconds saturated per pixel.

    ``scale`` multiplies the star's light; ``persistence(k)`` gives the
    (H, W) float32 DN to add to read ``k`` (darks).
    """
    n = cfg.size
    scene = _Scene(det, cfg, scale)
    plan.path.parent.mkdir(parents=True, exist_ok=True)
    scratch = plan.path.with_name(plan.path.name + ".cube.tmp")
    sat_reads = np.zeros((n, n), np.int32) if track_saturation else None
    try:
        data = np.lib.format.open_memmap(scratch, mode="w+", dtype=np.uint16, shape=(cfg.frames, n, n))
        amp33 = np.empty((cfg.frames, n, synth.AMP33_WIDTH), np.uint16)
        for k, frame, amp in synth.generate_frames(cfg, scene, plan.illuminated, plan.seed_offset):
            if persistence is not None:
                frame = np.clip(frame + np.rint(persistence(k)), 0, 65535).astype(np.uint16)
            if sat_reads is not None:
                with np.errstate(invalid="ignore"):
                    sat_reads += frame >= det.sat_dn
            data[k] = frame
            amp33[k] = amp
            yield Progress(0.8 * (k + 1) / cfg.frames, f"{plan.path.name}: read {k + 1}/{cfg.frames}")
        data.flush()
        model = synth._build_model(plan, cfg, data, amp33)
        model.meta.instrument.detector = detector
        model.meta.groundtest.detector_id = "SCA" + detector[-2:]
        synth._save_atomically(model, plan.path, cfg.compression)
        del model, data
    finally:
        if scratch.exists():
            scratch.unlink()
    yield Progress(1.0, f"{plan.path.name}: done")
    return None if sat_reads is None else sat_reads * cfg.frame_time


def write_campaign_job(outdir, ccfg: CampaignConfig = CampaignConfig()) -> Job[dict]:
    """Write the campaign, its per-detector reference files and ``manifest.json``.

    Returns
    -------
    dict
        The manifest: ``illuminated`` (path, detector, magnitude, position,
        start and end of illumination, saturated pixels), ``darks`` (path,
        detector, start), ``persistence`` (truth per detector), ``references``
        (per detector) and ``config``.
    """
    outdir = Path(outdir)
    manifest_path = outdir / "manifest.json"
    if manifest_path.exists():
        manifest_path.unlink()
    base = synth.SynthConfig(frames=ccfg.frames, size=ccfg.size, seed=ccfg.seed, compression=ccfg.compression)
    dets = {d: _detector_model(base, d) for d in DETECTORS}
    duration = ccfg.frames * base.frame_time
    total = len(ccfg.stars) + ccfg.n_darks * len(DETECTORS) + len(DETECTORS)
    done = 0
    refs = {}
    for d in DETECTORS:
        paths = yield from scaled(synth.write_reference_files_job(outdir / "references" / d, base, dets[d]),
                                  done / total, (done + 1) / total, f"references {d}: ")
        refs[d] = {t: str(p.relative_to(outdir)) for t, p in paths.items()}
        done += 1
    root = outdir / synth.PROGRAM_DIR
    t = START
    # File names and start_time carry whole seconds: keep the truth on whole seconds too.
    step = timedelta(seconds=math.ceil(duration + GAP_S))
    illuminated, amplitude = [], {d: [] for d in DETECTORS}
    for i, (mag, d, (fy, fx)) in enumerate(ccfg.stars):
        scale = brightness_scale(mag)
        centre = (int(round(fy * ccfg.size)), int(round(fx * ccfg.size)))
        cfg = replace(base, star_center=centre)
        path = root / synth.ILLUM_ACTIVITY / synth.exposure_filename(_stamp(t), d)
        plan = synth.ExposurePlan(path, _stamp(t), True, seed_offset=10 + i)
        t_sat = yield from scaled(_write(plan, cfg, dets[d], d, scale, track_saturation=True),
                                  done / total, (done + 1) / total)
        done += 1
        p = PERSISTENCE[d]
        amp = (p["amplitude_max_dn_s"] * (1.0 - np.exp(-t_sat / p["growth_s"]))).astype(np.float32)
        start_s = (t - START).total_seconds()
        end_s = start_s + duration  # the last read
        amplitude[d].append((end_s, amp))
        illuminated.append({"path": str(path.relative_to(outdir)), "detector": d, "magnitude": mag,
                            "position": list(centre), "brightness_scale": scale, "start_s": start_s,
                            "end_s": end_s, "start_time": t.isoformat(),
                            "saturated_pixels": int(np.count_nonzero(t_sat)),
                            "max_saturated_s": float(t_sat.max()),
                            "median_amplitude_dn_s": float(np.median(amp[t_sat > 0])) if t_sat.any() else 0.0})
        t += step
    darks = []
    for j in range(ccfg.n_darks):
        start_s = (t - START).total_seconds()
        for d in DETECTORS:
            tau = PERSISTENCE[d]["tau_s"]

            def excess(k, start_s=start_s, d=d, tau=tau):
                t_k = start_s + (k + 1) * base.frame_time
                out = np.zeros((ccfg.size, ccfg.size), np.float32)
                for end_s, amp in amplitude[d]:
                    out += amp * np.float32(tau * (np.exp(-(start_s - end_s) / tau) - np.exp(-(t_k - end_s) / tau)))
                return out

            path = root / synth.DARK_ACTIVITY / synth.exposure_filename(_stamp(t), d)
            plan = synth.ExposurePlan(path, _stamp(t), False, seed_offset=100 + j * len(DETECTORS) + DETECTORS.index(d))
            yield from scaled(_write(plan, base, dets[d], d, persistence=excess), done / total, (done + 1) / total)
            done += 1
            darks.append({"path": str(path.relative_to(outdir)), "detector": d, "start_s": start_s,
                          "start_time": t.isoformat()})
        t += step
    manifest = {
        "generator": "brightstar-gui processing.campaign.synth",
        "kind": "campaign",
        "complete": True,
        "config": {**{k: v for k, v in asdict(base).items() if k != "extra"}, "n_darks": ccfg.n_darks},
        "epoch": START.isoformat(),
        "read_time_rule": "read k at start + (k + 1) * frame_time; end of illumination = last read",
        "illuminated": illuminated,
        "darks": darks,
        "persistence": PERSISTENCE,
        # Not "references": that key means one set for the whole folder to the reference resolution.
        "references_by_detector": refs,
        "optical_element": synth.FILTER,
    }
    tmp = manifest_path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, manifest_path)
    return manifest
