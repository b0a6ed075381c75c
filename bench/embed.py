"""Embedding speed and fidelity per model variant: passages/s of 120-word passages, question latency, cosine to torch.

python -m bench.embed [--passages 400] [--out bench/results/embed.json]

Runs ONNX variants first and torch last: torch's OpenMP threads keep spinning after their work and would
slow anything measured right after them.
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

import numpy as np  # noqa: E402

from bench.common import REUTERS, ROOT, figures  # noqa: E402
from bench.questions import ASKED  # noqa: E402

WORDS = 120


def passages(n: int) -> list[str]:
    """n consecutive 120-word windows of Reuters story bodies: the issue's unit of embedding speed."""
    words: list[str] = []
    with gzip.open(REUTERS, "rt", encoding="utf-8") as handle:
        for line in handle:
            words += (json.loads(line).get("body") or "").split()
            if len(words) >= n * WORDS:
                break
    return [" ".join(words[i : i + WORDS]) for i in range(0, n * WORDS, WORDS)]


def main() -> None:
    from indexer.onnx_export import cpu_has_vnni, exported_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2, help="threads for passage embedding (a build's setting)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "embed.json")
    args = parser.parse_args()
    if not REUTERS.exists():
        raise SystemExit(f"{REUTERS} is missing: put the shared data folder beside the project")
    texts = passages(args.passages)
    cache = Path(tempfile.mkdtemp(prefix="newsclip-embed-"))
    result: dict = {"passages": len(texts), "words_per_passage": WORDS, "threads": args.threads,
                    "machine": f"{platform.machine()} {os.cpu_count()} cores", "vnni": cpu_has_vnni(),
                    "loadavg_at_start": os.getloadavg(), "variants": {}}
    try:
        for variant in ("onnx-int8", "onnx-fp32"):
            began = time.perf_counter()
            exported_model("all-MiniLM-L6-v2", variant, cache)
            result["variants"][variant] = {"export_s": round(time.perf_counter() - began, 1)}
        vectors = {}
        for variant in ("onnx-int8", "onnx-fp32", "torch-fp32"):
            embedder = _load(variant, cache, args.threads)
            tokens = embedder.count_tokens(texts)
            embedder.encode(texts[:16])  # warm up
            began = time.perf_counter()
            vectors[variant] = embedder.encode(texts, batch_size=32)
            seconds = time.perf_counter() - began
            single = _load(variant, cache, 1)  # the server's setting: one thread per question
            single.encode(["warm up"])
            times = []
            for question in ASKED:
                t = time.perf_counter()
                single.encode([question])
                times.append((time.perf_counter() - t) * 1000)
            result["variants"].setdefault(variant, {}).update({
                "passages_per_second": round(len(texts) / seconds, 1),
                "seconds": round(seconds, 2),
                "mean_word_pieces": round(float(np.mean(tokens)), 1),
                "question_ms": figures(times),
            })
            del embedder, single
        reference = vectors["torch-fp32"]
        for variant, got in vectors.items():
            cos = np.sum(got * reference, axis=1)
            result["variants"][variant]["cosine_to_torch_fp32"] = {
                "min": round(float(cos.min()), 4), "median": round(float(np.median(cos)), 4)}
        base = result["variants"]["torch-fp32"]["passages_per_second"]
        for row in result["variants"].values():
            row["speedup_over_torch"] = round(row["passages_per_second"] / base, 2)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    result["loadavg_at_end"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    print(f"\n| variant | passages/s ({WORDS} words, {args.threads} threads) | x torch | cosine to torch fp32 "
          "(min / median) | question ms (median / p95, 1 thread) | export s |")
    print("|---|---:|---:|---:|---:|---:|")
    for variant, row in result["variants"].items():
        cos, q = row["cosine_to_torch_fp32"], row["question_ms"]
        print(f"| {variant} | {row['passages_per_second']} | {row['speedup_over_torch']} | {cos['min']} / "
              f"{cos['median']} | {q['median_ms']} / {q['p95_ms']} | {row.get('export_s', '-')} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


def _load(variant: str, cache: Path, threads: int):
    """An embedder of one variant with a thread count, the export taken from `cache`."""
    from indexer.onnx_export import exported_model
    from search.embed import OnnxEmbedder, SentenceTransformerEmbedder

    if variant == "torch-fp32":
        return SentenceTransformerEmbedder(threads=threads)
    return OnnxEmbedder(exported_model("all-MiniLM-L6-v2", variant, cache), threads=threads)


if __name__ == "__main__":
    main()
