"""FAISS index: exact inner product while small, HNSW beyond; saved and checked against the manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from search.dense import DenseConfig, build_dense, filtered_ef, load_dense, save_dense, search_dense
from search.errors import IndexCorrupt


def unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_flat_index_finds_exact_neighbours(tmp_path) -> None:
    vectors = unit_vectors(200, 16)
    index, info = build_dense(vectors)
    assert info["type"] == "flat-ip" and info["vectors"] == 200
    save_dense(index, tmp_path / "d.faiss")
    index = load_dense(tmp_path / "d.faiss", 16, 200)
    rows, scores = search_dense(index, vectors[17], 5)
    exact = np.argsort(-(vectors @ vectors[17]))[:5]
    assert rows.tolist() == exact.tolist() and rows[0] == 17
    assert scores[0] == pytest.approx(1.0, abs=1e-5)
    assert len(search_dense(index, vectors[0], 500)[0]) == 200


def test_filtered_search_is_exact_within_the_mask() -> None:
    vectors = unit_vectors(300, 16, seed=1)
    allowed = np.zeros(300, dtype=bool)
    allowed[::7] = True
    for config in (DenseConfig(kind="flat"), DenseConfig(kind="hnsw", hnsw_m=8)):
        index, _ = build_dense(vectors, config)
        rows, _ = search_dense(index, vectors[5], 10, allowed)
        candidates = np.flatnonzero(allowed)
        exact = candidates[np.argsort(-(vectors[candidates] @ vectors[5]))[:10]]
        assert rows.tolist() == exact.tolist()


def test_kind_is_chosen_by_size() -> None:
    assert DenseConfig().resolve(20_000) == "flat"
    assert DenseConfig().resolve(20_001) == "hnsw"
    assert DenseConfig(kind="hnsw").resolve(10) == "hnsw"
    with pytest.raises(ValueError):
        DenseConfig(kind="ivf").resolve(10)


@pytest.mark.parametrize("storage", ["fp16", "fp32"])
def test_hnsw_recall_against_exact_search(tmp_path, storage: str) -> None:
    vectors = unit_vectors(5000, 32, seed=2)
    config = DenseConfig(kind="hnsw", hnsw_m=16, ef_construction=100, ef_search=64, hnsw_storage=storage)
    index, info = build_dense(vectors, config)
    assert info["type"] == "hnsw" and info["m"] == 16 and info["ef_search"] == 64 and info["storage"] == storage
    save_dense(index, tmp_path / "h.faiss")
    index = load_dense(tmp_path / "h.faiss", 32, 5000)
    queries = unit_vectors(50, 32, seed=3)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    found = [set(search_dense(index, q, 10, ef_search=64)[0].tolist()) for q in queries]
    recall = np.mean([len(f & set(e.tolist())) / 10 for f, e in zip(found, exact)])
    assert recall >= 0.95
    stored = index.reconstruct_batch(np.arange(5000))  # the exact path for narrow filters reads these back
    assert np.abs(stored - vectors).max() <= (1e-3 if storage == "fp16" else 0.0)


def test_loaded_vectors_stay_in_the_file_not_the_heap(tmp_path) -> None:
    vectors = unit_vectors(30_000, 384, seed=4)  # 46 MB of fp32 vectors
    save_dense(build_dense(vectors, DenseConfig(kind="flat"))[0], tmp_path / "f.faiss")

    def anon_kib() -> int:
        status = Path("/proc/self/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("RssAnon:")))

    before = anon_kib()
    index = load_dense(tmp_path / "f.faiss", 384, 30_000)
    assert anon_kib() - before < 20_000  # memory-mapped: well under the 46 MB a read would copy
    assert search_dense(index, vectors[7], 1)[0].tolist() == [7]


def test_mismatch_and_garbage_are_corrupt(tmp_path) -> None:
    save_dense(build_dense(np.eye(4, dtype=np.float32))[0], tmp_path / "d.faiss")
    with pytest.raises(IndexCorrupt, match="expected"):
        load_dense(tmp_path / "d.faiss", 4, 5)
    (tmp_path / "bad.faiss").write_bytes(b"not faiss")
    with pytest.raises(IndexCorrupt):
        load_dense(tmp_path / "bad.faiss", 4, 4)
    with pytest.raises(IndexCorrupt):
        load_dense(tmp_path / "none.faiss", 4, 4)


def test_recall_with_30_percent_of_an_hnsw_segment_deleted(tmp_path) -> None:
    """Deletes are a mask over the graph (HNSW cannot remove): the live neighbours are still found."""
    rng = np.random.default_rng(5)
    centres = unit_vectors(50, 32, seed=6)  # clustered, as news is: near duplicates make a graph's life hard
    vectors = centres[rng.integers(0, 50, 30_000)] + rng.normal(scale=0.35, size=(30_000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index, _ = build_dense(vectors, DenseConfig(kind="hnsw", hnsw_m=32, ef_construction=100))
    save_dense(index, tmp_path / "h.faiss")
    index = load_dense(tmp_path / "h.faiss", 32, 30_000)
    live = rng.random(30_000) >= 0.30
    queries = unit_vectors(100, 32, seed=7)
    recalls = []
    for q in queries:
        scores = vectors @ q
        scores[~live] = -np.inf
        exact = set(np.argsort(-scores)[:10].tolist())
        rows, _ = search_dense(index, q, 10, live, ef_search=DenseConfig().ef_search)
        assert live[rows].all()  # a deleted row is never returned
        recalls.append(len(exact & set(rows.tolist())) / 10)
    assert np.mean(recalls) >= 0.95, np.mean(recalls)


def test_filtered_walks_widen_with_the_share_of_rows_they_skip() -> None:
    """A few deleted rows cost a few percent of efSearch, 30 % deleted about half again, a narrow filter double."""
    assert 1024 < filtered_ef(1024, 0.999) < 1024 * 1.1
    assert filtered_ef(1024, 0.7) == pytest.approx(1024 / 0.7 * 1.05, abs=17)
    assert filtered_ef(1024, 0.1) == filtered_ef(1024, 0.5) == 2048
    assert all(filtered_ef(1000, a) >= filtered_ef(1000, b) for a, b in [(0.6, 0.9), (0.9, 1.0)])
