"""Which shard holds which segment, and how a router reaches its shards.

Segments go to shards by time: the commit's segments (in the order they were written) are cut into contiguous runs,
one per shard while there are segments enough, so recent articles live together and a date filter skips the shards
it excludes; why time and not article id: docs/scale-out.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from .commit import SegmentRef


class Shards(Protocol):
    """How a router reaches its shards: by number, one call or many at once (Ray Serve handles, or in process)."""

    count: int

    def call(self, shard: int, method: str, *args: Any) -> Any: ...

    def gather(self, calls: Sequence[tuple[int, str, tuple[Any, ...]]]) -> list[Any]: ...


class LocalShards:
    """Shards in this process (tests, and the reference a cluster is compared with)."""

    def __init__(self, services: Sequence[Any]) -> None:
        self.services = list(services)
        self.count = len(self.services)

    def call(self, shard: int, method: str, *args: Any) -> Any:
        return getattr(self.services[shard], method)(*args)

    def gather(self, calls: Sequence[tuple[int, str, tuple[Any, ...]]]) -> list[Any]:
        return [self.call(shard, method, *args) for shard, method, args in calls]


def assign(segments: Sequence[SegmentRef], shards: int) -> list[int]:
    """The shard of each segment: contiguous runs in commit order, one run per shard while there are segments
    enough, cut so that the shard with the most articles has as few as possible (the linear partition, by dynamic
    programming: a commit has tens of segments, not thousands)."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    sizes = [max(s.articles, 1) for s in segments]
    n, k = len(sizes), min(shards, len(sizes))
    if n == 0:
        return []
    prefix = np.concatenate([[0], np.cumsum(sizes)])
    inf = float("inf")
    cost = [[inf] * (n + 1) for _ in range(k + 1)]  # cost[j][i]: the largest run when the first i go to j runs
    cut = [[0] * (n + 1) for _ in range(k + 1)]
    cost[0][0] = 0
    for j in range(1, k + 1):
        for i in range(j, n - (k - j) + 1):
            for p in range(j - 1, i):
                value = max(cost[j - 1][p], prefix[i] - prefix[p])
                if value < cost[j][i]:
                    cost[j][i], cut[j][i] = value, p
    owners = [0] * n
    i = n
    for j in range(k, 0, -1):
        p = cut[j][i]
        owners[p:i] = [j - 1] * (i - p)
        i = p
    return owners
