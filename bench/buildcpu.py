"""What a cold build of N Reuters stories costs on each kind of CPU: this one (VNNI) and an AVX2-only one.

python -m bench.buildcpu [--stories 2000] [--out bench/results/build-cpu.json]
python -m bench.buildcpu --table bench/results/build-cpu.json      # print the table of a saved run

Each run is one cold build (a new index folder, so an empty embedding cache) in its own child process, with the
model variant given explicitly: native CPU with onnx-int8 (what auto picks with VNNI); then, under bench.embed's
LD_PRELOAD CPUID shim (AVX-512 and VNNI hidden, so ONNX Runtime, numpy and the rest take their AVX2 paths, as on an
AMD EPYC Rome), onnx-int8-rr (what auto picks on AVX2 only) and onnx-fp32 (what auto picked there before int8-rr).
auto itself reads /proc/cpuinfo, which the shim does not change, so the variant auto would pick is worked out from
the flags CPUID reports inside the child. The models are exported first, natively, into a fresh model cache (their
one-off export time is recorded apart and is not part of a build). Wall and CPU seconds (getrusage: every thread of
the child) of build_index, its stages, and the wall and CPU seconds spent inside the embedder's encode().
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
RUNS = (("native", "onnx-int8"), ("avx2", "onnx-int8-rr"), ("avx2", "onnx-fp32"))
MODEL = "all-MiniLM-L6-v2"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _auto_here(cpu: str, work: Path) -> tuple[str, dict | None]:
    """The variant auto would pick on the CPU this process sees, and (under the shim) what CPUID says."""
    from indexer.onnx_export import resolve_variant

    if cpu == "native":
        return resolve_variant("auto"), None
    from bench.embed import shim_state

    seen = shim_state()
    if seen["avx512f"] or seen["avx512_vnni"] or seen["avx_vnni"] or not seen["avx2"]:
        raise SystemExit(f"the CPUID shim is not in effect: {seen}")
    flags = [name for name in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if seen[name]]
    fake = work / "cpuinfo-seen"
    fake.write_text("flags\t\t: " + " ".join(flags) + "\n", encoding="utf-8")
    return resolve_variant("auto", fake), seen


def child(args: argparse.Namespace) -> None:
    """One cold build in this process; its figures as the last line of stdout."""
    from indexer.build import BuildConfig, build_index, load_embedder

    load_at_start = os.getloadavg()
    auto, seen = _auto_here(args.cpu, args.index_dir.parent)
    config = BuildConfig(sources=(args.corpus,), index_dir=args.index_dir, embedder=args.variant,
                         model_cache=args.model_cache, progress=False)
    if (args.index_dir / "CURRENT").exists():
        raise SystemExit(f"{args.index_dir} already holds an index: a cold build needs an empty folder")
    wall0, cpu0 = time.perf_counter(), _cpu_seconds()
    embedder = load_embedder(config)  # inside the timed span, as build_index's own "model" stage would be
    spent = {"wall": 0.0, "cpu": 0.0, "texts": 0}
    encode = embedder.encode

    def timed_encode(texts, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
        w, c = time.perf_counter(), _cpu_seconds()
        try:
            return encode(texts, *a, **k)
        finally:
            spent["wall"] += time.perf_counter() - w
            spent["cpu"] += _cpu_seconds() - c
            spent["texts"] += len(texts)

    embedder.encode = timed_encode
    load_s = time.perf_counter() - wall0
    report = build_index(config, embedder)
    wall, cpu = time.perf_counter() - wall0, _cpu_seconds() - cpu0
    stages = {"model": round(load_s, 3), **{k: v for k, v in report.timings.items() if k != "model"}}
    result = {
        "cpu": args.cpu, "variant": args.variant, "auto_picks": auto, "cpuid_seen": seen,
        "loadavg_at_start": [round(x, 2) for x in load_at_start],
        "stories": args.stories, "articles": report.articles, "passages": report.passages, "skipped": report.skipped,
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "stories_per_s": round(report.articles / wall, 2),
        "passages_per_s": round(report.passages / wall, 1),
        "embedding": {"wall_s": round(spent["wall"], 2), "cpu_s": round(spent["cpu"], 2), "texts": spent["texts"],
                      "wall_share": round(spent["wall"] / wall, 3), "cpu_share": round(spent["cpu"] / cpu, 3)},
        "stages_wall_s": stages,
        "embeddings": report.embeddings, "sentence_embeddings": report.sentence_embeddings,
        "cpuid_traps_after": seen and _traps(),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))


def _traps() -> int:
    from bench.embed import shim_state

    return shim_state()["cpuid_traps"]


def parent(args: argparse.Namespace) -> dict:
    from bench.build import REUTERS, subset
    from bench.embed import build_shim
    from indexer.onnx_export import exported_model

    if not REUTERS.exists():
        raise SystemExit(f"{REUTERS} is missing: put the shared data folder beside the project")
    work = ROOT / "var" / f"bench-buildcpu-{os.getpid()}"
    work.mkdir(parents=True)
    try:
        started = os.getloadavg()
        corpus = work / "reuters.jsonl.gz"
        stories = subset(corpus, args.stories)
        cache = work / "models"
        export_s = {}
        for variant in sorted({v for _, v in RUNS}):  # natively, once: a user's model cache, not a build's cost
            began = time.perf_counter()
            exported_model(MODEL, variant, cache)
            export_s[variant] = round(time.perf_counter() - began, 1)
        shim = build_shim(work)
        runs = []
        for cpu, variant in RUNS:
            env = dict(os.environ)
            env.pop("LD_PRELOAD", None)
            if cpu == "avx2":
                env.update(LD_PRELOAD=str(shim), NEWSCLIP_BENCH_AVX2_SHIM="1")
            index_dir = work / f"index-{cpu}-{variant}"
            command = [sys.executable, "-m", "bench.buildcpu", "--child", "--cpu", cpu, "--variant", variant,
                       "--stories", str(stories), "--corpus", str(corpus), "--index-dir", str(index_dir),
                       "--model-cache", str(cache)]
            print(f"{cpu} {variant}: building {stories} stories ...", file=sys.stderr, flush=True)
            began = time.perf_counter()
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                sys.stderr.write(done.stderr)
                raise SystemExit(f"{cpu} {variant}: the child failed ({done.returncode})")
            run = json.loads(done.stdout.strip().splitlines()[-1])
            run["process_wall_s"] = round(time.perf_counter() - began, 2)  # with Python's start and imports
            runs.append(run)
            print(json.dumps(run), file=sys.stderr, flush=True)
            shutil.rmtree(index_dir, ignore_errors=True)
        return {
            "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()} {os.cpu_count()} cores",
            "cpu_model": _cpu_model(), "stories": stories, "loadavg_at_start": [round(x, 2) for x in started],
            "export_s": export_s, "embed_threads": 2, "git": _git(), "runs": runs,
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _git() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


NAMES = {"native": "this CPU (AVX512-VNNI)", "avx2": "AVX2 only (shim)"}


def table(result: dict) -> str:
    lines = ["| CPU kind | variant (auto picks) | stories | passages | wall s | CPU s | stories/s | "
             "embedding share (wall / CPU) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for run in result["runs"]:
        picked = "yes" if run["auto_picks"] == run["variant"] else f"no: {run['auto_picks']}"
        emb = run["embedding"]
        lines.append(f"| {NAMES.get(run['cpu'], run['cpu'])} | {run['variant']} ({picked}) | {run['articles']:,} | "
                     f"{run['passages']:,} | {run['wall_s']} | {run['cpu_s']} | {run['stories_per_s']} | "
                     f"{emb['wall_share']:.0%} / {emb['cpu_share']:.0%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "build-cpu.json")
    parser.add_argument("--table", type=Path, default=None, help="print the table of a saved run and stop")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cpu", choices=("native", "avx2"), help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model-cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.table:
        print(table(json.loads(args.table.read_text(encoding="utf-8"))))
        return
    result = parent(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    print()
    print(table(result))


if __name__ == "__main__":
    main()
