"""A build served by shards answers exactly as the same build opened locally (search/sharded.py, search/shard.py).

The shards here are in process (LocalShards); tests/test_serve_cluster.py runs the same over Ray Serve.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from search.engine import SearchEngine
from search.layout import current_build
from search.models import SearchRequest
from search.shard import ShardService
from search.sharded import ShardedBM25, ShardedSnapshotOpener
from search.shardmap import LocalShards

QUESTIONS = ["oil prices", "What did the central bank say about interest rates?", "wheat exports",
             "What did Putin promise Assad?", "coffee quotas", "Brazil debt"]


def open_sharded(index: Path, embedder, shards: int) -> SearchEngine:
    opener = ShardedSnapshotOpener(LocalShards([ShardService() for _ in range(shards)]))
    return SearchEngine.open_build(current_build(index), embedder=embedder, snapshots=opener)


def same(a: Any, b: Any, where: str = "") -> None:
    """Equal, floats within 1e-9 (dataclasses, tuples, lists, dicts compared member by member)."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            if f.name != "took_ms":
                same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=0, abs_tol=1e-9), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def requests() -> list[SearchRequest]:
    out = []
    for q in QUESTIONS:
        for mode in ("bm25", "dense", "hybrid"):
            out.append(SearchRequest(q=q, mode=mode, k=5))
        out += [SearchRequest(q=q, fusion="rrf"), SearchRequest(q=q, k=3, page=2),
                SearchRequest(q=q, group="passage", k=7), SearchRequest(q=q, sort="date"),
                SearchRequest(q=q, type="quotes"), SearchRequest(q=q, mode="bm25", type="quotes", page=2, k=2)]
    out += [
        SearchRequest(q="prices", sources=("Reuters",)), SearchRequest(q="oil -crude"),
        SearchRequest(q='"interest rates"'), SearchRequest(q="prices", date_to=dt.date(1990, 1, 1)),
        SearchRequest(q="Assad", date_from=dt.date(2000, 1, 1)),
        SearchRequest(q="Putin", speaker="Putin"), SearchRequest(q="promise", type="quotes", speaker="Putin"),
        SearchRequest(q="zxqv wombat marmalade"),
        SearchRequest(q="prices", k=5, page=2), SearchRequest(q="bank", mode="bm25", k=4, page=3),
        SearchRequest(q="the company said", type="quotes", k=5),
        SearchRequest(q="prices", sources=("Reuters",), sort="date", group="passage"), SearchRequest(q="bank", mode="hybrid", alpha=0.3, k=20),
    ]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("shards", [2, 3])
def test_sharded_answers_equal_one_index(living: Path, embedder, shards: int) -> None:
    local = SearchEngine.open(living, embedder=embedder)
    sharded = open_sharded(living, embedder, shards)
    assert len(sharded.snapshot.readers) == len(local.snapshot.readers) >= 3 and isinstance(sharded.bm25, ShardedBM25)
    assert len(sharded.bm25.joined.specs) == shards  # every shard holds a segment
    for request in requests():
        same(sharded.search(request), local.search(request), repr(request))
    same(sharded.archive(), local.archive())
    same(sharded.sources(), local.sources())
    same(sharded.speakers("p"), local.speakers("p"))
    for article_id in [h.article_id for h in local.search(SearchRequest(q="oil", k=20)).hits] + ["no-such-id"]:
        same(sharded.article(article_id), local.article(article_id), article_id)
        same(sharded.article_passages(article_id), local.article_passages(article_id), article_id)
        same(sharded.article_quotations(article_id), local.article_quotations(article_id), article_id)


@pytest.mark.slow
def test_bm25_scores_are_bit_equal(living: Path, embedder) -> None:
    local = SearchEngine.open(living, embedder=embedder)
    sharded = open_sharded(living, embedder, 2)
    for q in [*QUESTIONS, "said the the said", "revised figures friday"]:
        tokens = q.lower().replace("?", "").split()
        assert np.array_equal(sharded.bm25.scores(tokens), local.bm25.scores(tokens)), q
        assert np.array_equal(sharded.quotes.bm25.scores(tokens), local.quotes.bm25.scores(tokens)), q
        for t in tokens:
            assert sharded.bm25.idf(t) == local.bm25.idf(t)
            assert np.array_equal(sharded.bm25.postings(t), local.bm25.postings(t))
    assert sharded.bm25.max_idf == local.bm25.max_idf


@pytest.mark.slow
def test_a_build_alone_is_served_by_one_shard_as_locally(seeds_index: Path, embedder) -> None:
    local = SearchEngine.open(seeds_index, embedder=embedder)
    sharded = open_sharded(seeds_index, embedder, 2)  # one segment: the second shard holds nothing
    assert len(sharded.bm25.joined.specs) == 1
    for request in [SearchRequest(q="What did Putin promise Assad?", mode=m) for m in ("bm25", "dense", "hybrid")]:
        same(sharded.search(request), local.search(request), repr(request))
