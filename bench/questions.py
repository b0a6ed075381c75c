"""Natural questions for the Reuters benchmarks: hand-written ones plus headlines of stories not indexed."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

ASKED = [
    "What did OPEC decide about oil production quotas?",
    "Why are cocoa prices falling?",
    "How much grain did the Soviet Union buy from the United States?",
    "What did the Federal Reserve do with interest rates?",
    "Which companies announced takeover bids?",
    "How large was the US trade deficit with Japan?",
    "What happened to coffee export quotas?",
    "Did the Bank of Japan intervene to support the dollar?",
    "What did Brazil say about its foreign debt payments?",
    "Why did gold prices rise?",
    "How did the stock market react to the budget deficit?",
    "What are the sugar production estimates for this season?",
    "Which banks raised their prime lending rate?",
    "What did the Bundesbank say about money supply growth?",
    "How much wheat will Egypt import?",
    "What did the farm bill mean for corn subsidies?",
    "Which airline agreed to a merger?",
    "How did crude oil prices move after the Gulf attacks?",
    "What did Saudi Arabia say about oil prices?",
    "What were the quarterly earnings of the computer makers?",
    "Why did the dollar fall against the yen?",
    "What did the finance ministers agree at the Louvre meeting?",
    "How much did car sales drop?",
    "What are the rubber stock levels?",
    "What did the tin council decide about its debts?",
    "Is Ecuador suspending oil exports after the earthquake?",
    "What did Japan promise about chip trade with the US?",
    "How much copper did Chile produce?",
    "Which countries cut their discount rate?",
    "What did analysts say about the housing starts figures?",
]


def questions(reuters: Path, n: int = 100, skip_first: int | None = None) -> list[str]:
    """`n` distinct questions: the hand-written ones, then headlines of Reuters lines from `skip_first` on
    (default: the lines after the scaled corpus's base stories, so no headline is a title in the index)."""
    if skip_first is None:
        from .common import held_out_from

        skip_first = held_out_from()
    out = list(dict.fromkeys(ASKED))[:n]
    seen = set(out)
    with gzip.open(reuters, "rt", encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            if len(out) >= n:
                break
            title = (json.loads(line).get("title") or "").strip()
            if i < skip_first or len(title.split()) < 4 or title in seen:
                continue
            seen.add(title)
            out.append(title.capitalize())
    return out
