"""FrameCorrector, one read at a time, gives romancal's whole-cube refpix bits.

The reads come from the project's generator (4096 columns, as refpix
requires); romancal's ``run_steps`` accepts any number of rows, so the frames
are cut to 256 rows (the generator's top 192 rows with its star and the
bottom 64, so that the first and last four rows are the detector's reference
rows).  romancal runs on the whole cube, ours read by read from
``offset_band``'s intercepts, and the outputs are compared bit for bit
(float32 bit patterns, so signed zeros and NaN positions count).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from romancal.refpix._data import ChannelView, Coefficients
from romancal.refpix.refpix import run_steps
from roman_datamodels.dqflags import pixel

from processing import synth
from processing.calibrate.refpix_amp33 import Amp33Interpolator
from processing.calibrate.refpix_streaming import FrameCorrector, offset_band
from processing.synth_detector import Detector
from processing.synth_reads import generate_frames
from processing.synth_references import refpix_alpha

READS, TOP, BOTTOM = 4, 192, 64
ROWS = TOP + BOTTOM
BAD_CHANNEL = 5  # every reference-row pixel of this channel is flagged: romancal skips its fit


@pytest.fixture(scope="module")
def generated():
    """(detector float32 (N, 256, 4096) after BAD_REF_PIXEL zeroing, amp33 uint16 (N, 256, 128), pixeldq)."""
    cfg = synth.SynthConfig(frames=READS, size=4096, seed=19, star_center=(96, 2100))
    det = Detector(cfg)
    frames, amps = [], []
    for _, frame, amp in generate_frames(cfg, det, illuminated=True):
        frames.append(np.concatenate([frame[:TOP], frame[-BOTTOM:]]))
        amps.append(np.concatenate([amp[:TOP], amp[-BOTTOM:]]))
    data = np.stack(frames).astype(np.float32)  # dq_init: uint16 -> float32 (TVAC: no offset)
    amp33 = np.stack(amps)
    assert data.max() >= 60_000, "the star should saturate the crop"
    pixeldq = np.zeros((ROWS, 4096), np.uint32)
    pixeldq[:4, BAD_CHANNEL * 128 : (BAD_CHANNEL + 1) * 128] = pixel.BAD_REF_PIXEL
    pixeldq[-4:, BAD_CHANNEL * 128 : (BAD_CHANNEL + 1) * 128] = pixel.BAD_REF_PIXEL
    pixeldq[[7, 40, 200], [1, 4093, 3]] = pixel.BAD_REF_PIXEL  # left and right reference columns
    pixeldq[2, 700] = pixel.BAD_REF_PIXEL | pixel.DEAD
    data[2, 150, 3000] = np.nan  # a NaN science pixel: NaN in every read after remove_offset
    return data, amp33, pixeldq


def _distinct(rows: int) -> Coefficients:
    """32 different channels, except 3 == 4 (shared inverse FFT) and 7 without zeta (a term left out)."""
    rng = np.random.default_rng(5)
    nfreq = rows * 140 // 2 + 1
    scale = rows * 140 / (2 * nfreq)
    gamma = (rng.normal(0, 2e-3, (32, nfreq)) + 1j * rng.normal(0, 2e-3, (32, nfreq))) * scale
    zeta = (rng.normal(0, 2e-3, (32, nfreq)) + 1j * rng.normal(0, 2e-3, (32, nfreq))) * scale
    alpha = np.ones((32, nfreq), np.complex128) * scale * (1 + 0.02 * np.arange(32))[:, None]
    gamma[3], zeta[3], alpha[3] = gamma[4], zeta[4], alpha[4]
    zeta[7] = 0
    return Coefficients(gamma, zeta, alpha)


def _generator_refpix(rows: int) -> Coefficients:
    alpha = refpix_alpha(rows)
    return Coefficients(np.zeros_like(alpha), np.zeros_like(alpha), alpha)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, np.float32).view(np.uint32)


@pytest.mark.parametrize("make_coeffs,spectra", [(_generator_refpix, "compiled"), (_distinct, "compiled"), (_distinct, "numpy")],
                         ids=["generator-refpix", "distinct-channels", "distinct-channels-numpy-spectra"])
def test_read_by_read_equals_romancal_whole_cube(generated, make_coeffs, spectra, monkeypatch):
    from processing.calibrate import refpix_streaming

    if spectra == "numpy":  # the fallback where the compiled spectra would not give numpy's bits
        monkeypatch.setattr(refpix_streaming, "spectra_match_numpy", lambda: False)
        monkeypatch.setattr(refpix_streaming, "fused_spectra", None)
    else:
        assert refpix_streaming.spectra_match_numpy(), "this machine's numpy complex multiply is not the FMA one"
    data, amp33, pixeldq = generated
    coeffs = make_coeffs(ROWS)
    model = SimpleNamespace(data=data.copy(), amp33=amp33.copy(), pixeldq=pixeldq)
    run_steps(model, SimpleNamespace(gamma=coeffs.gamma, zeta=coeffs.zeta, alpha=coeffs.alpha))

    ours = data.copy()
    ours[:, (pixeldq & pixel.BAD_REF_PIXEL) != 0] = 0  # refpix's _mask_bad_ref_pixels
    amp = amp33.astype(np.float32)
    corrector = FrameCorrector(coeffs, offset_band(ours, amp))
    assert len(corrector.unique) == (1 if make_coeffs is _generator_refpix else 31)
    for k in range(READS):
        det, amp_out = corrector.correct(ours[k], amp[k])
        want = model.data[k]
        assert np.array_equal(np.isnan(det), np.isnan(want))
        assert np.isnan(want).sum() == 1 and np.isnan(want[150, 3000])
        finite = ~np.isnan(want)
        assert np.max(np.abs(det[finite] - want[finite])) == 0
        np.testing.assert_array_equal(_bits(det), _bits(want))
        np.testing.assert_array_equal(np.abs(amp_out).astype(np.uint16), model.amp33[k])
        # The correction did something: the corrected frame is not the input.
        assert np.abs(det[finite] - ours[k][finite]).max() > 1


def test_in_place_and_pooled_give_the_same_bits(generated):
    from concurrent.futures import ThreadPoolExecutor

    data, amp33, pixeldq = generated
    coeffs = _distinct(ROWS)
    ours = data.copy()
    ours[:, (pixeldq & pixel.BAD_REF_PIXEL) != 0] = 0
    amp = amp33.astype(np.float32)
    offset = offset_band(ours, amp)
    plain = FrameCorrector(coeffs, offset)
    with ThreadPoolExecutor(2) as pool:
        pooled = FrameCorrector(coeffs, offset, pool=pool)
        want, want_amp = plain.correct(ours[1], amp[1])
        got, got_amp = pooled.correct(ours[1], amp[1])
        np.testing.assert_array_equal(_bits(got), _bits(want))
        np.testing.assert_array_equal(_bits(got_amp), _bits(want_amp))
        frame = ours[1].copy()
        got, _ = plain.correct(frame, amp[1], out=frame)
        assert got is frame
        np.testing.assert_array_equal(_bits(frame), _bits(want))
        # Two reads at once on two threads (as the streaming engine runs them).
        both = list(pool.map(lambda k: plain.correct(ours[k], amp[k])[0], (0, 1)))
        np.testing.assert_array_equal(_bits(both[1]), _bits(want))
    with pytest.raises(ValueError, match="out must be a C-contiguous float32"):
        plain.correct(ours[1], amp[1], out=np.empty((ROWS, 4096), np.float64))
    with pytest.raises(ValueError, match="float32 frames of shape"):
        plain.correct(ours[1].astype(np.float64), amp[1])  # romancal's data are float32 after dq_init
    with pytest.raises(ValueError, match="amp33 frame of shape"):
        plain.correct(ours[1], amp[1, :, :64])


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_amp33_interpolations_equal_romancal_as_the_mask_changes():
    """The cached mask convolution is reused only while the mask is the same."""
    rows = 64
    rng = np.random.default_rng(3)
    frames = rng.normal(0, 30, (4, rows, 140)).astype(np.float32)
    frames[..., 128:] = 0  # the pad columns
    frames[1, 10, 20:25] = 0  # read 1 has more zeros (a different mask) ...
    frames[3] = frames[0]  # ... and read 3 the mask of read 0 again
    frames[2, 5, 7] = np.inf  # cov / mask_conv and nan_to_num on non-finite values
    frames[2, 30, 3] = -np.inf
    interp = Amp33Interpolator(rows)
    for k in (0, 1, 2, 3, 0):
        want = np.zeros((33, 1, rows, 140), np.float32)
        want[-1, 0] = frames[k]
        view = ChannelView(want)
        view.cosine_interpolate()
        view.fft_interpolate()
        got = frames[k].copy()
        interp.cosine(got)
        interp.fft(got)
        np.testing.assert_array_equal(_bits(got), _bits(want[-1, 0]))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_a_nan_reference_column_poisons_every_channel_as_in_romancal(generated):
    """gamma = 0 lets the left FFT be skipped only while it is finite: NaN * 0 is NaN in romancal."""
    data, amp33, pixeldq = generated
    data = data.copy()
    data[1, 100, 2] = np.nan  # a left reference column, outside the reference rows (the fits stay finite)
    coeffs = _generator_refpix(ROWS)
    model = SimpleNamespace(data=data.copy(), amp33=amp33.copy(), pixeldq=pixeldq)
    run_steps(model, SimpleNamespace(gamma=coeffs.gamma, zeta=coeffs.zeta, alpha=coeffs.alpha))
    assert np.isnan(model.data).all()  # what romancal does with it
    ours = data.copy()
    ours[:, (pixeldq & pixel.BAD_REF_PIXEL) != 0] = 0
    amp = amp33.astype(np.float32)
    corrector = FrameCorrector(coeffs, offset_band(ours, amp))
    for k in (0, 3):
        det, amp_out = corrector.correct(ours[k], amp[k])
        np.testing.assert_array_equal(_bits(det), _bits(model.data[k]))
        np.testing.assert_array_equal(np.abs(amp_out).astype(np.uint16), model.amp33[k])


def test_warm_up_compiles_what_the_corrector_calls(generated):
    """Every argument type the corrector passes is the one warm_up loaded: no compile in pass 2."""
    from processing.calibrate import refpix_kernel

    refpix_kernel.warm_up()
    kernels = (refpix_kernel.fused_pass, refpix_kernel.cosine_fill, refpix_kernel.spectra)
    before = tuple(len(k.signatures) for k in kernels)
    data, amp33, _ = generated
    ours = np.nan_to_num(data)
    amp = amp33.astype(np.float32)
    offset = offset_band(ours, amp)
    for coeffs in (_generator_refpix(ROWS), _distinct(ROWS)):
        corrector = FrameCorrector(coeffs, offset)
        for k in (0, 1, 1):  # the mask convolution computed, then reused
            corrector.correct(ours[k], amp[k])
        corrector.correct(ours[2], amp[2], out=ours[2].copy())
    assert tuple(len(k.signatures) for k in kernels) == before == (1, 1, 1)


@pytest.mark.parametrize("which", ["compiled", "numpy"])
def test_correction_spectra_have_romancals_float64_bits(which):
    """The spectra before the inverse FFT, bit for bit (a 1-ulp float64 difference seldom shows in float32 output)."""
    from processing.calibrate import refpix_kernel

    if which == "compiled" and not refpix_kernel.spectra_match_numpy():
        pytest.skip("numpy's complex multiply here is not the FMA one: the corrector uses numpy's ufuncs")
    rng = np.random.default_rng(8)
    nfreq = 5001
    left, right, amp33 = (rng.normal(0, 50, (1, 2 * nfreq)).astype(np.float32).view(np.complex64) for _ in range(3))
    coeffs = _distinct(70)  # 70 rows x 140 columns: 4901 frequencies
    gamma, zeta, alpha = (np.resize(a, (32, nfreq)) for a in (coeffs.gamma, coeffs.zeta, coeffs.alpha))
    zeta[7] = 0
    normalization = nfreq * 2
    channels = [0, 3, 7, 31]
    use = np.array([[True, c != 7, True] for c in channels])
    got = np.empty((len(channels), nfreq), np.complex128)
    run = refpix_kernel.spectra if which == "compiled" else refpix_kernel.numpy_spectra
    run(left[0].astype(np.complex128), right[0].astype(np.complex128), amp33[0].astype(np.complex128), gamma, zeta, alpha,
        np.array(channels, np.int64), use, float(normalization) if which == "compiled" else normalization, got)
    for i, c in enumerate(channels):
        # ReferenceFFT.channel_correction's expression, before its irfft.
        want = (np.multiply(left, gamma[c]) + np.multiply(right, zeta[c]) + np.multiply(amp33, alpha[c])) * normalization
        np.testing.assert_array_equal(got[i].view(np.uint64), want[0].view(np.uint64))
