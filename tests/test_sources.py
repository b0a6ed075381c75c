"""Input readers: the seeds, JSONL (own, Reuters, BEIR), HTML, bad input and the folder walk."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.sources import (
    FORMATS, ParseError, Problem, clean_paragraphs, clean_text, iter_files, parse_date, parse_html,
    parse_pagetext, parse_record, read_articles, read_file, source_for_url,
)
from search.models import Article
from indexer.sources.jsonl import dateline_place

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
DATA = Path(__file__).resolve().parent / "data" / "sources"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REUTERS = SHARED / "reuters21578" / "reuters21578.jsonl.gz"

SEED_1 = SEEDS / "000_9523eadcb13b8331.txt"
SEED_2 = SEEDS / "002_0d5396c41720b200.txt"
NOISE = ("Skip to", "Image:", "1. ", "https://", "/msh", "(AFP", "(AP,")


def shared(path: Path) -> Path:
    """Skip, naming the missing path, when the shared data is not beside the project."""
    if not path.exists():
        pytest.skip(f"{path} is missing: put the shared data folder beside the project as ../shared")
    return path


def split(items) -> tuple[list[Article], list[Problem]]:
    """Articles and problems of a reader's output, in order."""
    items = list(items)
    return [i for i in items if isinstance(i, Article)], [i for i in items if isinstance(i, Problem)]


def assert_headings_valid(article: Article) -> None:
    for h in article.headings:
        assert 0 <= h.start < h.end <= len(article.text)
        assert article.text[h.start:h.end] == h.text
        assert article.text[:h.start].endswith("\n\n") and article.text[h.end:].startswith("\n\n")


def paragraphs(article: Article) -> list[str]:
    return article.text.split("\n\n")


# --- page text --------------------------------------------------------------------------------------------


def test_seed_one_exact_fields() -> None:
    article = parse_pagetext(SEED_1.read_text(encoding="utf-8"), str(SEED_1))
    assert article.title == "Russia pledges to support Syrian government"
    assert article.date == "2015-06-29"
    assert article.url == "https://p.dw.com/p/1FozI"
    assert article.source == "DW"
    assert article.agencies == ("AFP", "AP", "Reuters")
    assert article.id == parse_pagetext(SEED_1.read_text(encoding="utf-8"), "elsewhere").id  # from the URL
    assert paragraphs(article)[0].startswith("Russia has promised to support Syria's government \"politically")
    assert paragraphs(article)[-1].startswith("Several members of the US-led coalition")
    assert [h.text for h in article.headings] == ["Need for 'a miracle'"]
    assert_headings_valid(article)
    for noise in (*NOISE, "Russia-Syria talks in Moscow", "Nikolsky", "ksb", "June 29, 2015", article.title):
        assert noise not in article.text
    assert "\n\n\n" not in article.text and "\n" not in article.text.replace("\n\n", "")


def test_seed_two_exact_fields() -> None:
    article = parse_pagetext(SEED_2.read_text(encoding="utf-8"), str(SEED_2))
    assert article.title == "Putin and Assad hold talks on anniversary of Syria uprising"
    assert article.date == "2023-03-15"
    assert article.url == "https://p.dw.com/p/4OgiF"
    assert article.source == "DW"
    assert article.agencies == ("AP", "AFP", "dpa", "Reuters")
    assert [h.text for h in article.headings] == ["What Putin and Assad discussed", "Assad seeks to end isolation"]
    assert_headings_valid(article)
    assert paragraphs(article)[0].startswith("Russia has been one of Syria's few allies")
    assert paragraphs(article)[1].startswith("Russian President Vladimir Putin hosted")
    for noise in (*NOISE, "honor guard", "first visit to Moscow since September 2021", "SANA", "kb,lo"):
        assert noise not in article.text
    assert "  " not in article.text  # the doubled space in "discussed  \"joint" is collapsed


def test_seed_ids_stable_and_distinct() -> None:
    first = [a.id for a in split(read_articles([SEEDS]))[0]]
    again = [a.id for a in split(read_articles([SEEDS]))[0]]
    assert first == again and len(set(first)) == 2 and all(i.startswith("u-") for i in first)


def test_other_outlet_page_without_menu() -> None:
    article, = split(read_file(DATA / "bbc-page.txt", "pagetext"))[0]
    assert article.source == "BBC"
    assert article.title == "Flooding forces thousands from homes in Yorkshire"
    assert article.date == "2024-02-03"
    assert article.url == "https://www.bbc.co.uk/news/uk-england-york-68190000"
    assert article.agencies == ()
    assert [h.text for h in article.headings] == ["Rest centres open"]
    assert paragraphs(article)[0].startswith("Thousands of people have been told")
    assert "Rescue boats" not in article.text and "PA Media" not in article.text
    assert_headings_valid(article)


def test_page_without_url_date_or_captions_gets_path_id(tmp_path: Path) -> None:
    text = "A quiet day at the harbour\n\nFishing boats stayed in port.\n\nThe market opened late."
    (tmp_path / "a").mkdir()
    page = tmp_path / "a" / "page.txt"
    page.write_text(text, encoding="utf-8")
    article, = split(read_file(page, "pagetext", root=tmp_path))[0]
    assert (article.title, article.date, article.url, article.source) == ("A quiet day at the harbour", None, None, None)
    assert article.text == "Fishing boats stayed in port.\n\nThe market opened late."
    assert article.id.startswith("h-")
    assert article.id == next(read_file(page, "pagetext", root=tmp_path)).id
    assert article.id != parse_pagetext(text, "b/page.txt").id  # other relative path, other id
    other = parse_pagetext(text + " More.", "a/page.txt")
    assert other.id != article.id


def test_skip_to_in_a_body_sentence_is_kept() -> None:
    text = "Title\n\nSkip to the end of the story, the editor told reporters who had written far too much.\n\nMore."
    assert parse_pagetext(text, "x").text.startswith("Skip to the end of the story")


def test_unknown_domain_is_its_own_source() -> None:
    text = "Title here\n\nhttps://www.example-gazette.org/x/1\n\nBody sentence one."
    assert parse_pagetext(text, "x").source == "example-gazette.org"
    assert source_for_url("https://news.bbc.com/a") == "BBC"
    assert source_for_url("https://apnews.com/article/x") == "AP"
    assert source_for_url(None) is None


@pytest.mark.parametrize("text, reason", [("", "no title"), ("   \n\n", "no title"),
                                          ("Only a title", "no body text"),
                                          ("1. Skip to content\n  2. Skip to main menu\n", "no title")])
def test_pagetext_without_title_or_body_raises(text: str, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_pagetext(text, "x.txt")
    assert caught.value.reason == reason


def test_parse_date() -> None:
    assert parse_date("June 29, 2015") == "2015-06-29"
    assert parse_date("1987-02-26T15:01:01") == "1987-02-26T15:01:01"
    assert parse_date("2021-03-04T10:20:00+00:00") == "2021-03-04T10:20:00+00:00"
    dt.datetime.fromisoformat(parse_date("Thu, 04 Mar 2021 10:20:00 GMT"))
    for bad in ("SALVADOR, Feb 26", "2015", "June 2015", "yesterday", "", None, 42):
        assert parse_date(bad) is None


# --- JSONL ------------------------------------------------------------------------------------------------


def test_jsonl_aliases_and_int_id(tmp_path: Path) -> None:
    records = [
        {"id": 42, "headline": "Aliased title", "body": "Body words here.", "published_at": "2020-05-01T08:30:00",
         "url": "https://www.theguardian.com/world/1"},
        {"_id": "b-7", "title": "Content alias", "content": "More words.", "published": "May 2, 2020"},
        {"title": "Dateline only", "text": "Text.", "dateline": "SALVADOR, Feb 26", "source": " Reuters "},
        {"title": "Url id", "text": "Text two.", "url": "https://apnews.com/article/abc"},
    ]
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (a, b, c, d), problems = split(read_file(path, "jsonl"))
    assert (a.id, a.title, a.text, a.date, a.source) == ("42", "Aliased title", "Body words here.",
                                                         "2020-05-01T08:30:00", "The Guardian")
    assert (b.id, b.title, b.text, b.date) == ("b-7", "Content alias", "More words.", "2020-05-02")
    assert (c.date, c.source, c.dateline) == (None, "Reuters", "Salvador")
    assert problems == [Problem(f"{path}:3", "unparseable date 'SALVADOR, Feb 26'", False)]
    assert d.id.startswith("u-") and d.source == "AP" and d.headings == ()
    assert [x.origin for x in (a, b, c, d)] == [f"{path}:{n}" for n in range(1, 5)]


def test_jsonl_beir_and_wrapped_body() -> None:
    beir = {"_id": "17", "title": "", "text": "THE ALLIES AFTER NASSAU", "metadata": {"date": "1963-01-04",
                                                                                   "source": "TIME magazine"}}
    article, problems = parse_record(beir, "corpus.jsonl:1")
    assert (article.id, article.title, article.date, article.source, problems) == (
        "17", "", "1963-01-04", "TIME magazine", [])
    wrapped = {"id": "1", "body": "First line of\nthe first   paragraph.\n    Second\nparagraph\x03 here.\n Reuter\n"}
    article, _ = parse_record(wrapped, "x:1")
    assert article.text == "First line of the first paragraph.\n\nSecond paragraph here."
    with pytest.raises(ParseError, match="no text"):
        parse_record({"id": "9", "title": "  ", "text": ""}, "x:2")
    title_only, _ = parse_record({"id": "10", "title": "BRIEF HEADLINE", "body": ""}, "x:3")
    assert (title_only.title, title_only.text) == ("BRIEF HEADLINE", "BRIEF HEADLINE")  # the headline is the news


def test_beir_corpus_reads_without_conversion() -> None:
    path = shared(SHARED / "ir-classic" / "time" / "corpus.jsonl.gz")
    articles, problems = split(itertools.islice(read_file(path, "jsonl"), 20))
    assert len(articles) == 20 and not problems
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        ids = [json.loads(line)["_id"] for line in itertools.islice(handle, 20)]
    assert [a.id for a in articles] == ids
    assert all(a.date and a.source == "TIME magazine" and a.title == "" and a.text for a in articles)


def test_first_200_reuters_stories() -> None:
    path = shared(REUTERS)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        stories = [json.loads(line) for line in itertools.islice(handle, 200)]
    articles, problems = split(itertools.islice(read_file(path, "jsonl"), 200))
    assert not problems and len(articles) == 200
    assert [a.id for a in articles] == [s["id"] for s in stories]
    for article, story in zip(articles, stories):
        assert article.date == story["date"]
        dt.datetime.fromisoformat(article.date)
        assert article.source == "Reuters" and article.title == " ".join((story["title"] or "").split())
        for paragraph in paragraphs(article):
            assert "\n" not in paragraph and "  " not in paragraph and paragraph == paragraph.strip()
    assert paragraphs(articles[0])[1] == "The dry period means the temporao will be late this year."
    assert not any(a.text.endswith("Reuter") for a in articles)


# --- HTML -------------------------------------------------------------------------------------------------


def test_html_page() -> None:
    article, = split(read_file(DATA / "storm.html", "html"))[0]
    assert article.title == "Storm hits coast"
    assert article.date == "2021-03-04"
    assert article.source == "Example News"
    assert article.url == "https://www.example-news.com/world/storm-hits-coast"
    assert article.text.startswith("A powerful storm hit the northern coast")
    assert [h.text for h in article.headings] == ["Warnings ignored"]
    assert_headings_valid(article)
    for noise in ("Home", "World news menu", "Sport section", "Copyright"):
        assert noise not in article.text


def test_html_without_text_is_skipped(tmp_path: Path) -> None:
    page = tmp_path / "empty.html"
    page.write_text("<html><head><title>Nothing</title></head><body><script>var x = 1;</script>\n</body></html>")
    assert list(read_file(page, "html")) == [Problem(str(page), "no text", True)]
    with pytest.raises(ParseError):
        parse_html("<html></html>", "x.html")


# --- bad input --------------------------------------------------------------------------------------------


def test_bad_jsonl_lines_keep_the_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps({"id": "a", "title": "Good one", "text": "Fine."}).encode(),
        b"not json",
        b"[1, 2]",
        json.dumps({"id": "c", "title": "", "text": "  "}).encode(),
        json.dumps({"id": "d", "title": "Bad date", "text": "Kept.", "date": "the 45th of Smarch"}).encode(),
        b"",
        '{"id": "e", "title": "Caf\xe9 cr\xe8me br\xfbl\xe9e", "text": "Latin-1 line \xe0 la carte."}'.encode("latin-1"),
        b'{"id": "f", "text": "nul\x00byte"}',
        json.dumps({"id": "g", "title": "Last", "text": "Still read."}).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    articles, problems = split(read_file(path, "jsonl"))
    assert [a.id for a in articles] == ["a", "d", "e", "g"]
    assert articles[1].date is None
    assert "Caf\u00e9" in articles[2].title
    got = {(p.origin.rsplit(":", 1)[1], p.skipped): p.reason for p in problems}
    assert got[("2", True)].startswith("not JSON")
    assert got[("3", True)] == "not a JSON object (got list)"
    assert got[("4", True)] == "no text"
    assert got[("5", False)] == "unparseable date 'the 45th of Smarch'"
    assert got[("7", False)].startswith("decoded as ")
    assert got[("8", True)] == "binary line (NUL bytes)"
    assert all(p.origin.startswith(str(path) + ":") for p in problems)


def test_bad_files_become_problems(tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "a_empty.txt").write_bytes(b"")
    (folder / "b_binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    (folder / "c_latin1.txt").write_bytes("Caf\u00e9 owners protest\n\nThe caf\u00e9s of the r\u00e9gion "
                                          "closed their doors on Monday in a protest against new taxes "
                                          "and rising rents. Owners said many would not reopen.\n".encode("cp1252"))
    (folder / "d_empty.jsonl").write_bytes(b"")
    (folder / "e_binary.jsonl").write_bytes(b"\x00\x01\x02" * 100)
    (folder / "f_broken.jsonl.gz").write_bytes(gzip.compress(b'{"id": "z", "text": "ok"}\n')[:-12])
    (folder / "g_title_only.txt").write_text("Just a headline\n")
    (folder / "h_good.txt").write_text("Good page\n\nA body paragraph that is fine.")
    articles, problems = split(read_articles([folder]))
    by_file = {Path(p.origin.split(":")[0]).name: p for p in problems}
    assert by_file["a_empty.txt"].reason == "empty file"
    assert by_file["b_binary.txt"].reason == "binary file (NUL bytes)"
    assert by_file["c_latin1.txt"].reason.startswith("decoded as ") and not by_file["c_latin1.txt"].skipped
    assert by_file["d_empty.jsonl"].reason == "empty file"
    assert by_file["e_binary.jsonl"].reason == "binary file (NUL bytes)"
    assert by_file["f_broken.jsonl.gz"].reason.startswith("cannot read")
    assert by_file["g_title_only.txt"].reason == "no body text"
    assert all(p.skipped for name, p in by_file.items() if name != "c_latin1.txt")
    assert [a.title for a in articles] == ["Caf\u00e9 owners protest", "Good page"]
    assert "caf\u00e9s of the r\u00e9gion" in articles[0].text


def test_undecodable_binary_without_nul_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "noise.html"
    path.write_bytes(bytes(range(1, 32)) * 40 + bytes(range(128, 256)) * 10)
    (problem,) = list(read_file(path, "html"))
    assert problem.skipped and ("binary" in problem.reason or "undecodable" in problem.reason)


def test_missing_and_unreadable_paths(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    assert list(iter_files([missing])) == [Problem(str(missing), "no such file or folder", True)]
    assert list(read_file(missing, "pagetext"))[0].reason.startswith("cannot read")
    assert list(read_file(missing, "jsonl"))[0].reason.startswith("cannot read")


# --- folder walk ------------------------------------------------------------------------------------------


def test_folder_walk(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden_dir").mkdir()
    (root / "b.txt").write_text("x")
    (root / "a.jsonl.gz").write_bytes(gzip.compress(b'{"id": 1, "text": "Gzipped line."}\n'))
    (root / "sub" / "c.HTML").write_text("<html></html>")
    (root / "sub" / "deeper" / "d.ndjson").write_text("{}")
    (root / "sub" / "notes.xyz").write_text("?")
    (root / ".DS_Store").write_text("junk")
    (root / ".hidden_dir" / "e.txt").write_text("x")
    outside = tmp_path / "outside.txt"
    outside.write_text("Outside\n\nNot in the folder.")
    (root / "sub" / "link.txt").symlink_to(outside)
    (root / "sub" / "inner_link.txt").symlink_to(root / "b.txt")
    (root / "dirlink").symlink_to(tmp_path, target_is_directory=True)
    got = list(iter_files([root]))
    assert got == [
        (root / "a.jsonl.gz", "jsonl"),
        (root / "b.txt", "pagetext"),
        Problem(str(root / "dirlink"), "symlink to a folder, not followed", True),
        (root / "sub" / "c.HTML", "html"),
        (root / "sub" / "deeper" / "d.ndjson", "jsonl"),
        (root / "sub" / "inner_link.txt", "pagetext"),
        Problem(str(root / "sub" / "link.txt"), "symlink points outside the source folder", True),
        Problem(str(root / "sub" / "notes.xyz"), "unknown format (.xyz)", True),
    ]
    assert got == list(iter_files([root]))  # deterministic
    forced = [item for item in iter_files([root], fmt="jsonl") if not isinstance(item, Problem)]
    assert {fmt for _, fmt in forced} == {"jsonl"} and (root / "sub" / "notes.xyz", "jsonl") in forced
    article, = split(read_file(root / "a.jsonl.gz", "jsonl"))[0]
    assert (article.id, article.text) == ("1", "Gzipped line.")
    assert list(iter_files([outside], fmt="html")) == [(outside, "html")]
    with pytest.raises(ValueError):
        list(iter_files([root], fmt="pdf"))
    assert set(FORMATS) == {"pagetext", "jsonl", "html"}


def test_seeds_folder_lists_both_seeds() -> None:
    assert list(iter_files([SEEDS])) == [(SEED_1, "pagetext"), (SEED_2, "pagetext")]


# --- properties -------------------------------------------------------------------------------------------

PAGE_PIECES = st.sampled_from([
    "1. Skip to content", "  2. Skip to main menu", "June 29, 2015", "https://p.dw.com/p/1FozI", "Image: AP",
    "Caption.Image: dpa", "A heading", "A sentence that ends.", "ksb/msh (AFP, AP)", "", "\n", "\r\n", "\t",
    "\x00", "\ufeff", "\u2028", "\ud800", " ", "é", "Photo: x",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(), PAGE_PIECES), max_size=30).map("\n".join))
def test_parse_pagetext_never_raises_other_errors(text: str) -> None:
    try:
        article = parse_pagetext(text, "prop.txt")
    except ParseError:
        return
    assert article.title and article.text
    assert_headings_valid(article)
    assert "\n\n\n" not in article.text and article.text == article.text.strip()


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_cleaning_never_raises_and_yields_clean_paragraphs(text: str) -> None:
    for paragraph in clean_paragraphs(text):
        assert paragraph and "\n" not in paragraph and paragraph == paragraph.strip() and "  " not in paragraph
    assert clean_text(text) == "\n\n".join(clean_paragraphs(text))


@pytest.mark.parametrize("dateline, place", [
    ("SALVADOR, Feb 26", "Salvador"), ("NEW YORK, March 3 -", "New York"), ("WASHINGTON, March 2, 1987", "Washington"),
    ("Bonn", "Bonn"), ("", None), ("26-FEB-1987", None),
])
def test_dateline_place_is_kept_apart_from_the_date(dateline: str, place: str | None) -> None:
    assert dateline_place(dateline) == place
