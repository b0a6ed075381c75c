"""A snapshot's parts over several segments behave as one index: dense search, sentence rows, name codes."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from search.dense import ConcatDense, search_dense
from search.segments import ConcatRows, _remap, _union


def _unit(rng: np.random.Generator, n: int, d: int = 16) -> np.ndarray:
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("seed", range(5))
def test_segments_searched_together_equal_one_flat_index(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 40, size=rng.integers(1, 5)).tolist()
    parts, all_vectors = [], []
    for n in sizes:
        vectors = _unit(rng, n)
        index = faiss.IndexFlatIP(16)
        index.add(vectors)
        parts.append(index)
        all_vectors.append(vectors)
    one = faiss.IndexFlatIP(16)
    one.add(np.concatenate(all_vectors) if sum(sizes) else np.zeros((0, 16), dtype=np.float32))
    together = ConcatDense(parts)
    assert together.ntotal == one.ntotal == sum(sizes)
    query = _unit(rng, 1)[0]
    allowed = rng.random(sum(sizes)) < 0.7
    for mask in (None, allowed):
        for k in (1, 5, 200):
            got = search_dense(together, query, k, mask)
            want = search_dense(one, query, k, mask)
            assert got[0].tolist() == want[0].tolist()
            np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    if sum(sizes):
        rows = rng.integers(0, sum(sizes), size=10)
        np.testing.assert_array_equal(together.reconstruct_batch(rows), np.concatenate(all_vectors)[rows])


def test_sentence_rows_of_several_segments_read_as_one_matrix() -> None:
    a, b = np.arange(12, dtype=np.float16).reshape(4, 3), np.arange(100, 106, dtype=np.float16).reshape(2, 3)
    rows = ConcatRows([a, np.zeros((0, 3), dtype=np.float16), b])
    both = np.concatenate([a, b])
    assert rows.shape == (6, 3) and len(rows) == 6
    np.testing.assert_array_equal(rows[np.array([5, 0, 4, 3])], both[[5, 0, 4, 3]])
    np.testing.assert_array_equal(rows.rows(2, 5), both[2:5])
    np.testing.assert_array_equal(np.asarray(rows), both)


def test_names_of_segments_share_one_code_each() -> None:
    names, maps = _union([["Putin", "Assad"], [], ["Assad", "Reagan"]])
    assert names == ["Putin", "Assad", "Reagan"]
    assert _remap(np.array([1, -1, 0]), maps[2]).tolist() == [2, -1, 1]
    assert _remap(np.array([0, 1]), maps[0]).tolist() == [0, 1]
