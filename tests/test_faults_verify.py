"""``verify_job``: progress, cancel, S3 objects, files without checksums."""

from __future__ import annotations

import threading

import pytest

from processing import synth
from processing.progress import CancelToken, Cancelled, run
from processing.verify import verify_job
from s3_server import s3_bucket, s3_server  # noqa: F401


def test_progress_reaches_one_and_names_blocks(tmp_path):
    path = synth.write_exposure(tmp_path / "v.asdf", frames=6, size=512)
    reports = []
    result = run(verify_job(path), on_progress=reports.append)
    assert result.status == "verified" and len(result.blocks) == 3
    assert reports[-1].fraction == 1.0 and all(0 <= r.fraction <= 1 for r in reports)
    assert [b.index for b in result.blocks] == [0, 1, 2]


def test_cancel_stops_and_leaves_no_thread(tmp_path):
    path = synth.write_exposure(tmp_path / "v.asdf", frames=6, size=512)
    token = CancelToken()
    token.cancel()
    before = threading.active_count()
    with pytest.raises(Cancelled):
        run(verify_job(path), cancel=token)
    assert threading.active_count() <= before


def test_verify_an_s3_object(s3_bucket):  # noqa: F811
    result = run(verify_job(s3_bucket["uri"]["zlib"], endpoint_url=s3_bucket["endpoint_url"]))
    assert result.status == "verified"


def test_a_truncated_file_is_an_exposure_error_or_corrupt(tmp_path):
    from processing.errors import ExposureError

    path = synth.write_exposure(tmp_path / "v.asdf", frames=6, size=512)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ExposureError):
        run(verify_job(path))
