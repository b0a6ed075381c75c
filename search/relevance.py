"""When a passage is a match at all: the gate that lets the engine say "no match" honestly, and language notices.

A passage (or quotation) matches a question when its words cover the question's content words well enough
(lexical gate) or its meaning is close enough (semantic gate). Both thresholds were calibrated on the judged
passages of the ir-classic sets and on questions with no answer (docs/evaluation.md, `python -m bench.threshold`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .bm25 import BM25Index
from .models import Notice
from .text import QUESTION_WORDS


@dataclass(frozen=True)
class Gate:
    """The relevance thresholds of a served index."""

    lexical: float = 0.25  # BM25 over the question's content words, as a share of the best possible score
    dense: float = 0.35  # cosine of the question to the passage (all-MiniLM-L6-v2 unit vectors)
    near_miss: float = 0.25  # cosine above which the best weak matches are shown apart when nothing matches

    def __post_init__(self) -> None:
        if not (0.0 <= self.lexical <= 1.0 and -1.0 <= self.near_miss <= self.dense <= 1.0):
            raise ValueError(f"gate thresholds out of range: {self}")


def content_tokens(tokens: Sequence[str]) -> list[str]:
    """The question's analyzer tokens that carry its topic: question words ("what", "did") left out, each once."""
    return [t for t in dict.fromkeys(tokens) if t not in QUESTION_WORDS]


def lexical_share(bm25: BM25Index, tokens: Sequence[str], scores: np.ndarray | None = None) -> np.ndarray:
    """Each document's BM25 over the distinct content tokens, divided by the best score those tokens allow.

    `scores`, when given, are the BM25 scores of exactly these tokens in this order (reused, not recomputed). A
    token the index does not know counts in the denominator with the index's largest idf: a question about an
    unknown word is not matched by its other, common words alone.
    """
    content = content_tokens(tokens)
    if scores is None:
        scores = bm25.scores(content)
    best = sum(bm25.idf(t) if bm25.knows(t) else bm25.max_idf for t in content) * (bm25.params.k1 + 1)
    if best <= 0:
        return np.zeros(bm25.n_docs, dtype=np.float64)
    return scores / best


_LATIN = ("LATIN",)


def _script(ch: str) -> str:
    """The first word of a letter's Unicode name: LATIN, CYRILLIC, ARABIC, CJK, GREEK, ..."""
    try:
        return unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return "UNKNOWN"


def language_notice(question: str) -> Notice | None:
    """A notice when most letters of the question are in a script the English model cannot read."""
    letters = [ch for ch in question if ch.isalpha()]
    if len(letters) < 2:
        return None
    foreign = [s for s in map(_script, letters) if s not in _LATIN]
    if len(foreign) * 2 <= len(letters):
        return None
    scripts = sorted({s.title() for s in foreign})
    return Notice("not_english", f"The search reads English; this question is written in {' and '.join(scripts)} "
                                 "script, so its meaning cannot be matched. Words spelled exactly as in the "
                                 "archive can still be found.")


NO_MATCH = Notice("no_match", "Nothing in the archive matches this question well.")
WEAK_ONLY = Notice("weak_only", "Nothing in the archive matches this question well; the closest passages are "
                                "shown apart as weak matches and may not answer it.")
