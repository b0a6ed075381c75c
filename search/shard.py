"""A shard: some segments of a build, answering a router's questions about them with the whole commit's statistics.

A router (search/sharded.py) holds what is small (the commit, the columns, the quotation arrays) and asks the shard
for what is large: BM25 postings, FAISS graphs, stored vectors and the article store. Each BM25 and dense question
comes with a `ShardSpec`: which of the commit's segments this shard answers for, where their rows sit in the
commit's row space, and the corpus totals (N, total length, idf floor) that make a shard's BM25 scores bit-equal to
those of one LiveBM25 over every segment (Elasticsearch's dfs_query_then_fetch: the df of each query term is summed
over the shards by the router and sent back with the query). A shard keeps no state a router depends on: any
replica answers any call, opening the segments it is asked about on first use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .bm25 import BM25Params
from .commit import SegmentRef, load_deleted, segment_dir
from .dense import search_dense, stored_vectors
from .errors import BadQuery
from .layout import read_manifest
from .livebm25 import LiveBM25, Totals
from .segments import SegmentReader, segment_opener

PASSAGES, QUOTES = "passages", "quotes"
KINDS = (PASSAGES, QUOTES)
STORE_CALLS = frozenset({"article", "article_row", "article_passages", "article_quotations", "articles_at",
                         "passages_at", "quotations_at"})
VIEWS_KEPT = 8  # composed views per replica (a commit makes two: passages and quotations)


@dataclass(frozen=True)
class ShardSpec:
    """One shard's part of a commit's passages (or quotations): its segments in row order, each with the global
    row of its first row, and the corpus totals to score them with."""

    build: str  # the build folder, as every node sees it
    key: str  # unique per (build, commit, shard, kind): the replica's cache key
    kind: str  # passages | quotes
    parts: tuple[tuple[SegmentRef, int], ...]  # (segment, global row of its first row)
    totals: Totals
    params: BM25Params


@dataclass
class SegmentInfo:
    """What a router keeps of a segment: its counts, columns and quotation arrays, without the large files."""

    n_articles: int
    n_passages: int
    n_quotes: int
    columns: Any  # Columns with sentence_vectors=None: the router reads sentence vectors from the shard
    vectors_shape: tuple[int, int]
    vectors_dtype: str
    quotes: Any  # QuoteIndex with bm25=None and dense=None
    passage_lengths: np.ndarray  # int64 [passages]: BM25 token counts
    quote_lengths: np.ndarray  # int64 [quotes]
    own_floor: float  # the idf floor the segment's own BM25 stored (what one all-live segment scores with)
    max_idf: float  # the segment's own largest idf (idem)
    quote_own_floor: float
    quote_max_idf: float


class _View:
    """A shard's segments of one commit, composed: live masks, a LiveBM25 with the corpus totals, FAISS parts."""

    def __init__(self, spec: ShardSpec, readers: Sequence[SegmentReader]) -> None:
        build = Path(spec.build)
        self.spec = spec
        self.bases = np.array([base for _, base in spec.parts], dtype=np.int64)
        lexical, vectors, masks = [], [], []
        for (ref, _), reader in zip(spec.parts, readers):
            live_articles = np.ones(reader.n_articles, dtype=bool)
            live_articles[load_deleted(build, ref)] = False
            owner = reader.columns.passage_article if spec.kind == PASSAGES else reader.quotes.article
            masks.append(live_articles[owner] if owner.size else np.zeros(0, dtype=bool))
            part = reader if spec.kind == PASSAGES else reader.quotes
            lexical.append(part.bm25)
            vectors.append(part.dense)
        self.sizes = np.array([v.ntotal for v in vectors], dtype=np.int64)
        self.local_bases = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)
        self.vectors = vectors
        self.bm25 = LiveBM25(lexical, masks, spec.params, totals=spec.totals)

    def to_global(self, local: np.ndarray) -> np.ndarray:
        """Rows of the shard's own row space (its segments end to end) in the commit's row space."""
        local = np.asarray(local, dtype=np.int64)
        seg = np.searchsorted(self.local_bases, local, side="right") - 1
        return local - self.local_bases[seg] + self.bases[seg]

    def to_local(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(part, row within the part) of global rows; a row outside this shard's parts is refused."""
        rows = np.asarray(rows, dtype=np.int64)
        part = np.searchsorted(self.bases, rows, side="right") - 1
        local = rows - self.bases[np.maximum(part, 0)]
        if rows.size and ((part < 0).any() or (local >= self.sizes[np.maximum(part, 0)]).any()):
            raise BadQuery(f"rows outside shard {self.spec.key}")
        return part, local


class ShardService:
    """The calls a router makes of one shard (a Ray Serve replica wraps one; tests call it in process)."""

    def __init__(self) -> None:
        self._readers: dict[Path, SegmentReader] = {}
        self._manifests: dict[Path, dict[str, Any]] = {}
        self._views: OrderedDict[str, _View] = OrderedDict()
        self._lock = threading.Lock()

    # -- segments -------------------------------------------------------------------------------------------

    def _reader(self, build: str, ref: SegmentRef | str) -> SegmentReader:
        build_dir = Path(build)
        path = segment_dir(build_dir, ref if isinstance(ref, SegmentRef) else SegmentRef(ref))
        with self._lock:
            reader = self._readers.get(path)
            manifest = self._manifests.get(build_dir)
        if reader is not None:
            return reader
        if manifest is None:
            manifest = read_manifest(build_dir)
        reader = segment_opener(build_dir, manifest)(path)
        with self._lock:
            self._manifests.setdefault(build_dir, manifest)
            return self._readers.setdefault(path, reader)

    def describe(self, build: str, segment: str) -> SegmentInfo:
        """A segment's counts, columns and quotation arrays (what a router composes its snapshot from)."""
        r = self._reader(build, segment)
        vectors = r.columns.sentence_vectors
        q = r.quotes
        return SegmentInfo(
            r.n_articles, r.n_passages, r.n_quotes,
            replace(r.columns, sentence_vectors=None), tuple(vectors.shape), str(vectors.dtype),
            replace(q, bm25=None, dense=None),
            np.asarray(r.bm25.doc_lengths, dtype=np.int64), np.asarray(q.bm25.doc_lengths, dtype=np.int64),
            LiveBM25.own_floor(r.bm25, 0.0), float(r.bm25.max_idf),
            LiveBM25.own_floor(q.bm25, 0.0), float(q.bm25.max_idf),
        )

    def sentence_vectors(self, build: str, segment: str, rows: np.ndarray) -> np.ndarray:
        return self._reader(build, segment).columns.sentence_vectors[np.asarray(rows, dtype=np.int64)]

    def sentence_vectors_many(self, build: str, asks: Sequence[tuple[str, np.ndarray]]) -> list[np.ndarray]:
        """Sentence vectors of several segments' rows in one call (a page's hits)."""
        return [self.sentence_vectors(build, segment, rows) for segment, rows in asks]

    def store(self, build: str, segment: str, call: str, *args: Any) -> Any:
        """One read of a segment's article store (an article, its passages, rows by number)."""
        if call not in STORE_CALLS:
            raise BadQuery(f"unknown store call {call!r}")
        return getattr(self._reader(build, segment).store, call)(*args)

    # -- one commit's passages or quotations ---------------------------------------------------------------

    def _view(self, spec: ShardSpec) -> _View:
        with self._lock:
            view = self._views.get(spec.key)
            if view is not None:
                self._views.move_to_end(spec.key)
                return view
        if spec.kind not in KINDS:
            raise BadQuery(f"unknown collection {spec.kind!r}")
        view = _View(spec, [self._reader(spec.build, ref) for ref, _ in spec.parts])
        with self._lock:
            view = self._views.setdefault(spec.key, view)
            while len(self._views) > VIEWS_KEPT:
                self._views.popitem(last=False)
            used = {segment_dir(Path(v.spec.build), ref) for v in self._views.values() for ref, _ in v.spec.parts}
            for path in [p for p in self._readers if p not in used]:  # the next commit no longer lists them
                self._readers.pop(path)
        return view

    def dfs(self, spec: ShardSpec, terms: Sequence[str]) -> list[int]:
        """Each term's live df in this shard's segments (the router sums them over the shards)."""
        bm25 = self._view(spec).bm25
        return [bm25.df(t) for t in terms]

    def scores(self, spec: ShardSpec, tokens: Sequence[str], dfs: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """Global rows with a BM25 score above 0, and those scores, computed with the corpus's statistics."""
        view = self._view(spec)
        scores = view.bm25.partial_scores(tokens, dfs)
        local = np.flatnonzero(scores)
        return view.to_global(local), scores[local]

    def postings(self, spec: ShardSpec, term: str) -> np.ndarray:
        """Global rows of this shard's live passages holding the term, ascending."""
        view = self._view(spec)
        return view.to_global(view.bm25.postings(term))

    def search(self, spec: ShardSpec, vector: np.ndarray, k: int, allowed: list[np.ndarray | None] | None,
               ef_search: int) -> tuple[np.ndarray, np.ndarray]:
        """Each part's k nearest rows (among its allowed rows), in global rows; the router merges them all."""
        view = self._view(spec)
        rows, scores = [], []
        for p, part in enumerate(view.vectors):
            mask = None if allowed is None else allowed[p]
            if part.ntotal == 0 or (mask is not None and not mask.any()):
                continue
            r, c = search_dense(part, vector, k, mask, ef_search)
            rows.append(np.asarray(r, dtype=np.int64) + view.bases[p])
            scores.append(c)
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(rows), np.concatenate(scores)

    def vectors(self, spec: ShardSpec, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of some global rows of this shard (float32)."""
        view = self._view(spec)
        part, local = view.to_local(rows)
        out = np.zeros((local.size, view.vectors[0].d if view.vectors else 0), dtype=np.float32)
        for p in np.unique(part).tolist():
            at = np.flatnonzero(part == p)
            out[at] = stored_vectors(view.vectors[p], local[at])
        return out

    def ping(self) -> str:
        return "ok"

    def close(self) -> None:
        with self._lock:
            readers, self._readers = list(self._readers.values()), {}
            self._views.clear()
        for reader in readers:
            reader.close()
