"""Speed at scale: generate a scaled Reuters index of N passages, then measure it (library, HTTP, QPS, RSS).

python -m bench.scale generate --passages 1000000 --out var/scale-1m [--json bench/results/scale-1m-build.json]
python -m bench.scale measure --index var/scale-1m [--rank-bm25] [--out bench/results/scale-1m.json]
python -m bench.scale probe --passages 300000 --sigma 0.0128 0.025   # HNSW recall vs replication noise
python -m bench.scale table     # the saved figures of 10k, 100k and 1m as one markdown table
python -m bench.scale recall --index var/scale-1m [--ef 128 256 512 1024] [--out bench/results/scale-1m-recall.json]

NOTE: replicated passages reuse the embeddings of the real passages of the first 17,000 Reuters stories (embedded
once with the production embedder, cached in var/scale-base), each perturbed with Gaussian noise and renormalized
(cosine ~0.97 to the original); nothing is embedded for the replicas.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.common import REUTERS, ROOT, figures, percentile  # noqa: F401 (re-exported for bench.scalerss)
NOTE = ("replicated passages reuse the embeddings of the real passages of the base Reuters stories, perturbed with "
        "Gaussian noise and renormalized (cosine ~0.97 to the original); no replica was embedded")


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def cmd_generate(args: argparse.Namespace) -> None:
    from .scalegen import generate, load_base, write_index

    timings: dict[str, float] = {}
    t = time.perf_counter()
    base = load_base()
    timings["base_load"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    scaled = generate(base, args.passages, sigma=args.sigma)
    timings["generation"] = round(time.perf_counter() - t, 2)
    print(f"generated {len(scaled.articles)} articles, {len(scaled.passages)} passages, "
          f"{len(scaled.sentences)} sentences in {timings['generation']} s ({NOTE})", flush=True)
    began = time.perf_counter()
    final = write_index(scaled, args.out, base.model, base.max_tokens, timings, args.sigma, args.faiss_threads,
                        model_folder=base.model_folder, base_stories=len(base.articles))
    timings["write_total"] = round(time.perf_counter() - began, 2)
    sizes = {}
    for p in sorted(final.iterdir()):
        sizes[p.name] = dir_bytes(p) if p.is_dir() else p.stat().st_size
    result = {
        "passages": len(scaled.passages), "articles": len(scaled.articles), "sentences": len(scaled.sentences),
        "index": str(args.out), "build": final.name, "stages_s": timings, "bytes": dir_bytes(final),
        "bytes_by_file": sizes, "dense": json.loads((final / "manifest.json").read_text())["dense"]["type"],
        "sigma": args.sigma, "note": NOTE, "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "base": {"articles": len(base.articles), "passages": sum(len(p) for p in base.passages),
                 "sentences": sum(len(x) for x in base.sentences), "model": base.model},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


# -- library -----------------------------------------------------------------------------------------------------


def library(index: Path, asked: list[str], rank_bm25: bool, recall_queries: int) -> dict:
    import faiss
    import numpy as np

    from search.dense import search_dense
    from search.engine import SearchEngine
    from search.models import SearchRequest
    from search.query import parse_question

    t = time.perf_counter()
    engine = SearchEngine.open(index, embed_threads=1)  # as the server runs
    faiss.omp_set_num_threads(1)
    out: dict = {"open_s": round(time.perf_counter() - t, 2), "dense_index": engine.manifest["dense"]["type"]}
    modes = {}
    for mode in ("bm25", "dense", "hybrid"):
        engine.vectors.clear()
        took, wall = [], []
        for q in asked:
            b = time.perf_counter()
            took.append(engine.search(SearchRequest(q, mode=mode)).took_ms)
            wall.append((time.perf_counter() - b) * 1000)
        modes[mode] = {"took": figures(took), "wall": figures(wall)}
    took = [engine.search(SearchRequest(q)).took_ms for q in asked]
    modes["hybrid_cached_vectors"] = {"took": figures(took)}
    out["modes"] = modes

    # the BM25 leg alone, on the engine's own tokens
    token_lists = [list(parse_question(q).tokens) for q in asked]
    times = []
    for toks in token_lists:
        b = time.perf_counter()
        engine.bm25.top_k(toks, 10)
        times.append((time.perf_counter() - b) * 1000)
    out["bm25_leg_top10"] = figures(times)
    times = []
    for toks in token_lists:
        b = time.perf_counter()
        engine.bm25.search(toks, engine.settings.window)
        times.append((time.perf_counter() - b) * 1000)
    out["bm25_leg_window100"] = figures(times)

    # the dense leg alone, and recall@10 against an exact flat search over the same vectors
    qv = np.stack([engine.vectors.get(q) for q in asked])
    ef = int(engine.manifest["dense"].get("ef_search", 128))
    for k, label in ((10, "dense_leg_top10"), (engine.settings.window, "dense_leg_window100")):
        times = []
        for v in qv:
            b = time.perf_counter()
            search_dense(engine.dense, v, k, ef_search=ef)
            times.append((time.perf_counter() - b) * 1000)
        out[label] = figures(times)
    if isinstance(engine.dense, faiss.IndexHNSW):
        xb = engine.dense.reconstruct_n(0, engine.dense.ntotal)  # the stored (fp16-rounded) vectors HNSW walks
        flat = faiss.IndexFlatIP(engine.dense.d)
        flat.add(xb)
        faiss.omp_set_num_threads(2)
        exact_s, exact = flat.search(qv[:recall_queries], 10)
        faiss.omp_set_num_threads(1)
        recalls, tied = [], []
        for v, truth, es in zip(qv[:recall_queries], exact, exact_s):
            rows, _ = search_dense(engine.dense, v, 10, ef_search=ef)
            recalls.append(len(set(rows.tolist()) & set(truth.tolist())) / 10)
            tied.append(float(np.sum(xb[rows] @ v >= es[9] - 1e-6)) / 10)  # ties with the 10th count as right
        out["dense_recall_at_10"] = {"mean": round(float(np.mean(recalls)), 4), "min": min(recalls),
                                     "ties_counted": round(float(np.mean(tied)), 4),
                                     "queries": len(recalls), "ef_search": ef, "truth": "IndexFlatIP, same vectors"}
        times = []
        for v in qv[:30]:
            b = time.perf_counter()
            flat.search(v.reshape(1, -1), 10)
            times.append((time.perf_counter() - b) * 1000)
        out["exact_flat_top10_1thread"] = figures(times)
        del flat, xb
    else:
        out["dense_recall_at_10"] = {"mean": 1.0, "note": "flat index: exact by construction"}

    if rank_bm25:
        out["rank_bm25"] = versus_rank_bm25(engine, token_lists[:20])
    engine.close()
    del engine
    gc.collect()
    return out


def versus_rank_bm25(engine, token_lists: list[list[str]]) -> dict:
    """Same tokens, same corpus: top-10 of BM25Index.top_k vs rank_bm25.BM25Okapi, both timed per query."""
    import numpy as np
    from rank_bm25 import BM25Okapi

    from search.text import tokenize

    import sqlite3

    con = sqlite3.connect(engine.build_dir / "store.sqlite")
    titles = dict(con.execute("SELECT row, title FROM articles"))
    corpus = []
    for art, text in con.execute("SELECT article_row, text FROM passages ORDER BY row"):
        title = titles.get(art)
        corpus.append(tokenize(f"{title}\n{text}" if title else text))
    con.close()
    t = time.perf_counter()
    p = engine.bm25.params  # the index's own k1, b and epsilon: rank_bm25's defaults differ from ours
    okapi = BM25Okapi(corpus, k1=p.k1, b=p.b, epsilon=p.epsilon)
    build_s = time.perf_counter() - t
    del corpus
    same, theirs, ours = 0, [], []
    for toks in token_lists:
        b = time.perf_counter()
        scores = okapi.get_scores(toks)
        top = np.lexsort((np.arange(scores.size), -scores))[:10]
        top = [int(i) for i in top if scores[i] > 0]
        theirs.append((time.perf_counter() - b) * 1000)
        b = time.perf_counter()
        rows, _ = engine.bm25.top_k(toks, 10)
        ours.append((time.perf_counter() - b) * 1000)
        same += rows.tolist() == top
    mt, mo = statistics.median(theirs), statistics.median(ours)
    return {"queries": len(token_lists), "same_top10": same, "rank_bm25": figures(theirs), "ours": figures(ours),
            "speedup_median": round(mt / mo, 1), "rank_bm25_build_s": round(build_s, 1)}


# -- HTTP --------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            name, value = line.split(":")
            out[name] = int(value.split()[0])
    return out


class Client:
    def __init__(self, port: int) -> None:
        self.con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def search(self, q: str, mode: str) -> float:
        path = "/api/search?" + urllib.parse.urlencode({"q": q, "mode": mode})
        b = time.perf_counter()
        self.con.request("GET", path)
        resp = self.con.getresponse()
        body = resp.read()
        ms = (time.perf_counter() - b) * 1000
        if resp.status != 200:
            raise RuntimeError(f"{resp.status}: {body[:200]!r}")
        return ms


def load(port: int, queries: list[str], threads: int, max_s: float) -> dict:
    """`threads` clients share a list of requests; stops when done or after max_s seconds."""
    lock = threading.Lock()
    it = iter(queries)
    times: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + max_s

    def worker() -> None:
        client = Client(port)
        while time.perf_counter() < deadline:
            with lock:
                q = next(it, None)
            if q is None:
                return
            try:
                ms = client.search(q, "hybrid")
            except Exception as exc:  # noqa: BLE001 - count and go on
                errors.append(str(exc)[:100])
                client = Client(port)
                continue
            with lock:
                times.append(ms)

    began = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    seconds = time.perf_counter() - began
    return {"requests": len(times), "errors": len(errors), "seconds": round(seconds, 2),
            "qps": round(len(times) / seconds, 1), "latency": figures(times) if times else None,
            "timed_out": len(times) + len(errors) < len(queries)}


@contextlib.contextmanager
def serving(index: Path, log_path: Path | None = None) -> Iterator[tuple[subprocess.Popen, int, float]]:
    """`python -m web` on a free loopback port, up and answering /healthz; stopped on exit. Yields (proc, port, s)."""
    port = free_port()
    log = open(log_path or ROOT / "var" / f"scale-web-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "web", "--index", str(index), "--port", str(port), "--threads", "8"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        t = time.perf_counter()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited {proc.returncode}; see {log.name}")
            try:
                con = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                con.request("GET", "/healthz")
                if con.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.perf_counter() - t > 600:
                raise RuntimeError("server did not start in 600 s")
            time.sleep(0.5)
        yield proc, port, round(time.perf_counter() - t, 1)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def http_bench(index: Path, asked: list[str], extra: list[str], distinct: list[str], requests_n: int,
               max_s: float) -> dict:
    import numpy as np

    with serving(index) as (proc, port, startup_s):
        out: dict = {"port": port, "server": "python -m web (waitress, 8 threads)", "pid": proc.pid}
        out["startup_s"] = startup_s
        out["rss_after_start_kib"] = rss_kib(proc.pid)
        client = Client(port)
        for q in ["warm up one", "warm up two"] + asked[:5]:  # not counted; note asked[:5] vectors get cached
            client.search(q, "bm25")
        for q in ["warm up one", "warm up two"]:
            client.search(q, "hybrid")
        out["rss_after_warmup_kib"] = rss_kib(proc.pid)
        modes = {}
        modes["bm25"] = figures([client.search(q, "bm25") for q in asked])
        modes["hybrid_uncached"] = figures([client.search(q, "hybrid") for q in asked[5:]])
        modes["dense_uncached"] = figures([client.search(q, "dense") for q in extra])
        modes["hybrid_cached_vectors"] = figures([client.search(q, "hybrid") for q in asked])
        out["sequential"] = modes
        rng = np.random.default_rng(1)
        ranks = np.arange(1, len(asked) + 1)
        p = 1 / ranks
        p /= p.sum()
        zipf = [asked[i] for i in rng.choice(len(asked), size=requests_n, p=p)]
        out["qps_zipf_8_clients"] = {**load(port, zipf, 8, max_s),
                                     "traffic": f"{requests_n} hybrid requests drawn Zipf(s=1) over {len(asked)} "
                                                "questions (repeats hit the query-vector LRU)"}
        out["qps_distinct_8_clients"] = {**load(port, distinct, 8, max_s),
                                         "traffic": f"{len(distinct)} distinct hybrid questions (every one embedded)"}
        out["rss_after_load_kib"] = rss_kib(proc.pid)
    return out


def cmd_measure(args: argparse.Namespace) -> None:
    from search.layout import current_build, read_manifest

    from .scalegen import add_empty_quotes

    from .questions import questions

    build = current_build(args.index)
    if add_empty_quotes(build):
        print(f"{build}: generated without a quotation index; an empty one was added", flush=True)
    manifest = read_manifest(build)
    pool = questions(REUTERS, 100 + 100 + args.distinct)
    asked, extra, distinct = pool[:100], pool[100:200], pool[200:]
    result: dict = {
        "index": str(args.index), "passages": manifest["counts"]["passages"], "articles": manifest["counts"]["articles"],
        "dense_index": manifest["dense"], "build_stages_s": manifest["timings"], "bytes": dir_bytes(build),
        "note": NOTE, "machine": f"{platform.machine()} {os.cpu_count()} cores (shared)",
        "queries": "bench/questions.py: 30 hand-written + headlines of the Reuters stories held out of the base",
        "loadavg_at_start": os.getloadavg(),
    }
    if not args.skip_library:
        result["library"] = library(args.index, asked, args.rank_bm25, args.recall_queries)
        print(json.dumps(result["library"], indent=2), flush=True)
    if not args.skip_http:
        result["http"] = http_bench(args.index, asked, extra, distinct, args.requests, args.max_seconds)
    result["loadavg_at_end"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


def cmd_recall(args: argparse.Namespace) -> None:
    """Dense recall@10 of the HNSW graph vs an exact IndexFlatIP over the same vectors, for several efSearch,
    also counted by base passage (a replica of the same real passage counts as the same answer)."""
    import sqlite3

    import faiss
    import numpy as np

    from search.dense import load_dense, search_dense
    from search.embed import load_index_embedder
    from search.layout import current_build, read_manifest

    from .questions import questions

    build = current_build(args.index)
    manifest = read_manifest(build)
    n, d = manifest["counts"]["passages"], manifest["model"]["dimension"]
    index = load_dense(build / "dense.faiss", d, n)
    embedder = load_index_embedder(build, manifest["model"])
    faiss.omp_set_num_threads(1)
    qv = embedder.encode(questions(REUTERS, args.queries))
    xb = index.reconstruct_n(0, n)  # exact search over the stored (fp16-rounded) vectors: what HNSW walks
    flat = faiss.IndexFlatIP(d)
    flat.add(xb)
    faiss.omp_set_num_threads(2)
    exact_s, exact = flat.search(qv, 10)
    faiss.omp_set_num_threads(1)
    del flat
    con = sqlite3.connect(build / "store.sqlite")
    ident = {}
    wanted = sorted({int(r) for r in exact.ravel()})
    result: dict = {"index": str(args.index), "passages": n, "queries": len(qv), "note": NOTE, "ef": {}}
    rows_by_ef = {}
    for ef in args.ef:
        times, rec, found = [], [], []
        for v, truth in zip(qv, exact):
            b = time.perf_counter()
            rows, scores = search_dense(index, v, 10, ef_search=ef)
            times.append((time.perf_counter() - b) * 1000)
            rec.append(len(set(rows.tolist()) & set(truth.tolist())) / 10)
            found.append((rows, scores))
        tied = []  # a row scoring as high as the exact 10th is an equally right answer (duplicate stories)
        for (rows, scores), es in zip(found, exact_s):
            exact_scores = xb[rows] @ qv[len(tied)] if len(rows) else np.zeros(0)
            tied.append(float(np.sum(exact_scores >= es[9] - 1e-6)) / 10)
        rows_by_ef[ef] = found
        wanted += [int(r) for rows, _ in found for r in rows]
        gaps = [float(es[9] - sc[-1]) if len(sc) == 10 else 1.0 for (rows, sc), es in zip(found, exact_s)]
        result["ef"][ef] = {"recall_at_10": round(float(np.mean(rec)), 4), "min": min(rec), "latency": figures(times),
                            "recall_at_10_ties_counted": round(float(np.mean(tied)), 4), "min_ties_counted": min(tied),
                            "tenth_score_gap_median": round(float(np.median(gaps)), 4)}
    for r in sorted(set(wanted)):
        aid, ordinal = con.execute(
            "SELECT a.id, p.ordinal FROM passages p JOIN articles a ON a.row = p.article_row WHERE p.row = ?", (r,)
        ).fetchone()
        ident[r] = (aid.split("-r")[0], ordinal)
    for ef, found in rows_by_ef.items():
        base_rec = []
        for (rows, _), truth in zip(found, exact):
            t = {ident[int(x)] for x in truth}
            base_rec.append(len(t & {ident[int(x)] for x in rows}) / len(t))
        result["ef"][ef]["base_passage_recall"] = round(float(np.mean(base_rec)), 4)
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


def cmd_table(args: argparse.Namespace) -> None:
    """One markdown table of the saved figures per size (bench/results/scale-*.json)."""
    rows = []
    for label in args.sizes:
        build = json.loads((args.results / f"scale-{label}-build.json").read_text())
        got = json.loads((args.results / f"scale-{label}.json").read_text())
        lib, web = got["library"], got["http"]
        st = build["stages_s"]
        f = lambda d: f"{d['median_ms']} / {d['p95_ms']}"  # noqa: E731
        rec = lib["dense_recall_at_10"]["mean"]
        rb = lib.get("rank_bm25")
        rows.append([
            label, f"{build['passages']:,}", got["dense_index"]["type"],
            " / ".join(f"{st[k]}" for k in ("generation", "tokenize_bm25", "faiss", "sqlite", "columns", "publish")),
            f"{build['bytes'] / 2**30:.2f}",
            f"{web['rss_after_warmup_kib']['VmRSS'] / 2**20:.2f} / {web['rss_after_load_kib']['VmRSS'] / 2**20:.2f}",
            f(lib["modes"]["bm25"]["took"]), f(lib["modes"]["dense"]["took"]), f(lib["modes"]["hybrid"]["took"]),
            f(lib["modes"]["hybrid_cached_vectors"]["took"]),
            f(web["sequential"]["bm25"]), f(web["sequential"]["dense_uncached"]),
            f(web["sequential"]["hybrid_uncached"]), f(web["sequential"]["hybrid_cached_vectors"]),
            f"{web['qps_zipf_8_clients']['qps']} / {web['qps_distinct_8_clients']['qps']}",
            f(lib["bm25_leg_top10"]), f(lib["dense_leg_top10"]), f"{rec}",
            f"{rb['same_top10']}/{rb['queries']}, {rb['speedup_median']}x" if rb else "-",
            f"{got['loadavg_at_start'][0]:.1f} / {got['loadavg_at_end'][0]:.1f}",
        ])
    head = ["size", "passages", "dense index", "build s: generation / tokenize+BM25 / FAISS / SQLite / columns / publish",
            "disk GiB", "server RSS GiB: warm / after load", "lib bm25 ms (median / p95)", "lib dense", "lib hybrid",
            "lib hybrid, cached vector", "HTTP bm25", "HTTP dense", "HTTP hybrid", "HTTP hybrid, cached vector",
            "HTTP hybrid QPS, 8 clients: Zipf / distinct", "BM25 leg top-10", "dense leg top-10", "dense recall@10",
            "rank_bm25: same top-10, speed-up", "load average start / end"]
    lines = ["| figure | " + " | ".join(r[0] for r in rows) + " |", "|---|" + "---:|" * len(rows)]
    lines += [f"| {name} | " + " | ".join(r[i] for r in rows) + " |" for i, name in enumerate(head[1:], 1)]
    table = "\n".join(lines) + "\n"
    print(table, end="")
    (args.results / "scale.md").write_text(
        "# Scale benchmark\n\nWritten by `python -m bench.scale table` from `bench/results/scale-*.json`; "
        "latencies in ms, median / p95. Write-up: `docs/scale.md`. Plot: `scale.png`.\n\n" + table)
    plot(args.results, args.sizes, args.results / "scale.png")
    print(f"wrote {args.results / 'scale.md'} and {args.results / 'scale.png'}")


PLOTTED = (  # (label, section, key): medians drawn against corpus size
    ("library bm25", "library", "bm25"), ("library dense", "library", "dense"),
    ("library hybrid", "library", "hybrid"), ("HTTP bm25", "http", "bm25"),
    ("HTTP dense", "http", "dense_uncached"), ("HTTP hybrid", "http", "hybrid_uncached"),
    ("HTTP hybrid, cached vector", "http", "hybrid_cached_vectors"),
)


def plot(results: Path, sizes: list[str], out: Path) -> None:
    """Median latency (p95 as a thin line) against passages, one line per mode, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, runs = [], []
    for label in sizes:
        xs.append(json.loads((results / f"scale-{label}-build.json").read_text())["passages"])
        runs.append(json.loads((results / f"scale-{label}.json").read_text()))
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for (name, section, key), color in zip(PLOTTED, plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        pick = (lambda r: r["library"]["modes"][key]["took"]) if section == "library" else (
            lambda r: r["http"]["sequential"][key])
        style = "-" if section == "http" else "--"
        ax.plot(xs, [pick(r)["median_ms"] for r in runs], style, marker="o", color=color, label=name)
        ax.plot(xs, [pick(r)["p95_ms"] for r in runs], ":", color=color, linewidth=0.8)
    ax.axhline(25, color="grey", linewidth=0.8)
    ax.text(xs[0], 26, "target: hybrid over HTTP, median 25 ms", fontsize=8, color="grey")
    ax.set(xscale="log", yscale="log", xlabel="passages", ylabel="ms (median; dotted: p95)",
           title="Newsclip search latency against corpus size (2 cores)")
    ax.set_xticks(xs, [f"{x:,}" for x in xs])
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def cmd_probe(args: argparse.Namespace) -> None:
    """HNSW recall@10 vs exact on vectors only (no index dir): how much the replication noise drives the misses."""
    import faiss
    import numpy as np

    from search.dense import DenseConfig, build_dense, search_dense
    from search.embed import OnnxEmbedder

    from .questions import questions
    from .scalegen import load_base

    base = load_base()
    pv = np.concatenate(base.passage_vectors)
    qv = OnnxEmbedder(base.model_folder).encode(questions(REUTERS, args.queries))
    result = {"passages": args.passages, "note": NOTE, "runs": {}}
    for sigma in args.sigma:
        rng = np.random.default_rng(0)
        reps = -(-args.passages // len(pv))
        xb = np.concatenate([pv] + [pv + rng.standard_normal(pv.shape, dtype=np.float32) * np.float32(sigma)
                                    for _ in range(reps - 1)])[: args.passages]
        xb /= np.linalg.norm(xb, axis=1, keepdims=True)
        cos = float(np.mean(np.sum(xb[len(pv): 2 * len(pv)] * pv, axis=1))) if reps > 1 else 1.0
        faiss.omp_set_num_threads(2)
        t = time.perf_counter()
        index, _ = build_dense(xb, DenseConfig(kind="hnsw"))
        build_s = time.perf_counter() - t
        flat = faiss.IndexFlatIP(xb.shape[1])
        flat.add(xb)
        _, exact = flat.search(qv, 10)
        faiss.omp_set_num_threads(1)
        run = {"mean_cos_to_original": round(cos, 4), "hnsw_build_s": round(build_s, 1)}
        for ef in args.ef:
            rec, times = [], []
            for v, truth in zip(qv, exact):
                b = time.perf_counter()
                rows, _ = search_dense(index, v, 10, ef_search=ef)
                times.append((time.perf_counter() - b) * 1000)
                rec.append(len(set(rows.tolist()) & set(truth.tolist())) / 10)
            run[f"ef{ef}"] = {"recall_at_10": round(float(np.mean(rec)), 4), "min": min(rec), "latency": figures(times)}
        result["runs"][str(sigma)] = run
        print(json.dumps({sigma: run}), flush=True)
        del index, flat, xb
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--passages", type=int, required=True)
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--sigma", type=float, default=0.0128)
    g.add_argument("--faiss-threads", type=int, default=2)
    g.add_argument("--json", type=Path, default=None)
    m = sub.add_parser("measure")
    m.add_argument("--index", type=Path, required=True)
    m.add_argument("--rank-bm25", action="store_true", help="also time rank_bm25.BM25Okapi on 20 queries")
    m.add_argument("--recall-queries", type=int, default=100)
    m.add_argument("--requests", type=int, default=800)
    m.add_argument("--distinct", type=int, default=300)
    m.add_argument("--max-seconds", type=float, default=40)
    m.add_argument("--skip-library", action="store_true")
    m.add_argument("--skip-http", action="store_true")
    m.add_argument("--out", type=Path, default=None)
    r = sub.add_parser("recall")
    r.add_argument("--index", type=Path, required=True)
    r.add_argument("--queries", type=int, default=100)
    r.add_argument("--ef", type=int, nargs="+", default=[128, 256, 512, 1024])
    r.add_argument("--out", type=Path, default=None)
    pr = sub.add_parser("probe")
    pr.add_argument("--passages", type=int, default=300_000)
    pr.add_argument("--sigma", type=float, nargs="+", default=[0.0128, 0.025])
    pr.add_argument("--ef", type=int, nargs="+", default=[128, 512])
    pr.add_argument("--queries", type=int, default=100)
    pr.add_argument("--out", type=Path, default=None)
    t = sub.add_parser("table")
    t.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    t.add_argument("--sizes", nargs="+", default=["10k", "100k", "1m"])
    args = parser.parse_args()
    {"generate": cmd_generate, "measure": cmd_measure, "recall": cmd_recall, "table": cmd_table, "probe": cmd_probe}[args.cmd](args)


if __name__ == "__main__":
    main()
