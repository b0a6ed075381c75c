"""Hybrid queries a second with 8 clients against 1, 2 and 3 server processes on one index, and their memory.

    python -m bench.workers --index var/scale-1m --out bench/results/workers-1m.json

For each worker count, in one run: `python -m web --index DIR --workers N --threads 8` on a free loopback port,
100 warm-up questions, then 8 keep-alive clients sending hybrid questions (800 drawn Zipf(s=1) over 100
questions, as bench.scale does, then 300 all distinct, every one embedded), each loop bounded at 40 s. Memory is
the PSS of the supervisor and all its workers together (/proc/PID/smaps_rollup), read after the load: shared
pages of the memory-mapped index count once across the processes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from .common import REUTERS, ROOT
from .questions import questions
from .scale import Client, load
from .server import serving


def process_tree(pid: int) -> list[int]:
    """pid and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory_kib(pid: int) -> dict[str, int]:
    """PSS and RSS summed over the process tree, in KiB."""
    total = {"Pss": 0, "Rss": 0, "processes": 0}
    for p in process_tree(pid):
        try:
            lines = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        total["processes"] += 1
        for line in lines:
            name, _, rest = line.partition(":")
            if name in ("Pss", "Rss"):
                total[name] += int(rest.split()[0])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "scale-1m")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--distinct", type=int, default=300)
    parser.add_argument("--max-seconds", type=float, default=40.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    pool = questions(REUTERS, 100 + args.distinct * len(args.workers) + 100)
    asked = pool[:100]
    rng = np.random.default_rng(0)
    p = 1.0 / np.arange(1, len(asked) + 1)
    zipf = [asked[i] for i in rng.choice(len(asked), size=args.requests, p=p / p.sum())]
    result: dict = {"index": str(args.index), "machine": f"{platform.machine()} {os.cpu_count()} cores (shared)",
                    "loadavg_at_start": os.getloadavg(), "runs": {}}
    for i, n in enumerate(args.workers):
        distinct = pool[100 + i * args.distinct: 100 + (i + 1) * args.distinct]  # never asked before in this run
        log = ROOT / "var" / f"bench-workers-{n}.log"
        with serving(args.index, log, "--workers", str(n), "--threads", "8") as (base, proc):
            port = int(base.rsplit(":", 1)[1])
            deadline = time.monotonic() + 120
            while len(process_tree(proc.pid)) < n + 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2)  # every worker has opened the index
            for j in range(0, len(asked), 5):  # warm the page cache and every worker (a connection stays with
                client = Client(port)  # the worker that accepted it: many short ones reach them all)
                for q in asked[j:j + 5]:
                    client.search(q, "hybrid")
                client.con.close()
            run = {"zipf": load(port, zipf, 8, args.max_seconds),
                   "distinct": load(port, distinct, 8, args.max_seconds),
                   "memory_kib_after_load": memory_kib(proc.pid)}
        run["pss_gib"] = round(run["memory_kib_after_load"]["Pss"] / 2**20, 2)
        result["runs"][str(n)] = run
        print(n, "workers:", json.dumps({"qps_zipf": run["zipf"]["qps"], "qps_distinct": run["distinct"]["qps"],
                                         "errors": run["zipf"]["errors"] + run["distinct"]["errors"],
                                         "pss_gib": run["pss_gib"]}), flush=True)
    result["loadavg_at_end"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
