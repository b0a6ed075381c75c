"""SearchEngine: open a published index and answer questions with BM25, dense or hybrid retrieval."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import fusion
from .bm25 import BM25Index
from .columns import NO_DAY, Columns, day_number, load_columns
from .dense import load_dense, search_dense
from .embed import Embedder, load_index_embedder
from .errors import IndexCorrupt, IndexMismatch, SearchTimeout
from .highlight import choose_quote, lexical_spans, matches
from .layout import BM25_DIR, COLUMNS, DENSE, QUOTES, STORE, current_build, read_manifest, summary
from .models import Article, Facets, Hit, Passage, Quotation, Quote, QuoteHit, Scores, SearchRequest, SearchResult, Span
from .quotes import QuoteIndex, load_quote_index
from .query import ParsedQuery, contains_phrase, parse_question, validate
from .store import Store
from .text import tokenize

_EPOCH = dt.date(1970, 1, 1)
MORE_PASSAGES = 2
QUOTES_PER_ARTICLE = 2  # type=quotes: an article's further quotations wait until every article has shown two
HIT_QUOTATIONS = 3  # an article hit carries at most this many of its matching quotations
QUOTE_MIN_COSINE = 0.35  # all-MiniLM-L6-v2: a quotation this close to the question is on its subject


def _scores(bm25: tuple[float, int] | None, dense: tuple[float, int] | None, fused: float) -> Scores:
    """Each leg's (score, rank) for a hit, None where that leg did not find it, and the fused score."""
    return Scores(
        bm25=None if bm25 is None else round(bm25[0], 6),
        bm25_rank=None if bm25 is None else bm25[1],
        dense=None if dense is None else round(dense[0], 6),
        dense_rank=None if dense is None else dense[1],
        fused=round(fused, 6),
    )


def _on_time(deadline: float | None) -> None:
    """Cut a search that is past its deadline (checked between steps; each step is short)."""
    if deadline is not None and time.perf_counter() > deadline:
        raise SearchTimeout("the search took too long and was stopped; try a narrower question or fewer results")


@dataclass(frozen=True)
class EngineSettings:
    """Ranking knobs fixed for a served index (tuned on the evaluation sets, see docs/)."""

    window: int = 100  # candidates per leg at least; hybrid fuses the top of both lists
    rrf_k: int = fusion.RRF_K

    def __post_init__(self) -> None:
        if self.window < 1 or self.rrf_k < 1:
            raise ValueError(f"window and rrf_k must be positive: {self}")


@dataclass
class _Candidates:
    """The legs' ranked rows and scores, and every passage that matched at all (for `total`)."""

    bm25: dict[int, tuple[float, int]]  # row -> (score, rank from 1)
    dense: dict[int, tuple[float, int]]
    matched: np.ndarray  # bool [passages]
    exhausted: bool  # no wider window can find more


class QueryVectors:
    """A small thread-safe LRU of query embeddings: repeated questions skip the model."""

    def __init__(self, embedder: Embedder, size: int = 2048) -> None:
        self.embedder = embedder
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> np.ndarray:
        with self._lock:
            hit = self._items.get(text)
            if hit is not None:
                self._items.move_to_end(text)
                return hit
        vector = self.embedder.encode([text])[0]
        with self._lock:
            self._items[text] = vector
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return vector

    def clear(self) -> None:
        """Forget every cached vector (benchmarks measure the model, not the cache)."""
        with self._lock:
            self._items.clear()


class SearchEngine:
    """One published build, loaded once and shared by every request thread."""

    def __init__(
        self, build_dir: Path, manifest: dict[str, Any], embedder: Embedder, settings: EngineSettings = EngineSettings()
    ) -> None:
        counts = manifest["counts"]
        self.settings = settings
        dimension = int(manifest["model"]["dimension"])
        self.build_dir = build_dir
        self.manifest = manifest
        self.embedder = embedder
        self.store = Store(build_dir / STORE)
        self.bm25 = BM25Index.load(build_dir / BM25_DIR)
        self.dense = load_dense(build_dir / DENSE, dimension, counts["passages"])
        self.columns: Columns = load_columns(build_dir / COLUMNS, counts["articles"], counts["passages"], dimension)
        self.quotes: QuoteIndex = load_quote_index(build_dir / QUOTES, int(counts["quotes"]), dimension)
        if self.bm25.n_docs != counts["passages"]:
            raise IndexCorrupt(f"{build_dir}: BM25 holds {self.bm25.n_docs} passages, the manifest {counts['passages']}")
        self.n_articles = int(counts["articles"])
        self.n_passages = int(counts["passages"])
        self.vectors = QueryVectors(embedder)
        pa = self.columns.passage_article
        self._articles_in_order = bool(pa.size < 2 or np.all(pa[1:] >= pa[:-1]))  # the build writes them so

    @classmethod
    def open(
        cls,
        index_dir: Path,
        model: str | None = None,
        embedder: Embedder | None = None,
        settings: EngineSettings = EngineSettings(),
        embed_threads: int | None = None,
    ) -> SearchEngine:
        """Load the current build with its own model variant; a model other than the index's is refused, naming both."""
        return cls.open_build(current_build(Path(index_dir)), model, embedder, settings, embed_threads)

    @classmethod
    def open_build(
        cls,
        build: Path,
        model: str | None = None,
        embedder: Embedder | None = None,
        settings: EngineSettings = EngineSettings(),
        embed_threads: int | None = None,
        manifest: dict[str, Any] | None = None,
    ) -> SearchEngine:
        """Load one published build (see `open`); an embedder of another fingerprint is refused."""
        manifest = manifest if manifest is not None else read_manifest(build)
        built_with = manifest.get("model", {})
        if embedder is None:
            embedder = load_index_embedder(build, built_with, model, embed_threads)
        if embedder.dimension != built_with.get("dimension") or embedder.fingerprint != built_with.get("fingerprint"):
            raise IndexMismatch(
                f"index {build} was built with model {built_with.get('name')!r} "
                f"({built_with.get('dimension')} dims, fingerprint {built_with.get('fingerprint')}), "
                f"but the query model is {embedder.name!r} ({embedder.dimension} dims, fingerprint "
                f"{embedder.fingerprint}): rebuild the index or serve it with its own model"
            )
        engine = cls(build, manifest, embedder, settings)
        engine.vectors.get("warm up the model")  # the first encode pays torch's one-off set-up costs
        return engine

    def close(self) -> None:
        """Close the store's connections; the arrays and FAISS maps go with the last reference to the engine."""
        self.store.close()

    def summary(self) -> dict[str, Any]:
        """What `indexer stats --json` prints for this build."""
        return summary(self.manifest, self.build_dir)

    def archive(self) -> dict[str, Any]:
        """What the archive holds, for the page: articles, passages, quotations, first and last day, last update."""
        days = self.columns.article_day
        dated = days[days != NO_DAY]
        first = last = None
        if dated.size:
            first = (_EPOCH + dt.timedelta(days=int(dated.min()))).isoformat()
            last = (_EPOCH + dt.timedelta(days=int(dated.max()))).isoformat()
        return {
            "articles": self.n_articles,
            "passages": self.n_passages,
            "quotes": self.quotes.count,
            "sources": len(self.sources()),
            "first_date": first,
            "last_date": last,
            "updated_at": self.manifest.get("built_at"),
        }

    def sources(self) -> list[tuple[str, int]]:
        """Source names with their article counts, most articles first (the page's source filter)."""
        codes = self.columns.article_source
        counts = np.bincount(codes[codes >= 0], minlength=len(self.columns.source_names))
        pairs = [(name, int(n)) for name, n in zip(self.columns.source_names, counts) if n]
        return sorted(pairs, key=lambda p: (-p[1], p[0]))

    def article(self, article_id: str) -> Article | None:
        return self.store.article(article_id)

    def article_passages(self, article_id: str) -> list[Passage]:
        return self.store.article_passages(article_id)

    # -- filters -------------------------------------------------------------------------------------------

    def _article_mask(self, request: SearchRequest, parsed: ParsedQuery) -> np.ndarray | None:
        """Articles that may hold hits: date, source, exclusions and (for article hits) the speaker; None: all."""
        cols = self.columns
        articles: np.ndarray | None = None

        def narrow(mask: np.ndarray) -> None:
            nonlocal articles
            articles = mask if articles is None else articles & mask

        if request.date_from or request.date_to:
            days = cols.article_day
            low = day_number(request.date_from) if request.date_from else NO_DAY + 1
            high = day_number(request.date_to) if request.date_to else np.iinfo(np.int32).max
            narrow((days != NO_DAY) & (days >= low) & (days <= high))
        if request.sources:
            wanted = {s.casefold() for s in request.sources}
            codes = [i for i, name in enumerate(cols.source_names) if name.casefold() in wanted]
            narrow(np.isin(cols.article_source, codes))
        if parsed.excluded or parsed.excluded_phrases:
            hit = np.zeros(self.n_articles, dtype=bool)
            for term in parsed.excluded:
                hit[cols.passage_article[self.bm25.postings(term)]] = True
            for phrase in parsed.excluded_phrases:  # a passage with every word of the phrase
                rows = self._passages_with_all(tokenize(phrase))
                if rows is not None:
                    hit[cols.passage_article[rows]] = True
            narrow(~hit)
        if request.speaker and request.type == "articles":
            said = np.zeros(self.n_articles, dtype=bool)
            said[self.quotes.article[self._speaker_mask(request.speaker)]] = True
            narrow(said)
        return articles

    def _speaker_mask(self, speaker: str) -> np.ndarray:
        """Searchable quotations by the speaker the filter names (full name or last words)."""
        codes = self.quotes.codes_matching(speaker)
        return self.quotes.searchable & np.isin(self.quotes.speaker, codes)

    def _allowed(self, request: SearchRequest, parsed: ParsedQuery) -> np.ndarray | None:
        """Passages that may be hits: the article mask per passage; phrase words per passage."""
        cols = self.columns
        articles = self._article_mask(request, parsed)
        passages = None if articles is None else articles[cols.passage_article]
        for phrase in parsed.phrases:  # a passage holding the phrase holds all its words
            rows = self._passages_with_all(tokenize(phrase))
            if rows is None:
                continue  # only stopwords: the verbatim check after retrieval decides
            has = np.zeros(self.n_passages, dtype=bool)
            has[rows] = True
            passages = has if passages is None else passages & has
        return passages

    def _passages_with_all(self, terms: list[str], bm25: BM25Index | None = None) -> np.ndarray | None:
        """Rows of the passages whose tokens include every term (intersected postings); None: no terms, no bound."""
        rows: np.ndarray | None = None
        for term in dict.fromkeys(terms):
            found = (bm25 or self.bm25).postings(term)
            rows = found if rows is None else np.intersect1d(rows, found, assume_unique=True)
        return rows

    # -- retrieval -----------------------------------------------------------------------------------------

    def _candidates(self, request: SearchRequest, parsed: ParsedQuery, allowed: np.ndarray | None,
                    window: int, vector: np.ndarray | None, quotes: bool = False) -> _Candidates:
        """Each leg's top `window` rows among `allowed`: passages, or quotations with quotes=True."""
        index, vectors = (self.quotes.bm25, self.quotes.dense) if quotes else (self.bm25, self.dense)
        matched = np.zeros(index.n_docs, dtype=bool)
        bm25: dict[int, tuple[float, int]] = {}
        dense: dict[int, tuple[float, int]] = {}
        exhausted = True
        if request.mode in ("bm25", "hybrid"):
            tokens = list(parsed.tokens) or [t for p in parsed.phrases for t in tokenize(p)]
            rows, scores, hits = index.search(tokens, window, allowed)
            matched |= hits
            bm25 = {int(r): (float(s), i + 1) for i, (r, s) in enumerate(zip(rows, scores))}
            exhausted &= len(rows) < window
        if request.mode in ("dense", "hybrid") and vector is not None:
            if allowed is None or allowed.any():
                ef = int(self.manifest.get("dense", {}).get("ef_search", 128))
                rows, scores = search_dense(vectors, vector, window, allowed, ef_search=ef)
                matched[rows] = True
                dense = {int(r): (float(s), i + 1) for i, (r, s) in enumerate(zip(rows, scores))}
                exhausted &= len(rows) < window
        return _Candidates(bm25, dense, matched, exhausted)

    def _fuse(self, request: SearchRequest, cands: _Candidates) -> list[tuple[int, float]]:
        if request.mode == "bm25":
            return fusion.ranked({r: s for r, (s, _) in cands.bm25.items()})
        if request.mode == "dense":
            return fusion.ranked({r: s for r, (s, _) in cands.dense.items()})
        if request.fusion == "linear":
            sparse = {r: s for r, (s, _) in cands.bm25.items()}
            dense = {r: s for r, (s, _) in cands.dense.items()}
            return fusion.ranked(fusion.linear(sparse, dense, request.alpha))
        by_rank = [sorted(cands.bm25, key=lambda r: cands.bm25[r][1]), sorted(cands.dense, key=lambda r: cands.dense[r][1])]
        return fusion.ranked(fusion.rrf(by_rank, k=self.settings.rrf_k))

    def _with_phrases(self, ranking: list[tuple[int, float]], phrases: tuple[str, ...]) -> list[tuple[int, float]]:
        """Keep the passages whose title or text holds every quoted phrase verbatim."""
        if not phrases or not ranking:
            return ranking
        passages = self.store.passages([r for r, _ in ranking])
        rows_by_article = {self.columns.passage_article[r] for r, _ in ranking}
        titles = {row: a.title for row, a in self.store.articles_at(sorted(int(x) for x in rows_by_article)).items()}
        keep = set()
        for (row, _), passage in zip(ranking, passages):
            text = titles.get(int(self.columns.passage_article[row]), "") + "\n" + passage.text
            if all(contains_phrase(text, p) for p in phrases):
                keep.add(row)
        return [(r, s) for r, s in ranking if r in keep]

    def _group(self, request: SearchRequest, ranking: list[tuple[int, float]]) -> list[list[tuple[int, float]]]:
        """One group per article (best passage first, up to two more), or one per passage."""
        if request.group == "passage":
            groups = [[item] for item in ranking]
        else:
            by_article: dict[int, list[tuple[int, float]]] = {}
            for row, score in ranking:
                group = by_article.setdefault(int(self.columns.passage_article[row]), [])
                if len(group) <= MORE_PASSAGES:
                    group.append((row, score))
            groups = list(by_article.values())
        if request.sort == "date":
            days = self.columns.article_day
            groups.sort(key=lambda g: -int(days[self.columns.passage_article[g[0][0]]]))  # undated (NO_DAY) last
        return groups

    def search(self, request: SearchRequest, timeout: float | None = None) -> SearchResult:
        """Validate, retrieve, fuse, filter, group, page; the quote and highlights for the page's hits only.

        With `timeout` (seconds), a search still running past it between two steps raises SearchTimeout.
        """
        began = time.perf_counter()
        deadline = None if timeout is None else began + timeout
        request = validate(request)
        parsed = parse_question(request.q)
        vector = None
        if request.mode != "bm25":
            vector = self.vectors.get(parsed.text or " ".join(parsed.phrases))
        if request.type == "quotes":
            return self._search_quotes(request, parsed, vector, began, deadline)
        allowed = self._allowed(request, parsed)
        need = request.page * request.k
        window = max(self.settings.window, need * (1 + MORE_PASSAGES if request.group == "article" else 1))
        while True:
            _on_time(deadline)
            cands = self._candidates(request, parsed, allowed, window, vector)
            ranking = self._with_phrases(self._fuse(request, cands), parsed.phrases)
            groups = self._group(request, ranking)
            if len(groups) >= need or cands.exhausted or window >= self.n_passages:
                break
            window *= 4
        if parsed.phrases:
            total = len(groups)  # only the ranked candidates were checked for the phrases
        elif request.group == "passage":
            total = max(int(np.count_nonzero(cands.matched)), len(groups))
        else:
            total = max(self._count_articles(cands.matched), len(groups))
        page = groups[(request.page - 1) * request.k : need]
        _on_time(deadline)
        hits = self._hits(page, cands, parsed, vector, first_rank=(request.page - 1) * request.k + 1,
                          speaker=request.speaker)
        took = (time.perf_counter() - began) * 1000
        return SearchResult(request.q, request.mode, round(took, 2), total, request.page, request.k, tuple(hits))

    def _count_articles(self, matched: np.ndarray) -> int:
        """Articles with a matched passage; with rows in article order, one comparison per matched row."""
        rows = np.flatnonzero(matched)
        if rows.size == 0:
            return 0
        owners = self.columns.passage_article[rows]
        if self._articles_in_order:
            return 1 + int(np.count_nonzero(owners[1:] != owners[:-1]))
        return int(np.unique(owners).size)

    # -- the page's hits -----------------------------------------------------------------------------------

    def _hits(self, page: list[list[tuple[int, float]]], cands: _Candidates, parsed: ParsedQuery,
              vector: np.ndarray | None, first_rank: int, speaker: str | None = None) -> list[Hit]:
        rows = [r for group in page for r, _ in group]
        passages = dict(zip(rows, self.store.passages(rows)))
        article_rows = sorted({int(self.columns.passage_article[g[0][0]]) for g in page})
        articles = self.store.articles_at(article_rows)
        terms = {t: max(self.bm25.idf(t), 1e-3) for t in parsed.marked_terms}
        named = {c for group in self.quotes.lookup.named_in(parsed.text) for c in group}
        speaker_codes = self.quotes.codes_matching(speaker) if speaker else None  # once a page, not once a hit
        hits = []
        for offset, group in enumerate(page):
            best_row, score = group[0]
            article_row = int(self.columns.passage_article[best_row])
            article = articles[article_row]
            passage = passages[best_row]
            found = matches(article.text, terms, passage.start, passage.end)  # one analyzer pass per hit
            quote = self._quote(article, article_row, passage, terms, vector, found)
            relative = [(a - passage.start, b - passage.start, t) for a, b, t in found]
            spans = lexical_spans(passage.text, passage.start, terms, parsed.phrases, relative)
            if quote is not None:
                spans.append(Span(quote.start, quote.end, "semantic"))
            bm25 = cands.bm25.get(best_row)
            dense = cands.dense.get(best_row)
            hits.append(Hit(
                rank=first_rank + offset,
                article_id=article.id,
                title=article.title,
                source=article.source,
                url=article.url,
                date=article.date,
                score=round(score, 6),
                scores=_scores(bm25, dense, score),
                passage=passage,
                quote=quote,
                highlights=tuple(sorted(spans, key=lambda s: (s.start, -s.end))),
                more_passages=tuple(passages[r] for r, _ in group[1:]),
                quotations=self._hit_quotations(article_row, article, terms, quote, vector, speaker_codes, named),
            ))
        return hits

    def _hit_quotations(self, article_row: int, article: Article, terms: dict[str, float], quote: Quote | None,
                        vector: np.ndarray | None, speaker: list[int] | None, named: set[int]) -> tuple[Quotation, ...]:
        """The article's quotations that match the question, best first.

        A quotation matches when it holds a question term, lies in the chosen sentence, is close in meaning
        (cosine >= QUOTE_MIN_COSINE) or is by a speaker the question names; with a speaker filter, that
        speaker's quotations only (all of them, best first).
        """
        q = self.quotes
        rows = q.rows_of_article(article_row)
        rows = rows[q.searchable[rows]]
        if speaker is not None:  # the speaker filter's codes
            rows = rows[np.isin(q.speaker[rows], speaker)]
        if rows.size == 0:
            return ()
        sims = q.vectors(rows) @ vector if vector is not None else np.zeros(rows.size, dtype=np.float32)
        total = sum(terms.values()) or 1.0
        scored = []
        for row, sim, quotation in zip(rows.tolist(), sims.tolist(), self.store.quotations(rows.tolist())):
            words = {t for a, b in quotation.parts for _, _, t in matches(article.text, terms, a, b)}
            inside = quote is not None and quotation.start < quote.end and quote.start < quotation.end
            by_named = int(q.speaker[row]) in named
            if words or inside or by_named or sim >= QUOTE_MIN_COSINE or speaker is not None:
                score = sum(terms[t] for t in words) / total + sim + (1.0 if by_named else 0.0)
                scored.append((-score, quotation.start, quotation))
        scored.sort(key=lambda item: item[:2])
        return tuple(item[2] for item in scored[:HIT_QUOTATIONS])

    # -- quotations as hits --------------------------------------------------------------------------------

    def _quote_mask(self, request: SearchRequest, parsed: ParsedQuery, with_speaker: bool = True) -> np.ndarray:
        """Quotations that may be hits: searchable, in allowed articles, by the filtered speaker, with the phrases."""
        allowed = self.quotes.searchable.copy()
        articles = self._article_mask(request, parsed)
        if articles is not None:
            allowed &= articles[self.quotes.article]
        if with_speaker and request.speaker:
            allowed &= self._speaker_mask(request.speaker)
        for phrase in parsed.phrases:
            rows = self._passages_with_all(tokenize(phrase), self.quotes.bm25)
            if rows is not None:
                has = np.zeros(self.quotes.count, dtype=bool)
                has[rows] = True
                allowed &= has
        return allowed

    def _rank_quotes(self, request: SearchRequest, parsed: ParsedQuery, allowed: np.ndarray,
                     vector: np.ndarray | None, window: int) -> tuple[list[tuple[int, float]], _Candidates]:
        """Hybrid (or one leg's) ranking of the allowed quotations, phrases checked verbatim."""
        if not allowed.any():
            empty = np.zeros(self.quotes.count, dtype=bool)
            return [], _Candidates({}, {}, empty, True)
        cands = self._candidates(request, parsed, allowed, window, vector, quotes=True)
        ranking = self._fuse(request, cands)
        if parsed.phrases and ranking:
            texts = {row: q.text for row, q in zip([r for r, _ in ranking],
                                                    self.store.quotations([r for r, _ in ranking]))}
            ranking = [(r, s) for r, s in ranking if all(contains_phrase(texts.get(r, ""), p) for p in parsed.phrases)]
        return ranking, cands

    def _search_quotes(self, request: SearchRequest, parsed: ParsedQuery, vector: np.ndarray | None,
                       began: float, deadline: float | None = None) -> SearchResult:
        """Quotations as hits: a speaker the question names comes first, then no article more than twice a tier."""
        allowed = self._quote_mask(request, parsed)
        groups = [] if request.speaker else self.quotes.lookup.named_in(parsed.text)
        masks = [m for m in (allowed & np.isin(self.quotes.speaker, g) for g in groups) if m.any()]
        need = request.page * request.k
        window = max(self.settings.window, need * 2)
        while True:
            _on_time(deadline)
            ranking, cands = self._rank_quotes(request, parsed, allowed, vector, window)
            tiers, legs = [], [cands]
            for mask in masks:  # every quotation of a named speaker, ranked among themselves
                tier, tier_cands = self._rank_quotes(request, parsed, mask, vector, max(window, int(mask.sum())))
                tiers.append(tier)
                legs.insert(0, tier_cands)
            ordered = self._quote_order([*tiers, ranking])
            if request.sort == "date":  # newest first, relevance order kept within a day; undated last
                days = self.columns.article_day
                ordered.sort(key=lambda item: -int(days[self.quotes.article[item[0]]]))
            if len(ordered) >= need or cands.exhausted or window >= self.quotes.count:
                break
            window *= 4
        total = len(ordered) if parsed.phrases else max(int(np.count_nonzero(cands.matched)), len(ordered))
        if request.speaker:  # the facet shows the other speakers too, so the filter can be changed
            facet_rows = [r for r, _ in self._rank_quotes(request, parsed, self._quote_mask(request, parsed, False),
                                                          vector, window)[0]]
        else:
            facet_rows = [r for r, _ in ordered]
        page = ordered[(request.page - 1) * request.k : need]
        _on_time(deadline)
        named_rows = {r for tier in tiers for r, _ in tier}
        hits = self._quote_hits(page, legs, parsed, named_rows, first_rank=(request.page - 1) * request.k + 1)
        took = (time.perf_counter() - began) * 1000
        return SearchResult(request.q, request.mode, round(took, 2), total, request.page, request.k, tuple(hits),
                            type="quotes", facets=Facets(speakers=tuple(self.quotes.facet(facet_rows))))

    def _quote_order(self, tiers: list[list[tuple[int, float]]]) -> list[tuple[int, float]]:
        """Tiers in order, each quotation once; within a tier an article's third and later quotations go last."""
        seen: set[int] = set()
        ordered: list[tuple[int, float]] = []
        for tier in tiers:
            shown: dict[int, int] = {}
            head, tail = [], []
            for row, score in tier:
                if row in seen:
                    continue
                seen.add(row)
                article = int(self.quotes.article[row])
                shown[article] = shown.get(article, 0) + 1
                (head if shown[article] <= QUOTES_PER_ARTICLE else tail).append((row, score))
            ordered.extend(head + tail)
        return ordered

    def _quote_hits(self, page: list[tuple[int, float]], legs: list[_Candidates], parsed: ParsedQuery,
                    named: set[int], first_rank: int) -> list[QuoteHit]:
        """The page's quotations with their articles' metadata; each leg's score from the ranking that placed it."""
        rows = [r for r, _ in page]
        quotes = self.store.quotations(rows)
        articles = self.store.articles_at(sorted({int(self.quotes.article[r]) for r in rows}))
        terms = {t: max(self.quotes.bm25.idf(t), 1e-3) for t in parsed.marked_terms}
        hits = []
        for offset, ((row, score), quotation) in enumerate(zip(page, quotes)):
            article = articles[int(self.quotes.article[row])]
            spans = [Span(a, b, "lexical") for lo, hi in quotation.parts for a, b, _ in matches(article.text, terms, lo, hi)]
            bm25 = next((c.bm25[row] for c in legs if row in c.bm25), None)
            dense = next((c.dense[row] for c in legs if row in c.dense), None)
            hits.append(QuoteHit(
                rank=first_rank + offset,
                quotation=quotation,
                title=article.title,
                source=article.source,
                url=article.url,
                date=article.date,
                score=round(score, 6),
                scores=_scores(bm25, dense, score),
                highlights=tuple(spans),
                speaker_named=row in named,
            ))
        return hits

    def speakers(self, prefix: str = "", limit: int = 20) -> list[tuple[str, int]]:
        """Speakers by name prefix with their counts of quotations, most first."""
        return self.quotes.speakers(prefix, limit)

    def article_quotations(self, article_id: str) -> list[Quotation]:
        return self.store.article_quotations(article_id)

    def _quote(self, article: Article, article_row: int, passage: Passage, terms: dict[str, float],
               vector: np.ndarray | None, found: list[tuple[int, int, str]]) -> Quote | None:
        """The best sentence of the passage, from precomputed sentence vectors: a dot product per sentence."""
        rows = self.columns.sentences_in(article_row, passage.start, passage.end)
        spans = [(int(self.columns.sentence_start[r]), int(self.columns.sentence_end[r])) for r in rows]
        sims = None
        if vector is not None and len(rows):
            sims = self.columns.sentence_vectors[rows].astype(np.float32) @ vector
        return choose_quote(article.text, spans, terms, sims, found)
