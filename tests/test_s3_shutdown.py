"""Closing the window while the S3 tab lists an endpoint that never answers.

The listing blocks in a network read (the endpoint accepts the connection and
says nothing): closing the window must not wait for the read's timeouts, and
the abandoned listing, when it ends on its own, must touch nothing of the
window that is gone.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

pytest.importorskip("pytestqt")

pytestmark = pytest.mark.usefixtures("no_qt_leaks")

#: The listing's own bound (read timeout, one attempt), seconds: a close that
#: joined the listing would take at least this long.
READ_TIMEOUT_S = 10
#: The close's bound, seconds: a window closes in 0.07-0.6 s on a loaded
#: 2-core machine; joining the listing would take READ_TIMEOUT_S.
CLOSE_S = 2.0


@pytest.fixture
def silent_endpoint():
    """A TCP server on loopback that accepts connections and never answers.

    ``hang_up()`` closes every connection and stops listening: a read blocked
    on it then ends at once (an error) instead of at its timeout.
    """
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)  # held open, never read or answered

    thread = threading.Thread(target=serve, name="silent-endpoint", daemon=True)
    thread.start()

    def hang_up() -> None:
        stop.set()
        thread.join(5)
        server.close()
        for conn in accepted:
            conn.close()

    yield {"url": f"http://127.0.0.1:{server.getsockname()[1]}", "accepted": accepted, "hang_up": hang_up}
    hang_up()


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_closing_the_window_does_not_wait_for_a_listing_that_never_answers(qtbot, make_window, silent_endpoint,
                                                                           monkeypatch):
    monkeypatch.setenv("BRIGHTSTAR_S3_READ_TIMEOUT", str(READ_TIMEOUT_S))
    monkeypatch.setenv("BRIGHTSTAR_S3_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("BRIGHTSTAR_S3_RETRIES", "1")
    w = make_window(endpoint_url=silent_endpoint["url"])
    seen: list = []
    w.s3_browser.listing_finished.connect(lambda uri: seen.append(("finished", uri)))
    w.s3_browser.listing_failed.connect(lambda uri, msg: seen.append(("failed", uri, msg)))

    w.s3_dock.raise_()  # the user opens the S3 tab: its first listing starts
    qtbot.waitUntil(lambda: bool(silent_endpoint["accepted"]), timeout=10_000)  # the request is on the wire
    assert w.pool.busy("s3-list")
    listing_threads = {t for t in threading.enumerate() if t.name == "brightstar-abandonable-s3-list"}
    assert listing_threads, "the listing does not run on an abandonable thread"

    t0 = time.perf_counter()
    w.close()
    closed_in = time.perf_counter() - t0
    assert closed_in < CLOSE_S, f"closing waited {closed_in:.2f} s for a listing that never answers"
    assert not w.pool.busy("s3-list")

    # The endpoint hangs up: the abandoned listing ends (an error); nothing
    # it does reaches the closed window, and no thread raises.
    silent_endpoint["hang_up"]()
    for t in listing_threads:
        t.join(READ_TIMEOUT_S + 10)
        assert not t.is_alive(), "the abandoned listing never ended"
    qtbot.wait(200)  # a signal queued by the listing would be delivered now
    assert seen == []
