"""`python -m web --workers N`: N server processes on one listening socket, sharing the index's memory-mapped files.

One Python process serves about one core's worth of questions (its Python parts take turns under the GIL); N
processes use N cores. The supervisor binds the socket once and starts each worker as `python -m web ...
--listen-fd FD`: a fresh interpreter (no fork of a process with threads) that accepts on the inherited socket,
so the kernel spreads connections over the workers. The index's arrays are memory-mapped, so the workers share
their pages: the memory that grows with N is each worker's own heap, not the index. A worker that dies is
started again; the first worker also runs the ingest committer (`indexer follow`) when the ingest API is on.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

# Runs as each worker's first instructions, then becomes `python -m web ...` (exec: the same PID). On Linux it asks
# the kernel for SIGTERM when the supervisor dies, so a supervisor killed with SIGKILL leaves no worker holding the
# port (subprocess's preexec_fn would do the same but is unsafe once threads run).
_WORKER = """
import os, signal, sys
if sys.platform.startswith("linux"):
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != int(sys.argv[1]):
        sys.exit(0)  # the supervisor died before the line above took effect
os.execv(sys.executable, [sys.executable, "-m", "web", *sys.argv[2:]])
"""
STARTUP_S = 60.0  # a worker that exits with an error this soon after the server started could not start (a bad index
# or option): the server stops rather than start it again and again
RESTART_PAUSE_S = 1.0  # at most one restart a second per worker, so a worker that dies at once cannot spin
# glibc gives each thread that allocates its own malloc arena and keeps freed 1M-row temporaries in them: with 8
# threads a worker held about 0.4 GiB of its own at 1M passages. Two arenas: 2.12 GiB of PSS for two workers
# instead of 2.39, at the same queries a second (bench.workers). A value in the environment wins.
ARENAS = "2"


def worker_args(args: Any, fd: int, follow: bool) -> list[str]:
    """The command-line options of one worker: the server's own, the socket's descriptor, who commits."""
    out = ["--index", str(args.index), "--threads", str(args.threads), "--channel-timeout", str(args.channel_timeout),
           "--connection-limit", str(args.connection_limit), "--listen-fd", str(fd)]
    if args.model:
        out += ["--model", args.model]
    if not follow:
        out.append("--no-follow")
    return out


class Supervisor:
    """Starts the workers, starts again those that die, and stops them all by their PIDs."""

    def __init__(self, args: Any) -> None:
        self.args = args
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        self.sock = socket.create_server((args.host, args.port), family=family, backlog=2048)
        os.set_inheritable(self.sock.fileno(), True)
        self.workers: dict[int, tuple[subprocess.Popen, float]] = {}
        self.stopping = False

    def start(self, slot: int) -> subprocess.Popen:
        """Worker `slot` (0 also commits ingest writes, unless --no-follow)."""
        argv = worker_args(self.args, self.sock.fileno(), follow=self.args.follow and slot == 0)
        env = {**os.environ, "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", ARENAS)}
        process = subprocess.Popen([sys.executable, "-c", _WORKER, str(os.getpid()), *argv],
                                   pass_fds=(self.sock.fileno(),), env=env)
        self.workers[slot] = (process, time.monotonic())
        return process

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM every worker by its PID, wait for each, SIGKILL one that does not end."""
        self.stopping = True
        for process, _ in self.workers.values():
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process, _ in self.workers.values():
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
        self.sock.close()

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; 1 when a worker cannot start (a bad index, a bad option)."""
        def _stop(_signum: int, _frame: Any) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        self.began = time.monotonic()
        for slot in range(self.args.workers):
            self.start(slot)
        pids = ", ".join(str(p.pid) for p, _ in self.workers.values())
        host = f"[{self.args.host}]" if ":" in self.args.host else self.args.host
        print(f"Newsclip is serving {self.args.index} at http://{host}:{self.args.port}/ with {self.args.workers} "
              f"worker processes (pids {pids}; Ctrl-C to stop)", flush=True)
        status = 0
        try:
            while not self.stopping:
                time.sleep(0.2)
                for slot, (process, began) in list(self.workers.items()):
                    code = process.poll()
                    if code is None or self.stopping:
                        continue
                    if code > 0 and time.monotonic() - self.began < STARTUP_S:
                        print(f"error: worker {slot} (pid {process.pid}) could not start (exit {code})",
                              file=sys.stderr, flush=True)
                        status = 1
                        self.stopping = True
                        break
                    print(f"worker {slot} (pid {process.pid}) ended (exit {code}); starting it again", flush=True)
                    time.sleep(max(0.0, RESTART_PAUSE_S - (time.monotonic() - began)))
                    self.start(slot)
        finally:
            self.stop()
        return status
