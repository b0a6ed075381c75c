"""Which shard holds which segment (search/shardmap.py)."""

from __future__ import annotations

import pytest

from search.commit import SegmentRef
from search.shardmap import LocalShards, assign


def test_assign_cuts_contiguous_runs_that_balance_the_largest() -> None:
    refs = [SegmentRef(f"s{i}", None, n, n) for i, n in enumerate([100, 10, 10, 40, 40, 20, 80])]
    owners = assign(refs, 3)
    assert owners == sorted(owners) and set(owners) == {0, 1, 2}
    loads = [sum(r.articles for r, o in zip(refs, owners) if o == s) for s in range(3)]
    assert max(loads) == 100  # the largest segment alone: no cut does better
    assert assign([SegmentRef(f"s{i}", None, n, n) for i, n in enumerate([900, 150, 150, 150, 150])], 4) == \
        [0, 1, 2, 3, 3]  # every shard holds a segment
    assert assign(refs, 1) == [0] * 7
    assert assign(refs[:2], 4) == [0, 1]  # fewer segments than shards: the last shards hold none
    with pytest.raises(ValueError):
        assign(refs, 0)


def test_local_shards_call_and_gather_in_order() -> None:
    class Echo:
        def __init__(self, name: str) -> None:
            self.name = name

        def hello(self, who: str) -> str:
            return f"{self.name} greets {who}"

    shards = LocalShards([Echo("a"), Echo("b")])
    assert shards.count == 2 and shards.call(1, "hello", "x") == "b greets x"
    assert shards.gather([(1, "hello", ("y",)), (0, "hello", ("z",))]) == ["b greets y", "a greets z"]
