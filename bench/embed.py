"""Embedding speed and fidelity per model variant, on this CPU or as a CPU with AVX2 only would run them.

python -m bench.embed [--cpu native|avx2] [--passages 400] [--rounds 3] [--out bench/results/embed.json]
python -m bench.embed --callgrind [--passages 8]     # instructions per passage under valgrind (AVX2 kernels)

Speed: every variant embeds the same 120-word Reuters passages, taking turns every 20 passages, in rounds (the median
is reported, with the load average): passages/s with the build's 2 threads, and CPU ms per passage with 1 thread, which a loaded
machine disturbs less. Fidelity: cosine of every vector to torch fp32's, for passages and for the 30 questions.
ONNX variants run before torch: torch's OpenMP threads keep spinning after their work and slow what follows.

--cpu avx2 runs it all in a child process whose CPUID hides AVX-512, AVX512-VNNI and AVX-VNNI: an LD_PRELOAD shim
(compiled here with gcc) turns on Linux's CPUID faulting (arch_prctl ARCH_SET_CPUID; the CPU must list
`cpuid_fault`) and answers each CPUID with those bits cleared, so ONNX Runtime's MLAS picks its AVX2 kernels (u8 x s8
through vpmaddubsw, which saturates in int16) at native speed, as on an AVX2-only CPU such as an AMD EPYC Rome.
--callgrind runs each ONNX variant under valgrind, which implements no AVX-512 (its CPUID says so), counting only
the instructions of the embedding: a cost that does not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from bench.common import REUTERS, ROOT, figures  # noqa: E402
from bench.questions import ASKED  # noqa: E402

WORDS = 120
ONNX_VARIANTS = ("onnx-int8", "onnx-int8-rr", "onnx-fp32")
RR_ALL = "int8-rr-all"  # experiment: 7-bit weights in every MatMul (what onnx-int8-rr improves on)
CHUNK = 20  # passages a variant embeds before the next takes its turn
SHIM_ENV = "NEWSCLIP_BENCH_AVX2_SHIM"  # set in the child that runs under the shim

# CPUID faulting makes every CPUID instruction trap (SIGSEGV); the handler runs the real CPUID with faulting off for
# that instant, clears the AVX-512 and VNNI bits, and steps over the instruction. Set in a constructor, so it holds
# before Python loads numpy or ONNX Runtime; threads inherit it. glibc chose its own string functions earlier.
SHIM_C = r"""
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static volatile unsigned long faults;

static long set_cpuid(int on) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on); }

static void on_segv(int sig, siginfo_t *info, void *raw) {
    ucontext_t *uc = raw;
    greg_t *r = uc->uc_mcontext.gregs;
    const unsigned char *pc = (const unsigned char *)r[REG_RIP];
    if (pc[0] != 0x0f || pc[1] != 0xa2) { signal(SIGSEGV, SIG_DFL); raise(SIGSEGV); return; }
    unsigned a, b, c, d, leaf = (unsigned)r[REG_RAX], sub = (unsigned)r[REG_RCX];
    faults++;
    set_cpuid(1);
    __cpuid_count(leaf, sub, a, b, c, d);
    set_cpuid(0);
    if (leaf == 7 && sub == 0) {
        b &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
        c &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
        d &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
    } else if (leaf == 7 && sub == 1) {
        a &= ~((1u << 4) | (1u << 5));  /* AVX-VNNI, AVX512_BF16 */
        d &= ~((1u << 4) | (1u << 5));  /* AVX-VNNI-INT8, AVX-NE-CONVERT */
    }
    r[REG_RAX] = a; r[REG_RBX] = b; r[REG_RCX] = c; r[REG_RDX] = d;
    r[REG_RIP] += 2;
}

/* What a program now sees: bit 0 AVX2, bit 1 AVX512F, bit 2 AVX512-VNNI, bit 3 AVX-VNNI; and the traps taken. */
int avx2_only_seen(void) {
    unsigned a, b, c, d, a1, b1, c1, d1;
    __cpuid_count(7, 0, a, b, c, d);
    __cpuid_count(7, 1, a1, b1, c1, d1);
    return !!(b & (1u << 5)) | !!(b & (1u << 16)) << 1 | !!(c & (1u << 11)) << 2 | !!(a1 & (1u << 4)) << 3;
}

unsigned long avx2_only_faults(void) { return faults; }

__attribute__((constructor)) static void avx2_only(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    if (set_cpuid(0) != 0) { perror("avx2-only shim: arch_prctl(ARCH_SET_CPUID)"); _exit(97); }
}
"""


def build_shim(folder: Path) -> Path:
    """Compile the CPUID shim into folder; SystemExit when this machine cannot run it."""
    if "cpuid_fault" not in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"):
        raise SystemExit("--cpu avx2 needs CPUID faulting (the `cpuid_fault` flag in /proc/cpuinfo)")
    if shutil.which("gcc") is None:
        raise SystemExit("--cpu avx2 compiles a small LD_PRELOAD shim: install gcc")
    source, shim = folder / "avx2_only.c", folder / "avx2_only.so"
    source.write_text(SHIM_C, encoding="utf-8")
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(shim), str(source)], check=True)
    return shim


def shim_state() -> dict:
    """What CPUID says inside this process (read through the shim, so only under it)."""
    lib = ctypes.CDLL(None)
    seen = lib.avx2_only_seen()
    lib.avx2_only_faults.restype = ctypes.c_ulong
    return {"avx2": bool(seen & 1), "avx512f": bool(seen & 2), "avx512_vnni": bool(seen & 4),
            "avx_vnni": bool(seen & 8), "cpuid_traps": int(lib.avx2_only_faults())}


def passages(n: int) -> list[str]:
    """n consecutive 120-word windows of Reuters story bodies: the issue's unit of embedding speed."""
    import gzip

    words: list[str] = []
    with gzip.open(REUTERS, "rt", encoding="utf-8") as handle:
        for line in handle:
            words += (json.loads(line).get("body") or "").split()
            if len(words) >= n * WORDS:
                break
    return [" ".join(words[i : i + WORDS]) for i in range(0, n * WORDS, WORDS)]


def export_all(cache: Path, variants: list[str]) -> dict[str, float]:
    """Export each ONNX variant into cache (seconds each; 0 when already there) and the all-7-bit experiment."""
    from indexer.onnx_export import exported_model

    seconds = {}
    for variant in variants:
        if variant == RR_ALL:
            continue
        began = time.perf_counter()
        exported_model("all-MiniLM-L6-v2", variant, cache)
        seconds[variant] = round(time.perf_counter() - began, 1)
    if RR_ALL in variants:
        began = time.perf_counter()
        _rr_all(cache)
        seconds[RR_ALL] = round(time.perf_counter() - began, 1)
    return seconds


def _rr_all(cache: Path) -> Path:
    """The fp32 export quantized with reduce_range in every MatMul (no fp32 FFN outputs), beside the others."""
    import logging

    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from indexer.onnx_export import exported_model

    fp32 = exported_model("all-MiniLM-L6-v2", "onnx-fp32", cache)
    folder = cache / f"experiment-{RR_ALL}"
    if (folder / "embedder.json").is_file():
        return folder
    work = Path(tempfile.mkdtemp(dir=cache))
    shutil.copy2(fp32 / "tokenizer.json", work / "tokenizer.json")
    meta = json.loads((fp32 / "embedder.json").read_text(encoding="utf-8"))
    meta.update(variant=RR_ALL, fingerprint=f"experiment-{RR_ALL}")
    logging.getLogger().setLevel(logging.ERROR)
    quantize_dynamic(str(fp32 / "model.onnx"), str(work / "model.onnx"), weight_type=QuantType.QInt8,
                     per_channel=True, reduce_range=True, extra_options={"DefaultTensorType": TensorProto.FLOAT})
    (work / "embedder.json").write_text(json.dumps(meta), encoding="utf-8")
    os.replace(work, folder)
    return folder


def load(variant: str, cache: Path, threads: int):
    """An embedder of one variant with a thread count, the export taken from `cache`."""
    from indexer.onnx_export import exported_model
    from search.embed import OnnxEmbedder, SentenceTransformerEmbedder

    if variant == "torch-fp32":
        return SentenceTransformerEmbedder(threads=threads)
    if variant == RR_ALL:
        return OnnxEmbedder(_rr_all(cache), threads=threads)
    return OnnxEmbedder(exported_model("all-MiniLM-L6-v2", variant, cache), threads=threads)


def cosines(got: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Worst, 1st percentile and median cosine of row-aligned unit vectors."""
    cos = np.sum(got * reference, axis=1)
    return {"min": round(float(cos.min()), 4), "p1": round(float(np.percentile(cos, 1)), 4),
            "median": round(float(np.median(cos)), 4)}


def measure(args: argparse.Namespace, cache: Path) -> dict:
    """Speed (interleaved rounds, medians) and cosine to torch fp32 of every variant, in this process."""
    texts = passages(args.passages)
    few = texts[: args.cpu_passages]
    variants = [v for v in args.variants if v != "torch-fp32"] + ["torch-fp32"]
    result: dict = {"passages": len(texts), "words_per_passage": WORDS, "threads": args.threads,
                    "cpu_passages": len(few), "rounds": args.rounds, "cpu": args.cpu,
                    "machine": f"{platform.machine()} {os.cpu_count()} cores", "loadavg_at_start": os.getloadavg(),
                    "variants": {v: {} for v in variants}}
    if args.cpu == "avx2":
        result["cpuid_seen"] = shim_state()
    result["export_s"] = export_all(cache, [v for v in variants if v != "torch-fp32"])
    vectors, questions = {}, {}
    for group in ([v for v in variants if v != "torch-fp32"], ["torch-fp32"]):
        wide = {v: load(v, cache, args.threads) for v in group}
        narrow = {v: load(v, cache, 1) for v in group}
        for v in group:
            wide[v].encode(texts[:8])
            narrow[v].encode(few[:4])
        walls: dict[str, list[float]] = {v: [] for v in group}
        cpus: dict[str, list[float]] = {v: [] for v in group}
        for r in range(args.rounds):  # variants take turns every CHUNK passages: load changes hit them alike
            wall, cpu, got = dict.fromkeys(group, 0.0), dict.fromkeys(group, 0.0), {v: [] for v in group}
            for i in range(0, len(texts), CHUNK):
                for v in _turn(group, i // CHUNK + r):
                    began = time.perf_counter()
                    got[v].append(wide[v].encode(texts[i : i + CHUNK], batch_size=32))
                    wall[v] += time.perf_counter() - began
            for i in range(0, len(few), CHUNK):
                for v in _turn(group, i // CHUNK + r):
                    began = time.process_time()
                    narrow[v].encode(few[i : i + CHUNK], batch_size=32)
                    cpu[v] += time.process_time() - began
            for v in group:
                walls[v].append(wall[v])
                cpus[v].append(cpu[v])
                vectors[v] = np.concatenate(got[v])
        for v in group:
            times, asked = [], []
            narrow[v].encode(["warm up"])
            for question in ASKED:
                began = time.perf_counter()
                asked.append(narrow[v].encode([question])[0])
                times.append((time.perf_counter() - began) * 1000)
            questions[v] = np.stack(asked)
            result["variants"][v].update({
                "passages_per_second": round(len(texts) / statistics.median(walls[v]), 1),
                "passages_per_second_rounds": [round(len(texts) / s, 1) for s in walls[v]],
                "cpu_ms_per_passage_1_thread": round(1000 * statistics.median(cpus[v]) / len(few), 1),
                "question_ms": figures(times),
            })
        del wide, narrow
    result["mean_word_pieces"] = round(float(np.mean(load("onnx-fp32", cache, 1).count_tokens(texts))), 1)
    for v in variants:
        row = result["variants"][v]
        row["cosine_to_torch_fp32"] = cosines(vectors[v], vectors["torch-fp32"])
        row["question_cosine_to_torch_fp32"] = cosines(questions[v], questions["torch-fp32"])
        row["speedup_over_fp32"] = round(row["passages_per_second"] /
                                         result["variants"].get("onnx-fp32", row)["passages_per_second"], 2)
        row["cpu_speedup_over_fp32"] = round(result["variants"].get("onnx-fp32", row)["cpu_ms_per_passage_1_thread"]
                                             / row["cpu_ms_per_passage_1_thread"], 2)
    if args.save_vectors:
        args.save_vectors.mkdir(parents=True, exist_ok=True)
        for v, got in vectors.items():
            np.save(args.save_vectors / f"{args.cpu}-{v}.npy", got)
    result["loadavg_at_end"] = os.getloadavg()
    return result


def _turn(group: list[str], k: int) -> list[str]:
    """The variants in the k-th rotation, so none is always measured first (or right after another)."""
    k %= len(group)
    return group[k:] + group[:k]


def probe(args: argparse.Namespace, cache: Path) -> None:
    """One variant, 1 thread, --passages texts; under callgrind only their embedding is instrumented."""
    texts = passages(args.passages)
    embedder = load(args.probe, cache, 1)
    embedder.encode(["warm up"])
    under_valgrind = "vgpreload" in os.environ.get("LD_PRELOAD", "")
    if under_valgrind:
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True, capture_output=True)
    got = embedder.encode(texts)
    if under_valgrind:
        subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], check=True, capture_output=True)
    if args.save_vectors:
        args.save_vectors.mkdir(parents=True, exist_ok=True)
        np.save(args.save_vectors / f"valgrind-{args.probe}.npy", got)
    print(json.dumps({"variant": args.probe, "passages": len(texts), "word_pieces": sum(embedder.count_tokens(texts))}))


def callgrind(args: argparse.Namespace, cache: Path) -> dict:
    """Instructions per passage of each ONNX variant under valgrind (no AVX-512 there: the AVX2 kernels)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--callgrind needs valgrind (apt-get install valgrind)")
    export_all(cache, [v for v in args.variants if v != "torch-fp32"])
    result: dict = {"passages": args.passages, "threads": 1, "tool": "valgrind --tool=callgrind", "variants": {}}
    for variant in [v for v in args.variants if v != "torch-fp32"]:
        out = cache / f"callgrind-{variant}.out"
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                   sys.executable, "-m", "bench.embed", "--probe", variant, "--passages", str(args.passages),
                   "--model-cache", str(cache)]
        if args.save_vectors:
            command += ["--save-vectors", str(args.save_vectors)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        info = json.loads(done.stdout.strip().splitlines()[-1])
        totals = re.search(r"^totals:\s+(\d+)", out.read_text(), re.MULTILINE)
        instructions = int(totals.group(1)) if totals else 0
        result["variants"][variant] = {
            "instructions": instructions,
            "instructions_per_passage_M": round(instructions / info["passages"] / 1e6, 1),
            "instructions_per_word_piece_k": round(instructions / info["word_pieces"] / 1e3, 1),
        }
        print(variant, result["variants"][variant], flush=True)
    base = result["variants"].get("onnx-fp32")
    if base:
        for row in result["variants"].values():
            row["fewer_than_fp32"] = round(base["instructions"] / max(row["instructions"], 1), 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", choices=("native", "avx2"), default="native",
                        help="avx2: hide AVX-512 and VNNI from this run's CPUID (see the module docstring)")
    parser.add_argument("--variants", nargs="+", default=[*ONNX_VARIANTS, RR_ALL, "torch-fp32"])
    parser.add_argument("--passages", type=int, default=400)
    parser.add_argument("--cpu-passages", type=int, default=100, help="passages of the 1-thread CPU-time figure")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="threads for passage embedding (a build's setting)")
    parser.add_argument("--model-cache", type=Path, default=None, help="exports to reuse (default: a new temp folder)")
    parser.add_argument("--save-vectors", type=Path, default=None, help="save each variant's vectors here (.npy)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions under valgrind instead")
    parser.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON figures (default bench/results/embed.json, embed-avx2.json or embed-callgrind.json)")
    args = parser.parse_args()
    if not REUTERS.exists():
        raise SystemExit(f"{REUTERS} is missing: put the shared data folder beside the project")
    cache = args.model_cache or Path(tempfile.mkdtemp(prefix="newsclip-embed-"))
    try:
        if args.probe:
            probe(args, cache)
            return
        if args.cpu == "avx2" and os.environ.get(SHIM_ENV) != "1":
            export_all(cache, [v for v in args.variants if v != "torch-fp32"])  # natively: the export is not timed
            shim = build_shim(cache)
            env = {**os.environ, SHIM_ENV: "1", "LD_PRELOAD": str(shim)}
            argv = [a for a in sys.argv[1:]]
            if not args.model_cache:
                argv += ["--model-cache", str(cache)]
            raise SystemExit(subprocess.run([sys.executable, "-m", "bench.embed", *argv], cwd=ROOT, env=env).returncode)
        if args.callgrind:
            result = callgrind(args, cache)
            out = args.out or ROOT / "bench" / "results" / "embed-callgrind.json"
        else:
            if args.cpu == "avx2" and shim_state()["avx512f"]:
                raise SystemExit("the CPUID shim is not in effect: AVX-512 is still visible")
            result = measure(args, cache)
            out = args.out or ROOT / "bench" / "results" / ("embed.json" if args.cpu == "native" else "embed-avx2.json")
            _print_table(result)
        print(json.dumps(result, indent=2))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    finally:
        if not args.model_cache:
            shutil.rmtree(cache, ignore_errors=True)


def _print_table(result: dict) -> None:
    print(f"\n{result['cpu']}: | variant | passages/s ({WORDS} words, {result['threads']} threads) | CPU ms/passage "
          "(1 thread) | x fp32 (CPU) | cosine to torch fp32, passages (min / p1 / median) | questions (min) | "
          "question ms (median / p95) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for variant, row in result["variants"].items():
        cos, q, qc = row["cosine_to_torch_fp32"], row["question_ms"], row["question_cosine_to_torch_fp32"]
        print(f"| {variant} | {row['passages_per_second']} | {row['cpu_ms_per_passage_1_thread']} | "
              f"{row['cpu_speedup_over_fp32']} | {cos['min']} / {cos['p1']} / {cos['median']} | {qc['min']} | "
              f"{q['median_ms']} / {q['p95_ms']} |")


if __name__ == "__main__":
    main()
