"""The compiled pass 1 is romancal's dq_init + SaturationStep bit for bit, with refpix's offsets and the linearity plan.

Ramps from the project's generator (``small_set``: TVAC, a star whose core
saturates in read 0 and whose saturated area grows) and a flight
ScienceRawModel with a reference read and an encoding offset, through
romancal's own ``do_dqinit`` and ``flag_saturation`` (stcal's
``flag_saturated_pixels``) on one side and :func:`pass1_kernel.band` on the
other.  The thresholds get the awkward cases: NaN, zero (saturated from read
0), NO_SAT_CHECK, a threshold crossed at the last read only; reads at 0 DN
(A/D floor), BAD_REF_PIXEL pixels.  Every array is compared on its raw bits.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from roman_datamodels import datamodels as rdm
from roman_datamodels.dqflags import group, pixel

from processing.calibrate import linearity_kernel, pass1_kernel, steps
from processing.calibrate.refpix_streaming import _intercepts, intercepts_from_sums, offset_indep
from processing.io import open_exposure


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint8)


@pytest.fixture(scope="module")
def generated(small_set):
    """The generator's illuminated ramp (N, H, W) uint16, its saturation threshold and the star's centre."""
    with open_exposure(small_set["illuminated"]) as exp:
        raw = np.ascontiguousarray(np.asarray(exp.arrays["data"].read()), np.uint16)
    sat = rdm.open(small_set["references"]["saturation"])
    thresh, tdq = np.array(sat.data, np.float32), np.array(sat.dq, np.uint32)
    sat.close()
    return raw, thresh, tdq, small_set["star_center"]


def _awkward(raw, thresh, tdq, star):
    """Copies with the cases the rules treat specially, and the pixel DQ."""
    raw, thresh, tdq = raw.copy(), thresh.copy(), tdq.copy()
    n, h, w = raw.shape
    thresh[3, 4] = np.nan
    thresh[5, 6:9] = 0  # saturated from read 0 on
    tdq[7, 8] = pixel.NO_SAT_CHECK
    tdq[7, 9] = pixel.NO_SAT_CHECK | pixel.DEAD
    tdq[8, 9] = pixel.DO_NOT_USE
    raw[:, 9, 10] = np.arange(1, n + 1) * 1000
    thresh[9, 10] = n * 1000 - 1  # crossed at the last read only
    raw[2, 11, 12] = 0  # A/D floor in one read
    raw[:, 12, 13] = 0
    raw[1, 13, 14] = 60000  # a jump in the second read (the second-group test)
    thresh[13, 14] = 59000
    raw[:, 13, 15] = np.arange(n) * 20000 + 100  # saturates in read 2 after a big second read
    thresh[13, 15] = 30000
    pdq = np.zeros((h, w), np.uint32)
    pdq[0:4] = pixel.REFERENCE_PIXEL | pixel.DO_NOT_USE
    pdq[20, 30:40] |= pixel.BAD_REF_PIXEL
    pdq[star[0], star[1] - 2 : star[1] + 2] |= pixel.BAD_REF_PIXEL  # zeroed where it saturates
    tdq[21, 31] |= pixel.BAD_REF_PIXEL
    pdq[22, 5] = pixel.DEAD
    return raw, thresh, tdq, pdq


def _romancal(model, pdq, thresh, tdq, resultant_dq=None):
    """romancal's do_dqinit (no mask) then flag_saturation; (data float32, groupdq, pixeldq)."""
    from romancal.dq_init.dq_initialization import do_dqinit
    from romancal.saturation.saturation import flag_saturation

    ramp = do_dqinit(model, mask=None)
    if resultant_dq is not None:
        ramp.groupdq = resultant_dq.copy()
    ramp.pixeldq = pdq.copy()
    flag_saturation(ramp, SimpleNamespace(data=thresh, dq=tdq), n_pix_grow_sat=0, backup=0)
    return np.asarray(ramp.data, np.float32), np.asarray(ramp.groupdq), np.asarray(ramp.pixeldq)


def _tvac(raw):
    import astropy.units as u

    model = rdm.TvacModel.create_fake_data(shape=(1, 8, 8))
    n, h, _ = raw.shape
    model.data = u.Quantity(raw, u.DN, dtype=np.uint16)
    model.amp33 = u.Quantity(np.zeros((n, h, 128), np.uint16), u.DN, dtype=np.uint16)
    model.meta.exposure.read_pattern = [[i + 1] for i in range(n)]
    return model


def _kernel(raw, thresh, tdq, pdq, reference=None, offset=0, resultant_dq=None):
    n, h, w = raw.shape
    data, gdq, sums = np.empty(raw.shape, np.float32), np.empty(raw.shape, np.uint8), np.empty((h, w), np.float32)
    plan = (np.empty((h, w), np.int16), np.empty((h, w), np.bool_), np.empty((h, w), np.bool_))
    out_pdq, unsat_g, unsat_p = pass1_kernel.band(
        raw, None if reference is None else pass1_kernel.widened_reference(reference),
        pass1_kernel.widened_offset(offset) if offset else 0.0, resultant_dq, thresh.copy(), tdq.copy(), pdq,
        pass1_kernel.stcal_flags(pixel), [[i + 1] for i in range(n)], 65535.0, data, gdq, sums, plan)
    return SimpleNamespace(data=data, gdq=gdq, pdq=out_pdq, sums=sums, plan=plan, unsat=(unsat_g, unsat_p))


def _check(got, data, gdq, pdq):
    """Everything pass 1 produces against romancal's arrays (and the engine's existing offsets and plan)."""
    np.testing.assert_array_equal(got.gdq, gdq)
    np.testing.assert_array_equal(got.pdq, pdq)
    assert got.pdq.dtype == np.uint32 and got.gdq.dtype == np.uint8
    # refpix zeroes BAD_REF_PIXEL pixels of dq_init's data, then fits its offsets.
    zeroed = data.copy()
    zeroed[:, steps.bad_ref_pixel_mask(pdq)] = 0
    np.testing.assert_array_equal(_bits(got.data), _bits(zeroed))
    n = data.shape[0]
    indep = offset_indep(n, np.float32)
    offsets = intercepts_from_sums(indep, got.sums.reshape(-1), np.matmul(indep, got.data.reshape(n, -1), dtype=np.float32))
    np.testing.assert_array_equal(_bits(offsets.reshape(got.sums.shape)), _bits(_intercepts(zeroed)))
    for mine, theirs in zip(got.plan, linearity_kernel.last_valid(gdq, group.SATURATED)):
        np.testing.assert_array_equal(mine, theirs)
    assert got.unsat == (int(np.count_nonzero(~np.all(gdq & group.SATURATED, axis=0))),
                         int(np.count_nonzero((pdq & pixel.SATURATED) == 0)))


@pytest.mark.parametrize("with_resultant_dq", [False, True])
def test_tvac_band_is_romancals_dq_init_and_saturation(generated, with_resultant_dq):
    raw, thresh, tdq, star = generated
    raw, thresh, tdq, pdq = _awkward(raw, thresh, tdq, star)
    rdq = None
    if with_resultant_dq:
        rdq = np.random.default_rng(3).choice(np.array([0, 0, 0, 1, 4, 2], np.uint8), raw.shape)
        rdq[:, 3:16, 3:16] = 0  # leaves the special pixels' own flags to check below
    data, gdq, out_pdq = _romancal(_tvac(raw), pdq, thresh, tdq, rdq)
    got = _kernel(raw, thresh, tdq, pdq, resultant_dq=rdq)
    _check(got, data, gdq, out_pdq)
    # The cases are there: saturated from read 0, at the last read only, NO_SAT_CHECK, the second-group flag.
    assert gdq[0, 5, 6] & pixel.SATURATED and gdq[0, star[0], star[1]] & pixel.SATURATED
    assert gdq[-1, 9, 10] & pixel.SATURATED and not gdq[-2, 9, 10] & pixel.SATURATED
    assert got.plan[0][9, 10] == raw.shape[0] - 3 and not got.plan[2][9, 10]  # stcal drops the last unsaturated read
    assert not np.any(gdq[:, 7, 8:10] & pixel.SATURATED) and out_pdq[7, 8] & pixel.NO_SAT_CHECK
    assert out_pdq[3, 4] & pixel.NO_SAT_CHECK
    assert gdq[2, 11, 12] & pixel.AD_FLOOR and gdq[2, 11, 12] & pixel.DO_NOT_USE
    # (stcal's second-group DO_NOT_USE test cannot fire with one read per
    # resultant: it needs read 1 over the threshold while read 1 is not
    # SATURATED; the kernel runs it anyway, and the arrays above are equal.)
    assert np.all(got.data[:, 20, 30:40] == 0) and np.any(data[:, 20, 30:40] != 0)


@pytest.mark.parametrize("offset", [0, 2048])
def test_flight_band_with_reference_read_is_romancals(generated, offset):
    raw, thresh, tdq, star = generated
    n, h, w = raw.shape
    raw, thresh, tdq, pdq = _awkward(raw, thresh, tdq, star)
    rng = np.random.default_rng(offset)
    reference = rng.integers(0, 3000, (h, w)).astype(np.uint16)
    stored = np.clip(raw.astype(np.int64) - reference + offset, 0, 65535).astype(np.uint16)  # as L1 files hold it
    model = rdm.ScienceRawModel.create_fake_data(shape=(1, 8, 8))
    model.data = stored
    model.amp33 = np.zeros((n, h, 128), np.uint16)
    model.reference_read = reference
    model.meta.exposure.read_pattern = [[i + 1] for i in range(n)]
    model.meta.instrument.data_encoding_offset = offset
    data, gdq, out_pdq = _romancal(model, pdq, thresh, tdq)
    got = _kernel(stored, thresh, tdq, pdq, reference=reference, offset=offset)
    _check(got, data, gdq, out_pdq)
    assert np.count_nonzero(gdq & pixel.SATURATED) > 0


def test_reference_read_and_offset_promotions_are_numpys():
    """Reference reads of other dtypes and numpy-integer offsets: numpy's float64 arithmetic, then its cast."""
    rng = np.random.default_rng(5)
    raw = rng.integers(0, 65536, (3, 4, 64)).astype(np.uint16)
    thresh, tdq, pdq = np.full((4, 64), 1e9, np.float32), np.zeros((4, 64), np.uint32), np.zeros((4, 64), np.uint32)
    for reference in (rng.normal(0, 1e4, (4, 64)), rng.normal(0, 1e4, (4, 64)).astype(np.float32),
                      rng.integers(-2**30, 2**30, (4, 64)).astype(np.int32)):
        for offset in (0, 3, 1.3, np.int64(7), np.float64(0.1), np.float32(0.7)):
            want = steps.raw_to_float(raw, offset, reference)
            got = _kernel(raw, thresh, tdq, pdq, reference=reference, offset=offset)
            np.testing.assert_array_equal(_bits(got.data), _bits(want), err_msg=f"{reference.dtype} {offset!r}")


def test_bands_straddling_the_star_equal_the_whole(generated):
    raw, thresh, tdq, star = generated
    raw, thresh, tdq, pdq = _awkward(raw, thresh, tdq, star)
    whole = _kernel(raw, thresh, tdq, pdq)
    cut = star[0]
    assert np.any(whole.gdq[:, cut - 1] & pixel.SATURATED) and np.any(whole.gdq[:, cut] & pixel.SATURATED)
    parts = [_kernel(np.ascontiguousarray(raw[:, rows]), thresh[rows], tdq[rows], pdq[rows])
             for rows in (slice(0, cut), slice(cut, None))]
    for name in ("data", "gdq"):
        np.testing.assert_array_equal(_bits(np.concatenate([getattr(p, name) for p in parts], axis=1)), _bits(getattr(whole, name)))
    for name in ("pdq", "sums"):
        np.testing.assert_array_equal(_bits(np.concatenate([getattr(p, name) for p in parts])), _bits(getattr(whole, name)))


def test_all_saturated_counts():
    raw = np.full((3, 2, 8), 100, np.uint16)
    got = _kernel(raw, np.zeros((2, 8), np.float32), np.full((2, 8), pixel.SATURATED, np.uint32), np.zeros((2, 8), np.uint32))
    assert got.unsat == (0, 0)
    raw[:, 1, 3] = 0  # never over a threshold of 0? 0 >= 0: still saturated
    assert _kernel(raw, np.zeros((2, 8), np.float32), np.zeros((2, 8), np.uint32), np.zeros((2, 8), np.uint32)).unsat == (0, 16)
    thresh = np.zeros((2, 8), np.float32)
    thresh[1, 3] = np.nan  # NO_SAT_CHECK: never saturated
    assert _kernel(raw, thresh, np.zeros((2, 8), np.uint32), np.zeros((2, 8), np.uint32)).unsat == (1, 16)


def test_compiled_pass1_declines_what_it_does_not_reproduce(monkeypatch):
    from processing.calibrate.pass1_bands import compiled_pass1

    data = SimpleNamespace(fd=0, offset=0, row_bytes=8, file_dtype=np.dtype(np.uint16), shape=(3, 4, 4))
    cube = SimpleNamespace(arrays={"data": data})
    f32, u32 = SimpleNamespace(dtype=np.dtype(np.float32)), SimpleNamespace(dtype=np.dtype(np.uint32))
    single = [[1], [2], [3]]
    assert compiled_pass1(cube, f32, u32, single, 0, None) is None
    assert compiled_pass1(cube, f32, u32, [[1], [2, 3], [4]], 0, None) == "averaged resultants"
    assert compiled_pass1(cube, SimpleNamespace(dtype=np.dtype(np.float64)), u32, single, 0, None)
    assert compiled_pass1(cube, f32, u32, single, np.longdouble(3), None)
    assert compiled_pass1(SimpleNamespace(arrays={"data": SimpleNamespace(shape=(3, 4, 4))}), f32, u32, single, 0, None)
    monkeypatch.setitem(steps.STEP_PARAMETERS, "saturation", {"n_pix_grow_sat": 1, "backup": 0})
    assert compiled_pass1(cube, f32, u32, single, 0, None) == "saturation growth or back-up"


def test_warm_up_gives_the_engines_one_signature():
    pass1_kernel.warm()
    linearity_kernel.warm()
    assert len(pass1_kernel._band.signatures) == 1  # also after every call of the tests above


def test_engine_pass1_compiled_equals_its_numpy_path(tmp_path_factory, tmp_path, monkeypatch):
    """The full-size engine with the compiled pass 1 writes the bytes its numpy pass 1 writes (every array)."""
    from test_calibrate import full_size_exposure, full_size_refs

    from processing.calibrate import calibrate_job, pass1_bands, streaming
    from processing.progress import run

    exposure, refs = full_size_exposure(tmp_path_factory, 3), full_size_refs(tmp_path_factory)
    calls = []
    original = pass1_bands.Pass1Bands.__call__
    monkeypatch.setattr(pass1_bands.Pass1Bands, "__call__", lambda self, piece: calls.append(piece) or original(self, piece))
    compiled = run(calibrate_job(exposure, refs=refs, engine="streaming", use_cache=False, out=tmp_path / "compiled.asdf"))
    assert len(calls) == 8  # 512-row bands of 3 reads
    monkeypatch.setattr(streaming, "compiled_pass1", lambda *args: "forced off by the test")
    numpy_path = run(calibrate_job(exposure, refs=refs, engine="streaming", use_cache=False, out=tmp_path / "numpy.asdf"))
    assert len(calls) == 8  # 512-row bands of 3 reads
    with open_exposure(compiled.path) as a, open_exposure(numpy_path.path) as b:
        assert set(a.arrays) == set(b.arrays)
        for name in a.arrays:
            x, y = np.asarray(a.arrays[name].read()), np.asarray(b.arrays[name].read())
            assert x.dtype == y.dtype and np.array_equal(_bits(x), _bits(y)), name
        assert np.count_nonzero(np.asarray(a.arrays["groupdq"].read()) & group.SATURATED) > 0
    assert len(pass1_kernel._band.signatures) == 1
