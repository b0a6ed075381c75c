"""Rebuild drill: `indexer rebuild` run again and again (SIGKILLed at random moments in most runs) while the
production server answers a client that never stops asking. Prints and writes the figures.

    python -m bench.drill_rebuild --rebuilds 20 --kills 15 --out bench/results/drill-rebuild.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from search.errors import NewsclipError
from search.layout import BUILDS, TMP_PREFIX, current_build, verify_build

from .build import subset
from .common import REUTERS, ROOT
from .server import rss_mb, serving

QUESTIONS = [
    ("What did Putin promise Assad?", {}),
    ("What did Putin say about Syria?", {"type": "quotes"}),
    ("oil prices OPEC output", {}),
    ("grain exports to the Soviet Union", {"mode": "bm25"}),
    ("central bank interest rates", {"mode": "dense", "k": "20"}),
    ("coffee quotas", {"type": "quotes"}),
    ("trade deficit with Japan", {"sort": "date"}),
]


@dataclass
class Client:
    """Asks QUESTIONS round and round until stopped; every non-200 or failed request is counted."""

    base: str
    ok: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    builds_seen: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            q, extra = QUESTIONS[i % len(QUESTIONS)]
            i += 1
            url = f"{self.base}/api/search?" + urllib.parse.urlencode({"q": q, **extra})
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    body = json.loads(response.read())
                    if response.status == 200 and "hits" in body:
                        self.ok += 1
                    else:
                        self.fail(f"{response.status} {str(body)[:200]}")
                if i % 10 == 0:
                    with urllib.request.urlopen(f"{self.base}/healthz", timeout=30) as response:
                        self.builds_seen.add(json.loads(response.read())["build_id"])
            except (urllib.error.URLError, OSError, ValueError) as exc:
                self.fail(f"{type(exc).__name__}: {exc}")

    def fail(self, why: str) -> None:
        self.failed += 1
        if len(self.errors) < 20:
            self.errors.append(why)


def write_corpus(folder: Path, stories: int) -> None:
    """The seeds and the first `stories` Reuters stories with a body (varied per run by the caller)."""
    folder.mkdir(parents=True, exist_ok=True)
    for seed in (ROOT / "seeds").iterdir():
        shutil.copy2(seed, folder / seed.name)
    subset(folder / "reuters.jsonl.gz", stories)


def rebuild_cmd(corpus: Path, index: Path) -> list[str]:
    return [sys.executable, "-m", "indexer", "rebuild", "--source", str(corpus), "--index", str(index), "--quiet"]


def whole(index: Path) -> tuple[bool, str]:
    """The current build passes its manifest's checksums."""
    try:
        build = current_build(index)
        verify_build(build)
        return True, build.name
    except NewsclipError as exc:
        return False, str(exc)


def run(work: Path, rebuilds: int = 20, kills: int = 15, stories: int = 300, step: int = 20,
        seed: int = 7) -> dict:
    """The drill in `work` (a scratch folder); returns the figures."""
    rng = random.Random(seed)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    corpus, index = work / "corpus", work / "index"
    write_corpus(corpus, stories)
    began = time.perf_counter()
    subprocess.run(rebuild_cmd(corpus, index), check=True, env=env, cwd=ROOT, capture_output=True)
    first_build = time.perf_counter() - began
    # a rebuild that finds everything cached: how long a kill can land in
    began = time.perf_counter()
    subprocess.run(rebuild_cmd(corpus, index), check=True, env=env, cwd=ROOT, capture_output=True)
    warm = time.perf_counter() - began
    kills_left = kills
    last = warm  # a kill lands anywhere in a run as long as the last finished one, publishing included
    runs = []
    with serving(index, work / "server.log", env={"NEWSCLIP_RELOAD_INTERVAL": "1"}) as (base, server):
        rss_start = rss_mb(server.pid)
        client = Client(base)
        thread = threading.Thread(target=client.run, daemon=True)
        thread.start()
        for i in range(rebuilds):
            write_corpus(corpus, stories + step * (i + 1))  # new stories each run: some embedding to do
            before = current_build(index).name
            proc = subprocess.Popen(rebuild_cmd(corpus, index), env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            started = time.perf_counter()
            # The first and the last run finish; in between, kill with the odds that spend the kills left evenly
            # (a run that ends before its kill counts as finished, and the kill goes to a later run).
            between = rebuilds - 1 - i
            kill = 0 < i < rebuilds - 1 and kills_left > 0 and rng.random() < kills_left / max(between, 1)
            kill_at = rng.uniform(0.05, last) if kill else None
            if kill_at is not None:
                try:
                    proc.wait(timeout=kill_at)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate()
            took = time.perf_counter() - started
            if proc.returncode == 0:
                last = took
            elif proc.returncode == -signal.SIGKILL:
                kills_left -= 1
            ok, name = whole(index)
            after = current_build(index).name if ok else None
            picked_up = None
            if ok and after != before:  # how long until the server answers from the new build
                seen = time.perf_counter()
                while time.perf_counter() - seen < 30:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:
                        if json.loads(response.read())["build_id"] == after:
                            picked_up = round(time.perf_counter() - seen, 2)
                            break
                    time.sleep(0.05)
            leftovers = [p.name for p in (index / BUILDS).iterdir() if p.name.startswith(TMP_PREFIX)]
            runs.append({
                "run": i + 1, "killed": proc.returncode == -signal.SIGKILL, "kill_after_s": kill_at,
                "exit": proc.returncode, "seconds": round(took, 2), "published": after != before,
                "current_whole": ok, "current": name, "tmp_left": leftovers, "served_after_s": picked_up,
                "stderr": err.decode(errors="replace")[-300:] if proc.returncode not in (0, -signal.SIGKILL) else "",
            })
        final = current_build(index).name
        deadline = time.monotonic() + 30
        served = None
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:
                served = json.loads(response.read())["build_id"]
            if served == final:
                break
            time.sleep(0.25)
        time.sleep(2)  # a few more queries on the final build
        client.stop.set()
        thread.join(timeout=60)
        rss_end = rss_mb(server.pid)
    builds_left = sorted(p.name for p in (index / BUILDS).iterdir())
    finished = [r for r in runs if not r["killed"]]
    killed = [r for r in runs if r["killed"]]
    return {
        "rebuilds": rebuilds, "killed": len(killed), "stories": stories, "first_build_s": round(first_build, 1),
        "warm_rebuild_s": round(warm, 1),
        "published": sum(r["published"] for r in runs),
        "published_by_killed_runs": sum(r["published"] for r in killed),
        "finished_runs_succeeded": sum(r["exit"] == 0 for r in finished), "finished_runs": len(finished),
        "current_whole_after_every_run": all(r["current_whole"] for r in runs),
        "tmp_left_after_successful_runs": sum(len(r["tmp_left"]) for r in finished),
        "queries_answered": client.ok, "queries_failed": client.failed, "errors": client.errors,
        "builds_seen_by_client": len(client.builds_seen),
        "served_after_publish_s": [r["served_after_s"] for r in runs if r["published"]],
        "server_picked_up_final_build": served == final, "builds_left": builds_left,
        "server_rss_mb": {"start": round(rss_start, 1), "end": round(rss_end, 1)},
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuilds", type=int, default=20)
    parser.add_argument("--kills", type=int, default=15)
    parser.add_argument("--stories", type=int, default=300, help="Reuters stories beside the seeds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not REUTERS.is_file():
        raise SystemExit(f"{REUTERS} is missing: the drill reads ../shared/data")
    with tempfile.TemporaryDirectory(prefix="drill-rebuild-") as tmp:
        figures = run(Path(tmp), args.rebuilds, args.kills, args.stories, seed=args.seed)
    text = json.dumps({k: v for k, v in figures.items()}, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
