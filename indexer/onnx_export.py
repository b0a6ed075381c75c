"""Export the packaged model to ONNX once, offline, from its installed files: fp32, or int8 weights for VNNI CPUs.

Measured on this machine (docs/benchmarks.md, `python -m bench.embed`): 120-word passages embed about 2.2x faster
with int8 than torch fp32, at a cosine of at least 0.98 to the fp32 vectors. The export needs torch; serving
the exported model needs only onnxruntime and tokenizers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from search.embed import (
    ONNX_FILE, ONNX_FP32, ONNX_INT8, ONNX_META, TORCH_FP32, VARIANTS, model_fingerprint, resolve_model,
)
from search.errors import BuildError

OPSET = 17


class ExportError(BuildError):
    """The model could not be exported or quantized."""


def cpu_has_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether int8 dot products are native here (AVX512-VNNI or AVX-VNNI); without them int8 is slow and lossy."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[-1].split()}
    return bool(flags & {"avx512_vnni", "avx_vnni"})


def resolve_variant(variant: str, cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """auto -> onnx-int8 where the CPU has VNNI, else onnx-fp32; any other value must be a known variant."""
    if variant == "auto":
        return ONNX_INT8 if cpu_has_vnni(cpuinfo) else ONNX_FP32
    if variant not in VARIANTS:
        raise ValueError(f"embedder must be auto or one of {', '.join(VARIANTS)}; got {variant!r}")
    return variant


def variant_fingerprint(model_fp: str, variant: str) -> str:
    """Cache keys and manifests tell int8 vectors from fp32 ones of the same model."""
    if variant == TORCH_FP32:
        return model_fp
    return hashlib.sha256(f"{model_fp}/{variant}/opset{OPSET}".encode()).hexdigest()[:16]


def exported_model(name: str, variant: str, cache_dir: Path) -> Path:
    """The folder of the exported model, made on first use under cache_dir and reused after (atomic rename)."""
    if variant == TORCH_FP32:
        raise ValueError("the torch variant is not exported")
    source = resolve_model(name)
    model_fp = model_fingerprint(source)
    fingerprint = variant_fingerprint(model_fp, variant)
    folder = Path(cache_dir) / f"{fingerprint}-{variant}"
    if (folder / ONNX_META).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    work.chmod(0o755)  # mkdtemp makes it private; the server may run as another user
    try:
        _export(source, work, variant)
        shutil.copy2(source / "tokenizer.json", work / "tokenizer.json")
        config = json.loads((source / "sentence_bert_config.json").read_text(encoding="utf-8"))
        meta = {
            "name": name, "variant": variant, "fingerprint": fingerprint, "source_fingerprint": model_fp,
            "dimension": _dimension(source), "max_tokens": int(config["max_seq_length"]), "pooling": "mean",
            "normalize": True, "opset": OPSET,
        }
        (work / ONNX_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        try:
            os.replace(work, folder)
        except OSError:  # another build exported it first
            if not (folder / ONNX_META).is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def _dimension(source: Path) -> int:
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    return int(pooling["word_embedding_dimension"])


def _check_pipeline(source: Path) -> None:
    """Only Transformer -> mean Pooling -> Normalize is reproduced by OnnxEmbedder; refuse anything else."""
    modules = [m.get("type", "") for m in json.loads((source / "modules.json").read_text(encoding="utf-8"))]
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    if [m.rsplit(".", 1)[-1] for m in modules] != ["Transformer", "Pooling", "Normalize"] or not pooling.get(
        "pooling_mode_mean_tokens"
    ):
        raise ExportError(f"{source}: only mean-pooled, normalized sentence-transformers models can be exported")


def _export(source: Path, work: Path, variant: str) -> None:
    """torch.onnx (eager attention, so ONNX Runtime fuses it), the BERT graph optimizer, then int8 if asked."""
    _check_pipeline(source)
    try:
        import torch
        from onnxruntime.transformers import optimizer
        from transformers import AutoConfig, AutoModel
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ExportError(f"exporting the model needs torch, transformers and onnxruntime: {exc}") from exc
    config = AutoConfig.from_pretrained(str(source), local_files_only=True)
    model = AutoModel.from_pretrained(str(source), local_files_only=True, attn_implementation="eager").eval()

    class Encoder(torch.nn.Module):
        """Keyword arguments, so the export does not depend on forward()'s positional order."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001, ANN201
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones(2, 16, dtype=torch.long)
    raw = work / "raw.onnx"
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The tracer warns that transformers' mask padding branch becomes a constant: it is (no padding is
            # added inside the model), and the fp32 export is checked against torch in tests/test_onnx_export.py.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Encoder(model), (sample, torch.ones_like(sample), torch.zeros_like(sample)), str(raw),
                input_names=names, output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                opset_version=OPSET, dynamo=False,
            )
        fused = optimizer.optimize_model(
            str(raw), model_type="bert", num_heads=int(config.num_attention_heads), hidden_size=int(config.hidden_size)
        )
        target = work / ONNX_FILE
        if variant == ONNX_INT8:
            fused_path = work / "fused.onnx"
            fused.save_model_to_file(str(fused_path))
            _quantize(fused_path, target)
            fused_path.unlink()
        else:
            fused.save_model_to_file(str(target))
    except ExportError:
        raise
    except Exception as exc:  # torch.onnx and onnxruntime raise many types; all mean "no export"
        raise ExportError(f"exporting {source} to ONNX failed: {exc}") from exc
    finally:
        raw.unlink(missing_ok=True)


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8, per output channel: per-tensor scales measured cosine 0.86-0.95 to fp32, per channel >= 0.985."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it advises pre-processing on the root logger; the fused graph needs none
    try:
        quantize_dynamic(
            str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)
