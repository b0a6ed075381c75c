"""Parsing the question and validating a request."""

from __future__ import annotations

import datetime as dt

import pytest

from search.errors import BadQuery
from search.models import SearchRequest
from search.query import contains_phrase, parse_question, validate


def test_phrases_exclusions_and_words() -> None:
    parsed = parse_question('What did Putin say about “special operation” -Turkey -"Saudi Arabia"')
    assert parsed.phrases == ("special operation",)
    assert parsed.excluded == ("turkey",)
    assert parsed.excluded_phrases == ("Saudi Arabia",)
    assert parsed.text == "What did Putin say about special operation"
    assert "putin" in parsed.tokens and "turkey" not in parsed.tokens


def test_hyphenated_words_are_not_exclusions() -> None:
    parsed = parse_question("al-Moallem co-operation")
    assert parsed.excluded == () and "moallem" in parsed.tokens


def test_contains_phrase_is_verbatim_and_case_insensitive() -> None:
    assert contains_phrase('Russia\'s "Special  Operation" in Ukraine', "special operation")
    assert not contains_phrase("special military operation", "special operation")


@pytest.mark.parametrize(
    ("request_", "param"),
    [
        (SearchRequest(""), "q"),
        (SearchRequest("x" * 1001), "q"),
        (SearchRequest("-only -excluded"), "q"),
        (SearchRequest("q", mode="fuzzy"), "mode"),
        (SearchRequest("q", fusion="max"), "fusion"),
        (SearchRequest("q", alpha=1.5), "alpha"),
        (SearchRequest("q", k=0), "k"),
        (SearchRequest("q", k=101), "k"),
        (SearchRequest("q", page=0), "page"),
        (SearchRequest("q", page=200, k=10), "page"),
        (SearchRequest("q", sort="size"), "sort"),
        (SearchRequest("q", group="site"), "group"),
        (SearchRequest("q", date_from=dt.date(2024, 1, 2), date_to=dt.date(2024, 1, 1)), "date_from"),
        (SearchRequest("q", sources=tuple(str(i) for i in range(21))), "source"),
    ],
)
def test_bad_requests_name_their_parameter(request_: SearchRequest, param: str) -> None:
    with pytest.raises(BadQuery) as caught:
        validate(request_)
    assert caught.value.param == param


def test_good_request_passes() -> None:
    ok = SearchRequest("Putin", k=100, page=10, date_from=dt.date(2015, 1, 1), date_to=dt.date(2015, 1, 1))
    assert validate(ok) is ok
