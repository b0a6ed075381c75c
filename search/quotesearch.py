"""Quotations as hits (type=quotes): a speaker the question names first, then the gated ranking of the rest; no
article shows a third quotation in a tier before every other article of that tier has shown two."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .hits import quote_hits
from .models import Facets, Notice, Scores, SearchRequest, SearchResult
from .query import ParsedQuery, contains_phrase
from .ranking import Query, Ranker
from .relevance import NO_MATCH, WEAK_ONLY, Gate
from .text import tokenize

if TYPE_CHECKING:
    from .engine import SearchEngine

QUOTES_PER_ARTICLE = 2  # an article's further quotations wait until every article of the tier has shown two
NEAR_MISSES = 3
FACET_VALUES = 20
PHRASE_CHECK_LIMIT = 2000


def diversified(rows: list[int], articles: np.ndarray, complete: bool) -> list[int]:
    """An article's first QUOTES_PER_ARTICLE rows in ranking order, then (once the ranking is complete) the rest
    in ranking order: a prefix of the ranking gives a prefix of this order."""
    shown: dict[int, int] = {}
    head, tail = [], []
    for row in rows:
        article = int(articles[row])
        shown[article] = shown.get(article, 0) + 1
        (head if shown[article] <= QUOTES_PER_ARTICLE else tail).append(row)
    return head + tail if complete else head


@dataclass
class _Answer:
    """The matching quotations of one question under one set of filters."""

    tiers: list[list[int]]  # each named speaker's quotations, ranked among themselves
    tier_rankers: list[Ranker]
    rest: Ranker  # the gated ranking of every other allowed quotation
    strong: np.ndarray  # bool [quotes]: the rest's matches
    complete: bool

    @property
    def rows(self) -> np.ndarray:
        """Every matching quotation row (tiers and the rest's matches)."""
        tier_rows = np.array([r for tier in self.tiers for r in tier], dtype=np.int64)
        return np.union1d(tier_rows, np.flatnonzero(self.strong))

    def explain(self, row: int, score: float) -> Scores:
        for tier, ranker in zip(self.tiers, self.tier_rankers):
            if row in tier:
                return ranker.explain(row, score)
        return self.rest.explain(row, score)


def _allowed(engine: SearchEngine, request: SearchRequest, parsed: ParsedQuery, without: str | None = None) -> np.ndarray:
    """Quotations that may be hits: searchable, in allowed articles, by the filtered speaker, with the phrases."""
    q = engine.quotes
    allowed = q.searchable.copy()
    articles = engine._article_mask(request, parsed, without)
    if articles is not None:
        allowed &= articles[q.article]
    if request.speaker and without != "speaker":
        allowed &= engine.speaker_mask(request.speaker)
    for phrase in parsed.phrases:
        rows = engine._passages_with_all(tokenize(phrase), q.bm25)
        if rows is not None:
            has = np.zeros(q.count, dtype=bool)
            has[rows] = True
            allowed &= has
    return allowed


def _verbatim(engine: SearchEngine, rows: np.ndarray, phrases: tuple[str, ...]) -> np.ndarray:
    """Which quotations hold every quoted phrase verbatim (bool per row)."""
    if not phrases or rows.size == 0:
        return np.ones(rows.size, dtype=bool)
    found = engine.store.quotations_at(rows.tolist())  # purged since this snapshot: missing, not kept
    texts = [found[r].text if r in found else None for r in rows.tolist()]
    return np.array([t is not None and all(contains_phrase(t, p) for p in phrases) for t in texts], dtype=bool)


def _scores(ranker: Ranker, rows: np.ndarray, mode: str) -> np.ndarray:
    """The ranking's own scores of some rows: BM25, cosine, or the linear fusion of both."""
    if mode == "bm25":
        return ranker.bm25_scores[rows] if ranker.bm25_scores is not None else np.zeros(rows.size)
    if mode == "dense":
        return ranker.cosines(rows) if ranker.uses_dense else np.zeros(rows.size)
    return ranker.fused(rows)


def _answer(engine: SearchEngine, request: SearchRequest, parsed: ParsedQuery, query: Query,
            without: str | None = None, gate: Gate | None = None) -> _Answer:
    """Tiers of named speakers (every quotation of theirs, the name being the match) and the gated rest."""
    q = engine.quotes
    allowed = _allowed(engine, request, parsed, without)
    taken = np.zeros(q.count, dtype=bool)
    tiers, tier_rankers = [], []
    for codes in q.lookup.named_in(parsed.text):
        mask = allowed & np.isin(q.speaker, codes) & ~taken
        if not mask.any():
            continue
        taken |= mask
        rows = np.flatnonzero(mask)
        rows = rows[_verbatim(engine, rows, parsed.phrases)]
        ranker = engine.ranker(query, mask, quotes=True, gate=gate)
        scores = _scores(ranker, rows, query.mode)
        tiers.append(rows[np.lexsort((rows, -scores))].tolist())
        tier_rankers.append(ranker)
    rest = engine.ranker(query, allowed & ~taken, quotes=True, gate=gate)
    strong, complete = rest.strong()
    if parsed.phrases:
        rows = np.flatnonzero(strong)
        if rows.size > PHRASE_CHECK_LIMIT:
            rows, complete = rows[:PHRASE_CHECK_LIMIT], False
        strong = np.zeros_like(strong)
        strong[rows[_verbatim(engine, rows, parsed.phrases)]] = True
    return _Answer(tiers, tier_rankers, rest, strong, complete)


def _ordered(engine: SearchEngine, answer: _Answer, request: SearchRequest, parsed: ParsedQuery,
             need: int) -> list[tuple[int, float]]:
    """Tiers in order, then the rest, each diversified; at least `need` rows when there are that many."""
    articles = engine.quotes.article
    head: list[tuple[int, float]] = []
    for tier, ranker in zip(answer.tiers, answer.tier_rankers):
        scores = dict(zip(tier, _scores(ranker, np.array(tier, dtype=np.int64), request.mode).tolist()))
        head.extend((r, scores[r]) for r in diversified(tier, articles, True))
    if request.sort == "date":  # every match, newest first; the relevance order kept at equal times
        rows = np.flatnonzero(answer.strong)
        scores = _scores(answer.rest, rows, request.mode)
        order = np.lexsort((rows, -scores))
        ordered = head + list(zip(rows[order].tolist(), scores[order].tolist()))
        times = engine.columns.article_time
        return sorted(ordered, key=lambda item: -int(times[articles[item[0]]]))
    m = max(engine.settings.window, 2 * need)
    while True:
        ranked = answer.rest.top(m)
        rows, scores = ranked.rows, ranked.scores
        if parsed.phrases:
            keep = _verbatim(engine, rows, parsed.phrases)
            rows, scores = rows[keep], scores[keep]
        score_of = dict(zip(rows.tolist(), scores.tolist()))
        rest = [(r, score_of[r]) for r in diversified(rows.tolist(), articles, ranked.complete)]
        if len(head) + len(rest) >= need or ranked.complete:
            return head + rest
        m *= 4


def search_quotes(engine: SearchEngine, request: SearchRequest, parsed: ParsedQuery, vector: np.ndarray | None,
                  notices: list[Notice], began: float, deadline: float | None) -> SearchResult:
    """One page of quotations, their total and facets (computed as a click on a value would filter)."""
    from .engine import _on_time

    query = engine.query(request, parsed, vector)
    answer = _answer(engine, request, parsed, query)
    need = request.start + request.k
    _on_time(deadline)
    ordered = _ordered(engine, answer, request, parsed, need)
    total = int(answer.rows.size)
    page = ordered[request.start : need]
    named = {r for tier in answer.tiers for r in tier}
    _on_time(deadline)
    hits = quote_hits(engine, page, answer.explain, parsed, named, first_rank=request.start + 1)
    facets = _facets(engine, request, parsed, query, answer)
    near: list = []
    if total == 0:
        near = _near_misses(engine, request, parsed, query)
        notices.append(WEAK_ONLY if near else NO_MATCH)
    took = (time.perf_counter() - began) * 1000
    return SearchResult(request.q, request.mode, round(took, 2), total, request.page, request.k, tuple(hits),
                        type="quotes", total_relation="eq" if answer.complete else "gte", facets=facets,
                        notices=tuple(notices), near_misses=tuple(near), offset=request.start)


def _facets(engine: SearchEngine, request: SearchRequest, parsed: ParsedQuery, query: Query,
            answer: _Answer) -> Facets:
    """Speakers (without the speaker filter) and sources (without the source filter) of the matching quotations."""
    q = engine.quotes
    by_speaker = answer if not request.speaker else _answer(engine, request, parsed, query, without="speaker")
    rows = by_speaker.rows
    by_source = answer if not request.sources else _answer(engine, request, parsed, query, without="source")
    codes = engine.columns.article_source[q.article[by_source.rows]]
    counts = np.bincount(codes[codes >= 0], minlength=len(engine.columns.source_names))
    sources = sorted(((engine.columns.source_names[c], int(counts[c])) for c in np.flatnonzero(counts)),
                     key=lambda p: (-p[1], p[0].casefold()))[:FACET_VALUES]
    return Facets(sources=tuple(sources), speakers=tuple(q.facet(rows.tolist(), FACET_VALUES)),
                  unnamed=q.unnamed(rows.tolist()))


def _near_misses(engine: SearchEngine, request: SearchRequest, parsed: ParsedQuery, query: Query) -> list:
    """The best few quotations within the near-miss cosine, shown apart as weak."""
    gate = engine.settings.gate
    loose = replace(gate, dense=gate.near_miss)
    answer = _answer(engine, request, parsed, query, gate=loose)
    ordered = _ordered(engine, answer, request, parsed, NEAR_MISSES)[:NEAR_MISSES]
    return quote_hits(engine, ordered, answer.explain, parsed, set(), first_rank=1)
