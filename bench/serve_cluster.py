"""Shards on Ray Serve against one process, in one run: latency per mode, the fan-out's round trips, memory.

    python -m bench.serve_cluster --stories 2000 --segments 5 --shards 1 2 4 --out bench/results/serve-cluster.json

Grows a living index of the first N Reuters stories with a body (a base build, then `segments - 1` adds), opens
it in this process (the reference) and then behind 1, 2, ... shards on a Ray cluster of this machine (`auto`,
loopback), each shard a Serve application of `--replicas` replicas. For every shard count it checks that the
answers equal the reference's (ids and scores, every mode), and prints the library latency (median, p95) per mode
for both, shard calls per question, the round trip of an empty call, the PSS of every replica and of this process,
and how many shards a dense question searches, without and with a date filter on the newest day (time sharding).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # the local cluster names itself 127.0.0.1

from .build import subset  # noqa: E402
from .common import REUTERS, ROOT, figures  # noqa: E402
from .questions import questions  # noqa: E402
from .workers import memory_kib  # noqa: E402

MODES = ("bm25", "dense", "hybrid")


def grow(folder: Path, stories: int, segments: int, embedder) -> Path:
    """A base build of 60 % of the stories, then the rest in `segments - 1` adds (one segment each)."""
    import gzip

    from indexer.build import BuildConfig, build_index
    from indexer.living import ArchiveWriter, writer_lock
    from indexer.sources import read_articles

    index = folder / "index"
    if index.exists():
        return index
    every = folder / "stories.jsonl.gz"
    subset(every, stories)
    lines = gzip.open(every, "rt", encoding="utf-8").read().splitlines()
    cut = int(len(lines) * 0.6) if segments > 1 else len(lines)
    base = folder / "base.jsonl"
    base.write_text("\n".join(lines[:cut]) + "\n", encoding="utf-8")
    build_index(BuildConfig(sources=(base,), index_dir=index, progress=False), embedder=embedder)
    rest = lines[cut:]
    for n in range(segments - 1):
        part = rest[n * len(rest) // (segments - 1):(n + 1) * len(rest) // (segments - 1)]
        path = folder / f"add-{n}.jsonl"
        path.write_text("\n".join(part) + "\n", encoding="utf-8")
        adds = [a for a in read_articles([path]) if not hasattr(a, "reason")]
        with writer_lock(index):
            ArchiveWriter(index, BuildConfig(index_dir=index, progress=False), embedder).apply(adds, ())
    return index


def timed(engine, asked: list[str], mode: str, **options) -> tuple[list[float], list]:
    """Milliseconds per question (the question's vector cached beforehand: both sides embed the same way) and
    the answers."""
    from search.models import SearchRequest

    times, answers = [], []
    for q in asked:
        request = SearchRequest(q=q, mode=mode, k=10, **options)
        engine.vectors.get(q)
        began = time.perf_counter()
        result = engine.search(request)
        times.append((time.perf_counter() - began) * 1000)
        answers.append([(h.article_id, h.passage.ordinal, h.scores.fused) for h in result.hits])
    return times, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--segments", type=int, default=5)
    parser.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--questions", type=int, default=60)
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "bench-serve-cluster")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from indexer.build import BuildConfig, load_embedder
    from search.engine import SearchEngine
    from search.layout import current_build
    from search.sharded import ShardedSnapshotOpener
    from web.cluster import connect, start_shards, stop_shards

    args.work.mkdir(parents=True, exist_ok=True)
    embedder = load_embedder(BuildConfig(index_dir=args.work))
    began = time.perf_counter()
    index = grow(args.work, args.stories, args.segments, embedder)
    grown_s = time.perf_counter() - began
    asked = questions(REUTERS, args.questions)
    local = SearchEngine.open(index, embedder=embedder)
    summary = local.summary()
    print(f"index: {summary['articles']} articles, {summary['passages']} passages, {summary['segments']} segments "
          f"(grown in {grown_s:.0f} s)")
    reference = {}
    rows: dict = {"local": {}}
    for mode in MODES:
        timed(local, asked[:5], mode)  # warm
        times, answers = timed(local, asked, mode)
        reference[mode] = answers
        rows["local"][mode] = figures(times)
    newest = local.columns.article_time.max()
    started = connect("auto")
    results = {}
    try:
        for n in args.shards:
            shards = start_shards(n, args.replicas, cpus=0.1, timeout=30.0)
            engine = SearchEngine.open_build(current_build(index), embedder=embedder,
                                             snapshots=ShardedSnapshotOpener(shards))
            entry: dict = {"shards": n, "replicas": args.replicas,
                           "segments_per_shard": [int((engine.bm25.joined.owner == s).sum()) for s in range(n)]}
            equal = True
            for mode in MODES:
                timed(engine, asked[:5], mode)
                calls = sum(shards.calls.values())
                times, answers = timed(engine, asked, mode)
                entry[mode] = {**figures(times),
                               "shard_calls_per_question": round((sum(shards.calls.values()) - calls) / len(asked), 1)}
                for a, b in zip(answers, reference[mode]):
                    same = [x[:2] for x in a] == [x[:2] for x in b] and all(
                        abs(x[2] - y[2]) <= 1e-9 for x, y in zip(a, b))
                    equal &= same
            entry["equal_to_one_index"] = equal
            pings = []
            for _ in range(200):
                t = time.perf_counter()
                shards.call(0, "ping")
                pings.append((time.perf_counter() - t) * 1000)
            entry["empty_call_ms"] = round(statistics.median(pings), 3)
            # a date filter on the newest articles: the dense leg asks only the shards holding them
            import datetime as dt

            day = dt.date(1970, 1, 1) + dt.timedelta(seconds=int(newest))
            searches = shards.calls["search"]
            timed(engine, asked[:20], "dense")
            entry["dense_searches_per_question"] = round((shards.calls["search"] - searches) / 20, 1)
            searches = shards.calls["search"]
            timed(engine, asked[:20], "dense", date_from=day)
            entry["dense_searches_per_question_newest_day"] = round((shards.calls["search"] - searches) / 20, 1)
            pids = sorted({p for s in range(n) for p in shards.replica_pids(s, args.replicas)})
            pss = [memory_kib(p)["Pss"] for p in pids]
            entry["replica_pss_mib"] = [round(x / 1024, 1) for x in pss]
            entry["router_pss_mib"] = round(memory_kib(os.getpid())["Pss"] / 1024, 1)  # includes the cluster's
            results[n] = entry
            line = "  ".join(f"{m} {entry[m]['median_ms']:.1f}/{entry[m]['p95_ms']:.1f} ms "
                             f"({entry[m]['shard_calls_per_question']} calls)" for m in MODES)
            print(f"{n} shard(s): {line}; equal: {equal}; empty call {entry['empty_call_ms']} ms; "
                  f"replica PSS {entry['replica_pss_mib']} MiB; shards searched per dense question "
                  f"{entry['dense_searches_per_question']}, with a filter on the newest day "
                  f"{entry['dense_searches_per_question_newest_day']}", flush=True)
            engine.close()
            stop_shards(False)
    finally:
        stop_shards(started)
    line = "  ".join(f"{m} {rows['local'][m]['median_ms']:.1f}/{rows['local'][m]['p95_ms']:.1f} ms" for m in MODES)
    print(f"one process: {line}")
    out = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": platform.node(), "cpus": os.cpu_count(),
           "load_average": os.getloadavg(), "index": {k: summary[k] for k in ("articles", "passages", "segments")},
           "questions": len(asked), "local": rows["local"], "sharded": results}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
