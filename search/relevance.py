"""When a passage is a match at all: the gate that lets the engine say "no match" honestly, and language notices.

A passage (or quotation) matches a question when its words cover the question's content words well enough
(lexical gate) or its meaning is close enough (semantic gate). Both thresholds were calibrated on the judged
passages of the ir-classic sets and on questions with no answer (docs/evaluation.md, `python -m bench.threshold`).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bm25 import BM25Index
from .models import Notice
from .text import QUESTION_WORDS


@dataclass(frozen=True)
class Gate:
    """The relevance thresholds of a served index."""

    lexical: float = 0.35  # BM25 over the question's content words, as a share of the best possible score
    dense: float = 0.40  # cosine of the question to the passage (all-MiniLM-L6-v2 unit vectors)
    near_miss: float = 0.35  # cosine above which the best weak matches are shown apart when nothing matches
    quote_words: int = 3  # a quotation of fewer analyzer tokens passes on its words only, never on its cosine

    def __post_init__(self) -> None:
        if not (0.0 <= self.lexical <= 1.0 and -1.0 <= self.near_miss <= self.dense <= 1.0):
            raise ValueError(f"gate thresholds out of range: {self}")


# Every passage with a BM25 score or any cosine passes: the ranking alone, as `indexer eval` measures it (nDCG and
# recall score a ranking, and the ir-classic figures of docs/evaluation.md were taken before the gate existed).
UNGATED = Gate(lexical=0.0, dense=-1.0, near_miss=-1.0)


def content_tokens(tokens: Sequence[str]) -> list[str]:
    """The question's analyzer tokens that carry its topic: question words ("what", "did") left out, each once."""
    return [t for t in dict.fromkeys(tokens) if t not in QUESTION_WORDS]


def best_lexical(bm25: BM25Index, tokens: Sequence[str]) -> float:
    """The best BM25 the question's distinct content tokens allow (each at tf saturation's limit). A token the
    index does not know counts with the index's largest idf: a question about an unknown word is not matched by
    its other, common words alone."""
    content = content_tokens(tokens)
    return sum(bm25.idf(t) if bm25.knows(t) else bm25.max_idf for t in content) * (bm25.params.k1 + 1)


def lexical_share(bm25: BM25Index, tokens: Sequence[str], scores: np.ndarray | None = None) -> np.ndarray:
    """Each document's BM25 over the distinct content tokens, divided by the best score those tokens allow.

    `scores`, when given, are the BM25 scores of exactly these tokens in this order (reused, not recomputed).
    """
    if scores is None:
        scores = bm25.scores(content_tokens(tokens))
    best = best_lexical(bm25, tokens)
    if best <= 0:
        return np.zeros(bm25.n_docs, dtype=np.float64)
    return scores / best


def lexical_pass(bm25: BM25Index, tokens: Sequence[str], scores: np.ndarray, threshold: float) -> np.ndarray:
    """bool [n]: the documents whose content-token BM25 (`scores`) is at least `threshold` of the best those
    tokens allow (lexical_share >= threshold, compared as scores >= threshold x best: no array is divided)."""
    best = best_lexical(bm25, tokens)
    if best <= 0:  # only question words: every share is 0
        return np.full(bm25.n_docs, threshold <= 0, dtype=bool)
    return scores >= threshold * best


_LATIN = ("LATIN",)
# Languages the identifier may answer (English among them); trusted only when this sure of another one. Measured
# (bench.threshold): no false alarm on 75 short English questions and the judged queries, 0.4 % on lower-cased
# Reuters headlines; every French, German and Spanish question caught.
IDENTIFIED = ("en", "fr", "de", "es", "it", "pt", "nl", "ru", "ar", "zh", "el", "ja", "ko", "tr", "pl", "sv", "uk")
IDENTIFIER_CONFIDENCE = 0.7
IDENTIFIER_WORDS = 3  # fewer words than this in a Latin-script question: no guess at its language
_NAMES = {"fr": "French", "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch",
          "ru": "Russian", "ar": "Arabic", "zh": "Chinese", "el": "Greek", "ja": "Japanese", "ko": "Korean",
          "tr": "Turkish", "pl": "Polish", "sv": "Swedish", "uk": "Ukrainian"}


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    """py3langid's model (shipped in its wheel), narrowed to IDENTIFIED, loaded on first use."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(IDENTIFIED))
    return identifier


def _script(ch: str) -> str:
    """The first word of a letter's Unicode name: LATIN, CYRILLIC, ARABIC, CJK, GREEK, ..."""
    try:
        return unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return "UNKNOWN"


def language_notice(question: str) -> Notice | None:
    """A notice when the question is not English: most letters in another script, or a language identifier sure
    (IDENTIFIER_CONFIDENCE) it is another language. The search still runs: names and numbers can match."""
    letters = [ch for ch in question if ch.isalpha()]
    if len(letters) < 2:
        return None
    foreign = [s for s in map(_script, letters) if s not in _LATIN]
    if len(foreign) * 2 > len(letters):
        scripts = sorted({s.title() for s in foreign})
        return Notice("not_english", f"The search reads English; this question is written in "
                                     f"{' and '.join(scripts)} script, so its meaning cannot be matched. Words "
                                     "spelled exactly as in the archive can still be found.")
    if len(question.split()) < IDENTIFIER_WORDS:  # "dollar yen" reads as Turkish to it: too few words to tell
        return None
    lang, confidence = _identifier().classify(question)
    if lang != "en" and confidence >= IDENTIFIER_CONFIDENCE:
        name = _NAMES.get(lang, lang)
        return Notice("not_english", f"The search reads English; this question looks {name}, so its meaning may "
                                     "not be matched. Words spelled exactly as in the archive can still be found.")
    return None


NO_MATCH = Notice("no_match", "Nothing in the archive matches this question well.")
WEAK_ONLY = Notice("weak_only", "Nothing in the archive matches this question well; the closest passages are "
                                "shown apart as weak matches and may not answer it.")
