"""Peak memory of `indexer rebuild` against corpus size: a rebuild streams, so it must not grow with the text.

python -m bench.buildmem [--stories 1000 4000 17000] [--out bench/results/buildmem.json]

Each size is rebuilt by the real CLI in its own process, with a copy of var/scale-base's embedding cache (the
same stories, model variant and chunking), so the figures are about memory, not about embedding time. The
peak resident set is the child's ru_maxrss; the corpus and index sizes are printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.build import subset  # noqa: E402
from bench.common import REUTERS, ROOT  # noqa: E402
from bench.scalegen import BASE_DIR  # noqa: E402

WRAPPER = ("import json, resource, subprocess, sys, time; t = time.perf_counter(); "
           "rc = subprocess.run(sys.argv[1:]).returncode; "
           "print(json.dumps([rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t]))")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, nargs="+", default=[1000, 4000, 17000])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "buildmem.json")
    args = parser.parse_args()
    cache = BASE_DIR / "cache"
    if not (cache / "embeddings.sqlite").is_file():
        raise SystemExit(f"{cache} has no embedding cache: run `python -m bench.scale generate` once first")
    if not REUTERS.exists():
        raise SystemExit(f"{REUTERS} is missing: put the shared data folder beside the project")
    runs = []
    work = Path(tempfile.mkdtemp(prefix="newsclip-buildmem-"))
    try:
        for n in args.stories:
            corpus = work / f"reuters-{n}.jsonl.gz"
            subset(corpus, n)
            index = work / f"index-{n}"
            shutil.copytree(cache, index / "cache")
            command = [str(Path(sys.executable).parent / "indexer"), "rebuild", "--source", str(corpus),
                       "--index", str(index), "--quiet"]
            out = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, cwd=ROOT)
            rc, peak_kib, seconds = json.loads(out.stdout.strip().splitlines()[-1])
            if rc != 0:
                raise SystemExit(f"rebuild of {n} stories failed:\n{out.stderr[-2000:]}")
            build = next(p for p in (index / "builds").iterdir() if not p.name.startswith("."))
            manifest = json.loads((build / "manifest.json").read_text())
            text_bytes = sum(len(json.loads(line).get("body") or "") for line in _lines(corpus))
            index_bytes = sum(p.stat().st_size for p in build.rglob("*") if p.is_file())
            row = {
                "stories": n, "passages": manifest["counts"]["passages"], "sentences": manifest["counts"]["sentences"],
                "text_mib": round(text_bytes / 2**20, 1), "index_mib": round(index_bytes / 2**20, 1),
                "peak_rss_mib": round(peak_kib / 1024, 1), "seconds": round(seconds, 1),
                "embedded": manifest["embeddings"]["embedded"] + manifest["sentence_embeddings"]["embedded"],
            }
            runs.append(row)
            print(json.dumps(row), flush=True)
            shutil.rmtree(index)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"runs": runs, "note": "peak RSS of the rebuild process (ru_maxrss); the embedding cache was warm"}
    print("\n| stories | passages | body text MiB | index MiB | rebuild peak RSS MiB | seconds |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        print(f"| {r['stories']:,} | {r['passages']:,} | {r['text_mib']} | {r['index_mib']} | {r['peak_rss_mib']} | "
              f"{r['seconds']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


def _lines(path: Path):
    import gzip

    with gzip.open(path, "rt", encoding="utf-8") as handle:
        yield from handle


if __name__ == "__main__":
    main()
