"""Export the packaged model to ONNX once, offline, from its installed files: fp32, or int8 weights per CPU kind.

Measured (docs/benchmarks.md, `python -m bench.embed`, `--cpu avx2` for an AVX2-only CPU): with AVX512-VNNI or
AVX-VNNI, int8 embeds 120-word passages about 2.2x faster than torch fp32 within cosine 0.98 of its vectors. Without
VNNI, ONNX Runtime's int8 kernels add u8 x s8 pairs into int16 (vpmaddubsw) and saturate: 8-bit weights fall under
0.98 there, so those CPUs get int8-rr, 7-bit weights (ONNX Runtime's reduce_range remedy) with the six FFN output
MatMuls kept in fp32, faster than fp32 and closer to torch than int8. The export needs torch; serving the exported
model needs only onnxruntime and tokenizers.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from search.embed import (
    ONNX_FILE, ONNX_FP32, ONNX_INT8, ONNX_INT8_RR, ONNX_META, TORCH_FP32, VARIANTS, model_fingerprint, resolve_model,
)
from search.errors import BuildError

OPSET = 17
EXPORT_FILES = (ONNX_FILE, "tokenizer.json", ONNX_META)  # what a usable export folder holds


class ExportError(BuildError):
    """The model could not be exported or quantized."""


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags as the kernel lists them (empty when unknown, e.g. off Linux)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[-1].split()}


def cpu_has_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether int8 dot products are native here (AVX512-VNNI or AVX-VNNI): no int16 step that can saturate."""
    return bool(cpu_flags(cpuinfo) & {"avx512_vnni", "avx_vnni"})


def resolve_variant(variant: str, cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """auto -> onnx-int8 with VNNI, onnx-int8-rr with AVX2 but no VNNI, else onnx-fp32 (measured in
    docs/benchmarks.md); any other value must be a known variant."""
    if variant == "auto":
        flags = cpu_flags(cpuinfo)
        if flags & {"avx512_vnni", "avx_vnni"}:
            return ONNX_INT8
        return ONNX_INT8_RR if "avx2" in flags else ONNX_FP32
    if variant not in VARIANTS:
        raise ValueError(f"embedder must be auto or one of {', '.join(VARIANTS)}; got {variant!r}")
    return variant


def variant_fingerprint(model_fp: str, variant: str) -> str:
    """Cache keys and manifests tell int8 vectors from fp32 ones of the same model."""
    if variant == TORCH_FP32:
        return model_fp
    return hashlib.sha256(f"{model_fp}/{variant}/opset{OPSET}".encode()).hexdigest()[:16]


def exported_model(name: str, variant: str, cache_dir: Path,
                   on_export: Callable[[Path], None] | None = None) -> Path:
    """The folder of the exported model, made on first use under cache_dir and reused after.

    cache_dir may be shared by every build of a user (the CLI's --model-cache): an export is built in a private
    temporary folder, flushed to disk and renamed into place, under a lock so that concurrent builds export once;
    a folder missing any of its files (a damaged cache) is exported again. on_export(folder) is called before
    an export starts, so a caller can say why the build pauses.
    """
    if variant == TORCH_FP32:
        raise ValueError("the torch variant is not exported")
    source = resolve_model(name)
    model_fp = model_fingerprint(source)
    fingerprint = variant_fingerprint(model_fp, variant)
    folder = Path(cache_dir) / f"{fingerprint}-{variant}"
    if _complete(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _locked(folder.parent / f".{folder.name}.lock"):
        if _complete(folder):  # another build exported it while this one waited
            return folder
        if folder.exists():  # damaged: move it aside first (a rename, so no reader sees it half removed)
            aside = folder.parent / f".broken-{os.getpid()}-{folder.name}"
            os.replace(folder, aside)
            shutil.rmtree(aside, ignore_errors=True)
        if on_export is not None:
            on_export(folder)
        work = Path(tempfile.mkdtemp(prefix=f".export-{os.getpid()}-", dir=folder.parent))
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
            _fsync_folder(work)
            try:
                os.replace(work, folder)
            except OSError:  # made meanwhile by a process that did not take the lock
                if not _complete(folder):
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return folder


def _complete(folder: Path) -> bool:
    """An export is usable when all its files are there (the rename makes them appear together)."""
    return all((folder / name).is_file() for name in EXPORT_FILES)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on a file beside the export: a second build waits, then finds the export made."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fsync_folder(folder: Path) -> None:
    """Flush the export's files before the rename publishes them: a crash never leaves a named, empty model."""
    for item in folder.iterdir():
        with item.open("rb") as handle:
            os.fsync(handle.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        if variant in (ONNX_INT8, ONNX_INT8_RR):
            fused_path = work / "fused.onnx"
            fused.save_model_to_file(str(fused_path))
            _quantize(fused_path, target, reduce_range=variant == ONNX_INT8_RR)
            fused_path.unlink()
        else:
            fused.save_model_to_file(str(target))
    except ExportError:
        raise
    except Exception as exc:  # torch.onnx and onnxruntime raise many types; all mean "no export"
        raise ExportError(f"exporting {source} to ONNX failed: {exc}") from exc
    finally:
        raw.unlink(missing_ok=True)


def ffn_output_matmuls(model_path: Path) -> list[str]:
    """The MatMuls fed by a GELU (each layer's FFN output, 1536 -> 384): their inputs are the hardest to quantize."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    gelu_out = {out for node in graph.node if node.op_type in ("BiasGelu", "Gelu", "FastGelu") for out in node.output}
    return [node.name for node in graph.node if node.op_type == "MatMul" and node.input[0] in gelu_out]


def _quantize(source: Path, target: Path, reduce_range: bool = False) -> None:
    """Dynamic int8, per output channel: per-tensor scales measured cosine 0.86-0.95 to fp32, per channel >= 0.985.

    reduce_range (onnx-int8-rr): 7-bit weights, so u8 x s8 pair sums fit int16 on CPUs without VNNI, and the FFN
    output MatMuls stay fp32 (7-bit weights everywhere measured a worst cosine of 0.9785; with these in fp32, 0.993).
    """
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep_fp32 = ffn_output_matmuls(source) if reduce_range else []
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it advises pre-processing on the root logger; the fused graph needs none
    try:
        quantize_dynamic(
            str(source), str(target), weight_type=QuantType.QInt8, per_channel=True, reduce_range=reduce_range,
            nodes_to_exclude=keep_fp32, extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)
