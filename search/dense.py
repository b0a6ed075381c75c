"""FAISS inner-product index over unit vectors (vector i is passage row i): flat while small, HNSW beyond."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .errors import IndexCorrupt

FLAT_LIMIT = 20_000  # measured: a flat scan of 20k x 384 takes 1.2 ms, 50k 8 ms, 100k 17 ms (1 thread)
EXACT_FILTER_LIMIT = 20_000  # a filter this narrow is searched exactly: a graph walk would miss too much


@dataclass(frozen=True)
class DenseConfig:
    """Which FAISS index to build; recorded in the manifest so a reader searches it the same way."""

    kind: str = "auto"  # auto | flat | hnsw
    flat_limit: int = FLAT_LIMIT
    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 1024  # recall@10 at 1M: 0.849 at 128, 0.943 at 512, 0.967 at 1024 (1.9 ms); docs/scale.md
    hnsw_storage: str = "fp16"  # fp16 | fp32: fp16 halves the vectors (768 MB at 1M) for recall 0.9985 vs 1.0

    def resolve(self, count: int) -> str:
        """The concrete kind for `count` vectors."""
        if self.kind not in ("auto", "flat", "hnsw"):
            raise ValueError(f"dense index kind must be auto, flat or hnsw; got {self.kind!r}")
        if self.hnsw_storage not in ("fp16", "fp32"):
            raise ValueError(f"HNSW storage must be fp16 or fp32; got {self.hnsw_storage!r}")
        if self.kind != "auto":
            return self.kind
        return "flat" if count <= self.flat_limit else "hnsw"


def build_dense(vectors: np.ndarray, config: DenseConfig = DenseConfig()) -> tuple[faiss.Index, dict[str, Any]]:
    """The index and its manifest entry: exact inner product, or an HNSW graph for large collections."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be a matrix, got shape {vectors.shape}")
    count, dim = vectors.shape
    kind = config.resolve(count)
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
        info: dict[str, Any] = {"type": "flat-ip"}
    else:
        if config.hnsw_storage == "fp16":
            index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.ef_construction
        info = {"type": "hnsw", "storage": config.hnsw_storage, "m": config.hnsw_m,
                "ef_construction": config.ef_construction, "ef_search": config.ef_search}
    index.add(vectors)
    return index, {**info, "vectors": int(count), "dimension": int(dim), "settings": asdict(config)}


def save_dense(index: faiss.Index, path: Path) -> None:
    """FAISS's own file format."""
    faiss.write_index(index, str(path))


def load_dense(path: Path, dimension: int, count: int) -> faiss.Index:
    """Read the index (vectors memory-mapped, so they stay in the page cache, not the heap); check the manifest."""
    if not path.is_file():
        raise IndexCorrupt(f"{path} is missing")
    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError:
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorrupt(f"{path} is not a FAISS index: {exc}") from exc
    if index.d != dimension or index.ntotal != count:
        raise IndexCorrupt(f"{path} holds {index.ntotal} vectors of {index.d} dims, expected {count} of {dimension}")
    return index


def stored_vectors(index: faiss.Index | ConcatDense, rows: np.ndarray) -> np.ndarray:
    """The stored vectors of some rows (float32 [len(rows), d]); an HNSW index's from its storage directly,
    measured 7x faster at 1M than through the graph index's own reconstruct_batch."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if isinstance(index, faiss.IndexHNSW):
        index = index.storage
    return index.reconstruct_batch(rows)


def _exact_among(index: faiss.Index, vector: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top k among a few rows, from the stored vectors themselves."""
    stored = stored_vectors(index, rows)
    scores = stored @ vector[0]
    top = np.argsort(-scores, kind="stable")[:k]
    return rows[top].astype(np.int64), scores[top].astype(np.float32)


class ConcatDense:
    """The FAISS indexes of several segments as one (rows in segment order): each searched under its own part
    of the mask, the results merged; deleted rows are masked, never removed (HNSW cannot remove)."""

    def __init__(self, parts: list[faiss.Index]) -> None:
        self.parts = parts
        self.bases = np.concatenate([[0], np.cumsum([p.ntotal for p in parts], dtype=np.int64)])
        self.ntotal = int(self.bases[-1])
        self.d = parts[0].d if parts else 0

    def reconstruct_batch(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((rows.size, self.d), dtype=np.float32)
        seg = np.searchsorted(self.bases, rows, side="right") - 1
        for s in np.unique(seg).tolist():
            at = np.flatnonzero(seg == s)
            out[at] = stored_vectors(self.parts[s], rows[at] - self.bases[s])
        return out

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None,
               ef_search: int) -> tuple[np.ndarray, np.ndarray]:
        rows, scores = [], []
        for s, part in enumerate(self.parts):
            lo, hi = int(self.bases[s]), int(self.bases[s + 1])
            mask = None if allowed is None else allowed[lo:hi]
            if part.ntotal == 0 or (mask is not None and not mask.any()):
                continue
            r, c = search_dense(part, query, k, mask, ef_search)
            rows.append(r + lo)
            scores.append(c)
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rows_all, scores_all = np.concatenate(rows), np.concatenate(scores)
        order = np.lexsort((rows_all, -scores_all))[:k]  # best first, ties to the lower row as one index would
        return rows_all[order], scores_all[order]


def filtered_ef(ef: int, share: float) -> int:
    """efSearch for a graph walk that keeps only a `share` of the rows it meets: as many allowed rows as an
    unfiltered walk of `ef` finds, with a margin (a few deleted rows cost a few percent; a narrow filter at most
    double, beyond which the exact path takes over)."""
    return min(2 * ef, math.ceil(ef / max(share, 0.5) * 1.05) + 16)


def search_dense(
    index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None, ef_search: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and cosine scores of the k nearest passages (among `allowed`, a boolean mask), best first."""
    if k <= 0 or index.ntotal == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    if not isinstance(index, faiss.Index):  # segments joined (ConcatDense) or on shards (search/sharded.py)
        return index.search(query, min(k, index.ntotal), allowed, ef_search)
    vector = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    k = min(k, index.ntotal)
    graph = isinstance(index, faiss.IndexHNSW)
    if allowed is None:
        params = faiss.SearchParametersHNSW(efSearch=max(ef_search, k)) if graph else None
        scores, rows = index.search(vector, k, params=params)
    else:
        n_allowed = int(np.count_nonzero(allowed))
        if graph and n_allowed <= EXACT_FILTER_LIMIT:
            return _exact_among(index, vector, np.flatnonzero(allowed), k)
        bits = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")  # FAISS reads bit i of byte i // 8
        selector = faiss.IDSelectorBitmap(index.ntotal, faiss.swig_ptr(bits))
        if graph:
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=filtered_ef(max(ef_search, k),
                                                                                  n_allowed / index.ntotal))
        else:
            params = faiss.SearchParameters(sel=selector)
        scores, rows = index.search(vector, k, params=params)
    keep = rows[0] >= 0
    return rows[0][keep], scores[0][keep]
