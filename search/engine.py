"""SearchEngine: open a published index and answer questions with BM25, dense or hybrid retrieval.

A question's answer is the set of passages that pass the relevance gate (search/relevance.py), ranked once
(search/ranking.py), grouped by article and cut into pages; `total` and the facets count that same set.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import fusion
from .bm25 import BM25Index
from .columns import NO_DAY, NO_TIME, Columns, day_number
from .embed import Embedder, load_index_embedder
from .errors import IndexMismatch, SearchTimeout
from .hits import Group, article_hits
from .layout import current_build, read_manifest, summary
from .models import Article, Facets, Notice, Passage, Quotation, SearchRequest, SearchResult
from .quotes import QuoteIndex
from .query import ParsedQuery, contains_phrase, parse_question, validate
from .ranking import Query, Ranker, Windows
from .relevance import NO_MATCH, WEAK_ONLY, Gate, language_notice
from .segments import SegmentCache, Snapshot, commit_summary, open_snapshot
from .text import tokenize

_EPOCH = dt.date(1970, 1, 1)
SnapshotOpener = Callable[[Path, dict, SegmentCache], "tuple[Snapshot, Any]"]
MORE_PASSAGES = 2
PHRASE_CHECK_LIMIT = 2000  # passages whose text is read to count a quoted phrase exactly; beyond, a lower bound
DATE_SORT_FUSED_LIMIT = 20_000  # sort=date orders equal times by relevance up to this many matching passages
NEAR_MISSES = 3
FACET_VALUES = 20


def _on_time(deadline: float | None) -> None:
    """Cut a search that is past its deadline (checked between steps; each step is short)."""
    if deadline is not None and time.perf_counter() > deadline:
        raise SearchTimeout("the search took too long and was stopped; try a narrower question or fewer results")


@dataclass(frozen=True)
class EngineSettings:
    """Ranking knobs fixed for a served index (tuned on the evaluation sets, see docs/)."""

    window: int = 100  # the lexical leg's first window of candidates; it widens while a page needs more
    rrf_k: int = fusion.RRF_K
    dense_window: int = 1000  # the dense leg's first window: within HNSW's efSearch, it decides `total`
    gate: Gate = Gate()

    def __post_init__(self) -> None:
        if self.window < 1 or self.rrf_k < 1 or self.dense_window < 1:
            raise ValueError(f"window, dense_window and rrf_k must be positive: {self}")

    @property
    def windows(self) -> Windows:
        return Windows(self.window, self.dense_window, self.rrf_k)


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
        self, build_dir: Path, manifest: dict[str, Any], embedder: Embedder, settings: EngineSettings = EngineSettings(),
        segments: SegmentCache | None = None, snapshots: SnapshotOpener | None = None,
    ) -> None:
        """Open the build's newest commit: its segments (those already in `segments` are reused) and deletes.

        `snapshots` opens it another way (search/sharded.py: segments served by shards); by default, locally."""
        self.settings = settings
        self.build_dir = build_dir
        self.manifest = manifest
        self.embedder = embedder
        self.segments = segments if segments is not None else SegmentCache()
        self.snapshots = snapshots
        snapshot, self.commit = (snapshots or open_snapshot)(build_dir, manifest, self.segments)
        self.segments.acquire()
        self.snapshot = snapshot
        self.store = snapshot.store
        self.bm25 = snapshot.bm25
        self.dense = snapshot.dense
        self.columns: Columns = snapshot.columns
        self.quotes: QuoteIndex = snapshot.quotes
        self.n_articles = snapshot.n_articles  # rows, deleted ones included
        self.n_passages = snapshot.n_passages
        self.live = snapshot.live  # bool [passages], None when nothing is deleted
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
        segments: SegmentCache | None = None,
        snapshots: SnapshotOpener | None = None,
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
        engine = cls(build, manifest, embedder, settings, segments, snapshots)
        engine.vectors.get("warm up the model")  # the first encode pays torch's one-off set-up costs
        return engine

    def close(self) -> None:
        """Let go of the segments; the last engine sharing them closes their stores' connections (the arrays and
        FAISS maps go with the last reference)."""
        self.segments.release()

    def summary(self) -> dict[str, Any]:
        """What `indexer stats --json` prints for this build: the build's figures, then its newest commit's."""
        return {**summary(self.manifest, self.build_dir), **commit_summary(self.build_dir, self.manifest)}

    def archive(self) -> dict[str, Any]:
        """What the archive holds, for the page: articles, passages, quotations, first and last day, last update."""
        days = self.columns.article_day
        dated = days[days != NO_DAY]
        first = last = None
        if dated.size:
            first = (_EPOCH + dt.timedelta(days=int(dated.min()))).isoformat()
            last = (_EPOCH + dt.timedelta(days=int(dated.max()))).isoformat()
        return {
            "articles": self.snapshot.live_articles,
            "passages": self.snapshot.live_passages,
            "quotes": self.quotes.count,
            "sources": len(self.sources()),
            "first_date": first,
            "last_date": last,
            "updated_at": self.commit.committed_at or self.manifest.get("built_at"),
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

    def _article_mask(self, request: SearchRequest, parsed: ParsedQuery, without: str | None = None) -> np.ndarray | None:
        """Articles that may hold hits: date, source, exclusions and (for article hits) the speaker; None: all.

        `without` leaves one filter out ("source" or "speaker"): a facet counts what a click on its values returns.
        """
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
        if request.sources and without != "source":
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
        if request.speaker and request.type == "articles" and without != "speaker":
            said = np.zeros(self.n_articles, dtype=bool)
            said[self.quotes.article[self.speaker_mask(request.speaker)]] = True
            narrow(said)
        return articles

    def speaker_mask(self, speaker: str) -> np.ndarray:
        """Searchable quotations by the speaker the filter names (full name or last words)."""
        codes = self.quotes.codes_matching(speaker)
        return self.quotes.searchable & np.isin(self.quotes.speaker, codes)

    def _allowed(self, request: SearchRequest, parsed: ParsedQuery, without: str | None = None) -> np.ndarray | None:
        """Passages that may be hits: the article mask per passage; phrase words per passage."""
        cols = self.columns
        articles = self._article_mask(request, parsed, without)
        passages = None if articles is None else articles[cols.passage_article]
        if self.live is not None:  # deleted articles' passages are never hits
            passages = self.live if passages is None else passages & self.live
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

    def _has_phrases(self, rows: np.ndarray, phrases: tuple[str, ...]) -> np.ndarray:
        """Which of the passages hold every quoted phrase verbatim in their title or text (bool per row)."""
        if not phrases or rows.size == 0:
            return np.ones(rows.size, dtype=bool)
        wanted = [int(r) for r in rows]
        passages = self.store.passages_at(wanted)  # one purged since this snapshot: missing, not kept
        owners = sorted({int(self.columns.passage_article[r]) for r in wanted})
        titles = {row: a.title for row, a in self.store.articles_at(owners).items()}
        keep = np.zeros(rows.size, dtype=bool)
        for i, row in enumerate(wanted):
            passage = passages.get(row)
            if passage is None:
                continue
            text = titles.get(int(self.columns.passage_article[row]), "") + "\n" + passage.text
            keep[i] = all(contains_phrase(text, p) for p in phrases)
        return keep

    # -- the question --------------------------------------------------------------------------------------

    def query(self, request: SearchRequest, parsed: ParsedQuery, vector: np.ndarray | None) -> Query:
        """What the ranking needs: BM25 tokens (the phrases' words when the question is only phrases), vector."""
        tokens = tuple(parsed.tokens) or tuple(t for p in parsed.phrases for t in tokenize(p))
        return Query(tokens, vector, request.mode, request.fusion, request.alpha)

    def ranker(self, query: Query, allowed: np.ndarray | None, quotes: bool = False,
               gate: Gate | None = None) -> Ranker:
        """The gated ranking of one question over the passages (or the quotations)."""
        index, vectors = (self.quotes.bm25, self.quotes.dense) if quotes else (self.bm25, self.dense)
        ef = int(self.manifest.get("dense", {}).get("ef_search", 128))
        gate = gate or self.settings.gate
        semantic_ok = self.quotes.bm25.doc_lengths >= gate.quote_words if quotes else None
        return Ranker(index, vectors, query, gate, allowed, self.settings.windows, ef, semantic_ok)

    def search(self, request: SearchRequest, timeout: float | None = None) -> SearchResult:
        """Validate, gate, rank, group, page; the quote and highlights for the page's hits only.

        With `timeout` (seconds), a search still running past it between two steps raises SearchTimeout.
        """
        began = time.perf_counter()
        deadline = None if timeout is None else began + timeout
        request = validate(request)
        parsed = parse_question(request.q)
        notices = [n for n in (language_notice(request.q),) if n is not None]
        vector = None
        if request.mode != "bm25":
            vector = self.vectors.get(parsed.text or " ".join(parsed.phrases))
        if request.type == "quotes":
            from .quotesearch import search_quotes

            return search_quotes(self, request, parsed, vector, notices, began, deadline)
        return self._search_articles(request, parsed, vector, notices, began, deadline)

    def _search_articles(self, request: SearchRequest, parsed: ParsedQuery, vector: np.ndarray | None,
                         notices: list[Notice], began: float, deadline: float | None) -> SearchResult:
        query = self.query(request, parsed, vector)
        ranker = self.ranker(query, self._allowed(request, parsed))
        _on_time(deadline)
        strong, complete = self._matches(ranker, parsed)
        need = request.start + request.k
        if request.sort == "date":
            groups = self._groups_by_date(request, ranker, strong)
        else:
            groups = self._groups_by_relevance(request, ranker, parsed, need, deadline)
        page = groups[request.start : need]
        _on_time(deadline)
        total = int(strong.sum()) if request.group == "passage" else self._count_articles(strong)
        hits = article_hits(self, page, ranker, parsed, vector, first_rank=request.start + 1, speaker=request.speaker)
        facets = self._article_facets(request, parsed, query, ranker, strong)
        near: list = []
        if total == 0:
            near = self._near_misses(request, parsed, query, vector)
            notices.append(WEAK_ONLY if near else NO_MATCH)
        took = (time.perf_counter() - began) * 1000
        return SearchResult(request.q, request.mode, round(took, 2), total, request.page, request.k, tuple(hits),
                            total_relation="eq" if complete else "gte", facets=facets, notices=tuple(notices),
                            near_misses=tuple(near), offset=request.start)

    def _matches(self, ranker: Ranker, parsed: ParsedQuery) -> tuple[np.ndarray, bool]:
        """The passages that answer the question (the gate's, with quoted phrases checked verbatim) and whether
        that is all of them (False: a lower bound)."""
        strong, complete = ranker.strong()
        if parsed.phrases:
            rows = np.flatnonzero(strong)
            if rows.size > PHRASE_CHECK_LIMIT:  # too many to read: the first ones, checked, as a lower bound
                rows, complete = rows[:PHRASE_CHECK_LIMIT], False
            strong = np.zeros_like(strong)
            strong[rows[self._has_phrases(rows, parsed.phrases)]] = True
        return strong, complete

    def _groups_by_relevance(self, request: SearchRequest, ranker: Ranker, parsed: ParsedQuery, need: int,
                             deadline: float | None) -> list[Group]:
        """Enough of the one ranking, grouped, to fill the page: one group per article (best passage first, up to
        two more of its passages), or one per passage."""
        per = 1 + MORE_PASSAGES if request.group == "article" else 1
        m = max(self.settings.window, need * per)
        while True:
            _on_time(deadline)
            ranked = ranker.top(m)
            rows, scores = ranked.rows, ranked.scores
            if parsed.phrases:
                keep = self._has_phrases(rows, parsed.phrases)
                rows, scores = rows[keep], scores[keep]
            groups = self._group(request, rows.tolist(), scores.tolist())
            if len(groups) >= need or ranked.complete:
                return groups
            m *= 4

    def _group(self, request: SearchRequest, rows: list[int], scores: list[float]) -> list[Group]:
        if request.group == "passage":
            return [[(r, s)] for r, s in zip(rows, scores)]
        by_article: dict[int, Group] = {}
        owners = self.columns.passage_article
        for row, score in zip(rows, scores):
            group = by_article.setdefault(int(owners[row]), [])
            if len(group) <= MORE_PASSAGES:
                group.append((row, score))
        return list(by_article.values())

    def _groups_by_date(self, request: SearchRequest, ranker: Ranker, strong: np.ndarray) -> list[Group]:
        """Every match, newest first by the full timestamp; at equal times the more relevant first (undated last)."""
        rows = np.flatnonzero(strong)
        if rows.size <= DATE_SORT_FUSED_LIMIT:
            scores = ranker.fused(rows) if request.mode == "hybrid" and request.fusion == "linear" else \
                self._leg_score(ranker, rows, request.mode)
        else:  # too many to score both legs: the lexical leg alone orders equal times
            scores = self._leg_score(ranker, rows, "bm25")
        by_relevance = np.lexsort((rows, -scores))
        rows, scores = rows[by_relevance], scores[by_relevance]
        groups = self._group(request, rows.tolist(), scores.tolist())
        times = self.columns.article_time[self.columns.passage_article[[g[0][0] for g in groups]]] \
            if groups else np.zeros(0, dtype=np.int64)
        undated = times == NO_TIME
        order = np.lexsort((np.arange(len(groups)), -np.where(undated, 0, times), undated))  # stable: relevance
        return [groups[i] for i in order.tolist()]

    @staticmethod
    def _leg_score(ranker: Ranker, rows: np.ndarray, mode: str) -> np.ndarray:
        """One leg's scores of some rows (the other leg's when a mode has only that one)."""
        if mode != "dense" and ranker.bm25_scores is not None:
            return ranker.bm25_scores[rows]
        if ranker.uses_dense:
            return ranker.cosines(rows)
        return np.zeros(rows.size)

    def _count_articles(self, passages: np.ndarray) -> int:
        """Articles with a passage in the mask; with rows in article order, one comparison per row."""
        rows = np.flatnonzero(passages)
        if rows.size == 0:
            return 0
        owners = self.columns.passage_article[rows]
        if self._articles_in_order:
            return 1 + int(np.count_nonzero(owners[1:] != owners[:-1]))
        return int(np.unique(owners).size)

    def _articles_of(self, passages: np.ndarray) -> np.ndarray:
        """bool [articles]: those with a passage in the mask."""
        out = np.zeros(self.n_articles, dtype=bool)
        out[self.columns.passage_article[np.flatnonzero(passages)]] = True
        return out

    # -- facets and near misses ----------------------------------------------------------------------------

    def _matches_without(self, request: SearchRequest, parsed: ParsedQuery, query: Query, filter_name: str,
                         strong: np.ndarray) -> np.ndarray:
        """The matches with one filter left out (the same as `strong` when that filter is not set)."""
        is_set = request.sources if filter_name == "source" else request.speaker
        if not is_set:
            return strong
        ranker = self.ranker(query, self._allowed(request, parsed, without=filter_name))
        return self._matches(ranker, parsed)[0]

    def _article_facets(self, request: SearchRequest, parsed: ParsedQuery, query: Query, ranker: Ranker,
                        strong: np.ndarray) -> Facets:
        """Sources and speakers of the matching articles, each counted as a click on it would filter."""
        in_source = self._articles_of(self._matches_without(request, parsed, query, "source", strong))
        codes = self.columns.article_source[in_source]
        counts = np.bincount(codes[codes >= 0], minlength=len(self.columns.source_names))
        sources = sorted(((self.columns.source_names[c], int(counts[c])) for c in np.flatnonzero(counts)),
                         key=lambda p: (-p[1], p[0].casefold()))[:FACET_VALUES]
        by_speaker = self._articles_of(self._matches_without(request, parsed, query, "speaker", strong))
        q = self.quotes
        rows = np.flatnonzero(q.searchable & by_speaker[q.article] & (q.speaker >= 0))
        speakers = self._speaker_counts(rows)
        unnamed_rows = rows[~q.named[q.speaker[rows]]]
        unnamed = int(np.unique(q.article[unnamed_rows]).size)
        return Facets(sources=tuple(sources), speakers=tuple(speakers), unnamed=unnamed)

    def _speaker_counts(self, rows: np.ndarray) -> list[tuple[str, int]]:
        """Named speakers of some quotations with the number of distinct articles the speaker filter of each
        name would keep (that name's quotations and those of fuller names ending with it)."""
        q = self.quotes
        articles_by_code: dict[int, set[int]] = {}
        for code, article in zip(q.speaker[rows].tolist(), q.article[rows].tolist()):
            articles_by_code.setdefault(code, set()).add(article)
        pairs = []
        for code in articles_by_code:
            if not q.named[code]:
                continue
            found: set[int] = set()
            for other in q.codes_matching(q.speaker_names[code]):
                found |= articles_by_code.get(other, set())
            pairs.append((q.speaker_names[code], len(found)))
        pairs.sort(key=lambda p: (-p[1], p[0].casefold()))
        return pairs[:FACET_VALUES]

    def _near_misses(self, request: SearchRequest, parsed: ParsedQuery, query: Query,
                     vector: np.ndarray | None) -> list:
        """When nothing passes the gate: the best few passages within the near-miss cosine, shown apart as weak
        matches (none for a question that comes close to nothing: a content word alone does not make a near miss,
        it would for 80 % of off-topic questions, docs/evaluation.md)."""
        gate = self.settings.gate
        loose = replace(gate, dense=gate.near_miss)
        ranker = self.ranker(query, self._allowed(request, parsed), gate=loose)
        ranked = ranker.top(NEAR_MISSES * (1 + MORE_PASSAGES))
        rows, scores = ranked.rows, ranked.scores
        if parsed.phrases:
            keep = self._has_phrases(rows, parsed.phrases)
            rows, scores = rows[keep], scores[keep]
        groups = self._group(replace(request, group="article"), rows.tolist(), scores.tolist())[:NEAR_MISSES]
        return article_hits(self, groups, ranker, parsed, vector, first_rank=1, speaker=request.speaker)

    # -- quotations and speakers ---------------------------------------------------------------------------

    def speakers(self, prefix: str = "", limit: int = 20) -> list[tuple[str, int]]:
        """Named speakers by name prefix with their counts of quotations, most first."""
        return self.quotes.speakers(prefix, limit)

    def article_quotations(self, article_id: str) -> list[Quotation]:
        return self.store.article_quotations(article_id)

