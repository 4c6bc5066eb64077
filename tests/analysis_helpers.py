"""Independent implementations and fixtures shared by the analysis tests.

The reference implementations here are written the slow, obvious way (the
tutorial's convolve2d masks, loops over pixels) so that they share no code
with :mod:`processing.diagnostics`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.signal import convolve2d

from processing.figures import load_reference_array
from processing.io import open_exposure

KERNEL_4 = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=np.uint8)
KERNEL_DIAG = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1]], dtype=np.uint8)


def tutorial_masks(sat_cube: np.ndarray):
    """The tutorial's make_saturation_mask_dn neighbour logic on a boolean (N, H, W) cube."""
    nearby = np.zeros_like(sat_cube)
    diag = np.zeros_like(sat_cube)
    new = np.zeros_like(sat_cube)
    for i, s in enumerate(sat_cube):
        conv4 = convolve2d(s.astype(np.uint8), KERNEL_4, mode="same", boundary="fill", fillvalue=0) > 0
        convdg = convolve2d(s.astype(np.uint8), KERNEL_DIAG, mode="same", boundary="fill", fillvalue=0) > 0
        nearby[i] = (~s) & conv4
        diag[i] = (~s) & (~nearby[i]) & convdg
        new[i] = s if i == 0 else s & (~sat_cube[i - 1])
    return sat_cube, nearby, new, diag


def exact_saturated(frames: np.ndarray, sat_dn: np.ndarray) -> np.ndarray:
    """``frames >= sat_dn`` in float64, never where the threshold is not finite."""
    sat = np.asarray(sat_dn, dtype=np.float64)
    h, w = frames.shape[1:]
    if sat.shape == (h + 8, w + 8):
        sat = sat[4:-4, 4:-4]
    with np.errstate(invalid="ignore"):
        return (frames.astype(np.float64) >= sat) & np.isfinite(sat)


def load_small(small_set) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The small set's illuminated cube (N, H, W) uint16, its thresholds (H, W) and read times (N,)."""
    with open_exposure(small_set["illuminated"]) as exp:
        cube = np.stack([np.array(exp.frame(k)) for k in range(exp.shape[0])])
        times = exp.read_times
    sat = load_reference_array(small_set["references"]["saturation"], "data").astype(np.float32)
    return cube, sat, times


def write_ramp_model(path: Path, raw_path: Path, sat_path: Path) -> tuple[Path, np.ndarray]:
    """A calibrated RampModel of a raw exposure whose groupdq is romancal's saturation flag.

    The groupdq comes from romancal's own ``flag_saturation`` (through
    :func:`processing.calibrate.steps.saturation_band`); pixel (5, 7) also
    has DO_NOT_USE in every read, which must not count as saturation.

    Returns
    -------
    path, groupdq : Path, (N, H, W) uint8
    """
    import roman_datamodels.datamodels as rdm

    from processing.calibrate.steps import saturation_band

    with open_exposure(raw_path) as exp:
        n, h, w = exp.shape
        raw = np.stack([np.array(exp.frame(k)) for k in range(n)])
        pattern = exp.get_meta("exposure.read_pattern") or [[k + 1] for k in range(n)]
    sat = load_reference_array(sat_path, "data").astype(np.float32)
    sat_dq = load_reference_array(sat_path, "dq").astype(np.uint32)
    data = raw.astype(np.float32)
    groupdq, pixeldq = saturation_band(data, np.zeros((n, h, w), np.uint8), np.zeros((h, w), np.uint32),
                                       sat.copy(), sat_dq, [list(p) for p in pattern])
    groupdq[:, 5, 7] |= 1
    m = rdm.RampModel.create_fake_data(shape=(n, h, w))
    m.data = data
    m.groupdq = groupdq
    m.pixeldq = pixeldq
    m.meta.exposure.frame_time = 3.04
    m.save(path)
    return path, groupdq
