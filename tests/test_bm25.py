"""BM25Index against rank_bm25.BM25Okapi (the reference), plus top-k, filters, files and edge cases."""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from search.bm25 import BM25Index, BM25Params
from search.errors import IndexCorrupt
from search.text import tokenize


def okapi(docs: list[list[str]], params: BM25Params = BM25Params()) -> BM25Okapi:
    """The reference scorer with the project's default k1, b and epsilon (rank_bm25's own defaults differ)."""
    return BM25Okapi(docs, k1=params.k1, b=params.b, epsilon=params.epsilon)

ROOT = Path(__file__).resolve().parents[1]
REUTERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "reuters21578" / "reuters21578.jsonl.gz"
TOL = 1e-6


def max_diff(index: BM25Index, reference: BM25Okapi, query: list[str]) -> float:
    """Largest absolute score difference over all documents."""
    ours, theirs = index.scores(query), reference.get_scores(query)
    assert ours.dtype == np.float64 and ours.shape == theirs.shape
    return float(np.max(np.abs(ours - theirs))) if ours.size else 0.0


def expected_top(scores: np.ndarray, k: int) -> np.ndarray:
    """Reference top-k: positive scores, best first, ties to the lower doc id."""
    ids = np.flatnonzero(scores > 0)
    return ids[np.lexsort((ids, -scores[ids]))][:k]


@pytest.fixture(scope="module")
def reuters() -> list[list[str]]:
    """3,000 Reuters stories (title + body) through the real analyzer."""
    if not REUTERS.exists():
        pytest.skip(f"../shared/data/reuters21578 is missing: expected {REUTERS}; put the shared data folder beside the project")
    docs = []
    with gzip.open(REUTERS, "rt", encoding="utf-8") as handle:
        for line in handle:
            story = json.loads(line)
            docs.append(tokenize(f"{story.get('title') or ''}\n{story.get('body') or ''}"))
            if len(docs) == 3000:
                break
    return docs


def queries_for(docs: list[list[str]], n: int, seed: int) -> list[list[str]]:
    """Queries of words from the corpus: common (df > N/2) terms, repeats, unknown terms, rare terms."""
    rng = random.Random(seed)
    df: dict[str, int] = {}
    for doc in docs:
        for t in set(doc):
            df[t] = df.get(t, 0) + 1
    common = sorted(t for t, c in df.items() if c > len(docs) / 2)
    words = [t for doc in docs for t in doc]
    queries = []
    for i in range(n):
        q = rng.sample(words, rng.randint(1, 6))
        if i % 3 == 0 and common:
            q.append(rng.choice(common))
        if i % 4 == 0:
            q.append(q[0])  # a repeated term counts once per occurrence
        if i % 5 == 0:
            q.append("zzqx-not-a-term")
        queries.append(q)
    return queries + [[rng.choice(common)] for _ in range(2 if common else 0)]


def test_seed_paragraphs_match_rank_bm25() -> None:
    texts = [f.read_text(encoding="utf-8") for f in sorted((ROOT / "seeds").glob("*.txt"))]
    paragraphs = [p for text in texts for p in re.split(r"\n\s*\n", text)]
    docs = [tokenize(p) for p in paragraphs]
    assert len(docs) > 20
    reference, index = okapi(docs), BM25Index.build(docs)
    assert index.n_docs == len(docs) and index.vocabulary_size == len(reference.idf)
    for query in queries_for(docs, 30, seed=1) + [tokenize("What did Putin say about the Syrian people?")]:
        assert max_diff(index, reference, query) <= TOL, query


def test_reuters_matches_rank_bm25_including_epsilon_floor(reuters: list[list[str]]) -> None:
    reference, index = okapi(reuters), BM25Index.build(reuters)
    queries = queries_for(reuters, 50, seed=7)
    eps = reference.epsilon * reference.average_idf
    floored = {t for q in queries for t in q if t in reference.idf and reference.idf[t] == eps}
    assert floored, "no query term has an idf floored by epsilon: the floor is not exercised"
    assert any(q.count(t) > 1 for q in queries for t in q)
    assert any("zzqx-not-a-term" in q for q in queries)
    for query in queries:
        assert max_diff(index, reference, query) <= TOL, query
    assert eps > 0
    for term in sorted(floored):  # documents matching only a floored term are still hits, as in rank_bm25
        ids, scores = index.top_k([term], 5)
        assert len(ids) == 5 and np.all(scores > 0)
        np.testing.assert_allclose(scores, reference.get_scores([term])[ids], atol=TOL, rtol=0)


def test_top_k_follows_rank_bm25_ordering(reuters: list[list[str]]) -> None:
    reference, index = okapi(reuters), BM25Index.build(reuters)
    for query in queries_for(reuters, 50, seed=11):
        theirs = reference.get_scores(query)
        ids, scores = index.top_k(query, 10)
        want = expected_top(theirs, 10)
        assert len(ids) == len(want)
        np.testing.assert_allclose(scores, theirs[want], atol=TOL, rtol=0)  # the same score at every rank
        np.testing.assert_allclose(theirs[ids], scores, atol=TOL, rtol=0)
        assert np.all(scores > 0) and np.all(np.diff(scores) <= 0) and len(set(ids.tolist())) == len(ids)
        assert np.array_equal(ids, expected_top(index.scores(query), 10)), "ties must go to the lower doc id"


def test_top_k_ties_go_to_lower_doc_ids() -> None:
    docs = [["x", "y"]] * 5 + [["y"]] * 7  # df(x) = 5 < N/2, so idf(x) > 0
    index = BM25Index.build(docs)
    ids, scores = index.top_k(["x"], 4)
    assert ids.tolist() == [0, 1, 2, 3] and len(set(scores.tolist())) == 1
    ids, _ = index.top_k(["x"], 100)
    assert ids.tolist() == [0, 1, 2, 3, 4]


def test_allowed_mask_restricts_and_still_fills_k(reuters: list[list[str]]) -> None:
    index = BM25Index.build(reuters)
    allowed = np.zeros(index.n_docs, dtype=bool)
    allowed[1::3] = True
    for query in queries_for(reuters, 20, seed=3):
        scores = index.scores(query)
        masked = np.where(allowed, scores, 0.0)
        ids, got = index.top_k(query, 10, allowed=allowed)
        assert allowed[ids].all()
        assert len(ids) == min(10, int(np.count_nonzero(masked > 0)))
        assert np.array_equal(ids, expected_top(masked, 10)) and np.array_equal(got, scores[ids])
    with pytest.raises(ValueError):
        index.top_k(["oil"], 10, allowed=np.ones(index.n_docs + 1, dtype=bool))
    nothing = np.zeros(index.n_docs, dtype=bool)
    assert len(index.top_k(queries_for(reuters, 1, seed=3)[0], 10, allowed=nothing)[0]) == 0


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[BM25Index, Path, list[list[str]]]:
    """A small index written to disk, with the corpus it came from."""
    texts = ["Oil prices rose.", "", "Crude oil and gas", "Gas prices fell", "Café déjà vu, naïve coöperation"]
    docs = [tokenize(t) for t in texts]
    index = BM25Index.build(docs, BM25Params(k1=1.2, b=0.6, epsilon=0.3))
    index.save(tmp_path / "bm25")
    return index, tmp_path / "bm25", docs


@pytest.mark.parametrize("mmap", [True, False])
def test_save_load_round_trip(saved: tuple[BM25Index, Path, list[list[str]]], mmap: bool) -> None:
    index, directory, docs = saved
    loaded = BM25Index.load(directory, mmap=mmap)
    assert loaded.params == BM25Params(k1=1.2, b=0.6, epsilon=0.3) and loaded.stats() == index.stats()
    reference = BM25Okapi(docs, k1=1.2, b=0.6, epsilon=0.3)
    for query in [["oil"], ["gas", "price", "gas"], tokenize("naïve café"), ["nothing"], []]:
        assert np.array_equal(loaded.scores(query), index.scores(query))
        assert max_diff(loaded, reference, query) <= TOL
        assert all(np.array_equal(a, b) for a, b in zip(loaded.top_k(query, 3), index.top_k(query, 3)))


def test_files_are_plain_npy_and_json(saved: tuple[BM25Index, Path, list[list[str]]], tmp_path: Path) -> None:
    index, directory, _ = saved
    paths = index.save(tmp_path / "again")
    assert sorted(p.name for p in paths) == sorted(p.name for p in directory.iterdir())
    for path in paths:
        if path.suffix == ".npy":
            assert np.load(path, allow_pickle=False).dtype != object
        else:
            meta = json.loads(path.read_text(encoding="utf-8"))
            assert meta["format_version"] == 2 and meta["params"] == {"k1": 1.2, "b": 0.6, "epsilon": 0.3}


def _missing(d: Path) -> None:
    (d / "doc_ids.npy").unlink()


def _truncated(d: Path) -> None:
    (d / "sat.npy").write_bytes((d / "sat.npy").read_bytes()[:-3])


def _garbage_npy(d: Path) -> None:
    (d / "idf.npy").write_bytes(b"not an npy file")


def _pickled(d: Path) -> None:
    np.save(d / "doc_len.npy", np.array([object()] * 5, dtype=object), allow_pickle=True)


def _wrong_dtype(d: Path) -> None:
    np.save(d / "doc_ids.npy", np.load(d / "doc_ids.npy").astype(np.float64))


def _wrong_length(d: Path) -> None:
    np.save(d / "doc_len.npy", np.load(d / "doc_len.npy")[:-1])


def _bad_ptr(d: Path) -> None:
    np.save(d / "term_ptr.npy", np.load(d / "term_ptr.npy")[::-1].copy())


def _doc_id_out_of_range(d: Path) -> None:
    ids = np.load(d / "doc_ids.npy")
    ids[-1] = 10**6
    np.save(d / "doc_ids.npy", ids)


def _bad_json(d: Path) -> None:
    (d / "params.json").write_text("{not json", encoding="utf-8")


def _no_json(d: Path) -> None:
    (d / "params.json").unlink()


def _edit_meta(**changes: object) -> object:
    def edit(d: Path) -> None:
        meta = json.loads((d / "params.json").read_text(encoding="utf-8"))
        meta.update(changes)
        (d / "params.json").write_text(json.dumps(meta), encoding="utf-8")

    return edit


@pytest.mark.parametrize(
    "damage",
    [_missing, _truncated, _garbage_npy, _pickled, _wrong_dtype, _wrong_length, _bad_ptr, _bad_json, _no_json,
     _edit_meta(format_version=1), _edit_meta(format="other"), _edit_meta(params={"k1": 1.2, "c": 1.0}),
     _edit_meta(vocabulary=999)],
)
@pytest.mark.parametrize("mmap", [True, False])
def test_damaged_index_raises_index_corrupt(saved: tuple[BM25Index, Path, list[list[str]]], damage, mmap: bool) -> None:
    _, directory, _ = saved
    damage(directory)
    with pytest.raises(IndexCorrupt):
        BM25Index.load(directory, mmap=mmap)


def test_out_of_range_doc_id_is_caught_by_a_full_load(saved: tuple[BM25Index, Path, list[list[str]]]) -> None:
    _, directory, _ = saved
    _doc_id_out_of_range(directory)
    with pytest.raises(IndexCorrupt):
        BM25Index.load(directory, mmap=False)


@pytest.mark.parametrize("params", [dict(k1=0.0), dict(k1=-1.0), dict(b=1.5), dict(b=-0.1), dict(epsilon=-1.0)])
def test_nonsense_params_are_refused(params: dict) -> None:
    with pytest.raises(ValueError):
        BM25Params(**params)


def test_missing_directory_raises_index_corrupt(tmp_path: Path) -> None:
    with pytest.raises(IndexCorrupt):
        BM25Index.load(tmp_path / "nowhere")


def test_empty_corpus_is_an_empty_index(tmp_path: Path) -> None:
    index = BM25Index.build(iter([]))
    assert index.n_docs == 0 and index.vocabulary_size == 0 and index.stats()["avgdl"] == 0.0
    assert index.scores(["oil"]).shape == (0,)
    assert all(len(a) == 0 for a in index.top_k(["oil"], 10))
    index.save(tmp_path / "e")
    assert BM25Index.load(tmp_path / "e").top_k(["oil"], 10)[0].size == 0


def test_corpus_of_empty_documents_has_no_hits() -> None:
    index = BM25Index.build([[], [], []])
    assert index.n_docs == 3 and index.vocabulary_size == 0
    assert np.array_equal(index.scores(["a"]), np.zeros(3)) and index.top_k(["a"], 5)[0].size == 0


def test_empty_query_and_zero_token_document() -> None:
    docs = [["a", "b"], [], ["b", "c", "c"], ["a"]]
    index, reference = BM25Index.build(docs), okapi(docs)
    assert index.top_k([], 10)[0].size == 0 and not index.scores([]).any()
    assert index.top_k(["unknown"], 10)[0].size == 0 and index.top_k(["a"], 0)[0].size == 0
    for query in [["a"], ["b", "c"], ["c", "c", "a"], ["a", "b", "c"]]:
        assert max_diff(index, reference, query) <= TOL
        assert 1 not in index.top_k(query, 10)[0].tolist()


def test_a_term_frequency_beyond_16_bits() -> None:
    docs = [["w"] * 70_000 + ["x"], ["x", "y"], ["y"]]
    index, reference = BM25Index.build(docs), okapi(docs)
    for query in [["w"], ["x", "y"], ["w", "x"]]:
        assert max_diff(index, reference, query) <= TOL


TOKENS = st.sampled_from(["a", "b", "c", "d", "e"])


@settings(max_examples=300, deadline=None)
@given(
    docs=st.lists(st.lists(TOKENS, max_size=10), min_size=1, max_size=25).filter(lambda ds: any(ds)),
    query=st.lists(st.sampled_from(["a", "b", "c", "d", "e", "zz"]), max_size=6),
    k1=st.sampled_from([1.5, 0.5, 1.2, 2.0]),
    b=st.sampled_from([0.75, 0.0, 0.3, 0.9]),
    epsilon=st.sampled_from([0.25, 0.0, 0.5]),
)
def test_property_scores_match_rank_bm25(
    docs: list[list[str]], query: list[str], k1: float, b: float, epsilon: float
) -> None:
    index = BM25Index.build(iter(docs), BM25Params(k1=k1, b=b, epsilon=epsilon))
    assert max_diff(index, BM25Okapi(docs, k1=k1, b=b, epsilon=epsilon), query) <= TOL
    ids, scores = index.top_k(query, 3)
    assert np.array_equal(ids, expected_top(index.scores(query), 3)) and np.all(scores > 0)


def test_b_of_one_with_an_empty_document_gives_zero_where_rank_bm25_gives_nan() -> None:
    docs = [["a", "b"], [], ["b"]]
    ours = BM25Index.build(docs, BM25Params(b=1.0)).scores(["a"])
    with np.errstate(invalid="ignore", divide="ignore"):
        theirs = okapi(docs, BM25Params(b=1.0)).get_scores(["a"])
    assert np.isnan(theirs[1]) and ours[1] == 0.0  # 0 / 0 in rank_bm25 for a token-less document
    assert np.max(np.abs(np.delete(ours, 1) - np.delete(theirs, 1))) <= TOL
