"""Merging segments: the same answers before and after, from stored data alone, and never half a merge."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pytest
from click.testing import CliRunner

import indexer.prepare
import indexer.chunking
import indexer.quotes
from conftest import ROOT, reuters_stories, write_jsonl
from indexer.build import BuildConfig, build_index
from indexer.cli import main
from indexer.living import ArchiveWriter, writer_lock
from search.segments import commit_summary
from indexer.merge import (MergeConflict, apply_merge, base_files, merge_all, merge_dense, merge_segments,
                           merged_name, release_base, segment_sizes)
from indexer.mergepolicy import MergePolicy, plan_merges, segment_bound
from indexer.sources import read_articles
from search.commit import BASE, read_commit
from search.dense import DenseConfig, build_dense, save_dense
from search.engine import SearchEngine
from search.layout import current_build, read_manifest, verify_build
from search.models import Hit, SearchRequest

QUESTIONS = ["What did Cranston say?", "interest rates", "said the company", "market", "company profit rose",
             "Brazil debt", "Bentsen trade", "budget deficit"]
RARE = "xylobr"  # the stem of a word of the planted article only: in a term dictionary until its segment is rewritten
PLANTED = {"id": "planted-m", "title": "Xylobrant counts amber walruses at Vetluga", "date": "1987-03-02",
           "source": "Testwire",
           "body": "The quartermaster Xylobrant counted eleven amber walruses on the Vetluga pier at dawn.\n\n"
                   '"We have never seen so many walruses in March," said Olga Xylobrant, the harbour master.'}
NEEDLES = (b"amber walruses", b"Xylobrant", RARE.encode(), b"Vetluga")


def _articles(folder: Path, stories: list[dict], name: str) -> list:
    path = write_jsonl(folder / f"{name}.jsonl", stories)
    return [a for a in read_articles([path]) if not hasattr(a, "reason")]


def _write(index: Path, embedder, adds=(), deletes=()):
    with writer_lock(index):
        return ArchiveWriter(index, BuildConfig(index_dir=index, progress=False), embedder).apply(adds, deletes)


def _config(index: Path) -> BuildConfig:
    return BuildConfig(index_dir=index, progress=False)


@pytest.fixture(scope="module")
def archive(tmp_path_factory, embedder) -> Path:
    """A base of 30 Reuters stories, three added segments of 10 (one with a planted article, two replacing base
    and segment stories), then deletes in the base, the first and the last segment (the planted one too)."""
    folder = tmp_path_factory.mktemp("merge")
    stories = reuters_stories(60)
    index = folder / "index"
    build_index(BuildConfig(sources=(write_jsonl(folder / "base.jsonl", stories[:30]),), index_dir=index,
                            progress=False), embedder=embedder)
    changed = lambda s: dict(s, body=s["body"] + "\nThe figures were revised on Friday.")  # noqa: E731
    _write(index, embedder, adds=_articles(folder, [*stories[30:40], PLANTED], "one"))
    _write(index, embedder, adds=_articles(folder, [*stories[40:50], changed(stories[2])], "two"))
    _write(index, embedder, adds=_articles(folder, [*stories[50:60], changed(stories[35])], "three"))
    gone = [str(stories[i]["id"]) for i in (5, 6, 33, 55)] + [PLANTED["id"]]
    report = _write(index, embedder, deletes=gone)
    assert sorted(report.deleted) == sorted(gone) and report.segments == 4
    return index


@pytest.fixture
def index(archive: Path, tmp_path: Path) -> Path:
    """A copy of the archive for one test (merges change it)."""
    return Path(shutil.copytree(archive, tmp_path / "index", symlinks=True))


def _hit(h) -> tuple[tuple, tuple]:
    """(what must be equal, the scores that may differ by rounding) of a hit or a quotation hit."""
    s = h.scores
    floats = (s.bm25 or 0.0, s.dense or 0.0, s.fused, h.score)
    if isinstance(h, Hit):
        p = h.passage
        key = (h.article_id, p.ordinal, p.start, p.end, p.text, h.quote and h.quote.text, s.bm25_rank, s.dense_rank,
               tuple(m.article_id for m in h.quotations), tuple(x.ordinal for x in h.more_passages))
    else:
        q = h.quotation
        key = (q.article_id, q.start, q.end, q.text, q.speaker, s.bm25_rank, s.dense_rank, h.speaker_named)
    return key, floats


def answers(engine: SearchEngine) -> dict:
    out: dict = {"speakers": engine.speakers(""), "sources": engine.sources()}
    for q in QUESTIONS:
        for mode, kind in (("bm25", "articles"), ("dense", "articles"), ("hybrid", "articles"),
                           ("bm25", "quotes"), ("dense", "quotes"), ("hybrid", "quotes")):
            r = engine.search(SearchRequest(q=q, mode=mode, type=kind, k=10))
            out[(q, mode, kind)] = (r.total, r.facets, [_hit(h) for h in r.hits], [_hit(h) for h in r.near_misses])
    return out


def assert_same(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    hits: dict[tuple[str, str], int] = {}
    for key in before:
        if not isinstance(key, tuple):
            assert before[key] == after[key], key
            continue
        (t0, f0, h0, n0), (t1, f1, h1, n1) = before[key], after[key]
        assert (t0, f0) == (t1, f1), key
        for a, b in ((h0, h1), (n0, n1)):
            assert [k for k, _ in a] == [k for k, _ in b], key
            for (_, x), (_, y) in zip(a, b):
                assert x == pytest.approx(y, abs=1e-9), key  # BM25 within 1e-9; cosines and fused scores too
        hits[key[1:]] = hits.get(key[1:], 0) + len(h0)
    assert len(hits) == 6 and min(hits.values()) >= 3, hits  # the questions find things, in every mode


def _files_with(folder: Path, needles=NEEDLES) -> list[tuple[str, str]]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found.extend((str(path.relative_to(folder)), n.decode()) for n in needles if n in data)
    return found


def _stats(index: Path) -> dict:
    out = CliRunner().invoke(main, ["stats", "--index", str(index), "--json"])
    assert out.exit_code == 0, (out.output, out.exception)
    return json.loads(out.stdout)


@pytest.mark.slow
def test_a_merge_changes_no_answer_and_computes_nothing(index: Path, embedder, monkeypatch) -> None:
    build = current_build(index)
    commit = read_commit(build, 0)
    assert [ref.path for ref in commit.segments][0] == BASE and len(commit.segments) == 4
    engine = SearchEngine.open(index, embedder=embedder)
    before = answers(engine)
    stats_before = _stats(index)
    sizes, shares = segment_sizes(build, commit)
    assert sum(sizes) == stats_before["passages"] and shares[1] > 0.2  # the first segment lost 3 of 11
    first_segment = build / commit.segments[1].path
    assert RARE.encode() in (first_segment / "bm25" / "term_chars.npy").read_bytes()  # a rare word stays until...

    def refuse(*args, **kwargs):
        raise AssertionError("a merge computed something it should have read")

    with monkeypatch.context() as m:  # no embedding, no chunking, no quotation extraction
        m.setattr(type(embedder), "encode", refuse)
        m.setattr(indexer.chunking, "split_article", refuse)
        m.setattr(indexer.prepare, "split_article", refuse)
        m.setattr(indexer.prepare, "extract_quotations", refuse)
        m.setattr(indexer.quotes, "extract_batch", refuse)
        began = time.perf_counter()
        new = apply_merge(build, commit, 1, 3, _config(index))
        took = time.perf_counter() - began
    print(f"merge of 3 segments ({sum(sizes[1:])} live passages): {took:.2f} s")

    assert len(new.segments) == 2 and new.segments[0] == commit.segments[0]
    merged = new.segments[1]
    assert merged.path == f"segments/{merged_name(commit.generation + 1)}" and merged.deleted is None
    assert merged.live_articles == merged.articles == sum(r.live_articles for r in commit.segments[1:])
    assert new.journal_seq == commit.journal_seq and new.extra == commit.extra
    assert read_commit(build, 0) == new  # HEAD names it
    folder = build / merged.path
    verify_build(folder)  # every file as its manifest says
    assert _files_with(folder) == []  # the deleted article is in no file of it, not even its rare word
    assert not (build / "merging").exists() and not list((build / "segments").glob(".tmp-*"))

    after = answers(SearchEngine.open(index, embedder=embedder))
    assert_same(before, after)
    stats = _stats(index)
    assert stats["segments"] == 2 and stats["generation"] == commit.generation + 1
    for key in ("articles", "passages", "journal_pending"):
        assert stats[key] == stats_before[key], key
    merged_row = stats["segment_list"][1]
    assert merged_row["deleted_articles"] == merged_row["deleted_passages"] == 0
    assert stats["deleted_articles"] == stats_before["segment_list"][0]["deleted_articles"]  # the base's, kept
    assert commit_summary(build, read_manifest(build))["passages"] == sum(segment_sizes(build, new)[0])

    # the next commit's collection removes the merged segments' folders (kept meanwhile for readers of the last)
    _write(index, embedder, deletes=[str(reuters_stories(11)[10]["id"])])
    assert not any((build / ref.path).exists() for ref in commit.segments[1:])


@pytest.mark.slow
def test_merging_the_base_retires_its_files(index: Path, embedder) -> None:
    build = current_build(index)
    commit = read_commit(build, 0)
    engine = SearchEngine.open(index, embedder=embedder)
    before = answers(engine)
    # merge_segments alone writes a segment and publishes nothing (the next collection removes it)
    ref, manifest = merge_segments(build, commit, 2, 3, 99, _config(index))
    assert ref.path == "segments/seg-00000099-m" and read_commit(build, 0) == commit
    assert manifest["counts"]["articles"] == ref.live_articles == sum(r.live_articles for r in commit.segments[2:])
    assert [m["path"] for m in manifest["merged_from"]] == [r.path for r in commit.segments[2:]]
    verify_build(build / ref.path)
    new = apply_merge(build, commit, 0, 1, _config(index))
    assert [ref.path for ref in new.segments][1:] == [ref.path for ref in commit.segments[2:]]
    assert set(base_files(build)) <= set(new.mutable) and "store.sqlite" in base_files(build)
    assert new.extra["base_retired"] == base_files(build)
    assert (build / "store.sqlite").exists()  # the previous commit still names the base
    assert_same(before, answers(SearchEngine.open(index, embedder=embedder)))
    # a later commit: no kept commit names the base, so its index files go (the writer calls release_base)
    later = _write(index, embedder, deletes=[str(reuters_stories(11)[10]["id"])])  # now in the merged segment
    assert later.segments == 3 and not (build / ref.path).exists()
    mid = answers(SearchEngine.open(index, embedder=embedder))
    # the writer released the base itself after its commit: its files are gone, its manifest and model stay
    assert not (build / "store.sqlite").exists() and (build / "manifest.json").exists()
    assert release_base(build, [read_commit(build, 0), new]) == []  # nothing left to release
    head = read_commit(build, 0)
    assert head.extra["base_retired"] == base_files(build)  # a writer's commit keeps it (and drops from mutable)
    # what a server checks when it loads the build: its files but the purged and retired ones
    verify_build(build, skip=frozenset(head.mutable) | frozenset(head.extra["base_retired"]))
    assert_same(mid, answers(SearchEngine.open(index, embedder=embedder)))


@pytest.mark.slow
@pytest.mark.parametrize("when", ["_write_merged", "_write_store"])
def test_deletes_made_during_a_background_merge_are_carried_over(when: str, index: Path, archive: Path,
                                                                 tmp_path: Path, embedder, monkeypatch) -> None:
    """A writer deletes two articles of the merged segments (and purges their stores) after the merge has
    written its segment, or before it copied the stores: either way they are gone from the merged commit."""
    import indexer.merge as merge_module

    build = current_build(index)
    commit = read_commit(build, 0)
    stories = {str(s["id"]): s for s in reuters_stories(60)}
    late = [str(s) for s in list(stories)[41:42] + list(stories)[52:53]]  # in segments 2 and 3, live until now
    step = getattr(merge_module, when)

    def with_a_writer_meanwhile(*args, **kwargs):
        if when == "_write_store":
            _write(index, embedder, deletes=late)  # purged from the sources before they are copied
            return step(*args, **kwargs)
        out = step(*args, **kwargs)
        _write(index, embedder, deletes=late)  # a writer commits while the merge waits for the lock
        return out

    monkeypatch.setattr(merge_module, when, with_a_writer_meanwhile)
    new = apply_merge(build, commit, 1, 3, _config(index), lock=lambda: writer_lock(index))
    monkeypatch.undo()
    assert new.generation == commit.generation + 2 and len(new.segments) == 2
    merged = new.segments[1]
    assert merged.deleted is not None and merged.live_articles == merged.articles - 2
    assert f"{merged.path}/store.sqlite" in new.mutable  # purged in place before the commit named it
    missing = json.loads((build / merged.path / "manifest.json").read_text(encoding="utf-8"))["missing_articles"]
    assert len(missing) == (2 if when == "_write_store" else 0)  # rows the copy found purged already
    titles = [stories[i]["title"].encode() for i in late if len(stories[i].get("title") or "") > 15]
    assert titles and _files_with(build / merged.path, titles) == []
    engine = SearchEngine.open(index, embedder=embedder)
    assert all(engine.article(i) is None for i in late)
    # the same answers as the same deletes committed without a merge
    reference = Path(shutil.copytree(archive, tmp_path / "reference", symlinks=True))
    _write(reference, embedder, deletes=late)
    assert_same(answers(SearchEngine.open(reference, embedder=embedder)), answers(engine))
    if when == "_write_store":
        return
    # a merge planned on a commit whose segments have gone since is abandoned, leaving nothing behind
    with pytest.raises(MergeConflict):
        apply_merge(build, commit, 1, 2, _config(index))
    assert read_commit(build, 0) == new
    assert {p.name for p in (build / "segments").iterdir()} == {
        Path(r.path).name for r in (*new.segments[1:], *commit.segments[1:])}  # the last commit's kept for readers


@pytest.mark.slow
def test_merge_all_runs_the_policy_until_it_rests(index: Path, embedder) -> None:
    build = current_build(index)
    before = answers(SearchEngine.open(index, embedder=embedder))
    policy = MergePolicy(segments_per_tier=2, floor=1_000)
    commits = merge_all(build, _config(index), policy, lock=lambda: writer_lock(index))
    head = read_commit(build, 0)
    assert commits and commits[-1] == head and len(head.segments) < 4
    sizes, shares = segment_sizes(build, head)
    assert plan_merges(sizes, shares, policy, has_base=head.segments[0].path == BASE) == []
    assert len(head.segments) <= segment_bound(sum(sizes), policy)
    assert_same(before, answers(SearchEngine.open(index, embedder=embedder)))


KILLER = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
from pathlib import Path
from indexer.build import BuildConfig
from indexer.merge import apply_merge
from search.commit import read_commit
build = Path({build!r})
commit = read_commit(build, 0)
print("ready", flush=True)
sys.stdin.readline()
apply_merge(build, commit, 0, 3, BuildConfig(index_dir=Path({index!r}), progress=False))
print("done", flush=True)
"""


@pytest.mark.slow
def test_a_merge_killed_at_any_moment_loses_nothing(archive: Path, tmp_path: Path, embedder) -> None:
    before = answers(SearchEngine.open(archive, embedder=embedder))
    generation = read_commit(current_build(archive), 0).generation
    outcomes = []
    for n, delay in enumerate((0.0, 0.05, 0.15, 0.3, 0.6, None)):  # None: once it says it is done
        index = Path(shutil.copytree(archive, tmp_path / f"index{n}", symlinks=True))
        build = current_build(index)
        script = KILLER.format(root=str(ROOT), tests=str(ROOT / "tests"), build=str(build), index=str(index))
        proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            assert proc.stdout.readline().strip() == "ready"
            proc.stdin.write("go\n")
            proc.stdin.flush()
            if delay is None:
                assert proc.stdout.readline().strip() == "done"
            else:
                time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        head = read_commit(build, 0)
        assert head.generation in (generation, generation + 1)
        outcomes.append(head.generation - generation)
        assert_same(before, answers(SearchEngine.open(index, embedder=embedder)))
        if len(head.segments) > 1:  # and the next merge starts over cleanly from whatever is there
            apply_merge(build, head, 1, len(head.segments) - 1, _config(index))
            assert_same(before, answers(SearchEngine.open(index, embedder=embedder)))
            assert not list((build / "segments").glob(".tmp-*"))  # a killed merge's leftovers are collected
    print("kill -9 outcomes (1: the merge was published):", outcomes)
    assert outcomes[0] == 0 and outcomes[-1] == 1, outcomes  # killed before it published, and after


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


INPUTS = {"flat": DenseConfig(kind="flat"),
          "hnsw-fp16": DenseConfig(kind="hnsw", hnsw_m=16, ef_construction=40, hnsw_storage="fp16"),
          "hnsw-fp32": DenseConfig(kind="hnsw", hnsw_m=16, ef_construction=40, hnsw_storage="fp32")}


@pytest.mark.parametrize("kind", list(INPUTS))
@pytest.mark.parametrize("out", ["same", "auto-flat", "hnsw-fp16"])
@pytest.mark.parametrize("first_deleted", [False, True])
def test_vectors_come_back_exactly(tmp_path: Path, kind: str, out: str, first_deleted: bool) -> None:
    """What a segment served is what the merged index serves, bit for bit; only an fp32 input merged into an
    fp16 graph is rounded, to exactly what a rebuild would store."""
    from search.dense import load_dense, search_dense

    rng = np.random.default_rng(7)
    dim, sizes = 32, (400, 250, 120)
    parts, paths, masks = [], [], []
    for i, n in enumerate(sizes):
        index, _ = build_dense(_unit(rng, n, dim), INPUTS[kind])
        save_dense(index, tmp_path / f"p{i}.faiss")
        paths.append(tmp_path / f"p{i}.faiss")
        parts.append(load_dense(paths[-1], dim, n))  # memory-mapped, as a segment reader has it
        masks.append(rng.random(n) >= (0.3 if i or first_deleted else 0.0))
    config = {"same": INPUTS[kind], "auto-flat": DenseConfig(), "hnsw-fp16": INPUTS["hnsw-fp16"]}[out]
    merged, info = merge_dense(parts, paths, masks, config, tmp_path / "spill")
    assert not (tmp_path / "spill").exists()
    served = np.concatenate([p.reconstruct_batch(np.flatnonzero(m)) for p, m in zip(parts, masks)])
    graph = config.resolve(len(served)) == "hnsw"
    if graph and config.hnsw_storage == "fp16" and kind != "hnsw-fp16":
        fp16 = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        fp16.add(served)  # fp32 into fp16: rounded once, by FAISS's own encoder, as a rebuild does
        served = fp16.reconstruct_n(0, fp16.ntotal)
    assert merged.ntotal == len(served)
    again = merged.reconstruct_batch(np.arange(merged.ntotal))
    assert np.array_equal(again, served)  # fp16 codes decode and encode to the same values: no drift
    queries = _unit(rng, 5, dim)
    assert np.array_equal(again.astype(np.float64) @ queries.T.astype(np.float64),
                          served.astype(np.float64) @ queries.T.astype(np.float64))  # the same cosines
    grows = graph and config == INPUTS[kind] and not first_deleted
    assert ("grown_from" in info) == grows
    assert info["type"] == ("hnsw" if graph else "flat-ip") and isinstance(merged, faiss.IndexHNSW) == graph
    exact = np.argsort(-(served @ queries.T), axis=0, kind="stable")[:10].T
    found = [search_dense(merged, q, 10, ef_search=256)[0] for q in queries]
    recall = np.mean([len(set(f.tolist()) & set(e.tolist())) / 10 for f, e in zip(found, exact)])
    assert recall >= 0.95
