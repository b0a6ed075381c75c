"""Embedding cache: vectors survive, identical texts embed once, other models never share vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.embedcache import EmbeddingCache, embed_all


class CountingEmbedder:
    """A deterministic stand-in that counts what the model was asked to embed."""

    name = "counting"
    dimension = 4
    max_tokens = 100

    def __init__(self, fingerprint: str = "f1") -> None:
        self.fingerprint = fingerprint
        self.seen: list[str] = []

    def encode(self, texts, batch_size=32, progress=False):
        self.seen.extend(texts)
        out = np.array([[len(t), t.count("a"), 1.0, 0.5] for t in texts], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]

    def describe(self):
        return {"name": self.name}


def test_cache_survives_and_dedupes(tmp_path: Path) -> None:
    texts = ["alpha", "beta", "alpha", "gamma"]
    model = CountingEmbedder()
    cache = EmbeddingCache(tmp_path / "c.sqlite", model.dimension)
    first, stats = embed_all(texts, model, cache, progress=False)
    cache.close()
    assert model.seen == ["alpha", "beta", "gamma"]
    assert (stats.cached, stats.embedded, stats.duplicates) == (0, 3, 1)
    assert np.array_equal(first[0], first[2])
    cache = EmbeddingCache(tmp_path / "c.sqlite", model.dimension)
    again, stats = embed_all(texts + ["delta"], model, cache, progress=False)
    assert model.seen[3:] == ["delta"]
    assert (stats.cached, stats.embedded) == (3, 1)
    assert np.array_equal(again[:4], first)


def test_another_model_does_not_reuse_vectors(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite", 4)
    embed_all(["alpha"], CountingEmbedder("f1"), cache, progress=False)
    other = CountingEmbedder("f2")
    _, stats = embed_all(["alpha"], other, cache, progress=False)
    assert other.seen == ["alpha"] and stats.embedded == 1


def test_wrong_sized_row_counts_as_missing(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "c.sqlite", 4)
    cache.put_many([b"k"], np.ones((1, 3), dtype=np.float32))
    assert cache.get_many([b"k"]) == {}
