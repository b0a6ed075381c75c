"""The names an article gives, so that a speaker reads the same in every quotation: `Reagan` becomes `Ronald
Reagan` where the article names him so, `CROO` reads `De Croo`, and a title (`President`) is kept as the role.

Pure functions over the article's text (runs of capitalised words) and, when given, the entities the pipeline
found in it; no model is loaded here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .lexicon import ABBREVIATIONS, CONNECTORS, LOWER_NAME_PARTS, NOT_NAMES, ORG_WORDS, PERSONAL_TITLES, TITLES

_POSSESSIVE = ("'s", "\u2019s", "s'", "s\u2019")


def name_runs(fragment: str) -> list[tuple[int, int, str]]:
    """Maximal runs of capitalized words (with particles like `al`, `de`), never across a sentence end or comma."""
    runs: list[tuple[int, int, str]] = []
    cur: list[re.Match] = []

    def flush() -> None:
        while cur and (cur[-1].group(0).lower() in LOWER_NAME_PARTS or cur[-1].group(0).lower() in CONNECTORS):
            cur.pop()
        while cur and cur[0].group(0).lower() in CONNECTORS:
            cur.pop(0)
        if cur:
            runs.append((cur[0].start(), cur[-1].end(), fragment[cur[0].start() : cur[-1].end()].rstrip(".")))
        cur.clear()

    for m in re.finditer(r"[\w'\u2019.&-]+|[,;:()\"\u201c\u201d]", fragment):
        word = m.group(0)
        gap = fragment[cur[-1].end() : m.start()] if cur else ""
        if cur and gap.strip():
            flush()
        capital = (word[:1].isupper() and word.lower() not in NOT_NAMES) or bool(
            re.match(r"(?:al|el|bin|ibn|de|da|di|van|von|le|la|du)-[A-Z]", word))  # `al-Moallem`
        particle = word.lower() in LOWER_NAME_PARTS
        if capital or (particle and cur):
            if cur and cur[-1].group(0).endswith(".") and cur[-1].group(0).lower() not in ABBREVIATIONS \
                    and not re.fullmatch(r"(?:[A-Z]\.)+", cur[-1].group(0)):
                flush()  # `Institutions. Mulford`: a sentence ended inside the run
            cur.append(m)
        else:
            flush()
    flush()
    return runs


def is_person_name(name: str) -> bool:
    """Up to five name words, none an organisation or title word, not all short capitals (`OPEC`, `USDA`)."""
    parts = name.split()
    words = [p.lower().strip(".,") for p in parts]
    if len(words) > 1 and words[0] == "bill":  # `Bill Sullivan`, not `the bill`
        words = words[1:]
    return 1 <= len(parts) <= 5 and not any(w in ORG_WORDS | TITLES for w in words) \
        and not all(p.isupper() and len(p) <= 5 for p in parts)


def split_title(phrase: str) -> tuple[str, str | None]:
    """`President Vladimir Putin` -> (`Vladimir Putin`, `President`); `Radical Party Deputy Raul Baglini` ->
    (`Raul Baglini`, `Radical Party Deputy`); `First Chicago's chief economist Ann Lee` -> (`Ann Lee`, `chief
    economist`): the name starts after the last title or organisation word, a possessor is no part of the role."""
    words = phrase.replace(",", " ").split()
    k = owner = 0
    for i, w in enumerate(words[:-1]):
        low = w.lower().strip(",")
        if low.endswith(_POSSESSIVE):  # `Russia's Vladimir Putin`, `Syria's Foreign Minister ...`
            k = owner = i + 1
            continue
        if low in TITLES or low in ORG_WORDS or low in CONNECTORS or (w.isupper() and len(w) <= 5 and "." not in w):
            k = i + 1
    return " ".join(words[k:]), (" ".join(words[owner:k]) or None)


def _mixed(word: str) -> bool:
    return not word.isupper() or len(word) <= 1


class Names:
    """Who the article names and how fully: name word -> (fullest name, its role); no fullest name when two
    people share the word (`Howard Baker` and `James Baker`: `Baker` stays as written)."""

    def __init__(self, text: str, persons: Iterable[str] = ()) -> None:
        """`persons`: names (titles and possessors taken off) of the people the entity recognizer found."""
        self._full: dict[str, tuple[str, str | None] | None] = {}
        self._spelling: dict[str, str] = {}  # casefolded word -> its mixed-case spelling in the article
        found: list[tuple[str, str | None]] = []
        for _, _, run in name_runs(text):
            for word in run.split():
                if _mixed(word):
                    self._spelling.setdefault(word.casefold(), word)
            name, role = split_title(run)
            personal = role and any(w.lower().strip(",") in PERSONAL_TITLES for w in role.split())
            if name and is_person_name(name) and (len(name.split()) >= 2 or personal):
                found.append((name, role))
        found.extend((name, None) for name in persons if is_person_name(name))
        for name, role in found:
            self._learn(name, role)

    def _learn(self, name: str, role: str | None) -> None:
        name = self.spelled(name)
        if name.islower():  # a story typed in lower case
            name = " ".join(w if w in LOWER_NAME_PARTS else w[:1].upper() + w[1:] for w in name.split())
        for word in name.split():
            if word.lower() in LOWER_NAME_PARTS:
                continue
            key = word.casefold()
            if key not in self._full:
                self._full[key] = (name, role)
                continue
            known = self._full[key]
            if known is None:
                continue
            if _within(known[0], name):
                self._full[key] = (name, role or known[1])
            elif _within(name, known[0]):
                if role and not known[1]:
                    self._full[key] = (known[0], role)
            else:
                self._full[key] = None  # two people share this word

    def spelled(self, name: str) -> str:
        """The name with each all-capitals word spelled as the article spells it elsewhere (`CROO` -> `Croo`)."""
        return " ".join(w if _mixed(w) else self._spelling.get(w.casefold(), w) for w in name.split())

    def known(self, word: str) -> bool:
        """Whether the article names a person with this word."""
        return self._full.get(word.casefold()) is not None

    def fullest(self, name: str) -> str:
        """The fullest form of a person's name in the article: every word of `name` in it, the same last word
        (or, for one word, the same first word: `Deng` is `Deng Xiaoping`)."""
        name = self.spelled(name)
        words = [w for w in name.split() if w.lower() not in LOWER_NAME_PARTS]
        if not words:
            return name
        known = self._full.get(words[-1].casefold())
        if known is None:
            return name
        full = known[0].casefold().split()
        if full[-1] == words[-1].casefold() and all(w.casefold() in full for w in name.split()):
            return known[0]
        if len(words) == 1 and full[0] == words[0].casefold():
            return known[0]
        return name

    def role(self, name: str) -> str | None:
        """The title the article gives this person with a name (`President`), if any."""
        known = self._full.get(name.split()[-1].casefold()) if name.split() else None
        return known[1] if known and known[0] == name else None


def _within(short: str, full: str) -> bool:
    """Whether every word of `short` is a word of `full` (`Reagan` within `Ronald Reagan`)."""
    words = full.casefold().split()
    return all(w in words for w in short.casefold().split())
