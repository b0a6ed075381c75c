"""FAISS inner-product index over unit vectors: vector i is passage row i."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from .errors import IndexCorrupt


def build_dense(vectors: np.ndarray) -> faiss.Index:
    """An exact inner-product (cosine) index; fine up to a couple of hundred thousand passages."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be a matrix, got shape {vectors.shape}")
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def save_dense(index: faiss.Index, path: Path) -> None:
    """FAISS's own file format."""
    faiss.write_index(index, str(path))


def load_dense(path: Path, dimension: int, count: int) -> faiss.Index:
    """Read the index and check it agrees with the manifest."""
    if not path.is_file():
        raise IndexCorrupt(f"{path} is missing")
    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError:
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorrupt(f"{path} is not a FAISS index: {exc}") from exc
    if index.d != dimension or index.ntotal != count:
        raise IndexCorrupt(f"{path} holds {index.ntotal} vectors of {index.d} dims, expected {count} of {dimension}")
    return index


def search_dense(
    index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and cosine scores of the k nearest passages (among `allowed`, a boolean mask), best first."""
    if k <= 0 or index.ntotal == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    vector = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    k = min(k, index.ntotal)
    if allowed is None:
        scores, rows = index.search(vector, k)
    else:
        bits = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")  # FAISS reads bit i of byte i // 8
        selector = faiss.IDSelectorBitmap(index.ntotal, faiss.swig_ptr(bits))
        scores, rows = index.search(vector, k, params=faiss.SearchParameters(sel=selector))
    keep = rows[0] >= 0
    return rows[0][keep], scores[0][keep]
