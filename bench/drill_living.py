"""Living-archive drill: a writer adds and deletes Reuters stories while clients search the production server on
loopback, and the writer is SIGKILLed and restarted several times. Prints and writes the figures.

    python -m bench.drill_living --seconds 600 --base-stories 5000 --clients 8 --kills 5 --add-rate 20 \
        --delete-rate 2 --kill-in-flight [--base-index DIR] --out bench/results/drill-living.json

The writer is a process of its own (`python -m bench.drill_living writer ...`): it keeps to a schedule (adds due
by time t: add_rate * t, deletes likewise, counted from the drill's start, so a restarted writer catches up), sends
what is due in one batch through `indexer.living.apply_journaled` (journal fsynced, then one commit), and only
after the call returns appends an `ack` line to its log, with the time. Before the call it appends an `intent`
line, so a batch a kill caught in flight is known: its writes were never acknowledged, their outcome is unknown
(the restarted writer replays whatever of it reached the journal), and they are left out of the checks. After
each commit it starts a background `indexer merge` when the policy has work, as `indexer follow` does. With
--kill-in-flight each kill waits for a batch in flight, then lands 0-0.5 s later (so every kill tests replay).

At the end every acknowledged add must answer 200 at /api/articles/<id> and every acknowledged delete 404 (and a
sample of deleted titles must not come back from a search); "acknowledged writes lost" counts the misses.
Freshness is measured from each ack line to the first answer that shows the write (one added and one deleted id
per batch, polled every 20 ms). Segments over time come from `indexer stats --json`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .common import REUTERS, ROOT, percentile

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


# -- stories ------------------------------------------------------------------------------------------------------


def reuters_with_body(n: int, skip: int = 0) -> list[dict]:
    """Reuters stories that have a body, the `skip` first of them left out, at most `n` (all when n < 0)."""
    out: list[dict] = []
    seen = 0
    with gzip.open(REUTERS, "rt", encoding="utf-8") as handle:
        for line in handle:
            story = json.loads(line)
            if not (story.get("body") or "").strip():
                continue
            seen += 1
            if seen <= skip:
                continue
            out.append(story)
            if len(out) == n:
                break
    return out


def write_jsonl(path: Path, records: list[dict]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
    return path


# -- the writer process -------------------------------------------------------------------------------------------


class Log:
    """The writer's log: one JSON line per event, appended with one write(2) each (a SIGKILL cannot tear it)."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, **event: Any) -> None:
        os.write(self.fd, (json.dumps(event) + "\n").encode("utf-8"))


def read_log(path: Path) -> list[dict]:
    events = []
    if not path.exists():
        return events
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:  # a torn last line (not expected: one write(2) per line); nothing was acknowledged by it
            continue
    return events


def ledger(events: list[dict]) -> dict[str, Any]:
    """What the log says: the expected state of every id an acknowledged write touched, and the ids whose last
    write was never acknowledged (unknown outcome)."""
    acked = {e["batch"] for e in events if e.get("k") == "ack"}
    expected: dict[str, bool] = {}  # id -> present after the acknowledged writes
    uncertain: set[str] = set()
    added = deleted = 0
    adds_issued: list[str] = []
    deletes_issued = 0
    ack_of = {e["batch"]: e for e in events if e.get("k") == "ack"}
    for e in events:
        if e.get("k") != "intent":
            continue
        adds_issued.extend(e["adds"])
        deletes_issued += len(e["deletes"])
        if e["batch"] in acked:
            for i in e["adds"]:
                expected[i] = True
                uncertain.discard(i)
            for i in e["deletes"]:
                expected[i] = False
                uncertain.discard(i)
            added += len(e["adds"])
            deleted += len(e["deletes"])
        else:
            uncertain.update(e["adds"])
            uncertain.update(e["deletes"])
    return {"expected": expected, "uncertain": uncertain, "acked_adds": added, "acked_deletes": deleted,
            "adds_issued": adds_issued, "deletes_issued": deletes_issued, "acks": ack_of,
            "next_batch": 1 + max([e.get("batch", 0) for e in events if e.get("k") == "intent"], default=0)}


def writer_main(args: argparse.Namespace) -> None:
    """Adds and deletes on schedule until `stop_at` or SIGTERM (the batch in flight is finished first), and in any
    case until `min_batches` batches are acknowledged (counted over every writer of the drill)."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())  # first: a SIGTERM during the imports must not kill
    from indexer.build import BuildConfig
    from indexer.living import apply_journaled, merge_in_background
    from indexer.sources.jsonl import parse_record
    from search.commit import read_commit
    from search.journal import pending_records
    from search.layout import current_build, read_manifest

    index = Path(args.index)
    stories = [json.loads(line) for line in Path(args.stories).read_text(encoding="utf-8").splitlines() if line]
    base_ids = [line.strip() for line in Path(args.base_ids).read_text(encoding="utf-8").splitlines() if line.strip()]
    state = ledger(read_log(Path(args.log)))
    log = Log(Path(args.log))
    build = current_build(index)
    commit = read_commit(build, int(read_manifest(build)["counts"]["articles"]))
    log.write(k="start", pid=os.getpid(), t=time.time(), journal_pending=pending_records(index, commit.journal_seq),
              generation=commit.generation)
    rng = random.Random(args.seed + state["next_batch"])
    issued = set(state["adds_issued"])
    next_story = len(state["adds_issued"])
    deletes_issued = state["deletes_issued"]
    batch = state["next_batch"]
    live_added = [i for i, present in state["expected"].items() if present and i not in state["uncertain"]
                  and i not in set(base_ids)]
    gone = {i for i, present in state["expected"].items() if not present} | state["uncertain"]
    base_left = [i for i in base_ids if i not in gone and i not in issued]
    rng.shuffle(base_left)
    config = BuildConfig(index_dir=index, progress=False, embed_threads=args.embed_threads)
    embedder = None
    acked = len(state["acks"])
    while (not stopping.is_set() and time.time() < args.stop_at) or acked < args.min_batches:
        elapsed = time.time() - args.t0
        due_adds = min(len(stories), int(args.add_rate * elapsed)) - next_story
        due_dels = int(args.delete_rate * elapsed) - deletes_issued
        if due_adds <= 0 and due_dels <= 0:
            wait = min(1 / args.add_rate if args.add_rate else 1.0, 1 / args.delete_rate if args.delete_rate else 1.0)
            stopping.wait(max(0.005, wait / 2))
            continue
        chosen = stories[next_story: next_story + min(max(due_adds, 0), args.max_batch)]
        adds, ids = [], []
        for k, story in enumerate(chosen):
            article = parse_record(story, f"drill:{next_story + k}")[0]
            adds.append(article)
            ids.append(article.id)
        owed = min(max(due_dels, 0), args.max_batch)
        deletes: list[str] = []
        for _ in range(owed):
            from_added = live_added and (rng.random() < 0.5 or not base_left)
            if from_added:
                deletes.append(live_added.pop(rng.randrange(len(live_added))))
            elif base_left:
                deletes.append(base_left.pop())
        deletes_issued += owed  # when nothing is left to delete, the deletes are not owed later
        if not adds and not deletes:
            stopping.wait(0.05)
            continue
        log.write(k="intent", batch=batch, t=time.time(), adds=ids, deletes=deletes)
        began = time.time()
        report = apply_journaled(index, adds=adds, deletes=deletes, config=config, embedder=embedder)
        log.write(k="ack", batch=batch, t=time.time(), seconds=round(time.time() - began, 3),
                  generation=report.generation, segments=report.segments, added=len(report.added),
                  deleted=len(report.deleted), missing=len(report.missing), timings=report.timings)
        embedder = report.embedder or embedder
        acked += 1
        try:  # as `indexer follow` does after each commit: a detached `indexer merge` when the policy has work
            merger = merge_in_background(index)
        except Exception as exc:  # noqa: BLE001 - a merge not started is a finding, not a reason to stop writing
            log.write(k="merge_error", t=time.time(), error=str(exc)[:300])
        else:
            if merger is not None:
                log.write(k="merge_started", t=time.time(), pid=merger)
        next_story += len(chosen)
        live_added.extend(ids)
        batch += 1
    log.write(k="stop", pid=os.getpid(), t=time.time())


# -- the drill ----------------------------------------------------------------------------------------------------


def get_status(base: str, path: str, timeout: float = 30) -> int:
    try:
        with urllib.request.urlopen(base + path, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def article_path(article_id: str) -> str:
    return "/api/articles/" + urllib.parse.quote(article_id, safe="")


class Freshness:
    """Tails the writer's log; for each ack, polls one added id until it answers 200 and one deleted id until
    404, and records the seconds from the ack (and from the intent) to the first answer that shows it."""

    def __init__(self, base: str, log: Path, poll: float = 0.02, give_up: float = 120) -> None:
        self.base, self.log, self.poll, self.give_up = base, log, poll, give_up
        self.adds: list[dict] = []
        self.deletes: list[dict] = []
        self.never: list[str] = []
        self.superseded: list[str] = []  # added ids a later acknowledged batch deleted before a poll saw them
        self._deleted: set[str] = set()  # every id an acknowledged batch deleted
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._rng = random.Random(5)

    def run(self) -> None:
        offset = 0
        intents: dict[int, dict] = {}
        buffer = b""
        while not self.stop.is_set():
            try:
                with self.log.open("rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
            except FileNotFoundError:
                chunk = b""
            offset += len(chunk)
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                event = json.loads(line)
                if event.get("k") == "intent":
                    intents[event["batch"]] = event
                elif event.get("k") == "ack" and event["batch"] in intents:
                    intent = intents[event["batch"]]
                    with self._lock:
                        self._deleted.update(intent["deletes"])
                    if intent["adds"]:
                        self._probe(self._rng.choice(intent["adds"]), True, intent, event)
                    if intent["deletes"]:
                        self._probe(self._rng.choice(intent["deletes"]), False, intent, event)
            self.stop.wait(0.02)

    def _probe(self, article_id: str, present: bool, intent: dict, ack: dict) -> None:
        def poll() -> None:
            want = 200 if present else 404
            while time.time() - ack["t"] < self.give_up:
                try:
                    status = get_status(self.base, article_path(article_id), timeout=30)
                except OSError:
                    status = -1
                with self._lock:
                    gone = present and article_id in self._deleted
                if gone and status != want:  # the server may go straight to the commit that deleted it again
                    with self._lock:
                        self.superseded.append(article_id)
                    return
                if status == want:
                    now = time.time()
                    row = {"id": article_id, "ack_to_visible_s": round(now - ack["t"], 3),
                           "intent_to_visible_s": round(now - intent["t"], 3), "batch": ack["batch"],
                           "batch_adds": len(intent["adds"]), "batch_deletes": len(intent["deletes"])}
                    with self._lock:
                        (self.adds if present else self.deletes).append(row)
                    return
                time.sleep(self.poll)
            with self._lock:
                self.never.append(article_id)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        self._threads.append(thread)

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=self.give_up + 5)


def spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"p50": round(statistics.median(values), 3), "p95": round(percentile(values, 0.95), 3),
            "max": round(max(values), 3), "n": len(values)}


def stats_json(index: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "indexer", "stats", "--index", str(index), "--json"], cwd=ROOT,
                          env=ENV, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-300:])
    return json.loads(done.stdout)


class StatsSampler:
    """`indexer stats --json` every `every` seconds: segments, live and deleted articles, the journal, load."""

    def __init__(self, index: Path, every: float, t0: float) -> None:
        self.index, self.every, self.t0 = index, every, t0
        self.samples: list[dict] = []
        self.errors: list[str] = []
        self.stop = threading.Event()

    def sample(self) -> None:
        try:
            s = stats_json(self.index)
            self.samples.append({"t": round(time.time() - self.t0, 1), "segments": s["segments"],
                                 "generation": s["generation"], "live_articles": s["articles"],
                                 "live_passages": s["passages"], "deleted_articles": s["deleted_articles"],
                                 "journal_pending": s["journal_pending"], "loadavg_1m": os.getloadavg()[0]})
        except (RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
            self.errors.append(f"{time.time() - self.t0:.1f}s: {str(exc)[:200]}")

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.sample()


def start_writer(index: Path, work: Path, t0: float, stop_at: float, args: dict, out) -> subprocess.Popen:  # noqa: ANN001
    cmd = [sys.executable, "-m", "bench.drill_living", "writer", "--index", str(index),
           "--stories", str(work / "new.jsonl"), "--base-ids", str(work / "base-ids.txt"), "--log",
           str(work / "writer.jsonl"), "--t0", repr(t0), "--stop-at", repr(stop_at),
           "--add-rate", str(args["add_rate"]), "--delete-rate", str(args["delete_rate"]),
           "--max-batch", str(args["max_batch"]), "--seed", str(args["seed"]),
           "--embed-threads", str(args["embed_threads"]), "--min-batches", str(args["min_batches"])]
    return subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=out, stderr=subprocess.STDOUT)


def build_base(work: Path, base: list[dict]) -> tuple[Path, float]:
    index = work / "index"
    write_jsonl(work / "base.jsonl", base)
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "indexer", "rebuild", "--source", str(work / "base.jsonl"), "--index",
                    str(index), "--quiet"], check=True, env=ENV, cwd=ROOT, capture_output=True)
    return index, time.perf_counter() - began


def check_final(base_url: str, events: list[dict], titles: dict[str, str], sample: int, seed: int) -> dict:
    """Every acknowledged write as the server answers it now; a sample of deleted titles searched for."""
    state = ledger(events)
    lost_adds, lost_deletes = [], []
    for article_id, present in state["expected"].items():
        if article_id in state["uncertain"]:
            continue
        status = get_status(base_url, article_path(article_id))
        if present and status != 200:
            lost_adds.append(f"{article_id}: {status}")
        elif not present and status != 404:
            lost_deletes.append(f"{article_id}: {status}")
    deleted = [i for i, p in state["expected"].items() if not p and i not in state["uncertain"] and titles.get(i)]
    found_by_search = []
    for article_id in random.Random(seed).sample(deleted, min(sample, len(deleted))):
        url = "/api/search?" + urllib.parse.urlencode({"q": titles[article_id], "mode": "bm25", "k": 50})
        with urllib.request.urlopen(base_url + url, timeout=60) as response:
            body = json.loads(response.read())
        if any(h.get("article_id", h.get("id")) == article_id for h in body.get("hits", [])):
            found_by_search.append(article_id)
    unknown = {"present": 0, "absent": 0}
    for article_id in state["uncertain"]:
        unknown["present" if get_status(base_url, article_path(article_id)) == 200 else "absent"] += 1
    return {"acknowledged_adds": state["acked_adds"], "acknowledged_deletes": state["acked_deletes"],
            "ids_checked": sum(1 for i in state["expected"] if i not in state["uncertain"]),
            "acknowledged_writes_lost": len(lost_adds) + len(lost_deletes),
            "lost_adds": lost_adds[:20], "lost_deletes": lost_deletes[:20],
            "deleted_titles_searched": min(sample, len(deleted)), "deleted_found_by_search": found_by_search,
            "unacknowledged_ids": len(state["uncertain"]), "unacknowledged_outcome": unknown}


def wait_served(base_url: str, events: list[dict], timeout: float = 120) -> float | None:
    """Seconds until the server shows the last acknowledged batch (its added ids present, deleted ids gone)."""
    state = ledger(events)
    acks = [e for e in events if e.get("k") == "intent" and e["batch"] in state["acks"]]
    if not acks:
        return 0.0
    last = acks[-1]
    began = time.time()
    while time.time() - began < timeout:
        ok = all(get_status(base_url, article_path(i)) == 200 for i in last["adds"][:3]) and all(
            get_status(base_url, article_path(i)) == 404 for i in last["deletes"][:3])
        if ok:
            return round(time.time() - began, 2)
        time.sleep(0.1)
    return None


class Searchers:
    """drill_load's clients (each on its own keep-alive connection, the load drill's mix of requests), run in
    rounds of a few seconds until stopped, so they search as long as the writer writes."""

    def __init__(self, port: int, n: int, pause: float = 0.0) -> None:
        from .drill_load import Clients, requests_mix
        from .questions import ASKED

        self.load = Clients(port, n, requests_mix(list(ASKED)), pause)
        self.stop = threading.Event()
        self.seconds = 0.0

    def run(self) -> None:
        while not self.stop.is_set():
            self.seconds += self.load.run(2.0)


def kill_writer(writer: subprocess.Popen, log: Path, in_flight: bool, rng: random.Random, t0: float) -> dict:
    """SIGKILL the writer (with `in_flight`, once it has a batch in flight, up to 60 s, after 0-0.5 s more)."""
    if in_flight:
        deadline = time.time() + 60
        while time.time() < deadline and writer.poll() is None:
            events = read_log(log)
            if events and events[-1].get("k") == "intent":
                time.sleep(rng.uniform(0, 0.5))
                break
            time.sleep(0.02)
    if writer.poll() is not None:  # it ended on its own: a finding; restarted all the same
        return {"t": round(time.time() - t0, 1), "exited_by_itself": writer.returncode}
    events = read_log(log)
    last = next((e for e in reversed(events) if e.get("k") in ("intent", "ack", "start")), {})
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    flying = last.get("k") == "intent"
    return {"t": round(time.time() - t0, 1), "pid": writer.pid, "in_flight_batch": flying,
            "adds_in_flight": len(last.get("adds", [])) if flying else 0,
            "deletes_in_flight": len(last.get("deletes", [])) if flying else 0}


def run(work: Path, base: list[dict], new: list[dict], seconds: float = 600, clients: int = 8, kills: int = 5,
        add_rate: float = 20, delete_rate: float = 2, max_batch: int = 200, seed: int = 11,
        stats_every: float = 15, base_index: Path | None = None, embed_threads: int = 1,
        server_threads: int = 8, min_batches: int = 0, kill_in_flight: bool = False,
        client_pause: float = 0.0) -> dict:
    """The drill in `work` (a scratch folder): returns the figures. The writer writes for `seconds` (and until
    `min_batches` batches are acknowledged), the clients search until it is done."""
    from indexer.sources.jsonl import parse_record

    from .server import rss_mb, serving

    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    if base_index is not None:
        index = work / "index"
        shutil.copytree(base_index, index, symlinks=True)
        build_s = None
    else:
        index, build_s = build_base(work, base)
    base_ids = [parse_record(s, "base")[0].id for s in base]
    (work / "base-ids.txt").write_text("\n".join(base_ids) + "\n", encoding="utf-8")
    write_jsonl(work / "new.jsonl", new)
    titles = {parse_record(s, "t")[0].id: (s.get("title") or "").strip() for s in [*base, *new]}
    log = work / "writer.jsonl"
    before = stats_json(index)
    load_start = os.getloadavg()
    writer_out = (work / "writer.out").open("ab")
    kills_done: list[dict] = []
    with serving(index, work / "server.log", "--threads", str(server_threads),
                 env={"NEWSCLIP_RELOAD_INTERVAL": "0.25"}) as (base_url, server):
        port = int(base_url.rsplit(":", 1)[1])
        rss_start = rss_mb(server.pid)
        searchers = Searchers(port, clients, client_pause)
        t0 = time.time()
        stop_at = t0 + seconds
        sampler = StatsSampler(index, stats_every, t0)
        sampler.sample()
        fresh = Freshness(base_url, log)
        threads = [threading.Thread(target=searchers.run, daemon=True),
                   threading.Thread(target=sampler.run, daemon=True), threading.Thread(target=fresh.run, daemon=True)]
        for thread in threads:
            thread.start()
        params = {"add_rate": add_rate, "delete_rate": delete_rate, "max_batch": max_batch, "seed": seed,
                  "embed_threads": embed_threads, "min_batches": min_batches}
        writer = start_writer(index, work, t0, stop_at, params, writer_out)
        slot = seconds * 0.8 / max(kills, 1)
        kill_times = sorted(seconds * 0.1 + slot * k + rng.uniform(0.1, 0.9) * slot for k in range(kills))
        for at in kill_times:
            time.sleep(max(0.0, t0 + at - time.time()))
            kills_done.append(kill_writer(writer, log, kill_in_flight, rng, t0))
            writer = start_writer(index, work, t0, stop_at, params, writer_out)
        time.sleep(max(0.0, stop_at - time.time()))
        writer.send_signal(signal.SIGTERM)  # finish the batch in flight (and reach min_batches), then exit
        try:
            writer.wait(timeout=1800)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait()
        writer_exit = writer.returncode
        writing_s = time.time() - t0
        from .living import settle_merges

        merges_settled_s = round(settle_merges(index, timeout=900), 1)  # background merges the writer started
        events = read_log(log)
        served_after = wait_served(base_url, events)
        time.sleep(1.0)  # a few more searches on the final commit
        searchers.stop.set()
        threads[0].join(timeout=120)
        fresh.join()
        sampler.stop.set()
        threads[1].join(timeout=130)
        sampler.sample()
        rss_end = rss_mb(server.pid)
        final = check_final(base_url, events, titles, 50, seed)
    writer_out.close()
    after = stats_json(index)
    acks = [e for e in events if e.get("k") == "ack"]
    intents = {e["batch"]: e for e in events if e.get("k") == "intent"}
    starts = [e for e in events if e.get("k") == "start"]
    load = searchers.load
    lat = load.latencies
    return {
        "seconds": seconds, "writing_s": round(writing_s, 1), "clients": clients, "client_pause_s": client_pause,
        "add_rate_target": add_rate,
        "delete_rate_target": delete_rate, "max_batch": max_batch, "base_articles": len(base),
        "base_build_s": None if build_s is None else round(build_s, 1),
        "queries_answered": len(lat), "queries_failed": len(load.errors), "query_errors": load.errors[:10],
        "query_statuses": load.statuses, "queries_per_s": round(len(lat) / max(searchers.seconds, 1e-9), 1),
        "query_latency_ms": {"p50": round(statistics.median(lat), 1), "p95": round(percentile(lat, 0.95), 1),
                             "p99": round(percentile(lat, 0.99), 1)} if lat else None,
        "acknowledged_writes_lost": final["acknowledged_writes_lost"], "final_check": final,
        "adds_acknowledged_per_s": round(final["acknowledged_adds"] / writing_s, 2),
        "deletes_acknowledged_per_s": round(final["acknowledged_deletes"] / writing_s, 2),
        "freshness_add_s": spread([r["ack_to_visible_s"] for r in fresh.adds]),
        "freshness_delete_s": spread([r["ack_to_visible_s"] for r in fresh.deletes]),
        "submit_to_visible_add_s": spread([r["intent_to_visible_s"] for r in fresh.adds]),
        "submit_to_visible_delete_s": spread([r["intent_to_visible_s"] for r in fresh.deletes]),
        "never_visible": fresh.never[:20],
        "deleted_before_seen": fresh.superseded[:20],
        "commits": len(acks), "commit_s": spread([a["seconds"] for a in acks]),
        "batch_adds": spread([len(intents[a["batch"]]["adds"]) for a in acks]),
        "batch_deletes": spread([len(intents[a["batch"]]["deletes"]) for a in acks]),
        "kills": kills_done, "writer_starts": len(starts),
        "journal_pending_at_restarts": [s["journal_pending"] for s in starts[1:]],
        "writer_final_exit": writer_exit, "served_final_commit_after_s": served_after,
        "merges_started": sum(1 for e in events if e.get("k") == "merge_started"),
        "merge_errors": [e["error"] for e in events if e.get("k") == "merge_error"][:5],
        "merges_settled_after_s": merges_settled_s,
        "segments_over_time": sampler.samples, "stats_errors": sampler.errors[:10],
        "segments_max": max((s["segments"] for s in sampler.samples), default=None),
        "stats_before": {k: before[k] for k in ("segments", "articles", "passages")},
        "stats_after": {k: after[k] for k in ("segments", "articles", "passages", "deleted_articles",
                                              "journal_pending", "generation")},
        "server_rss_mb": {"start": round(rss_start, 1), "end": round(rss_end, 1)},
        "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "writer":
        w = argparse.ArgumentParser(prog="bench.drill_living writer")
        w.add_argument("writer")
        w.add_argument("--index", required=True)
        w.add_argument("--stories", required=True)
        w.add_argument("--base-ids", required=True)
        w.add_argument("--log", required=True)
        w.add_argument("--t0", type=float, required=True)
        w.add_argument("--stop-at", type=float, required=True)
        w.add_argument("--add-rate", type=float, default=20)
        w.add_argument("--delete-rate", type=float, default=2)
        w.add_argument("--max-batch", type=int, default=200)
        w.add_argument("--seed", type=int, default=11)
        w.add_argument("--embed-threads", type=int, default=1)
        w.add_argument("--min-batches", type=int, default=0)
        writer_main(w.parse_args())
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--base-stories", type=int, default=5000, help="Reuters stories in the base index")
    parser.add_argument("--base-index", type=Path, default=None,
                        help="copy this index (built from the first --base-stories stories) instead of building one")
    parser.add_argument("--new-stories", type=int, default=-1, help="stories the writer may add (default: all after)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--client-pause", type=float, default=0.0,
                        help="seconds each client waits after an answer (0: flat out, every core kept busy)")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--add-rate", type=float, default=20)
    parser.add_argument("--delete-rate", type=float, default=2)
    parser.add_argument("--max-batch", type=int, default=200, help="most adds (and deletes) in one commit")
    parser.add_argument("--embed-threads", type=int, default=1)
    parser.add_argument("--stats-every", type=float, default=15)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--min-batches", type=int, default=0, help="write on until this many batches are acknowledged")
    parser.add_argument("--kill-in-flight", action="store_true", help="kill only while a batch is in flight")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one, removed)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not REUTERS.is_file():
        raise SystemExit(f"{REUTERS} is missing: the drill reads ../shared/data")
    base = reuters_with_body(args.base_stories)
    new = reuters_with_body(args.new_stories, skip=args.base_stories)
    work = args.work or Path(tempfile.mkdtemp(prefix="drill-living-"))
    try:
        figures = run(work, base, new, args.seconds, args.clients, args.kills, args.add_rate, args.delete_rate,
                      args.max_batch, args.seed, args.stats_every, args.base_index, args.embed_threads,
                      min_batches=args.min_batches, kill_in_flight=args.kill_in_flight,
                      client_pause=args.client_pause)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    figures.update({"date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                    "machine": f"{platform.machine()} {os.cpu_count()} cores (shared)",
                    "command": "python -m bench.drill_living " + " ".join(sys.argv[1:])})
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
