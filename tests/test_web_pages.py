"""The HTML pages over the real engine: hits, states, the article view, escaping and security headers."""

from __future__ import annotations

import re
from html import unescape

import pytest

from conftest import write_jsonl
from web import create_app

PUTIN_QUESTION = "What did Putin say about the Syrian people?"
PAYLOAD = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'



def evil_records() -> list[dict]:
    """Articles whose every field tries to inject markup, plus plain ones to page through."""
    records = [{
        "id": "odd/id 1",
        "title": f"Harbour strike {PAYLOAD} ends",
        "date": "2020-05-04",
        "source": f"Wire {IMG}",
        "url": "javascript:window.__pwned=1",
        "text": (f"Dock workers ended the harbour strike on Monday. {PAYLOAD} The union said {IMG} the deal "
                 "raises wages by five percent.\n\nShips began unloading at the harbour within hours, "
                 "and port officials expect the backlog of containers to clear by the end of the week."),
    }]
    for i in range(3):
        records.append({
            "id": f"plain-{i}",
            "title": f"Harbour report number {i}",
            "date": f"2021-0{i + 1}-10",
            "source": "Gazette",
            "url": f"https://example.org/harbour/{i}",
            "text": (f"The harbour authority published report number {i} on shipping volumes. Container traffic "
                     "through the harbour rose again as new cranes came into service."),
        })
    return records


@pytest.fixture(scope="module")
def evil_client(tmp_path_factory, embedder):
    from indexer.build import BuildConfig, build_index

    root = tmp_path_factory.mktemp("evil")
    source = write_jsonl(root / "evil.jsonl", evil_records())
    index_dir = root / "index"
    build_index(BuildConfig(sources=(source,), index_dir=index_dir, progress=False), embedder=embedder)
    app = create_app({"INDEX": index_dir, "TESTING": True})
    yield app.test_client()
    app.extensions["newsclip"].close()


def html(response) -> str:
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_search_page_renders_hits(client) -> None:
    response = client.get("/", query_string={"q": PUTIN_QUESTION})
    assert response.status_code == 200
    page = html(response)
    assert '<a href="https://p.dw.com/p/1FozI" rel="noopener noreferrer">Russia pledges to support Syrian government</a>' in page
    assert '<span class="source">DW</span>' in page
    assert '<time datetime="2015-06-29">29 June 2015</time>' in page
    assert '<mark class="semantic">' in page and '<mark class="lexical">Putin</mark>' in page
    quote = re.search(r'<blockquote class="quote">(.*?)</blockquote>', page, re.S).group(1)
    plain = unescape(re.sub(r"<[^>]+>", "", quote))
    assert "We are convinced that in the end the Syrian people will be victorious" in plain
    assert "<details class=\"more\">" in page and "more matching passage" in page
    assert re.search(r"2 results\s*·\s*\d+ ms", page)
    assert 'value="What did Putin say about the Syrian people?"' in page  # the question stays in the box


def test_the_question_is_kept_escaped(client) -> None:
    q = '"Syrian people" <b>bold</b>'
    page = html(client.get("/", query_string={"q": q}))
    assert 'value="&#34;Syrian people&#34; &lt;b&gt;bold&lt;/b&gt;"' in page
    assert "<b>bold</b>" not in page


def test_empty_question_shows_just_the_box(client) -> None:
    for url in ("/", "/?q=", "/?q=%20%20"):
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200 and response.request.path == "/" and not response.request.query_string
        page = html(response)
        assert '<form class="search" method="get" action="/"' in page
        assert '<label for="q">' in page and '<button type="submit">Search</button>' in page
        assert 'class="hit"' not in page and "No results" not in page and 'role="alert"' not in page


def test_no_results_state(client) -> None:
    response = client.get("/?q=Putin&source=Reuters")
    assert response.status_code == 200
    page = html(response)
    assert "No results" in page and 'class="hit"' not in page
    assert "these filters" in page  # the reader is told the filters may be why


@pytest.mark.parametrize("query, param", [
    ("q=Putin&date_from=2023-13-01", "date_from"),
    ("q=Putin&k=1000", "k"),
    ("q=Putin&mode=psychic", "mode"),
    ("q=Putin&date_from=2024-01-01&date_to=2023-01-01", "date_from"),
])
def test_bad_parameter_is_a_readable_400_page(client, query: str, param: str) -> None:
    response = client.get(f"/?{query}")
    assert response.status_code == 400
    page = html(response)
    assert 'role="alert"' in page and "That search could not run" in page
    alert = re.search(r'<div class="notice error".*?</div>', page, re.S).group(0)
    assert param not in plain(alert), "the reader is told in words, never a parameter's name"
    assert 'class="hit"' not in page
    assert 'value="Putin"' in page  # the form is still there with what was typed


def test_a_chosen_source_the_archive_lacks_is_shown_ticked(client) -> None:
    page = html(client.get("/?q=Putin&source=Nobody"))
    assert '<input type="checkbox" name="source" value="Nobody" checked> Nobody <span class="count">(0)</span>' in page
    assert '<input type="checkbox" name="source" value="DW"> DW' in page


def test_filters_are_kept_and_offered(client) -> None:
    page = html(client.get("/?q=Putin&mode=bm25&date_from=2015-01-01&source=DW"))
    assert '<option value="bm25" selected>' in page
    assert 'name="date_from" value="2015-01-01"' in page
    assert '<input type="checkbox" name="source" value="DW" checked>' in page
    assert "<details class=\"filters\" open>" in page


def test_article_view_marks_the_passage_and_terms(client) -> None:
    hit_page = html(client.get("/", query_string={"q": "a miracle"}))
    link = re.search(r'href="(/articles/[^"]+)">Read in the archive', hit_page).group(1)
    response = client.get(unescape(link))
    assert response.status_code == 200
    page = html(response)
    ordinal = re.search(r"p=(\d+)", unescape(link)).group(1)
    assert f'id="passage-{ordinal}"' in page
    assert '<mark class="passage">' in page
    assert '<mark class="lexical">miracle</mark>' in page
    assert "<h1>Russia pledges to support Syrian government</h1>" in page
    assert '<time datetime="2015-06-29">29 June 2015</time>' in page
    marked = re.search(r'id="passage-\d+">(.*?)</(?:p|h2)>', page, re.S).group(1)
    assert '<mark class="passage">' in marked  # the anchor sits where the marked passage begins


def test_article_view_heading_is_a_heading(client) -> None:
    hit_page = html(client.get("/", query_string={"q": PUTIN_QUESTION}))
    link = unescape(re.search(r'href="(/articles/[^"?]+)', hit_page).group(1))
    page = html(client.get(link))
    assert re.search(r"<h2[^>]*>Need for &#39;a miracle&#39;</h2>", page)
    assert "<h1>Russia pledges to support Syrian government</h1>" in page
    assert 'href="https://p.dw.com/p/1FozI"' in page


def test_unknown_article_is_a_404_page(client) -> None:
    response = client.get("/articles/does-not-exist")
    assert response.status_code == 404
    assert "no article with the id" in html(response)


def test_security_headers_on_pages(client) -> None:
    for url in ("/", "/?q=Putin", "/articles/does-not-exist", "/static/style.css"):
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script_or_style(client) -> None:
    page = html(client.get("/", query_string={"q": PUTIN_QUESTION}))
    assert "<script" not in page and " style=" not in page and "onerror" not in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


def test_javascript_url_is_not_a_link_and_payloads_stay_text(evil_client) -> None:
    response = evil_client.get("/", query_string={"q": f"harbour strike {PAYLOAD}"})
    assert response.status_code == 200
    page = html(response)
    assert 'href="javascript:' not in page
    assert "<script>window" not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=" in page
    # the title links to the archive's own view of the article (the odd id still routes)
    link = re.search(r'<h2><a href="([^"]+)">Harbour strike', page).group(1)
    assert link.startswith("/articles/odd/id%201?")
    article = evil_client.get(unescape(link))
    assert article.status_code == 200
    body = html(article)
    assert 'href="javascript:' not in body and "<script>window" not in body
    assert "Original address: <span class=\"url\">javascript:window.__pwned=1</span>" in body


def test_pagination_links(evil_client) -> None:
    page = html(evil_client.get("/?q=harbour&k=1"))
    assert re.search(r"4 results\s*·\s*page 1 of 4", page)
    nav = re.search(r'<nav class="pages".*?</nav>', page, re.S).group(0)
    assert 'rel="next"' in nav and 'rel="prev"' not in nav
    assert '<span aria-current="page">1</span>' in nav
    next_href = unescape(re.search(r'<a href="([^"]+)" rel="next"', nav).group(1))
    assert "q=harbour" in next_href and "k=1" in next_href and "page=2" in next_href
    second = html(evil_client.get(next_href))
    assert '<span aria-current="page">2</span>' in second and 'rel="prev"' in second
    assert '<ol class="hits" start="2">' in second


def plain(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def test_quotation_cards_with_speaker_role_source_and_date(client) -> None:
    page = html(client.get("/", query_string={"q": "What did Putin say about Syria?", "type": "quotes"}))
    cards = re.findall(r'<li class="hit quote-hit">(.*?)</li>', page, re.S)
    assert len(cards) >= 4
    texts = [plain(re.search(r'<blockquote class="words">(.*?)</blockquote>', c, re.S).group(1)) for c in cards]
    assert "“We are convinced that in the end the Syrian people will be victorious”" in texts[:3]
    attribution = plain(re.search(r'<p class="attribution">(.*?)</p>', cards[0], re.S).group(1))
    assert attribution == "— Vladimir Putin, President · DW · 29 June 2015"
    assert '<a class="speaker" href="/?q=What+did+Putin+say+about+Syria?&amp;type=quotes&amp;speaker=Vladimir+Putin">' \
        in cards[0]
    assert re.search(r'<a href="/articles/[^"]+\?at=\d+&amp;q=[^"]+#chosen">Russia pledges to support Syrian government</a>',
                     cards[0])
    facet = re.search(r'<nav class="facet speaker-facet".*?</nav>', page, re.S).group(0)
    assert "Vladimir Putin (3)" in plain(facet) and "Walid al-Moallem (1)" in plain(facet)
    assert 'value="quotes" checked' in page  # the choice of quotations stays selected


def test_speaker_link_filters_and_can_be_removed(client) -> None:
    page = html(client.get("/", query_string={"q": "Russia's support for Syria", "type": "quotes",
                                              "speaker": "Walid al-Moallem"}))
    cards = re.findall(r'<li class="hit quote-hit">(.*?)</li>', page, re.S)
    assert len(cards) == 1 and "works miracles" in plain(cards[0])
    assert '<input type="hidden" name="speaker" value="Walid al-Moallem">' in page


def test_removing_the_speaker_filter_is_a_link_in_words_keeping_the_rest(client) -> None:
    page = html(client.get("/", query_string=[("q", "Syria"), ("type", "quotes"), ("source", "DW"),
                                              ("speaker", "Assad"), ("page", "1")]))
    remove = re.search(r'<a class="remove" href="([^"]+)">(.*?)</a>', page, re.S)
    assert unescape(remove.group(1)) == "/?q=Syria&type=quotes&source=DW"
    assert plain(remove.group(2)) == "× Remove the speaker filter"  # words, not a lone × told apart by colour
    assert '<span aria-hidden="true">×</span>' in remove.group(2)


def test_article_hits_list_their_quotations(client) -> None:
    page = html(client.get("/", query_string={"q": PUTIN_QUESTION}))
    listed = re.search(r'<ul class="hit-quotations".*?</ul>', page, re.S).group(0)
    assert "We are convinced that in the end the Syrian people will be victorious — Vladimir Putin, President" \
        in plain(listed)


def test_article_view_marks_quotations_and_lists_them(client) -> None:
    hit = client.get("/api/search", query_string={"q": "Assad anniversary"}).get_json()["hits"][0]
    page = html(client.get(f"/articles/{hit['article_id']}", query_string={"at": "1400", "q": "Assad"}))
    marked = [plain(m) for m in re.findall(r'<mark class="quotation">(.*?)</mark>', page, re.S)]
    assert any(m.startswith("Even though Russia now is also conducting the special operation") for m in marked)
    assert not any(m == "special operation" for m in marked)  # scare quotes are not marked as anyone's words
    listed = plain(re.search(r'<section class="quotations".*?</section>', page, re.S).group(0))
    # Assad's words, and the words "Assad's office said" the leaders discussed: an unnamed source, as written
    assert "— Assad " in listed and "— Assad's office" in listed
    assert '<span id="chosen"></span>' in page  # ?at= scrolls to the passage holding the quotation


def test_the_form_may_send_empty_fields(client) -> None:
    """The page's form submits every field; empty ones mean "not set" there (the API refuses them)."""
    response = client.get("/", query_string={"q": PUTIN_QUESTION, "date_from": "", "date_to": "", "k": "10",
                                             "mode": "hybrid", "sort": "relevance", "type": "articles"},
                          follow_redirects=True)
    assert response.status_code == 200 and "Russia pledges to support Syrian government" in html(response)


# -- issue 11: the page keeps the search, says what the archive holds, and reads well ---------------------------

FILTERED = [("q", "Putin"), ("type", "quotes"), ("mode", "bm25"), ("sort", "date"), ("k", "20"),
            ("date_from", "2015-01-01"), ("date_to", "2024-12-31"), ("source", "DW")]


def query(pairs) -> str:
    from urllib.parse import urlencode

    return urlencode(pairs)


def params(href: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl, urlsplit

    return parse_qsl(urlsplit(unescape(href)).query)


def test_empty_fields_are_redirected_away_and_every_other_parameter_kept(client) -> None:
    response = client.get("/?q=Putin&date_from=&date_to=&source=DW&source=&mode=bm25&k=10&speaker=%20")
    assert response.status_code == 303
    assert response.headers["Location"] == "/?q=Putin&source=DW&mode=bm25&k=10"
    assert client.get(response.headers["Location"]).status_code == 200  # nothing left to drop: answered


def test_back_to_the_search_keeps_every_filter(client) -> None:
    search = [("q", "Syrian people"), ("mode", "bm25"), ("sort", "date"), ("k", "20"),
              ("date_from", "2015-01-01"), ("date_to", "2024-12-31"), ("source", "DW"), ("page", "1")]
    page = html(client.get("/?" + query(search)))
    link = unescape(re.search(r'href="(/articles/[^"]+)">Read in the archive', page).group(1))
    assert [(k, v) for k, v in params(link) if k != "p"] == search
    article = html(client.get(link))
    back = re.search(r'<a href="([^"]+)">← Back to the search</a>', article).group(1)
    assert unescape(back) == "/?" + query(search).replace("%2F", "/")


def test_article_view_without_a_search_offers_the_search_page(client) -> None:
    hit = client.get("/api/search", query_string={"q": "Assad"}).get_json()["hits"][0]
    page = html(client.get(f"/articles/{hit['article_id']}"))
    assert '<a href="/">← Search the archive</a>' in page and "Back to the search" not in page


def test_speaker_links_keep_the_date_and_source_filters(client) -> None:
    page = html(client.get("/?" + query(FILTERED)))
    hrefs = re.findall(r'<a class="speaker" href="([^"]+)"', page)
    assert hrefs, "quotation cards and the facet link their speakers"
    for href in hrefs:
        got = params(href)
        assert ("date_from", "2015-01-01") in got and ("date_to", "2024-12-31") in got and ("source", "DW") in got
        assert ("mode", "bm25") in got and ("sort", "date") in got and ("k", "20") in got
        assert [v for k, v in got if k == "speaker"] and "page" not in dict(got)
    # on the article view too: its quotations' speakers keep the search the reader came from
    card = unescape(re.search(r'<blockquote class="words"><a href="([^"]+)"', page).group(1))
    article = html(client.get(card))
    for href in re.findall(r'<a class="speaker" href="([^"]+)"', article):
        got = params(href)
        assert ("source", "DW") in got and ("date_from", "2015-01-01") in got and ("type", "quotes") in got


def test_article_hit_quotation_speakers_show_their_quotations_with_the_filters(client) -> None:
    page = html(client.get("/", query_string=[("q", PUTIN_QUESTION), ("source", "DW"), ("date_to", "2024-01-01")]))
    listed = re.search(r'<ul class="hit-quotations".*?</ul>', page, re.S).group(0)
    href = re.search(r'<a class="speaker" href="([^"]+)"', listed).group(1)
    assert params(href) == [("q", PUTIN_QUESTION), ("source", "DW"), ("date_to", "2024-01-01"), ("type", "quotes"),
                            ("speaker", "Vladimir Putin")]


def h1s(page: str) -> list[str]:
    """The page's h1 headings, their inner markup with spaces collapsed."""
    return [" ".join(h.split()) for h in re.findall(r"<h1[^>]*>(.*?)</h1>", page, re.S)]


@pytest.mark.parametrize("url, status, heading", [
    ("/", 200, "Search the news archive"),
    ("/?q=Putin", 200, "Articles matching <q>Putin</q>"),
    ("/?q=Putin&type=quotes", 200, "Quotations matching <q>Putin</q>"),
    ("/?q=Putin&type=quotes&speaker=Assad", 200, "Quotations of Assad matching <q>Putin</q>"),
    ("/?q=Putin&source=Reuters", 200, "Articles matching <q>Putin</q>"),
    ("/?q=Putin&date_from=2023-13-01", 400, "That search could not run"),
    ("/about", 200, "About the archive"),
    ("/articles/does-not-exist", 404, 'Not Found <span class="status">(error 404)</span>'),
])
def test_every_page_has_one_h1(client, url: str, status: int, heading: str) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert h1s(html(response)) == [heading]


def test_article_h1_is_the_title(client) -> None:
    hit = client.get("/api/search", query_string={"q": "Assad"}).get_json()["hits"][0]
    assert [unescape(h) for h in h1s(html(client.get(f"/articles/{hit['article_id']}")))] == [hit["title"]]


def test_the_hint_shows_each_quotation_mark_once(client) -> None:
    page = html(client.get("/"))
    intro = plain(re.search(r'<div class="notice intro">(.*?)</div>', page, re.S).group(1))
    assert 'Put "a phrase" in quotation marks' in intro
    assert '<q>"' not in page and "<q>&#34;" not in page  # <q> adds its own marks around the typed ones


@pytest.mark.parametrize("query_string, message, field_id, label", [
    ("q=Putin&date_from=2023-13-01", "The start date “2023-13-01” is not a day of the calendar", "date_from",
     "From (date)"),
    ("q=Putin&date_to=yesterday", "The end date “yesterday” is not a day of the calendar", "date_to", "To (date)"),
    ("q=Putin&date_from=2024-01-01&date_to=2023-01-01",
     "The start date, 1 January 2024, is after the end date, 1 January 2023", "date_from", "From (date)"),
    ("q=Putin&k=1000", "A page can show from 1 to 100 results", "k", "Results per page"),
    ("q=Putin&mode=psychic", "“psychic” is not a way of matching", "mode", "Match"),
    ("q=Putin&sort=oldest", "“oldest” is not an order", "sort", "Sort by"),
    ("q=-Putin", "The question only leaves words out", "q", "Ask a question"),
    ("q=" + "a" * 1001, "The question is 1,001 characters long; it can be at most 1,000", "q", "Ask a question"),
])
def test_errors_are_said_in_words_and_point_at_the_field(client, query_string: str, message: str, field_id: str,
                                                          label: str) -> None:
    response = client.get(f"/?{query_string}")
    assert response.status_code == 400
    page = html(response)
    alert = re.search(r'<div class="notice error" id="error" role="alert">(.*?)</div>', page, re.S).group(1)
    assert message in plain(alert)
    assert f'<a href="#{field_id}">{label}</a>' in alert  # a link to the field to change
    field = re.search(rf'<(?:input|select)[^>]* id="{field_id}"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in field and 'aria-describedby="error-message"' in field
    for name in ("date_from", "date_to", " k ", "mode", "sort ", "param"):
        assert name not in plain(alert)


def test_page_past_the_limit_offers_the_first_page(client) -> None:
    page = html(client.get("/?q=Putin&k=50&page=40&source=DW"))
    alert = re.search(r'<div class="notice error".*?</div>', page, re.S).group(0)
    assert "the archive shows the first 1,000 results" in plain(alert)
    assert '<a href="/?q=Putin&amp;k=50&amp;source=DW">Go to the first page of this search</a>' in alert


def test_home_says_what_the_archive_holds(client) -> None:
    page = html(client.get("/"))
    said = plain(re.search(r'<p class="archive">(.*?)</p>', page, re.S).group(1))
    assert said.startswith("The archive holds 2 articles from 1 source, 29 June 2015 to 15 March 2023. Last updated ")
    updated = client.get("/api/index").get_json()["built_at"]
    assert f'<time datetime="{updated}">' in page
    assert said.endswith("UTC. More about the archive")
    assert '<a href="/about">More about the archive</a>' in page


def test_about_page_lists_the_figures_and_sources(client) -> None:
    response = client.get("/about")
    assert response.status_code == 200
    page = html(response)
    figures = {plain(dt): plain(dd) for dt, dd in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page, re.S)}
    summary = client.get("/api/index").get_json()
    assert figures["Articles"] == str(summary["articles"]) and figures["Passages searched"] == str(summary["passages"])
    assert figures["Sources"] == "1" and figures["Dates covered"] == "29 June 2015 to 15 March 2023"
    assert figures["Last updated"].endswith(" UTC") and figures["Quotations"].isdigit()
    rows = re.findall(r'<tr><th scope="row">(.*?)</th><td class="num">(.*?)</td></tr>', page)
    assert rows == [("DW", "2")]
    assert '<a href="/api/index">/api/index</a>' in page


def test_footer_links_the_archive_page_and_the_json_stays(client) -> None:
    page = html(client.get("/"))
    footer = re.search(r'<footer class="site">(.*?)</footer>', page, re.S).group(1)
    assert '<a href="/about">About the archive</a>' in footer and "/api/index" not in footer
    assert client.get("/api/index").mimetype == "application/json"


def wire_records() -> list[dict]:
    """Reuters-like stories: a time of day, a dateline, and one without a title."""
    return [
        {"id": "wire-1", "title": "", "date": "1987-03-03T13:16:23", "dateline": "SALVADOR, March 3 -",
         "source": "Reuters", "text": ("Cocoa farmers in Bahia expect a record harvest this season after heavy rains. "
                                       "Traders said prices could fall as a result.")},
        {"id": "wire-2", "title": "Coffee quotas talks resume", "date": "1987-03-04",
         "source": "Reuters", "text": "Coffee producers resumed talks on export quotas in London on Wednesday."},
    ]


@pytest.fixture(scope="module")
def wire_client(tmp_path_factory, embedder):
    from indexer.build import BuildConfig, build_index

    root = tmp_path_factory.mktemp("wire")
    source = write_jsonl(root / "wire.jsonl", wire_records())
    build_index(BuildConfig(sources=(source,), index_dir=root / "index", progress=False), embedder=embedder)
    app = create_app({"INDEX": root / "index", "TESTING": True, "EMBEDDER": embedder})
    yield app.test_client()
    app.extensions["newsclip"].close()


def test_article_without_title_shows_its_first_sentence_time_and_dateline(wire_client) -> None:
    page = html(wire_client.get("/articles/wire-1"))
    assert h1s(page) == ["Cocoa farmers in Bahia expect a record harvest this season after heavy rains."]
    assert "<title>Cocoa farmers in Bahia" in page
    meta = re.search(r'<p class="meta">(.*?)</p>', page, re.S).group(1)
    assert plain(meta) == "Reuters Salvador 3 March 1987, 13:16"
    assert '<time datetime="1987-03-03T13:16:23">3 March 1987, 13:16</time>' in meta
    assert '<span class="dateline">Salvador</span>' in meta


def test_a_day_without_a_time_shows_no_time(wire_client) -> None:
    page = html(wire_client.get("/articles/wire-2"))
    assert '<time datetime="1987-03-04">4 March 1987</time>' in page and 'class="dateline"' not in page


def test_untitled_hit_is_never_shown_by_its_id(wire_client) -> None:
    page = html(wire_client.get("/?q=cocoa+harvest+Bahia"))
    titles = [plain(t) for t in re.findall(r'<li class="hit">\s*<h2><a [^>]*>(.*?)</a></h2>', page, re.S)]
    assert titles and titles[0] != "wire-1" and titles[0].startswith("Cocoa farmers in Bahia")
    assert re.search(r'<time datetime="1987-03-03T13:16:23">3 March 1987, 13:16</time>', page)
