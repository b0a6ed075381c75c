"""Fusion of ranked lists: reciprocal rank fusion and a min-max-normalized weighted sum."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RRF_K = 60


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion (Cormack et al. 2009): each list adds 1 / (k + rank), rank from 1."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (k + rank)
    return fused


def min_max(scores: Mapping[int, float]) -> dict[int, float]:
    """Scores mapped onto [0, 1]; a list whose scores are all equal maps to 1."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return {doc: 1.0 for doc in scores}
    return {doc: (s - low) / (high - low) for doc, s in scores.items()}


def linear(sparse: Mapping[int, float], dense: Mapping[int, float], alpha: float) -> dict[int, float]:
    """alpha * dense + (1 - alpha) * sparse, each min-max normalized; a missing score counts as 0."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    s, d = min_max(sparse), min_max(dense)
    return {doc: alpha * d.get(doc, 0.0) + (1 - alpha) * s.get(doc, 0.0) for doc in s.keys() | d.keys()}


def ranked(scores: Mapping[int, float]) -> list[tuple[int, float]]:
    """Best first; ties broken by the lower id so results are stable."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
