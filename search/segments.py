"""Segments and the snapshot a commit makes of them: one row space over every segment, deleted rows masked.

A segment is a folder with a build's files (store, BM25, FAISS, columns, quotations), opened once by a
`SegmentReader` and shared by every snapshot that lists it, so reopening after a commit costs what changed. A
`Snapshot` lays the segments end to end (segment 0's rows first) and presents the parts the engine reads, with
the same shapes a single build has: row-aligned columns, one store, one BM25 (`LiveBM25`: scores over the live
passages, as rank_bm25 would give them), one dense index. Deleted articles keep their rows (FAISS cannot remove
from HNSW) but are masked everywhere: no date, no source, no speaker, and `live` leaves their passages out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .bm25 import BM25Index, BM25Params
from .commit import BASE, DF_HISTOGRAMS, Commit, load_deleted, read_commit, segment_dir
from .columns import NO_DAY, NO_TIME, Columns, load_columns
from .dense import ConcatDense, load_dense
from .errors import IndexCorrupt
from .livebm25 import LiveBM25
from .layout import BM25_DIR, COLUMNS, DENSE, QUOTES, STORE, read_manifest
from .models import Article, Passage, Quotation
from .quotes import QuoteIndex, SpeakerLookup, load_quote_index
from .store import Store


Lexical = Callable[..., Any]
Vectors = Callable[[list[Any]], Any]


class SegmentReader:
    """One segment's files, opened once (arrays memory-mapped, the store read-only)."""

    def __init__(self, path: Path, manifest: dict[str, Any], dimension: int) -> None:
        counts = manifest["counts"]
        self.path, self.manifest = Path(path), manifest
        self.n_articles, self.n_passages = int(counts["articles"]), int(counts["passages"])
        self.n_quotes = int(counts["quotes"])
        self.store = Store(self.path / STORE)
        self.bm25 = BM25Index.load(self.path / BM25_DIR)
        self.dense = load_dense(self.path / DENSE, dimension, self.n_passages)
        self.columns = load_columns(self.path / COLUMNS, self.n_articles, self.n_passages, dimension)
        self.quotes = load_quote_index(self.path / QUOTES, self.n_quotes, dimension)
        if self.bm25.n_docs != self.n_passages:
            raise IndexCorrupt(f"{path}: BM25 holds {self.bm25.n_docs} passages, the manifest {self.n_passages}")

    def close(self) -> None:
        self.store.close()


class ConcatRows:
    """Sentence vectors of several segments read as one matrix (rows in segment order)."""

    def __init__(self, parts: Sequence[Any]) -> None:
        self.parts = list(parts)
        sizes = [len(p) for p in self.parts]
        self.bases = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        width = next((p.shape[1] for p in self.parts if len(p)), self.parts[0].shape[1] if self.parts else 0)
        self.shape = (int(self.bases[-1]), width)
        self.dtype = self.parts[0].dtype if self.parts else np.float16

    def rows(self, lo: int, hi: int) -> np.ndarray:
        return self[np.arange(max(int(lo), 0), min(int(hi), self.shape[0]))]

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((rows.size, self.shape[1]), dtype=self.dtype)
        seg = np.searchsorted(self.bases, rows, side="right") - 1
        for s in np.unique(seg).tolist():
            at = np.flatnonzero(seg == s)
            out[at] = self.parts[s][rows[at] - self.bases[s]]
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:  # noqa: ANN001 - numpy's protocol
        out = self.rows(0, self.shape[0])
        return out if dtype is None else out.astype(dtype)

    def __len__(self) -> int:
        return self.shape[0]


class SnapshotStore:
    """The stores of a snapshot's segments behind the single store's interface (global rows in, global rows out).

    An id is looked up in the live segments only: a replaced article's old version is never returned."""

    def __init__(self, readers: Sequence[SegmentReader], article_bases: np.ndarray, passage_bases: np.ndarray,
                 quote_bases: np.ndarray, live_articles: np.ndarray) -> None:
        self.readers = list(readers)
        self.article_bases, self.passage_bases, self.quote_bases = article_bases, passage_bases, quote_bases
        self.live_articles = live_articles

    @staticmethod
    def _split(rows: Sequence[int], bases: np.ndarray) -> dict[int, list[tuple[int, int]]]:
        """Rows grouped by segment: segment -> [(global row, local row)]."""
        out: dict[int, list[tuple[int, int]]] = {}
        for row in rows:
            s = int(np.searchsorted(bases, int(row), side="right")) - 1
            out.setdefault(s, []).append((int(row), int(row) - int(bases[s])))
        return out

    def _article_rows(self, article_id: str) -> Iterator[tuple[int, int | None]]:
        """(segment, the id's row in it or None), newest segment first, one segment after another."""
        for s in range(len(self.readers) - 1, -1, -1):
            yield s, self.readers[s].store.article_row(article_id)

    def _read(self, call: str, local_rows: dict[int, list[int]]) -> dict[int, dict]:
        """Each segment's rows read from its store (one segment after another)."""
        return {s: getattr(self.readers[s].store, call)(rows) for s, rows in local_rows.items()}

    def _at(self, call: str, rows: Sequence[int], bases: np.ndarray) -> dict:
        return self.read_many([(call, rows)])[0]

    def read_many(self, reads: Sequence[tuple[str, Sequence[int]]]) -> list[dict]:
        """Several reads by global rows ("passages_at", "articles_at", "quotations_at"), as one: a store whose
        segments are on shards sends them in one round."""
        bases = {"articles_at": self.article_bases, "passages_at": self.passage_bases,
                 "quotations_at": self.quote_bases}
        splits = [self._split(rows, bases[call]) for call, rows in reads]
        asks = [(call, {s: [lo for _, lo in pairs] for s, pairs in split.items()})
                for (call, _), split in zip(reads, splits)]
        out = []
        for split, got in zip(splits, self._read_all(asks)):
            found: dict = {}
            for s, pairs in split.items():
                found.update({g: got[s][lo] for g, lo in pairs if lo in got[s]})
            out.append(found)
        return out

    def _read_all(self, asks: Sequence[tuple[str, dict[int, list[int]]]]) -> list[dict[int, dict]]:
        return [self._read(call, local_rows) for call, local_rows in asks]

    def _live_reader(self, article_id: str) -> tuple[Any, Article, int] | None:
        for s, found in self._article_rows(article_id):  # the newest segment holds the newest version
            if found is not None and self.live_articles[self.article_bases[s] + found]:
                reader = self.readers[s]
                article = reader.store.article(article_id)
                if article is not None:
                    return reader, article, s
        return None

    def article(self, article_id: str) -> Article | None:
        found = self._live_reader(article_id)
        return None if found is None else found[1]

    def article_passages(self, article_id: str) -> list[Passage]:
        found = self._live_reader(article_id)
        return [] if found is None else found[0].store.article_passages(article_id)

    def article_quotations(self, article_id: str) -> list[Quotation]:
        found = self._live_reader(article_id)
        return [] if found is None else found[0].store.article_quotations(article_id)

    def articles_at(self, rows: Sequence[int]) -> dict[int, Article]:
        return self._at("articles_at", rows, self.article_bases)

    def passages_at(self, rows: Sequence[int]) -> dict[int, Passage]:
        return self._at("passages_at", rows, self.passage_bases)

    def passages(self, rows: Sequence[int]) -> list[Passage]:
        found = self.passages_at(rows)
        return [found[int(r)] for r in rows if int(r) in found]

    def quotations_at(self, rows: Sequence[int]) -> dict[int, Quotation]:
        return self._at("quotations_at", rows, self.quote_bases)

    def quotations(self, rows: Sequence[int]) -> list[Quotation]:
        found = self.quotations_at(rows)
        return [found[int(r)] for r in rows if int(r) in found]

    def close(self) -> None:
        """Nothing: the segments' stores belong to their readers, shared with the next snapshot."""


@dataclass
class Snapshot:
    """What a commit serves: the engine's parts over every segment, and which rows are live."""

    store: Any
    bm25: Any
    dense: Any
    columns: Columns
    quotes: QuoteIndex
    n_articles: int  # rows, deleted ones included (arrays are this long)
    n_passages: int
    live: np.ndarray | None  # bool [passages]; None: every passage is live
    live_articles: int
    live_passages: int
    readers: tuple[SegmentReader, ...]


def _bases(sizes: Sequence[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))]).astype(np.int64)


def _union(names_per_segment: Sequence[Sequence[str]]) -> tuple[list[str], list[np.ndarray]]:
    """The names of every segment in first-seen order, and each segment's code -> global code map."""
    names: list[str] = []
    index: dict[str, int] = {}
    maps = []
    for seg_names in names_per_segment:
        maps.append(np.array([index.setdefault(n, len(index)) for n in seg_names] or [0], dtype=np.int32))
        names.extend(n for n in list(index)[len(names):])
    return names, maps


def _remap(codes: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes, dtype=np.int32)
    return np.where(codes >= 0, mapping[np.maximum(codes, 0)], -1).astype(np.int32)


@dataclass(frozen=True)
class Joiners:
    """How compose joins the segments' parts: locally by default; a router joins parts that live on shards
    (search/sharded.py). The columns' arrays and the quotation arrays are joined the same way either way."""

    lexical: Lexical = LiveBM25  # (BM25 parts, live masks, params, df_histogram=...) -> what the engine scores with
    vectors: Vectors = ConcatDense  # FAISS parts -> what the engine searches
    rows: Callable[[list[Any]], Any] = ConcatRows  # sentence vectors of each segment -> one matrix
    store: Callable[..., Any] = SnapshotStore  # (readers, bases..., live articles) -> the snapshot's store


LOCAL = Joiners()


def compose(readers: Sequence[Any], deleted: Sequence[np.ndarray], params: Any,
            df_histograms: dict[str, dict[int, int]] | None = None, joiners: Joiners = LOCAL) -> Snapshot:
    """The snapshot of some segments (in row order) with their deleted article rows."""
    lexical, vectors = joiners.lexical, joiners.vectors
    if joiners == LOCAL and len(readers) == 1 and not len(deleted[0]):  # a build alone: its own parts
        r = readers[0]
        return Snapshot(r.store, r.bm25, r.dense, r.columns, r.quotes, r.n_articles, r.n_passages, None,
                        r.n_articles, r.n_passages, (r,))
    a_bases = _bases([r.n_articles for r in readers])
    p_bases = _bases([r.n_passages for r in readers])
    q_bases = _bases([r.n_quotes for r in readers])
    s_bases = _bases([len(r.columns.sentence_start) for r in readers])
    live_articles = np.ones(int(a_bases[-1]), dtype=bool)
    for s, rows in enumerate(deleted):
        live_articles[a_bases[s] + np.asarray(rows, dtype=np.int64)] = False
    cols = [r.columns for r in readers]
    passage_article = np.concatenate([c.passage_article.astype(np.int64) + a_bases[s] for s, c in enumerate(cols)])
    live = live_articles[passage_article]
    source_names, source_maps = _union([c.source_names for c in cols])
    columns = Columns(
        passage_article=passage_article.astype(np.int32),
        article_day=np.where(live_articles, np.concatenate([c.article_day for c in cols]), NO_DAY).astype(np.int32),
        article_source=np.where(live_articles, np.concatenate(
            [_remap(c.article_source, source_maps[s]) for s, c in enumerate(cols)]), -1).astype(np.int32),
        article_time=np.where(live_articles, np.concatenate([c.article_time for c in cols]), NO_TIME).astype(np.int64),
        source_names=source_names,
        sentence_ptr=np.concatenate([*(c.sentence_ptr[:-1] + s_bases[s] for s, c in enumerate(cols)),
                                     [s_bases[-1]]]).astype(np.int64),
        sentence_start=np.concatenate([c.sentence_start for c in cols]),
        sentence_end=np.concatenate([c.sentence_end for c in cols]),
        sentence_vectors=joiners.rows([c.sentence_vectors for c in cols]),
    )
    histograms = {kind: {int(df): int(n) for df, n in h.items()} for kind, h in (df_histograms or {}).items()}
    bm25 = lexical([r.bm25 for r in readers], _split_mask(live, p_bases), params,
                   df_histogram=histograms.get("passages"))
    dense = vectors([r.dense for r in readers])
    quotes = _compose_quotes(readers, live_articles, a_bases, q_bases, params, histograms.get("quotes"),
                             lexical, vectors)
    store = joiners.store(readers, a_bases, p_bases, q_bases, live_articles)
    return Snapshot(store, bm25, dense, columns, quotes, int(a_bases[-1]), int(p_bases[-1]), live,
                    int(live_articles.sum()), int(live.sum()), tuple(readers))


def _split_mask(mask: np.ndarray, bases: np.ndarray) -> list[np.ndarray]:
    return [mask[bases[s]:bases[s + 1]] for s in range(len(bases) - 1)]


def _compose_quotes(readers: Sequence[Any], live_articles: np.ndarray, a_bases: np.ndarray, q_bases: np.ndarray,
                    params: Any, df_histogram: dict[int, int] | None, lexical: Lexical = LiveBM25,
                    vectors: Vectors = ConcatDense) -> QuoteIndex:
    """The quotation index of the snapshot: speakers merged by name, deleted articles' quotations unsearchable."""
    qs = [r.quotes for r in readers]
    article = np.concatenate([q.article.astype(np.int64) + a_bases[s] for s, q in enumerate(qs)])
    live = live_articles[article] if article.size else np.zeros(0, dtype=bool)
    names, maps = _union([q.speaker_names for q in qs])
    named_of: dict[str, bool] = {}
    for q in qs:
        for name, flag in zip(q.speaker_names, q.named.tolist()):
            named_of.setdefault(name, bool(flag))
    named = np.array([named_of[n] for n in names], dtype=bool)
    speaker = np.concatenate([_remap(q.speaker, maps[s]) for s, q in enumerate(qs)])
    speaker = np.where(live, speaker, -1).astype(np.int32)
    searchable = np.concatenate([q.searchable for q in qs]) & live
    counts = np.bincount(speaker[(speaker >= 0) & searchable], minlength=len(names))
    kinds = ["person" if flag else "description" for flag in named.tolist()]  # only is_named reads them
    bm25 = lexical([q.bm25 for q in qs], _split_mask(live, q_bases), params, df_histogram=df_histogram)
    return QuoteIndex(bm25, vectors([q.dense for q in qs]), article.astype(np.int32), speaker,
                      np.concatenate([q.kind for q in qs]), names, counts, SpeakerLookup.build(names, kinds),
                      searchable, named)


class SegmentCache:
    """Readers of the segments a server has open, by folder: a new commit reopens only its new segments."""

    def __init__(self) -> None:
        self._readers: dict[Path, SegmentReader] = {}
        self._lock = threading.Lock()
        self._users = 0  # engines (one per commit served) sharing these readers

    def acquire(self) -> None:
        with self._lock:
            self._users += 1

    def release(self) -> None:
        """An engine is done: the last one closes the stores (a replaced commit must not close them under the
        engine of the next commit, which shares them)."""
        with self._lock:
            self._users -= 1
            readers = list(self._readers.values()) if self._users <= 0 else []
        for reader in readers:
            reader.close()

    def get(self, path: Path, opener: Any) -> SegmentReader:
        with self._lock:
            reader = self._readers.get(path)
        if reader is None:
            reader = opener(path)
            with self._lock:
                reader = self._readers.setdefault(path, reader)
        return reader

    def keep_only(self, paths: set[Any]) -> None:
        """Forget readers of segments no longer listed (their files go when the last snapshot using them does)."""
        with self._lock:
            for path in [p for p in self._readers if p not in paths]:
                del self._readers[path]

    def __len__(self) -> int:
        return len(self._readers)


def bm25_params(manifest: dict[str, Any]) -> BM25Params:
    """The BM25 settings a build was made with."""
    bm25 = manifest.get("bm25", {})
    return BM25Params(float(bm25.get("k1", 1.2)), float(bm25.get("b", 0.5)), float(bm25.get("epsilon", 0.25)))


def segment_opener(build_dir: Path, manifest: dict[str, Any]) -> Callable[[Path], SegmentReader]:
    """Opens a segment of the build, refusing one embedded with another model."""
    build_dir = Path(build_dir)
    dimension = int(manifest["model"]["dimension"])

    def opener(path: Path) -> SegmentReader:
        own = manifest if path == build_dir.resolve() else read_manifest(path)
        if own.get("model", {}).get("fingerprint") != manifest.get("model", {}).get("fingerprint"):
            raise IndexCorrupt(f"{path} was embedded with another model than its build")
        return SegmentReader(path, own, dimension)

    return opener


def open_snapshot(build_dir: Path, manifest: dict[str, Any], cache: SegmentCache | None = None,
                  commit: Commit | None = None) -> tuple[Snapshot, Commit]:
    """The snapshot of the build's newest commit (or of `commit`), reusing the cache's open segments."""
    build_dir = Path(build_dir)
    cache = cache if cache is not None else SegmentCache()
    commit = commit if commit is not None else read_commit(build_dir, int(manifest["counts"]["articles"]))
    opener = segment_opener(build_dir, manifest)
    paths = [segment_dir(build_dir, ref) for ref in commit.segments]
    readers = [cache.get(p, opener) for p in paths]
    deleted = [load_deleted(build_dir, ref) for ref in commit.segments]
    cache.keep_only(set(paths))
    return compose(readers, deleted, bm25_params(manifest), commit.extra.get(DF_HISTOGRAMS)), commit


def commit_summary(build_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The live commit's figures, for `indexer stats` and `/api/index` alike: segments, live and deleted articles
    and passages, the commit, the journal's pending writes. Read-only: no lock, nothing repaired."""
    from .journal import pending_records  # noqa: PLC0415

    build_dir = Path(build_dir)
    commit = read_commit(build_dir, int(manifest["counts"]["articles"]))
    dimension = int(manifest["model"]["dimension"])
    rows = []
    for ref in commit.segments:
        folder = segment_dir(build_dir, ref)
        counts = (manifest if ref.path == BASE else read_manifest(folder))["counts"]
        dead = load_deleted(build_dir, ref)
        passages, dead_passages = int(counts["passages"]), 0
        if dead.size:
            cols = load_columns(folder / COLUMNS, int(counts["articles"]), passages, dimension)
            dead_passages = int(np.isin(cols.passage_article, dead).sum())
        rows.append({"segment": ref.name, "articles": int(counts["articles"]) - int(dead.size),
                     "passages": passages - dead_passages, "deleted_articles": int(dead.size),
                     "deleted_passages": dead_passages})
    return {
        "articles": sum(r["articles"] for r in rows),
        "passages": sum(r["passages"] for r in rows),
        "segments": len(rows),
        "deleted_articles": sum(r["deleted_articles"] for r in rows),
        "deleted_passages": sum(r["deleted_passages"] for r in rows),
        "generation": commit.generation,
        "committed_at": commit.committed_at or manifest.get("built_at"),
        "journal_seq": commit.journal_seq,
        "journal_pending": pending_records(build_dir.parent.parent, commit.journal_seq),  # index/builds/<build>
        "segment_list": rows,
    }
