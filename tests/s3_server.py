"""A real S3-protocol server for tests and benchmarks: moto, in its own process.

moto's ``ThreadedMotoServer`` speaks the S3 protocol over HTTP on
127.0.0.1.  It runs in a child process so that its request handling (moto
re-reads the whole object on every GET) never competes with the client for
the GIL, and so that a test can stop it outright.  The child serves until its
stdin closes, so it also ends when the test process dies.

Test modules import the fixtures they use explicitly (not via
``pytest_plugins``, which pytest allows only in the root conftest)::

    from s3_server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

Also here: :class:`TcpProxy`, a loopback proxy that counts the bytes and HTTP
requests passing through and can drop connections mid-response (a server
stopped mid-read), and :func:`upload`.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BUCKET = "brightstar-test"
PRIVATE_KEY = "private/secret_uncal.asdf"
ACCESS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

_CHILD = r"""
import sys
from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # serve until the parent closes the pipe (or dies)
server.stop()
"""


class MotoServer:
    """moto's S3 server in a child process on 127.0.0.1 and a free port.

    Attributes
    ----------
    endpoint_url : str
        ``http://127.0.0.1:<port>``.
    """

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.endpoint_url = ""
        self.port = 0

    def start(self, timeout: float = 60.0) -> MotoServer:
        """Start the child and wait until it listens."""
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not line or not line[0].strip().isdigit():
            self.kill()
            raise RuntimeError("moto server did not start")
        self.port = int(line[0])
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        return self

    def client(self):
        """A boto3 client with (dummy) credentials: the uploader's side."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, **ACCESS)

    def stop(self) -> None:
        """Ask the child to stop; kill it if it does not within seconds."""
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
        self.proc = None

    def kill(self) -> None:
        """Stop the server at once, as a crash would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


def upload(client, path: Path, key: str, bucket: str = BUCKET, public: bool = True) -> str:
    """Upload a file in one PUT; return its ``s3://`` URI.

    One PUT is faster into moto than a multipart upload (which it stores and
    then concatenates), also for the 1.9 GB full-size file.
    """
    # moto lets anonymous clients read objects *without* an ACL in a
    # public-read bucket, so a private object must say so explicitly.
    acl = "public-read" if public else "private"
    with open(path, "rb") as body:
        client.put_object(Bucket=bucket, Key=key, Body=body, ACL=acl)
    return f"s3://{bucket}/{key}"


def make_public_bucket(client, bucket: str = BUCKET) -> None:
    """A bucket that anonymous clients may list (its objects need their own ACL)."""
    client.create_bucket(Bucket=bucket)
    client.put_bucket_acl(Bucket=bucket, ACL="public-read")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on (closed right after finding it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_REQUEST_LINE = re.compile(rb"(?:^|\r\n\r\n)(GET|HEAD|PUT|POST|DELETE) ")


@dataclass
class _Counts:
    requests: int = 0
    bytes_down: int = 0
    bytes_up: int = 0
    by_method: dict = field(default_factory=dict)


class TcpProxy:
    """A loopback TCP proxy that counts traffic and can cut it.

    Counts the bytes sent to the client (``bytes_down``) and from it
    (``bytes_up``; any protocol, e.g. a dask client's), and the HTTP requests
    sent upstream (bodiless GET/HEAD requests are counted exactly).  With
    ``cut_after`` set, the proxy forwards that many response bytes, then
    closes every connection *and* its listening socket: to the client the
    server has stopped in the middle of a response.

    Parameters
    ----------
    upstream_port : int
        The server's port on 127.0.0.1.
    port : int
        Port to listen on (0: a free one).
    """

    def __init__(self, upstream_port: int, port: int = 0):
        self.upstream_port = upstream_port
        self.counts = _Counts()
        self.cut_after: int | None = None
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._sockets: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="tcp-proxy")
        self._thread.start()

    def reset(self) -> None:
        with self._lock:
            self.counts = _Counts()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upward: bool) -> None:
        try:
            while True:
                data = src.recv(256 * 1024)
                if not data:
                    break
                if upward:
                    with self._lock:
                        self.counts.bytes_up += len(data)
                        for match in _REQUEST_LINE.finditer(data):
                            self.counts.requests += 1
                            method = match.group(1).decode()
                            self.counts.by_method[method] = self.counts.by_method.get(method, 0) + 1
                else:
                    with self._lock:
                        if self.cut_after is not None and self.counts.bytes_down + len(data) > self.cut_after:
                            data = data[: max(0, self.cut_after - self.counts.bytes_down)]
                            self.counts.bytes_down += len(data)
                            cut = True
                        else:
                            self.counts.bytes_down += len(data)
                            cut = False
                    if data:
                        dst.sendall(data)
                    if cut:
                        self.stop()
                        return
                    continue
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        """Close the listener and every connection (idempotent)."""
        self._stopped.set()
        try:
            # shutdown() wakes the thread blocked in accept(); close() alone would
            # leave the socket listening until the next connection arrives.
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class SilentServer:
    """Accepts connections and never answers: a hung server (read timeouts)."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.endpoint_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def close(self) -> None:
        self._listener.close()


def write_patterned_exposure(path: Path, frames: int = 55, size: int = 4096) -> Path:
    """A real TvacModel file whose pixels are a cheap pattern, not physics.

    For byte and request counts only the layout matters, and synthesising
    55 full-size reads takes a minute; this writes the same layout (through
    :mod:`processing.synth`'s own model builder and atomic save) in seconds.
    Pixel (k, y, x) = (7 y + 3 x) mod 50000 + 11 k, DN.
    """
    import numpy as np

    from processing import synth

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".cube.tmp")
    try:
        data = np.lib.format.open_memmap(scratch, mode="w+", dtype=np.uint16, shape=(frames, size, size))
        base = ((np.arange(size, dtype=np.uint32)[:, None] * 7 + np.arange(size, dtype=np.uint32)[None, :] * 3) % 50000).astype(np.uint16)
        for k in range(frames):
            np.add(base, np.uint16(11 * k), out=data[k])
        data.flush()
        amp33 = np.zeros((frames, size, synth.AMP33_WIDTH), np.uint16)
        cfg = synth.SynthConfig(frames=frames, size=size)
        plan = synth.ExposurePlan(path=path, stamp=synth.ILLUM_STAMP, illuminated=True)
        model = synth._build_model(plan, cfg, data, amp33)
        synth._save_atomically(model, path, "none")
        del model, data
    finally:
        if scratch.exists():
            scratch.unlink()
    return path


# -- fixtures ------------------------------------------------------------------------
# Test modules import these fixtures; pytest then makes one fixture definition
# per module, so a "session" fixture would run once per module.  The state
# below makes the server and the uploads happen once per test process.
_SHARED: dict[str, object] = {}
_SHARED_LOCK = threading.Lock()


def _once(name: str, make):
    with _SHARED_LOCK:
        if name not in _SHARED:
            _SHARED[name] = make()
        return _SHARED[name]


@pytest.fixture(scope="session")
def s3_server() -> MotoServer:
    """A moto S3 server in its own process, shared by the whole session."""
    def start():
        server = MotoServer().start()
        import atexit

        atexit.register(server.stop)
        return server

    return _once("server", start)


@pytest.fixture(scope="session")
def s3_bucket(s3_server, tmp_path_factory) -> dict:
    """A public bucket with small synthetic exposures, and their local copies.

    Returns a dict: ``endpoint_url``, ``bucket``, ``server``, ``local``
    (name -> Path), ``uri`` (name -> s3:// URI), ``private_uri`` (an object
    with a private ACL).  Names: ``none`` (1024 x 1024, 10 reads,
    uncompressed), ``lz4`` (2048 x 2048, 6 reads: two 4 MiB chunks per read),
    ``zlib`` (256 x 256, 6 reads), in the tutorial's folder layout under
    ``OTP00651_BrightStar_TV2b_R1_MCEB/Activity_22/<name>/``.
    """
    def make():
        from processing import synth

        root = tmp_path_factory.mktemp("s3_bucket")
        client = s3_server.client()
        make_public_bucket(client)
        specs = {
            "none": dict(frames=10, size=1024, compression="none"),
            "lz4": dict(frames=6, size=2048, compression="lz4"),
            "zlib": dict(frames=6, size=256, compression="zlib"),
        }
        local, uris = {}, {}
        for name, spec in specs.items():
            path = synth.write_exposure(root / name / synth.exposure_filename(synth.ILLUM_STAMP), seed=11, **spec)
            key = f"{synth.PROGRAM_DIR}/{synth.ILLUM_ACTIVITY}/{name}/{path.name}"
            local[name] = path
            uris[name] = upload(client, path, key)
        private = upload(client, local["zlib"], PRIVATE_KEY, public=False)
        return {
            "endpoint_url": s3_server.endpoint_url,
            "bucket": BUCKET,
            "server": s3_server,
            "local": local,
            "uri": uris,
            "private_uri": private,
        }

    return _once("bucket", make)


@pytest.fixture(scope="session")
def s3_full_size(s3_bucket, tmp_path_factory) -> dict:
    """A full-size (55, 4096, 4096) uncompressed exposure (1.9 GB) in the bucket.

    Written with :func:`write_patterned_exposure`; the local file is
    deleted after upload to save disk.  Returns ``uri``, ``size`` and
    ``expected_first`` (frame 0 as a numpy array).
    """
    def make():
        import numpy as np

        from processing.io import open_exposure

        root = tmp_path_factory.mktemp("s3_full")
        path = write_patterned_exposure(root / "TVAC2_TOHOTQUAL_WFISAT_20240506204523_WFI11_uncal.asdf")
        with open_exposure(path) as exp:
            first = np.array(exp.frame(0))
        uri = upload(s3_bucket["server"].client(), path, "full/" + path.name)
        size = path.stat().st_size
        path.unlink()
        return {"uri": uri, "size": size, "expected_first": first}

    return _once("full", make)
