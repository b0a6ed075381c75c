"""Serving on a two-node Ray cluster of this machine: shards as Ray Serve deployments, this process their router
(web/cluster.py over search/sharded.py); the answers equal one index's, replicas die without failed queries, and a
shard with no replica gives a 503 naming it (issue 13)."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from bench.workers import process_tree
from conftest import two_node_cluster, write_jsonl
from indexer.build import BuildConfig
from indexer.living import ArchiveWriter, writer_lock
from indexer.sources import read_articles
from search.models import SearchRequest
from test_cluster import _listeners
from test_sharded import requests, same

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow
SHARDS, REPLICAS = 2, 2


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes on this machine, 1 CPU each, on loopback: this module's own."""
    with two_node_cluster() as local:
        yield local


@pytest.fixture(scope="module")
def index(tmp_path_factory, living: Path) -> Path:
    """A copy of the session's living index: the tests here add and delete."""
    copy = tmp_path_factory.mktemp("served") / "index"
    shutil.copytree(living, copy)
    return copy


@pytest.fixture(scope="module")
def shards(cluster):
    from web.cluster import start_shards

    return start_shards(SHARDS, REPLICAS, cpus=0.1, timeout=5.0)


@pytest.fixture(scope="module")
def apps(index: Path, shards, embedder):
    """The sharded app and a local one over the same index."""
    from web import create_app

    sharded = create_app({"INDEX": index, "TESTING": True, "EMBEDDER": embedder, "SHARDS": shards,
                          "RELOAD_INTERVAL": 0.1})
    local = create_app({"INDEX": index, "TESTING": True, "EMBEDDER": embedder, "RELOAD_INTERVAL": 0.1})
    yield sharded, local
    sharded.extensions["newsclip"].close()
    local.extensions["newsclip"].close()


def test_served_answers_equal_one_index(apps) -> None:
    sharded, local = apps
    engine, reference = sharded.extensions["newsclip"].engine, local.extensions["newsclip"].engine
    assert len(engine.bm25.joined.specs) == SHARDS
    for request in requests()[::3]:
        same(engine.search(request), reference.search(request), repr(request))
    a, b = sharded.test_client(), local.test_client()
    for query in ["q=oil+prices&mode=hybrid", "q=oil+prices&mode=bm25&page=2&k=3", "q=Putin&type=quotes",
                  "q=prices&source=Reuters&sort=date", "q=What+did+Putin+promise+Assad%3F&mode=dense"]:
        got, want = a.get(f"/api/search?{query}").get_json(), b.get(f"/api/search?{query}").get_json()
        got.pop("took_ms"), want.pop("took_ms")
        same(got, want, query)
    hit = b.get("/api/search?q=oil").get_json()["hits"][0]["article_id"]
    assert a.get(f"/api/articles/{hit}").get_json() == b.get(f"/api/articles/{hit}").get_json()
    page = a.get("/?q=What+did+Putin+promise+Assad%3F")
    assert page.status_code == 200 and b"<mark" in page.data


def test_every_listener_is_on_loopback(cluster, shards) -> None:
    pids = {p for p in process_tree(os.getpid())} | {os.getpid()}
    found = _listeners(pids)
    assert found, "the cluster's processes listen somewhere"
    bad = [(addr, pid) for addr, pid in found if not addr.startswith(("127.", "[::ffff:127."))]
    assert not bad, f"listening beyond loopback: {bad}"


def test_adds_and_deletes_reach_the_shards(apps, index: Path, embedder, tmp_path: Path) -> None:
    sharded, _ = apps
    client = sharded.test_client()
    story = {"id": "walrus-1", "title": "Amber walruses counted at Vetluga pier",
             "body": "The quartermaster of Vetluga counted eleven amber walruses on the pier on Tuesday.",
             "date": "1987-04-01", "source": "Reuters"}
    adds = [a for a in read_articles([write_jsonl(tmp_path / "add.jsonl", [story])]) if not hasattr(a, "reason")]
    with writer_lock(index):
        ArchiveWriter(index, BuildConfig(index_dir=index, progress=False), embedder).apply(adds, ())
    acknowledged = time.perf_counter()
    while client.get("/api/search?q=amber+walruses+Vetluga&mode=bm25").get_json()["total"]["value"] == 0:
        assert time.perf_counter() - acknowledged < 20, "the added article never reached the shards"
        time.sleep(0.05)
    found = time.perf_counter() - acknowledged
    engine = sharded.extensions["newsclip"].engine
    assert engine.article("walrus-1") is not None
    with writer_lock(index):
        ArchiveWriter(index, BuildConfig(index_dir=index, progress=False), embedder).apply((), ["walrus-1"])
    acknowledged = time.perf_counter()
    while client.get("/api/search?q=amber+walruses+Vetluga&mode=bm25").get_json()["total"]["value"] != 0:
        assert time.perf_counter() - acknowledged < 20, "the deleted article is still answered"
        time.sleep(0.05)
    gone = time.perf_counter() - acknowledged
    assert client.get("/api/articles/walrus-1").status_code == 404
    print(f"sharded freshness: add found after {found:.2f} s, delete gone after {gone:.2f} s")


def test_a_replica_killed_under_load_fails_no_query(apps, shards) -> None:
    sharded, _ = apps
    engine_of = sharded.extensions["newsclip"]
    questions = [f"{w} prices" for w in ("oil", "coffee", "wheat", "gold", "sugar", "bank", "debt", "rates")]
    failures: list[BaseException] = []
    answered = [0]
    stop = threading.Event()

    def load(n: int) -> None:
        i = n
        while not stop.is_set():
            try:
                with engine_of.using() as engine:
                    engine.vectors.clear()
                    engine.search(SearchRequest(q=questions[i % len(questions)], k=10))
                answered[0] += 1
            except BaseException as exc:  # noqa: BLE001 - every failure counts
                failures.append(exc)
            i += 1

    threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        before = answered[0]
        pids = shards.replica_pids(0, REPLICAS)
        assert len(pids) == REPLICAS
        os.kill(pids[0], signal.SIGKILL)
        time.sleep(5)
        assert answered[0] > before, "queries kept being answered after the kill"
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not failures, failures[:3]
    print(f"killed replica {pids[0]} of shard 0 under load: {answered[0]} answered, 0 failed, "
          f"{shards.retried} calls retried")
    deadline = time.time() + 60
    while len(set(shards.replica_pids(0, REPLICAS)) - {pids[0]}) < REPLICAS:  # Serve starts a new one
        assert time.time() < deadline, "Serve did not replace the killed replica"
        time.sleep(0.5)


def test_a_shard_with_no_replica_answers_503_naming_it(apps, shards) -> None:
    """Last: it deletes shard 1's deployment."""
    from ray import serve

    from web.cluster import APP

    sharded, _ = apps
    serve.delete(APP.format(n=1))
    client = sharded.test_client()
    client.application.extensions["newsclip"].engine.vectors.clear()
    response = client.get("/api/search?q=coffee+quotas+in+Brazil")
    assert response.status_code == 503, response.get_json()
    body = response.get_json()
    assert body["error"]["code"] == "shard_unavailable" and "shard 1" in body["error"]["message"]
    assert response.headers["Retry-After"]
    page = client.get("/?q=coffee+quotas+in+Brazil")
    assert page.status_code == 503 and b"Shard 1 is unavailable" in page.data


def test_the_server_refuses_ray_options_it_cannot_honour(capsys) -> None:
    from web.__main__ import main

    assert main(["--index", "nowhere", "--ray", "auto", "--workers", "2"]) == 2
    assert "one router process" in capsys.readouterr().err
    assert main(["--index", "nowhere", "--ray", "auto", "--shards", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err
