"""A build on a two-node Ray cluster of this machine equals a local build of the same input (issue 13)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import faiss
import numpy as np
import pytest

from bench.workers import process_tree
from conftest import ROOT, SEEDS, SHARED_DATA, require, reuters_stories, two_node_cluster, write_jsonl
from indexer.build import BuildConfig, build_index
from indexer.cluster import ClusterConfig, ClusterError, connected
from indexer.evaluate import MODE_NAMES, load_beir, run_mode
from search.engine import SearchEngine
from search.layout import BM25_DIR, COLUMNS, DENSE, current_build, verify_build
from search.models import SearchRequest

ray = pytest.importorskip("ray")
ADI = SHARED_DATA / "ir-classic" / "adi"


def _listeners(pids: set[int]) -> list[tuple[str, int]]:
    """(local address, pid) of every TCP socket listening in one of pids, from `ss -tlnpH`."""
    out = subprocess.run(["ss", "-tlnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        cols = line.split()
        for part in line.split("pid=")[1:]:
            pid = int(part.split(",")[0])
            if pid in pids:
                found.append((cols[3], pid))
    return found


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes on this machine, 1 CPU each, on loopback: this module's own."""
    with two_node_cluster() as local:
        yield local


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    """ADI's 82 abstracts, 12 Reuters stories, the seeds, a duplicate id, a bad line and an empty text."""
    folder = tmp_path_factory.mktemp("corpus")
    stories = [{**s, "id": f"reuters-{s['id']}"} for s in reuters_stories(12)]  # ADI's ids are 1-82
    extra = write_jsonl(folder / "extra.jsonl", [
        *stories,
        {"id": stories[0]["id"], "title": "the same id again", "body": "A second story. It is skipped."},
        {"id": "empty", "title": "", "body": "   "},
    ])
    with extra.open("a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    unknown = folder / "notes.xyz"  # a problem of the walk itself, between two files
    unknown.write_text("not an article format", encoding="utf-8")
    return [require(ADI / "corpus.jsonl.gz"), unknown, extra, SEEDS]


@pytest.fixture(scope="module")
def both(cluster, corpus, tmp_path_factory, model_cache) -> tuple[Path, Path, dict]:
    """The same input built locally and on the cluster (two embedders, one per node's CPU)."""
    local = tmp_path_factory.mktemp("local")
    remote = tmp_path_factory.mktemp("remote")
    config = BuildConfig(sources=tuple(corpus), index_dir=local, progress=False, model_cache=model_cache)
    build_index(config)
    ray_config = ClusterConfig(address=cluster.address, embedders=2, cpus_per_embedder=0.5)
    report = build_index(BuildConfig(sources=tuple(corpus), index_dir=remote, progress=False,
                                     model_cache=model_cache, ray=ray_config))
    return local, remote, report.cluster


def test_an_unreachable_cluster_is_a_clear_error(tmp_path: Path) -> None:
    assert not ray.is_initialized(), "runs before this module's cluster starts"
    with pytest.raises(ClusterError, match="cannot reach the Ray cluster"):
        with connected(ClusterConfig(address="127.0.0.1:9")):
            pass


def test_the_cluster_listens_on_loopback_only(cluster) -> None:
    listening = _listeners(set(process_tree(os.getpid())))
    assert listening, "no listening socket of the test's own cluster was found: the check would prove nothing"
    outside = [(addr, pid) for addr, pid in listening
               if not (addr.startswith("127.") or addr.startswith("[::1]") or addr.startswith("[::ffff:127."))]
    assert not outside, f"the cluster listens beyond loopback: {outside}"


def test_both_nodes_prepared_batches(both) -> None:
    _, _, cluster_report = both
    assert cluster_report["nodes"] == 2, cluster_report
    assert cluster_report["embedders"] == 2 and cluster_report["batches"] > 2


def _manifest(index: Path) -> dict:
    return json.loads((current_build(index) / "manifest.json").read_text(encoding="utf-8"))


def test_same_articles_passages_problems_and_quotations(both) -> None:
    local, remote, _ = both
    a, b = _manifest(local), _manifest(remote)
    assert a["counts"] == b["counts"] and a["counts"]["articles"] == 82 + 12 + 2
    assert [(p["origin"], p["reason"]) for p in a["problems"]] == [(p["origin"], p["reason"]) for p in b["problems"]]
    reasons = " ".join(p["reason"] for p in b["problems"])
    assert "duplicate article id" in reasons and "not JSON" in reasons and "no text" in reasons
    assert "unknown format" in reasons
    assert [f["sha256"] for f in a["sources"]] == [f["sha256"] for f in b["sources"]]
    one, two = SearchEngine.open(local), SearchEngine.open(remote)
    rows = list(range(a["counts"]["articles"]))
    assert one.store.articles_at(rows) == two.store.articles_at(rows)
    passages = list(range(a["counts"]["passages"]))
    assert one.store.passages_at(passages) == two.store.passages_at(passages)
    quotes = list(range(a["counts"]["quotes"]))
    assert quotes and one.store.quotations(quotes) == two.store.quotations(quotes)


def test_bm25_is_bit_equal_and_vectors_within_cosine_1e4(both) -> None:
    local, remote, _ = both
    for name in ("doc_ids", "sat", "tf", "idf", "doc_len", "term_ptr"):
        x = np.load(current_build(local) / BM25_DIR / f"{name}.npy")
        y = np.load(current_build(remote) / BM25_DIR / f"{name}.npy")
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    one, two = (faiss.read_index(str(current_build(i) / DENSE)) for i in (local, remote))
    assert one.ntotal == two.ntotal > 0
    v1, v2 = one.reconstruct_n(0, one.ntotal), two.reconstruct_n(0, two.ntotal)
    assert (np.sum(v1 * v2, axis=1) >= 0.9999).all()
    s1, s2 = (np.load(current_build(i) / COLUMNS / "sentence_vectors.npy").astype(np.float32) for i in (local, remote))
    assert s1.shape == s2.shape
    cosine = np.sum(s1 * s2, axis=1) / (np.linalg.norm(s1, axis=1) * np.linalg.norm(s2, axis=1))
    assert (cosine >= 0.9999).all()


def test_same_top_10_on_adi_in_every_mode(both) -> None:
    local, remote, _ = both
    queries = dict(list(load_beir(ADI).queries.items())[:20])
    one, two = SearchEngine.open(local), SearchEngine.open(remote)
    for mode in MODE_NAMES:
        assert run_mode(one.search, queries, mode) == run_mode(two.search, queries, mode), mode


def _segment_arrays(index: Path) -> dict[str, np.ndarray]:
    """The BM25 arrays of the newest segment of an index."""
    newest = sorted((current_build(index) / "segments").iterdir())[-1]
    return {n: np.load(newest / BM25_DIR / f"{n}.npy") for n in ("doc_ids", "sat", "tf", "idf", "doc_len")}


def test_add_on_the_cluster_equals_a_local_add(cluster, seeds_index, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from indexer.cli import main
    from indexer.living import apply_journaled
    from indexer.sources.jsonl import parse_record

    local, remote = tmp_path / "local", tmp_path / "remote"
    shutil.copytree(seeds_index, local)
    shutil.copytree(seeds_index, remote)
    stories = [{**s, "id": f"new-{s['id']}"} for s in reuters_stories(10)]
    articles = [parse_record(s, "test")[0] for s in stories]
    apply_journaled(local, adds=articles, config=BuildConfig(index_dir=local, progress=False))
    source = write_jsonl(tmp_path / "new.jsonl", stories)
    result = CliRunner().invoke(main, ["add", "--source", str(source), "--index", str(remote), "--json",
                                       "--ray", cluster.address, "--ray-embedders", "2",
                                       "--ray-cpus-per-embedder", "0.5"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout[result.stdout.index("{"):])["added"] == 10  # stderr: Ray Data's warnings
    x, y = _segment_arrays(local), _segment_arrays(remote)
    for name in x:
        assert np.array_equal(x[name], y[name]), name
    one, two = SearchEngine.open(local), SearchEngine.open(remote)
    queries = {s["id"]: s["title"] for s in stories}
    for mode in MODE_NAMES:
        ranked = run_mode(two.search, queries, mode)
        assert ranked == run_mode(one.search, queries, mode), mode
        if mode == "bm25":  # the added stories are searchable: each is among its own headline's top 10
            assert all(i in ranked[i] for i in queries), ranked


def _embedder_pids() -> list[int]:
    """This test process's Ray Data embedder actors (their process titles name the class)."""
    found = []
    for pid in process_tree(os.getpid())[1:]:
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "MapBatches(Embedders)" in title:
            found.append(pid)
    return sorted(found)


def test_an_embedder_killed_mid_build_is_replaced_and_the_build_equals_local(cluster, tmp_path: Path,
                                                                              model_cache) -> None:
    source = write_jsonl(tmp_path / "stories.jsonl",
                         [{**s, "id": f"k-{s['id']}"} for s in reuters_stories(120)])
    base = dict(sources=(source,), progress=False, model_cache=model_cache)
    build_index(BuildConfig(index_dir=tmp_path / "local", **base))
    outcome: dict = {}

    def run() -> None:
        try:
            ray_config = ClusterConfig(address=cluster.address, embedders=2, cpus_per_embedder=0.5)
            outcome["report"] = build_index(BuildConfig(index_dir=tmp_path / "remote", ray=ray_config, **base))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 120
    while len(_embedder_pids()) < 2 and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # the embedders have loaded the model and are inside their first batches
    victims = _embedder_pids()
    assert victims and worker.is_alive(), "the build ended before an embedder could be killed: nothing was tested"
    os.kill(victims[0], signal.SIGKILL)
    worker.join(600)
    assert "error" not in outcome, outcome.get("error")
    x, y = _manifest(tmp_path / "local"), _manifest(tmp_path / "remote")
    assert x["counts"] == y["counts"] and x["counts"]["articles"] == 120
    for name in ("doc_ids", "sat", "tf", "idf", "doc_len"):
        a = np.load(current_build(tmp_path / "local") / BM25_DIR / f"{name}.npy")
        b = np.load(current_build(tmp_path / "remote") / BM25_DIR / f"{name}.npy")
        assert np.array_equal(a, b), name


def test_a_driver_killed_mid_build_leaves_the_previous_index_current(cluster, seeds_index, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(seeds_index, index)
    before = current_build(index)
    source = write_jsonl(tmp_path / "stories.jsonl", reuters_stories(120))
    driver = subprocess.Popen(
        [sys.executable, "-m", "indexer", "rebuild", "--source", str(source), "--index", str(index), "--quiet",
         "--ray", cluster.address, "--ray-embedders", "2", "--ray-cpus-per-embedder", "0.5"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not _embedder_pids() and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)
        assert driver.poll() is None, f"the build ended before the kill: {driver.stdout.read().decode()[-2000:]}"
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.wait(30)
    assert current_build(index) == before
    verify_build(before)
    hits = SearchEngine.open(index).search(SearchRequest("What did Putin promise Assad?")).hits
    assert hits, "the previous index no longer answers"
    deadline = time.monotonic() + 60
    while _embedder_pids() and time.monotonic() < deadline:  # the cluster ends the dead driver's actors
        time.sleep(0.5)
    assert not _embedder_pids(), "the killed driver's embedders are still running"


def _ray_daemons() -> set[int]:
    """PIDs of every raylet and GCS server on the machine (only looked at, never signalled)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"raylet" in command or b"gcs_server" in command:
                found.add(int(entry.name))
    return found


def test_rebuild_with_ray_auto_starts_a_cluster_and_stops_it(tmp_path: Path) -> None:
    before = _ray_daemons()
    done = subprocess.run([sys.executable, "-m", "indexer", "rebuild", "--source", str(SEEDS), "--index",
                           str(tmp_path / "index"), "--quiet", "--ray", "auto"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cluster: auto: 1 node(s)" in done.stdout and "articles: 2" in done.stdout
    assert _wait_gone(lambda: _ray_daemons() - before), f"left running: {_ray_daemons() - before}"


def _wait_gone(leftover, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while leftover() and time.monotonic() < deadline:
        time.sleep(0.5)
    return not leftover()
