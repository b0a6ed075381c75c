"""Query latency of the library call per mode, and which thread settings serve single queries fastest.

python -m bench.search --index var/bench-5k [--queries 100] [--out bench/results/search-5000.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.common import REUTERS, ROOT, figures, percentile  # noqa: F401 (re-exported for bench.scalerss)


def thread_settings(engine, index: Path, asked: list[str]) -> dict[str, dict[str, float]]:
    """FAISS and query-embedding thread counts, each timed on single queries (cache off for the embedding)."""
    import faiss
    import numpy as np

    from search.embed import load_index_embedder

    out = {}
    vectors = [engine.embedder.encode([q])[0] for q in asked[:50]]
    rng = np.random.default_rng(0)
    big = rng.normal(size=(200_000, engine.embedder.dimension)).astype(np.float32)
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    flat = faiss.IndexFlatIP(big.shape[1])
    flat.add(big)
    for threads in (1, 2):
        faiss.omp_set_num_threads(threads)
        for label, index in (("index", engine.dense), ("synthetic_200k", flat)):
            times = []
            for v in vectors:
                began = time.perf_counter()
                index.search(v.reshape(1, -1), 100)
                times.append((time.perf_counter() - began) * 1000)
            out[f"faiss_{label}_threads_{threads}"] = figures(times)
        embedder = load_index_embedder(engine.build_dir, engine.manifest["model"], threads=threads)
        embedder.encode(["warm up"])
        times = []
        for q in asked[:50]:
            began = time.perf_counter()
            embedder.encode([q + " ?"])
            times.append((time.perf_counter() - began) * 1000)
        out[f"embed_query_threads_{threads}"] = figures(times)
    return out


def main() -> None:
    from search.engine import SearchEngine
    from search.models import SearchRequest

    from .questions import questions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--faiss-threads", type=int, default=1)
    parser.add_argument("--embed-threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    engine = SearchEngine.open(args.index, embed_threads=args.embed_threads)
    asked = questions(REUTERS, args.queries)
    result = {"index": engine.summary(), "embedder": engine.embedder.variant, "queries": len(asked),
              "threads": thread_settings(engine, args.index, asked)}
    import faiss

    faiss.omp_set_num_threads(args.faiss_threads)
    result["serving_threads"] = {"faiss": args.faiss_threads, "embed": args.embed_threads}
    modes = {}
    for mode in ("bm25", "dense", "hybrid"):
        engine.vectors.clear()  # every mode pays for its query embeddings: no cache hits
        took = [engine.search(SearchRequest(q, mode=mode)).took_ms for q in asked]
        modes[mode] = figures(took)
    took = [engine.search(SearchRequest(q)).took_ms for q in asked]
    modes["hybrid_repeated_cached_vectors"] = figures(took)
    engine.vectors.clear()
    took = [engine.search(SearchRequest(q, type="quotes")).took_ms for q in asked]
    modes["quotes_hybrid"] = figures(took)
    speakers = [name for name, _ in engine.speakers("", 20)]
    took = [engine.search(SearchRequest(f"What did {name.split()[-1]} say?", type="quotes")).took_ms
            for name in speakers]  # a named speaker: one more ranking over that speaker's quotations
    modes["quotes_named_speaker"] = figures(took) if took else {}
    result["took_ms"] = modes
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
