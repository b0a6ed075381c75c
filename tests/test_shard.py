"""One shard's calls (search/shard.py), on the seeds index: what a router composes from, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from search.commit import read_commit
from search.errors import BadQuery
from search.layout import current_build, read_manifest
from search.livebm25 import LiveBM25, Totals
from search.segments import bm25_params, open_snapshot
from search.shard import PASSAGES, QUOTES, ShardService, ShardSpec


@pytest.fixture(scope="module")
def build(seeds_index: Path) -> Path:
    return current_build(seeds_index).resolve()


def spec(build: Path, kind: str, n_live: int, total: int, floor: float) -> ShardSpec:
    ref = read_commit(build, int(read_manifest(build)["counts"]["articles"])).segments[0]
    return ShardSpec(str(build), f"test|{kind}", kind, ((ref, 0),), Totals(n_live, total, floor),
                     bm25_params(read_manifest(build)))


def test_describe_gives_what_the_router_composes_from(build: Path) -> None:
    info = ShardService().describe(str(build), ".")
    snapshot, _ = open_snapshot(build, read_manifest(build))
    assert (info.n_articles, info.n_passages, info.n_quotes) == (snapshot.n_articles, snapshot.n_passages,
                                                                 snapshot.quotes.count)
    assert info.columns.sentence_vectors is None and info.quotes.bm25 is None  # the large parts stay on the shard
    assert np.array_equal(info.columns.passage_article, snapshot.columns.passage_article)
    assert np.array_equal(info.passage_lengths, snapshot.bm25.doc_lengths)
    assert info.vectors_shape == snapshot.columns.sentence_vectors.shape


def test_scores_with_the_corpus_totals_equal_the_whole_index(build: Path) -> None:
    snapshot, _ = open_snapshot(build, read_manifest(build))
    service = ShardService()
    for kind, index in ((PASSAGES, snapshot.bm25), (QUOTES, snapshot.quotes.bm25)):
        live = LiveBM25([index], [None], index.params)
        s = spec(build, kind, live.n_live, live.total_length, live.floor)
        tokens = ["putin", "assad", "said", "syria", "no-such-word"]
        dfs = dict(zip(tokens, service.dfs(s, tokens)))
        rows, values = service.scores(s, tokens, dfs)
        expected = live.scores(tokens)
        assert np.array_equal(rows, np.flatnonzero(expected)) and np.array_equal(values, expected[rows])
        assert np.array_equal(service.postings(s, "putin"), live.postings("putin"))


def test_a_shard_refuses_what_it_does_not_hold(build: Path) -> None:
    service = ShardService()
    with pytest.raises(BadQuery):
        service.store(str(build), ".", "close")  # only reads
    s = spec(build, PASSAGES, 1, 1, 0.0)
    n = service.describe(str(build), ".").n_passages
    with pytest.raises(BadQuery):
        service.vectors(s, np.array([n]))  # past the shard's rows
    assert service.vectors(s, np.array([0, n - 1])).shape == (2, 384)
    with pytest.raises(BadQuery):
        service.dfs(ShardSpec(s.build, "x", "people", s.parts, s.totals, s.params), ["a"])
