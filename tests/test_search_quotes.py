"""The quotation index: speaker names and filters, names noticed in questions, build and load, facets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from search.bm25 import BM25Params
from search.dense import DenseConfig
from search.errors import IndexCorrupt
from search.models import Quotation
from search.quotes import (
    SpeakerLookup, QuoteIndexBuilder, is_named, load_quote_index, name_words, quote_text, speaker_matches,
)


def test_name_words_fold_case_hyphens_and_possessives() -> None:
    assert name_words("Walid al-Moallem") == ["walid", "al", "moallem"]
    assert name_words("Assad's words on Russia’s support")[:2] == ["assad", "words"]
    assert name_words("  ") == []


@pytest.mark.parametrize(("value", "speaker", "expected"), [
    ("Vladimir Putin", "Vladimir Putin", True),
    ("putin", "Vladimir Putin", True),
    ("al-Moallem", "Walid al-Moallem", True),
    ("Moallem", "Walid al-Moallem", True),
    ("Vladimir", "Vladimir Putin", False),  # a first name alone is not the filter's rule
    ("Putin", "Putinov", False),
    ("Vladimir Putin Jr", "Vladimir Putin", False),
    ("", "Vladimir Putin", False),
])
def test_speaker_filter_takes_the_full_name_or_its_last_words(value: str, speaker: str, expected: bool) -> None:
    assert speaker_matches(value, speaker) is expected


def test_descriptions_are_not_names() -> None:
    assert is_named("Vladimir Putin") and not is_named("a ministry spokesman") and not is_named("")


def test_quote_text_drops_the_attribution_and_the_handing_over_comma() -> None:
    text = '"We are convinced," Putin said, "that  the Syrian people\nwill win."'
    assert quote_text(text, [(1, 18), (33, 66)]) == "We are convinced that the Syrian people will win."


def test_questions_name_speakers_in_the_order_they_are_named() -> None:
    names = ["Assad", "Bashar Assad", "Vladimir Putin", "Walid al-Moallem", "a ministry spokesman", "Who"]
    lookup = SpeakerLookup.build(names)
    assert lookup.named_in("What did Putin promise Assad?") == [[2], [0, 1]]
    assert lookup.named_in("What did Bashar Assad say?") == [[1]]  # the fuller name narrows the group
    assert lookup.named_in("al-Moallem's miracle") == [[3]]
    assert lookup.named_in("What did the spokesman say?") == []  # descriptions are never matched by a word
    assert lookup.named_in("who said it") == []


def _quotes(article_id: str, specs: list[tuple[str, str | None, str]]) -> list[Quotation]:
    return [Quotation(article_id, i * 10, i * 10 + 5, ((i * 10, i * 10 + 5),), text, speaker, None, kind)
            for i, (text, speaker, kind) in enumerate(specs)]


def test_build_load_search_and_facets(tmp_path: Path) -> None:
    builder = QuoteIndexBuilder(tmp_path / "quotes", 4, BM25Params())
    first = _quotes("a", [("support for Syria remains unchanged", "Vladimir Putin", "full"),
                          ("Islamic State", None, "term"),
                          ("a very big miracle", "Walid al-Moallem", "full")])
    second = _quotes("b", [("the special operation in Ukraine", "Assad", "partial"),
                           ("support for Syria is firm", "Vladimir Putin", "full")])
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 4)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    builder.add(0, first, vectors[:3])
    builder.add(1, second, vectors[3:])
    info = builder.finish(DenseConfig())
    assert info["quotes"] == 5 and info["speakers"] == 3 and info["kinds"] == {"full": 3, "partial": 1, "term": 1}
    assert not (tmp_path / "quotes" / "vectors.f32.part").exists()
    index = load_quote_index(tmp_path / "quotes", 5, 4)
    assert index.searchable.tolist() == [True, False, True, True, True]
    assert index.rows_of_article(1).tolist() == [3, 4] and index.rows_of_article(7).tolist() == []
    np.testing.assert_allclose(index.vectors(np.array([4, 0])), vectors[[4, 0]], atol=1e-6)
    rows, _, _ = index.bm25.search(["syria"], 10)
    assert sorted(rows.tolist()) == [0, 4]
    assert index.bm25.search(["islam"], 10)[0].size == 0  # a term's words are not searchable
    assert index.speakers("") == [("Vladimir Putin", 2), ("Assad", 1), ("Walid al-Moallem", 1)]
    assert index.speakers("mo") == [("Walid al-Moallem", 1)]  # a prefix of any word of the name
    assert index.speakers("PUT") == [("Vladimir Putin", 2)] and index.speakers("x") == []
    assert index.speakers("", limit=1) == [("Vladimir Putin", 2)]
    assert [index.speaker_names[c] for c in index.codes_matching("putin")] == ["Vladimir Putin"]
    assert index.facet([0, 1, 3, 4]) == [("Vladimir Putin", 2), ("Assad", 1)]  # nobody named is left out
    with pytest.raises(IndexCorrupt, match="shape"):
        load_quote_index(tmp_path / "quotes", 6, 4)


def test_an_index_without_quotations_loads_and_answers_nothing(tmp_path: Path) -> None:
    builder = QuoteIndexBuilder(tmp_path / "q", 4, BM25Params())
    builder.add(0, [], np.zeros((0, 4), dtype=np.float32))
    builder.finish(DenseConfig())
    index = load_quote_index(tmp_path / "q", 0, 4)
    assert index.count == 0 and index.speakers("") == [] and index.facet([]) == []
