"""What a reader keeps in mind while reading an article, and the references it resolves with it.

`he` and `she` stand for the person last the subject of a main clause (or the last to speak), `it` for the
organisation or document last so, `the report` for the fullest description of the report before it, `the
minister` for the one person the article titles so, `the company` for the company that last spoke, `one said` for
one of the group last the subject. Pure bookkeeping over positions and speakers: the parse is read elsewhere
(`speakers.py`).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

PERSON, ORGANIZATION, DESCRIPTION = "person", "organization", "description"
ANTECEDENT = 1000  # characters back from a pronoun within which its antecedent must be (484 at most, labelled)
PERSON_NOUN = re.compile(
    r"(?:spokes\w*|official|aide|lobbyist|analyst|diplomat|dealer|trader|banker|economist|source|executive|"
    r"director|minister|chairman|chairwoman|president|representative|delegate|negotiator|strategist|"
    r"secretary|officer|leader|manager|expert|lawmaker|legislator|senator|governor|ambassador|observer|"
    r"member|broker|farmer|producer|worker|buyer|seller|consultant|underwriter|arbitrageur|envoy|"
    r"manufacturer|processor|exporter|importer|shipper|refiner|investor|lawyer|attorney|participant|insider|"
    r"head|chief|partner|owner|founder|customer|resident|witness|employee|planner|adviser|advisor|"
    r"man|woman|person|people|\w+ist|\w+man|\w+woman)s?$", re.IGNORECASE)
# Nouns that name an organisation or a publication: `the company said` is the company the article is about.
ORG_NOUNS = frozenset((
    "company firm concern group bank trust corporation newspaper paper daily weekly magazine agency board "
    "commission committee ministry department union association federation council institute utility airline "
    "carrier insurer retailer brewer"
).split())
_PUBLICATIONS = frozenset("newspaper paper daily weekly magazine".split())
_COMPANIES = frozenset("company firm concern utility airline carrier insurer retailer brewer".split())
# Things that say things: `it said` and a quotation with no verb of its own go back to one of these.
_SPEAKING = ORG_NOUNS | frozenset((
    "statement report editorial study survey letter communique document radio television government embassy "
    "review analysis forecast bulletin announcement memo"
).split())
_QUANTIFIERS = frozenset("the some many several other most few two three four both all their its".split())
CORPORATE = re.compile(r"\b(?:Inc|Corp|Corporation|Co|Ltd|Plc|PLC|Group|Bank|Trust|Cos|Partners|AG|SA|NV)\b\.?")


@dataclass(frozen=True, slots=True)
class Speaker:
    """Who said it: a name in its fullest form, or a description as written; the title apart."""

    name: str
    role: str | None
    kind: str  # person | organization | description

    @property
    def is_person(self) -> bool:
        """A person (named or described): what `he` and `she` can stand for."""
        if self.kind != DESCRIPTION:
            return self.kind == PERSON
        return PERSON_NOUN.search(head_words(self.name)) is not None

    @property
    def speaks(self) -> bool:
        """An organisation or a document: what `it` can stand for."""
        return self.kind == ORGANIZATION or (self.kind == DESCRIPTION and
                                             head_words(self.name).split()[-1].casefold() in _SPEAKING)


def head_words(description: str) -> str:
    """The words before a description's prepositional phrase: `an aide to X` -> `an aide`."""
    return re.split(r"\s(?:of|at|for|to|with|in|from|on|by|who)\s", description, maxsplit=1)[0]


def words_of(phrase: str) -> set[str]:
    """The words of a phrase without case, articles or `one`: what two descriptions share."""
    return {w for w in re.findall(r"[\w'.-]+", phrase.casefold()) if w not in ("the", "a", "an", "one", "'s")}


def untick(name: str) -> str:
    """A name without the Reuters ticker in it (`United Auto Workers <UAW>` -> `United Auto Workers`)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^<>]*>|[<>]", " ", name)).strip()


def describe_words(words: Sequence[str]) -> str:
    """Words of a description made here (`one delegate`), the first in lower case unless an acronym."""
    first = words[0] if words[0].isupper() and len(words[0]) > 1 else words[0][:1].lower() + words[0][1:]
    return " ".join([first, *words[1:]])


def _plural(speaker: Speaker) -> bool:
    """A description of several people (`industry sources`, `two analysts`)."""
    if speaker.kind != DESCRIPTION:
        return False
    word = head_words(speaker.name).split()[-1].lower()
    return word in ("people", "staff") or (word.endswith("s") and not word.endswith(("ss", "us", "is")))


def _named_words(description: str) -> int:
    """How many capitalised words a description has after its first word (`the Tower Commission report`: 2)."""
    return sum(1 for w in description.split()[1:] if w[:1].isupper())


def _before(entries: list, at: int) -> int:
    """How many entries (position first) lie before position `at`."""
    return bisect_left(entries, at, key=lambda entry: entry[0])


class Memory:
    """Who the article has named, described, made the subject or quoted, each at its position, in reading order."""

    def __init__(self) -> None:
        self.people: list[tuple[int, Speaker]] = []  # people who were the subject of a main clause or spoke
        self.things: list[tuple[int, Speaker]] = []  # organisations and documents that were so
        self.org_sayers: list[tuple[int, Speaker]] = []  # organisations that said something
        self.described: dict[str, list[tuple[int, Speaker]]] = {}  # head noun -> described noun phrases
        self.titled: list[tuple[int, Speaker]] = []  # named people
        self.titles: dict[str, list[tuple[int, frozenset[str], Speaker]]] = {}  # title word -> people so titled
        self.orgs: list[tuple[int, Speaker]] = []  # organisations named
        self.org_words: dict[str, list[tuple[int, Speaker]]] = {}  # any word of an organisation's name -> it
        self.publishers: list[tuple[int, Speaker]] = []  # organisations that quoted someone
        self.aliases: dict[str, str] = {}  # `OECD` -> `Organisation for Economic Cooperation and Development`
        self.first: dict[str, int] = {}  # word -> where the article first uses it (outside quotes)

    # -- what is noted ----------------------------------------------------------------------------------------

    def named_person(self, pos: int, person: Speaker, title: str) -> None:
        """A person named at pos with the words of their titles there (`Oil Minister`, `, director of CERA,`)."""
        words = frozenset(words_of(title))
        self.titled.append((pos, person))
        for word in words:
            self.titles.setdefault(word, []).append((pos, words, person))

    def named_org(self, pos: int, org: Speaker, acronym: str | None = None, publisher: bool = False) -> None:
        """An organisation named at pos, with the acronym given beside it; a publisher quoted someone."""
        self.orgs.append((pos, org))
        for word in set(org.name.casefold().split()):
            self.org_words.setdefault(word, []).append((pos, org))
        if acronym:
            self.aliases.setdefault(acronym, org.name)
        if publisher:
            self.publishers.append((pos, org))

    def described_at(self, pos: int, noun: str, description: Speaker) -> None:
        """A noun phrase with a determiner or modifiers (`one Republican political strategist`)."""
        self.described.setdefault(noun, []).append((pos, description))

    def subject(self, pos: int, who: Speaker) -> None:
        """The subject of a main clause, or of a verb of saying: what `he`, `she` or `it` may stand for next."""
        if who.is_person:
            self.people.append((pos, who))
        elif who.speaks:
            self.things.append((pos, who))

    def said(self, pos: int, who: Speaker) -> None:
        """Who said something at pos."""
        if who.kind == ORGANIZATION:
            self.org_sayers.append((pos, who))
        self.subject(pos, who)

    # -- what is looked up ------------------------------------------------------------------------------------

    def orgs_with(self, name: str) -> list[Speaker]:
        """The distinct organisations with the first or last word of `name` in their names, first named first."""
        words = name.casefold().split()
        if not words:
            return []
        named = self.org_words.get(words[0], []) + self.org_words.get(words[-1], [])
        return list({o.name: o for _, o in sorted(named, key=lambda x: x[0])}.values())

    def definite(self, noun: str, found: Speaker, at: int) -> Speaker:
        """`the report` -> the fullest description of the report before it; `the minister` -> the one person
        titled so; `the company` -> the company that last spoke. Otherwise the description as written."""
        if not re.match(r"(?:the|this|that)\s", found.name, re.IGNORECASE):
            return found
        words = words_of(head_words(found.name))
        fuller = [(_named_words(d.name), len(words_of(d.name)), pos, d) for pos, d in self.described.get(noun, ())
                  if pos < at and words <= words_of(d.name) and words_of(d.name) != words
                  and not re.match(r"(?:its|his|her|their|our|my|your)\s", d.name, re.IGNORECASE)]
        if fuller:  # the fullest earlier description, a named one (`the Tower Commission report`) first
            return max(fuller, key=lambda x: x[:3])[3]
        if PERSON_NOUN.search(noun):  # `the chairman of Goodyear`: the one person the article titles so
            first = self.first.get(noun, at) >= at  # the first mention may name someone named later on
            titled = {p for pos, title, p in self.titles.get(noun, ()) if words <= title and (first or pos < at)}
            return titled.pop() if len(titled) == 1 else found
        if noun in ORG_NOUNS and len(words) == 1:
            generic = noun in _COMPANIES or noun in _PUBLICATIONS
            said = (o for pos, o in reversed(self.org_sayers)
                    if pos < at and (generic or noun in o.name.casefold().split()))
            named = (o for pos, o in reversed(self.orgs if noun in _COMPANIES else self.org_words.get(noun, []))
                     if pos < at and (noun in o.name.casefold().split() or CORPORATE.search(o.name)))
            published = (o for pos, o in reversed(self.publishers) if pos < at and noun in _PUBLICATIONS)
            known = next(said, None) or next(named, None) or next(published, None)
            if known is not None:
                return known
        return found

    def one_of(self, at: int) -> Speaker | None:
        """`Delegates would not speculate. "Anything is possible," one said`: one of the people last the
        subject, if they were many (`one delegate`)."""
        k = _before(self.people, at)
        if not k or self.people[k - 1][1].kind != DESCRIPTION:
            return None
        words = head_words(self.people[k - 1][1].name).split()
        while words and words[0].lower() in _QUANTIFIERS:
            words.pop(0)
        if not words or not re.search(r"[^s]s$", words[-1]) or words[-1].lower() == "analysis":
            return None  # not a plural
        words[-1] = words[-1][:-1]
        return Speaker(describe_words(["one", *words]), None, DESCRIPTION)

    def last_person(self, at: int) -> Speaker | None:
        """The antecedent of `he` or `she`: the person last the subject of a main clause (or who last spoke),
        else the person last named; none further back than ANTECEDENT characters."""
        k = _before(self.people, at)
        pos, who = next(((p, w) for p, w in reversed(self.people[:k]) if not _plural(w)), (-1, None))
        if who is None:
            k = _before(self.titled, at)
            pos, who = self.titled[k - 1] if k else (-1, None)
        return who if at - pos <= ANTECEDENT else None  # `he` a few paragraphs on is anybody's guess

    def last_thing(self, at: int) -> Speaker | None:
        """The antecedent of `it`: the organisation or document last the subject of a main clause or of a verb
        of saying (`The report raised a question ... it said`)."""
        k = _before(self.things, at)
        return self.things[k - 1][1] if k else None
