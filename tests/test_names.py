"""The article's names: titles apart, fullest forms, spelling, and no guess between two people of one name."""

from __future__ import annotations

from indexer.names import Names, is_person_name, name_runs, split_title


def test_a_title_is_split_off_without_its_possessor() -> None:
    assert split_title("President Vladimir Putin") == ("Vladimir Putin", "President")
    assert split_title("Radical Party Deputy Raul Baglini") == ("Raul Baglini", "Radical Party Deputy")
    assert split_title("Syria's Foreign Minister Walid al-Moallem") == ("Walid al-Moallem", "Foreign Minister")
    assert split_title("Russia's Vladimir Putin") == ("Vladimir Putin", None)


def test_person_names() -> None:
    assert is_person_name("Bill Sullivan") and is_person_name("Walid al-Moallem")
    assert not is_person_name("Farm Bill") and not is_person_name("OPEC") and not is_person_name("Commerce Department")


def test_runs_stop_at_sentence_ends_and_leave_function_words_out() -> None:
    runs = [run for _, _, run in name_runs("Although Jonathan Wolff left. Institutions. Mulford said")]
    assert "Jonathan Wolff" in runs and not any(r.startswith("Although") for r in runs)


def test_fullest_forms() -> None:
    names = Names("President Ronald Reagan met Deng Xiaoping and Walid al-Moallem. Reagan spoke.",
                  persons=["Ronald Reagan", "Deng Xiaoping"])
    assert names.fullest("Reagan") == "Ronald Reagan" and names.role("Ronald Reagan") == "President"
    assert names.fullest("Deng") == "Deng Xiaoping"  # the family name comes first
    assert names.fullest("Al-Moallem") == "Walid al-Moallem"
    assert names.fullest("Putin") == "Putin"  # not in the article: as written


def test_two_people_share_a_name_word() -> None:
    names = Names("Howard Baker met James Baker.", persons=["Howard Baker", "James Baker"])
    assert names.fullest("Baker") == "Baker" and not names.known("Baker")
    assert names.fullest("Howard") == "Howard Baker"


def test_spelling_follows_the_article() -> None:
    names = Names("Belgian minister Herman De Croo spoke. DE CROO SAID", persons=["Herman De Croo"])
    assert names.spelled("DE CROO") == "De Croo" and names.fullest("CROO") == "Herman De Croo"
    lower = Names("finance minister manuel azpurua said", persons=["manuel azpurua"])
    assert lower.fullest("azpurua") == "Manuel Azpurua"
