"""What every benchmark shares: where the data is, and how latencies are summarised."""

from __future__ import annotations

import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REUTERS = ROOT.parent / "shared" / "data" / "reuters21578" / "reuters21578.jsonl.gz"
BASE_STORIES = 17_000  # stories with a body that the scaled corpus is made of; the rest of the file is held out


def held_out_from(stories: int = BASE_STORIES) -> int:
    """The line of the Reuters file after the first `stories` stories with a body: questions come from there on."""
    import gzip
    import json

    seen = 0
    with gzip.open(REUTERS, "rt", encoding="utf-8") as handle:
        for line_no, line in enumerate(handle):
            if (json.loads(line).get("body") or "").strip():
                seen += 1
                if seen == stories:
                    return line_no + 1
    return line_no + 1


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in [0, 1]."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def figures(values: list[float]) -> dict[str, float]:
    """Median and p95 in milliseconds, with the sample size."""
    return {"median_ms": round(statistics.median(values), 2), "p95_ms": round(percentile(values, 0.95), 2),
            "n": len(values)}
