"""Quotation extraction: span precision/recall and speaker accuracy on the labelled set, speed over Reuters.

    python -m bench.quotes --stories 5000 --out bench/results/quotes.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from indexer.quoteeval import load_labelled, score
from indexer.quotes import extract_quotations
from indexer.sources import read_file
from search.models import Article

from .build import subset
from .common import REUTERS, ROOT

LABELS = ROOT / "tests" / "data" / "quotes-reuters.json"


def speed(stories: int, scratch: Path) -> dict[str, object]:
    """Extraction over the first `stories` Reuters stories with a body: stories per second and what it finds."""
    corpus = scratch / "stories.jsonl.gz"
    subset(corpus, stories)
    articles = [a for a in read_file(corpus, "jsonl") if isinstance(a, Article)]
    began = time.perf_counter()
    found = [extract_quotations(a.text) for a in articles]
    seconds = time.perf_counter() - began
    kinds = Counter(q.kind for qs in found for q in qs)
    spoken = [q for qs in found for q in qs if q.kind != "term"]
    return {
        "stories": len(articles), "seconds": round(seconds, 2),
        "stories_per_s": round(len(articles) / seconds, 1),
        "chars_per_s": round(sum(len(a.text) for a in articles) / seconds),
        "quotations": dict(kinds), "stories_with_a_quotation": sum(1 for qs in found if any(q.kind != "term" for q in qs)),
        "with_speaker": round(sum(1 for q in spoken if q.speaker) / max(len(spoken), 1), 3),
        "distinct_speakers": len({q.speaker for q in spoken if q.speaker}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=5000, help="Reuters stories for the speed figure")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    if not REUTERS.is_file():
        raise SystemExit(f"{REUTERS} is missing: the benchmark reads ../shared/data")
    with tempfile.TemporaryDirectory() as tmp:
        labels, articles = load_labelled(LABELS, REUTERS, Path(tmp))
        quality = score(labels, articles)
        fast = speed(args.stories, Path(tmp))
    result = {"labelled": quality, "speed": fast}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
