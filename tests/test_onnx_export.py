"""The ONNX export: made once from the installed model, as good as torch fp32, and served without torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from indexer.onnx_export import cpu_has_vnni, exported_model, resolve_variant, variant_fingerprint
from search.embed import ONNX_FP32, ONNX_INT8, TORCH_FP32, ModelNotFound, OnnxEmbedder

from conftest import ROOT, SEEDS, reuters_stories


@pytest.fixture(scope="module")
def passages() -> list[str]:
    """Real news text: 120-word windows of Reuters stories, seed paragraphs, a question and a one-word text."""
    words = " ".join(s["body"] for s in reuters_stories(60)).split()
    texts = [" ".join(words[i : i + 120]) for i in range(0, 120 * 40, 120)]
    texts += [p.read_text(encoding="utf-8")[:900] for p in sorted(SEEDS.iterdir())]
    return texts + ["What did Putin promise Assad?", "Syria"]


@pytest.fixture(scope="module")
def fp32(model_cache: Path) -> OnnxEmbedder:
    return OnnxEmbedder(exported_model("all-MiniLM-L6-v2", ONNX_FP32, model_cache))


@pytest.fixture(scope="module")
def int8(model_cache: Path) -> OnnxEmbedder:
    return OnnxEmbedder(exported_model("all-MiniLM-L6-v2", ONNX_INT8, model_cache))


def test_fp32_export_equals_torch(fp32: OnnxEmbedder, torch_embedder, passages: list[str]) -> None:
    cos = np.sum(fp32.encode(passages) * torch_embedder.encode(passages), axis=1)
    assert cos.min() >= 0.9999


def test_int8_stays_within_cosine_098_of_torch_fp32(int8: OnnxEmbedder, torch_embedder, passages: list[str]) -> None:
    cos = np.sum(int8.encode(passages) * torch_embedder.encode(passages), axis=1)
    assert cos.min() >= 0.98, f"worst text: {passages[int(cos.argmin())][:80]!r} at {cos.min():.4f}"


def test_vectors_do_not_depend_on_their_batch(int8: OnnxEmbedder, passages: list[str]) -> None:
    together = int8.encode(passages[:8], batch_size=8)
    alone = np.stack([int8.encode([t])[0] for t in passages[:8]])
    assert np.array_equal(together, alone)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert int8.encode([]).shape == (0, 384)


def test_counts_and_metadata_match_the_torch_model(int8: OnnxEmbedder, torch_embedder, passages: list[str]) -> None:
    long = "word " * 400
    assert int8.count_tokens(passages + [long]) == torch_embedder.count_tokens(passages + [long])
    assert (int8.dimension, int8.max_tokens) == (torch_embedder.dimension, torch_embedder.max_tokens)
    assert int8.encode([long]).shape == (1, 384)  # a long question is cut at 256 word pieces, as torch does
    described = int8.describe()
    assert described["variant"] == ONNX_INT8 and described["fingerprint"] != torch_embedder.fingerprint


def test_export_is_made_once_and_keyed_by_variant(model_cache: Path, int8: OnnxEmbedder, fp32: OnnxEmbedder) -> None:
    folder = exported_model("all-MiniLM-L6-v2", ONNX_INT8, model_cache)
    stamp = (folder / "model.onnx").stat().st_mtime_ns
    assert exported_model("all-MiniLM-L6-v2", ONNX_INT8, model_cache) == folder  # reused, not re-exported
    assert (folder / "model.onnx").stat().st_mtime_ns == stamp
    assert int8.fingerprint != fp32.fingerprint  # the embedding cache never mixes int8 and fp32 vectors
    assert (folder / "model.onnx").stat().st_size < 30e6  # int8 weights: about a quarter of fp32's 90 MB
    assert not list(model_cache.glob(".export-*"))  # no half-made export left behind
    assert variant_fingerprint("abc", TORCH_FP32) == "abc"  # torch-built indexes keep their old fingerprint


def test_variant_follows_the_cpu(tmp_path: Path) -> None:
    vnni, plain = tmp_path / "vnni", tmp_path / "plain"
    vnni.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    plain.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")
    assert cpu_has_vnni(vnni) and not cpu_has_vnni(plain) and not cpu_has_vnni(tmp_path / "none")
    assert resolve_variant("auto", vnni) == ONNX_INT8 and resolve_variant("auto", plain) == ONNX_FP32
    assert resolve_variant("torch-fp32") == TORCH_FP32
    with pytest.raises(ValueError, match="embedder must be"):
        resolve_variant("int4")


def test_a_broken_export_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="not a usable exported model"):
        OnnxEmbedder(tmp_path)


def test_serving_the_export_does_not_import_torch(int8: OnnxEmbedder) -> None:
    script = (
        "import sys; from pathlib import Path; from search.embed import OnnxEmbedder; "
        f"e = OnnxEmbedder(Path({str(int8.folder)!r})); v = e.encode(['What did Putin promise Assad?']); "
        "print(v.shape, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(1, 384) False False"
