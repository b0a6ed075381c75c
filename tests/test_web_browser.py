"""Headless Chromium against the production server (`python -m web`, waitress): keyboard search and no XSS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.server import serving
from tests.conftest import write_jsonl

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PAYLOAD = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'
SHOTS = os.environ.get("NEWSCLIP_SCREENSHOTS")  # optional folder to keep screenshots in beyond tmp_path


@contextmanager
def production_server(index_dir: Path, log: Path) -> Iterator[str]:
    """`python -m web` on a free loopback port (4 threads); yields its base URL once /healthz answers."""
    try:
        with serving(index_dir, log, "--threads", "4") as (base, _):
            assert f"{base}/" in log.read_text(), "the server prints its URL"
            yield base
    except RuntimeError as exc:  # it exited or never answered: the log says why
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed: apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def seeds_server(seeds_index: Path, tmp_path_factory) -> Iterator[str]:
    with production_server(seeds_index, tmp_path_factory.mktemp("server") / "server.log") as base:
        yield base


def screenshot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def search_by_keyboard(page, question: str) -> None:
    """Tab to the question box (no mouse), type, press Enter."""
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "q":
            break
    else:
        pytest.fail("the question box cannot be reached with Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type(question)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_keyboard_search_shows_highlighted_quote(browser, seeds_server: str, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(seeds_server + "/")
    search_by_keyboard(page, "What did Putin say about the Syrian people?")
    first = page.locator("li.hit").first
    assert first.locator("h2 a").inner_text() == "Russia pledges to support Syrian government"
    assert first.locator("h2 a").get_attribute("href") == "https://p.dw.com/p/1FozI"
    assert first.locator(".source").inner_text() == "DW"
    assert first.locator("time").inner_text() == "29 June 2015"
    quote = first.locator("blockquote.quote")
    assert "We are convinced that in the end the Syrian people will be victorious" in quote.inner_text()
    assert "Syrian people will be victorious" in quote.locator("mark.semantic").inner_text()
    assert quote.locator("mark.lexical").count() >= 2
    assert page.locator("#q").input_value() == "What did Putin say about the Syrian people?"
    screenshot(page, tmp_path, "search.png")
    assert errors == []  # the CSP blocked nothing, because there is nothing inline
    # phone-sized and with JavaScript off, the same server-rendered page works
    phone = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    small = phone.new_page()
    small.goto(seeds_server + "/")
    small.fill("#q", "Assad's visit to Moscow on the anniversary of the uprising")
    with small.expect_navigation():
        small.press("#q", "Enter")
    assert small.locator("li.hit h2 a").first.inner_text() == "Putin and Assad hold talks on anniversary of Syria uprising"
    assert small.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    screenshot(small, tmp_path, "search-phone.png")
    phone.close()
    page.close()


@pytest.fixture(scope="module")
def evil_server(tmp_path_factory, embedder) -> Iterator[str]:
    from indexer.build import BuildConfig, build_index

    root = tmp_path_factory.mktemp("xss")
    source = write_jsonl(root / "xss.jsonl", [{
        "id": "xss-1",
        "title": f"Harbour strike {PAYLOAD} {IMG} ends",
        "date": "2020-05-04",
        "source": "Gazette",
        "url": "javascript:window.__pwned=1",
        "text": (f"Dock workers ended the harbour strike on Monday. {PAYLOAD} The union said {IMG} the deal "
                 "raises wages by five percent.\n\nShips began unloading at the harbour within hours."),
    }])
    build_index(BuildConfig(sources=(source,), index_dir=root / "index", progress=False), embedder=embedder)
    with production_server(root / "index", root / "server.log") as base:
        yield base


def test_payloads_in_articles_and_query_never_run(browser, evil_server: str, tmp_path: Path) -> None:
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(evil_server + "/")
    question = f"harbour strike {PAYLOAD} {IMG}"
    search_by_keyboard(page, question)
    hit = page.locator("li.hit").first
    assert PAYLOAD in hit.locator("h2 a").inner_text() and IMG in hit.locator("h2 a").inner_text()
    assert hit.locator("h2 a").get_attribute("href").startswith("/articles/xss-1")  # not the javascript: URL
    assert PAYLOAD in hit.locator("blockquote").inner_text() or IMG in hit.locator("blockquote").inner_text()
    assert page.locator("#q").input_value() == question
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0
    assert page.evaluate("window.__pwned") is None
    screenshot(page, tmp_path, "xss-search.png")
    with page.expect_navigation():
        hit.locator("h2 a").click()
    assert PAYLOAD in page.locator("h1").inner_text()
    assert "javascript:window.__pwned=1" in page.locator(".original").inner_text()
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.locator("script").count() == 0 and page.locator("img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    page.close()


def test_quotation_cards_and_speaker_filter_in_a_browser(browser, seeds_server: str, tmp_path: Path) -> None:
    """The seeds questions, asked for quotations: the speaker's words first, signed; the speaker link filters."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(seeds_server + "/")
    page.fill("#q", "What did Putin say about Syria?")
    page.check("input[name=type][value=quotes]")
    with page.expect_navigation():
        page.press("#q", "Enter")
    cards = page.locator("li.quote-hit")
    assert cards.count() >= 5
    words = [cards.nth(i).locator("blockquote.words").inner_text() for i in range(4)]
    assert "“We are convinced that in the end the Syrian people will be victorious”" in words
    assert cards.first.locator("p.attribution").inner_text() == "— Vladimir Putin, President · DW · 29 June 2015"
    assert [cards.nth(i).locator("a.speaker").inner_text() for i in range(4)] == ["Vladimir Putin"] * 4
    assert "Walid al-Moallem" in page.locator("nav.facet").inner_text()
    screenshot(page, tmp_path, "quotes.png")
    # the speaker under a card filters by that speaker
    with page.expect_navigation():
        page.locator("nav.facet a.speaker", has_text="Walid al-Moallem").click()
    assert "speaker=Walid+al-Moallem" in page.url
    assert page.locator("li.quote-hit").count() == 1
    assert "works miracles" in page.locator("li.quote-hit blockquote").inner_text()
    assert page.locator("li.quote-hit p.attribution").inner_text().startswith(
        "— Walid al-Moallem, Syria's Foreign Minister · DW · 29 June 2015")
    # a card's words lead to the article, the passage with the quotation marked
    with page.expect_navigation():
        page.locator("li.quote-hit blockquote a").click()
    assert page.locator("h1").inner_text() == "Russia pledges to support Syrian government"
    assert any("works miracles" in t for t in page.locator("mark.quotation").all_inner_texts())
    assert "works miracles" in " ".join(page.locator("mark.passage").all_inner_texts())
    # the second seed: Assad's words come first, with the filter chosen from a card
    page.goto(seeds_server + "/")
    page.fill("#q", "Assad's words on Russia's support")
    page.check("input[name=type][value=quotes]")
    with page.expect_navigation():
        page.press("#q", "Enter")
    first = page.locator("li.quote-hit").first
    assert first.locator("blockquote").inner_text() == (
        "“Even though Russia now is also conducting the special operation, its position has remained unchanged”")
    assert first.locator("p.attribution").inner_text() == "— Assad · DW · 15 March 2023"
    with page.expect_navigation():
        first.locator("a.speaker").click()
    assert [t for t in page.locator("li.quote-hit a.speaker").all_inner_texts()] == ["Assad"]
    screenshot(page, tmp_path, "quotes-assad.png")
    assert errors == []
    page.close()
