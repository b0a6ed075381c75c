"""The search page over SearchResult objects built here: the answer's new fields (total relation, notices, near
misses, facets, datelines, headlines) rendered whether or not the engine fills them yet."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest

from search.models import Facets, Hit, Notice, Passage, Quotation, QuoteHit, Scores, SearchResult, Span

SCORES = Scores(bm25=1.0, bm25_rank=1, dense=0.5, dense_rank=1, fused=1.0)


def article_hit(rank: int, article_id: str, title: str = "Cocoa harvest at record", ordinal: int = 0,
                dateline: str | None = None, date: str | None = "1987-03-03T13:16:23") -> Hit:
    text = "Cocoa farmers in Bahia expect a record harvest this season. Traders said prices could fall."
    start = 1000 if ordinal else 0
    return Hit(rank=rank, article_id=article_id, title=title, source="Reuters", url=None, date=date, score=1.0,
               scores=SCORES, passage=Passage(article_id, ordinal, start, start + len(text), text),
               quote=None, highlights=(Span(start, start + 5, "lexical"),), dateline=dateline)


def quote_hit(rank: int, article_id: str, dateline: str | None = None) -> QuoteHit:
    quotation = Quotation(article_id=article_id, start=10, end=40, parts=((10, 40),), text="Prices will fall soon",
                          speaker="Ana Souza", role="a trader", kind="full", speaker_kind="person")
    return QuoteHit(rank=rank, quotation=quotation, title="Cocoa harvest at record", source="Reuters", url=None,
                    date="1987-03-03T13:16:23", score=1.0, scores=SCORES, highlights=(), dateline=dateline)


def result(hits=(), type_: str = "articles", **fields) -> SearchResult:
    return SearchResult(query="cocoa", mode="hybrid", took_ms=3.0, total=fields.pop("total", len(hits)), page=1,
                        k=10, hits=tuple(hits), type=type_, **fields)


@pytest.fixture
def answer(monkeypatch):
    """Make the page answer with a given SearchResult, whatever the engine would have said."""
    def give(found: SearchResult) -> None:
        monkeypatch.setattr("web.pages.run_search", lambda request: found)
    return give


def page_of(client, query: str) -> str:
    response = client.get("/?" + query)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def plain(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def params(href: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(unescape(href)).query)


def test_a_lower_bound_total_says_at_least(client, answer) -> None:
    answer(result([article_hit(1, "a1")], total=1200, total_relation="gte"))
    stats = re.search(r'<p class="stats" role="status">(.*?)</p>', page_of(client, "q=cocoa"), re.S).group(1)
    assert plain(stats).startswith("at least 1,200 results · page 1 of 100")


def test_an_exact_total_is_written_with_separators(client, answer) -> None:
    answer(result([article_hit(1, "a1")], total=1200))
    stats = plain(re.search(r'<p class="stats" role="status">(.*?)</p>', page_of(client, "q=cocoa"), re.S).group(1))
    assert stats.startswith("1,200 results") and "at least" not in stats


def test_notices_sit_in_a_status_box(client, answer) -> None:
    answer(result([article_hit(1, "a1")], notices=(Notice("not_english", "The question does not look like English."),)))
    page = page_of(client, "q=cocoa")
    box = re.search(r'<div class="notice info" role="status">(.*?)</div>', page, re.S).group(1)
    assert plain(box) == "The question does not look like English."


def test_near_misses_stand_apart_under_a_heading_that_calls_them_weak(client, answer) -> None:
    answer(result([], near_misses=(article_hit(1, "weak-1", title="Coffee talks"),),
                  notices=(Notice("weak_only", "Nothing matched well."),)))
    page = page_of(client, "q=cocoa")
    section = re.search(r'<section class="near-misses" aria-labelledby="near-title">(.*?)</section>', page, re.S)
    assert section, "weak matches have their own section"
    assert '<h2 id="near-title">Weak matches</h2>' in section.group(1)
    assert "only loosely" in plain(section.group(1)) and "Coffee talks" in section.group(1)
    before = page[:section.start()]
    assert "Coffee talks" not in before  # never among the real hits
    empty = plain(re.search(r'<div class="notice empty" role="status">(.*?)</div>', before, re.S).group(1))
    assert empty.startswith("No close matches Nothing matched well. Try other words")
    assert 'class="notice info"' not in page  # the notice is said once, in the box that says why nothing is here


def test_near_misses_follow_real_hits(client, answer) -> None:
    answer(result([article_hit(1, "good-1", title="Cocoa good")], near_misses=(article_hit(2, "weak-1", title="Coffee weak"),)))
    page = page_of(client, "q=cocoa")
    assert page.index("Cocoa good") < page.index("Weak matches") < page.index("Coffee weak")


def test_source_facet_has_counts_and_links_that_keep_the_rest(client, answer) -> None:
    answer(result([article_hit(1, "a1")], facets=Facets(sources=(("Reuters", 1200), ("AP", 3)))))
    page = page_of(client, "q=cocoa&mode=bm25&date_from=1987-01-01&source=AP&source=Reuters&page=2")
    facet = re.search(r'<nav class="facet source-facet".*?</nav>', page, re.S).group(0)
    assert "Reuters (1,200)" in plain(facet) and "AP (3)" in plain(facet)
    links = dict((plain(text), href) for href, text in re.findall(r'<a class="source-link" href="([^"]+)"[^>]*>(.*?)</a>',
                                                               facet))
    assert params(links["AP"]) == [("q", "cocoa"), ("mode", "bm25"), ("date_from", "1987-01-01"), ("source", "AP")]
    every = re.search(r'<a href="([^"]+)">All sources</a>', facet).group(1)
    assert params(every) == [("q", "cocoa"), ("mode", "bm25"), ("date_from", "1987-01-01")]


def test_the_chosen_source_is_marked(client, answer) -> None:
    answer(result([article_hit(1, "a1")], facets=Facets(sources=(("Reuters", 12), ("AP", 3)))))
    facet = re.search(r'<nav class="facet source-facet".*?</nav>', page_of(client, "q=cocoa&source=AP"), re.S).group(0)
    assert 'aria-current="true">AP</a>' in facet and 'aria-current="true">Reuters' not in facet


def test_speaker_facet_on_article_results_keeps_the_type_and_filters(client, answer) -> None:
    answer(result([article_hit(1, "a1")], facets=Facets(speakers=(("Ana Souza", 2),), unnamed=4)))
    page = page_of(client, "q=cocoa&type=articles&source=Reuters&date_to=1988-01-01")
    facet = re.search(r'<nav class="facet speaker-facet".*?</nav>', page, re.S).group(0)
    assert plain(facet) == "Speakers Ana Souza (2) unnamed sources (4)"
    href = re.search(r'<a class="speaker" href="([^"]+)"', facet).group(1)
    assert params(href) == [("q", "cocoa"), ("type", "articles"), ("source", "Reuters"), ("date_to", "1988-01-01"),
                            ("speaker", "Ana Souza")]


def test_dateline_sits_beside_the_source_with_the_time(client, answer) -> None:
    answer(result([article_hit(1, "a1", dateline="Salvador")]))
    meta = re.search(r'<p class="meta">(.*?)</p>', page_of(client, "q=cocoa"), re.S).group(1)
    assert plain(meta) == "Reuters Salvador 3 March 1987, 13:16"
    assert '<span class="dateline">Salvador</span>' in meta


def test_quotation_card_carries_the_dateline(client, answer) -> None:
    answer(result([quote_hit(1, "q1", dateline="Salvador")], type_="quotes"))
    attribution = re.search(r'<p class="attribution">(.*?)</p>', page_of(client, "q=cocoa&type=quotes"), re.S).group(1)
    assert plain(attribution) == "— Ana Souza, a trader · Reuters · Salvador · 3 March 1987, 13:16"


def test_no_dateline_no_empty_span(client, answer) -> None:
    answer(result([article_hit(1, "a1")]))
    assert 'class="dateline"' not in page_of(client, "q=cocoa")


@pytest.mark.parametrize("ordinal, expected", [
    (0, "Cocoa farmers in Bahia expect a record harvest this season."),  # the article's opening passage
    (3, "Untitled article"),  # a passage from further down: its first sentence would be no headline
])
def test_a_hit_without_title_is_never_its_id(client, answer, ordinal: int, expected: str) -> None:
    answer(result([article_hit(1, "reuters-4711", title="", ordinal=ordinal)]))
    page = page_of(client, "q=cocoa")
    title = re.search(r'<li class="hit">\s*<h2><a [^>]*>(.*?)</a></h2>', page, re.S).group(1)
    assert plain(title) == expected
    assert ">reuters-4711<" not in page


def test_an_untitled_quotation_source_is_not_its_id(client, answer) -> None:
    hit = quote_hit(1, "reuters-4711")
    answer(result([QuoteHit(**{**{f: getattr(hit, f) for f in hit.__slots__}, "title": ""})], type_="quotes"))
    page = page_of(client, "q=cocoa&type=quotes")
    link = re.search(r'<p class="links"><a href="[^"]+">(.*?)</a></p>', page).group(1)
    assert link == "Untitled article"


def test_the_chosen_speaker_is_marked_in_the_facet(client, answer) -> None:
    answer(result([quote_hit(1, "q1")], type_="quotes", facets=Facets(speakers=(("Ana Souza", 1), ("Bo Lima", 2)))))
    facet = re.search(r'<nav class="facet speaker-facet".*?</nav>', page_of(client, "q=cocoa&type=quotes&speaker=Ana+Souza"),
                      re.S).group(0)
    assert 'aria-current="true">Ana Souza</a>' in facet and 'aria-current="true">Bo Lima' not in facet
