"""Which segments to merge: a tiered policy over ADJACENT segments only (pure: sizes in, ranges out).

Rows are served in (segment, row) order, and that order is what BM25 ties and the equality with rank_bm25 over
the live passages rely on (search.livebm25), so a merge may only join a run of neighbours, never pick segments
from here and there as Lucene's TieredMergePolicy does. The shape is Lucene's LogMergePolicy (adjacent merges,
levels on a log scale) with the TieredMergePolicy's knobs and its deletes rule:

- A segment's size is its live passages; one below `floor` counts as `floor` (tiny segments are one tier).
  Its level is log(max(size, floor)) / log(segments_per_tier).
- Expunge: a segment whose deleted share (deleted passages / all its passages) is `expunge_deletes` (20 %) or
  more is rewritten, alone or with adjacent neighbours that are no larger than it or are expunge candidates
  themselves (up to `segments_per_tier` segments and `max_merged` passages), so deleted rows stop costing
  space, scores and rare words in term dictionaries. Deletes justify rewriting any segment, the base included.
- Tiers: the other segments are cut into runs at barriers: segments planned for expunging, segments of
  `max_merged / 2` live passages or more (a merge would rewrite them for little gain; only deletes rewrite
  them), and the base (the build `indexer rebuild` made, segment 0) while it is huge relative to the others:
  more than `base_ratio` times their live passages together (rewriting a 1M-passage base to absorb 20k new
  passages costs 50x what it gains). Each run is cut into levels from its oldest segment: the largest level
  left, down to `level_span` (0.75) below it, reaches to the last (newest) segment in that band, smaller
  segments in between included. A level holding `segments_per_tier` segments or more merges them in windows of
  `segments_per_tier` consecutive segments (a window over `max_merged` passages is shortened, never to fewer
  than two) from its oldest end.

Bound (at rest, i.e. once the plan is empty; a writer re-plans after each merge until then): every level of
every run holds fewer than `segments_per_tier` segments, consecutive levels' tops differ by more than
`level_span`, and levels lie between log(floor) and log(max_merged / 2) (or the run's total), so

    segments <= barriers + runs * (segments_per_tier - 1) * (floor(log_T(largest / floor) / level_span) + 1)

with T = segments_per_tier and `largest` = min(total live passages, max_merged / 2). At rest no segment is
planned for expunging, so the barriers are the base and the L <= total / (max_merged / 2) large segments, and
runs <= L + 1 (the base is segment 0: it cuts no run). Below max_merged / 2 (L = 0), with T = 10, floor 1,000
and 1M live passages, that is at most 1 + 9 * 5 = 46 segments (simulated: 13 to 22 segments at 4.5M passages
grown 1 to 3,000 passages at a time): logarithmic in the size. `segment_bound` computes it; the hypothesis test
in tests/test_mergepolicy.py checks it under random adds and deletes. A merge turns its window of k >= 2
segments into one (an expunge rewrites one), so a writer that re-plans after every merge reaches rest after
at most twice as many merges as there are segments.

Costs: every passage is rewritten about once per level it climbs (log_T of the total); an expunge rewrites a
segment once per 20 % of it deleted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Range = tuple[int, int]  # (first, last) segment indexes, both included


@dataclass(frozen=True)
class MergePolicy:
    """The policy's settings (see the module docstring); sizes are live passages."""

    segments_per_tier: int = 10  # a level merges once it holds this many; also the most merged at once
    floor: int = 1_000  # smaller segments count as this size (one tier for all the small ones)
    max_merged: int = 5_000_000  # no merge writes more; segments of half this are only rewritten for deletes
    expunge_deletes: float = 0.20  # a segment with this share of its passages deleted is rewritten
    base_ratio: float = 1.0  # the base joins tier merges only once the rest holds >= base size / base_ratio
    level_span: float = 0.75  # the width of one level, in log_T units (Lucene's LEVEL_LOG_SPAN)

    def __post_init__(self) -> None:
        if self.segments_per_tier < 2 or self.floor < 1 or self.max_merged < 2 * self.floor:
            raise ValueError(f"a merge policy needs segments_per_tier >= 2, floor >= 1, max_merged >= 2 floor: {self}")
        if not (0 < self.expunge_deletes <= 1 and self.base_ratio > 0 and 0 < self.level_span):
            raise ValueError(f"expunge_deletes in (0, 1], base_ratio > 0 and level_span > 0 please: {self}")

    def level(self, size: int) -> float:
        return math.log(max(int(size), self.floor)) / math.log(self.segments_per_tier)


def plan_merges(sizes: Sequence[int], deleted: Sequence[float], policy: MergePolicy = MergePolicy(),
                has_base: bool = True) -> list[Range]:
    """Disjoint (first, last) ranges of adjacent segments to merge, in segment order.

    sizes: live passages per segment, in commit order; deleted: each segment's deleted share of its passages
    (0..1); has_base: segment 0 is the build's base (False once a merge has rewritten it). A range of one segment
    is an expunge (rewrite without its deleted rows). Apply the ranges from the last to the first, so the indexes
    of the earlier ones still hold, then plan again.
    """
    n = len(sizes)
    if len(deleted) != n:
        raise ValueError(f"{n} sizes but {len(deleted)} deleted shares")
    sizes = [max(int(s), 0) for s in sizes]
    taken = [False] * n
    ranges: list[Range] = []

    # 1. expunge: segments with many deleted rows, with small neighbours
    T = policy.segments_per_tier
    expunge = [d >= policy.expunge_deletes for d in deleted]
    for i in range(n):
        if not expunge[i] or taken[i]:
            continue
        lo = hi = i
        total = sizes[i]

        def joins(j: int, total: int) -> bool:
            return (0 <= j < n and not taken[j] and (expunge[j] or sizes[j] <= sizes[i])
                    and total + sizes[j] <= policy.max_merged)

        while hi - lo + 1 < T and joins(hi + 1, total):
            hi += 1
            total += sizes[hi]
        while hi - lo + 1 < T and joins(lo - 1, total):
            lo -= 1
            total += sizes[lo]
        if total <= 0 and hi == lo:
            continue  # nothing live to write (the base with every article deleted is refused elsewhere)
        for j in range(lo, hi + 1):
            taken[j] = True
        ranges.append((lo, hi))

    # 2. tiers, in runs between barriers
    half = policy.max_merged / 2
    rest = sum(sizes[1:])
    base_huge = has_base and n > 0 and sizes[0] > policy.base_ratio * rest
    barrier = [taken[i] or sizes[i] >= half or (i == 0 and base_huge) for i in range(n)]
    start = 0
    while start < n:
        if barrier[start]:
            start += 1
            continue
        end = start
        while end + 1 < n and not barrier[end + 1]:
            end += 1
        ranges.extend(_run_merges(sizes, start, end, policy))
        start = end + 1
    return sorted(ranges)


def _run_merges(sizes: Sequence[int], first: int, last: int, policy: MergePolicy) -> list[Range]:
    """LogMergePolicy's levels over one run of mergeable segments (indexes first..last)."""
    T = policy.segments_per_tier
    levels = [policy.level(sizes[i]) for i in range(first, last + 1)]
    floor_level = policy.level(policy.floor)
    out: list[Range] = []
    start = 0  # offsets into the run
    count = len(levels)
    while start < count:
        top = max(levels[start:])
        bottom = -1.0 if top <= floor_level else top - policy.level_span
        upto = max(i for i in range(start, count) if levels[i] >= bottom)  # the level's newest member
        s = start
        while upto - s + 1 >= T:
            e = s + T - 1
            while e > s + 1 and sum(sizes[first + s : first + e + 1]) > policy.max_merged:
                e -= 1
            out.append((first + s, first + e))
            s = e + 1
        start = upto + 1
    return out


def segment_bound(total: int, policy: MergePolicy = MergePolicy()) -> int:
    """The most segments a commit holds at rest (see the module docstring), from its live passages alone.

    Barriers: the base and at most total / (max_merged / 2) segments too large to merge; the base is segment 0,
    so only the large ones cut runs: runs <= large + 1."""
    half = max(policy.max_merged // 2, policy.floor)
    large = int(total) // half
    largest = min(max(int(total), policy.floor), half)
    span = math.log(largest / policy.floor) / math.log(policy.segments_per_tier)
    levels = math.floor(span / policy.level_span + 1e-9) + 1
    return 1 + large + (large + 1) * (policy.segments_per_tier - 1) * levels
