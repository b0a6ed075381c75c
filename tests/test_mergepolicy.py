"""The merge policy: adjacent ranges only, expunges at 20 % deleted, a huge base left alone, a bounded count."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.mergepolicy import MergePolicy, plan_merges, segment_bound

SMALL = MergePolicy(segments_per_tier=4, floor=10, max_merged=20_000)


def _check(ranges: list[tuple[int, int]], n: int) -> None:
    """Sorted, disjoint, inside the list."""
    last = -1
    for first, end in ranges:
        assert last < first <= end < n, ranges
        last = end


def _apply(segs: list[list[int]], ranges: list[tuple[int, int]]) -> bool:
    """Each range becomes one segment of its live passages, nothing deleted; True when segment 0 was rewritten."""
    rewrote_base = False
    for first, end in reversed(ranges):  # from the last: the earlier indexes still hold
        live = sum(a for a, _ in segs[first : end + 1])
        segs[first : end + 1] = [[live, 0]]
        rewrote_base |= first == 0
    return rewrote_base


def _plan(segs: list[list[int]], policy: MergePolicy, has_base: bool) -> list[tuple[int, int]]:
    shares = [d / (a + d) if a + d else 0.0 for a, d in segs]
    ranges = plan_merges([a for a, _ in segs], shares, policy, has_base)
    _check(ranges, len(segs))
    for first, end in ranges:  # one segment alone only when its deletes justify it
        assert end > first or shares[first] >= policy.expunge_deletes
    return ranges


step = st.tuples(
    st.integers(1, 60),  # a new segment's passages
    st.lists(st.tuples(st.integers(0, 10_000), st.floats(0, 1)), max_size=2),  # deletes: (segment seed, share)
)


@settings(max_examples=200, deadline=None)
@given(base=st.integers(1, 5_000), steps=st.lists(step, min_size=1, max_size=120),
       policy=st.sampled_from([SMALL, MergePolicy(segments_per_tier=3, floor=5, max_merged=2_000),
                               MergePolicy(segments_per_tier=10, floor=20, max_merged=1_000_000)]))
def test_the_count_stays_under_the_bound(base: int, steps, policy: MergePolicy) -> None:
    """Random adds and deletes, the plan applied until it is empty after each commit: never more segments than
    segment_bound of the live passages, no segment left with 20 % deleted, and the live passages kept."""
    segs = [[base, 0]]  # [live, deleted] passages
    has_base = True
    for size, deletes in steps:
        segs.append([size, 0])
        for seed, share in deletes:
            s = seed % len(segs)
            k = min(int(segs[s][0] * share), segs[s][0] - (s == 0 and has_base))  # the base keeps one live
            segs[s] = [segs[s][0] - k, segs[s][1] + k]
        segs = [seg for i, seg in enumerate(segs) if seg[0] > 0 or (i == 0 and has_base)]  # the writer drops empties
        live = sum(a for a, _ in segs)
        for rounds in range(2 * len(segs) + 2):
            ranges = _plan(segs, policy, has_base)
            if not ranges:
                break
            has_base &= not _apply(segs, ranges)
        else:
            pytest.fail(f"no rest after {rounds} rounds: {segs}")
        assert sum(a for a, _ in segs) == live
        assert len(segs) <= segment_bound(live, policy), (segs, segment_bound(live, policy))
        assert all(d < policy.expunge_deletes * (a + d) for a, d in segs)


def test_the_bound_is_logarithmic() -> None:
    policy = MergePolicy()
    assert segment_bound(1_000_000, policy) == 1 + 9 * 5
    assert segment_bound(10, policy) == 1 + 9
    for total in (1_000, 10_000, 100_000):  # a decade more adds at most two levels of 9 segments
        assert segment_bound(total * 10, policy) - segment_bound(total, policy) <= 2 * 9
    # past max_merged / 2, segments stop growing: linear in total / max_merged (40 large ones at 100M), as Lucene's
    assert segment_bound(100_000_000, policy) == 1 + 40 + 41 * 9 * 5


def test_small_segments_merge_in_one_window_from_the_oldest() -> None:
    policy = MergePolicy(segments_per_tier=4, floor=100)
    # a base of 10,000 (huge next to 5 x 50: never rewritten to absorb them), five small ones
    assert plan_merges([10_000, 50, 50, 50, 50, 50], [0.0] * 6, policy) == [(1, 4)]
    assert plan_merges([10_000, 50, 50, 50], [0.0] * 4, policy) == []
    # the same sizes when segment 0 is no longer the base: one level of its own, the small ones another
    assert plan_merges([10_000, 50, 50, 50, 50, 50], [0.0] * 6, policy, has_base=False) == [(1, 4)]


def test_the_base_joins_once_the_rest_outweighs_it() -> None:
    policy = MergePolicy(segments_per_tier=4, floor=100)
    sizes = [1_000, 400, 400, 400]  # the rest (1,200) outweighs the base; levels within 0.75 of each other
    assert plan_merges(sizes, [0.0] * 4, policy) == [(0, 3)]
    assert plan_merges(sizes, [0.0] * 4, MergePolicy(segments_per_tier=4, floor=100, base_ratio=0.5)) == []


def test_deletes_rewrite_a_segment_with_its_smaller_neighbours() -> None:
    policy = MergePolicy(segments_per_tier=4, floor=100)
    # the huge base is rewritten for its deletes alone: its neighbours are bigger... no: they are smaller, so they join
    assert plan_merges([10_000, 50, 5_000_000], [0.25, 0.0, 0.0], policy) == [(0, 1)]
    assert plan_merges([10_000, 20_000], [0.25, 0.0], policy) == [(0, 0)]
    assert plan_merges([10_000, 20_000], [0.19, 0.0], policy) == []
    # a large segment is left to the tiers, but rewritten for its deletes
    big = MergePolicy(segments_per_tier=2, floor=10, max_merged=1_000)
    assert plan_merges([100, 600, 600], [0.0, 0.0, 0.0], big, has_base=False) == []
    assert plan_merges([100, 600, 600], [0.0, 0.5, 0.0], big, has_base=False) == [(0, 1)]


def test_windows_respect_max_merged() -> None:
    policy = MergePolicy(segments_per_tier=4, floor=10, max_merged=1_000)
    ranges = plan_merges([400, 400, 400, 400], [0.0] * 4, policy, has_base=False)
    assert ranges == [(0, 1)]  # 1,600 would be over: the window is shortened; the other two are under a tier
    assert plan_merges([800, 400, 400], [0.0] * 3, policy, has_base=False) == []


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        MergePolicy(segments_per_tier=1)
    with pytest.raises(ValueError):
        MergePolicy(expunge_deletes=0)
    with pytest.raises(ValueError):
        plan_merges([1, 2], [0.0], MergePolicy())
