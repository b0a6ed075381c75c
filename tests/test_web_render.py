"""web.render: the only place markup is made from spans, so escaping and nesting are tested here."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from search.models import Span
from web.render import Mark, blocks, human_date, mark, safe_url, snippet


def test_plain_text_is_escaped_and_returned_as_markup() -> None:
    out = mark('a < b & "c" > d')
    assert isinstance(out, Markup)
    assert str(out) == "a &lt; b &amp; &#34;c&#34; &gt; d"


def test_script_in_text_stays_literal_even_inside_a_mark() -> None:
    text = "see <script>alert(1)</script> here"
    out = str(mark(text, [Span(4, 29, "lexical")]))
    assert "<script>" not in out
    assert out == 'see <mark class="lexical">&lt;script&gt;alert(1)&lt;/script&gt;</mark> here'


def test_lexical_nested_inside_semantic() -> None:
    text = "He said the Syrian people will win."
    out = str(mark(text, [Span(0, 35, "semantic"), Span(12, 18, "lexical"), Span(19, 25, "lexical")]))
    assert out == ('<mark class="semantic">He said the <mark class="lexical">Syrian</mark> '
                   '<mark class="lexical">people</mark> will win.</mark>')


def test_lexical_straddling_the_semantic_edge_is_split_cleanly() -> None:
    text = "one two three four"
    out = str(mark(text, [Span(4, 13, "semantic"), Span(0, 7, "lexical")]))
    # well nested: the lexical span is cut at the semantic boundary, never crossing tags
    assert out == ('<mark class="lexical">one </mark><mark class="semantic"><mark class="lexical">two</mark>'
                   ' three</mark> four')


def test_overlapping_spans_of_one_kind_merge() -> None:
    out = str(mark("abcdefgh", [Span(1, 4, "lexical"), Span(3, 6, "lexical"), Span(6, 7, "lexical")]))
    assert out == 'a<mark class="lexical">bcdefg</mark>h'


def test_out_of_range_spans_are_clipped_or_dropped() -> None:
    text = "short"
    out = str(mark(text, [Span(-5, 2, "lexical"), Span(3, 99, "semantic"), Span(50, 60, "lexical"),
                          Span(4, 2, "lexical")]))
    assert out == '<mark class="lexical">sh</mark>o<mark class="semantic">rt</mark>'


def test_unknown_kinds_never_reach_the_class_attribute() -> None:
    out = str(mark("abc", [Span(0, 3, '"><script>x</script>')]))
    assert out == "abc"


def test_shift_makes_article_offsets_passage_relative() -> None:
    out = str(mark("Putin said", [Span(100, 105, "lexical")], shift=100))
    assert out == '<mark class="lexical">Putin</mark> said'


def test_never_splits_a_surrogate_pair() -> None:
    pair = "\ud83d\ude00"  # an emoji kept as two halves (text decoded with surrogatepass)
    text = f"a{pair}b"
    out = str(mark(text, [Span(2, 4, "lexical")]))  # starts between the halves
    assert out == f'a<mark class="lexical">{pair}b</mark>'
    out = str(mark(text, [Span(0, 2, "lexical")]))  # ends between the halves
    assert out == f'<mark class="lexical">a{pair}</mark>b'


def test_astral_characters_are_one_offset_each() -> None:
    text = "😀 Putin"
    assert str(mark(text, [Span(2, 7, "lexical")])) == '😀 <mark class="lexical">Putin</mark>'


def test_snippet_keeps_a_few_words_around_the_quote_with_ellipses() -> None:
    words = [f"w{i}" for i in range(40)]
    text = " ".join(words)
    q_start = text.index("w20")
    q_end = text.index("w22") + 3
    out = str(snippet(text, [Span(q_start + 1000, q_end + 1000, "semantic")], 1000, (q_start + 1000, q_end + 1000),
                      context_words=3))
    assert out == '…w17 w18 w19 <mark class="semantic">w20 w21 w22</mark> w23 w24 w25…'


def test_snippet_without_a_quote_shows_the_opening_words() -> None:
    out = str(snippet("<b>bold</b> claim and more", [], 0, None, lead_words=2))
    assert out == "&lt;b&gt;bold&lt;/b&gt; claim…"


@pytest.mark.parametrize("url, expected", [
    ("https://p.dw.com/p/1FozI", "https://p.dw.com/p/1FozI"),
    ("http://example.org/a?b=c", "http://example.org/a?b=c"),
    ("javascript:alert(1)", None),
    ("JaVaScRiPt:alert(1)", None),
    (" javascript:alert(1)", None),
    ("data:text/html,<script>alert(1)</script>", None),
    ("java\tscript:alert(1)", None),
    ("//evil.example/x", None),
    ("/articles/1", None),
    ("", None),
    (None, None),
])
def test_only_http_urls_become_links(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_dates_are_written_for_people() -> None:
    assert human_date("2015-06-29") == "29 June 2015"
    assert human_date(None) == ""
    assert human_date("sometime") == "sometime"


@pytest.mark.parametrize("value, expected", [
    ("1987-03-03T13:16:23", "3 March 1987, 13:16"),  # the source gave a time: it is shown
    ("1987-02-26T15:01", "26 February 1987, 15:01"),
    ("2026-12-02T18:14:20+00:00", "2 December 2026, 18:14 UTC"),
    ("2015-06-29T10:05:00+02:00", "29 June 2015, 10:05 UTC+02:00"),
    ("2015-06-29T10:05:00-05:30", "29 June 2015, 10:05 UTC-05:30"),
    ("2015-06-29T??", "29 June 2015"),  # a day followed by no readable time: the day alone
])
def test_a_time_is_shown_where_the_source_gives_one(value: str, expected: str) -> None:
    assert human_date(value) == expected


def test_blocks_split_paragraphs_at_blank_lines() -> None:
    text = "First para.\n\nHeading\n\nSecond para."
    assert [text[a:b] for a, b in blocks(text)] == ["First para.", "Heading", "Second para."]


def test_mark_accepts_passage_kind_outermost() -> None:
    out = str(mark("abcdef", [Mark(1, 5, "passage"), Span(2, 3, "lexical")]))
    assert out == 'a<mark class="passage">b<mark class="lexical">c</mark>de</mark>f'
