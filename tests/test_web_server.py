"""The production server (waitress via `python -m web`) against slow and idle clients."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path

from bench.server import serving


def test_slow_and_silent_clients_hold_no_worker(seeds_index: Path, tmp_path: Path) -> None:
    """One worker thread: a client that never finishes its request, and one that never reads its answer, do not
    stop the next request; the silent connection is closed after the channel timeout."""
    with serving(seeds_index, tmp_path / "server.log", "--threads", "1", "--channel-timeout", "2") as (base, _):
        port = int(base.rsplit(":", 1)[1])
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.sendall(b"GET /api/search?q=Putin HTTP/1.1\r\nHost: localhost\r\n")  # no blank line: never done
        deaf = socket.create_connection(("127.0.0.1", port))
        deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        deaf.sendall(b"GET /api/search?q=Putin+Syria&k=100 HTTP/1.1\r\nHost: localhost\r\n\r\n")  # never read
        began = time.monotonic()
        with urllib.request.urlopen(f"{base}/api/search?q=Assad", timeout=10) as response:
            assert response.status == 200 and json.loads(response.read())["hits"]
        assert time.monotonic() - began < 5
        stalled.settimeout(15)
        waited = time.monotonic()
        assert stalled.recv(1024) == b""  # closed by the server, not answered
        assert time.monotonic() - waited < 12
        stalled.close()
        deaf.close()
