"""The gated ranking: exact against a brute-force sort of every row, the same list whatever the window."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.bm25 import BM25Index
from search.ranking import Query, Ranker, Windows, top_by, top_in
from search.relevance import Gate, content_tokens, lexical_pass, lexical_share

WORDS = ["oil", "price", "fall", "opec", "crude", "bank", "rate", "yen", "dollar", "strike"]


def _collection(seed: int, n: int = 300, dim: int = 8) -> tuple[BM25Index, faiss.Index, np.ndarray]:
    rng = np.random.default_rng(seed)
    docs = [list(rng.choice(WORDS, size=rng.integers(1, 12))) for _ in range(n)]
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    dense = faiss.IndexFlatIP(dim)
    dense.add(vectors)
    return BM25Index.build(docs), dense, vectors


def _brute(bm25: BM25Index, vectors: np.ndarray, query: Query, gate: Gate, allowed: np.ndarray | None,
           rrf_k: int = 60, dense_window: int = 10**9, semantic_ok: np.ndarray | None = None) -> list[int]:
    """The ranking by definition: every row scored, the gate applied, a full sort."""
    n = bm25.n_docs
    ok = np.ones(n, dtype=bool) if allowed is None else allowed
    scores = bm25.scores(query.tokens) if query.mode != "dense" and query.tokens else np.zeros(n)
    content = bm25.scores(content_tokens(query.tokens)) if query.tokens else np.zeros(n)
    lexical = lexical_pass(bm25, query.tokens, content, gate.lexical) & (scores > 0) & ok if query.tokens \
        else np.zeros(n, dtype=bool)
    cos = vectors @ query.vector if query.vector is not None and query.mode != "bm25" else np.full(n, -1.0)
    order_cos = [r for r in np.lexsort((np.arange(n), -cos)) if ok[r]][:dense_window]
    dense_ok = np.zeros(n, dtype=bool)
    dense_ok[[r for r in order_cos if cos[r] >= gate.dense and (semantic_ok is None or semantic_ok[r])]] = True
    if query.mode == "bm25":
        rows = np.flatnonzero(lexical)
        return rows[np.lexsort((rows, -scores[rows]))].tolist()
    if query.mode == "dense":
        rows = np.flatnonzero(dense_ok)
        return rows[np.lexsort((rows, -cos[rows]))].tolist()
    strong = np.flatnonzero(lexical | dense_ok)
    if query.fusion == "rrf":
        lex_rows = np.flatnonzero(lexical)
        lex_order = lex_rows[np.lexsort((lex_rows, -scores[lex_rows]))].tolist()
        den_order = [r for r in order_cos if dense_ok[r]]
        fused = {r: 0.0 for r in strong.tolist()}
        for ranking in (lex_order, den_order):
            for i, r in enumerate(ranking, start=1):
                fused[r] += 1.0 / (rrf_k + i)
        return sorted(fused, key=lambda r: (-fused[r], r))
    matched = scores > 0
    b_max = scores[matched & ok].max() if (matched & ok).any() else 0.0
    c_max = cos[ok].max()
    b = scores / b_max if b_max > 0 else np.zeros(n)
    span = c_max - gate.dense
    d = np.clip((cos - gate.dense) / span, 0, 1) if span > 0 else np.zeros(n)
    fused = query.alpha * d + (1 - query.alpha) * b
    return strong[np.lexsort((strong, -fused[strong]))].tolist()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    words=st.lists(st.sampled_from(WORDS + ["what", "unknownword"]), min_size=0, max_size=4),
    mode=st.sampled_from(["hybrid", "bm25", "dense"]),
    fusion=st.sampled_from(["linear", "rrf"]),
    alpha=st.sampled_from([0.0, 0.3, 0.7, 1.0]),
    windows=st.tuples(st.integers(1, 40), st.integers(1, 60)),
    filtered=st.booleans(),
    short=st.booleans(),
    m=st.integers(1, 120),
)
def test_every_prefix_is_the_brute_force_ranking(seed, words, mode, fusion, alpha, windows, filtered, short,
                                                 m) -> None:
    bm25, dense, vectors = _collection(seed % 7)
    rng = np.random.default_rng(seed)
    vector = rng.normal(size=vectors.shape[1]).astype(np.float32)
    vector /= np.linalg.norm(vector)
    tokens = tuple(words)
    if not tokens and mode == "bm25":
        tokens = ("oil",)
    query = Query(tokens, None if mode == "bm25" else vector, mode, fusion, alpha)
    gate = Gate(lexical=0.2, dense=0.3, near_miss=0.1)
    allowed = rng.random(bm25.n_docs) < 0.6 if filtered else None
    win = Windows(bm25=windows[0], dense=windows[1])
    semantic_ok = rng.random(bm25.n_docs) < 0.7 if short else None  # some rows pass on their words only
    expected = _brute(bm25, vectors, query, gate, allowed,
                      dense_window=win.dense if fusion == "rrf" and mode == "hybrid" else 10**9,
                      semantic_ok=semantic_ok)
    ranker = Ranker(bm25, dense, query, gate, allowed, win, semantic_ok=semantic_ok)
    got = ranker.top(m)
    assert got.rows.tolist() == expected[: got.rows.size]
    assert got.rows.size >= min(m, len(expected))
    assert got.complete == (got.rows.size == len(expected)) or not got.complete
    if got.complete:
        assert got.rows.tolist() == expected
    again = ranker.top(m * 3)  # widening keeps the rows already placed where they are
    assert again.rows.tolist()[: got.rows.size] == got.rows.tolist()


def test_the_gate_drops_what_matches_nothing() -> None:
    bm25, dense, vectors = _collection(1)
    far = -vectors.mean(axis=0)
    far /= np.linalg.norm(far)
    ranker = Ranker(bm25, dense, Query(("unknownword",), far), Gate(lexical=0.2, dense=0.9, near_miss=0.5))
    strong, complete = ranker.strong()
    assert not strong.any() and complete
    assert ranker.top(10).rows.size == 0 and ranker.top(10).complete


def test_strong_is_a_lower_bound_while_the_dense_window_is_full() -> None:
    bm25, dense, vectors = _collection(2)
    vector = vectors[0]
    wide = Ranker(bm25, dense, Query((), vector, "dense"), Gate(lexical=0.2, dense=-1.0, near_miss=-1.0),
                  windows=Windows(dense=10))
    strong, complete = wide.strong()
    assert strong.sum() == 10 and not complete  # every row passes a gate of -1: the window cannot hold them
    assert wide.top(50).rows.size == 50  # the ranking still goes on past the first window


def test_lexical_share_counts_unknown_words_as_rare() -> None:
    bm25 = BM25Index.build([["oil", "price"], ["oil"], ["bank"]])
    known = lexical_share(bm25, ["oil"])
    with_unknown = lexical_share(bm25, ["oil", "zzz"])
    assert known[0] > 0 and known[2] == 0
    assert (with_unknown[:2] < known[:2] / 10).all()  # the unknown word weighs as the rarest known one
    assert lexical_share(bm25, ["what"]).max() == 0  # only question words: nothing to match


@pytest.mark.parametrize("m", [1, 3, 5, 9])
def test_top_by_is_exact_with_ties(m: int) -> None:
    rows = np.arange(9)
    key = np.array([3, 1, 3, 2, 3, 1, 0, 2, 3], dtype=float)
    expected = sorted(rows.tolist(), key=lambda r: (-key[r], r))[:m]
    assert top_by(rows, key, m).tolist() == expected


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 5000), m=st.integers(1, 60), share=st.floats(0.0, 1.0),
       levels=st.integers(1, 50))
def test_top_in_is_the_full_sort_of_the_mask(seed: int, n: int, m: int, share: float, levels: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, n).astype(float)  # few levels: many ties at the m-th score
    mask = rng.random(n) < share
    rows = np.flatnonzero(mask)
    expected = sorted(rows.tolist(), key=lambda r: (-scores[r], r))[:m]
    assert top_in(scores, mask, int(mask.sum()), m).tolist() == expected
