"""romancal's dq_init, saturation and linearity applied to parts of an exposure.

Each function calls romancal's or stcal's own code (or, for one read per
resultant, :mod:`.fused`: the same arithmetic with fewer passes, tested bit
for bit against stcal) on a part of the data and says why the part gives the
same numbers as the whole:

* dq_init (:func:`dq_init_skeleton`, :func:`raw_to_float`): the pixel DQ
  comes from the mask (and guide-window rows) alone, and the data only get
  per-pixel offsets.  romancal's ``do_dqinit`` is run on a one-frame stand-in
  of the exposure, which yields the real pixel DQ, border DQ arrays and the
  RampModel metadata; the data part is repeated per band or frame.
* saturation (:func:`saturation_band`): stcal's ``flag_saturated_pixels``
  works pixel by pixel along the reads (its neighbour growth,
  ``n_pix_grow_sat``, is 0 by default and otherwise covered by halo rows), so
  row bands across all reads give the whole-cube flags.
* linearity (:func:`linearity_band`): stcal's read-level correction is per
  pixel along the reads and itself works in tiles of 64 rows.
"""

from __future__ import annotations

import logging

import copy
from types import SimpleNamespace

import numpy as np

log = logging.getLogger(__name__)

#: The exposure pipeline's parameters for the steps we run, as romancal's
#: step specs default them (the tutorial changes none).  Part of the cache key.
STEP_PARAMETERS = {
    "dq_init": {"expand_gw_flagging": 0},
    "saturation": {"n_pix_grow_sat": 0, "backup": 0},
    "refpix": {"remove_offset": True, "remove_trends": True, "cosine_interpolate": True, "fft_interpolate": True},
    "linearity": {"integralnonlinearity": "N/A"},
}

#: Steps of ``ExposurePipeline`` that are skipped, as in the tutorial (plus the
#: two that romancal 1.1 added and that need reference files we do not have),
#: with the ``meta.cal_step`` field each one marks SKIPPED (its class_alias;
#: a test checks this against romancal, whose pipeline module is slow to import).
SKIPPED_STEPS = {
    "dark_decay": "dark_decay", "wfi18_transient": "wfi18_transient", "dark_current": "dark",
    "rampfit": "ramp_fit", "assign_wcs": "assign_wcs", "flatfield": "flat_field", "photom": "photom",
    "source_catalog": "source_catalog", "tweakreg": "tweakreg",
}

#: Rows per tile of stcal's read-level linearity (its default is 64).
_LINEARITY_TILE_ROWS = 32
#: LinearityStep.process clips |DN| above this to it and flags DO_NOT_USE.
LINEARITY_CLIP = 1e6
#: Input arrays replaced by one-frame stand-ins (never loaded whole).
_BIG_INPUT_BYTES = 16 * 1024 * 1024


def dq_init_skeleton(model, frame0: np.ndarray, amp33_0: np.ndarray, mask_model, big_arrays: dict):
    """Run romancal's ``do_dqinit`` on a one-frame stand-in of the exposure.

    Parameters
    ----------
    model : TvacModel or ScienceRawModel
        The input, opened with a lazy tree (its big arrays are never touched).
    frame0 : (H, W) uint16, DN
        Read 0 of ``data``.
    amp33_0 : (H, 128) uint16, DN
        Read 0 of ``amp33``.
    mask_model : MaskRefModel or None
    big_arrays : dict of str to (shape, dtype, unit)
        Large arrays of ``model`` besides data and amp33 (reset reads...):
        the stand-in gets one-plane zero versions, so that romancal decides
        whether and how they pass into the RampModel; the caller copies the
        real ones through itself.

    Returns
    -------
    RampModel
        One read deep: its ``pixeldq`` (H, W), ``dq_border_ref_pix_*`` and
        metadata are those of the whole-cube dq_init.
    """
    import astropy.units as u
    from romancal.dq_init.dq_initialization import do_dqinit

    node = model._instance
    items = {k: node._data[k] for k in node._data if k not in set(big_arrays) | {"data", "amp33"}}
    for name, (shape, dtype, unit) in big_arrays.items():
        tiny = np.zeros((1,) + tuple(shape[1:]), dtype=dtype)
        items[name] = u.Quantity(tiny, unit, dtype=dtype) if unit else tiny
    stand_in = type(model)(type(node)(copy.copy(items)))
    if type(model).__name__ in ("TvacModel", "FpsModel"):  # their arrays are Quantities
        stand_in.data = u.Quantity(frame0[None], u.DN, dtype=np.uint16)
        stand_in.amp33 = u.Quantity(amp33_0[None], u.DN, dtype=np.uint16)
    else:
        stand_in.data = frame0[None]
        stand_in.amp33 = amp33_0[None]
    return do_dqinit(stand_in, mask=mask_model, expand_gw_flagging=STEP_PARAMETERS["dq_init"]["expand_gw_flagging"])


def raw_to_float(raw: np.ndarray, encoding_offset, reference_read: np.ndarray | None = None,
                 out: np.ndarray | None = None) -> np.ndarray:
    """dq_init's data conversion: float32, plus the reference read (flight L1), minus the encoding offset.

    Parameters
    ----------
    raw : (..., h, W) uint16, DN
    encoding_offset : number
        ``meta.instrument.data_encoding_offset`` (0 when absent).
    reference_read : (h, W) array or None
        Added back for flight L1 data (TVAC files already include it).
    out : float32 array of ``raw``'s shape, optional
        Where to write (a reused buffer: the engine converts 55 frames and
        dozens of bands, and every fresh 64 MB array costs the kernel a
        zeroing of its pages).  uint16 -> float32 is exact, so the result is
        the same as ``raw.astype(np.float32)``.  Default a new array.
    """
    if out is None:
        data = raw.astype(np.float32)
    else:
        if out.shape != raw.shape or out.dtype != np.float32:
            raise ValueError(f"out must be a float32 array of shape {raw.shape}; got {out.dtype} {out.shape}")
        np.copyto(out, raw, casting="safe")
        data = out
    if reference_read is not None:
        data += reference_read
    if encoding_offset:  # subtracting 0 changes nothing: skip the pass
        data -= encoding_offset
    return data


def amp33_to_float(raw: np.ndarray, encoding_offset, reference_amp33: np.ndarray | None = None,
                   out: np.ndarray | None = None) -> np.ndarray:
    """dq_init's amp33 handling (in uint16, as romancal does), then refpix's cast to float32.

    ``out`` (float32, ``raw``'s shape) as in :func:`raw_to_float`; when
    there is something to add or subtract, ``raw`` itself is changed (uint16,
    in place, as romancal's own arithmetic) unless ``out`` is None.
    """
    if reference_amp33 is not None or encoding_offset:
        amp = raw.copy() if out is None else raw
        if reference_amp33 is not None:
            amp += reference_amp33
        amp -= encoding_offset
        raw = amp
    if out is None:
        return raw.astype(np.float32)
    if out.shape != raw.shape or out.dtype != np.float32:
        raise ValueError(f"out must be a float32 array of shape {raw.shape}; got {out.dtype} {out.shape}")
    np.copyto(out, raw, casting="safe")
    return out


def saturation_band(data: np.ndarray, groupdq: np.ndarray, pixeldq: np.ndarray, threshold: np.ndarray,
                    threshold_dq: np.ndarray, read_pattern) -> tuple[np.ndarray, np.ndarray]:
    """romancal's ``flag_saturation`` on a band of rows across all reads.

    Parameters
    ----------
    data : (N, h, W) float32, DN
    groupdq : (N, h, W) uint8
    pixeldq : (h, W) uint32
    threshold : (h, W) float32, DN
        SATURATION reference ``data`` rows (copied by romancal before use).
    threshold_dq : (h, W) uint32
        SATURATION reference ``dq`` rows.
    read_pattern : list of list of int
        ``meta.exposure.read_pattern`` (N entries).

    Returns
    -------
    groupdq : (N, h, W) uint8
    pixeldq : (h, W) uint32
    """
    from romancal.saturation.saturation import ATOD_LIMIT, flag_saturation

    from . import fused

    params = STEP_PARAMETERS["saturation"]
    if fused.single_reads(read_pattern) and params["n_pix_grow_sat"] == 0 and params["backup"] == 0:
        # Same arithmetic as stcal, in place (see .fused); romancal copies the reference rows first.
        from roman_datamodels.dqflags import pixel

        return fused.flag_saturated(data, groupdq, pixeldq, threshold.copy(), threshold_dq.copy(), ATOD_LIMIT, pixel,
                                    read_pattern)
    part = SimpleNamespace(
        data=data, groupdq=groupdq, pixeldq=pixeldq,
        meta=SimpleNamespace(exposure=SimpleNamespace(read_pattern=read_pattern), cal_step=SimpleNamespace()),
    )
    ref = SimpleNamespace(data=threshold, dq=threshold_dq)
    flag_saturation(part, ref, n_pix_grow_sat=params["n_pix_grow_sat"], backup=params["backup"])
    return part.groupdq, part.pixeldq


def bad_ref_pixel_mask(pixeldq: np.ndarray) -> np.ndarray:
    """Pixels refpix zeroes before its correction (``_mask_bad_ref_pixels``)."""
    from roman_datamodels.dqflags import pixel

    return (pixeldq & pixel.BAD_REF_PIXEL) != 0


def prepare_coefficients(coeffs: np.ndarray, lin_dq: np.ndarray, pixeldq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """stcal's ``prepare_coefficients`` (romancal's linearity step), without its scans that would change nothing.

    stcal always runs three repairs (NO_LIN_CORR pixels, NaN coefficients,
    zero linear terms), each through ``np.where`` over the whole
    coefficient cube (about 1.5 s for a 4096 x 4096 detector, where there is
    usually nothing to repair).  Each repair is a no-op exactly when its
    condition holds nowhere, which one cheap scan tells; otherwise stcal's
    own function does the repair.

    Parameters
    ----------
    coeffs : (n, h, W) float32
        Modified in place where repaired, as stcal does.
    lin_dq : (h, W) uint32
    pixeldq : (h, W) uint32

    Returns
    -------
    coeffs : (n, h, W)
    pixeldq : (h, W) uint32
        A new array: ``pixeldq | lin_dq`` plus NO_LIN_CORR where repaired.
    """
    from roman_datamodels.dqflags import pixel
    from stcal.linearity.linearity import correct_for_flag, correct_for_NaN, correct_for_zero

    from .linearity_kernel import any_nan

    new_pdq = np.bitwise_or(pixeldq, lin_dq)
    if np.any(np.bitwise_and(lin_dq, pixel.NO_LIN_CORR)):
        coeffs = correct_for_flag(coeffs, lin_dq, pixel)
    if any_nan(coeffs):
        coeffs, new_pdq = correct_for_NaN(coeffs, new_pdq, pixel)
    if np.any(coeffs[1] == 0):
        coeffs, new_pdq = correct_for_zero(coeffs, new_pdq, pixel)
    return coeffs, new_pdq


def linearity_band(data: np.ndarray, groupdq: np.ndarray, pixeldq: np.ndarray, lin_coeffs: np.ndarray,
                   lin_dq: np.ndarray, ilin_coeffs: np.ndarray, read_pattern) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """romancal's linearity step (stcal's read-level correction) on a band of rows.

    Parameters
    ----------
    data : (N, h, W) float32, DN
        After refpix.
    groupdq : (N, h, W) uint8
    pixeldq : (h, W) uint32
    lin_coeffs : (ncoeff, h, W) float32
        LINEARITY reference rows (modified: flagged pixels get benign
        coefficients, as in romancal).
    lin_dq : (h, W) uint32
    ilin_coeffs : (ncoeff, h, W) float32
        INVERSELINEARITY reference rows (modified likewise).
    read_pattern : list of list of int

    Returns
    -------
    data : (N, h, W) float32, DN
    groupdq : (N, h, W) uint8
    pixeldq : (h, W) uint32
    """
    from roman_datamodels.dqflags import group, pixel
    from stcal.linearity.linearity import linearity_correction_int

    # stcal's linearity_correction, unrolled for our single integration (for
    # averaged resultants with smaller row tiles: 32 rows of float64
    # temporaries stay in the CPU cache; the arithmetic per pixel is unchanged).
    lin_coeffs, new_pdq = prepare_coefficients(lin_coeffs, lin_dq, pixeldq)
    ilin_coeffs, new_pdq = prepare_coefficients(ilin_coeffs, lin_dq, new_pdq)
    from . import fused

    if fused.single_reads(read_pattern) and data.dtype == lin_coeffs.dtype == ilin_coeffs.dtype == np.float32:
        # Compiled, same arithmetic (see .linearity_kernel), with
        # LinearityStep.process's clip of implausible values folded in.
        from .linearity_kernel import correct

        data = correct(data, groupdq, lin_coeffs, ilin_coeffs, read_pattern, pixel.SATURATED, group.DO_NOT_USE,
                       LINEARITY_CLIP)
        return data, groupdq, new_pdq
    data = linearity_correction_int(data, groupdq, lin_coeffs, pixel, ilin_coeffs=ilin_coeffs, additional_correction=None,
                                    read_pattern=read_pattern, tile_rows=_LINEARITY_TILE_ROWS)
    # LinearityStep.process: clip implausible values and flag them.
    bad = np.abs(data) > LINEARITY_CLIP
    if bad.any():
        data[bad] = np.clip(data[bad], -LINEARITY_CLIP, LINEARITY_CLIP)
        groupdq[bad] |= group.DO_NOT_USE
    return data, groupdq, new_pdq
