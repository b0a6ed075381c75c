"""Serving while rebuilding: a new build is picked up, requests in flight keep theirs, a bad build is refused."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import pytest

from conftest import SEEDS, write_jsonl
from indexer.build import BuildConfig, build_index
from search.engine import SearchEngine
from search.layout import BUILDS, hold_build, release_build
from search.live import LiveIndex
from search.models import SearchRequest

EXTRA = {"id": "extra-1", "title": "Harbour strike ends", "date": "2024-05-04", "source": "Wire",
         "text": "Dock workers ended the harbour strike on Monday after the union accepted a pay rise."}


@pytest.fixture
def index(tmp_path: Path, embedder) -> Path:
    """An index of the seeds, in its own folder (the test rebuilds it)."""
    index_dir = tmp_path / "index"
    build_index(BuildConfig(sources=(SEEDS,), index_dir=index_dir, progress=False), embedder=embedder)
    return index_dir


def rebuild(index_dir: Path, embedder, *sources: Path) -> Path:
    report = build_index(BuildConfig(sources=(SEEDS, *sources), index_dir=index_dir, progress=False),
                         embedder=embedder)
    return report.build_dir


def opener(embedder):
    def open_build(build: Path, manifest: dict, previous: SearchEngine | None) -> SearchEngine:
        return SearchEngine.open_build(build, embedder=embedder, manifest=manifest)
    return open_build


def titles(engine: SearchEngine, q: str) -> list[str]:
    return [h.title for h in engine.search(SearchRequest(q, k=10)).hits]


def test_a_new_build_is_served_and_the_old_one_kept_for_its_requests(index: Path, tmp_path: Path, embedder) -> None:
    live = LiveIndex(index, opener(embedder))
    first = live.build_name
    assert live.refresh() is False  # nothing new
    with live.using() as old:  # a request in flight
        new_path = rebuild(index, embedder, write_jsonl(tmp_path / "extra.jsonl", [EXTRA]))
        assert (index / BUILDS / first).is_dir()  # the rebuild left the held build alone
        assert live.refresh() is True and live.build_name == new_path.name != first
        assert "Harbour strike ends" not in titles(old, "harbour strike")  # still the old index, still whole
        assert old.article_passages(old.store.articles()[0].id)  # its files are all still there
        with live.using() as new:
            assert titles(new, "harbour strike")[0] == "Harbour strike ends"
        assert (index / BUILDS / first).is_dir()
    deadline = time.monotonic() + 10  # its last request done: closed and removed, off the request's thread
    while (index / BUILDS / first).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (index / BUILDS / first).exists()
    assert live.reloads == 1
    live.close()


def test_a_build_that_fails_its_checksums_is_refused(index: Path, tmp_path: Path, embedder, caplog) -> None:
    live = LiveIndex(index, opener(embedder))
    first = live.build_name
    bad = rebuild(index, embedder, write_jsonl(tmp_path / "extra.jsonl", [EXTRA]))
    with (bad / "bm25" / "params.json").open("a") as handle:  # damaged after publishing
        handle.write(" ")
    with caplog.at_level(logging.ERROR, logger="search.live"):
        assert live.refresh() is False
    assert live.build_name == first
    assert any("refused" in r.message and bad.name in r.message and "checksum" in r.message for r in caplog.records)
    with live.using() as engine:
        assert titles(engine, "Putin Assad")  # still answering from the old build
    assert live.refresh() is False  # refused once, not retried on every check
    good = rebuild(index, embedder, write_jsonl(tmp_path / "extra2.jsonl", [{**EXTRA, "id": "extra-2"}]))
    assert live.refresh() is True and live.build_name == good.name
    live.close()


def test_the_watcher_picks_up_a_rebuild_within_seconds(index: Path, tmp_path: Path, embedder) -> None:
    live = LiveIndex(index, opener(embedder))
    live.watch(0.2)
    new = rebuild(index, embedder, write_jsonl(tmp_path / "extra.jsonl", [EXTRA]))
    published = time.monotonic()
    while live.build_name != new.name and time.monotonic() - published < 20:
        time.sleep(0.05)
    took = time.monotonic() - published
    assert live.build_name == new.name, "the watcher did not pick up the new build"
    print(f"picked up {took:.2f} s after publishing")
    live.close()


def test_a_build_held_by_a_reader_is_removed_by_the_next_rebuild_after_release(index: Path, tmp_path: Path,
                                                                               embedder) -> None:
    held = SearchEngine.open(index, embedder=embedder).build_dir
    lease = hold_build(held)
    rebuild(index, embedder, write_jsonl(tmp_path / "extra.jsonl", [EXTRA]))
    assert held.is_dir()
    release_build(lease)
    latest = rebuild(index, embedder, write_jsonl(tmp_path / "extra2.jsonl", [{**EXTRA, "id": "extra-2"}]))
    assert sorted(p.name for p in (index / BUILDS).iterdir()) == [latest.name]


def test_the_web_app_follows_the_index(index: Path, tmp_path: Path, embedder) -> None:
    from web import create_app

    app = create_app({"INDEX": index, "TESTING": True, "EMBEDDER": embedder, "RELOAD_INTERVAL": 0.2})
    client = app.test_client()
    before = client.get("/healthz").get_json()["build_id"]
    new = rebuild(index, embedder, write_jsonl(tmp_path / "extra.jsonl", [EXTRA]))
    deadline = time.monotonic() + 20
    while client.get("/healthz").get_json()["build_id"] != new.name and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.get("/healthz").get_json()["build_id"] == new.name != before
    hits = client.get("/api/search", query_string={"q": "harbour strike"}).get_json()["hits"]
    assert hits[0]["title"] == "Harbour strike ends"
    app.extensions["newsclip"].close()


def test_a_missing_index_is_named_at_start(tmp_path: Path, embedder) -> None:
    from search.errors import IndexNotFound

    with pytest.raises(IndexNotFound, match="no index"):
        LiveIndex(tmp_path / "nothing", opener(embedder))
    shutil.rmtree(tmp_path, ignore_errors=True)


def commit_opener(embedder):
    """As the web app opens builds: a new commit of the same build reuses the open segments."""
    def open_build(build: Path, manifest: dict, previous: SearchEngine | None) -> SearchEngine:
        same = previous is not None and previous.build_dir == build
        return SearchEngine.open_build(build, embedder=embedder, manifest=manifest,
                                       segments=previous.segments if same else None)
    return open_build


def test_commits_are_followed_fresh_and_reuse_unchanged_segments(index: Path, tmp_path: Path, embedder) -> None:
    from indexer.living import ArchiveWriter, writer_lock
    from indexer.sources import read_articles

    live = LiveIndex(index, commit_opener(embedder))
    live.watch(0.05)
    try:
        base = live.engine.segments
        extra = [a for a in read_articles([write_jsonl(tmp_path / "extra.jsonl", [EXTRA])])]
        with writer_lock(index):
            ArchiveWriter(index, BuildConfig(index_dir=index, progress=False), embedder).apply(extra)
        acknowledged = time.monotonic()
        while "Harbour strike ends" not in titles(live.engine, "harbour strike"):
            assert time.monotonic() - acknowledged < 10, "the added article never became searchable"
            time.sleep(0.01)
        found_after = time.monotonic() - acknowledged
        assert live.engine.segments is base and len(base) == 2  # the build's reader was kept, one segment opened
        with live.using() as before:
            with writer_lock(index):
                ArchiveWriter(index, BuildConfig(index_dir=index, progress=False), embedder).apply(
                    deletes=["extra-1"])
            acknowledged = time.monotonic()
            while "Harbour strike ends" in titles(live.engine, "harbour strike"):
                assert time.monotonic() - acknowledged < 10, "the deleted article never went"
                time.sleep(0.01)
            gone_after = time.monotonic() - acknowledged
            assert titles(before, "Putin") == titles(live.engine, "Putin")  # the request in flight still answers
        deadline = time.monotonic() + 10  # the old snapshot already hides it (its rows purged); the new one comes
        while live.reloads < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live.engine.article("extra-1") is None and live.reloads == 2
        print(f"searchable after {found_after:.3f} s, gone after {gone_after:.3f} s")  # the targets: 2 s and 1 s
    finally:
        live.close()
    assert live.build_name == index.joinpath("CURRENT").read_text().strip()
