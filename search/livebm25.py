"""BM25 over immutable segments with deleted rows, equal to rank_bm25.BM25Okapi over the live passages.

The index is a list of segments (each a BM25Index over its own rows 0..n_i-1) and a live mask per segment. The
global row space is the segments end to end, segment 0 first; a deleted row keeps its place and scores 0. A
`LiveBM25` scores that space as `BM25Okapi(live passages in global order, k1, b, epsilon)` would:

- N = live passages, avgdl = exact total live length / N (Python ints, one rounding, as rank_bm25);
- df(term) = live passages containing it, summed over segments (counted once per term, then cached);
- idf = math.log(N - df + 0.5) - math.log(df + 0.5); a negative idf becomes epsilon * (average idf over every
  term some live passage has). The average needs the df of every live term: a histogram df -> number of terms
  (`live_df_histogram`, which a writer can compute once per commit and store), summed exactly with math.fsum;
- saturation tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)) from the raw tf the segments store, with
  rank_bm25's operations in rank_bm25's order, added per query term in query order.

So scores are bit-equal to rank_bm25's except where the epsilon floor enters: rank_bm25 sums the average idf in
first-seen order with rounding at every step, fsum rounds once (a single all-live segment takes the floor from
the segment itself, which summed in rank_bm25's order: equal to its BM25Index bit for bit). Ties between equal
scores go to the lower global row, which is rank_bm25's corpus position as long as segments stay in order and
only adjacent segments are merged (`merge`).

A query costs its terms' postings (plus the dense score vector every BM25 scorer returns): no per-query work is
proportional to the vocabulary, and the deleted rows cost one scatter of zeros. Measured (`python -m
search.livebm25`, 2 cores, loaded) on 200,000 synthetic passages of 60 tokens (Zipf, 50,000 words) in 5 segments
with 2 % of the rows deleted, against one BM25Index over the 196,055 live passages:

    term in 98-100 % of passages   scores 0.49 ms -> 0.97 ms    search(k=10) 1.55 ms -> 2.30 ms
    term in 15 %                   scores 0.13 ms -> 0.26 ms    search(k=10) 0.84 ms -> 1.06 ms
    term in 0.1 %                  scores 0.04 ms -> 0.07 ms    search(k=10) 0.17 ms -> 0.22 ms
    4 terms (100 %, ...)           scores 0.95 ms -> 2.02 ms

(about x2: tf is saturated per query, a gather of the row's length norm and four float operations a posting,
instead of reading the stored product). Largest difference from BM25Index over the live passages: 5.6e-13 (the
floor). live_df_histogram 0.11 s; a LiveBM25 is built in 3 ms given the histogram (its length norms: 8 bytes a
row); merge of the 5 segments 0.8 s (a build from tokens of the same passages: 5-9 s).

A term with CACHE_FROM postings or more keeps its weighted saturations for the snapshot's life (an LRU of
CACHE_POSTINGS floats): at 1M passages in 10 segments 72 % of such terms' lookups hit over 400 Reuters
headlines, and scoring a question went from 14 to 9 ms (BM25Index over one build: 6-7 ms).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import compress, count

import numpy as np
from cachetools import LRUCache

from .bm25 import BM25Index, BM25Params

_EMPTY_ROWS = np.zeros(0, dtype=np.int64)
CACHE_POSTINGS = 16_000_000  # weighted saturations kept per snapshot (float64: 128 MB), the most recent terms'
CACHE_FROM = 20_000  # a term with fewer postings is scored in less time than a cache lookup saves
Part = tuple[int, int, int]  # (segment, start, end) of a term's postings in that segment


@dataclass(frozen=True)
class Totals:
    """What a shard needs of the whole corpus to score its rows as one BM25Okapi over all of it would."""

    n_live: int  # live passages (or quotations) of every shard
    total_length: int  # their tokens, summed exactly
    floor: float  # epsilon x the mean idf of the whole live vocabulary


def _masks(segments: Sequence[BM25Index], live: Sequence[np.ndarray | None]) -> list[np.ndarray | None]:
    """Checked live masks; None for a segment whose rows are all live."""
    if len(live) != len(segments):
        raise ValueError(f"{len(segments)} segments but {len(live)} live masks")
    out: list[np.ndarray | None] = []
    for s, (seg, mask) in enumerate(zip(segments, live)):
        if mask is None:
            out.append(None)
            continue
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.shape != (seg.n_docs,):
            raise ValueError(f"live mask {s} must be bool of {seg.n_docs}, got {mask.dtype} {mask.shape}")
        out.append(None if mask.all() else mask)
    return out


def _live_df(seg: BM25Index, mask: np.ndarray | None) -> np.ndarray:
    """df over the segment's live rows of each of its terms (int64, by term id): df minus the deleted postings."""
    df = seg.doc_frequencies
    if mask is None or not df.size:
        return df
    dead_postings = np.flatnonzero(np.logical_not(mask)[seg.doc_ids.astype(np.intp)])  # a gather per posting
    term = np.searchsorted(seg.term_ptr, dead_postings, side="right") - 1
    return df - np.bincount(term, minlength=df.size)


def _union_ids(union: dict[str, int], terms: list[str]) -> np.ndarray:
    """Ids of `terms` in `union`, adding the new ones (C-level set and dict operations, no Python loop)."""
    union.update(zip(set(terms).difference(union), count(len(union))))
    return np.fromiter(map(union.__getitem__, terms), dtype=np.int64, count=len(terms))


def segment_df(seg: BM25Index, a: int, b: int, live: np.ndarray | None, dead: np.ndarray | None) -> int:
    """Live rows among one term's postings seg.doc_ids[a:b] (ascending): all of them without deletes; with few
    deleted rows (`dead`, sorted), the postings minus the deleted rows found in them by binary search; else a
    gather of the live mask. So a term in every passage of a 1M segment with a few deletes costs microseconds."""
    if live is None:
        return b - a
    if dead is not None and dead.size * 16 < b - a:
        postings = seg.doc_ids[a:b]
        dead = dead.astype(postings.dtype, copy=False)  # another dtype would convert (copy) all the postings
        at = np.minimum(np.searchsorted(postings, dead), b - a - 1)
        return (b - a) - int(np.count_nonzero(postings[at] == dead))
    return int(np.count_nonzero(live[seg.doc_ids[a:b]]))


def live_df_histogram(segments: Sequence[BM25Index], live: Sequence[np.ndarray | None]) -> dict[int, int]:
    """{df: number of terms} over the live passages of the segments (terms only in deleted rows left out).

    What LiveBM25 needs for the epsilon floor; a writer computes it once per commit and stores it. Cost: one
    pass over the postings of segments with deletes, and the union of the vocabularies (set and dict operations
    on the terms, ~0.5 us a term: 0.11 s for 5 segments of 46,000 terms and 7M postings).
    """
    masks = _masks(segments, live)
    dfs = [_live_df(seg, m) for seg, m in zip(segments, masks)]
    if len(segments) == 1:
        total = dfs[0]
    else:
        union: dict[str, int] = {}
        ids, weights = [], []
        for seg, df in zip(segments, dfs):
            keep = df > 0
            terms = seg.terms() if keep.all() else list(compress(seg.terms(), keep.tolist()))
            ids.append(_union_ids(union, terms))
            weights.append(df[keep])
        total = np.zeros(len(union), dtype=np.int64)
        for i, w in zip(ids, weights):
            total[i] += w  # a term appears at most once in a segment's ids
    values, counts = np.unique(total[total > 0], return_counts=True)
    return dict(zip(values.tolist(), counts.tolist()))


def _size(contributions: list[np.ndarray]) -> int:
    """Floats held by a cached term."""
    return sum(c.size for c in contributions)


def _raw_idf(n: int, df: int) -> float:
    """rank_bm25's idf, before the floor."""
    return math.log(n - df + 0.5) - math.log(df + 0.5)


def idf_floor(n: int, histogram: dict[int, int], epsilon: float) -> float:
    """rank_bm25's floor for negative idfs: epsilon x the mean idf of the live vocabulary ({df: terms})."""
    n_terms = sum(histogram.values())
    return epsilon * (_idf_sum(n, histogram) / n_terms) if n_terms else 0.0


def raw_idf(n: int, df: int) -> float:
    """rank_bm25's idf of a term in `df` of `n` passages, before the floor."""
    return _raw_idf(n, df)


def _idf_sum(n: int, histogram: dict[int, int]) -> float:
    """Exact (correctly rounded) sum of every live term's idf: count * idf split into exact power-of-two multiples."""
    parts = []
    for df, times in histogram.items():
        value, bit = _raw_idf(n, df), 0
        while times:
            if times & 1:
                parts.append(math.ldexp(value, bit))
            times >>= 1
            bit += 1
    return math.fsum(parts)


class LiveBM25:
    """The live passages of some segments, scored as one BM25Okapi over them; see the module docstring.

    Presents what the engine reads of a BM25Index over the global row space (n_docs counts deleted rows too).
    Immutable once built; per-term live df is cached as queries ask for it.
    """

    def __init__(
        self,
        segments: Sequence[BM25Index],
        live: Sequence[np.ndarray | None],
        params: BM25Params = BM25Params(),
        df_histogram: dict[int, int] | None = None,
        cache_postings: int = CACHE_POSTINGS,
        totals: Totals | None = None,
    ) -> None:
        """`totals`: a shard's part of a larger corpus, scored with that corpus's N, total length and floor (the
        df of each query term comes with the query: `partial_scores`)."""
        self.segments = tuple(segments)
        self._live = _masks(self.segments, live)
        self.params = params
        sizes = [seg.n_docs for seg in self.segments]
        self._bases = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
        self.n_docs = int(self._bases[-1])
        n_live, total = 0, 0
        for seg, mask in zip(self.segments, self._live):
            lengths = seg.doc_lengths if mask is None else seg.doc_lengths[mask]
            n_live += int(lengths.shape[0])
            total += int(lengths.sum())
        if totals is not None:
            n_live, total = totals.n_live, totals.total_length
        self.n_live, self.total_length = n_live, total
        self.avgdl = total / n_live if n_live else 0.0  # Python ints: rank_bm25's num_doc / corpus_size
        self._dead_local = [None if m is None else np.flatnonzero(~m).astype(np.int32) for m in self._live]
        dead = [d + self._bases[s] for s, d in enumerate(self._dead_local) if d is not None]
        self._dead = np.concatenate(dead).astype(np.int64) if dead else _EMPTY_ROWS
        k1, b, avgdl = params.k1, params.b, self.avgdl
        # each row's length norm, rank_bm25's expression (deleted rows too: they are zeroed after adding)
        self._norm = [
            k1 * (1 - b + b * seg.doc_lengths / avgdl) if avgdl > 0 else np.zeros(seg.n_docs)
            for seg in self.segments
        ]
        if totals is not None:
            df_histogram = {}
        elif df_histogram is None:
            df_histogram = live_df_histogram(self.segments, self._live)
        histogram = {int(df): int(c) for df, c in df_histogram.items() if c}
        if any(df < 1 or df > n_live or c < 0 for df, c in histogram.items()):
            raise ValueError(f"df histogram does not describe {n_live} live passages")
        self._histogram = histogram
        self._n_terms = sum(histogram.values())
        self._floor = idf_floor(n_live, histogram, params.epsilon)
        if len(self.segments) == 1 and self._live[0] is None and self.segments[0].params == params:
            self._floor = self.own_floor(self.segments[0], self._floor)
        if totals is not None:
            self._floor = totals.floor
        self._max_idf = max((self._floored(df) for df in histogram), default=0.0)
        self._terms: dict[str, tuple[int, tuple[Part, ...]]] = {}
        # a frequent term's weighted saturation per posting, as _saturate computes it: the snapshot's avgdl and
        # idf never change, so a repeated common term (news' "said": most passages) costs one add.at
        self._contrib: LRUCache = LRUCache(max(cache_postings, 1), getsizeof=_size)
        self._contrib_lock = threading.Lock()
        self._doc_lengths: np.ndarray | None = None

    @staticmethod
    def own_floor(seg: BM25Index, floor: float) -> float:
        """The floor a single all-live segment stored (summed in rank_bm25's order), if any term is floored."""
        df = seg.doc_frequencies
        if not df.size:
            return floor
        t = int(np.argmax(df))
        return float(seg.idfs[t]) if _raw_idf(seg.n_docs, int(df[t])) < 0 else floor

    def _floored(self, df: int) -> float:
        value = _raw_idf(self.n_live, df)
        return self._floor if value < 0 else value

    def _term(self, term: str) -> tuple[int, tuple[Part, ...]]:
        """(live df, postings ranges with a live row) of a term; cached for terms some segment has."""
        found = self._terms.get(term)
        if found is not None:
            return found
        df, parts, seen = 0, [], False
        for s, (seg, mask) in enumerate(zip(self.segments, self._live)):
            t = seg.term_id(term)
            if t is None:
                continue
            seen = True
            a, b = seg.term_range(t)
            n = segment_df(seg, a, b, mask, self._dead_local[s])
            if n:
                df += n
                parts.append((s, a, b))
        if not seen:
            return 0, ()  # unknown everywhere: not cached, so arbitrary query words cannot grow the cache
        found = self._terms[term] = (df, tuple(parts))
        return found

    # -- what the engine reads of a BM25Index ----------------------------------------------------------------

    @property
    def vocabulary_size(self) -> int:
        """Distinct terms of the live passages."""
        return self._n_terms

    @property
    def max_idf(self) -> float:
        """The largest idf of the live vocabulary (after the floor): what an unknown word weighs at least."""
        return self._max_idf

    @property
    def doc_lengths(self) -> np.ndarray:
        """Each row's number of analyzer tokens (deleted rows keep theirs), int64 over the global rows."""
        if self._doc_lengths is None:
            parts = [np.asarray(seg.doc_lengths, dtype=np.int64) for seg in self.segments]
            self._doc_lengths = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return self._doc_lengths

    def df(self, term: str) -> int:
        """Live passages containing the term."""
        return self._term(term)[0]

    def idf(self, term: str) -> float:
        """The term's idf over the live passages after the epsilon floor; 0 when no live passage has it."""
        df = self._term(term)[0]
        return self._floored(df) if df else 0.0

    def knows(self, term: str) -> bool:
        """Whether some live passage has the term."""
        return self._term(term)[0] > 0

    def postings(self, term: str) -> np.ndarray:
        """Global rows of the live passages containing the term, ascending (int64); empty when none."""
        rows = [self._rows(part, live_only=True) for part in self._term(term)[1]]
        return np.concatenate(rows) if rows else _EMPTY_ROWS

    def _rows(self, part: Part, live_only: bool) -> np.ndarray:
        s, a, b = part
        rows = self.segments[s].doc_ids[a:b].astype(np.int64)
        mask = self._live[s]
        if live_only and mask is not None:
            rows = rows[mask[rows]]
        return rows + self._bases[s]

    def stats(self) -> dict:
        """JSON-ready figures, as BM25Index.stats plus the live counts."""
        return {
            "n_docs": self.n_docs,
            "live_docs": self.n_live,
            "segments": len(self.segments),
            "vocabulary": self.vocabulary_size,
            "postings": sum(int(seg.doc_ids.shape[0]) for seg in self.segments),
            "avgdl": self.avgdl,
            "params": asdict(self.params),
        }

    def _accumulate(self, query_tokens: Sequence[str]) -> tuple[np.ndarray, list[tuple[int, tuple[Part, ...]]]]:
        """Dense scores from the query terms' postings, added per occurrence in query order as rank_bm25 does."""
        scores = np.zeros(self.n_docs, dtype=np.float64)
        known = []
        for token in query_tokens:
            df, parts = self._term(token)
            if not df:
                continue  # rank_bm25 adds 0 for a term no live passage has
            for (s, a, b), sat in zip(parts, self._contributions(token, df, parts)):
                # rows are unique within a term: one addition per row, as rank_bm25's `score +=`
                np.add.at(scores[self._bases[s] : self._bases[s + 1]], self.segments[s].doc_ids[a:b], sat)
            known.append((df, parts))
        if known and self._dead.size:
            scores[self._dead] = 0.0
        return scores, known

    def _contributions(self, token: str, df: int, parts: tuple[Part, ...]) -> list[np.ndarray]:
        """The term's weighted saturation for each of its postings ranges, from the cache when it is frequent."""
        frequent = sum(b - a for _, a, b in parts) >= CACHE_FROM
        if frequent:
            with self._contrib_lock:
                found = self._contrib.get(token)
            if found is not None:
                return found
        weight = self._floored(df)
        out = [self._saturate(s, a, b, weight) for s, a, b in parts]
        if frequent:
            with self._contrib_lock:
                try:
                    self._contrib[token] = out
                except ValueError:  # larger than the whole cache
                    pass
        return out

    def _saturate(self, s: int, a: int, b: int, weight: float) -> np.ndarray:
        """weight * (tf * (k1 + 1) / (tf + norm)) for the postings a:b of segment s: rank_bm25's operations (each
        commutative one with its operands swapped at most), in place to spare large temporaries."""
        seg, k1 = self.segments[s], self.params.k1
        rows = seg.doc_ids[a:b].astype(np.intp)  # fancy indexing by int32 is ~3x slower than by intp
        sat = seg.tf[a:b].astype(np.float64)
        den = self._norm[s][rows]
        den += sat
        sat *= k1 + 1
        sat /= den
        sat *= weight
        return sat

    @property
    def floor(self) -> float:
        """The idf a term in more than half the live passages gets (epsilon x the mean idf)."""
        return self._floor

    def partial_scores(self, query_tokens: Sequence[str], dfs: Mapping[str, int]) -> np.ndarray:
        """A shard's rows scored as the whole corpus scores them: each term weighted by its df over the corpus
        (`dfs`, summed over the shards by the router), saturated with the corpus's avgdl (`totals`); the same
        operations in the same order as `scores`, so the values are bit-equal to the whole LiveBM25's."""
        scores = np.zeros(self.n_docs, dtype=np.float64)
        added = False
        for token in query_tokens:
            df = int(dfs.get(token, 0))
            _, parts = self._term(token)
            if not df or not parts:
                continue
            for (s, a, b), sat in zip(parts, self._contributions(token, df, parts)):
                np.add.at(scores[self._bases[s] : self._bases[s + 1]], self.segments[s].doc_ids[a:b], sat)
            added = True
        if added and self._dead.size:
            scores[self._dead] = 0.0
        return scores

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """Float64 score of every global row, equal to BM25Okapi(live passages) on the live rows, 0 on deleted."""
        return self._accumulate(query_tokens)[0]

    def top_k(
        self, query_tokens: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best k rows with score > 0 (among `allowed` if given), best first, ties to the lower global row."""
        rows, values, _ = self.search(query_tokens, k, allowed)
        return rows, values

    def search(
        self, query_tokens: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """top_k, plus the mask of every row that matched (score > 0 and allowed) so callers can count them."""
        if allowed is not None and (allowed.dtype != np.bool_ or allowed.shape != (self.n_docs,)):
            raise ValueError(f"allowed must be a bool mask of {self.n_docs}, got {allowed.dtype} {allowed.shape}")
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        scores, known = self._accumulate(query_tokens)
        matched = scores > 0
        if allowed is not None:
            matched &= allowed
        if k <= 0 or not known:
            return (*empty, matched)
        # any k scored rows bound the k-th best from below: take them from the rarest term to skip most rows
        _, parts = min(known, key=lambda found: found[0])
        sample = np.concatenate([self._rows(part, live_only=True) for part in parts])
        if allowed is not None:
            sample = sample[allowed[sample]]
        floor = np.partition(scores[sample], sample.size - k)[sample.size - k] if sample.size >= k else 0.0
        keep = scores >= floor if floor > 0 else scores > 0
        if allowed is not None:
            keep &= allowed
        cand = np.flatnonzero(keep)
        values = scores[cand]
        if cand.size > k:
            kth = -np.partition(-values, k - 1)[k - 1]  # the k-th best score; ties at it go to lower rows
            above, at = np.flatnonzero(values > kth), np.flatnonzero(values == kth)
            pick = np.concatenate([above, at[: k - above.size]])
            cand, values = cand[pick], values[pick]
        order = np.lexsort((cand, -values))
        return cand[order], values[order], matched


def merge(
    segments: Sequence[BM25Index], live: Sequence[np.ndarray | None], params: BM25Params | None = None
) -> BM25Index:
    """One segment of the live rows of adjacent segments, in order, built from their postings alone.

    Rows keep their order (segment by segment, row by row) so global order, and so rank_bm25's tie order, is
    unchanged; tf and lengths are copied, so scores inside a LiveBM25 stay exact. Terms get ids in first-seen
    order (by first live row, then by id in that row's segment): with no deletes the result equals
    BM25Index.build over the same documents array for array. Its own sat and idf are over the merged rows
    alone, with `params` (default: the first segment's). Postings are placed by counting, not sorted: O(postings).
    """
    masks = _masks(segments, live)
    if params is None:
        params = segments[0].params if segments else BM25Params()
    union: dict[str, int] = {}
    kept = []  # per segment: union ids of its live terms, their live df, new rows and tf of their live postings
    first_row, first_id, lengths = [], [], []
    base = 0
    for seg, mask in zip(segments, masks):
        df = _live_df(seg, mask)
        live_terms = df > 0
        terms = seg.terms() if live_terms.all() else list(compress(seg.terms(), live_terms.tolist()))
        ids = _union_ids(union, terms)
        rows, tf = seg.doc_ids.astype(np.intp), np.asarray(seg.tf)  # indexing by int32 takes a slow path
        doc_len = np.asarray(seg.doc_lengths, dtype=np.int64)
        if mask is None:
            new_rows = rows + base
        else:
            keep = mask[rows]
            rows, tf, doc_len = rows[keep], tf[keep], doc_len[mask]
            new_rows = (np.cumsum(mask, dtype=np.int64) - 1 + base)[rows]
        df = df[live_terms]  # live postings stay grouped by term, in term order
        starts = np.cumsum(df) - df
        first_row.append(new_rows[starts] if df.size else _EMPTY_ROWS)
        first_id.append(np.flatnonzero(live_terms))
        kept.append((ids, df, starts, new_rows, tf))
        lengths.append(doc_len)
        base += int(doc_len.shape[0])
    n_terms = len(union)
    first = np.full(n_terms, np.iinfo(np.int64).max, dtype=np.int64)
    tie = np.zeros(n_terms, dtype=np.int64)
    total = np.zeros(n_terms, dtype=np.int64)
    for (ids, df, *_), rows, local in zip(reversed(kept), reversed(first_row), reversed(first_id)):
        first[ids], tie[ids] = rows, local  # earlier segments overwrite: each term's first live row
        total[ids] += df  # ids are unique within a segment
    order = np.lexsort((tie, first))  # new term id -> union id
    rank = np.empty(n_terms, dtype=np.int64)
    rank[order] = np.arange(n_terms, dtype=np.int64)
    ptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(total[order], out=ptr[1:])
    doc_ids = np.empty(int(ptr[-1]), dtype=np.int32)
    tf_out = np.empty(int(ptr[-1]), dtype=np.uint32)
    placed = np.zeros(n_terms, dtype=np.int64)  # postings of each term placed by earlier segments
    for ids, df, starts, new_rows, tf in kept:
        where = ptr[rank[ids]] + placed[ids]  # where this segment's postings of each term begin
        placed[ids] += df
        dest = np.repeat(where - starts, df) + np.arange(new_rows.size, dtype=np.int64)
        doc_ids[dest], tf_out[dest] = new_rows, tf
    del kept
    names = list(union)
    terms = list(map(names.__getitem__, order.tolist()))
    doc_len = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    return BM25Index.from_postings(ptr, doc_ids, tf_out, doc_len, terms, params)


def _bench(n: int = 200_000, n_segments: int = 5, deleted: float = 0.02, seed: int = 0) -> None:
    """Per-query cost against one BM25Index over the same passages (python -m search.livebm25)."""
    import time  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    vocab = np.array([f"t{i}" for i in range(50_000)])
    ranks = np.minimum(rng.zipf(1.15, size=n * 60) - 1, vocab.size - 1)
    words = vocab[ranks].tolist()
    docs = [words[i * 60 : (i + 1) * 60] for i in range(n)]
    size = -(-n // n_segments)
    segments = [BM25Index.build(docs[i : i + size]) for i in range(0, n, size)]
    masks = [rng.random(s.n_docs) >= deleted for s in segments]
    whole = BM25Index.build([d for d, ok in zip(docs, np.concatenate(masks).tolist()) if ok])

    def clock(f, repeat: int = 20) -> float:
        f()
        best = math.inf
        for _ in range(repeat):
            start = time.perf_counter()
            f()
            best = min(best, time.perf_counter() - start)
        return best * 1000

    started = time.perf_counter()
    histogram = live_df_histogram(segments, masks)
    t_hist = time.perf_counter() - started
    started = time.perf_counter()
    live = LiveBM25(segments, masks, BM25Params(), df_histogram=histogram)
    t_build = time.perf_counter() - started
    print(f"{n} passages, {len(segments)} segments, {deleted:.0%} deleted; histogram {t_hist * 1000:.0f} ms, "
          f"LiveBM25 from it {t_build * 1000:.1f} ms")
    for term in ("t0", "t1", "t30", "t2000"):
        q = [term]
        print(f"  {term!r} df {live.df(term)} ({live.df(term) / live.n_live:.0%}): scores "
              f"BM25Index {clock(lambda: whole.scores(q)):.2f} ms, LiveBM25 {clock(lambda: live.scores(q)):.2f} ms; "
              f"search k=10 {clock(lambda: whole.search(q, 10)):.2f} ms vs {clock(lambda: live.search(q, 10)):.2f} ms")
    q = ["t0", "t3", "t40", "t700"]
    rows = np.flatnonzero(np.concatenate(masks))
    diff = np.abs(live.scores(q)[rows] - whole.scores(q)).max()
    print(f"  {q}: BM25Index {clock(lambda: whole.scores(q)):.2f} ms, LiveBM25 {clock(lambda: live.scores(q)):.2f} ms;"
          f" largest difference from the index of the live passages {diff:.1e}")
    started = time.perf_counter()
    merged = merge(segments, masks)
    print(f"  merge of the {len(segments)} segments: {time.perf_counter() - started:.2f} s, "
          f"{merged.n_docs} passages, same scores: {np.array_equal(merged.scores(q), whole.scores(q))}")


if __name__ == "__main__":
    _bench()
