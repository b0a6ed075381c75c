"""The router's view of a build whose segments are served by shards: the engine runs unchanged over it.

The router reads the commit (which segments, which rows deleted) and keeps what is small: each segment's columns
and quotation arrays, fetched once from the shard that owns it. The parts the engine scores and searches with are
joined over the shards instead of over local segments: `ShardedBM25` gathers every query term's df from the
shards, sums them, and has each shard score its rows with the corpus's statistics (dfs_query_then_fetch), so the
scores equal one LiveBM25's; `ShardedDense` asks each shard for its parts' nearest rows and merges them as
ConcatDense does. Stores and sentence vectors are read from the owning shard. So a sharded build answers with the
same hits, order and scores as the same build opened locally (tests/test_sharded.py). Which shard holds which
segment: search/shardmap.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .bm25 import BM25Params
from .commit import DF_HISTOGRAMS, Commit, SegmentRef, load_deleted, read_commit, segment_dir
from .errors import IndexCorrupt
from .livebm25 import Totals, idf_floor, raw_idf
from .segments import ConcatRows, Joiners, SegmentCache, Snapshot, SnapshotStore, bm25_params, compose
from .shard import PASSAGES, QUOTES, SegmentInfo, ShardSpec
from .shardmap import Shards, assign

_EMPTY_ROWS = np.zeros(0, dtype=np.int64)


class RemotePart:
    """A segment's BM25 or FAISS part on a shard: what compose needs to know of it without its files."""

    def __init__(self, shard: int, kind: str, n: int, d: int, lengths: np.ndarray, own_floor: float,
                 max_idf: float) -> None:
        self.shard, self.kind = shard, kind
        self.n_docs = self.ntotal = n
        self.d = d
        self.doc_lengths = lengths
        self.own_floor, self.max_idf = own_floor, max_idf


class _Joined:
    """Parts of one collection (passages or quotations) joined over the shards: the specs each shard is asked
    with, and the global row ranges each shard owns."""

    def __init__(self, build: str, key: str, kind: str, parts: Sequence[RemotePart], refs: Sequence[SegmentRef],
                 shards: Shards, totals: Totals, params: BM25Params) -> None:
        self.shards = shards
        sizes = [p.ntotal for p in parts]
        self.bases = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
        self.n = int(self.bases[-1])
        self.owner = np.array([p.shard for p in parts], dtype=np.int64)
        self.specs: dict[int, ShardSpec] = {}
        self.part_ids: dict[int, list[int]] = {}
        for i, p in enumerate(parts):
            self.part_ids.setdefault(p.shard, []).append(i)
        for shard, ids in self.part_ids.items():
            self.specs[shard] = ShardSpec(build, f"{key}|{kind}|{shard}", kind,
                                          tuple((refs[i], int(self.bases[i])) for i in ids), totals, params)

    def shard_of(self, rows: np.ndarray) -> np.ndarray:
        return self.owner[np.searchsorted(self.bases, rows, side="right") - 1]


class ShardedBM25:
    """One LiveBM25 over the segments of every shard, as the engine reads a BM25 index; see the module docstring."""

    def __init__(self, joined: _Joined, parts: Sequence[RemotePart], params: BM25Params, totals: Totals,
                 histogram: dict[int, int] | None) -> None:
        self.joined, self.params = joined, params
        self.n_docs = joined.n
        self.doc_lengths = np.concatenate([p.doc_lengths for p in parts]) if parts else _EMPTY_ROWS
        self.n_live, self.total_length, self._floor = totals.n_live, totals.total_length, totals.floor
        self.avgdl = self.total_length / self.n_live if self.n_live else 0.0
        if histogram is not None:
            self._max_idf = max((self._floored(df) for df in histogram), default=0.0)
            self.vocabulary_size = sum(histogram.values())
        else:  # one all-live segment: its own figures
            self._max_idf = parts[0].max_idf if parts else 0.0
            self.vocabulary_size = 0
        self._df: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def max_idf(self) -> float:
        return self._max_idf

    def _floored(self, df: int) -> float:
        value = raw_idf(self.n_live, df)
        return self._floor if value < 0 else value

    def _dfs(self, terms: Sequence[str]) -> dict[str, int]:
        """Live df of each term over every shard: one call per shard for the terms not asked before."""
        with self._lock:
            missing = [t for t in dict.fromkeys(terms) if t not in self._df]
        if missing:
            calls = [(shard, "dfs", (spec, missing)) for shard, spec in self.joined.specs.items()]
            counts = np.sum(np.array(self.joined.shards.gather(calls), dtype=np.int64).reshape(len(calls), -1), 0)
            with self._lock:
                self._df.update(zip(missing, (int(c) for c in counts)))
        with self._lock:
            return {t: self._df[t] for t in terms}

    def df(self, term: str) -> int:
        return self._dfs([term])[term]

    def idf(self, term: str) -> float:
        df = self.df(term)
        return self._floored(df) if df else 0.0

    def knows(self, term: str) -> bool:
        return self.df(term) > 0

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """Every global row's score: each shard scores its rows with the summed df, the router scatters them."""
        return self.scores_many([query_tokens])[0]

    def scores_many(self, queries: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Several queries' scores (a question's tokens and its content words) in one round of calls."""
        dfs = {t: df for t, df in self._dfs([t for q in queries for t in q]).items() if df}
        out = [np.zeros(self.n_docs, dtype=np.float64) for _ in queries]
        asked = [i for i, q in enumerate(queries) if any(t in dfs for t in q)]
        calls = [(shard, "scores", (spec, list(queries[i]), dfs)) for i in asked
                 for shard, spec in self.joined.specs.items()]
        found = iter(self.joined.shards.gather(calls))
        for i in asked:
            for _ in self.joined.specs:
                rows, values = next(found)
                out[i][rows] = values
        return out

    def postings(self, term: str) -> np.ndarray:
        if not self.df(term):
            return _EMPTY_ROWS
        calls = [(shard, "postings", (spec, term)) for shard, spec in self.joined.specs.items()]
        found = [np.asarray(r, dtype=np.int64) for r in self.joined.shards.gather(calls)]
        return np.sort(np.concatenate(found)) if found else _EMPTY_ROWS

    def stats(self) -> dict:
        return {"n_docs": self.n_docs, "live_docs": self.n_live, "segments": len(self.joined.owner),
                "shards": len(self.joined.specs), "vocabulary": self.vocabulary_size, "avgdl": self.avgdl,
                "params": {"k1": self.params.k1, "b": self.params.b, "epsilon": self.params.epsilon}}


class ShardedDense:
    """The FAISS parts of every shard searched as ConcatDense searches local ones (see search_dense)."""

    def __init__(self, joined: _Joined, d: int) -> None:
        self.joined, self.ntotal, self.d = joined, joined.n, d

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None,
               ef_search: int) -> tuple[np.ndarray, np.ndarray]:
        j = self.joined
        calls = []
        for shard, spec in j.specs.items():
            masks = None
            if allowed is not None:
                masks = [allowed[j.bases[i]:j.bases[i + 1]] for i in j.part_ids[shard]]
                if not any(m.any() for m in masks):
                    continue  # nothing this shard holds is allowed (a date range in another shard's time)
            calls.append((shard, "search", (spec, query, k, masks, ef_search)))
        found = j.shards.gather(calls)
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rows = np.concatenate([np.asarray(r, dtype=np.int64) for r, _ in found])
        scores = np.concatenate([c for _, c in found])
        order = np.lexsort((rows, -scores))[:k]  # best first, ties to the lower row, as one index would
        return rows[order], scores[order]

    def reconstruct_batch(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((rows.size, self.d), dtype=np.float32)
        owner = self.joined.shard_of(rows) if rows.size else _EMPTY_ROWS
        shards = np.unique(owner).tolist()
        calls = [(s, "vectors", (self.joined.specs[s], rows[owner == s])) for s in shards]
        for s, got in zip(shards, self.joined.shards.gather(calls)):
            out[owner == s] = got
        return out


class RemoteRows:
    """A segment's sentence vectors, read from its shard by rows."""

    def __init__(self, shards: Shards, shard: int, build: str, segment: str, shape: tuple[int, int],
                 dtype: str) -> None:
        self.shards, self.shard, self.build, self.segment = shards, shard, build, segment
        self.shape, self.dtype = shape, np.dtype(dtype)

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.zeros((0, self.shape[1]), dtype=self.dtype)
        return self.shards.call(self.shard, "sentence_vectors", self.build, self.segment, rows)

    def rows(self, lo: int, hi: int) -> np.ndarray:
        return self[np.arange(max(int(lo), 0), min(int(hi), self.shape[0]))]

    def __len__(self) -> int:
        return self.shape[0]


class ShardedRows(ConcatRows):
    """The sentence vectors of segments on shards as one matrix: the rows of each shard read in one call, every
    shard at once."""

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        return self.many([rows])[0]

    def many(self, row_lists: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Several sets of rows (a page's hits' sentences) in one round of calls."""
        lists = [np.asarray(r, dtype=np.int64) for r in row_lists]
        out = [np.zeros((r.size, self.shape[1]), dtype=self.dtype) for r in lists]
        asks: dict[int, list[tuple[int, np.ndarray, str, np.ndarray]]] = {}  # shard -> (list, at, segment, rows)
        for i, rows in enumerate(lists):
            seg = np.searchsorted(self.bases, rows, side="right") - 1
            for s in np.unique(seg).tolist():
                at = np.flatnonzero(seg == s)
                part = self.parts[s]
                asks.setdefault(part.shard, []).append((i, at, part.segment, rows[at] - self.bases[s]))
        if not asks:
            return out
        first = next(iter(self.parts))
        calls = [(shard, "sentence_vectors_many", (first.build, [(seg, local) for _, _, seg, local in items]))
                 for shard, items in asks.items()]
        for (shard, items), got in zip(asks.items(), first.shards.gather(calls)):
            for (i, at, _, _), vectors in zip(items, got):
                out[i][at] = vectors
        return out


class ShardedStore(SnapshotStore):
    """The segments' stores on their shards: a read of several segments sends one call per segment, all at once."""

    def _article_rows(self, article_id: str) -> Iterator[tuple[int, int | None]]:
        stores = [r.store for r in self.readers]
        found = stores[0].shards.gather([(st.shard, "store", (st.build, st.segment, "article_row", article_id))
                                         for st in stores])
        yield from ((s, found[s]) for s in range(len(stores) - 1, -1, -1))

    def _read(self, call: str, local_rows: dict[int, list[int]]) -> dict[int, dict]:
        return self._read_all([(call, local_rows)])[0]

    def _read_all(self, asks: Sequence[tuple[str, dict[int, list[int]]]]) -> list[dict[int, dict]]:
        calls, keys = [], []
        for n, (call, local_rows) in enumerate(asks):
            for s, rows in local_rows.items():
                st = self.readers[s].store
                calls.append((st.shard, "store", (st.build, st.segment, call, rows)))
                keys.append((n, s))
        out: list[dict[int, dict]] = [{} for _ in asks]
        if calls:
            for (n, s), got in zip(keys, self.readers[0].store.shards.gather(calls)):
                out[n][s] = got
        return out


class RemoteStore:
    """A segment's article store, read on its shard."""

    def __init__(self, shards: Shards, shard: int, build: str, segment: str) -> None:
        self.shards, self.shard, self.build, self.segment = shards, shard, build, segment

    def _call(self, name: str, *args: Any) -> Any:
        return self.shards.call(self.shard, "store", self.build, self.segment, name, *args)

    def article(self, article_id: str) -> Any:
        return self._call("article", article_id)

    def article_row(self, article_id: str) -> int | None:
        return self._call("article_row", article_id)

    def article_passages(self, article_id: str) -> list:
        return self._call("article_passages", article_id)

    def article_quotations(self, article_id: str) -> list:
        return self._call("article_quotations", article_id)

    def articles_at(self, rows: Sequence[int]) -> dict:
        return self._call("articles_at", [int(r) for r in rows]) if len(rows) else {}

    def passages_at(self, rows: Sequence[int]) -> dict:
        return self._call("passages_at", [int(r) for r in rows]) if len(rows) else {}

    def quotations_at(self, rows: Sequence[int]) -> dict:
        return self._call("quotations_at", [int(r) for r in rows]) if len(rows) else {}

    def close(self) -> None:
        """Nothing: the shard owns the store."""


class SegmentProxy:
    """A segment served by a shard, shaped like a SegmentReader for compose()."""

    def __init__(self, shards: Shards, shard: int, build: str, segment: str, info: SegmentInfo) -> None:
        self.shard = shard
        self.n_articles, self.n_passages, self.n_quotes = info.n_articles, info.n_passages, info.n_quotes
        d = int(info.vectors_shape[1])
        rows = RemoteRows(shards, shard, build, segment, info.vectors_shape, info.vectors_dtype)
        self.columns = replace(info.columns, sentence_vectors=rows)
        self.bm25 = self.dense = RemotePart(shard, PASSAGES, info.n_passages, d, info.passage_lengths,
                                            info.own_floor, info.max_idf)
        quote_part = RemotePart(shard, QUOTES, info.n_quotes, d, info.quote_lengths,
                                info.quote_own_floor, info.quote_max_idf)
        self.quotes = replace(info.quotes, bm25=quote_part, dense=quote_part)
        self.store = RemoteStore(shards, shard, build, segment)

    def close(self) -> None:
        """Nothing: the shard holds the files."""


def _totals(parts: Sequence[RemotePart], live: Sequence[np.ndarray], params: BM25Params,
            histogram: dict[int, int] | None, where: str) -> Totals:
    """N, exact total length and the idf floor of the live rows of every part."""
    n_live = sum(int(np.count_nonzero(m)) for m in live)
    total = sum(int(p.doc_lengths[m].sum()) for p, m in zip(parts, live))
    if histogram is not None:
        floor = idf_floor(n_live, {int(df): int(c) for df, c in histogram.items() if c}, params.epsilon)
    elif len(parts) == 1 and all(m.all() for m in live):
        floor = parts[0].own_floor  # a build alone: the floor its own BM25 stored (0 when no term is floored)
    else:
        raise IndexCorrupt(f"{where}: a commit of several segments without df histograms")
    return Totals(n_live, total, floor)


class ShardedSnapshotOpener:
    """Opens a build's newest commit over shards (SearchEngine's `snapshots`); segment infos are cached by the
    SegmentCache the engine keeps between commits, so a new commit fetches only its new segments."""

    def __init__(self, shards: Shards) -> None:
        self.shards = shards

    def __call__(self, build_dir: Path, manifest: dict[str, Any],
                 cache: SegmentCache | None = None) -> tuple[Snapshot, Commit]:
        build_dir = Path(build_dir).resolve()
        build = str(build_dir)
        cache = cache if cache is not None else SegmentCache()
        commit = read_commit(build_dir, int(manifest["counts"]["articles"]))
        refs = commit.segments
        owners = assign(refs, self.shards.count)
        keys = [(segment_dir(build_dir, ref), owner) for ref, owner in zip(refs, owners)]

        def describe(key: tuple[Path, int]) -> SegmentProxy:
            ref = refs[keys.index(key)]
            return SegmentProxy(self.shards, key[1], build, ref.path, self.shards.call(key[1], "describe", build,
                                                                                      ref.path))

        proxies = [cache.get(key, describe) for key in keys]
        cache.keep_only(set(keys))
        deleted = [load_deleted(build_dir, ref) for ref in refs]
        key = f"{build}|{commit.generation}"
        dimension = int(manifest["model"]["dimension"])
        joins: dict[str, _Joined] = {}

        def lexical(parts: list[RemotePart], live: list[np.ndarray], params: BM25Params,
                    df_histogram: dict[int, int] | None = None) -> ShardedBM25:
            kind = parts[0].kind
            totals = _totals(parts, live, params, df_histogram, build)
            joins[kind] = _Joined(build, key, kind, parts, refs, self.shards, totals, params)
            return ShardedBM25(joins[kind], parts, params, totals, df_histogram)

        def vectors(parts: list[RemotePart]) -> ShardedDense:
            return ShardedDense(joins[parts[0].kind], dimension)

        joiners = Joiners(lexical=lexical, vectors=vectors, rows=ShardedRows, store=ShardedStore)
        snapshot = compose(proxies, deleted, bm25_params(manifest), commit.extra.get(DF_HISTOGRAMS), joiners)
        return snapshot, commit
