"""The ONNX export: made once from the installed model, as good as torch fp32, and served without torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from indexer import onnx_export
from indexer.onnx_export import cpu_has_vnni, exported_model, resolve_variant, variant_fingerprint
from search.embed import ONNX_FP32, ONNX_INT8, ONNX_INT8_RR, TORCH_FP32, ModelNotFound, OnnxEmbedder

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


@pytest.fixture(scope="module")
def int8_rr(model_cache: Path) -> OnnxEmbedder:
    return OnnxEmbedder(exported_model("all-MiniLM-L6-v2", ONNX_INT8_RR, model_cache))


def test_fp32_export_equals_torch(fp32: OnnxEmbedder, torch_embedder, passages: list[str]) -> None:
    cos = np.sum(fp32.encode(passages) * torch_embedder.encode(passages), axis=1)
    assert cos.min() >= 0.9999


def test_int8_stays_within_cosine_098_of_torch_fp32(int8: OnnxEmbedder, torch_embedder, passages: list[str]) -> None:
    cos = np.sum(int8.encode(passages) * torch_embedder.encode(passages), axis=1)
    assert cos.min() >= 0.98, f"worst text: {passages[int(cos.argmin())][:80]!r} at {cos.min():.4f}"


def test_int8_rr_keeps_ffn_outputs_in_fp32_and_stays_close_to_torch(int8_rr: OnnxEmbedder, int8: OnnxEmbedder,
                                                                    torch_embedder, passages: list[str]) -> None:
    import onnx

    ops = [n.op_type for n in onnx.load(str(int8_rr.folder / "model.onnx")).graph.node]
    assert ops.count("MatMul") == 6 and ops.count("MatMulInteger") == 12  # six FFN outputs fp32, the rest 7-bit
    cos = np.sum(int8_rr.encode(passages) * torch_embedder.encode(passages), axis=1)
    assert cos.min() >= 0.98, f"worst text: {passages[int(cos.argmin())][:80]!r} at {cos.min():.4f}"
    assert len({int8_rr.fingerprint, int8.fingerprint}) == 2  # its vectors never mix with int8's in a cache


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
    assert not list(model_cache.glob(f".export-{os.getpid()}-*"))  # no half-made export of ours left behind
    assert variant_fingerprint("abc", TORCH_FP32) == "abc"  # torch-built indexes keep their old fingerprint


def test_variant_follows_the_cpu(tmp_path: Path) -> None:
    vnni, avx_vnni, plain, old = tmp_path / "vnni", tmp_path / "avx_vnni", tmp_path / "plain", tmp_path / "old"
    vnni.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    avx_vnni.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx_vnni\n")
    plain.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")  # an AMD EPYC Rome, a Haswell
    old.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx\n")
    assert cpu_has_vnni(vnni) and not cpu_has_vnni(plain) and not cpu_has_vnni(tmp_path / "none")
    assert resolve_variant("auto", vnni) == resolve_variant("auto", avx_vnni) == ONNX_INT8
    assert resolve_variant("auto", plain) == ONNX_INT8_RR  # 8-bit weights saturate in int16 without VNNI
    assert resolve_variant("auto", old) == resolve_variant("auto", tmp_path / "none") == ONNX_FP32
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


def _counting_export(calls: list, model_file: Path, pause: float = 0.0):
    """Stands in for the 40 s torch export: copies a model exported this session, counting the calls."""

    def export(source: Path, work: Path, variant: str) -> None:
        calls.append(variant)
        time.sleep(pause)
        (work / "model.onnx").write_bytes(model_file.read_bytes())

    return export


def test_concurrent_builds_export_once_into_a_shared_cache(tmp_path: Path, int8: OnnxEmbedder, monkeypatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(onnx_export, "_export", _counting_export(calls, int8.folder / "model.onnx", pause=0.5))
    got: list[Path] = []
    threads = [threading.Thread(target=lambda: got.append(exported_model("all-MiniLM-L6-v2", ONNX_INT8, tmp_path)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [ONNX_INT8] and len(set(got)) == 1 and len(got) == 4  # the others waited for the one export
    assert OnnxEmbedder(got[0]).encode(["Syria"]).shape == (1, 384)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".{got[0].name}.lock", got[0].name]  # no temp left


def test_a_damaged_export_is_made_again(tmp_path: Path, int8: OnnxEmbedder, monkeypatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(onnx_export, "_export", _counting_export(calls, int8.folder / "model.onnx"))
    folder = exported_model("all-MiniLM-L6-v2", ONNX_INT8, tmp_path)
    (folder / "model.onnx").unlink()  # a half-deleted cache
    said: list[Path] = []
    assert exported_model("all-MiniLM-L6-v2", ONNX_INT8, tmp_path, on_export=said.append) == folder
    assert calls == [ONNX_INT8, ONNX_INT8] and said == [folder]
    assert (folder / "model.onnx").read_bytes() == (int8.folder / "model.onnx").read_bytes()
    assert exported_model("all-MiniLM-L6-v2", ONNX_INT8, tmp_path, on_export=said.append) == folder
    assert said == [folder]  # whole again: reused, not announced


AVX2_PROBE = """
import json, sys
import numpy as np
from pathlib import Path
from bench.embed import shim_state
from search.embed import OnnxEmbedder
texts = json.loads(sys.stdin.read())
out = {"cpuid": shim_state()}
for name in sys.argv[1:]:
    out[name] = OnnxEmbedder(Path(name)).encode(texts).tolist()
print(json.dumps(out))
"""


def test_on_an_avx2_only_cpu_int8_rr_holds_and_int8_takes_the_saturating_kernels(
        tmp_path: Path, int8: OnnxEmbedder, int8_rr: OnnxEmbedder, torch_embedder, passages: list[str]) -> None:
    """The AVX2 path, run here through a CPUID shim (bench/embed.py): what `auto` gives a CPU without VNNI."""
    from bench.embed import build_shim

    if "cpuid_fault" not in Path("/proc/cpuinfo").read_text() or not shutil.which("gcc"):
        pytest.skip("needs CPUID faulting (cpuid_fault) and gcc to hide AVX-512 and VNNI from ONNX Runtime")
    shim = build_shim(tmp_path)
    texts = passages[:24]
    env = {**os.environ, "LD_PRELOAD": str(shim)}
    run = subprocess.run([sys.executable, "-c", AVX2_PROBE, str(int8.folder), str(int8_rr.folder)], cwd=ROOT,
                         env=env, input=json.dumps(texts), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout)
    assert got["cpuid"]["avx2"] and not got["cpuid"]["avx512f"] and not got["cpuid"]["avx512_vnni"]
    reference = torch_embedder.encode(texts)
    avx2_rr = np.asarray(got[str(int8_rr.folder)], dtype=np.float32)
    assert np.sum(avx2_rr * reference, axis=1).min() >= 0.98
    avx2_int8 = np.asarray(got[str(int8.folder)], dtype=np.float32)
    if "avx512_vnni" in Path("/proc/cpuinfo").read_text():
        assert np.abs(avx2_int8 - int8.encode(texts)).max() > 1e-3  # other kernels ran: int16 sums saturated
    else:  # this CPU is itself AVX2-only: int8 already takes the saturating kernels here, shim or not
        assert np.abs(avx2_int8 - int8.encode(texts)).max() < 1e-6
