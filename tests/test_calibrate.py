"""processing.calibrate: the public API, cache behaviour, cancel, references, CLI.

Refpix needs full 4096 x 4096 frames, so these tests use a 3-read full-size
exposure (seconds to calibrate).  Equality with romancal's whole-cube
pipeline is tested in test_calibrate_equality.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from processing import synth
from processing.cache import DiskCache
from processing.calibrate import CalibrationResult, calibrate_job, find_cached, references
from processing.errors import ExposureError, ReferenceFileError
from processing.io import open_exposure
from processing.progress import CancelToken, Cancelled, run


def full_size_refs(tmp_path_factory) -> Path:
    """The synthetic 4096 x 4096 reference files, written once per session."""
    root = tmp_path_factory.getbasetemp() / "calibrate-refs-4096"
    if not (root / "complete").exists():
        run(synth.write_reference_files_job(root / "references", synth.SynthConfig(frames=2, size=4096, seed=0)))
        (root / "complete").write_text("ok")
    return root / "references"


def full_size_exposure(tmp_path_factory, frames: int) -> Path:
    """A full-size synthetic exposure of ``frames`` reads (same detector as the references)."""
    path = tmp_path_factory.getbasetemp() / f"calibrate-exp-{frames}" / "TVAC2_TEST_WFI11_uncal.asdf"
    if not path.exists():
        synth.write_exposure(path, frames=frames, size=4096, seed=0)
    return path


@pytest.fixture(scope="module")
def refs(tmp_path_factory):
    return full_size_refs(tmp_path_factory)


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    return full_size_exposure(tmp_path_factory, 3)


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A cache directory of the test's own (the session's is shared)."""
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def calibrated(three, refs) -> CalibrationResult:
    return run(calibrate_job(three, refs=refs))


def _copy_entry(result: CalibrationResult, cache_root: Path) -> Path:
    """Put a copy of ``result``'s cache entry (data and manifest) into the cache at ``cache_root``.

    The same entry a calibration of the same input with the same references
    commits, without computing it again; a copy (not a link), so that a test
    may damage it.
    """
    target = cache_root / "calibrated"
    target.mkdir(parents=True, exist_ok=True)
    manifest = result.path.with_suffix(".json")
    assert manifest.exists() and result.key == result.path.stem
    shutil.copyfile(result.path, target / result.path.name)
    shutil.copyfile(manifest, target / manifest.name)
    return target / result.path.name


def _valid_entries(cache_root: Path) -> list[Path]:
    return [p for p in (cache_root / "calibrated").glob("*.asdf")] if (cache_root / "calibrated").exists() else []


# -- the result -----------------------------------------------------------------------------


def test_result_is_a_ramp_model_the_viewer_reads_fast(calibrated, three):
    assert isinstance(calibrated, CalibrationResult) and not calibrated.from_cache
    assert {k: calibrated.cal_step[k] for k in ("dq_init", "saturation", "refpix", "linearity")} == dict.fromkeys(
        ("dq_init", "saturation", "refpix", "linearity"), "COMPLETE")
    assert calibrated.cal_step["ramp_fit"] == "SKIPPED" and calibrated.cal_step["dark_decay"] == "SKIPPED"
    assert Path(calibrated.ref_files["mask"]).name == "roman_wfi_mask_synth.asdf"
    assert calibrated.ref_files["integralnonlinearity"] == "N/A"
    with open_exposure(calibrated.path) as exp:
        assert exp.model_type == "RampModel" and exp.compression is None
        assert exp.shape == (3, 4096, 4096) and exp.dtype == np.float32
        assert exp.arrays["groupdq"].shape == exp.shape and exp.arrays["pixeldq"].shape == (4096, 4096)
        # The viewer's hot path (best of five: the machine is shared).  Every
        # read of a cache entry is checked against its band checksums (issue
        # 10: at most ~10 ms more for a 4096 x 4096 float32 frame).
        assert exp.data.check is not None
        # Against the machine's own speed now: a bare pread of the same bytes,
        # taken just before each frame read so that both see the same load.
        block = exp.layout.blocks[exp.data.ref.source]
        fd = os.open(calibrated.path, os.O_RDONLY)
        frame_s, cut_s, bare = [], [], []
        for k in (0, 1, 2, 1, 0):
            t0 = time.perf_counter()
            os.preadv(fd, [np.empty(4096 * 4096 * 4, np.uint8)], block.data_offset + exp.data.ref.offset + k * 4096 * 4096 * 4)
            bare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            frame = np.asarray(exp.frame(k))  # already an array of its own (pread, not a map view)
            frame_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            cut = exp.cutout(1644, 2156, 1644, 2156)
            cut_s.append(time.perf_counter() - t0)
        os.close(fd)
        assert frame.shape == (4096, 4096) and cut.shape == (3, 512, 512)
        # A bound that a shared machine keeps (0.073 s against 0.064 s was seen
        # under load 10) but that a whole-frame decode or a second copy breaks;
        # the speed itself is measured in bench/, not here.
        assert min(frame_s) <= max(0.060, 2 * min(bare) + 0.030), (frame_s, bare)
        assert min(cut_s) <= 0.100, cut_s
        # Calibrated: bias-level data, the saturated core flagged.
        assert 9_000 < float(np.median(frame)) < 14_000
        assert exp.arrays["groupdq"].frame(2).any()


def test_second_call_is_a_cache_hit(calibrated, three, refs):
    t0 = time.perf_counter()
    again = run(calibrate_job(three, refs=refs))
    assert again.from_cache and again.path == calibrated.path
    assert again.cal_step == calibrated.cal_step
    assert time.perf_counter() - t0 < 10
    assert find_cached(three, refs=refs) == calibrated.path
    assert find_cached(three, refs=refs, engine="romancal") is None


def test_cache_key_follows_the_input_and_the_references(calibrated, three, refs, tmp_path):
    copy = tmp_path / three.name
    copy.write_bytes(three.read_bytes())
    assert find_cached(copy, refs=refs) is None  # another file is another input
    other_refs = tmp_path / "refs"
    other_refs.mkdir()
    for path in refs.iterdir():
        if path.name == "roman_wfi_saturation_synth.asdf":
            # A copy, not a link: the new time must not reach the module's
            # references (a link shares them, and every later key would change).
            shutil.copy2(path, other_refs / path.name)
        else:
            os.link(path, other_refs / path.name)
    os.utime(other_refs / "roman_wfi_saturation_synth.asdf", (1, 1))
    assert (refs / "roman_wfi_saturation_synth.asdf").stat().st_mtime > 1
    assert find_cached(three, refs=other_refs) is None


# -- cancel and crashes ----------------------------------------------------------------------


def test_cancel_stops_within_two_seconds_and_leaves_no_entry(three, refs, own_cache):
    token = CancelToken()
    when = {}

    def on_progress(report):
        if "refpix read" in report.message and not token.cancelled:
            when["cancel"] = time.perf_counter()
            token.cancel()

    with pytest.raises(Cancelled):
        run(calibrate_job(three, refs=refs), on_progress=on_progress, cancel=token)
    assert time.perf_counter() - when["cancel"] < 2.0
    assert find_cached(three, refs=refs) is None
    assert _valid_entries(own_cache) == []
    assert not list((own_cache / "calibrated").glob(".partial-*"))


def test_closing_the_generator_mid_pass_cleans_up(three, refs, own_cache):
    job = calibrate_job(three, refs=refs)
    for report in job:
        if "saturation" in report.message:
            break
    t0 = time.perf_counter()
    job.close()  # what a GUI worker does when the user cancels
    # The close returns (a pass left waiting on its pool would hang; it takes
    # well under a second, the bound is for a loaded machine), its worker
    # threads are stopped, and nothing is left in the cache.
    assert time.perf_counter() - t0 < 20.0
    assert [t.name for t in threading.enumerate() if t.name.startswith("calibrate")] == []
    assert _valid_entries(own_cache) == [] and not list((own_cache / "calibrated").glob(".partial-*"))


_CALIBRATE = textwrap.dedent(
    """
    import sys
    from processing.calibrate import calibrate_job
    for report in calibrate_job(sys.argv[1], refs=sys.argv[2]):
        print(report.message, flush=True)
    """
)


def test_kill_minus_9_mid_calibration_leaves_nothing_valid_and_a_rerun_works(three, refs, own_cache):
    env = dict(os.environ, BRIGHTSTAR_CACHE_DIR=str(own_cache))
    proc = subprocess.Popen([sys.executable, "-c", _CALIBRATE, str(three), str(refs)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:
            if "refpix read" in line:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert find_cached(three, refs=refs) is None
    DiskCache()  # opening the cache removes the dead writer's scratch space
    assert not list((own_cache / "calibrated").glob(".partial-*"))
    result = run(calibrate_job(three, refs=refs))
    assert not result.from_cache and find_cached(three, refs=refs) == result.path


def test_corrupted_entry_is_detected_and_rebuilt(calibrated, three, refs, own_cache):
    first = _copy_entry(calibrated, own_cache)
    assert find_cached(three, refs=refs) == first  # a valid entry, as a calibration leaves it
    with open(first, "r+b") as fh:
        fh.truncate(first.stat().st_size // 2)
    assert find_cached(three, refs=refs) is None
    rebuilt = run(calibrate_job(three, refs=refs))
    assert not rebuilt.from_cache
    with open_exposure(rebuilt.path) as exp:
        assert exp.shape == (3, 4096, 4096)
    assert find_cached(three, refs=refs) == rebuilt.path
    with open(rebuilt.path, "r+b") as fh:  # garbage over the ASDF tree
        fh.write(os.urandom(4096))
    assert find_cached(three, refs=refs) is None
    assert not rebuilt.path.exists()  # removed, so the next calibration rebuilds it


# -- reference files ---------------------------------------------------------------------------


def test_offline_without_crds_generates_synthetic_references_and_opens_no_socket(three, own_cache, monkeypatch):
    monkeypatch.delenv("CRDS_SERVER_URL", raising=False)
    monkeypatch.delenv("BRIGHTSTAR_REFS_DIR", raising=False)
    monkeypatch.delenv("CRDS_PATH", raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError(f"network use while offline: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    result = run(calibrate_job(three))
    assert result.references_source == "synthetic"
    assert Path(result.ref_files["mask"]).is_relative_to(own_cache)
    assert result.cal_step["refpix"] == "COMPLETE"


def test_an_exposure_of_a_synthetic_set_uses_that_sets_references(small_set):
    found = references.find_synthetic(small_set["illuminated"], 256)
    assert found is not None and found.paths == small_set["references"]


def test_reference_directory_with_a_missing_type(three, refs, tmp_path):
    partial = tmp_path / "refs"
    partial.mkdir()
    for path in refs.iterdir():
        if "refpix" not in path.name:
            os.link(path, partial / path.name)
    with pytest.raises(ReferenceFileError, match="no refpix reference file"):
        run(calibrate_job(three, refs=partial))
    with pytest.raises(ReferenceFileError, match="does not exist"):
        run(calibrate_job(three, refs=tmp_path / "nowhere"))


def test_bad_reference_files_are_named(three, refs, small_set, tmp_path):
    good = {t: refs / f"roman_wfi_{t}_synth.asdf" for t in references.REFERENCE_TYPES}
    with pytest.raises(ReferenceFileError, match=r"roman_wfi_mask_synth\.asdf.*shape \(256, 256\).*4096 x 4096"):
        run(calibrate_job(three, refs={**good, "mask": small_set["references"]["mask"]}))
    garbage = tmp_path / "garbage.asdf"
    garbage.write_bytes(os.urandom(5000))
    with pytest.raises(ReferenceFileError, match="garbage.asdf"):
        run(calibrate_job(three, refs={**good, "linearity": garbage}))
    truncated = tmp_path / "roman_wfi_saturation_cut.asdf"
    truncated.write_bytes(good["saturation"].read_bytes()[:200_000])
    with pytest.raises(ReferenceFileError, match="saturation_cut.asdf.*truncated"):
        run(calibrate_job(three, refs={**good, "saturation": truncated}))
    with pytest.raises(ReferenceFileError, match="is a saturation reference file; a mask"):
        run(calibrate_job(three, refs={**good, "mask": good["saturation"]}))
    with pytest.raises(ReferenceFileError, match="no such reference file"):
        run(calibrate_job(three, refs={**good, "refpix": tmp_path / "missing.asdf"}))


_UNREACHABLE_CRDS = textwrap.dedent(
    """
    import sys
    from processing.calibrate import calibrate_job
    from processing.errors import ReferenceFileError
    from processing.progress import run
    try:
        run(calibrate_job(sys.argv[1]))
    except ReferenceFileError as err:
        print("ReferenceFileError:", err)
    """
)


def test_unreachable_crds_server_is_an_error_not_an_exit(three, tmp_path):
    env = dict(os.environ, CRDS_SERVER_URL="http://127.0.0.1:9", CRDS_PATH=str(tmp_path / "crds"),
               BRIGHTSTAR_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("BRIGHTSTAR_REFS_DIR", None)
    done = subprocess.run([sys.executable, "-c", _UNREACHABLE_CRDS, str(three)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ReferenceFileError:" in done.stdout and "CRDS" in done.stdout


# -- inputs and CLI -------------------------------------------------------------------------------


def test_rejects_calibrated_and_small_exposures(calibrated, small_set):
    with pytest.raises(ExposureError, match="is a RampModel"):
        run(calibrate_job(calibrated.path))
    with pytest.raises(ExposureError, match="refpix needs 4096"):
        run(calibrate_job(small_set["illuminated"]))
    with pytest.raises(ValueError, match="unknown engine"):
        run(calibrate_job(small_set["illuminated"], engine="fast"))


def test_cli_calibrate(three, refs, tmp_path, capsys):
    from processing.cli import main

    out = tmp_path / "out" / "calibrated.asdf"
    assert main(["calibrate", str(three), "--refs", str(refs), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == str(out) and "refpix COMPLETE" in printed[1]
    with open_exposure(out) as exp:
        assert exp.model_type == "RampModel" and exp.shape == (3, 4096, 4096)
    assert main(["calibrate", str(three), "--refs", str(tmp_path / "none"), "--quiet"]) == 2


def test_skipped_step_fields_match_romancal():
    from romancal.pipeline import ExposurePipeline

    from processing.calibrate.steps import SKIPPED_STEPS

    assert {name: ExposurePipeline.step_defs[name].class_alias for name in SKIPPED_STEPS} == SKIPPED_STEPS
    ran = set(ExposurePipeline.step_defs) - set(SKIPPED_STEPS)
    assert ran == {"dq_init", "saturation", "refpix", "linearity"}


# -- refpix, frame by frame, with coefficients that differ per channel ------------------------------


def test_frame_by_frame_refpix_equals_romancal_with_distinct_channel_coefficients():
    """The synthetic references give every channel the same coefficients; real ones do not."""
    from types import SimpleNamespace

    from romancal.refpix._data import Coefficients
    from romancal.refpix.refpix import run_steps
    from roman_datamodels.dqflags import pixel

    from processing.calibrate.refpix_streaming import FrameCorrector, offset_band

    rng = np.random.default_rng(5)
    n, rows = 5, 64  # refpix needs 4096 columns but any number of rows
    detector = (11_000 + rng.normal(0, 20, (n, rows, 4096)) + 40 * np.arange(n)[:, None, None]).astype(np.float32)
    detector[:, :, :4] = detector[:, :, -4:] = detector[:, :4] = detector[:, -4:] = 9_000 + rng.normal(0, 5, 1)[0]
    amp33 = (11_200 + rng.normal(0, 8, (n, rows, 128))).astype(np.float32)
    nfreq = rows * 140 // 2 + 1
    scale = rows * 140 / (2 * nfreq)
    gamma = (rng.normal(0, 1e-3, (32, nfreq)) + 1j * rng.normal(0, 1e-3, (32, nfreq))) * scale
    zeta = (rng.normal(0, 1e-3, (32, nfreq)) + 1j * rng.normal(0, 1e-3, (32, nfreq))) * scale
    alpha = np.ones((32, nfreq), np.complex128) * scale * (1 + 0.01 * np.arange(32))[:, None]
    gamma[3], zeta[3], alpha[3] = gamma[4], zeta[4], alpha[4]  # identical channels share one inverse FFT
    zeta[7] = 0  # an all-zero term is left out
    pixeldq = np.zeros((rows, 4096), np.uint32)
    pixeldq[10, 2] = pixel.BAD_REF_PIXEL

    model = SimpleNamespace(data=detector.copy(), amp33=amp33.astype(np.uint16), pixeldq=pixeldq)
    run_steps(model, SimpleNamespace(gamma=gamma, zeta=zeta, alpha=alpha))

    ours = detector.copy()
    ours[:, pixeldq & pixel.BAD_REF_PIXEL != 0] = 0
    amp = amp33.astype(np.uint16).astype(np.float32)
    corrector = FrameCorrector(Coefficients(gamma, zeta, alpha), offset_band(ours, amp))
    assert len(corrector.unique) == 31
    for k in range(n):
        det, amp_out = corrector.correct(ours[k], amp[k])
        np.testing.assert_array_equal(det, model.data[k])
        np.testing.assert_array_equal(np.abs(amp_out).astype(np.uint16), model.amp33[k])


def test_extra_arrays_of_the_input_pass_through(three, refs, tmp_path):
    """Real TVAC files carry reset reads and a reference read; romancal copies them into the RampModel."""
    import astropy.units as u
    from roman_datamodels import datamodels as rdm

    source = tmp_path / "with_resets_uncal.asdf"
    resets = np.random.default_rng(2).integers(10_000, 12_000, (2, 4096, 4096)).astype(np.uint16)
    with rdm.open(three) as model:
        model.reset_reads = u.Quantity(resets, u.DN, dtype=np.uint16)
        model.save(source, all_array_compression=None)
    result = run(calibrate_job(source, refs=refs, use_cache=False, out=tmp_path / "out.asdf"))
    with open_exposure(result.path) as exp:
        arr = exp.arrays["reset_reads"]
        assert arr.shape == (2, 4096, 4096) and arr.dtype == np.uint16 and arr.ref.unit == "DN"
        np.testing.assert_array_equal(arr.read(), resets)


@pytest.mark.parametrize("compression", ["lz4", None, "zlib"])
def test_reference_arrays_read_by_rows_equal_the_whole(small_set, tmp_path, compression):
    from roman_datamodels import datamodels as rdm

    from processing.calibrate.ref_arrays import RefArray

    path = tmp_path / f"roman_wfi_linearity_{compression}.asdf"
    with rdm.open(small_set["references"]["linearity"]) as model:
        whole = np.array(model.coeffs)
        model.save(path, all_array_compression=compression)
    coeffs = RefArray(path, "coeffs")
    dq = RefArray(path, "dq")
    try:
        for y0, y1 in ((0, 64), (64, 200), (200, 256)):
            np.testing.assert_array_equal(coeffs.rows(y0, y1), whole[:, y0:y1])
            assert dq.rows(y0, y1).shape == (y1 - y0, 256)
    finally:
        coeffs.close()
        dq.close()
