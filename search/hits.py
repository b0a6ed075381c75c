"""The page's hits: for the rows a page shows, the quote, the highlights, the matching quotations and the metadata.

Only the page's rows get this work; the ranking never needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .highlight import choose_quote, lexical_spans, matches
from .models import Article, Hit, Quotation, Quote, QuoteHit, Scores, Span
from .query import ParsedQuery
from .ranking import Ranker

if TYPE_CHECKING:
    from .engine import SearchEngine

HIT_QUOTATIONS = 3  # an article hit carries at most this many of its matching quotations
QUOTE_MIN_COSINE = 0.35  # all-MiniLM-L6-v2: a quotation this close to the question is on its subject

Group = list[tuple[int, float]]  # an article's rows on the page, best first, with their fused scores


def article_hits(engine: SearchEngine, page: list[Group], ranker: Ranker, parsed: ParsedQuery,
                 vector: np.ndarray | None, first_rank: int, speaker: str | None = None) -> list[Hit]:
    """One hit per group: its best passage, the quote, the marked words, more passages and quotations.

    What the hits read is read for the whole page at once (passages, articles, sentence vectors, quotations):
    one read of each kind per page, not per hit (on shards, one round of calls)."""
    cols, store = engine.columns, engine.store
    rows = [r for group in page for r, _ in group]
    owners_of_page = sorted({int(cols.passage_article[g[0][0]]) for g in page})
    reads = [("passages_at", rows), ("articles_at", owners_of_page)]
    # a row purged by a delete since this snapshot is missing: skipped
    passages, articles = store.read_many(reads) if hasattr(store, "read_many") else (
        store.passages_at(rows), store.articles_at(owners_of_page))
    terms = {t: max(engine.bm25.idf(t), 1e-3) for t in parsed.marked_terms}
    named = {c for group in engine.quotes.lookup.named_in(parsed.text) for c in group}
    speaker_codes = engine.quotes.codes_matching(speaker) if speaker else None  # once a page, not once a hit
    shown = [g for g in page if g[0][0] in passages and int(cols.passage_article[g[0][0]]) in articles]
    # deleted and purged after this snapshot was opened: the next one no longer has them
    owners = [int(cols.passage_article[g[0][0]]) for g in shown]
    sentences = [cols.sentences_in(a, passages[g[0][0]].start, passages[g[0][0]].end) for a, g in zip(owners, shown)]
    sims = _sentence_sims(cols.sentence_vectors, sentences, vector)
    quotations = _page_quotations(engine, owners, vector, speaker_codes)
    hits = []
    for group, article_row, rows_of_quote, quote_sims, said in zip(shown, owners, sentences, sims, quotations):
        best_row, score = group[0]
        article = articles[article_row]
        passage = passages[best_row]
        found = matches(article.text, terms, passage.start, passage.end)  # one analyzer pass per hit
        spans_of = [(int(cols.sentence_start[r]), int(cols.sentence_end[r])) for r in rows_of_quote]
        quote = choose_quote(article.text, spans_of, terms, quote_sims, found)
        relative = [(a - passage.start, b - passage.start, t) for a, b, t in found]
        spans = lexical_spans(passage.text, passage.start, terms, parsed.phrases, relative)
        if quote is not None:
            spans.append(Span(quote.start, quote.end, "semantic"))
        more = [passages[r] for r, _ in group[1:] if r in passages]
        hits.append(Hit(
            rank=first_rank + len(hits),
            article_id=article.id,
            title=article.headline,
            source=article.source,
            url=article.url,
            date=article.date,
            score=round(score, 6),
            scores=ranker.explain(best_row, score),
            passage=passage,
            quote=quote,
            highlights=tuple(sorted(spans, key=lambda s: (s.start, -s.end))),
            more_passages=tuple(more),
            quotations=_hit_quotations(engine, article, terms, quote, speaker_codes, named, *said),
            more_highlights=tuple(tuple(lexical_spans(p.text, p.start, terms, parsed.phrases)) for p in more),
            dateline=article.dateline,
        ))
    return hits


def _sentence_sims(vectors: object, row_lists: list[np.ndarray], vector: np.ndarray | None) -> list[np.ndarray | None]:
    """Each hit's sentences' cosines to the question (None without a question vector): a store that reads many
    sets of rows at once (sentence vectors on shards) does so; a local one reads each hit's short run."""
    if vector is None:
        return [None] * len(row_lists)
    many = getattr(vectors, "many", None)
    wanted = [rows for rows in row_lists if len(rows)]
    got = iter(many(wanted) if many is not None else [vectors[rows] for rows in wanted])  # type: ignore[index]
    return [next(got).astype(np.float32) @ vector if len(rows) else None for rows in row_lists]


def _page_quotations(engine: SearchEngine, owners: list[int], vector: np.ndarray | None,
                     speaker: list[int] | None) -> list[tuple[np.ndarray, np.ndarray, dict[int, Quotation]]]:
    """Each hit's candidate quotations (searchable, by the filtered speaker if any), their cosines to the question
    and their text, read for the whole page at once."""
    q = engine.quotes
    per_hit = []
    for article_row in owners:
        rows = q.rows_of_article(article_row)
        rows = rows[q.searchable[rows]]
        if speaker is not None:  # the speaker filter's codes
            rows = rows[np.isin(q.speaker[rows], speaker)]
        per_hit.append(rows)
    every = np.concatenate(per_hit) if per_hit else np.zeros(0, dtype=np.int64)
    if every.size == 0:
        return [(rows, np.zeros(0, dtype=np.float32), {}) for rows in per_hit]
    sims = q.vectors(every) @ vector if vector is not None else np.zeros(every.size, dtype=np.float32)
    found = engine.store.quotations_at(every.tolist())
    out, at = [], 0
    for rows in per_hit:
        out.append((rows, sims[at:at + rows.size], found))
        at += rows.size
    return out


def _hit_quotations(engine: SearchEngine, article: Article, terms: dict[str, float], quote: Quote | None,
                    speaker: list[int] | None, named: set[int], rows: np.ndarray, sims: np.ndarray,
                    found: dict[int, Quotation]) -> tuple[Quotation, ...]:
    """The article's quotations that match the question, best first.

    A quotation matches when it holds a question term, lies in the chosen sentence, is close in meaning
    (cosine >= QUOTE_MIN_COSINE) or is by a speaker the question names; with a speaker filter, that
    speaker's quotations only (all of them, best first).
    """
    if rows.size == 0:
        return ()
    q = engine.quotes
    total = sum(terms.values()) or 1.0
    scored = []
    for row, sim in zip(rows.tolist(), sims.tolist()):
        quotation = found.get(row)
        if quotation is None:
            continue  # purged since this snapshot
        words = {t for a, b in quotation.parts for _, _, t in matches(article.text, terms, a, b)}
        inside = quote is not None and quotation.start < quote.end and quote.start < quotation.end
        by_named = int(q.speaker[row]) in named
        if words or inside or by_named or sim >= QUOTE_MIN_COSINE or speaker is not None:
            score = sum(terms[t] for t in words) / total + sim + (1.0 if by_named else 0.0)
            scored.append((-score, quotation.start, quotation))
    scored.sort(key=lambda item: item[:2])
    return tuple(item[2] for item in scored[:HIT_QUOTATIONS])


def quote_hits(engine: SearchEngine, page: list[tuple[int, float]], explain: Callable[[int, float], Scores],
               parsed: ParsedQuery, named: set[int], first_rank: int) -> list[QuoteHit]:
    """The page's quotations with their articles' metadata and each leg's score."""
    rows = [r for r, _ in page]
    quotes = engine.store.quotations_at(rows)  # purged since this snapshot: missing, skipped
    articles = engine.store.articles_at(sorted({int(engine.quotes.article[r]) for r in rows}))
    terms = {t: max(engine.quotes.bm25.idf(t), 1e-3) for t in parsed.marked_terms}
    hits = []
    for row, score in page:
        quotation = quotes.get(row)
        article = articles.get(int(engine.quotes.article[row]))
        if quotation is None or article is None:
            continue
        spans = [Span(a, b, "lexical") for lo, hi in quotation.parts for a, b, _ in matches(article.text, terms, lo, hi)]
        hits.append(QuoteHit(
            rank=first_rank + len(hits),
            quotation=quotation,
            title=article.headline,
            source=article.source,
            url=article.url,
            date=article.date,
            score=round(score, 6),
            scores=explain(row, score),
            highlights=tuple(spans),
            speaker_named=row in named,
            dateline=article.dateline,
        ))
    return hits
