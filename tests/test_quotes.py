"""Quotation extraction: the seeds' quotations, the hard shapes one by one, and the labelled Reuters set."""

from __future__ import annotations

import json
from pathlib import Path


from conftest import REUTERS, SEEDS, require
from indexer.quoteeval import load_labelled, same_speaker, score
from indexer.quotes import extract_quotations
from indexer.sources import read_file
from search.models import Article

LABELS = Path(__file__).parent / "data" / "quotes-reuters.json"


def quotes_of(text: str) -> list[tuple[str, str, str | None]]:
    return [(text[q.start : q.end], q.kind, q.speaker) for q in extract_quotations(text)]


def seed(name_part: str) -> Article:
    for path in sorted(SEEDS.iterdir()):
        for got in read_file(path, "pagetext", root=SEEDS):
            if isinstance(got, Article) and name_part in got.title:
                return got
    raise AssertionError(f"no seed titled with {name_part!r}")


def test_split_quotation_around_its_attribution_is_one() -> None:
    text = 'Putin met Assad. "We are convinced," President Vladimir Putin said, "that the Syrian people will win."'
    [q] = extract_quotations(text)
    assert q.kind == "full" and q.speaker == "Vladimir Putin" and q.role == "President"
    assert [text[a:b] for a, b in q.parts] == ["We are convinced,", "that the Syrian people will win."]
    assert (q.start, q.end) == (q.parts[0][0], q.parts[1][1])


def test_quotation_over_paragraphs_with_the_opening_mark_repeated() -> None:
    text = ('The minister spoke at length.\n\n"Our policy will not change. It has served us well.\n\n'
            '"We will keep it for years," Finance Minister Anna Berg told reporters.')
    [q] = extract_quotations(text)
    assert len(q.parts) == 2 and q.speaker == "Anna Berg" and q.role == "Finance Minister"
    assert text[q.parts[1][0] : q.parts[1][1]] == "We will keep it for years,"


def test_partial_quote_and_pronoun_and_short_name() -> None:
    text = ('Foreign Minister Walid al-Moallem met the envoy. Al-Moallem said the talks were "very useful." '
            'He added: "We expect more."\n\nA ministry spokesman said the visit "went well."')
    got = quotes_of(text)
    assert got == [("very useful.", "partial", "Walid al-Moallem"), ("We expect more.", "full", "Walid al-Moallem"),
                   ("went well.", "partial", "a ministry spokesman")]


def test_scare_quotes_are_terms_with_nobody_speaking() -> None:
    text = 'The "special operation" began in May. Troops of "Islamic State" fled, the army said. He was "invited".'
    kinds = {text[q.start : q.end]: (q.kind, q.speaker) for q in extract_quotations(text)}
    assert kinds == {"special operation": ("term", None), "Islamic State": ("term", None), "invited": ("term", None)}


def test_curly_quotes_and_an_unattributed_quotation() -> None:
    text = "\u201cNothing will change,\u201d the statement said.\n\n\u201cNobody knows.\u201d"
    got = quotes_of(text)
    assert got[0] == ("Nothing will change,", "full", "the statement")
    assert got[1][0] == "Nobody knows." and got[1][1] == "full"


def test_offsets_are_inside_the_text_for_odd_input() -> None:
    for text in ['"', '""', '" "', 'a "b', '"a" "', "\u201c\u201d\u201c", '"x\n\n"y', 'said "', '\n\n"\n\n']:
        for q in extract_quotations(text):
            assert 0 <= q.start <= q.end <= len(text) and all(0 <= a <= b <= len(text) for a, b in q.parts)


def test_seed_quotations_and_their_speakers() -> None:
    syria = seed("Russia pledges")
    got = quotes_of(syria.text)
    spoken = [(t, s) for t, k, s in got if k != "term"]
    assert any(t.startswith("We are convinced that in the end the Syrian people will be victorious") and
               s == "Vladimir Putin" for t, s in spoken), spoken
    assert any("miracle" in t and s == "Walid al-Moallem" for t, s in spoken), spoken
    anniversary = seed("anniversary")
    got = quotes_of(anniversary.text)
    spoken = [(t, s) for t, k, s in got if k != "term"]
    # the seed spells him "Bashar Assadfor" (a missing space in the source), so no fuller name can be trusted
    assert any(t.startswith("Even though Russia now is also conducting the special operation, its position has "
                            "remained unchanged") and s == "Assad" for t, s in spoken), spoken
    assert all(not (t == "special operation" and k != "term") for t, k, _ in got)


def test_labelled_reuters_set(tmp_path: Path) -> None:
    """49 stories labelled by reading them (ids, offsets, kinds, speakers only; texts come from ../shared/data)."""
    labels, articles = load_labelled(LABELS, require(REUTERS), tmp_path)
    wanted = {s["id"] for s in labels["stories"]}
    assert wanted == set(articles)
    for story in labels["stories"]:  # the labels are between-the-marks spans of the project's own article text
        text = articles[story["id"]].text
        for q in story["quotes"]:
            assert 0 <= q["start"] < q["end"] <= len(text) and text[q["start"] - 1] in "\"\u201c"
    figures = score(labels, articles)
    print(json.dumps(figures))
    assert figures["stories"] >= 40
    assert figures["f1"] >= 0.90 and figures["speaker_accuracy"] >= 0.85, figures


def test_speaker_comparison_rules() -> None:
    assert same_speaker("Vladimir Putin", "vladimir putin") and same_speaker("a ministry spokesman", "Ministry spokesman")
    assert same_speaker("Putin", "Vladimir Putin") and not same_speaker("Putin", "Vladimir Putin", strict=True)
    assert not same_speaker("Vladimir Putin", "Walid al-Moallem") and not same_speaker("Putin", None)
    assert same_speaker(None, None)
