"""Embedding cache beside the index: a text is embedded once per model, across rebuilds."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from search.embed import Embedder, text_key


@dataclass(frozen=True, slots=True)
class EmbedStats:
    """How many vectors came from the cache, from the model, and from identical texts."""

    cached: int
    embedded: int
    duplicates: int


class EmbeddingCache:
    """SQLite table of float32 vectors keyed by (model fingerprint, text) hash; commits per batch."""

    def __init__(self, path: Path, dimension: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.dimension = dimension
        self._con = sqlite3.connect(path)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL) WITHOUT ROWID")

    def close(self) -> None:
        self._con.close()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """Vectors found for these keys; a row of the wrong size is treated as missing."""
        found: dict[bytes, np.ndarray] = {}
        size = self.dimension * 4
        for i in range(0, len(keys), 500):
            part = list(keys[i : i + 500])
            marks = ",".join("?" * len(part))
            for key, blob in self._con.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", part):
                if len(blob) == size:
                    found[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store a batch durably, so a killed build keeps what it already paid for."""
        with self._con:
            self._con.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                ((k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors)),
            )


def embed_all(
    texts: Sequence[str],
    embedder: Embedder,
    cache: EmbeddingCache,
    batch_size: int = 32,
    progress: bool = True,
) -> tuple[np.ndarray, EmbedStats]:
    """One unit vector per text: cached ones looked up, identical texts embedded once, the rest batched."""
    keys = [text_key(embedder.fingerprint, t) for t in texts]
    unique: dict[bytes, int] = {}
    for i, key in enumerate(keys):
        unique.setdefault(key, i)
    found = cache.get_many(list(unique))
    missing = [k for k in unique if k not in found]
    with tqdm(total=len(missing), desc="embed", unit="passage", disable=not progress) as bar:
        step = max(batch_size * 8, 1)
        for i in range(0, len(missing), step):
            part = missing[i : i + step]
            vectors = embedder.encode([texts[unique[k]] for k in part], batch_size=batch_size)
            cache.put_many(part, vectors)
            found.update(zip(part, vectors))
            bar.update(len(part))
    matrix = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    for i, key in enumerate(keys):
        matrix[i] = found[key]
    stats = EmbedStats(cached=len(unique) - len(missing), embedded=len(missing), duplicates=len(texts) - len(unique))
    return matrix, stats
