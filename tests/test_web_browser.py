"""Headless Chromium against the production server (`python -m web`, waitress): keyboard search and no XSS."""

from __future__ import annotations

import os
import re
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
    assert cards.count() >= 4
    words = [cards.nth(i).locator("blockquote.words").inner_text() for i in range(3)]
    assert "“We are convinced that in the end the Syrian people will be victorious”" in words
    assert cards.first.locator("p.attribution").inner_text() == "— Vladimir Putin, President · DW · 29 June 2015"
    assert [cards.nth(i).locator("a.speaker").inner_text() for i in range(3)] == ["Vladimir Putin"] * 3
    assert "Walid al-Moallem" in page.locator("nav.speaker-facet").inner_text()
    screenshot(page, tmp_path, "quotes.png")
    # the speaker under a card filters by that speaker
    with page.expect_navigation():
        page.locator("nav.speaker-facet a.speaker", has_text="Walid al-Moallem").click()
    assert "speaker=Walid+al-Moallem" in page.url
    assert page.locator("li.quote-hit").count() == 1
    assert "works miracles" in page.locator("li.quote-hit blockquote").inner_text()
    assert page.locator("li.quote-hit p.attribution").inner_text().startswith(
        "— Walid al-Moallem, Foreign Minister · DW · 29 June 2015")
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


# -- issue 11: accessibility (axe-core, loaded from the installed package, never fetched) and what only a browser shows

SERIOUS = ("serious", "critical")


@pytest.fixture(scope="module")
def axe():
    """axe-core as shipped inside the PyPI package axe-playwright-python (axe.min.js in the wheel): read from disk."""
    module = pytest.importorskip("axe_playwright_python.sync_playwright",
                                 reason="pip install axe-playwright-python (it bundles axe-core)")
    return module.Axe()


def assert_accessible(axe, page, what: str) -> dict:
    """No axe-core violation of serious or critical impact on the page as it stands; the report names each one."""
    results = axe.run(page).response
    bad = [v for v in results["violations"] if v.get("impact") in SERIOUS]
    report = "\n".join(f"{v['id']} ({v['impact']}): {v['help']} at " + ", ".join(
        str(n["target"]) + " " + n.get("failureSummary", "").replace("\n", " ") for n in v["nodes"]) for v in bad)
    assert not bad, f"{what}: {report}"
    assert results["testEngine"]["version"].startswith("4.")
    return results


def submit(page, question: str, type_: str | None = None) -> None:
    page.fill("#q", question)
    if type_:
        page.check(f"input[name=type][value={type_}]")
    with page.expect_navigation():
        page.press("#q", "Enter")


def test_axe_finds_nothing_serious_on_any_page(browser, axe, seeds_server: str, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))

    page.goto(seeds_server + "/")
    assert page.locator("h1").inner_text() == "Search the news archive"
    assert page.locator("p.archive").inner_text().startswith("The archive holds 2 articles from 1 source")
    page.locator("details.filters summary").click()  # the form's every field checked, open
    screenshot(page, tmp_path, "a11y-home.png")
    assert_accessible(axe, page, "home")

    submit(page, "What did Putin say about the Syrian people?")
    assert "date_from" not in page.url and "date_to" not in page.url  # the empty fields were dropped
    screenshot(page, tmp_path, "a11y-results.png")
    assert_accessible(axe, page, "results (articles)")

    submit(page, "What did Putin say about Syria?", "quotes")
    with page.expect_navigation():
        page.locator("li.quote-hit a.speaker").first.click()
    assert page.locator(".speaker-filter a.remove").count() == 1
    screenshot(page, tmp_path, "a11y-quotes.png")
    assert_accessible(axe, page, "results (quotations, a speaker chosen)")

    with page.expect_navigation():
        page.locator("li.quote-hit blockquote a").first.click()
    assert page.locator("h1").count() == 1 and page.locator("mark.quotation").count() >= 1
    screenshot(page, tmp_path, "a11y-article.png")
    assert_accessible(axe, page, "article view")

    assert errors == []  # the CSP blocked nothing: there is nothing inline
    page.goto(seeds_server + "/?q=Putin&date_from=2024-01-01&date_to=2023-01-01")
    assert page.locator("#error h1").inner_text() == "That search could not run"
    screenshot(page, tmp_path, "a11y-error.png")
    assert_accessible(axe, page, "search error (400)")

    page.goto(seeds_server + "/articles/no-such-article")
    screenshot(page, tmp_path, "a11y-404.png")
    assert_accessible(axe, page, "error page (404)")

    page.goto(seeds_server + "/?q=Putin&source=Nobody")
    assert page.locator(".notice.empty h2").inner_text() == "No results"
    screenshot(page, tmp_path, "a11y-no-results.png")
    assert_accessible(axe, page, "no results")

    page.goto(seeds_server + "/about")
    assert page.locator("table.sources tbody tr").count() == 1
    screenshot(page, tmp_path, "a11y-about.png")
    assert_accessible(axe, page, "about the archive")

    assert [e for e in errors if "status of 40" not in e] == []  # the 400 and 404 above were asked for
    assert all(url.startswith(seeds_server) or url.startswith("data:") for url in requested), "nothing fetched"
    page.close()


def luminance(rgb: str) -> float:
    """Relative luminance (WCAG 2) of a computed colour, "rgb(r, g, b)"."""
    channels = [int(x) / 255 for x in re.findall(r"\d+", rgb)[:3]]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_quote_highlight_stands_out_from_the_card(browser, seeds_server: str, tmp_path: Path) -> None:
    """WCAG 1.4.11: what marks the quote (its fill, or a line under it of 2px or more) contrasts 3:1 with the card."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(seeds_server + "/?q=What+did+Putin+say+about+the+Syrian+people%3F")
    quote = page.locator("li.hit mark.semantic").first
    style = quote.evaluate("""el => { const s = getComputedStyle(el), card = getComputedStyle(el.closest('li.hit'));
        return {fill: s.backgroundColor, line: s.borderBottomColor, width: parseFloat(s.borderBottomWidth),
                lineStyle: s.borderBottomStyle, card: card.backgroundColor, ink: s.color}; }""")
    fill = contrast(style["fill"], style["card"])
    line = contrast(style["line"], style["card"]) if style["width"] >= 2 and style["lineStyle"] != "none" else 1.0
    assert max(fill, line) >= 3.0, style
    assert contrast(style["ink"], style["fill"]) >= 4.5  # and the words on the fill stay readable
    quote.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "quote-highlight.png"), clip=quote.bounding_box())
    page.close()


def test_remove_speaker_is_told_apart_by_more_than_colour(browser, seeds_server: str) -> None:
    page = browser.new_page()
    page.goto(seeds_server + "/?q=Syria&type=quotes&speaker=Assad")
    link = page.locator(".speaker-filter a.remove")
    assert " ".join(link.inner_text().split()) == "× Remove the speaker filter"
    look = link.evaluate("""el => { const s = getComputedStyle(el);
        return {decoration: s.textDecorationLine, border: parseFloat(s.borderTopWidth)}; }""")
    assert "underline" in look["decoration"] or look["border"] >= 1, look
    page.close()


@pytest.mark.parametrize("width", [1100, 700, 390])
def test_menu_choices_are_never_cut_off(browser, seeds_server: str, tmp_path: Path, width: int) -> None:
    """Each option of each menu fits its box (text width measured in the menu's own font, less padding and arrow)."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(seeds_server + "/?q=Putin")
    page.locator("details.filters summary").click()
    cut = page.evaluate("""() => {
        const ctx = document.createElement('canvas').getContext('2d'), out = [];
        for (const sel of document.querySelectorAll('details.filters select')) {
            const s = getComputedStyle(sel);
            ctx.font = `${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
            const room = sel.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight) - 20;
            for (const opt of sel.options) {
                const need = ctx.measureText(opt.text).width;
                if (need > room) out.push(`${sel.id}: "${opt.text}" needs ${need.toFixed(0)}px, has ${room.toFixed(0)}px`);
            }
        }
        return out; }""")
    assert cut == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, tmp_path, f"filters-{width}.png")
    page.close()


def test_form_without_javascript_leaves_no_empty_fields_in_the_address(browser, seeds_server: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(seeds_server + "/?q=Putin&source=DW&sort=date")
    submit(page, "Assad anniversary")
    assert page.url == seeds_server + "/?q=Assad+anniversary&type=articles&mode=hybrid&sort=date&k=10&source=DW"
    with page.expect_navigation():
        page.locator("li.hit .links a").first.click()
    with page.expect_navigation():
        page.get_by_role("link", name="← Back to the search").click()
    assert page.url == seeds_server + "/?q=Assad+anniversary&type=articles&mode=hybrid&sort=date&k=10&source=DW"
    assert page.locator("#sort").input_value() == "date"
    context.close()
