"""Quotation extraction: spans, speakers and misattributions on the labelled set; speed over Reuters, with the
cost of spaCy's parse apart.

    python -m bench.quotes --stories 5000 --out bench/results/quotes.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from indexer import nlp
from indexer.quoteeval import load_labelled, score
from indexer.quotes import extract_batch, locate, to_parse
from indexer.sources import read_file
from search.models import Article

from .build import subset
from .common import REUTERS, ROOT

LABELS = ROOT / "tests" / "data" / "quotes-reuters.json"
BUILD = ROOT / "bench" / "results" / "build-5000.json"


def _timed(work):  # type: ignore[no-untyped-def]
    """(result, wall seconds, CPU seconds of this process) of work()."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def speed(stories: int, scratch: Path) -> dict[str, object]:
    """Over the first `stories` Reuters stories with a body: loading the pipeline, finding the marks alone (no
    spaCy), what is parsed, and the whole extraction as a build would run it (one `extract_batch`)."""
    corpus = scratch / "stories.jsonl.gz"
    subset(corpus, stories)
    texts = [a.text for a in read_file(corpus, "jsonl") if isinstance(a, Article)]
    chars = sum(len(t) for t in texts)
    nlp.pipeline.cache_clear()
    _, load, _ = _timed(lambda: nlp.pipeline())
    spots, marks, _ = _timed(lambda: [locate(t) for t in texts])
    parsed = [b - a for t, s in zip(texts, spots) for a, b in to_parse(t, s)]
    found, total, total_cpu = _timed(lambda: extract_batch(texts))
    kinds = Counter(q.kind for qs in found for q in qs)
    spoken = [q for qs in found for q in qs if q.kind != "term"]
    attributed = [q for q in spoken if q.speaker]
    return {
        "stories": len(texts), "chars": chars, "pipeline": list(nlp.pipeline().pipe_names),
        "load_seconds": round(load, 2),
        "marks_only": {"seconds": round(marks, 2), "stories_per_s": round(len(texts) / marks, 1)},
        "parsed": {"stories": sum(1 for s in spots if s), "texts": len(parsed), "chars": sum(parsed),
                   "share_of_chars": round(sum(parsed) / chars, 3)},
        "extract_batch": {"seconds": round(total, 2), "stories_per_s": round(len(texts) / total, 1),
                          "cpu_over_wall": round(total_cpu / total, 2)},
        "quotations": dict(kinds), "stories_with_a_quotation": sum(1 for qs in found if any(
            q.kind != "term" for q in qs)),
        "with_speaker": round(len(attributed) / max(len(spoken), 1), 3),
        "speaker_kinds": dict(Counter(q.speaker_kind for q in attributed)),
        "distinct_named_speakers": len({q.speaker for q in attributed if q.speaker_kind != "description"}),
    }


def build_share(added: float) -> dict[str, object]:
    """What `added` seconds are to the cold and warm rebuilds of 5,000 stories measured by bench.build."""
    if not BUILD.is_file():
        return {}
    runs = json.loads(BUILD.read_text(encoding="utf-8"))["runs"]
    return {label: {"build_seconds": runs[label]["seconds"], "share": round(added / runs[label]["seconds"], 3)}
            for label in ("cold", "warm")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=5000, help="Reuters stories for the speed figure")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    if not REUTERS.is_file():
        raise SystemExit(f"{REUTERS} is missing: the benchmark reads ../shared/data")
    with tempfile.TemporaryDirectory() as tmp:
        fast = speed(args.stories, Path(tmp))  # first: loading the pipeline is part of what it measures
        labels, articles = load_labelled(LABELS, REUTERS, Path(tmp))
        quality = score(labels, articles)
    added = fast["load_seconds"] + fast["extract_batch"]["seconds"] - fast["marks_only"]["seconds"]  # type: ignore
    result = {"labelled": quality, "speed": fast,
              "spacy_in_a_build": {"seconds": round(added, 1), **build_share(added)}}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
