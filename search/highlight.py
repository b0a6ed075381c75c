"""Highlights and the quote: which words matched, and which sentence best answers the question."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .models import Quote, Span
from .text import normalize, term_spans

_QUOTATION = re.compile(r'"([^"]+)"|“([^”]+)”|«([^»]+)»|„([^“”]+)[“”]')
MIN_QUOTATION_WORDS = 4
SEMANTIC_WEIGHT = 1.0  # cosine similarity of a sentence to the question, beside the matched share of query idf


def matches(text: str, terms: Mapping[str, float] | set[str], start: int = 0, end: int | None = None) -> list[tuple[int, int, str]]:
    """Query-term occurrences in text[start:end]: (start, end, stem), offsets in `text`."""
    return [span for span in term_spans(text, start, end) if span[2] in terms]


def lexical_spans(
    text: str,
    offset: int,
    terms: Mapping[str, float] | set[str],
    phrases: Sequence[str] = (),
    found: Sequence[tuple[int, int, str]] | None = None,
) -> list[Span]:
    """Every word of `text` whose stem is a query term, and every phrase occurrence, as article offsets.

    `found`, when given, are the matches already computed, with offsets relative to `text`.
    """
    found = matches(text, terms) if found is None else found
    spans = [Span(offset + a, offset + b, "lexical") for a, b, _ in found]
    folded = normalize(text)
    for phrase in phrases:
        needle = normalize(phrase)
        if not needle or len(folded) != len(text):  # casefolding changed lengths: offsets would drift
            continue
        at = folded.find(needle)
        while at >= 0:
            spans.append(Span(offset + at, offset + at + len(needle), "lexical"))
            at = folded.find(needle, at + 1)
    return sorted(set(spans), key=lambda s: (s.start, -s.end))


def quotations(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the words inside quotation marks in text[start:end], marks excluded."""
    out = []
    for m in _QUOTATION.finditer(text, start, len(text) if end is None else end):
        group = next(i for i in range(1, 5) if m.group(i) is not None)
        a, b = m.span(group)
        inner = text[a:b]
        a += len(inner) - len(inner.lstrip())
        b -= len(inner) - len(inner.rstrip(" \t\n,;:"))  # "...victorious," Putin said: the comma is his, not ours
        if b > a:
            out.append((a, b))
    return out


def _matched_weight(found: Sequence[tuple[int, int, str]], terms: Mapping[str, float], lo: int, hi: int) -> float:
    """Sum of the idf of the distinct query terms found in [lo, hi)."""
    return sum(terms[t] for t in {stem for a, b, stem in found if lo <= a and b <= hi})


def choose_quote(
    text: str,
    sentences: Sequence[tuple[int, int]],
    terms: Mapping[str, float],
    similarities: Sequence[float] | None = None,
    found: Sequence[tuple[int, int, str]] | None = None,
) -> Quote | None:
    """The sentence with the best mix of matched query idf and similarity; its quotation when that holds the match.

    `found`, when given, are the query-term matches over the sentences, offsets in `text`.
    """
    if not sentences:
        return None
    if found is None:
        found = matches(text, terms, sentences[0][0], sentences[-1][1])  # one pass over the passage
    total = sum(terms.values()) or 1.0
    best, best_score = sentences[0], float("-inf")
    for i, (a, b) in enumerate(sentences):
        score = _matched_weight(found, terms, a, b) / total
        if similarities is not None:
            score += SEMANTIC_WEIGHT * float(similarities[i])
        if score > best_score:
            best, best_score = (a, b), score
    a, b = best
    matched = _matched_weight(found, terms, a, b)
    for qa, qb in quotations(text, a, b):
        if len(text[qa:qb].split()) >= MIN_QUOTATION_WORDS and matched > 0:
            if _matched_weight(found, terms, qa, qb) >= matched:
                a, b = qa, qb
                break
    return Quote(text[a:b], a, b)
