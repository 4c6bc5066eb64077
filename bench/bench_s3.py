"""Benchmark: bytes and requests over S3, ours vs the tutorial's full download.

A full-size (55, 4096, 4096) synthetic TVAC exposure is uploaded to moto's S3
server (its own process, 127.0.0.1) and read through a counting TCP proxy,
so both ways are measured on the wire the same way:

* ``ours``     -- ``open_exposure("s3://...")``: open (tree and block index),
  frame 0, then frame 27; a 512 x 512 cutout across all reads (fresh cache);
  reopening with a warm fetch cache;
* ``tutorial`` -- the tutorial's ``open_asdf_datamodel``: ``asdf.open`` on an
  ``s3fs`` file and ``roman_datamodels.open(af).copy()``, then ``data[0]``
  (in a child process, whose peak RSS is also reported).

An lz4 exposure with fewer reads (``--lz4-frames``) shows the chunk-index
walk (one small request per 4 MiB chunk the first time, none on reopening)
and that a frame fetches only its chunks.

Only bytes and requests are reported: moto re-reads the whole object for
every GET, so times on it say nothing about S3.

Run::

    python bench/bench_s3.py [--frames 55] [--lz4-frames 10] [--data /tmp/bench-data/open] [--no-tutorial]

Files are written by ``processing.synth`` if missing (about a minute each at
full size) and reused afterwards (same names as ``bench/bench_open.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

TUTORIAL = r"""
import json, sys
import asdf, numpy as np, roman_datamodels as rdm, s3fs
uri, endpoint = sys.argv[1], sys.argv[2]

def open_asdf_datamodel(asdf_uri, anon=True):  # the tutorial's function, with a test endpoint
    fs = s3fs.S3FileSystem(anon=anon, endpoint_url=endpoint)
    with fs.open(asdf_uri, "rb") as fb:
        with asdf.open(fb) as af:
            return rdm.open(af).copy()

model = open_asdf_datamodel(uri)
frame = np.array(model.data[0])
with open("/proc/self/status") as fh:
    peak = next(int(l.split()[1]) * 1024 for l in fh if l.startswith("VmHWM:"))
print(json.dumps({"checksum": int(frame.astype(np.int64).sum()), "peak_rss": peak}))
"""


def _ensure(data: Path, frames: int, compression: str) -> Path:
    """The synthetic exposure, written once (in a child: its memory is returned)."""
    path = data / f"tvac_{frames}_{compression}.asdf"
    if not path.exists():
        print(f"writing {path} (synthetic, {frames} reads, {compression}) ...", file=sys.stderr)
        code = ("from processing import synth; "
                f"synth.write_exposure({str(path)!r}, frames={frames}, compression={compression!r})")
        subprocess.run([sys.executable, "-c", code], check=True)
    return path


class Meter:
    """Wire counts (proxy) and our own counts (S3Source) for one measurement."""

    def __init__(self, proxy):
        self.proxy = proxy

    def __enter__(self):
        self.proxy.reset()
        return self

    def __exit__(self, *exc):
        counts = self.proxy.counts
        self.requests = counts.requests
        self.bytes = counts.bytes_down


_CACHES: list[str] = []


def _fresh_cache() -> str:
    """An empty user cache for the next measurement (removed at the end)."""
    path = tempfile.mkdtemp(prefix="bench-s3-cache-")
    _CACHES.append(path)
    os.environ["BRIGHTSTAR_CACHE_DIR"] = path
    return path


def measure_ours(uri: str, endpoint: str, proxy, shape_note: str) -> list[tuple[str, int, int, int, int]]:
    """Rows of (what, wire requests, wire bytes, our requests, our bytes)."""
    import numpy as np

    from processing.io import open_exposure

    rows = []
    _fresh_cache()
    with Meter(proxy) as m_open:
        exp = open_exposure(uri, endpoint_url=endpoint)
    s = exp.source.stats.snapshot()
    rows.append((f"open ({shape_note})", m_open.requests, m_open.bytes, s["requests"], s["bytes_fetched"]))
    with Meter(proxy) as m_first:
        np.array(exp.frame(0))
    s2 = exp.source.stats.snapshot()
    rows.append(("+ frame 0", m_first.requests, m_first.bytes, s2["requests"] - s["requests"], s2["bytes_fetched"] - s["bytes_fetched"]))
    rows.append(("= open + first frame", m_open.requests + m_first.requests, m_open.bytes + m_first.bytes, s2["requests"], s2["bytes_fetched"]))
    with Meter(proxy) as m_k:
        np.array(exp.frame(min(27, exp.shape[0] - 1)))
    s3 = exp.source.stats.snapshot()
    rows.append((f"+ frame {min(27, exp.shape[0] - 1)}", m_k.requests, m_k.bytes, s3["requests"] - s2["requests"],
                 s3["bytes_fetched"] - s2["bytes_fetched"]))
    exp.close()

    with Meter(proxy) as m_reopen:
        exp = open_exposure(uri, endpoint_url=endpoint)
        np.array(exp.frame(0))
    s = exp.source.stats.snapshot()
    rows.append(("reopen + frame 0 (warm cache)", m_reopen.requests, m_reopen.bytes, s["requests"], s["bytes_fetched"]))
    exp.close()

    _fresh_cache()
    with Meter(proxy) as m_cut:
        exp = open_exposure(uri, endpoint_url=endpoint)
        n, h, w = exp.shape
        y0, x0 = h // 2 - 256, w // 2 - 256
        cut = exp.cutout(y0, y0 + 512, x0, x0 + 512)
    s = exp.source.stats.snapshot()
    rows.append((f"open + cutout 512x512 x {n} reads ({cut.nbytes / 1e6:.1f} MB)", m_cut.requests, m_cut.bytes,
                 s["requests"], s["bytes_fetched"]))
    exp.close()
    return rows


def measure_tutorial(uri: str, endpoint: str, proxy) -> tuple[tuple, dict]:
    with Meter(proxy) as m:
        out = subprocess.run([sys.executable, "-c", TUTORIAL, uri, endpoint], check=True, capture_output=True, text=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    return ("asdf.open(s3fs file) + rdm .copy() + data[0]", m.requests, m.bytes, -1, -1), info


def _print_table(title: str, size: int, rows: list[tuple]) -> None:
    print(f"\n{title}  (object {size / 1e6:,.1f} MB)")
    print(f"{'what':52s} {'requests':>9s} {'MB on wire':>11s} {'% of file':>9s} {'ours: req':>9s} {'ours: MB':>9s}")
    for what, req, nbytes, our_req, our_bytes in rows:
        ours = (f"{our_req:9d} {our_bytes / 1e6:9.2f}") if our_req >= 0 else f"{'-':>9s} {'-':>9s}"
        print(f"{what:52s} {req:9d} {nbytes / 1e6:11.2f} {100 * nbytes / size:8.2f}% {ours}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=55, help="reads of the uncompressed exposure (default 55)")
    ap.add_argument("--lz4-frames", type=int, default=10, help="reads of the lz4 exposure (0: skip; default 10)")
    ap.add_argument("--data", type=Path, default=Path("/tmp/bench-data/open"), help="where the synthetic files are kept")
    ap.add_argument("--no-tutorial", action="store_true", help="skip the tutorial's full download (needs ~5x the file in RAM)")
    args = ap.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)

    from s3_server import MotoServer, TcpProxy, make_public_bucket, upload

    files = {"none": _ensure(args.data, args.frames, "none")}
    if args.lz4_frames:
        files["lz4"] = _ensure(args.data, args.lz4_frames, "lz4")
    server = MotoServer().start()
    try:
        client = server.client()
        make_public_bucket(client)
        uris = {}
        for kind, path in files.items():
            print(f"uploading {path.name} ({path.stat().st_size / 1e9:.2f} GB) to moto ...", file=sys.stderr)
            uris[kind] = upload(client, path, f"bench/{kind}/{path.name}")
        proxy = TcpProxy(server.port)
        endpoint = proxy.endpoint_url

        size = files["none"].stat().st_size
        rows = measure_ours(uris["none"], endpoint, proxy, f"{args.frames} x 4096 x 4096, uncompressed")
        if not args.no_tutorial:
            row, info = measure_tutorial(uris["none"], endpoint, proxy)
            rows.append(row)
        _print_table("Uncompressed exposure over S3 (moto on 127.0.0.1, counted at a TCP proxy)", size, rows)
        if not args.no_tutorial:
            print(f"tutorial child peak RSS: {info['peak_rss'] / 2**30:.2f} GiB")

        if "lz4" in files:
            rows = measure_ours(uris["lz4"], endpoint, proxy, f"{args.lz4_frames} x 4096 x 4096, lz4")
            _print_table("lz4 exposure over S3 (first frame includes walking the chunk index)", files["lz4"].stat().st_size, rows)
        print("\nrequests/MB on wire: counted at the proxy (HTTP requests, response bytes incl. headers);"
              "\nours: counted by S3Source (requests incl. retries, body bytes).")
        proxy.stop()
    finally:
        server.stop()
        for path in _CACHES:
            shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
