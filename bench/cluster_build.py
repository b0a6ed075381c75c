"""A local build and a Ray cluster build of the same Reuters stories, timed in one run, and how equal they are.

    python -m bench.cluster_build --stories 2000 --out bench/results/cluster-build.json

Builds three indexes of the first N stories with a body: local (the build's own process, 2 ONNX threads), a local
Ray cluster (`--ray auto`: this machine as one node) and a two-node Ray cluster of this machine (1 CPU per node,
on loopback). Prints wall seconds, stories a second and core-ms a story, then checks the cluster builds against
the local one: counts, BM25 arrays bit-equal, the least passage-vector cosine, and the top 10 of 30 questions in
every mode.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # every node is 127.0.0.1: loopback only

import faiss  # noqa: E402
import numpy as np  # noqa: E402

from .build import subset  # noqa: E402
from .common import REUTERS, ROOT  # noqa: E402
from .questions import questions  # noqa: E402


def proc_cpu_seconds() -> float:
    """CPU time of every process on the machine (from /proc/stat): a cluster's workers included."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(x) for i, x in enumerate(fields) if i not in (3, 4))  # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def timed_build(config) -> dict:
    from indexer.build import build_index

    began, cpu0 = time.perf_counter(), proc_cpu_seconds()
    report = build_index(config)
    wall, cpu = time.perf_counter() - began, proc_cpu_seconds() - cpu0
    return {"wall_s": round(wall, 1), "machine_cpu_s": round(cpu, 1), "articles": report.articles,
            "passages": report.passages, "stories_per_s": round(report.articles / wall, 2),
            "core_ms_per_story": round(1000 * cpu / max(report.articles, 1), 1), "timings": report.timings,
            "cluster": report.cluster}


def compare(local: Path, other: Path, asked: list[str]) -> dict:
    """How equal two builds are: BM25 arrays, vectors, and the top 10 per mode."""
    from indexer.evaluate import MODE_NAMES, run_mode
    from search.engine import SearchEngine
    from search.layout import BM25_DIR, DENSE, current_build

    a, b = current_build(local), current_build(other)
    bm25 = all(np.array_equal(np.load(a / BM25_DIR / f"{n}.npy"), np.load(b / BM25_DIR / f"{n}.npy"))
               for n in ("doc_ids", "sat", "tf", "idf", "doc_len", "term_ptr"))
    x, y = faiss.read_index(str(a / DENSE)), faiss.read_index(str(b / DENSE))
    same_rows = x.ntotal == y.ntotal
    cosine = float(np.min(np.sum(x.reconstruct_n(0, x.ntotal) * y.reconstruct_n(0, y.ntotal), axis=1))) \
        if same_rows else None
    one, two = SearchEngine.open(local), SearchEngine.open(other)
    queries = {str(i): q for i, q in enumerate(asked)}
    top10 = {mode: sum(r1 == r2 for r1, r2 in zip(run_mode(one.search, queries, mode).values(),
                                                   run_mode(two.search, queries, mode).values()))
             for mode in MODE_NAMES}
    return {"bm25_bit_equal": bm25, "same_passages": same_rows, "min_vector_cosine": cosine,
            "same_top10_of": len(asked), "same_top10": top10}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "cluster-build")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import ray
    from ray.cluster_utils import Cluster

    from indexer.build import BuildConfig
    from indexer.cluster import ClusterConfig

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    corpus = args.work / "stories.jsonl.gz"
    subset(corpus, args.stories)
    models = args.work / "models"
    base = dict(sources=(corpus,), progress=False, model_cache=models)
    result: dict = {"stories": args.stories, "machine": f"{platform.machine()} {os.cpu_count()} cores (shared)",
                    "loadavg_at_start": os.getloadavg()}
    from indexer.build import load_embedder

    result["variant"] = load_embedder(BuildConfig(index_dir=args.work, model_cache=models)).describe()["variant"]
    runs = {
        "local": BuildConfig(index_dir=args.work / "local", **base),
        "ray_auto": BuildConfig(index_dir=args.work / "ray-auto", ray=ClusterConfig("auto"), **base),
    }
    for name, config in runs.items():
        result[name] = timed_build(config)
        print(name, json.dumps({k: v for k, v in result[name].items() if k != "timings"}), flush=True)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1",
                                                           "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
        config = BuildConfig(index_dir=args.work / "ray-2-nodes", ray=ClusterConfig(cluster.address), **base)
        result["ray_2_nodes"] = timed_build(config)
        print("ray_2_nodes", json.dumps({k: v for k, v in result["ray_2_nodes"].items() if k != "timings"}),
              flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()
    asked = questions(REUTERS, 30)
    for name in ("ray_auto", "ray_2_nodes"):
        result[name]["equal_to_local"] = compare(args.work / "local", args.work / name.replace("_", "-"), asked)
        print(name, "vs local", json.dumps(result[name]["equal_to_local"]), flush=True)
    result["loadavg_at_end"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
