"""``brightstar campaign index``: metadata and star positions from trees and two reads, locally and over S3."""

from __future__ import annotations

import math

import pytest
from s3_server import TcpProxy, make_public_bucket, s3_server, upload  # noqa: F401  (pytest fixtures)

from processing.campaign.index import INDEX_COLUMNS, build_index_job, read_index, write_index
from processing.cli import main
from processing.progress import run


def _check_rows(rows, campaign):
    assert len(rows) == len(campaign["illuminated"]) + len(campaign["darks"])
    by_name = {r["name"]: r for r in rows}
    for entry in campaign["illuminated"]:
        row = by_name[entry["path"].rsplit("/", 1)[-1]]
        assert row["error"] == ""
        assert (row["activity"], row["detector"], row["filter"], row["exposure_type"]) == (
            "Activity_22", entry["detector"], "F146", "WFI_IMAGE")
        assert (row["reads"], row["height"], row["width"], row["frame_time_s"]) == (8, 256, 256, 3.04)
        assert row["start_time"].startswith(entry["start_time"])
        assert math.hypot(row["star_row"] - entry["position"][0], row["star_col"] - entry["position"][1]) < 1.0
    for entry in campaign["darks"]:
        row = by_name[entry["path"].rsplit("/", 1)[-1]]
        assert (row["activity"], row["exposure_type"], row["filter"]) == ("Activity_40", "WFI_DARK", "DARK")
        assert math.isnan(row["star_row"])
    starts = [r["start_s"] for r in rows]
    assert starts == sorted(starts)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_cli_index_of_a_folder_reads_back(campaign, tmp_path, suffix, capsys):
    out = tmp_path / f"index{suffix}"
    assert main(["campaign", "index", str(campaign["root"]), "--out", str(out), "--quiet"]) == 0
    rows = read_index(out)
    assert list(rows[0]) == list(INDEX_COLUMNS)
    _check_rows(rows, campaign)


def test_a_damaged_file_is_named_and_the_rest_indexed(campaign, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(campaign["root"], root)
    bad = root / campaign["illuminated"][1]["path"]
    bad.write_bytes(bad.read_bytes()[:5000])
    rows = run(build_index_job(str(root)))
    errors = {r["name"]: r["error"] for r in rows if r["error"]}
    assert list(errors) == [bad.name] and bad.name in errors[bad.name]
    assert sum(1 for r in rows if not r["error"]) == len(rows) - 1


BUCKET = "brightstar-campaign"


def test_index_over_s3_reads_only_trees_and_two_frames(campaign, s3_server, tmp_path):
    client = s3_server.client()
    make_public_bucket(client, BUCKET)
    root = campaign["root"]
    total = 0
    entries = campaign["illuminated"] + campaign["darks"]
    for entry in entries:
        path = root / entry["path"]
        upload(client, path, "tvac/" + entry["path"], bucket=BUCKET)
        total += path.stat().st_size
    proxy = TcpProxy(s3_server.port)
    try:
        rows = run(build_index_job(f"s3://{BUCKET}/tvac/", endpoint_url=proxy.endpoint_url))
        down = proxy.counts.bytes_down
    finally:
        proxy.stop()
    _check_rows(rows, campaign)
    from processing.asdf_blocks import HEAD_READ, TAIL_READ

    frame = 256 * 256 * 2
    # Per file: the fixed head and tail windows S3Source opens with (the tree and the
    # block index are inside them), two frames and HTTP headers; never the other six
    # reads nor amp33 (together 70 % of each file).
    assert down <= len(entries) * (HEAD_READ + TAIL_READ + 2 * frame + 16 * 1024)
    assert down < 0.35 * total
    write_index(rows, tmp_path / "s3.parquet")
    assert read_index(tmp_path / "s3.parquet")[0]["uri"].startswith(f"s3://{BUCKET}/tvac/")
