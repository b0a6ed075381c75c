"""Highlights and quote choice: offsets, stems, quotations, semantic tie-breaks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from search.highlight import choose_quote, lexical_spans, quotations
from search.models import Span
from search.text import split_sentences

TEXT = (
    "Quashing rumors, Putin said on Monday that his country's policy remains unchanged. "
    '"We are convinced that in the end the Syrian people will be victorious," Putin said. '
    "Russia has pledged support."
)


def test_lexical_spans_match_stems_with_article_offsets() -> None:
    spans = lexical_spans(TEXT, 100, {"pledg", "putin"})
    words = [TEXT[s.start - 100 : s.end - 100] for s in spans]
    assert words == ["Putin", "Putin", "pledged"]
    assert all(s.kind == "lexical" for s in spans)


def test_phrase_spans() -> None:
    spans = lexical_spans(TEXT, 0, set(), ["syrian PEOPLE"])
    assert [TEXT[s.start : s.end] for s in spans] == ["Syrian people"]


def test_quotations_exclude_marks_and_trailing_comma() -> None:
    found = quotations(TEXT)
    assert [TEXT[a:b] for a, b in found] == ["We are convinced that in the end the Syrian people will be victorious"]
    assert quotations("He said “it is fine today” and left.") == [(9, 25)]


def test_choose_quote_prefers_matched_terms_then_similarity() -> None:
    sentences = split_sentences(TEXT)
    terms = {"syrian": 2.0, "peopl": 2.0, "putin": 0.5}
    quote = choose_quote(TEXT, sentences, terms)
    assert "We are convinced that in the end the Syrian people will be victorious" in quote.text
    assert TEXT[quote.start : quote.end] == quote.text
    semantic = choose_quote(TEXT, sentences, {}, similarities=[0.1, 0.2, 0.9])
    assert semantic.text == "Russia has pledged support."


def test_quotation_is_the_quote_when_it_holds_every_match() -> None:
    sentences = split_sentences(TEXT)
    quote = choose_quote(TEXT, sentences, {"syrian": 2.0, "victori": 2.0})
    assert quote.text == "We are convinced that in the end the Syrian people will be victorious"


def test_no_sentences_no_quote() -> None:
    assert choose_quote(TEXT, [], {"x": 1.0}) is None


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=500), st.lists(st.sampled_from(["a", "the", "putin", "ab", "été"]), max_size=4))
def test_offsets_always_inside_text(text: str, words: list[str]) -> None:
    from search.text import tokenize

    terms = {t: 1.0 for w in words for t in tokenize(w)}
    for span in lexical_spans(text, 0, terms, words[:1]):
        assert isinstance(span, Span) and 0 <= span.start < span.end <= len(text)
    for a, b in quotations(text):
        assert 0 <= a < b <= len(text)
    quote = choose_quote(text, split_sentences(text), terms)
    if quote is not None:
        assert text[quote.start : quote.end] == quote.text
