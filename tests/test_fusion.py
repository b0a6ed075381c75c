"""Fusion: known ranked lists in, known order out."""

from __future__ import annotations

import pytest

from search.fusion import linear, min_max, ranked, rrf


def test_rrf_rewards_agreement_between_lists() -> None:
    fused = rrf([[1, 2, 3], [3, 1, 4]], k=60)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[4] == pytest.approx(1 / 63)
    assert [doc for doc, _ in ranked(fused)] == [1, 3, 2, 4]


def test_rrf_k_changes_how_much_top_ranks_dominate() -> None:
    lists = [[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]]
    assert ranked(rrf(lists, k=1))[0][0] in (1, 5)
    assert [d for d, _ in ranked(rrf([[7], []]))] == [7]


def test_linear_weights_normalized_scores() -> None:
    sparse = {1: 10.0, 2: 5.0, 3: 0.0}
    dense = {2: 0.9, 3: 0.8, 4: 0.1}
    assert [d for d, _ in ranked(linear(sparse, dense, alpha=0.0))] == [1, 2, 3, 4]
    assert [d for d, _ in ranked(linear(sparse, dense, alpha=1.0))] == [2, 3, 1, 4]  # 1 and 4 both 0: id order
    mixed = linear(sparse, dense, alpha=0.5)
    assert mixed[2] == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)
    assert mixed[1] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        linear(sparse, dense, alpha=1.5)


def test_min_max_edges() -> None:
    assert min_max({}) == {}
    assert min_max({1: 3.0, 2: 3.0}) == {1: 1.0, 2: 1.0}
    assert min_max({1: 2.0, 2: 4.0}) == {1: 0.0, 2: 1.0}


def test_ties_break_by_lower_id() -> None:
    assert ranked({5: 1.0, 2: 1.0, 9: 2.0}) == [(9, 2.0), (2, 1.0), (5, 1.0)]
