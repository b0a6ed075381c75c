"""Load drill: N concurrent clients for a fixed time against the production server on loopback, mixed questions
(articles and quotations, filters, pages, article views). Prints and writes the figures.

    python -m bench.drill_load --index var/bench-5k --clients 50 --seconds 60 --threads 4 8 16 \
        --out bench/results/drill-load.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from .common import REUTERS, percentile
from .questions import ASKED, questions
from .server import rss_mb, serving


def requests_mix(asked: list[str]) -> list[str]:
    """The paths the clients cycle through: plain questions, quotations, filters, deeper pages, speakers."""
    out = []
    for i, q in enumerate(asked):
        enc = urllib.parse.quote(q)
        out.append(f"/api/search?q={enc}")
        kind = i % 6
        if kind == 0:
            out.append(f"/api/search?q={enc}&type=quotes")
        elif kind == 1:
            out.append(f"/api/search?q={enc}&mode=bm25&sort=date")
        elif kind == 2:
            out.append(f"/api/search?q={enc}&page=3&k=20")
        elif kind == 3:
            out.append(f"/?q={enc}")  # the HTML page
        elif kind == 4:
            out.append(f"/api/search?q={enc}&date_from=1987-03-01&date_to=1987-03-31&mode=dense")
        else:
            out.append(f"/api/speakers?q={enc[:2]}")
    return out


class Clients:
    """`n` threads, each on its own keep-alive connection, asking the mix round and round until the deadline
    (`pause` seconds between a client's answer and its next question: people read; 0 asks flat out)."""

    def __init__(self, port: int, n: int, paths: list[str], pause: float = 0.0) -> None:
        self.port, self.n, self.paths, self.pause = port, n, paths, pause
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.statuses: dict[int, int] = {}
        self._lock = threading.Lock()

    def one(self, offset: int, until: float) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        i = offset
        while time.monotonic() < until:
            path = self.paths[i % len(self.paths)]
            i += 1
            began = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                took = (time.perf_counter() - began) * 1000
                with self._lock:
                    self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
                    if response.status == 200:
                        self.latencies.append(took)
                    else:
                        self.errors.append(f"{response.status} {path}")
            except (OSError, http.client.HTTPException) as exc:
                with self._lock:
                    self.errors.append(f"{type(exc).__name__}: {exc} on {path}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            if self.pause > 0:
                time.sleep(min(self.pause, max(0.0, until - time.monotonic())))
        conn.close()

    def run(self, seconds: float) -> float:
        until = time.monotonic() + seconds
        threads = [threading.Thread(target=self.one, args=(k * 7, until), daemon=True) for k in range(self.n)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - began


def drill(index: Path, log: Path, threads: int, clients: int, seconds: float, paths: list[str]) -> dict:
    """One server with `threads` waitress threads; warm up 5 s, then the measured run."""
    args = [] if threads <= 0 else ["--threads", str(threads)]
    with serving(index, log, *args) as (base, server):
        port = int(base.rsplit(":", 1)[1])
        idle = rss_mb(server.pid)
        Clients(port, clients, paths).run(min(5.0, seconds))  # warm-up: page cache, thread stacks, the LRU
        start = rss_mb(server.pid)
        load = Clients(port, clients, paths)
        elapsed = load.run(seconds)
        end = rss_mb(server.pid)
    lat = load.latencies
    return {
        "waitress_threads": threads if threads > 0 else "default (8)", "clients": clients, "seconds": round(elapsed, 1),
        "requests": len(lat) + len(load.errors), "errors": len(load.errors), "error_samples": load.errors[:5],
        "statuses": load.statuses,
        "requests_per_s": round(len(lat) / elapsed, 1),
        "median_ms": round(statistics.median(lat), 1) if lat else None,
        "p99_ms": round(percentile(lat, 0.99), 1) if lat else None,
        "rss_mb": {"idle": round(idle, 1), "after_warmup": round(start, 1), "end": round(end, 1),
                   "growth_pct": round(100 * (end - start) / start, 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="a built index (e.g. var/bench-5k from make bench)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--threads", type=int, nargs="+", default=[0],
                        help="waitress thread counts to compare (0: the server's default)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    asked = [*ASKED, *questions(REUTERS, 70)] if REUTERS.is_file() else list(ASKED)
    paths = requests_mix(asked)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for threads in args.threads:
            runs.append(drill(args.index, Path(tmp) / f"server-{threads}.log", threads, args.clients, args.seconds,
                              paths))
            print(json.dumps(runs[-1]), flush=True)
    result = {"index": str(args.index), "paths": len(paths), "runs": runs}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
