"""End-to-end rebuilds with the real model: what is indexed, the cache, and failure safety."""

from __future__ import annotations

import errno
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rank_bm25 import BM25Okapi

from conftest import ROOT, SEEDS, reuters_stories, write_jsonl
from indexer import build as build_module
from indexer import sink as sink_module
from indexer.build import BuildConfig, StrictProblems, build_index
from indexer.prepare import embed_text
from indexer.cli import main as cli
from indexer.onnx_export import resolve_variant
from indexer.sources.walk import walk_sources
from search.bm25 import BM25Index
from search.dense import load_dense
from search.errors import BuildError
from search.layout import BM25_DIR, BUILDS, DENSE, STORE, TMP_PREFIX, current_build, read_manifest, verify_build
from search.store import Store
from search.text import tokenize


def stats_json(index_dir: Path) -> dict:
    result = CliRunner().invoke(cli, ["stats", "--index", str(index_dir), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_seeds_index_is_whole_and_consistent(seeds_index: Path, embedder) -> None:
    build = current_build(seeds_index)
    manifest = verify_build(build)
    store = Store(build / STORE)
    articles = store.articles()
    assert sorted(a.title for a in articles) == [
        "Putin and Assad hold talks on anniversary of Syria uprising",
        "Russia pledges to support Syrian government",
    ]
    counts = store.counts()
    bm25 = BM25Index.load(build / BM25_DIR)
    dense = load_dense(build / DENSE, embedder.dimension, counts["passages"])
    assert bm25.n_docs == dense.ntotal == counts["passages"] == manifest["counts"]["passages"]
    stats = stats_json(seeds_index)
    assert stats["articles"] == 2 == manifest["counts"]["articles"]
    assert stats["passages"] == counts["passages"]
    assert stats["model"] == "all-MiniLM-L6-v2" and stats["dimension"] == 384
    assert stats["built_at"] == manifest["built_at"]
    assert {s["path"].rsplit("/", 1)[-1] for s in manifest["sources"]} == {p.name for p in SEEDS.glob("*.txt")}
    assert all(len(s["sha256"]) == 64 for s in manifest["sources"])


def test_the_build_carries_the_model_that_embedded_it(seeds_index: Path, embedder) -> None:
    build = current_build(seeds_index)
    manifest = verify_build(build)  # the model files are checksummed with the rest
    assert manifest["model"]["variant"] == embedder.variant == resolve_variant("auto")
    assert {"model/model.onnx", "model/tokenizer.json", "model/embedder.json"} <= set(manifest["files"])
    from search.embed import OnnxEmbedder

    shipped = OnnxEmbedder(build / "model")
    assert shipped.fingerprint == manifest["model"]["fingerprint"] == embedder.fingerprint
    assert np.array_equal(shipped.encode(["Assad in Moscow"]), embedder.encode(["Assad in Moscow"]))


def test_every_passage_fits_the_model_and_maps_back(seeds_index: Path, embedder) -> None:
    store = Store(current_build(seeds_index) / STORE)
    for article in store.articles():
        passages = store.article_passages(article.id)
        assert passages
        texts = [embed_text(article, p) for p in passages]
        assert max(embedder.count_tokens(texts)) <= embedder.max_tokens
        for p in passages:
            assert article.text[p.start : p.end] == p.text


def test_vectors_are_the_models_embeddings(seeds_index: Path, embedder) -> None:
    build = current_build(seeds_index)
    store = Store(build / STORE)
    dense = load_dense(build / DENSE, embedder.dimension, store.counts()["passages"])
    articles = {a.id: a for a in store.articles()}
    rows = [0, store.counts()["passages"] - 1]
    for row, passage in zip(rows, store.passages(rows)):
        expected = embedder.encode([embed_text(articles[passage.article_id], passage)])[0]
        assert np.allclose(dense.reconstruct(row), expected, atol=1e-4)


def test_bm25_of_the_build_equals_rank_bm25(seeds_index: Path) -> None:
    build = current_build(seeds_index)
    store = Store(build / STORE)
    articles = {a.id: a for a in store.articles()}
    rows = list(range(store.counts()["passages"]))
    corpus = [tokenize(embed_text(articles[p.article_id], p)) for p in store.passages(rows)]
    index = BM25Index.load(build / BM25_DIR)
    p = index.params
    reference = BM25Okapi(corpus, k1=p.k1, b=p.b, epsilon=p.epsilon)
    for question in ["What did Putin say about the Syrian people?", "Assad visit Moscow anniversary", "miracle"]:
        q = tokenize(question)
        assert np.max(np.abs(index.scores(q) - reference.get_scores(q))) <= 1e-6


def test_second_rebuild_reuses_cached_embeddings(tmp_path: Path, embedder) -> None:
    config = BuildConfig(sources=(SEEDS,), index_dir=tmp_path / "index", progress=False)
    first = build_index(config, embedder=embedder)
    assert first.embeddings["embedded"] > 0
    second = build_index(config, embedder=embedder)
    assert second.embeddings["embedded"] == 0
    assert second.embeddings["cached"] == first.embeddings["embedded"]
    assert current_build(tmp_path / "index").name == second.build_id
    builds = [p.name for p in (tmp_path / "index" / BUILDS).iterdir()]
    assert builds == [second.build_id], "the old build is removed after the switch"


def test_wire_copies_are_embedded_once(tmp_path: Path, embedder) -> None:
    text = "The central bank raised interest rates by half a point on Tuesday. Markets fell sharply."
    records = [{"id": str(i), "title": "Rates rise", "text": text, "date": "2020-01-0%d" % (i + 1)} for i in range(3)]
    corpus = write_jsonl(tmp_path / "wire.jsonl", records)
    report = build_index(BuildConfig(sources=(corpus,), index_dir=tmp_path / "i", progress=False), embedder=embedder)
    assert report.passages == 3
    assert report.embeddings == {"cached": 0, "embedded": 1, "duplicates": 2}


def test_reuters_rebuild_matches_stats(tmp_path: Path, embedder) -> None:
    stories = reuters_stories(1000)
    corpus = write_jsonl(tmp_path / "reuters.jsonl.gz", stories)
    index_dir = tmp_path / "index"
    report = build_index(BuildConfig(sources=(corpus,), index_dir=index_dir, progress=False), embedder=embedder)
    stats = stats_json(index_dir)
    assert stats["articles"] == report.articles == 1000 - report.skipped
    assert report.articles >= 990
    assert stats["passages"] == report.passages >= report.articles
    build = current_build(index_dir)
    store = Store(build / STORE)
    assert store.counts() == {"articles": stats["articles"], "passages": stats["passages"], "quotes": stats["quotes"]}
    assert stats["quotes"] > report.articles // 4  # Reuters quotes people in a good share of its stories
    first = store.article(stories[0]["id"])
    assert first is not None and first.date == stories[0]["date"] and first.source == "Reuters"
    assert BM25Index.load(build / BM25_DIR).n_docs == stats["passages"]


def test_failure_in_faiss_stage_keeps_previous_index(tmp_path: Path, embedder, monkeypatch) -> None:
    index_dir = tmp_path / "index"
    config = BuildConfig(sources=(SEEDS,), index_dir=index_dir, progress=False)
    before = build_index(config, embedder=embedder)

    def broken(*args, **kwargs):
        raise RuntimeError("injected FAISS failure")

    monkeypatch.setattr(sink_module, "save_dense", broken)
    with pytest.raises(RuntimeError, match="injected"):
        build_index(config, embedder=embedder)
    assert current_build(index_dir).name == before.build_id
    verify_build(current_build(index_dir))
    assert Store(current_build(index_dir) / STORE).counts()["articles"] == 2
    assert not [p for p in (index_dir / BUILDS).iterdir() if p.name.startswith(TMP_PREFIX)]


def test_strict_refuses_bad_input_and_publishes_nothing(tmp_path: Path, embedder) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    (corpus / "broken.jsonl").write_text('{"id": "1", "title": "ok", "text": "Fine text here."}\nnot json\n')
    index_dir = tmp_path / "index"
    with pytest.raises(StrictProblems) as caught:
        build_index(BuildConfig(sources=(corpus,), index_dir=index_dir, strict=True, progress=False), embedder=embedder)
    assert any("broken.jsonl:2" in p.origin for p in caught.value.problems)
    assert not (index_dir / "CURRENT").exists() and not any((index_dir / BUILDS).iterdir())  # no build, no leftover
    report = build_index(BuildConfig(sources=(corpus,), index_dir=index_dir, progress=False), embedder=embedder)
    assert report.articles == 3 and report.skipped == 1
    manifest = read_manifest(current_build(index_dir))
    assert manifest["counts"]["skipped"] == 1
    assert any(p["origin"].endswith("broken.jsonl:2") for p in manifest["problems"])


def test_no_articles_is_an_error_not_an_empty_index(tmp_path: Path, embedder) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(BuildError, match="no articles"):
        build_index(BuildConfig(sources=(tmp_path / "empty.jsonl",), index_dir=tmp_path / "i", progress=False),
                    embedder=embedder)


def test_cli_rebuild_prints_summary_and_strict_exit(tmp_path: Path) -> None:
    runner = CliRunner()
    index_dir = tmp_path / "index"
    result = runner.invoke(cli, ["rebuild", "--source", str(SEEDS), "--index", str(index_dir), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "articles: 2" in result.output and "skipped: 0" in result.output and "seconds:" in result.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.jsonl").write_text("{oops\n")
    result = runner.invoke(cli, ["rebuild", "--source", str(bad), "--index", str(index_dir), "--strict", "--quiet"])
    assert result.exit_code == 3
    assert "x.jsonl:1" in result.output
    result = runner.invoke(cli, ["stats", "--index", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "no index" in result.output


def _spawn_rebuild(corpus: Path, index_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    args = ["rebuild", "--source", str(corpus), "--index", str(index_dir), "--quiet", "--batch-size", "4"]
    return subprocess.Popen(
        [sys.executable, "-m", "indexer", *args],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _wait_for(condition, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for the rebuild to reach its stage")
        time.sleep(0.005)


def test_sigkill_mid_rebuild_leaves_previous_index_current(tmp_path: Path, embedder) -> None:
    index_dir = tmp_path / "index"
    before = build_index(BuildConfig(sources=(SEEDS,), index_dir=index_dir, progress=False), embedder=embedder)
    corpus = write_jsonl(tmp_path / "reuters.jsonl", reuters_stories(150))
    rng = random.Random(7)

    def still_whole() -> None:
        build = current_build(index_dir)
        assert build.name == before.build_id
        verify_build(build)
        assert Store(build / STORE).counts()["articles"] == 2

    # 1: killed while embedding (the cache is filling, no temp build yet)
    proc = _spawn_rebuild(corpus, index_dir)
    cache = index_dir / "cache" / "embeddings.sqlite-wal"
    _wait_for(lambda: cache.exists() and cache.stat().st_size > 0 or proc.poll() is not None)
    time.sleep(rng.uniform(0.1, 1.0))
    assert proc.poll() is None, "the rebuild finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    still_whole()
    # 2: killed as soon as the temp build appears (writing BM25, FAISS or SQLite)
    proc = _spawn_rebuild(corpus, index_dir)
    builds = index_dir / BUILDS
    _wait_for(lambda: any(p.name.startswith(TMP_PREFIX) for p in builds.iterdir()) or proc.poll() is not None)
    assert proc.poll() is None, "the rebuild finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    still_whole()
    # the next rebuild succeeds and cleans the leftovers
    report = build_index(BuildConfig(sources=(corpus,), index_dir=index_dir, progress=False), embedder=embedder)
    assert report.embeddings["cached"] > 0, "the killed runs' embeddings were kept"
    assert current_build(index_dir).name == report.build_id
    verify_build(current_build(index_dir))
    assert [p.name for p in builds.iterdir()] == [report.build_id]


# --- progress a person can follow (issue 11) ---------------------------------------------------------------------


def test_progress_shows_the_total_and_moves_in_small_steps(tmp_path: Path, embedder, monkeypatch, capsys) -> None:
    corpus = write_jsonl(tmp_path / "reuters.jsonl.gz", reuters_stories(40))
    slow = sink_module.Sink.add

    def add(self, batch, *args, **kwargs):  # every step lasts past tqdm's 0.1 s refresh interval, so each shows
        time.sleep(0.12)
        return slow(self, batch, *args, **kwargs)

    monkeypatch.setattr(sink_module.Sink, "add", add)
    report = build_index(BuildConfig(sources=(corpus,), index_dir=tmp_path / "index"), embedder=embedder)
    err = capsys.readouterr().err
    counts = [int(n) for n in re.findall(r"index:\s+\d+%\|[^|]*\|\s*(\d+)/40 ", err)]
    assert counts and counts[-1] == 40 == report.articles + report.skipped, err[-2000:]
    assert len({n for n in counts if 0 < n < 40}) >= 3, f"too few steps before the end: {counts}"
    assert re.search(r"\d+/40 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+ ?article/s\]", err), "no rate or time left"
    assert "file/s" not in err and "0/1 " not in err  # no bar counting files that sits at 0/1


def test_quiet_build_prints_no_progress(tmp_path: Path, embedder, capsys) -> None:
    build_index(BuildConfig(sources=(SEEDS,), index_dir=tmp_path / "index", progress=False), embedder=embedder)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_the_total_counts_jsonl_lines_and_page_files(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl.gz", [{"id": str(i), "text": "x"} for i in range(7)])
    (tmp_path / "b.jsonl").write_text('{"id": "b1", "text": "y"}\n{"id": "b2", "text": "z"}')  # no final newline
    (tmp_path / "c.jsonl").write_text("")
    shutil.copytree(SEEDS, tmp_path / "pages")
    listed = list(walk_sources([tmp_path]))
    assert build_module.count_articles(listed) == 7 + 2 + 0 + len(list(SEEDS.glob("*.txt")))


# --- the exported model: once per model cache, shipped in every build (issue 11) ----------------------------------


def _fake_export(calls: list, model_file: Path):
    """An export that copies a model already exported this session, counting the calls (no 40 s torch export)."""

    def export(source: Path, work: Path, variant: str) -> None:
        calls.append(variant)
        shutil.copy2(model_file, work / "model.onnx")

    return export


def test_two_index_folders_share_one_export(tmp_path: Path, embedder, monkeypatch) -> None:
    from indexer import onnx_export

    calls: list[str] = []
    monkeypatch.setattr(onnx_export, "_export", _fake_export(calls, embedder.folder / "model.onnx"))
    models = tmp_path / "models"
    builds = []
    for name in ("first", "second"):
        config = BuildConfig(sources=(SEEDS,), index_dir=tmp_path / name, model_cache=models, progress=False)
        report = build_index(config)
        builds.append(report.build_dir)
        verify_build(report.build_dir)
    assert calls == [resolve_variant("auto")], "the second index folder exported the model again"
    [export] = [p for p in models.iterdir() if not p.name.startswith(".")]
    for build in builds:  # each build carries the model, hard-linked to the cache on one filesystem
        assert (build / "model" / "model.onnx").stat().st_ino == (export / "model.onnx").stat().st_ino
        assert not (build.parents[1] / "cache" / "models").exists()


def test_the_model_is_copied_when_it_cannot_be_linked(tmp_path: Path, embedder, monkeypatch) -> None:
    def cross_device(src, dst, *args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    report = build_index(BuildConfig(sources=(SEEDS,), index_dir=tmp_path / "index", progress=False),
                         embedder=embedder)
    shipped = report.build_dir / "model" / "model.onnx"
    assert shipped.stat().st_ino != (embedder.folder / "model.onnx").stat().st_ino
    assert shipped.read_bytes() == (embedder.folder / "model.onnx").read_bytes()
    verify_build(report.build_dir)


def test_model_cache_comes_from_the_option_the_environment_or_the_user_cache(tmp_path: Path, monkeypatch) -> None:
    from indexer import cli as cli_module

    seen: list[BuildConfig] = []

    def fake_build(config: BuildConfig):
        seen.append(config)
        raise BuildError("stopped by the test")

    monkeypatch.setattr(cli_module, "build_index", fake_build)
    monkeypatch.delenv("NEWSCLIP_MODEL_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    runner = CliRunner()
    args = ["rebuild", "--source", "x", "--quiet"]
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert runner.invoke(cli, args).exit_code == 1
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert runner.invoke(cli, args).exit_code == 1
    monkeypatch.setenv("NEWSCLIP_MODEL_CACHE", str(tmp_path / "env"))
    assert runner.invoke(cli, args).exit_code == 1
    assert runner.invoke(cli, [*args, "--model-cache", str(tmp_path / "opt")]).exit_code == 1
    assert [c.model_cache for c in seen] == [
        tmp_path / "home" / ".cache" / "newsclip" / "models", tmp_path / "xdg" / "newsclip" / "models",
        tmp_path / "env", tmp_path / "opt"]
    assert BuildConfig().model_cache is None  # the library reads no environment: the index's own cache folder
