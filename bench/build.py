"""Build time and passages/second of `indexer rebuild` on N Reuters stories, cold and warm cache.

python -m bench.build --stories 5000 [--out bench/results/build.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
REUTERS = ROOT.parent / "shared" / "data" / "reuters21578" / "reuters21578.jsonl.gz"


def subset(path: Path, n: int) -> int:
    """Write the first n Reuters stories with a body to `path`; returns how many."""
    count = 0
    with gzip.open(REUTERS, "rt", encoding="utf-8") as src, gzip.open(path, "wt", encoding="utf-8") as out:
        for line in src:
            if (json.loads(line).get("body") or "").strip():
                out.write(line)
                count += 1
                if count == n:
                    break
    return count


def main() -> None:
    from indexer.build import BuildConfig, build_index

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    parser.add_argument("--keep", type=Path, default=None, help="build in this index dir and keep it (for other benches)")
    args = parser.parse_args()
    if not REUTERS.exists():
        raise SystemExit(f"{REUTERS} is missing: put the shared data folder beside the project")
    work = Path(tempfile.mkdtemp(prefix="newsclip-bench-"))
    try:
        corpus = work / "reuters.jsonl.gz"
        stories = subset(corpus, args.stories)
        index_dir = args.keep if args.keep else work / "index"
        if args.keep and (index_dir / "CURRENT").exists():
            raise SystemExit(f"{index_dir} already holds an index: a cold build needs an empty folder")
        config = BuildConfig(sources=(corpus,), index_dir=index_dir, progress=False)
        runs = {}
        for label in ("cold", "warm"):
            began = time.perf_counter()
            report = build_index(config)
            seconds = time.perf_counter() - began
            runs[label] = {
                "seconds": round(seconds, 2),
                "passages_per_second": round(report.passages / seconds, 1),
                "stages": report.timings,
                "embeddings": report.embeddings,
                "sentence_embeddings": report.sentence_embeddings,
            }
        result = {
            "stories": stories,
            "articles": report.articles,
            "passages": report.passages,
            "skipped": report.skipped,
            "machine": f"{platform.machine()} {os.cpu_count()} cores",
            "runs": runs,
            "warm_over_cold": round(runs["warm"]["seconds"] / runs["cold"]["seconds"], 3),
        }
        print(json.dumps(result, indent=2))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
