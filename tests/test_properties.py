"""Bad and hostile input, property by property: arbitrary Unicode through every reader and text function.

The text strategies mix combining marks, right-to-left text and direction controls, emoji (astral-plane
characters, ZWJ sequences, flags, skin tones), NUL and other control characters, lone surrogates (where the
function can receive them: JSON escapes, render's surrogatepass text), every line break (CRLF, CR, U+2028,
U+2029, NEL, VT, FF), quotation marks, markup and URLs. The properties: no exception escapes other than the
module's own ParseError (which read_file turns into a Problem), every offset returned lies inside its text
(0 <= start <= end <= len(text)), and where a function promises text == article.text[start:end] that holds.
1 MB lines run as a few explicit cases (they are slow by nature, not by chance).
"""

from __future__ import annotations

import codecs
import gzip
import html
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

import search.text as text_module
from indexer.chunking import ChunkConfig, split_article
from indexer.quotes import extract_quotations
from indexer.sources import (
    FORMATS,
    ParseError,
    Problem,
    clean_paragraphs,
    clean_text,
    parse_html,
    parse_pagetext,
    parse_record,
    read_file,
)
from indexer.sources.clean import assemble
from indexer.sources.clean import normalize as clean_normalize
from indexer.sources.decode import decode_bytes
from search.highlight import choose_quote, lexical_spans, matches, quotations
from search.models import Article, Heading, Span
from search.text import normalize, split_sentences, term_spans, terms, tokenize
from web.render import KINDS, blocks, clip, human_date, mark, safe_url, snippet

ROOT = Path(__file__).resolve().parents[1]
MB = 1 << 20

# The example database stays in the project's git-ignored .hypothesis/, wherever pytest is started from.
DATABASE = DirectoryBasedExampleDatabase(str(ROOT / ".hypothesis" / "examples"))
SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
FAST = settings(max_examples=150, deadline=None, database=DATABASE, suppress_health_check=SLOW_OK)
HEAVY = settings(max_examples=100, deadline=None, database=DATABASE, suppress_health_check=SLOW_OK)

# --- strategies -----------------------------------------------------------------------------------------------

FRAGMENTS = [
    # combining marks (stacked, on nothing, on a space)
    "e\u0301", "\u0301", " \u0308", "Z\u0351\u0352\u0353\u0354\u0355", "a\u20dd", "\u0345",
    # right-to-left text and direction controls
    "שלום עולם", "مرحبا بالعالم.", "\u202e", "\u202b", "\u200f", "\u2066", "\u2069", "\u061c",
    # emoji: astral plane, ZWJ family, flag, skin tone, keycap, astral letters that NFKC folds
    "\U0001f600", "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", "\U0001f1e9\U0001f1ea",
    "\U0001f44d\U0001f3fd", "1\ufe0f\u20e3", "\U00010348", "\U0001d400\U0001d401", "\U000e0001",
    # NUL, C0/C1 controls, BOM, replacement character, invisible characters
    "\x00", "\x01", "\x08", "\x1b[0m", "\x7f", "\x85", "\x9f", "\ufeff", "\ufffd", "\u200b", "\u00ad", "\u2060",
    # every kind of line break and space
    "\r\n", "\r", "\n", "\n\n", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1e", "\t", " ", "   ",
    "\u00a0", "\u3000", "\u2009",
    # characters whose case folding or NFKC changes the length
    "ß", "ﬁ", "ﬃ", "İ", "ŉ", "ǰ", "Ǆ", "ｆｕｌｌ", "Ⅻ", "㎏", "…", "½", "ﾊﾟ",
    # sentence and quotation punctuation
    ".", ". ", "!", "?", "?!", ":", ",", ";", "-", "\u2014", "(", ")", '"', "\u201c", "\u201d", "\u2018",
    "\u2019", "'", "\u00ab", "\u00bb", "\u201e", '," ', '"We', "\u201cWe",
    # words the parsers, the chunker and the quotation extractor react to
    "Mr. ", "U.S. ", " said", " said.", " says ", " told reporters", " according to ", "Putin", "Vladimir Putin",
    "President ", "he ", "She ", "it ", "Reuter", "word", "Word ", "the ", "a ministry spokesman",
    # markup and URLs
    "<", ">", "&", "&amp;", "&#0;", "&#xD800;", "<mark>", "</mark>", '<mark class="x">', "<script>", "<p>",
    "</p>", "<h2>", "</h2>", "<!--", "-->", "<![CDATA[", "http://example.com/a", "https://www.dw.com/en/x",
    "javascript:alert(1)", "data:text/html,x",
    # page text furniture
    "1. Skip to content", "Image: AFP", "Caption.Image: dpa", "ksb/msh (AFP, AP, Reuters)", "29.06.2015",
    "June 29, 2015", "2015-06-29",
]

_SURROGATE = st.characters(categories=["Cs"])


def texts(surrogates: bool = False, max_pieces: int = 40) -> st.SearchStrategy[str]:
    """Hostile text: fragments above, arbitrary Unicode runs, and (when the caller can get them) lone surrogates."""
    pieces = [st.sampled_from(FRAGMENTS), st.text(max_size=12), st.text(st.characters(codec="ascii"), max_size=8)]
    if surrogates:
        pieces.append(st.text(_SURROGATE, min_size=1, max_size=2))
    return st.lists(st.one_of(*pieces), max_size=max_pieces).map("".join)


TEXT = texts()
TEXT_S = texts(surrogates=True)


@st.composite
def text_and_range(draw: st.DrawFn, strategy: st.SearchStrategy[str] = TEXT_S) -> tuple[str, int, int]:
    """A text and a sub-range of it."""
    text = draw(strategy)
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, len(text)))
    return text, start, end


# 1 MB lines: a few shapes that stress different paths (no white space, sentences, quotations, emoji, markup).
BIG_LINES = {
    "one-word": "x" * MB,
    "words": ("word " * (MB // 5))[:MB],
    "sentences": ("He said it. Mr. Smith agreed! " * (MB // 30))[:MB],
    "quotations": ('\u201cWe are ready,\u201d Putin said, \u201cto go.\u201d "A b" c. The talks went on in Moscow. '
                   * (MB // 80))[:MB],
    "emoji-rtl": ("\U0001f468\u200d\U0001f469\u200d\U0001f467 \u05e9\u05dc\u05d5\u05dd e\u0301 " * (MB // 16))[:MB],
    "controls": ("a\x00b\rc\u2028d\x85e\ufeff\x0b " * (MB // 16))[:MB],
    "markup": ("<p>a &amp; <b>b</b></p> " * (MB // 24))[:MB],
}
BIG = pytest.mark.parametrize("line", list(BIG_LINES.values()), ids=list(BIG_LINES))


def has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


# --- shared checks ------------------------------------------------------------------------------------------


def check_span(span: tuple[int, int], lo: int, hi: int) -> None:
    a, b = span
    assert isinstance(a, int) and isinstance(b, int)
    assert lo <= a <= b <= hi, (span, lo, hi)


def check_article(article: Article) -> None:
    """What every reader promises of an article: valid heading offsets, clean and storable (UTF-8) strings."""
    assert isinstance(article, Article)
    text = article.text
    previous = 0
    for heading in article.headings:
        assert isinstance(heading, Heading)
        check_span((heading.start, heading.end), 0, len(text))
        assert text[heading.start : heading.end] == heading.text
        assert heading.start >= previous
        previous = heading.end
    for value in (article.text, article.title):
        assert isinstance(value, str)
        assert "\r" not in value and "\x00" not in value
    for value in (article.id, article.title, article.text, article.date, article.source, article.url,
                  *article.agencies, *(h.text for h in article.headings)):
        if value is not None:
            value.encode("utf-8")  # a lone surrogate here would stop the store (sqlite) and every JSON response


def check_items(items: list) -> None:
    """read_file's answer: Articles and Problems only; nothing read means a skipping Problem says why."""
    for item in items:
        assert isinstance(item, (Article, Problem)), item
        if isinstance(item, Article):
            check_article(item)
        else:
            assert isinstance(item.reason, str) and item.reason
    if not any(isinstance(i, Article) for i in items):
        assert any(isinstance(i, Problem) and i.skipped for i in items), items


# --- parsers ------------------------------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=3000))
@example(b"")
@example(b"\x00\x00\x00")
@example(codecs.BOM_UTF16_LE + b"\x00\xd8")  # BOM then a lone surrogate
@example(codecs.BOM_UTF32_LE + b"\x00\xd8\x00\x00")
@example(codecs.BOM_UTF8 + "caf\u00e9".encode())
@example("\u201cna\u00efve\u201d caf\u00e9".encode("cp1252"))
def test_decode_bytes_returns_text_or_parse_error(data: bytes) -> None:
    try:
        text, encoding = decode_bytes(data)
    except ParseError as exc:
        assert exc.reason
        return
    assert isinstance(text, str)
    assert encoding is None or isinstance(encoding, str)


@FAST
@given(TEXT_S)
@example("Title\r\n\r\nBody\u2028line\x00 with\x85NEL.\rEnd")
def test_clean_text_never_raises_and_leaves_no_controls(text: str) -> None:
    normalized = clean_normalize(text)
    assert "\r" not in normalized and "\x00" not in normalized and not has_surrogate(normalized)
    paragraphs = clean_paragraphs(text)
    for paragraph in paragraphs:
        assert paragraph and "\n" not in paragraph and paragraph == paragraph.strip()
        assert not has_surrogate(paragraph)
    assert clean_text(text) == "\n\n".join(paragraphs)
    body, headings = assemble([(p, i % 2 == 1) for i, p in enumerate(paragraphs)])
    for h in headings:
        check_span((h.start, h.end), 0, len(body))
        assert body[h.start : h.end] == h.text


PAGE_LINE = st.one_of(
    TEXT_S.map(lambda t: t[:80]),
    st.sampled_from(["1. Skip to content", "2. Skip to main menu", "June 29, 2015", "https://p.dw.com/p/1FozI",
                     "Image: AP", "Caption.Image: dpa", "A heading", "A sentence that ends.",
                     "ksb/msh (AFP, AP, Reuters)", "(\ud800)", "", "\u2028", "\r", " \t"]),
)


@FAST
@given(st.lists(PAGE_LINE, max_size=25).map("\n".join))
@example("Title\n\nBody.\n\nksb/msh (AFP, AP, Reuters)")
@example("https://p.dw.com/p/1FozI\nTitle\n\n\U0001f600 Heading \u202e\n\nBody text.\n\nMore.")
def test_parse_pagetext_gives_an_article_or_parse_error(text: str) -> None:
    try:
        article = parse_pagetext(text, "prop.txt", "prop.txt")
    except ParseError as exc:
        assert exc.reason
        return
    check_article(article)
    assert article.title and article.text


HTML_PIECE = st.one_of(
    TEXT_S.map(lambda t: t[:60]),
    st.sampled_from([
        "<html>", "</html>", "<head>", "</head>", "<body>", "</body>", "<article>", "</article>", "<main>",
        "<title>", "</title>", "<h1>", "</h1>", "<h2>", "</h2>", "<p>", "</p>", "<ul><li>", "</li></ul>",
        "<br>", "<div>", "</div>", "<script>x()</script>", "<style>p{}</style>", "<!-- c -->", "<![CDATA[x]]>",
        '<meta property="og:url" content="https://www.dw.com/en/a">', '<link rel="canonical" href="javascript:x">',
        '<meta name="date" content="2015-06-29">', '<meta property="og:site_name" content="\u202eDW">',
        "&#0;", "&#xD800;", "&#x1F600;", "&#1;", "&nbsp;", "&bogus;", "<?xml version='1.0'?>",
        "<p>A long enough paragraph of body text that trafilatura keeps as the main text of the page.</p>",
    ]),
)


@HEAVY
@given(st.lists(HTML_PIECE, max_size=30).map("".join))
@example("<html><head><title>T</title></head><body><article><h2>Only heading</h2></article></body></html>")
@example('<html><head><link rel="canonical" href="https://x.org/&#xD800;"></head><body><article><p>'
         + "Body text long enough to be kept as the main text here. " * 4 + "</p></article></body></html>")
def test_parse_html_gives_an_article_or_parse_error(markup: str) -> None:
    try:
        article = parse_html(markup, "prop.html", "prop.html")
    except ParseError as exc:
        assert exc.reason
        return
    check_article(article)
    assert article.text


FIELD_NAMES = ["id", "_id", "title", "headline", "text", "body", "content", "date", "published", "published_at",
               "dateline", "url", "link", "source", "agencies", "metadata"]
JSON_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT_S)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)
RECORD = st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=6)), JSON_VALUE, max_size=8)


@FAST
@given(RECORD)
@example({"id": "\ud800", "text": "Body."})
@example({"url": "http://x.org/\udc00", "text": "Body."})
@example({"text": "Body.", "agencies": ["AFP\ud800"], "source": "\ud800"})
@example({"text": "\r\n\u2028", "title": "\x00"})
def test_parse_record_gives_an_article_or_parse_error(record: dict) -> None:
    record = json.loads(json.dumps(record))  # what json.loads can hand over: lone surrogates from \\u escapes
    try:
        article, problems = parse_record(record, "prop.jsonl:1", "prop.jsonl:1")
    except ParseError as exc:
        assert exc.reason
        return
    check_article(article)
    assert all(isinstance(p, Problem) and not p.skipped for p in problems)


def _encodings(text: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from([
        text.encode("utf-8", "surrogatepass"),
        text.encode("utf-8", "replace"),
        codecs.BOM_UTF16_LE + text.encode("utf-16-le", "surrogatepass"),
        codecs.BOM_UTF32_BE + text.encode("utf-32-be", "surrogatepass"),
        text.encode("cp1252", "replace"),
        text.encode("latin-1", "replace"),
    ])


FILE_BYTES = st.one_of(
    st.binary(max_size=2000),
    TEXT_S.flatmap(_encodings),
    st.lists(PAGE_LINE, max_size=15).map("\n".join).flatmap(_encodings),
    st.lists(HTML_PIECE, max_size=20).map("".join).flatmap(_encodings),
    st.lists(st.one_of(RECORD.map(lambda r: json.dumps(r, ensure_ascii=False)), RECORD.map(json.dumps), TEXT_S),
             max_size=5).map("\n".join).flatmap(_encodings),
)


@HEAVY
@given(FILE_BYTES, st.sampled_from(FORMATS), st.booleans())
@example(b'{"id": "\\ud800", "text": "Body."}\n', "jsonl", False)
@example(b'{"text": "x", "url": "http://x.org/\\udfff"}\n', "jsonl", False)
@example(b"\x1f\x8b\x08\x00garbage", "pagetext", False)  # a gzip header on a truncated stream
def test_read_file_yields_articles_or_problems(tmp_path_factory, data: bytes, fmt: str, gzipped: bool) -> None:
    folder = tmp_path_factory.mktemp("props", numbered=True)
    name = {"pagetext": "page.txt", "html": "page.html", "jsonl": "lines.jsonl"}[fmt]
    if gzipped:
        path = folder / (name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path = folder / name
        path.write_bytes(data)
    items = list(read_file(path, fmt, root=folder))
    check_items(items)


@BIG
def test_read_file_on_a_one_megabyte_line(tmp_path: Path, line: str) -> None:
    page = tmp_path / "big.txt"
    page.write_text("Title\n\n" + line, encoding="utf-8")
    check_items(list(read_file(page, "pagetext")))
    lines = tmp_path / "big.jsonl"
    lines.write_text(json.dumps({"title": "T", "text": line, "url": "https://x.org/" + line[:1000]}) + "\n",
                     encoding="utf-8")
    check_items(list(read_file(lines, "jsonl")))
    markup = tmp_path / "big.html"
    markup.write_text(f"<html><body><article><h2>Head</h2><p>{html.escape(line)}</p></article></body></html>",
                      encoding="utf-8")
    check_items(list(read_file(markup, "html")))


# --- the analyzer ---------------------------------------------------------------------------------------------


@FAST
@given(text_and_range())
@example(("ﬁnance İstanbul Straße", 0, 22))
@example(("e\u0301te\u0301 \U0001d400\U0001d401 ﬃ", 2, 9))
@example(("\ud83d\ude00 said \udc00x", 0, 10))
@example(("\ufb01x e\u0301te word", 0, 12))  # a ligature grows and an accent shrinks: same length, shifted offsets
def test_analyzer_never_raises_and_offsets_stay_in_range(case: tuple[str, int, int]) -> None:
    text, start, end = case
    assert isinstance(normalize(text), str)
    assert all(isinstance(t, str) and t for t in terms(text))
    assert all(isinstance(t, str) and t for t in tokenize(text))
    previous = start
    for a, b, stem in term_spans(text, start, end):
        check_span((a, b), start, end)
        assert a < b and a >= previous and isinstance(stem, str) and stem
        assert tokenize(text[a:b]) == [stem], (text[a:b], stem)  # the offsets are those of the word analyzed
        previous = b


@HEAVY
@given(text_and_range())
@example(("He said it.\u2028She left.\r\nMr. Smith \U0001f600 came. \u05e9\u05dc\u05d5\u05dd.", 0, 45))
@example(("\u201cA.\u201d B. \x00 C", 0, 11))
def test_split_sentences_spans_are_ordered_inside_the_range(case: tuple[str, int, int]) -> None:
    check_sentences(*case)


def check_sentences(text: str, start: int, end: int) -> None:
    spans = split_sentences(text, start, end)
    previous = start
    for a, b in spans:
        check_span((a, b), start, end)
        assert a < b and a >= previous and text[a:b].strip()
        previous = b
    covered = set()
    for a, b in spans:
        covered.update(range(a, b))
    assert all(i in covered for i in range(start, end) if not text[i].isspace()), "a word is in no sentence"


@HEAVY
@given(text_and_range(st.lists(st.one_of(TEXT_S, st.sampled_from(["He said it. ", "Mr. Smith came! ", "x" * 45])),
                                max_size=12).map("".join)))
@example(("He said it. " * 8 + "x" * 100 + " y" * 30 + " Mr. Smith came! " * 5, 3, 330))
def test_split_sentences_in_windows_keeps_its_promises(monkeypatch, case: tuple[str, int, int]) -> None:
    """The windowed path of a very long paragraph (over 50,000 characters), tried on small windows."""
    monkeypatch.setattr(text_module, "_WHOLE", 40)
    monkeypatch.setattr(text_module, "_WINDOW", 30)
    check_sentences(*case)


# --- the chunker ----------------------------------------------------------------------------------------------


def count_words(texts_: list[str]) -> list[int]:
    """A stand-in token counter: words plus the two special tokens, so the tests never load the model."""
    return [len(t.split()) + 2 for t in texts_]


def check_chunks(article: Article, config: ChunkConfig, prefix: str = "") -> tuple[list, list]:
    passages, sentences = split_article(article, config, count_words, prefix)
    text = article.text
    for ordinal, p in enumerate(passages):
        assert p.ordinal == ordinal and p.article_id == article.id
        check_span((p.start, p.end), 0, len(text))
        assert p.start < p.end
        assert text[p.start : p.end] == p.text
        assert p.heading is None or p.heading in {h.text for h in article.headings}
    for a, b in sentences:
        check_span((a, b), 0, len(text))
    return passages, sentences


CONFIG = st.builds(ChunkConfig, target_words=st.integers(1, 60), overlap_sentences=st.integers(0, 3),
                   max_tokens=st.one_of(st.none(), st.integers(1, 80)))


@HEAVY
@given(TEXT_S, CONFIG, st.sampled_from(["", "Title \U0001f600 ", "A long title of many words here "]))
@example("One. Two. Three.", ChunkConfig(target_words=1, overlap_sentences=3, max_tokens=1), "")
def test_chunker_passages_map_back_on_any_text(text: str, config: ChunkConfig, prefix: str) -> None:
    check_chunks(Article(id="a", title="t", text=text), config, prefix)


@HEAVY
@given(st.lists(st.tuples(TEXT.map(str.strip).filter(bool), st.booleans()), max_size=8), CONFIG)
def test_chunker_passages_map_back_with_headings(parts: list[tuple[str, bool]], config: ChunkConfig) -> None:
    text, headings = assemble(parts)
    check_chunks(Article(id="a", title="t", text=text, headings=headings), config)


def test_chunker_and_sentences_on_a_one_megabyte_line() -> None:
    """One 1 MB paragraph mixing sentences, quotations, emoji and right-to-left text (pysbd is the slow part)."""
    unit = ("He said it. \u201cWe go,\u201d Mr. Putin said. \U0001f468\u200d\U0001f469\u200d\U0001f467 "
            "\u05e9\u05dc\u05d5\u05dd e\u0301t\u00e9 word word word ")
    line = (unit * (MB // len(unit) + 1))[:MB]
    passages, sentences = check_chunks(Article(id="big", title="t", text=line),
                                       ChunkConfig(target_words=120, max_tokens=200), "Title ")
    assert passages and sentences
    for passage in passages:  # the quote of each passage, as the engine chooses it
        inside = [(a, b) for a, b in sentences if passage.start <= a and b <= passage.end]
        quote = choose_quote(line, inside, {"putin": 2.0, "word": 0.5, "said": 1.0})
        assert quote is not None and quote.text == line[quote.start : quote.end]
        check_span((quote.start, quote.end), passage.start, passage.end)


# --- the quotation extractor ----------------------------------------------------------------------------------


QUOTE_TEXT = st.lists(
    st.one_of(st.sampled_from(['"', "\u201c", "\u201d", '," ', '."', "\n", "\n\n", " said ", " Putin", " he",
                               "President Vladimir Putin", "according to", ": ", ". ", "We are ",
                               "a ministry spokesman", "quoted", " as saying", "Reuters's ", "U.S.", "\u2028", "\r\n"]),
              TEXT_S.map(lambda t: t[:20])),
    max_size=50,
).map("".join)


def check_quotations(text: str) -> None:
    previous = 0
    for q in extract_quotations(text):
        check_span((q.start, q.end), 0, len(text))
        assert q.kind in ("full", "partial", "term")
        assert q.speaker is None or isinstance(q.speaker, str)
        assert q.role is None or isinstance(q.role, str)
        assert q.parts and q.parts[0][0] == q.start and q.parts[-1][1] == q.end
        end = q.start
        for a, b in q.parts:
            check_span((a, b), q.start, q.end)
            assert a < b and a >= end
            end = b
        assert q.start >= previous, "quotations overlap or are out of order"
        previous = q.end


@FAST
@given(st.one_of(QUOTE_TEXT, TEXT_S))
@example('"')
@example('\u201c\n\n\u201c')
@example('"We are convinced," Putin said, "that the Syrian people will win."')
@example('"Abc\n\n"Def\n\n"')
def test_quotations_are_inside_the_text_sorted_and_disjoint(text: str) -> None:
    check_quotations(text)


# --- the highlighter ------------------------------------------------------------------------------------------

TERMS = st.dictionaries(
    st.one_of(st.sampled_from(["putin", "said", "war", "syria", "word", "fin", "istanbul", "ss"]),
              st.text(max_size=6)),
    st.floats(0, 20),
    max_size=6,
)


@FAST
@given(text_and_range(), TERMS, st.lists(TEXT_S.map(lambda t: t[:15]), max_size=3), st.integers(0, 10_000))
@example(("Straße Putin said ﬁnance", 0, 24), {"putin": 1.0, "said": 0.5}, ["STRASSE", "ß"], 7)
def test_matches_and_lexical_spans_stay_inside(case, weights: dict, phrases: list[str], offset: int) -> None:
    text, start, end = case
    query_terms = {**weights, **{t: 1.0 for t in tokenize(text[start:end])[:3]}}
    for a, b, stem in matches(text, query_terms, start, end):
        check_span((a, b), start, end)
        assert a < b and stem in query_terms
    for span in lexical_spans(text, offset, query_terms, phrases):
        check_span((span.start, span.end), offset, offset + len(text))
        assert span.start < span.end and span.kind == "lexical"
    for a, b in quotations(text, start, end):
        check_span((a, b), start, end)
        assert a < b


@HEAVY
@given(st.one_of(QUOTE_TEXT, TEXT_S), TERMS, st.booleans(), st.lists(st.floats(-1, 1), min_size=200, max_size=200))
@example('He said: "The Syrian people will win the war." Putin agreed.', {"war": 2.0, "syria": 1.0}, True,
         [0.5] * 200)
def test_choose_quote_returns_a_slice_of_the_sentences(text: str, weights: dict, use_similarities: bool,
                                                       similarities: list[float]) -> None:
    sentences = split_sentences(text)
    weights = {**weights, **{t: 1.0 for t in tokenize(text)[:2]}}
    sims = similarities[: len(sentences)] if use_similarities and len(sentences) <= len(similarities) else None
    quote = choose_quote(text, sentences, weights, sims)
    if not sentences:
        assert quote is None
        return
    assert quote is not None
    check_span((quote.start, quote.end), sentences[0][0], sentences[-1][1])
    assert quote.text == text[quote.start : quote.end]


# --- web.render -----------------------------------------------------------------------------------------------

SPANS = st.lists(
    st.builds(Span, st.integers(-50, 400), st.integers(-50, 400),
              st.one_of(st.sampled_from(KINDS), st.sampled_from(["", "x", '"><script>', "Lexical"]))),
    max_size=12,
)
_TAG = re.compile(r'<mark class="([a-z]+)">|</mark>')


def unmark(markup: str) -> str:
    """The text inside the markup: tags checked for nesting and removed, entities unescaped."""
    stack: list[str] = []
    for m in _TAG.finditer(markup):
        if m.group(1):
            assert m.group(1) in KINDS
            assert m.group(1) not in stack, "a kind nested inside itself"
            stack.append(m.group(1))
        else:
            assert stack, "a closing tag without its opening"
            stack.pop()
    assert not stack, "an unclosed mark"
    rest = _TAG.sub("", markup)
    assert "<" not in rest and ">" not in rest and '"' not in rest
    return html.unescape(rest)


@FAST
@given(TEXT_S, SPANS, st.integers(-20, 60))
@example("a < b & \"c\" > d '<mark>'", [Span(0, 5, "lexical"), Span(2, 30, "semantic")], 0)
@example("\ud83d\ude00x\ud83d\ude00", [Span(1, 4, "lexical")], 0)
@example("&amp;lt; \U0001f600 \u202e", [Span(0, 3, "passage"), Span(1, 2, "quotation")], 0)
def test_mark_is_valid_escaped_markup_of_the_text(text: str, spans: list[Span], shift: int) -> None:
    for m in clip(text, spans, shift):
        check_span((m.start, m.end), 0, len(text))
        assert m.start < m.end and m.kind in KINDS
    assert unmark(str(mark(text, spans, shift))) == text


@FAST
@given(TEXT_S, SPANS, st.integers(0, 60), st.one_of(st.none(), st.tuples(st.integers(0, 400), st.integers(0, 400))))
@example("one two three four five", [Span(4, 7, "lexical")], 0, (4, 13))
def test_snippet_is_marked_text_of_the_passage(text: str, spans: list[Span], shift: int, focus) -> None:
    if focus is not None:  # the quote: a span inside the passage (article offsets)
        a, b = sorted(focus)
        focus = (shift + min(a, len(text)), shift + min(b, len(text)))
    inner = unmark(str(snippet(text, spans, shift, focus)))
    candidates = [inner]
    if inner.startswith("\u2026"):
        candidates += [inner[1:]]
    if inner.endswith("\u2026"):
        candidates += [c[:-1] for c in list(candidates)]
    assert any(c in text for c in candidates), inner


@FAST
@given(TEXT_S)
@example("a\n \n\nb\r\n\r\nc\u2028\u2028d")
def test_blocks_are_ordered_paragraph_ranges(text: str) -> None:
    previous = 0
    for a, b in blocks(text):
        check_span((a, b), 0, len(text))
        assert a >= previous and text[a:b].strip()
        previous = b


URL = st.one_of(
    TEXT_S,
    st.builds(
        lambda scheme, sep, rest: scheme + sep + rest,
        st.sampled_from(["http", "https", "HTTPS", "javascript", "JaVaScRiPt", "data", "vbscript", "file", "ftp",
                         " http", "\x00http", "ht\ttp", "http\u200b", "\uff48ttp", "java\nscript", "https\x7f", ""]),
        st.sampled_from(["://", ":", ":/", ":\\\\", "//", ":///", "\u2215\u2215", ":// "]),
        TEXT_S.map(lambda t: t[:40]),
    ),
)


@FAST
@given(st.one_of(st.none(), URL))
@example("javascript:alert(1)//http://x.org")
@example("\u00a0javascript:alert(1)")
@example("https://x.org/\ud800")
@example("http:\\\\evil.org")
@example("http:// \u00e9")  # an invalid host, but an http one
@example("http://\x7f")  # DEL is a control character too (found by Hypothesis on a fresh clone)
def test_safe_url_only_ever_returns_http_links(url: str | None) -> None:
    result = safe_url(url)
    if result is None:
        return
    assert re.match(r"(?i)https?://", result), result  # a browser reads the same scheme: no control or space before
    assert result == result.strip() and not any(ord(c) < 32 or c == "\x7f" for c in result)


@FAST
@given(st.one_of(st.none(), TEXT_S, st.dates().map(str), st.datetimes().map(lambda d: d.isoformat())))
def test_human_date_never_raises(value: str | None) -> None:
    assert isinstance(human_date(value), str)


# --- 1 MB lines through the text functions ----------------------------------------------------------------------


@BIG
def test_text_functions_on_a_one_megabyte_line(line: str) -> None:
    """Everything but pysbd (see the chunker's 1 MB test) on each shape of 1 MB line."""
    check_quotations(line)
    spans = term_spans(line)
    assert all(0 <= a < b <= len(line) for a, b, _ in spans)
    assert isinstance(tokenize(line), list)
    for a, b in quotations(line):
        check_span((a, b), 0, len(line))
    for span in lexical_spans(line[:200_000], 7, {"word", "said", "putin"}, ["a b", "word word"]):
        check_span((span.start, span.end), 7, 7 + 200_000)
    highlights = [Span(a, b, "lexical") for a, b, _ in spans[:50_000]] + [Span(0, len(line) // 2, "semantic")]
    assert unmark(str(mark(line, highlights))) == line
    inner = unmark(str(snippet(line, highlights, 0, (len(line) // 3, len(line) // 3 + 100))))
    assert inner.strip("\u2026") in line
    for a, b in blocks(line):
        check_span((a, b), 0, len(line))
    assert safe_url("https://x.org/" + line) in (None, "https://x.org/" + line.strip())
