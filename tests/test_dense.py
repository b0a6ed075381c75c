"""FAISS index: exact inner product, saved and checked against the manifest."""

from __future__ import annotations

import numpy as np
import pytest

from search.dense import build_dense, load_dense, save_dense, search_dense
from search.errors import IndexCorrupt


def test_flat_index_finds_exact_neighbours(tmp_path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    save_dense(build_dense(vectors), tmp_path / "d.faiss")
    index = load_dense(tmp_path / "d.faiss", 16, 200)
    rows, scores = search_dense(index, vectors[17], 5)
    exact = np.argsort(-(vectors @ vectors[17]))[:5]
    assert rows.tolist() == exact.tolist() and rows[0] == 17
    assert scores[0] == pytest.approx(1.0, abs=1e-5)
    assert len(search_dense(index, vectors[0], 500)[0]) == 200


def test_mismatch_and_garbage_are_corrupt(tmp_path) -> None:
    save_dense(build_dense(np.eye(4, dtype=np.float32)), tmp_path / "d.faiss")
    with pytest.raises(IndexCorrupt, match="expected"):
        load_dense(tmp_path / "d.faiss", 4, 5)
    (tmp_path / "bad.faiss").write_bytes(b"not faiss")
    with pytest.raises(IndexCorrupt):
        load_dense(tmp_path / "bad.faiss", 4, 4)
    with pytest.raises(IndexCorrupt):
        load_dense(tmp_path / "none.faiss", 4, 4)
