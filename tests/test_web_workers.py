"""`python -m web --workers N`: several server processes on one port, a dead one started again, all stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.server import serving
from conftest import ROOT
from web.__main__ import parse_args
from web.workers import worker_args


def _children(pid: int) -> set[int]:
    """Direct children of pid."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def _accepting(port: int) -> set[int]:
    """PIDs holding the listening socket of the port (from `ss -tlnpH`)."""
    out = subprocess.run(["ss", "-tlnpH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    return {int(part.split(",")[0]) for line in out.splitlines() for part in line.split("pid=")[1:]}


def _wait(condition, seconds: float = 120.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def _ask(base: str, question: str = "Putin Assad") -> dict:
    with urllib.request.urlopen(f"{base}/api/search?q={question.replace(' ', '+')}", timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


def test_workers_share_the_port_and_a_killed_one_is_started_again(seeds_index: Path, tmp_path: Path) -> None:
    with serving(seeds_index, tmp_path / "server.log", "--workers", "2", "--threads", "4") as (base, proc):
        port = int(base.rsplit(":", 1)[1])
        assert _wait(lambda: len(_children(proc.pid) & _accepting(port)) == 2), (tmp_path / "server.log").read_text()
        first = _children(proc.pid)
        assert _accepting(port) == first | {proc.pid}  # the supervisor binds; its two workers accept
        for pid in first:  # each worker keeps two malloc arenas unless the environment says otherwise
            assert b"MALLOC_ARENA_MAX=2\0" in Path(f"/proc/{pid}/environ").read_bytes()
        expected = [h["article_id"] for h in _ask(base)["hits"]]
        assert expected
        victim = sorted(first)[0]
        os.kill(victim, signal.SIGKILL)
        answers = [[h["article_id"] for h in _ask(base)["hits"]] for _ in range(20)]  # the other one answers
        assert answers == [expected] * 20
        assert _wait(lambda: len(_children(proc.pid) & _accepting(port)) == 2)
        assert victim not in _children(proc.pid)
        assert "ended (exit -9); starting it again" in (tmp_path / "server.log").read_text()
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived its supervisor"


def test_a_worker_that_cannot_start_stops_the_server(tmp_path: Path) -> None:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "web", "--index", str(tmp_path / "missing"), "--port", "0",
                           "--workers", "2"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "could not start" in done.stderr
    assert "no index at" in done.stderr + done.stdout
    assert time.monotonic() - began < 60


def test_a_worker_gets_the_servers_options_and_only_the_first_commits() -> None:
    args = parse_args(["--index", "x", "--threads", "3", "--model", "m", "--workers", "2"])
    first, second = worker_args(args, 7, follow=True), worker_args(args, 7, follow=False)
    assert first[:2] == ["--index", "x"] and "--listen-fd" in first and first[first.index("--listen-fd") + 1] == "7"
    assert "--no-follow" not in first and second[-1] == "--no-follow"
    assert "--workers" not in first and first[first.index("--model") + 1] == "m"
