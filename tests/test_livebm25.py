"""LiveBM25 (segments with deleted rows) against rank_bm25.BM25Okapi over the live passages, plus merge and tf files."""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from search.bm25 import BM25Index, BM25Params
from search.errors import IndexCorrupt
from search.livebm25 import LiveBM25, live_df_histogram, merge, segment_df
from search.text import tokenize

TOL = 1e-9
REUTERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "reuters21578" / "reuters21578.jsonl.gz"
WORDS = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]  # few words: common terms, negative idf, the floor


class Index:
    """The model: documents per segment and live masks, turned into segments and a LiveBM25."""

    def __init__(self, docs: list[list[list[str]]], masks: list[np.ndarray], params: BM25Params) -> None:
        self.docs, self.masks, self.params = docs, masks, params
        self.segments = [BM25Index.build(d, params) for d in docs]

    def merge(self, i: int, j: int) -> None:
        """Segments i..j-1 become one, of their live rows (the model: the live documents in order)."""
        merged = merge(self.segments[i:j], self.masks[i:j], self.params)
        live_docs = [doc for s in range(i, j) for doc, ok in zip(self.docs[s], self.masks[s].tolist()) if ok]
        self.segments[i:j] = [merged]
        self.docs[i:j] = [live_docs]
        self.masks[i:j] = [np.ones(len(live_docs), dtype=bool)]

    def live(self, histogram: bool = False) -> LiveBM25:
        masks = [None if m.all() else m for m in self.masks]  # None and an all-True mask both mean all live
        hist = live_df_histogram(self.segments, masks) if histogram else None
        return LiveBM25(self.segments, masks, self.params, df_histogram=hist)

    @property
    def live_docs(self) -> list[list[str]]:
        return [doc for d, m in zip(self.docs, self.masks) for doc, ok in zip(d, m.tolist()) if ok]

    @property
    def live_rows(self) -> np.ndarray:
        return np.flatnonzero(np.concatenate(self.masks)) if self.masks else np.zeros(0, dtype=np.int64)


def reference(docs: list[list[str]], params: BM25Params) -> BM25Okapi | None:
    """rank_bm25 over the live docs; None where it cannot be built (no live passage, or no live term)."""
    if not any(docs):
        return None
    return BM25Okapi(docs, k1=params.k1, b=params.b, epsilon=params.epsilon)


def expected_top(scores: np.ndarray, k: int) -> np.ndarray:
    """Positive scores, best first, ties to the earlier document (rank_bm25's corpus position)."""
    ids = np.flatnonzero(scores > 0)
    return ids[np.lexsort((ids, -scores[ids]))][:k]


def assert_same_top(rows: np.ndarray, values: np.ndarray, want: np.ndarray, ref_global: np.ndarray) -> None:
    """Same top-k as the reference; an order may differ only between scores equal to 1e-12 (the fsum'd floor)."""
    if np.array_equal(rows, want):
        return
    assert rows.size == want.size, (rows, want)
    np.testing.assert_allclose(ref_global[rows], ref_global[want], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(values, ref_global[want], rtol=1e-12, atol=1e-12)


def check(index: Index, queries: list[list[str]], allowed: np.ndarray | None = None, histogram: bool = False) -> None:
    live = index.live(histogram)
    docs, rows = index.live_docs, index.live_rows
    ref = reference(docs, index.params)
    n = sum(len(d) for d in index.docs)
    assert live.n_docs == n and live.n_live == len(docs) and live.doc_lengths.tolist() == [
        len(doc) for d in index.docs for doc in d
    ]
    dead = np.ones(n, dtype=bool)
    dead[rows] = False
    words = sorted({t for d in index.docs for doc in d for t in doc} | {"zz-unknown"})
    words = words if len(words) <= 80 else [*words[:: len(words) // 60], "zz-unknown", "said"]
    if ref is None:
        assert live.vocabulary_size == 0 and live.max_idf == 0.0
        for q in queries:
            assert not live.scores(q).any() and live.search(q, 10)[0].size == 0
        for t in words:
            assert not live.knows(t) and live.idf(t) == 0.0 and live.postings(t).size == 0
        return
    assert live.avgdl == ref.avgdl and live.vocabulary_size == len(ref.idf)
    assert live.max_idf == pytest.approx(max(ref.idf.values()), abs=1e-12)
    for t in words:
        assert live.knows(t) == (t in ref.idf)
        assert live.idf(t) == pytest.approx(ref.idf.get(t, 0.0), abs=1e-12)
        assert live.postings(t).tolist() == [int(r) for r, doc in zip(rows, docs) if t in doc]
    for q in queries:
        got, want = live.scores(q), ref.get_scores(q)
        assert got.dtype == np.float64 and got.shape == (n,)
        assert not got[dead].any()
        np.testing.assert_allclose(got[rows], want, rtol=0, atol=TOL)
        ref_global = np.zeros(n)
        ref_global[rows] = want
        top, values = live.top_k(q, 10)
        assert_same_top(top, values, rows[expected_top(want, 10)], ref_global)
        if allowed is not None:
            top, values, matched = live.search(q, 3, allowed)
            masked = np.where(allowed, ref_global, 0.0)
            assert_same_top(top, values, expected_top(masked, 3), ref_global)
            assert matched.tolist() == ((masked > 0) & allowed).tolist()


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Index, list[list[str]], np.ndarray]:
    params = BM25Params(
        k1=draw(st.floats(0.1, 3.0)), b=draw(st.floats(0.0, 0.99)), epsilon=draw(st.sampled_from([0.0, 0.25, 1.0, 3.0]))
    )
    vocab = WORDS[: draw(st.integers(1, len(WORDS)))]
    doc = st.lists(st.sampled_from(vocab), min_size=0, max_size=8)
    split = draw(st.lists(st.lists(doc, min_size=0, max_size=8), min_size=1, max_size=5))  # empty segments too
    if not any(split):
        split[0].append(draw(doc))

    def deletes(sizes: list[int]) -> list[np.ndarray]:
        mode = draw(st.sampled_from(["random", "random", "random", "none", "all", "segment"]))
        masks = [np.ones(s, dtype=bool) for s in sizes]
        if mode == "all":
            masks = [np.zeros(s, dtype=bool) for s in sizes]
        elif mode in ("random", "segment"):
            for m in masks:  # drawn as "deleted" flags: hypothesis leans to False, so most rows stay live
                m[:] = ~np.array(draw(st.lists(st.booleans(), min_size=m.size, max_size=m.size)), dtype=bool)
            if mode == "segment":
                masks[draw(st.integers(0, len(masks) - 1))][:] = False
        return masks

    index = Index(split, deletes([len(d) for d in split]), params)
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        if len(index.segments) < 2:
            break
        i = draw(st.integers(0, len(index.segments) - 2))
        index.merge(i, draw(st.integers(i + 2, min(i + 3, len(index.segments)))))
        if draw(st.booleans()):  # more deletes after the merge
            old = index.masks
            index.masks = [o & m for o, m in zip(old, deletes([m.size for m in old]))]
    live_words = {t for doc in index.live_docs for t in doc}
    dead_only = sorted({t for d in index.docs for doc in d for t in doc} - live_words)
    term = st.sampled_from([*vocab, "zz-unknown", *dead_only])
    queries = draw(st.lists(st.lists(term, min_size=0, max_size=5), min_size=1, max_size=4))
    queries.append([*queries[0], *queries[0]])  # repeated terms count once per occurrence
    if dead_only:
        queries.append([dead_only[0]])
    n = sum(len(d) for d in index.docs)
    allowed = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    return index, queries, allowed


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.booleans())
def test_live_bm25_equals_rank_bm25_over_the_live_passages(scenario, histogram: bool) -> None:
    index, queries, allowed = scenario
    check(index, queries, allowed, histogram)


def random_docs(n: int, seed: int, vocab: int = 300) -> list[list[str]]:
    """Zipf-ish documents: a few words in most documents (negative idf: the floor), a long tail."""
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(vocab)]
    words = [f"w{i}" for i in range(vocab)]
    return [rng.choices(words, weights, k=rng.randint(0, 40)) for _ in range(n)]


def test_larger_corpus_with_deletes_and_merges() -> None:
    """600 documents, 5 segments, 15 % deleted, two merges, deletes after them: equal to rank_bm25 throughout."""
    params = BM25Params()
    docs = random_docs(600, seed=3)
    rng = np.random.default_rng(3)
    split = [docs[i : i + 120] for i in range(0, 600, 120)]
    index = Index(split, [rng.random(len(d)) > 0.15 for d in split], params)
    queries = [["w0"], ["w1", "w5", "w5"], ["w0", "w1", "w2", "w250", "nope"], ["w3", "w40"], ["w299"]]
    check(index, queries, histogram=True)
    index.merge(1, 3)
    check(index, queries)
    index.masks = [m & (rng.random(m.size) > 0.1) for m in index.masks]
    index.merge(0, 2)
    check(index, queries, allowed=rng.random(sum(m.size for m in index.masks)) > 0.5)


def test_reuters_stories_through_the_analyzer() -> None:
    """1,500 real stories, 4 segments, deletes and a merge: news terms like "said" sit on the epsilon floor."""
    if not REUTERS.exists():
        pytest.skip(f"../shared/data/reuters21578 is missing: expected {REUTERS}")
    docs = []
    with gzip.open(REUTERS, "rt", encoding="utf-8") as handle:
        for line in handle:
            story = json.loads(line)
            docs.append(tokenize(f"{story.get('title') or ''}\n{story.get('body') or ''}"))
            if len(docs) == 1500:
                break
    rng = np.random.default_rng(7)
    split = [docs[:500], docs[500:900], docs[900:1000], docs[1000:]]
    index = Index(split, [rng.random(len(d)) > 0.1 for d in split], BM25Params())
    queries = [tokenize(q) for q in ("oil prices said", "the bank said it would cut rates", "coffee quota talks",
                                     "wheat exports to the soviet union", "said said reuters")]
    live = index.live()
    assert live.idf("said") == live._floor > 0  # on the floor
    check(index, queries)
    index.merge(1, 3)
    check(index, queries, histogram=True)


def test_one_live_segment_equals_its_bm25_index_exactly() -> None:
    docs = random_docs(400, seed=1)
    params = BM25Params(k1=1.2, b=0.5, epsilon=0.25)
    seg = BM25Index.build(docs, params)
    for mask in (None, np.ones(seg.n_docs, dtype=bool)):
        live = LiveBM25([seg], [mask], params)
        assert live.n_docs == seg.n_docs and live.avgdl == seg.avgdl and live.vocabulary_size == seg.vocabulary_size
        assert live.max_idf == seg.max_idf
        assert np.array_equal(live.doc_lengths, seg.doc_lengths)
        for q in (["w0"], ["w0", "w1", "w7", "w7"], ["w100", "unknown"], ["w299", "w2"], []):
            assert np.array_equal(live.scores(q), seg.scores(q))  # bit for bit
            for a, b in zip(live.search(q, 10), seg.search(q, 10)):
                assert np.array_equal(a, b)
        for t in ("w0", "w1", "w150", "unknown"):
            assert live.idf(t) == seg.idf(t) and live.knows(t) == seg.knows(t)
            assert np.array_equal(live.postings(t), seg.postings(t))


def test_cached_contributions_score_as_computed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frequent terms' contributions are kept per snapshot: a repeated question, a cache that evicts, and a term
    larger than the whole cache all score bit for bit as an uncached index, and as rank_bm25 within TOL."""
    params = BM25Params()
    docs = random_docs(500, seed=11)
    rng = np.random.default_rng(11)
    split = [docs[:200], docs[200:350], docs[350:]]
    index = Index(split, [rng.random(len(d)) > 0.2 for d in split], params)
    masks = [None if m.all() else m for m in index.masks]
    queries = [["w0", "w1"], ["w2", "w0", "w0"], ["w3"], ["w1", "w40", "w250"], ["w0", "w1"], ["w2", "w0", "w0"]]
    ref = reference(index.live_docs, params)
    rows = index.live_rows
    uncached = LiveBM25(index.segments, masks, params)
    monkeypatch.setattr("search.livebm25.CACHE_FROM", 1)  # every term cached
    for budget in (10_000, 300, 1):  # everything fits; some terms evicted; every term over the budget
        cached = LiveBM25(index.segments, masks, params, cache_postings=budget)
        for q in queries + queries[::-1]:
            got = cached.scores(q)
            assert np.array_equal(got, uncached.scores(q))
            assert np.abs(got[rows] - ref.get_scores(q)).max() <= TOL
            assert not got[np.setdiff1d(np.arange(got.size), rows)].any()
        assert cached._contrib.currsize <= budget


def test_merge_without_deletes_equals_a_build_array_for_array() -> None:
    """Term ids in first-seen order, rows in order: the merged segment is the one a build would have made."""
    docs = random_docs(300, seed=2)
    params = BM25Params()
    parts = [docs[:50], docs[50:51], [], docs[51:200], docs[200:]]
    merged = merge([BM25Index.build(p, params) for p in parts], [None] * len(parts))
    built = BM25Index.build(docs, params)
    assert merged.avgdl == built.avgdl and merged.terms() == built.terms()
    for name, array in built._a.items():
        assert np.array_equal(merged._a[name], array), name
        assert merged._a[name].dtype == array.dtype, name


def test_merge_with_deletes_equals_a_build_of_the_live_documents() -> None:
    docs = random_docs(300, seed=4)
    params = BM25Params()
    parts = [docs[:100], docs[100:200], docs[200:]]
    rng = np.random.default_rng(4)
    masks = [rng.random(100) > 0.3 for _ in parts]
    masks[1][:] = False  # a segment wholly deleted
    merged = merge([BM25Index.build(p, params) for p in parts], masks)
    live_docs = [d for p, m in zip(parts, masks) for d, ok in zip(p, m.tolist()) if ok]
    built = BM25Index.build(live_docs, params)
    assert merged.n_docs == len(live_docs) and merged.avgdl == built.avgdl
    assert sorted(merged.terms()) == sorted(built.terms())
    for q in (["w0"], ["w1", "w2", "w2"], ["w77", "w3"]):
        np.testing.assert_allclose(merged.scores(q), built.scores(q), rtol=0, atol=1e-12)
    for t in built.terms()[:50]:
        assert np.array_equal(merged.postings(t), built.postings(t))
    assert merge([BM25Index.build(p, params) for p in parts], [np.zeros(len(p), dtype=bool) for p in parts]).n_docs == 0


def test_histogram_counts_terms_by_live_df() -> None:
    segs = [BM25Index.build([["a", "b"], ["a"], ["c"]]), BM25Index.build([["a", "c"], ["d"]])]
    masks = [np.array([True, False, True]), np.array([True, False])]
    # live docs: [a b], [c], [a c] -> a: 2, b: 1, c: 2 (d only in a deleted doc)
    assert live_df_histogram(segs, masks) == {1: 1, 2: 2}
    assert live_df_histogram(segs, [None, None]) == {1: 2, 2: 1, 3: 1}
    assert live_df_histogram(segs, [np.zeros(3, dtype=bool), np.zeros(2, dtype=bool)]) == {}
    with pytest.raises(ValueError):
        LiveBM25(segs, [None], BM25Params())
    with pytest.raises(ValueError):
        LiveBM25(segs, [np.ones(2, dtype=bool), None], BM25Params())


def test_tf_round_trips_through_files(tmp_path: Path) -> None:
    docs = random_docs(200, seed=5)
    docs[0] = ["x"] * 70_000  # beyond uint16
    index = BM25Index.build(docs)
    index.save(tmp_path / "bm25")
    counts = [Counter(d) for d in docs]
    for mmap in (True, False):
        loaded = BM25Index.load(tmp_path / "bm25", mmap=mmap)
        assert loaded.tf.dtype == np.uint32 and np.array_equal(loaded.tf, index.tf)
        t = loaded.term_id("x")
        a, b = loaded.term_range(t)
        assert loaded.doc_ids[a:b].tolist() == [0] and loaded.tf[a:b].tolist() == [70_000]
        assert np.array_equal(loaded.doc_frequencies, index.doc_frequencies) and loaded.terms() == index.terms()
        for term in ("w0", "w17"):
            a, b = loaded.term_range(loaded.term_id(term))
            assert loaded.tf[a:b].tolist() == [counts[r][term] for r in loaded.doc_ids[a:b].tolist()]
        mask = np.arange(200) % 3 > 0
        fresh, reread = LiveBM25([index], [mask]), LiveBM25([loaded], [mask])
        assert np.array_equal(fresh.scores(["w0", "w5", "x"]), reread.scores(["w0", "w5", "x"]))
    np.save(tmp_path / "bm25" / "tf.npy", index.tf[:-1])
    with pytest.raises(IndexCorrupt, match="tf.npy"):
        BM25Index.load(tmp_path / "bm25")
    np.save(tmp_path / "bm25" / "tf.npy", index.tf.astype(np.uint16))
    with pytest.raises(IndexCorrupt, match="tf.npy"):
        BM25Index.load(tmp_path / "bm25")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 3000), share=st.floats(0.0, 0.2))
def test_segment_df_counts_live_postings_by_search_or_by_mask(seed: int, n: int, share: float) -> None:
    rng = np.random.default_rng(seed)
    words = np.array(["common", "mid", "rare"])
    docs = [[w for w, p in zip(words, (0.95, 0.3, 0.01)) if rng.random() < p] or ["mid"] for _ in range(n)]
    seg = BM25Index.build(docs)
    live = rng.random(n) >= share
    dead = np.flatnonzero(~live)
    for term in words:
        t = seg.term_id(str(term))
        if t is None:
            continue
        a, b = seg.term_range(t)
        expected = sum(1 for d, ok in zip(docs, live.tolist()) if ok and term in d)
        assert segment_df(seg, a, b, live, dead) == expected  # few deletes: binary search
        assert segment_df(seg, a, b, live, None) == expected  # the mask
        assert segment_df(seg, a, b, None, None) == b - a
