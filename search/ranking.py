"""One question ranked over one collection (passages or quotations): the gate first, then one exact ranking of
what passes it, so every page of a question is a slice of the same list.

Fused scores are absolute for a question (they do not depend on how many candidates were fetched): BM25 is divided
by the best BM25 among the allowed rows, the cosine is scaled from the gate's threshold up to the best cosine. So the
ranking can be computed top-down with Fagin's threshold algorithm: a candidate whose fused score beats the best score
any unseen row could have is in its final place; when a page needs more, both legs' windows widen and the rows
already placed stay where they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import faiss
import numpy as np

from .bm25 import BM25Index
from .dense import search_dense, stored_vectors
from .models import Scores
from .relevance import Gate, content_tokens, lexical_pass

_EMPTY_ROWS = np.zeros(0, dtype=np.int64)
_EMPTY_SCORES = np.zeros(0, dtype=np.float64)


@dataclass(frozen=True)
class Windows:
    """How many candidates each leg fetches before a page needs more."""

    bm25: int = 100  # the lexical leg's first window; it grows by 4x while a page needs rows it cannot place yet
    dense: int = 1000  # the dense leg's first window (within HNSW's efSearch: free); it also decides `total`
    rrf_k: int = 60

    def __post_init__(self) -> None:
        if self.bm25 < 1 or self.dense < 1 or self.rrf_k < 1:
            raise ValueError(f"windows and rrf_k must be positive: {self}")


@dataclass(frozen=True)
class Query:
    """What the ranking needs from a question and its options."""

    tokens: tuple[str, ...]  # BM25 tokens in question order (rank_bm25 adds them in that order)
    vector: np.ndarray | None  # the question's unit vector; None in bm25 mode
    mode: str = "hybrid"  # hybrid | bm25 | dense
    fusion: str = "linear"  # linear | rrf
    alpha: float = 0.7  # weight of the dense leg with linear fusion


def top_by(rows: np.ndarray, key: np.ndarray, m: int) -> np.ndarray:
    """The m rows with the highest key, best first, ties to the lower row (exact, without sorting them all)."""
    if rows.size > m:
        kth = -np.partition(-key, m - 1)[m - 1]
        keep = key >= kth
        rows, key = rows[keep], key[keep]
    order = np.lexsort((rows, -key))[:m]
    return rows[order]


def top_in(scores: np.ndarray, mask: np.ndarray, count: int, m: int) -> np.ndarray:
    """The m rows of `mask` (`count` of them) with the highest scores, best first, ties to the lower row.

    A strided sample of the mask's rows bounds the m-th best score from below, so only the rows at or above that
    floor are gathered and sorted (about sqrt(m x count) of them, not all `count`)."""
    if count > 8 * m:
        step = max(1, int(math.sqrt(count / m)))
        sample = np.arange(0, scores.size, step)
        sample = sample[mask[sample]]
        if sample.size >= m:
            floor = np.partition(scores[sample], sample.size - m)[sample.size - m]
            rows = np.flatnonzero((scores >= floor) & mask)
            return top_by(rows, scores[rows], m)
    rows = np.flatnonzero(mask)
    return top_by(rows, scores[rows], m)


@dataclass
class Ranked:
    """An exact prefix of a question's ranking: rows best first with their fused scores; `complete` when it is all."""

    rows: np.ndarray
    scores: np.ndarray
    complete: bool


class Ranker:
    """The gate and the ranking of one question over one collection; windows widen on demand and are kept."""

    def __init__(self, bm25: BM25Index, dense: faiss.Index, query: Query, gate: Gate,
                 allowed: np.ndarray | None = None, windows: Windows = Windows(), ef_search: int = 128,
                 semantic_ok: np.ndarray | None = None) -> None:
        """Score the lexical leg over every row and fetch the dense leg's first window (allowed: bool [n]).

        `semantic_ok` (bool [n]) names the rows that may pass on their cosine; the others only on their words
        (a three-word quotation can sit close to anything)."""
        self.bm25, self.dense, self.query, self.gate = bm25, dense, query, gate
        self.allowed, self.windows, self.ef_search = allowed, windows, ef_search
        self.semantic_ok = semantic_ok
        self.bm25_scores: np.ndarray | None = None  # float64 [n], rank_bm25's scores
        self._d_rows, self._d_cos, self._d_window = _EMPTY_ROWS, _EMPTY_SCORES, 0
        self._b_rows, self._b_window, self._b_max = _EMPTY_ROWS, 0, 0.0
        self._p_rows, self._p_window, self._p_size, self._p_lexical = _EMPTY_ROWS, 0, 0, False  # the fused pool
        self._n_lexical = -1  # how many rows pass the lexical gate, counted when first needed
        self._known_rows, self._known_cos = _EMPTY_ROWS, _EMPTY_SCORES  # rows whose cosine is known, sorted
        self._known_window = 0  # the dense window's size when it was last added to the known rows
        n = self.bm25.n_docs
        q = self.query
        self.lexical = np.zeros(n, dtype=bool)
        if q.mode != "dense" and q.tokens:
            content = content_tokens(q.tokens)
            if list(q.tokens) == content:
                self.bm25_scores = content_scores = self.bm25.scores(q.tokens)
            elif hasattr(self.bm25, "scores_many"):  # an index on shards: both in one round of calls
                self.bm25_scores, content_scores = self.bm25.scores_many([q.tokens, content])
            else:
                self.bm25_scores, content_scores = self.bm25.scores(q.tokens), self.bm25.scores(content)
            matched = self.bm25_scores > 0
            if self.allowed is not None:
                matched &= self.allowed
            self.lexical = lexical_pass(self.bm25, q.tokens, content_scores, self.gate.lexical)
            self.lexical &= matched
            self._matched = matched
            self._n_matched = int(np.count_nonzero(matched))
            # scores are never negative (rank_bm25 floors idf at epsilon x the mean): unmatched rows count as 0
            self._b_max = self._best_allowed(self.bm25_scores, matched) if self._n_matched else 0.0
        else:
            self._matched, self._n_matched = np.zeros(n, dtype=bool), 0
        if self.uses_dense:
            self._fetch_dense(self.windows.dense)
        self._first_dense = (self._d_rows, self._d_cos, self._dense_exhausted)

    def _best_allowed(self, scores: np.ndarray, matched: np.ndarray) -> float:
        """The best score among the matched rows: the best of all when its row matched (always without a filter;
        deleted rows score 0), else the best of the matched rows' scores."""
        top = int(np.argmax(scores))
        if matched[top]:
            return float(scores[top])
        return float(scores[top_in(scores, matched, self._n_matched, 1)[0]])

    # -- the legs --------------------------------------------------------------------------------------------

    @property
    def uses_dense(self) -> bool:
        return self.query.mode != "bm25" and self.query.vector is not None

    @property
    def uses_bm25(self) -> bool:
        return self.bm25_scores is not None

    @property
    def _dense_exhausted(self) -> bool:
        """No row beyond the window can pass the semantic gate (or there is no row beyond it)."""
        if self._d_rows.size < self._d_window or self._d_window >= self.dense.ntotal:
            return True
        return bool(self._d_cos.size and self._d_cos[-1] < self.gate.dense)

    def _fetch_dense(self, window: int) -> None:
        """The dense leg's top `window` among the allowed rows, best first, ties to the lower row."""
        window = min(window, self.dense.ntotal)
        if window <= self._d_window:
            return
        self._d_window = window
        if self.allowed is not None and not self.allowed.any():
            self._d_rows, self._d_cos = _EMPTY_ROWS, _EMPTY_SCORES
            return
        rows, cos = search_dense(self.dense, self.query.vector, window, self.allowed, ef_search=self.ef_search)
        order = np.lexsort((rows, -cos))
        self._d_rows, self._d_cos = rows[order].astype(np.int64), cos[order].astype(np.float64)

    def _fetch_bm25(self, window: int) -> None:
        """The lexical leg's top `window` among the allowed rows with a BM25 score."""
        window = min(window, max(self._n_matched, 1))
        if window <= self._b_window or self.bm25_scores is None:
            return
        self._b_window = window
        self._b_rows = top_in(self.bm25_scores, self._matched, self._n_matched, window)

    def _fetch_pool(self, window: int) -> None:
        """The lexical leg's top `window` among the rows an unseen row must come from to enter the fused ranking:
        every matched row while the dense leg may still hold rows above its gate, only the lexical gate's rows
        once it cannot (a row with a little BM25 that passes no gate is never worth walking to)."""
        if self.bm25_scores is None:
            return
        lexical_only = not self.uses_dense or self._dense_exhausted
        pool, size = (self.lexical, self.n_lexical) if lexical_only else (self._matched, self._n_matched)
        if lexical_only != self._p_lexical:
            self._p_lexical, self._p_window = lexical_only, 0
        window = min(max(window, self.windows.bm25), max(size, 1))
        if window <= self._p_window:
            return
        self._p_window, self._p_size = window, size
        self._p_rows = top_in(self.bm25_scores, pool, size, window)

    @property
    def n_lexical(self) -> int:
        """How many rows pass the lexical gate."""
        if self._n_lexical < 0:
            self._n_lexical = int(np.count_nonzero(self.lexical))
        return self._n_lexical

    @property
    def _pool_exhausted(self) -> bool:
        return self._p_rows.size >= self._p_size

    def cosines(self, rows: np.ndarray) -> np.ndarray:
        """The question's cosine to each row: from the dense window, else from the stored vector (computed once
        per row and kept; lookups are a binary search over the known rows, never a Python loop)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.empty(0, dtype=np.float64)
        if self._known_window != self._d_rows.size:  # the window grew: its cosines take precedence
            self._known_window = self._d_rows.size
            self._remember(self._d_rows, self._d_cos, window=True)
        at, found = self._lookup(rows)
        if not found.all():
            missing = np.unique(rows[~found])
            stored = stored_vectors(self.dense, missing)
            self._remember(missing, (stored @ self.query.vector).astype(np.float64), window=False)
            at, found = self._lookup(rows)
        return self._known_cos[at]

    def _lookup(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each row is among the known ones, and whether it is there."""
        known = self._known_rows
        if known.size == 0:
            return np.zeros(rows.size, dtype=np.int64), np.zeros(rows.size, dtype=bool)
        at = np.minimum(np.searchsorted(known, rows), known.size - 1)
        return at, known[at] == rows

    def _remember(self, rows: np.ndarray, cos: np.ndarray, window: bool) -> None:
        """Add cosines to the known ones, sorted by row; on a repeated row the dense window's value wins."""
        first = (rows, self._known_rows) if window else (self._known_rows, rows)
        values = (cos, self._known_cos) if window else (self._known_cos, cos)
        all_rows, all_cos = np.concatenate(first), np.concatenate(values)
        kept, where = np.unique(all_rows, return_index=True)  # the first occurrence of each row
        self._known_rows, self._known_cos = kept, all_cos[where]

    # -- the gate --------------------------------------------------------------------------------------------

    def strong(self) -> tuple[np.ndarray, bool]:
        """Rows known to pass the gate (lexical: all of them; dense: those in the first window) and whether
        that is every such row (False: a lower bound, the dense leg may hold more beyond its first window)."""
        mask = self.lexical.copy() if self.query.mode != "dense" else np.zeros(self.bm25.n_docs, dtype=bool)
        complete = True
        if self.uses_dense:
            rows, cos, exhausted = self._first_dense
            mask[self._semantic(rows, cos)] = True
            complete = exhausted
        return mask, complete

    def _semantic(self, rows: np.ndarray, cos: np.ndarray) -> np.ndarray:
        """The rows (of some with their cosines) that pass the semantic gate."""
        rows = rows[cos >= self.gate.dense]
        return rows if self.semantic_ok is None else rows[self.semantic_ok[rows]]

    # -- the ranking -----------------------------------------------------------------------------------------

    def _dense_norm(self, cos: np.ndarray) -> np.ndarray:
        """Cosine scaled from the gate's threshold (0) to the best cosine among the allowed rows (1)."""
        best = float(self._first_dense[1][0]) if self._first_dense[1].size else self.gate.dense
        span = best - self.gate.dense
        if span <= 0:
            return np.zeros_like(cos)
        return np.clip((cos - self.gate.dense) / span, 0.0, 1.0)

    def _bm25_norm(self, scores: np.ndarray) -> np.ndarray:
        return scores / self._b_max if self._b_max > 0 else np.zeros_like(scores)

    def fused(self, rows: np.ndarray) -> np.ndarray:
        """Linear fusion of the two legs for any rows (absolute: independent of the windows)."""
        rows = np.asarray(rows, dtype=np.int64)
        alpha = self.query.alpha
        d = self._dense_norm(self.cosines(rows)) if self.uses_dense else np.zeros(rows.size)
        b = self._bm25_norm(self.bm25_scores[rows]) if self.uses_bm25 else np.zeros(rows.size)
        return alpha * d + (1 - alpha) * b

    def top(self, m: int) -> Ranked:
        """At least m rows of the ranking (all of it when fewer pass the gate), exactly as a full sort would
        order them: best first, ties to the lower row."""
        mode = self.query.mode
        if mode == "bm25":
            return self._top_bm25(m)
        if mode == "dense":
            return self._top_dense(m)
        if self.query.fusion == "rrf":
            return self._top_rrf(m)
        return self._top_linear(m)

    def _top_bm25(self, m: int) -> Ranked:
        self._fetch_bm25(max(m, self.windows.bm25))  # for the explanation's ranks
        if self.n_lexical == 0:
            return Ranked(_EMPTY_ROWS, _EMPTY_SCORES, True)
        top = top_in(self.bm25_scores, self.lexical, self.n_lexical, m)
        return Ranked(top, self.bm25_scores[top], top.size == self.n_lexical)

    def _top_dense(self, m: int) -> Ranked:
        if not self.uses_dense:
            return Ranked(_EMPTY_ROWS, _EMPTY_SCORES, True)
        while True:
            strong = self._d_cos >= self.gate.dense
            if self.semantic_ok is not None:
                strong &= self.semantic_ok[self._d_rows]
            if strong.sum() >= m or self._dense_exhausted:
                rows, cos = self._d_rows[strong][:m], self._d_cos[strong][:m]
                return Ranked(rows, cos, bool(strong.sum() <= m and self._dense_exhausted))
            self._fetch_dense(self._d_window * 4)

    def _top_linear(self, m: int) -> Ranked:
        self._fetch_bm25(self.windows.bm25)  # for the explanation's ranks
        self._fetch_pool(max(self._p_window, self.windows.bm25))
        while True:
            seen = np.union1d(self._p_rows, self._d_rows)
            cos = self.cosines(seen) if self.uses_dense else np.full(seen.size, -1.0)
            semantic = cos >= self.gate.dense
            if self.semantic_ok is not None:
                semantic &= self.semantic_ok[seen]
            passes = self.lexical[seen] | semantic
            seen, cos = seen[passes], cos[passes]
            alpha = self.query.alpha
            b = self._bm25_norm(self.bm25_scores[seen]) if self.uses_bm25 else np.zeros(seen.size)
            fused = alpha * self._dense_norm(cos) + (1 - alpha) * b
            # the best score a row outside both windows could have
            d_edge = 0.0 if self._dense_exhausted or not self.uses_dense else float(
                self._dense_norm(self._d_cos[-1:])[0])
            b_edge = 0.0 if self._pool_exhausted or not self.uses_bm25 else float(
                self._bm25_norm(self.bm25_scores[self._p_rows[-1:]])[0])
            bound = alpha * d_edge + (1 - alpha) * b_edge
            placed = fused > bound
            if placed.sum() >= m or bound <= 0:
                order = np.lexsort((seen[placed], -fused[placed]))
                rows, scores = seen[placed][order], fused[placed][order]
                if bound <= 0:  # nothing unseen can score: what is left of the gate's rows scores 0, in row order
                    rows, scores = self._with_zero_tail(rows, scores)
                    return Ranked(rows, scores, True)
                return Ranked(rows, scores, False)
            if d_edge > 0:
                self._fetch_dense(self._d_window * 4)
            if b_edge > 0:
                self._fetch_pool(self._p_window * 4)
            else:
                self._fetch_pool(self._p_window)  # the dense leg may have run out: the pool narrows to the gate's

    def _with_zero_tail(self, rows: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows that pass the gate but score 0 (alpha 0 or 1 with one leg silent), after the others, in row order."""
        mask, _ = self.strong()
        if self.uses_dense:
            while not self._dense_exhausted:  # every row above the semantic gate belongs to the ranking
                self._fetch_dense(self._d_window * 4)
            mask[self._semantic(self._d_rows, self._d_cos)] = True
        mask[rows] = False
        rest = np.flatnonzero(mask)
        return np.concatenate([rows, rest]), np.concatenate([scores, np.zeros(rest.size)])

    def _lexical_order(self, m: int) -> np.ndarray:
        """The first m rows of the lexical leg's gated list (rows passing the lexical gate by BM25)."""
        return top_in(self.bm25_scores, self.lexical, self.n_lexical, m) if self.n_lexical else _EMPTY_ROWS

    def _top_rrf(self, m: int) -> Ranked:
        """Reciprocal rank fusion of the legs' gated lists: BM25's whole list, the dense leg's first window."""
        k = self.windows.rrf_k
        d_rows, d_cos, _ = self._first_dense if self.uses_dense else (_EMPTY_ROWS, _EMPTY_SCORES, True)
        d_rows = self._semantic(d_rows, d_cos)
        d_score = {int(r): 1.0 / (k + i) for i, r in enumerate(d_rows.tolist(), start=1)}
        lexical = np.flatnonzero(self.lexical)
        window = self.windows.bm25
        while True:
            head = self._lexical_order(window)
            score: dict[int, float] = {int(r): 1.0 / (k + i) for i, r in enumerate(head.tolist(), start=1)}
            if self.uses_bm25 and lexical.size:
                for r, rank in zip(d_rows.tolist(), self._lexical_ranks(d_rows, lexical).tolist()):
                    if rank and r not in score:
                        score[r] = 1.0 / (k + rank)
            for r, s in d_score.items():
                score[r] = score.get(r, 0.0) + s
            exhausted = head.size >= lexical.size
            bound = 0.0 if exhausted else 1.0 / (k + head.size + 1)
            rows = np.fromiter(score, dtype=np.int64, count=len(score))
            values = np.fromiter(score.values(), dtype=np.float64, count=len(score))
            placed = values > bound
            if placed.sum() >= m or exhausted:
                order = np.lexsort((rows[placed], -values[placed]))
                return Ranked(rows[placed][order], values[placed][order], exhausted)
            window *= 4

    def _lexical_ranks(self, rows: np.ndarray, lexical: np.ndarray) -> np.ndarray:
        """Each row's rank (from 1) in the lexical leg's gated list; 0 for a row not on it."""
        order = np.lexsort((lexical, -self.bm25_scores[lexical]))  # the list: BM25 down, ties to the lower row
        keys, ordered_rows = -self.bm25_scores[lexical][order], lexical[order]
        out = np.zeros(rows.size, dtype=np.int64)
        for i, r in enumerate(rows.tolist()):
            if self.lexical[r]:
                key = -self.bm25_scores[r]
                lo, hi = np.searchsorted(keys, key, "left"), np.searchsorted(keys, key, "right")
                out[i] = lo + int(np.searchsorted(ordered_rows[lo:hi], r)) + 1
        return out

    # -- explanations ----------------------------------------------------------------------------------------

    def explain(self, row: int, fused: float) -> Scores:
        """Each leg's score and rank for a row (rank: its place in that leg's window, when it is in it)."""
        bm25 = bm25_rank = dense = dense_rank = None
        if self.uses_bm25:
            value = float(self.bm25_scores[row])
            if value > 0:
                bm25 = round(value, 6)
                hit = np.flatnonzero(self._b_rows == row)
                bm25_rank = int(hit[0]) + 1 if hit.size else None
        if self.uses_dense:
            dense = round(float(self.cosines(np.array([row]))[0]), 6)
            hit = np.flatnonzero(self._d_rows == row)
            dense_rank = int(hit[0]) + 1 if hit.size else None
        return Scores(bm25=bm25, bm25_rank=bm25_rank, dense=dense, dense_rank=dense_rank, fused=round(fused, 6))
