"""Attribution read off the parse: references resolved as a reader resolves them, and left open when unclear."""

from __future__ import annotations

import pytest

from indexer.quotes import extract_quotations
from indexer.speakers import Speaker


def speakers(text: str) -> list[tuple[str | None, str | None]]:
    return [(q.speaker, q.speaker_kind) for q in extract_quotations(text) if q.kind != "term"]


@pytest.mark.parametrize(("text", "expected"), [
    # the subject of the quotation's own verb, not a name inside or before it
    ('"The president did not understand," Senator John Tower told reporters about Reagan.', "John Tower"),
    ('Board chairman John Tower, a longtime Reagan supporter, told a press conference, "The president erred."',
     "John Tower"),
    # `it` is the organisation or document last the subject of a main clause
    ('The Tower Commission report was released. The report said aides failed. "They protected the record," it '
     'said.', "the Tower Commission report"),
    # `the company` is the company that last spoke
    ('Acme Widget Corp said its profits rose.\n\n"We had a good year," the company said.', "Acme Widget Corp"),
    # an acronym given beside a name
    ('The Organisation for Economic Cooperation and Development, OECD, said growth slowed.\n\n'
     '"Growth will slow further," the OECD said.', "Organisation for Economic Cooperation and Development"),
    # a quotation without a verb of its own follows the sentence before it
    ('Bill Sullivan of Dean Witter spoke on Monday. Sullivan predicted the Fed would ease. "People are not '
     'talking recession."', "Bill Sullivan"),
    # `one said` after a group
    ('Delegates would not speculate. "Anything is possible," one said.', "one delegate"),
    # `the Kansas Republican`: the person just spoken of
    ('Senate Republican leader Robert Dole spoke on Sunday.\n\n"You should move on," the Kansas Republican said.',
     "Robert Dole"),
    # family name first
    ('Deng Xiaoping met the visitors.\n\n"We welcome you," Deng said.', "Deng Xiaoping"),
    # a name the recognizer took for a company, and a company it took for a person
    ('Pacific Western Airlines Corp said it would buy the carrier.\n\n"It fits us," Pacific Western said.',
     "Pacific Western Airlines Corp"),
    # a title beside a name
    ('"We expect more," said the spokesman, Tom Jones.', "Tom Jones"),
])
def test_the_speaker_is_who_the_reader_understands(text: str, expected: str) -> None:
    assert [name for name, _ in speakers(text)] == [expected], text


def test_two_people_of_one_name_leave_the_short_name_as_written() -> None:
    text = 'Howard Baker met the press. James Baker met the bankers.\n\n"Rates will fall," Baker said.'
    assert speakers(text) == [("Baker", "person")]


def test_he_is_never_a_group_nor_someone_named_long_before() -> None:
    assert speakers('Industry sources spoke on Monday. "We will not pay," he said.') == [(None, None)]
    far = 'Anna Berg met the board. ' + 'Markets rose and fell all day. ' * 40 + '"It will pass," she said.'
    assert speakers(far) == [(None, None)]
    near = 'Anna Berg met the board. Markets rose. "It will pass," she said.'
    assert speakers(near) == [("Anna Berg", "person")]


def test_speaker_kinds() -> None:
    text = ('"We will cut rates," Finance Minister Anna Berg said.\n\n"Exports rose," the Commerce Department said.\n\n'
            '"It is over," one dealer said.')
    assert speakers(text) == [("Anna Berg", "person"), ("Commerce Department", "organization"),
                              ("one dealer", "description")]


def test_who_a_pronoun_can_stand_for() -> None:
    assert Speaker("one senior official at the ministry", None, "description").is_person
    assert Speaker("Anna Berg", None, "person").is_person
    assert not Speaker("the report", None, "description").is_person
    assert not Speaker("Acme Corp", None, "organization").is_person
