"""The production server (`python -m web`) on a loopback port, for drills and the tests that run them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .common import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (MB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def serving(index_dir: Path, log: Path, *args: str, env: dict[str, str] | None = None,
            timeout: float = 180) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python -m web --index DIR` on a free loopback port with its defaults; yields (base URL, process)."""
    port = free_port()
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "web", "--index", str(index_dir), "--host", "127.0.0.1", "--port", str(port),
             *args],
            cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"python -m web exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"python -m web did not answer within {timeout} s:\n{log.read_text()}")
            time.sleep(0.25)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
