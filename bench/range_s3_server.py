"""A minimal loopback S3 endpoint for benchmarks: ranged GETs of local files, nothing else.

moto (``tests/s3_server.py``) speaks all of S3 but re-reads the whole
object on every GET, so over moto a 4 MB range of a 400 MB object costs the
time of reading 400 MB: fine for counting bytes, useless for timing.  This
server answers ``GET /<bucket>/<key>`` with a ``Range`` (and ``HEAD``) from a
file on disk, with ``Content-Range``, ``ETag`` and ``If-Match``, the way S3
does, so playback over it measures the viewer, not the mock.  Anonymous
only; one thread per connection.

    with RangeServer({"bucket/key.asdf": Path(...)}) as server:
        open_exposure("s3://bucket/key.asdf", endpoint_url=server.endpoint_url)
"""

from __future__ import annotations

import hashlib
import re
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class RangeServer:
    """Serve ``objects`` (``"bucket/key" -> Path``) on 127.0.0.1 and a free port."""

    def __init__(self, objects: dict[str, Path]):
        self.objects = {k.strip("/"): Path(v) for k, v in objects.items()}
        self.etags = {k: '"' + hashlib.md5(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}".encode()).hexdigest() + '"'
                      for k, p in self.objects.items()}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _object(self):
                key = self.path.split("?", 1)[0].lstrip("/")
                return key, server.objects.get(key)

            def _fail(self, status: int, code: str) -> None:
                body = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>{code}</Message></Error>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _serve(self, body: bool) -> None:
                key, path = self._object()
                if path is None:
                    return self._fail(404, "NoSuchKey")
                etag = server.etags[key]
                if self.headers.get("If-Match") not in (None, etag):
                    return self._fail(412, "PreconditionFailed")
                size = path.stat().st_size
                start, stop, status = 0, size, 200
                m = _RANGE.match(self.headers.get("Range", "") or "")
                if m:
                    a, b = m.groups()
                    if a == "":
                        start, stop = max(0, size - int(b)), size
                    else:
                        start, stop = int(a), min(size, int(b) + 1 if b else size)
                    if start >= size:
                        return self._fail(416, "InvalidRange")
                    status = 206
                self.send_response(status)
                self.send_header("Content-Type", "binary/octet-stream")
                self.send_header("Content-Length", str(stop - start))
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", formatdate(path.stat().st_mtime, usegmt=True))
                self.send_header("Accept-Ranges", "bytes")
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
                self.end_headers()
                if body:
                    with open(path, "rb") as fh:
                        fh.seek(start)
                        left = stop - start
                        while left > 0:
                            chunk = fh.read(min(left, 1 << 20))
                            if not chunk:
                                break
                            self.wfile.write(chunk)
                            left -= len(chunk)

            def do_GET(self):  # noqa: N802 - http.server's name
                self._serve(True)

            def do_HEAD(self):  # noqa: N802
                self._serve(False)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.endpoint_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="range-s3", daemon=True)

    def __enter__(self) -> RangeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
