"""The streaming engine's reused buffers: many reads on several threads give the same bytes as fresh arrays.

Pass 2 reads, converts and corrects every read into one set of frames per
pool thread; pass 3 reads each group of reads into buffers that go back to a
pool once written and hashed.  The classic bugs of reuse are two threads
sharing a buffer and a buffer taken again while the writer or the stream
hasher still reads it.  Here a 6-read full-size exposure is calibrated
twice: once on one thread with a fresh array for everything (the engine as
it was), once on three threads with one read per pass-3 piece (18 pieces,
so buffers come back and are taken again many times) and every returned
buffer overwritten with garbage at once.  Every array of the two files must
be the same bytes, and the second file's streamed MD5 checksums must
describe its bytes.
"""

from __future__ import annotations

import functools
import gc
import threading

import asdf
import numpy as np
import pytest
from test_calibrate import full_size_exposure, full_size_refs

from processing.calibrate import calibrate_job, engine_runtime, linearity_pass, streaming
from processing.calibrate.pool_pieces import BufferPool
from processing.calibrate.refpix_pass import RefpixPass, _Buffers
from processing.progress import CancelToken, Cancelled, run

_ARRAYS = ("data", "groupdq", "pixeldq", "amp33", "border_ref_pix_left", "border_ref_pix_right",
           "border_ref_pix_top", "border_ref_pix_bottom")


@pytest.fixture(scope="module")
def refs(tmp_path_factory):
    return full_size_refs(tmp_path_factory)


@pytest.fixture(scope="module")
def six(tmp_path_factory):
    return full_size_exposure(tmp_path_factory, 6)


def _with_workers(monkeypatch, n: int) -> None:
    monkeypatch.setattr(streaming, "streaming_job", functools.partial(streaming.streaming_job, workers=n))


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_reused_buffers_on_three_threads_give_the_bytes_of_fresh_arrays_on_one(six, refs, tmp_path, monkeypatch):
    # The engine as it was: one thread, every buffer a new array.
    with monkeypatch.context() as m:
        _with_workers(m, 1)
        m.setattr(BufferPool, "take", lambda self, shape, dtype: np.empty(shape, dtype))
        m.setattr(RefpixPass, "_buffers", lambda self: _Buffers(
            self.cube.arrays["data"].shape[1:], self.cube.arrays["amp33"].shape[2],
            self.cube.arrays["data"].file_dtype, self.cube.arrays["amp33"].file_dtype))
        run(calibrate_job(six, refs=refs, use_cache=False, out=tmp_path / "fresh.asdf"))

    # Three threads, one read per pass-3 piece, and a returned buffer is
    # poisoned at once: a reader still using it would hash or write garbage.
    _with_workers(monkeypatch, 3)
    monkeypatch.setattr(linearity_pass, "PIECE_BYTES", 1)
    given, reused, threads = [], [], set()
    take, give, call = BufferPool.take, BufferPool.give, RefpixPass.__call__

    def poisoned_give(self, arr):
        arr.view(np.uint8).fill(0xFF)  # NaN in float32, every flag in group DQ
        given.append(arr)
        give(self, arr)

    def counted_take(self, shape, dtype):
        arr = take(self, shape, dtype)
        reused.append(any(np.shares_memory(arr, old) for old in given))
        return arr

    def counted_call(self, k):
        threads.add(threading.get_ident())
        return call(self, k)

    monkeypatch.setattr(BufferPool, "give", poisoned_give)
    monkeypatch.setattr(BufferPool, "take", counted_take)
    monkeypatch.setattr(RefpixPass, "__call__", counted_call)
    run(calibrate_job(six, refs=refs, use_cache=False, out=tmp_path / "reused.asdf"))
    assert sum(reused) >= 10, f"pass 3 took a returned buffer only {sum(reused)} of {len(reused)} times"
    assert len(threads) >= 2, "pass 2 ran on one thread only"

    with asdf.open(tmp_path / "fresh.asdf", lazy_load=False) as a, \
            asdf.open(tmp_path / "reused.asdf", lazy_load=False, validate_checksums=True) as b:
        for name in _ARRAYS:
            x, y = np.asarray(a["roman"][name]), np.asarray(b["roman"][name])
            assert x.dtype == y.dtype and x.shape == y.shape, name
            assert x.tobytes() == y.tobytes(), f"{name} differs"
        assert np.isfinite(np.asarray(b["roman"]["data"])[:, 4:-4, 4:-4]).mean() > 0.99


def test_cancel_in_pass_3_restores_the_process_settings_and_leaves_nothing(six, refs, tmp_path, monkeypatch):
    """A cancel while pass 3's buffers are in flight: no file, no threads, BLAS threads and the GC as before."""
    monkeypatch.setenv("BRIGHTSTAR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(linearity_pass, "PIECE_BYTES", 1)
    blas_before, freeze_before = _blas_threads(), gc.get_freeze_count()
    seen = {}
    token = CancelToken()

    def on_progress(report):
        if "refpix read" in report.message:
            seen["blas"], seen["frozen"] = _blas_threads(), gc.get_freeze_count()
        if "linearity" in report.message and not token.cancelled:
            token.cancel()

    with pytest.raises(Cancelled):
        run(calibrate_job(six, refs=refs), on_progress=on_progress, cancel=token)
    assert seen["blas"] and set(seen["blas"]) == {1} and seen["frozen"] > 0  # applied while running
    assert _blas_threads() == blas_before and gc.get_freeze_count() == freeze_before == 0
    assert not engine_runtime.active()
    assert [t.name for t in threading.enumerate() if t.name.startswith(("calibrate", "stream-sums"))] == []
    cache = tmp_path / "cache" / "calibrated"
    assert not list(cache.glob("*.asdf")) and not list(cache.glob(".partial-*"))


def test_an_error_mid_pass_restores_the_process_settings(six, refs, tmp_path, monkeypatch):
    def broken(self, k):
        if k == 3:
            raise OSError("disk went away")
        return call(self, k)

    call = RefpixPass.__call__
    monkeypatch.setattr(RefpixPass, "__call__", broken)
    blas_before = _blas_threads()
    with pytest.raises(OSError, match="disk went away"):
        run(calibrate_job(six, refs=refs, use_cache=False, out=tmp_path / "x.asdf"))
    assert _blas_threads() == blas_before and gc.get_freeze_count() == 0 and not engine_runtime.active()
    assert not (tmp_path / "x.asdf").exists()
