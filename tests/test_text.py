"""The analyzer and the sentence splitter."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from search.text import split_sentences, term_spans, tokenize


def test_analyzer_normalizes_stems_and_drops_stopwords() -> None:
    assert tokenize("Russia PLEDGES to support the Syrian government") == ["russia", "pledg", "support", "syrian", "govern"]
    assert tokenize("pledged") == tokenize("pledges") == tokenize("Ｐｌｅｄｇｅｓ")
    assert tokenize("Syria's") == ["syria"]
    assert tokenize("") == [] and tokenize("a an the of") == []


def test_term_spans_point_at_the_words() -> None:
    text = "Putin pledged support; the Syrians"
    spans = list(term_spans(text))
    assert [text[a:b] for a, b, _ in spans] == ["Putin", "pledged", "support", "Syrians"]
    assert [t for _, _, t in spans] == tokenize(text)


def test_sentences_respect_abbreviations_and_quotes() -> None:
    text = 'Mr. Smith of the U.S. said it was 5.93 mln. "We are convinced," Putin said. He left.'
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Mr. Smith of the U.S. said it was 5.93 mln.",
        '"We are convinced," Putin said.',
        "He left.",
    ]


def test_sentences_of_a_slice_have_absolute_offsets() -> None:
    text = "Skip me. First one. Second one. Skip too."
    spans = split_sentences(text, 9, 31)
    assert [text[a:b] for a, b in spans] == ["First one.", "Second one."]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600))
def test_sentence_spans_cover_every_word_in_order(text: str) -> None:
    spans = split_sentences(text)
    last = 0
    for a, b in spans:
        assert last <= a < b <= len(text)
        assert text[a:b] == text[a:b].strip()
        last = b
    covered = "".join(text[a:b] for a, b in spans)
    assert "".join(covered.split()) == "".join(text.split())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_term_spans_stay_inside_the_text(text: str) -> None:
    for a, b, _ in term_spans(text):
        assert 0 <= a < b <= len(text)
