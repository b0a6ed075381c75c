"""The relevance gate's pure pieces: thresholds, content words, the lexical share and the language notice."""

from __future__ import annotations

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from search.bm25 import BM25Index, BM25Params
from search.relevance import UNGATED, Gate, content_tokens, language_notice, lexical_share
from search.text import tokenize

DOCS = [
    "Brazil suspends interest payments on its foreign debt",
    "The central bank raised interest rates to defend the currency",
    "Oil prices rose after the OPEC meeting in Vienna",
    "Wheat exports from the United States fell in March",
]


def test_gate_defaults_are_the_calibrated_ones_and_bad_ones_are_refused() -> None:
    gate = Gate()
    assert (gate.lexical, gate.dense, gate.near_miss) == (0.35, 0.40, 0.35)  # bench/results/threshold.md
    with pytest.raises(ValueError):
        Gate(lexical=1.5)
    with pytest.raises(ValueError):
        Gate(dense=0.3, near_miss=0.5)  # near misses must sit below the gate
    assert UNGATED.lexical == 0.0 and UNGATED.dense == -1.0  # everything with a score passes


def test_question_words_and_the_verb_of_the_question_form_are_not_content() -> None:
    assert content_tokens(tokenize("What did Putin say about Syria?")) == tokenize("Putin Syria")
    assert content_tokens(tokenize("oil oil prices")) == tokenize("oil prices")


def test_lexical_share_is_bm25_over_the_best_those_words_allow() -> None:
    params = BM25Params()
    index = BM25Index.build([tokenize(d) for d in DOCS], params)
    question = tokenize("Brazil debt moratorium")
    share = lexical_share(index, question)
    assert share.shape == (len(DOCS),) and share.argmax() == 0 and np.all(share >= 0)
    # the denominator: each known word's idf x (k1 + 1), an unknown word ("moratorium") the largest idf there is
    known = [t for t in content_tokens(question) if index.knows(t)]
    unknown = [t for t in content_tokens(question) if not index.knows(t)]
    assert unknown == tokenize("moratorium")
    best = (sum(index.idf(t) for t in known) + index.max_idf * len(unknown)) * (params.k1 + 1)
    reference = BM25Okapi([tokenize(d) for d in DOCS], k1=params.k1, b=params.b, epsilon=params.epsilon)
    assert share == pytest.approx(reference.get_scores(content_tokens(question)) / best, abs=1e-9)
    # a question about an unknown word is not matched by its other, common words alone
    assert lexical_share(index, tokenize("wheat moratorium")).max() < lexical_share(index, tokenize("wheat")).max()
    assert lexical_share(index, tokenize("what did")).max() == 0.0


@pytest.mark.parametrize("question, language", [
    ("Путин обещал Асаду поддержку", "Cyrillic"),
    ("ماذا قال بوتين عن سوريا", "Arabic"),
    ("Que a dit Poutine sur la Syrie", "French"),
    ("Was sagte Putin über Syrien?", "German"),
    ("¿Qué dijo Putin sobre Siria?", "Spanish"),
])
def test_a_question_in_another_language_gets_a_notice_naming_it(question: str, language: str) -> None:
    notice = language_notice(question)
    assert notice is not None and notice.code == "not_english" and language in notice.message


@pytest.mark.parametrize("question", [
    "What did Putin promise Assad?", "dollar yen", "oil", "Brazil debt moratorium", "OPEC output quotas in 1987",
    "?", "", "12345", "Bundesbank interest rates", "Mitterrand and Chirac on privatisation",
])
def test_english_and_too_short_questions_get_none(question: str) -> None:
    assert language_notice(question) is None
