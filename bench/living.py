"""The living archive at scale: what `indexer add` and `indexer delete` cost on the 1M-passage scale corpus, how soon a
running server shows them, what reloading a commit and merging cost, and hybrid latency over HTTP by segments.

    python -m bench.living --scale var/scale-1m --work var/living-1m --out bench/results/living.json

The scale corpus (`python -m bench.scale generate --passages 1000000 --out var/scale-1m`, made first when absent)
is never written to: the bench works on a clone in --work (large files no writer rewrites are hard links, the
store a delete purges is copied; the generator writes no quotation index, so the clone gets an empty one),
removed at the end unless --keep. Against one `python -m web --index <clone> --host 127.0.0.1` (8 threads, reload
checks every 0.25 s), after 100 warm-up questions:

1. hybrid HTTP latency with 1 segment (100 questions never asked before, then 100 asked again: cached vectors),
   and on the build alone the new questions of every later row too (sets of headlines differ in cost by up to
   40 %: each row is compared with the build on its own questions; a commit's engine starts with an empty
   vector cache, so they are new again to it);
2. `indexer add` of 1 article 20 times, of 100 articles 10 times, of 1,000 articles 3 times, as people run it
   (each exit may start a background `indexer merge`): acknowledgement is the command's exit 0; searchable is
   the first moment /api/articles/<id> answers 200 (polled every 10 ms from the exit on), and a BM25 search for
   the article's title is checked to return it;
3. `indexer delete` of 1 base article 10 times and of 100 base articles 5 times: exit 0, then until 404;
4. once the background merges are done, single-article adds in this process (`apply_journaled` with the model
   loaded, as `indexer follow` and the ingest API commit; no merge started) up to 10 and then 30 segments,
   with latency at each;
5. the merge policy's merges of those segments, timed, then the 1M base rewritten alone (an expunge of its
   deletes), with latency after each; every merged segment's own manifest gives its stage timings (background
   merges included), reported by tier;
6. after every commit, the cost of opening it in this process as the server does (`SearchEngine.open_build`
   with the previous engine's segment readers and model): the server's reload cost per commit.

New articles are Reuters-21578 stories the scale corpus does not hold (it has the first 17,000 with a body)
whose headlines are not among the questions; once used up they come again under new ids, so the index's
embedding cache is emptied before every add: every add embeds all of its articles.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from .common import REUTERS, ROOT, figures, held_out_from, percentile  # noqa: E402
from .scalegen import add_empty_quotes  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
LINKED = ("bm25", "columns", "dense.faiss", "model", "quotes")  # written once, never rewritten: hard-linked
TARGET_MS = {"median": 25, "p95": 60}  # hybrid over HTTP at 1M passages (docs/scale.md)


# -- the clone ------------------------------------------------------------------------------------------------------


def clone_index(src: Path, dst: Path) -> None:
    """A private copy of an index: big write-once files hard-linked, everything else copied (the store, which
    a delete purges in place; the manifest; CURRENT)."""
    if dst.exists():
        shutil.rmtree(dst)
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        target = dst / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if len(rel.parts) >= 3 and rel.parts[0] == "builds" and rel.parts[2] in LINKED:
            os.link(path, target)
        else:
            shutil.copy2(path, target)


# -- articles and questions ---------------------------------------------------------------------------------------


def new_stories(avoid_titles: set[str]) -> list[dict]:
    """Reuters stories with a body that the scale corpus does not hold, whose headlines are no question."""
    start = held_out_from()
    out = []
    with gzip.open(REUTERS, "rt", encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            if i < start:
                continue
            story = json.loads(line)
            title = (story.get("title") or "").strip()
            if (story.get("body") or "").strip() and title.capitalize() not in avoid_titles:
                out.append(story)
    return out


class Stories:
    """Hands out new articles: each story once under its own id, then again under `<id>-again<k>` ids."""

    def __init__(self, stories: list[dict]) -> None:
        self.stories, self.next, self.round = stories, 0, 0

    def take(self, n: int) -> list[dict]:
        out = []
        for _ in range(n):
            if self.next == len(self.stories):
                self.next, self.round = 0, self.round + 1
            story = dict(self.stories[self.next])
            self.next += 1
            if self.round:
                story["id"] = f"{story['id']}-again{self.round}"
            out.append(story)
        return out


# -- HTTP -------------------------------------------------------------------------------------------------------


def status_of(base: str, path: str) -> int:
    try:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def article_path(article_id: str) -> str:
    return "/api/articles/" + urllib.parse.quote(article_id, safe="")


def wait_for(base: str, article_id: str, want: int, timeout: float = 300, poll: float = 0.01) -> float | None:
    """Seconds until /api/articles/<id> answers `want` (200: searchable, 404: gone), or None."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if status_of(base, article_path(article_id)) == want:
            return time.perf_counter() - began
        time.sleep(poll)
    return None


def found_by_search(base: str, article_id: str, question: str) -> bool | str:
    """Whether a BM25 search for the article's title (or opening words) returns it in the top 50."""
    url = "/api/search?" + urllib.parse.urlencode({"q": question, "mode": "bm25", "k": 50})
    try:
        with urllib.request.urlopen(base + url, timeout=60) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return f"{exc.code}: {exc.read()[:200]!r}"
    return any(h.get("article_id") == article_id for h in body.get("hits", []))


def latency(port: int, fresh: list[str], repeated: list[str]) -> dict:
    """Hybrid over HTTP, one client: questions never asked (embedded per request), then ones asked before."""
    from .scale import Client

    client = Client(port)
    for q in ("warm up one", "warm up two"):
        client.search(q, "hybrid")
    out = {"hybrid_uncached": figures([client.search(q, "hybrid") for q in fresh])}
    for q in repeated:  # make sure they are cached (the first round may not be)
        client.search(q, "hybrid")
    out["hybrid_cached_vectors"] = figures([client.search(q, "hybrid") for q in repeated])
    out["bm25"] = figures([client.search(q, "bm25") for q in repeated])
    out["loadavg"] = os.getloadavg()
    return out


# -- writes -----------------------------------------------------------------------------------------------------


def empty_embedding_cache(index: Path) -> None:
    from indexer.build import EMBED_CACHE
    from search.layout import CACHE

    for path in (index / CACHE).glob(f"{EMBED_CACHE}*"):
        path.unlink()


def cli(*args: str) -> tuple[float, dict]:
    """One `python -m indexer ...` run: seconds to its exit 0 (the acknowledgement) and its --json output."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "indexer", *args, "--json"], cwd=ROOT, env=ENV,
                          capture_output=True, text=True)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"indexer {args[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    return took, json.loads(done.stdout)


class Reloads:
    """The server's reload of one commit, repeated in this process: `SearchEngine.open_build` of the build's newest
    commit with the previous engine's segment readers and model (what web's opener does)."""

    def __init__(self, index: Path) -> None:
        from search.engine import SearchEngine
        from search.layout import current_build

        began = time.perf_counter()
        self.build = current_build(index)
        self.engine = SearchEngine.open_build(self.build, embed_threads=1)
        self.first_open_s = round(time.perf_counter() - began, 2)
        self.costs: list[dict] = []

    def reload(self, label: str) -> float:
        from search.engine import SearchEngine

        prev = self.engine
        began = time.perf_counter()
        engine = SearchEngine.open_build(self.build, embedder=prev.embedder, manifest=prev.manifest,
                                         segments=prev.segments)
        took = time.perf_counter() - began
        prev.close()
        self.engine = engine
        self.costs.append({"after": label, "seconds": round(took, 3), "segments": len(engine.commit.segments)})
        return took

    def close(self) -> None:
        self.engine.close()


def segment_timings(build: Path, generation: int) -> dict | None:
    """The stage timings the new segment's manifest records (chunk, embed, quotes, ...)."""
    from search.layout import MANIFEST

    path = build / "segments" / f"seg-{generation:08d}" / MANIFEST
    if not path.is_file():
        return None
    return {k: round(float(v), 3) for k, v in json.loads(path.read_text(encoding="utf-8"))["timings"].items()}


def add_once(index: Path, base: str, work: Path, stories: list[dict], reloads: Reloads, label: str) -> dict:
    """`indexer add` of `stories`; seconds to exit 0, then until the server answers 200 for one of them."""
    from indexer.sources.jsonl import parse_record

    source = work / "add.jsonl"
    source.write_text("".join(json.dumps(s) + "\n" for s in stories), encoding="utf-8")
    empty_embedding_cache(index)
    probe = parse_record(stories[-1], "probe")[0]
    ack_s, report = cli("add", "--source", str(source), "--index", str(index))
    visible_s = wait_for(base, probe.id, 200)
    question = probe.title or " ".join(probe.text.split()[:12])
    searchable = found_by_search(base, probe.id, question) if visible_s is not None else False
    row = {"articles": len(stories), "ack_s": round(ack_s, 3), "commit_s": report["seconds"],
           "visible_after_ack_s": None if visible_s is None else round(visible_s, 3),
           "submit_to_visible_s": None if visible_s is None else round(ack_s + visible_s, 3),
           "found_by_title_search": searchable, "added": report["added"], "segments": report["segments"],
           "generation": report["generation"], "stages_s": segment_timings(reloads.build, report["generation"])}
    row["reload_s"] = round(reloads.reload(label), 3)
    return row


def delete_once(index: Path, base: str, work: Path, ids: list[str], reloads: Reloads, label: str) -> dict:
    source = work / "delete.txt"
    source.write_text("\n".join(ids) + "\n", encoding="utf-8")
    ack_s, report = cli("delete", "--ids-file", str(source), "--index", str(index))
    gone_s = wait_for(base, ids[-1], 404)
    row = {"articles": len(ids), "ack_s": round(ack_s, 3), "commit_s": report["seconds"],
           "gone_after_ack_s": None if gone_s is None else round(gone_s, 3),
           "submit_to_gone_s": None if gone_s is None else round(ack_s + gone_s, 3), "deleted": report["deleted"],
           "segments": report["segments"], "generation": report["generation"], "timings": report["timings"]}
    row["reload_s"] = round(reloads.reload(label), 3)
    return row


def summarize(rows: list[dict], key: str) -> dict | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    if not values:
        return None
    return {"p50": round(statistics.median(values), 3), "p95": round(percentile(values, 0.95), 3),
            "max": round(max(values), 3), "n": len(values)}


def sample_ids(build: Path, n: int, seed: int) -> list[str]:
    """`n` ids of the base's articles, drawn at random (the takedowns)."""
    import random
    import sqlite3

    from search.layout import STORE

    con = sqlite3.connect(f"file:{build / STORE}?mode=ro", uri=True)
    try:
        ids = [r[0] for r in con.execute("SELECT id FROM articles ORDER BY row")]
    finally:
        con.close()
    return random.Random(seed).sample(ids, n)


# -- merges ---------------------------------------------------------------------------------------------------------


class MergeLog:
    """Every merged segment (`segments/seg-<gen>-m`) seen in the build, with what its manifest says it cost."""

    def __init__(self, build: Path) -> None:
        self.build = build
        self.seen: dict[str, dict] = {}

    def scan(self, started_by: str) -> None:
        from search.layout import MANIFEST

        for manifest_path in sorted((self.build / "segments").glob("seg-*-m/" + MANIFEST)):
            name = manifest_path.parent.name
            if name in self.seen:
                continue
            try:
                m = json.loads(manifest_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            self.seen[name] = merge_row(name, m, started_by)


def merge_row(name: str, m: dict, started_by: str) -> dict:
    parts = m.get("merged_from", [])
    return {"segment": name, "started_by": started_by, "segments_merged": len(parts),
            "base_included": any(p["path"] == "." for p in parts),
            "passages_in": sum(p["passages"] for p in parts), "live_passages_in": sum(p["live_passages"] for p in parts),
            "articles_out": m["counts"]["articles"], "passages_out": m["counts"]["passages"],
            "dense": m.get("dense", {}).get("type"), "seconds": m.get("timings", {}).get("total"),
            "timings": m.get("timings", {})}


def tier_of(row: dict) -> str:
    """A merge's tier, by the passages it rewrote (the policy counts segments under 1,000 passages as 1,000)."""
    if row["base_included"]:
        return "base: the 1M-passage build rewritten"
    n = row["passages_in"]
    if n <= 10_000:
        return "small: up to 10k passages"
    if n <= 100_000:
        return "10k to 100k passages"
    return "over 100k passages"


def merge_in_process(index: Path, first: int, last: int) -> tuple[float, dict]:
    """apply_merge of segments first..last of the newest commit, as `indexer merge` runs it (the segment written
    outside the writer lock, published inside it); seconds and the merged segment's manifest row."""
    from indexer.build import BuildConfig
    from indexer.living import writer_lock
    from indexer.merge import apply_merge
    from search.commit import read_commit
    from search.layout import MANIFEST, current_build, read_manifest

    build = current_build(index)
    commit = read_commit(build, int(read_manifest(build)["counts"]["articles"]))
    began = time.perf_counter()
    new = apply_merge(build, commit, first, last, BuildConfig(index_dir=index, progress=False),
                      lock=lambda: writer_lock(index))
    took = time.perf_counter() - began
    old = {r.path for r in commit.segments}
    ref = next(r for r in new.segments if r.path not in old)
    m = json.loads((build / ref.path / MANIFEST).read_text(encoding="utf-8"))
    return took, merge_row(Path(ref.path).name, m, "bench (in process)")


def plan_now(index: Path) -> list[tuple[int, int]]:
    from indexer.merge import segment_sizes
    from indexer.mergepolicy import MergePolicy, plan_merges
    from search.commit import BASE, read_commit
    from search.layout import current_build, read_manifest

    build = current_build(index)
    commit = read_commit(build, int(read_manifest(build)["counts"]["articles"]))
    sizes, shares = segment_sizes(build, commit)
    return plan_merges(sizes, shares, MergePolicy(), has_base=commit.segments[0].path == BASE)


def settle_merges(index: Path, timeout: float = 1800) -> float:
    """Wait until no background merge runs and the policy plans none; seconds waited."""
    from search.layout import current_build

    began = time.perf_counter()
    build = current_build(index)
    while time.perf_counter() - began < timeout:
        if not (build / "merging").exists() and not plan_now(index):
            time.sleep(2)
            if not (build / "merging").exists():
                return time.perf_counter() - began
        time.sleep(1)
    return time.perf_counter() - began


def served(base: str) -> dict:
    with urllib.request.urlopen(base + "/api/index", timeout=30) as response:
        body = json.loads(response.read())
    return {"generation": body["generation"], "segments": body["segments"]}


def wait_generation(base: str, generation: int, timeout: float = 300) -> float | None:
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if served(base)["generation"] >= generation:
            return round(time.perf_counter() - began, 3)
        time.sleep(0.02)
    return None


def add_in_process(index: Path, base: str, stories: list[dict], reloads: Reloads, state: dict) -> dict:
    """One apply_journaled add (as `indexer follow` and the ingest API commit: the model stays loaded) of
    `stories`; no background merge is started. Seconds to return and until the server answers 200."""
    from indexer.build import BuildConfig
    from indexer.living import apply_journaled
    from indexer.sources.jsonl import parse_record

    empty_embedding_cache(index)
    articles = [parse_record(s, "bench")[0] for s in stories]
    began = time.perf_counter()
    report = apply_journaled(index, adds=articles, config=BuildConfig(index_dir=index, progress=False),
                             embedder=state.get("embedder"))
    ack = time.perf_counter() - began
    state["embedder"] = report.embedder or state.get("embedder")
    visible = wait_for(base, articles[-1].id, 200)
    row = {"articles": len(articles), "ack_s": round(ack, 3), "commit_s": round(report.seconds, 3),
           "visible_after_ack_s": None if visible is None else round(visible, 3), "segments": report.segments,
           "generation": report.generation}
    row["reload_s"] = round(reloads.reload("in-process add 1"), 3)
    return row


def served_generation(index: Path) -> int:
    from search.commit import read_commit
    from search.layout import current_build, read_manifest

    build = current_build(index)
    return read_commit(build, int(read_manifest(build)["counts"]["articles"])).generation


# -- the run --------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    from search.layout import current_build, read_manifest

    from .questions import questions
    from .server import rss_mb, serving

    if not (args.scale / "CURRENT").is_file():
        print(f"{args.scale} is absent: generating it ({args.passages:,} passages)", flush=True)
        subprocess.run([sys.executable, "-m", "bench.scale", "generate", "--passages", str(args.passages),
                        "--out", str(args.scale)], cwd=ROOT, env=ENV, check=True)
    began = time.perf_counter()
    clone_index(args.scale, args.work / "index")
    index = args.work / "index"
    clone_s = time.perf_counter() - began
    build = current_build(index)
    patched = add_empty_quotes(build)
    manifest = read_manifest(build)
    pool = questions(REUTERS, 30 + 5 * args.questions)
    fresh_sets = [pool[30 + i * args.questions: 30 + (i + 1) * args.questions] for i in range(5)]
    repeated = pool[: args.questions]
    stories = Stories(new_stories(set(pool)))
    result: dict[str, Any] = {
        "scale_index": str(args.scale), "passages": manifest["counts"]["passages"],
        "articles": manifest["counts"]["articles"], "dense_index": manifest["dense"]["type"],
        "clone_s": round(clone_s, 1), "empty_quote_index_added": patched,
        "new_stories_available": len(stories.stories),
        "machine": f"{platform.machine()} {os.cpu_count()} cores (shared), "
                   f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "loadavg_start": os.getloadavg(),
        "command": "python -m bench.living " + " ".join(sys.argv[1:]),
    }
    base_ids = sample_ids(build, args.deletes_1 + 100 * args.deletes_100, args.seed)
    adds: dict[str, list[dict]] = {"1": [], "100": [], "1000": []}
    deletes: dict[str, list[dict]] = {"1": [], "100": []}
    lat: dict[str, dict] = {}
    merges = MergeLog(build)
    in_process: list[dict] = []
    merges_in_process: list[dict] = []
    state: dict[str, Any] = {}
    reloads = Reloads(index)
    result["engine_first_open_s"] = reloads.first_open_s
    with serving(index, args.work / "server.log", "--threads", "8", env={"NEWSCLIP_RELOAD_INTERVAL": "0.25"},
                 timeout=900) as (base, proc):
        port = int(base.rsplit(":", 1)[1])
        print("server up", flush=True)

        baseline: dict[int, dict] = {}  # the build alone on each question set: rows compare on the same questions

        def measure(label: str, which: int) -> None:
            lat[label] = {**latency(port, fresh_sets[which], repeated), **served(base), "question_set": which}
            if which in baseline:
                lat[label]["same_questions_on_1_segment"] = baseline[which]
            print(f"latency, {label}: {json.dumps(lat[label])}", flush=True)

        warm = time.perf_counter()  # a fresh server on files just written: warm the page cache first
        latency(port, fresh_sets[4], fresh_sets[4])
        result["warm_up_s"] = round(time.perf_counter() - warm, 1)
        measure("1 segment (the build)", 0)
        # question sets differ by up to 40 % in cost, so the build alone answers each later row's set too. Its
        # vectors are cached only in this commit's engine: every commit's engine starts with an empty cache, so
        # the sets are still new questions to the later rows
        for which in (1, 2, 3):
            baseline[which] = latency(port, fresh_sets[which], repeated)["hybrid_uncached"]
        baseline[0] = lat["1 segment (the build)"]["hybrid_uncached"]
        result["baseline_by_question_set"] = baseline

        # `indexer add` and `indexer delete` as people run them: each starts a background merge when the
        # policy has work (indexer.living.merge_in_background), so merges run beside the later writes
        for n, times in ((1, args.adds_1), (100, args.adds_100), (1000, args.adds_1000)):
            for _ in range(times):
                row = add_once(index, base, args.work, stories.take(n), reloads, f"add {n}")
                row["merge_running_after"] = (build / "merging").exists()
                adds[str(n)].append(row)
                merges.scan("indexer add (background)")
                print(f"add {n}: {json.dumps(row)}", flush=True)
        live = list(base_ids)
        for n, times in ((1, args.deletes_1), (100, args.deletes_100)):
            for _ in range(times):
                ids, live = live[:n], live[n:]
                row = delete_once(index, base, args.work, ids, reloads, f"delete {n}")
                deletes[str(n)].append(row)
                merges.scan("indexer delete (background)")
                print(f"delete {n}: {json.dumps(row)}", flush=True)
        result["background_merges_settled_after_s"] = round(settle_merges(index), 1)
        merges.scan("indexer add/delete (background)")
        reloads.reload("background merges")
        result["served_after_cli_writes"] = served(base)

        # 10 and 30 segments: single-article commits in process (as `indexer follow` and the ingest API make
        # them, the model loaded once), which start no merge
        for target, which in ((10, 1), (30, 2)):
            while served(base)["segments"] < target:
                row = add_in_process(index, base, stories.take(1), reloads, state)
                in_process.append(row)
                print(f"in-process add 1: {json.dumps(row)}", flush=True)
            measure(f"{target} segments", which)

        # merges by tier, in process and timed: the policy's plan over the 30 segments, then the base itself
        while args.merge and (ranges := plan_now(index)):
            first, last = ranges[-1]
            took, row = merge_in_process(index, first, last)
            row["wall_s"] = round(took, 2)
            row["served_after_s"] = wait_generation(base, served_generation(index))
            merges_in_process.append(row)
            reloads.reload("merge")
            print(f"merge {first}..{last}: {json.dumps(row)}", flush=True)
        if args.merge:
            measure(f"{served(base)['segments']} segments after the policy's merges", 3)
        if args.merge_base:
            took, row = merge_in_process(index, 0, 0)  # the base, with its deletes: rewritten alone (an expunge)
            row["wall_s"] = round(took, 2)
            row["served_after_s"] = wait_generation(base, served_generation(index))
            merges_in_process.append(row)
            reloads.reload("base merge")
            print(f"base merge: {json.dumps(row)}", flush=True)
            measure(f"{served(base)['segments']} segments after rewriting the base", 3)
        result["server_rss_mb_end"] = round(rss_mb(proc.pid), 1)
    reloads.close()
    result["adds"] = {n: {"ack_s": summarize(rows, "ack_s"), "commit_s": summarize(rows, "commit_s"),
                          "visible_after_ack_s": summarize(rows, "visible_after_ack_s"),
                          "submit_to_visible_s": summarize(rows, "submit_to_visible_s"),
                          "all_found_by_title_search": all(r["found_by_title_search"] is True for r in rows),
                          "runs": rows} for n, rows in adds.items() if rows}
    result["adds_in_process"] = {"ack_s": summarize(in_process, "ack_s"),
                                 "visible_after_ack_s": summarize(in_process, "visible_after_ack_s"),
                                 "runs": in_process}
    result["deletes"] = {n: {"ack_s": summarize(rows, "ack_s"), "commit_s": summarize(rows, "commit_s"),
                             "gone_after_ack_s": summarize(rows, "gone_after_ack_s"),
                             "submit_to_gone_s": summarize(rows, "submit_to_gone_s"), "runs": rows}
                         for n, rows in deletes.items() if rows}
    result["latency_by_segments"] = lat
    result["reload_per_commit_s"] = {"all": summarize(reloads.costs, "seconds"), "runs": reloads.costs}
    by_tier: dict[str, list[dict]] = {}
    for row in [*merges.seen.values(), *merges_in_process]:
        by_tier.setdefault(tier_of(row), []).append(row)
    result["merges"] = {"measured": bool(by_tier), "by_tier": {
        tier: {"merges": len(rows), "seconds": summarize(rows, "seconds"),
               "passages_in": summarize(rows, "passages_in"), "runs": rows} for tier, rows in by_tier.items()}}
    result["loadavg_end"] = os.getloadavg()
    return result


def table(result: dict) -> str:
    """The figures as a markdown table (what docs/living.md shows); seconds unless said."""
    rows = []

    def add(label: str, f: dict | None) -> None:
        if f:
            rows.append(f"| {label} | {f['p50']} | {f['p95']} | {f['n']} |")

    for n, a in result["adds"].items():
        add(f"`indexer add` of {n}: to exit 0 (acknowledged), s", a["ack_s"])
        add(f"`indexer add` of {n}: acknowledged to searchable, s", a["visible_after_ack_s"])
        add(f"`indexer add` of {n}: command started to searchable, s", a.get("submit_to_visible_s"))
    ip = result.get("adds_in_process", {})
    add("add of 1 in a running writer (apply_journaled): acknowledged, s", ip.get("ack_s"))
    add("add of 1 in a running writer: acknowledged to searchable, s", ip.get("visible_after_ack_s"))
    for n, d in result["deletes"].items():
        add(f"`indexer delete` of {n}: to exit 0 (acknowledged), s", d["ack_s"])
        add(f"`indexer delete` of {n}: acknowledged to gone (404), s", d["gone_after_ack_s"])
        add(f"`indexer delete` of {n}: command started to gone, s", d.get("submit_to_gone_s"))
    add("server reload of one commit (in process, as the server does it), s", result["reload_per_commit_s"]["all"])
    for label, f in result["latency_by_segments"].items():
        for mode in ("hybrid_uncached", "hybrid_cached_vectors"):
            rows.append(f"| HTTP {mode.replace('_', ' ')}, {label}, ms | {f[mode]['median_ms']} | {f[mode]['p95_ms']} "
                        f"| {f[mode]['n']} |")
        same = f.get("same_questions_on_1_segment")
        if same and label != "1 segment (the build)":
            rows.append(f"| HTTP hybrid uncached, the same questions on 1 segment, ms | {same['median_ms']} | "
                        f"{same['p95_ms']} | {same['n']} |")
    for tier, m in result["merges"].get("by_tier", {}).items():
        add(f"merge, {tier} ({m['merges']} merges; passages in: {m['passages_in']['p50']:,} median), s", m["seconds"])
    return "| figure | p50 | p95 | n |\n|---|---:|---:|---:|\n" + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=Path, default=ROOT / "var" / "scale-1m", help="the scale corpus (read only)")
    parser.add_argument("--passages", type=int, default=1_000_000, help="its size, if it must be generated")
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "living-1m", help="the clone (replaced)")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--adds-1", type=int, default=20)
    parser.add_argument("--adds-100", type=int, default=10)
    parser.add_argument("--adds-1000", type=int, default=3)
    parser.add_argument("--deletes-1", type=int, default=10)
    parser.add_argument("--deletes-100", type=int, default=5)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--no-merge", dest="merge", action="store_false", help="skip the timed merges")
    parser.add_argument("--no-merge-base", dest="merge_base", action="store_false",
                        help="skip rewriting the 1M base (the costliest merge: minutes)")
    parser.add_argument("--keep", action="store_true", help="keep the clone afterwards")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        result = run(args)
    finally:
        if not args.keep:
            shutil.rmtree(args.work / "index", ignore_errors=True)
    print(json.dumps(result, indent=2))
    print(table(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
