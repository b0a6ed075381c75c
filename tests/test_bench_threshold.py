"""The relevance-gate calibration's pure pieces: lexical features on a tiny index, separation, the trade-off table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.threshold import (
    OFF, Sample, auc, content_tokens, latin_share, lexical_scores, near_miss, needs_notice, recommend, shown,
    tradeoff, unknown_idf,
)
from search.bm25 import BM25Index
from search.text import tokenize

DOCS = [
    "Putin promised Assad support for Syria",
    "Oil prices fell in Moscow trading",
    "Assad visited Moscow",
    "Coffee quotas talks failed",
    "Tin exports from Moscow limited",
    "Wheat harvest halted by rain",
]


@pytest.fixture(scope="module")
def index() -> BM25Index:
    return BM25Index.build([tokenize(d) for d in DOCS])


def test_content_tokens_drop_question_words_and_repeats() -> None:
    assert content_tokens("What did Putin promise Assad? Putin!") == ["putin", "promis", "assad"]
    assert content_tokens("what is it") == []
    assert content_tokens("asdfghjkl qwertyuiop") == ["asdfghjkl", "qwertyuiop"]


def test_unknown_idf_is_the_idf_of_a_term_in_one_passage(index: BM25Index) -> None:
    assert unknown_idf(6) == pytest.approx(math.log(5.5) - math.log(1.5))
    assert unknown_idf(6) == pytest.approx(index.idf("coffe"))  # "coffee" is in one of the six documents
    assert unknown_idf(1) > 0


def test_coverage_counts_idf_of_held_tokens_and_unknown_tokens_at_the_largest_idf(index: BM25Index) -> None:
    bm25_norm, coverage = lexical_scores(index, content_tokens("What did Putin promise Assad?"))
    assert coverage[0] == pytest.approx(1.0)  # every content token
    assert coverage[1] == 0.0 and coverage[3] == 0.0 and index.idf("assad") > 0
    question_idf = sum(index.idf(t) for t in ("putin", "promis", "assad"))
    assert 0 < coverage[2] < 1 and coverage[2] == pytest.approx(index.idf("assad") / question_idf)
    assert bm25_norm.argmax() == 0 and np.all((0 <= bm25_norm) & (bm25_norm < 1)) and bm25_norm[1] == 0.0
    # an unknown word halves what "assad" alone would cover, at the largest idf
    _, with_mash = lexical_scores(index, ["assad", "qwertyuiop"])
    assert with_mash[2] == pytest.approx(index.idf("assad") / (index.idf("assad") + unknown_idf(6)))
    # nothing to look for, or only unknown words: zeros, never a division by zero
    for tokens in ([], ["qwertyuiop"]):
        b, c = lexical_scores(index, tokens)
        assert not b.any() and not c.any()


def test_bm25_norm_is_bm25_over_the_best_possible(index: BM25Index) -> None:
    tokens = ["assad", "coffe", "oil"]
    bm25_norm, _ = lexical_scores(index, tokens)
    best = sum(index.idf(t) * (index.params.k1 + 1) for t in tokens)
    assert best > 0 and bm25_norm == pytest.approx(index.scores(tokens) / best)
    # a word in half the passages (moscow: 3 of 6) has idf 0 (rank_bm25's formula): zeros rather than NaN
    assert index.idf("moscow") == 0.0
    b, c = lexical_scores(index, ["moscow"])
    assert not b.any() and not c.any()


def test_auc_separation() -> None:
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.1], [0.9]) == 0.0
    assert auc([0.5, 0.5], [0.5]) == 0.5
    assert auc([0.6, 0.4], [0.5]) == 0.5
    assert auc([], [0.1]) is None


def _sample() -> Sample:
    # columns: cosine, bm25_norm, coverage
    first = {"a": np.array([[0.6, 0.1, 0.9], [0.2, 0.0, 0.6], [0.1, 0.0, 0.1], [0.5, 0.5, 0.5]]),
             "b": np.array([[0.3, 0.2, 0.2], [0.7, 0.0, 0.0]])}
    top10 = {"a": np.array([[0.6, 0.1, 0.9], [0.1, 0.0, 0.1]]), "b": np.array([[0.3, 0.2, 0.2]])}
    junk = np.array([[0.15, 0.0, 0.0], [0.25, 0.0, 0.0], [0.35, 0.0, 0.8], [0.05, 0.0, 0.0]])
    answers = np.array([[0.5, 0.3, 1.0], [0.2, 0.1, 0.7], [0.1, 0.0, 0.2]])
    offtopic = np.array([[0.2, 0.2, 0.6], [0.28, 0.1, 0.3]])
    return Sample(first, top10, junk, answers, offtopic)


def test_tradeoff_counts_what_a_gate_hides_and_shows() -> None:
    row = tradeoff(_sample(), 0.3, 0.65, "coverage")
    assert row["first_hidden_by_set"] == {"a": 0.5, "b": 0.0}  # a: 0.2/0.6 and 0.1/0.1 fail both gates
    assert row["first_hidden"] == round(2 / 6, 4)
    assert row["first_hidden_set_mean"] == 0.25
    assert row["top10_hidden"] == round(1 / 3, 4)
    assert row["junk_shown"] == 0.25  # only the junk with coverage 0.8 (its cosine 0.35 passes too)
    assert row["answers_lost"] == round(1 / 3, 4)  # 0.2/0.7 passes lexically, 0.1/0.2 fails both
    assert row["offtopic_shown"] == 0.0 and row["no_answer_shown"] == round(1 / 6, 4)
    alone = tradeoff(_sample(), 0.3, OFF, "coverage")
    assert alone["t_lex"] is None and alone["answers_lost"] == round(2 / 3, 4)
    assert tradeoff(_sample(), OFF, OFF, "bm25_norm")["junk_shown"] == 0.0


def test_gate_is_an_or_and_inclusive() -> None:
    assert shown([0.3, 0.29, 0.0], [0.0, 0.0, 0.5], 0.3, 0.5).tolist() == [True, False, True]


def test_recommend_takes_the_lowest_dense_threshold_that_rejects_enough() -> None:
    rec = recommend(_sample(), "coverage", min_rejected=0.8, max_hidden_first=0.5)
    # no-answer best cosines 0.05 0.15 0.2 0.25 0.28 0.35: at most one of six may pass, so T_dense above 0.28
    assert rec["t_dense"] == 0.3
    # then the lowest T_lex that keeps one of six: the coverages 0.8 (cosine 0.35 passes anyway) and 0.6 ...
    assert rec["t_lex"] == 0.65 and rec["no_answer_shown"] == round(1 / 6, 4)
    assert rec["rule"]["budget_met"] and rec["first_hidden"] <= 0.5
    # a budget nothing meets: the T_lex hiding the fewest first hits within the rejection bound, said so
    strict = recommend(_sample(), "coverage", min_rejected=0.8, max_hidden_first=0.0)
    assert not strict["rule"]["budget_met"] and strict["t_lex"] == 0.65


def test_near_miss_floor_recovers_hidden_hits() -> None:
    rows = near_miss(_sample(), 0.3, 0.65, "coverage", [0.15])
    assert rows[0]["first_hidden_recovered"] == 0.5  # of the hidden 0.2 and 0.1, the 0.2 clears 0.15
    assert rows[0]["junk_with_near_misses"] == 0.5  # 0.15 and 0.25
    assert rows[0]["answers_lost"] == 1 and rows[0]["answers_recovered"] == 0


def test_script_and_language_notice() -> None:
    assert latin_share("What did Putin promise?") == 1.0
    assert latin_share("Что обещал Путин?") == 0.0
    assert latin_share("?!") is None
    assert needs_notice("普京向阿萨德承诺了什么？", None, None, "script")
    assert not needs_notice("Bahia cocoa", "pt", 0.65, "langid_p70")
    assert needs_notice("Bahia cocoa", "pt", 0.65, "langid_p50")
    assert needs_notice("Bahia cocoa", "pt", 0.65, "langid")
    assert not needs_notice("Bahia cocoa", "en", 0.99, "langid")
    assert needs_notice("Wie hoch ist der Ölpreis heute?", "de", 0.99, "langid_p70_long")
    assert not needs_notice("Ölpreis heute", "de", 0.99, "langid_p70_long")
    with pytest.raises(ValueError):
        needs_notice("x", "de", 0.9, "guess")
