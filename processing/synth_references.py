"""The synthetic reference files: mask, saturation, linearity, inverse linearity and refpix."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .progress import Job, Progress
from .synth_config import AMP33_WIDTH, DETECTOR, N_CHANNELS, SynthConfig
from .synth_detector import Detector
from .synth_files import _save_atomically


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
    _save_atomically(mask, out["mask"], "lz4", stream=False)
    yield Progress(0.15, "mask")

    sat = rdm.SaturationRefModel.create_fake_data()
    _ref_meta(sat, "SATURATION", "Synthetic WFI11 saturation thresholds in raw DN")
    sat.data = det.sat_dn
    sat_dq = np.zeros((n, n), np.uint32)
    sat_dq[np.isnan(det.sat_dn)] |= pixel.NO_SAT_CHECK
    sat.dq = sat_dq
    out["saturation"] = outdir / "roman_wfi_saturation_synth.asdf"
    _save_atomically(sat, out["saturation"], "lz4", stream=False)
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
    _save_atomically(lin, out["linearity"], "lz4", stream=False)
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
    _save_atomically(ilin, out["inverselinearity"], "lz4", stream=False)
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
    _save_atomically(refpix, out["refpix"], "lz4", stream=False)
    yield Progress(1.0, "refpix")
    return out

