"""What a noun phrase names when it is the subject of a verb of saying: a person or an organisation in the
fullest form the article gives, or a description as written (its determiner in lower case); references (`he`,
`it`, `the report`, `the company`, `one`, `the Illinois Democrat`) resolved through the reader's memory
(`discourse.py`). It reads spaCy's tags, dependencies and entities; it never guesses: what is unclear is None.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .discourse import (CORPORATE, DESCRIPTION, ORG_NOUNS, ORGANIZATION, PERSON, PERSON_NOUN, Memory, Speaker,
                        untick)
from .lexicon import ORG_WORDS, TITLES
from .names import Names, is_person_name

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

_ORG_LABELS = frozenset(("ORG", "GPE", "FAC", "NORP"))
NOUN = ("NN", "NNS", "NNP", "NNPS")
PROPER = ("NNP", "NNPS")
_PREPS = frozenset(("of", "at", "for", "to", "with", "in", "from", "on", "by"))
_EPITHETS = frozenset("democrat republican senator congressman congresswoman lawmaker governor".split())


def describe(tokens: Sequence[Token]) -> str:
    """A description as written, the leading determiner in lower case: `The report` and `the report` are one."""
    first = tokens[0]
    text = first.doc.text[first.idx : tokens[-1].idx + len(tokens[-1].text)]
    if (first.tag_ in ("DT", "PRP$", "CD") or (first.tag_ not in PROPER and not first.ent_type_)) and \
            text[:1].isupper() and not (len(first.text) > 1 and first.text.isupper()):
        text = text[:1].lower() + text[1:]
    return untick(text)


def entity_text(ent: Span) -> str:
    """An entity's name as written, without a leading `the`, a possessor (`Midland Montagu's Maude` -> `Maude`),
    a title or a conjunction the recognizer took in (`Although Jonathan Wolff`)."""
    tokens = [t for t in ent if "<" not in t.text and ">" not in t.text]  # `<UAW>`: a Reuters ticker
    cut = max((k + 1 for k, t in enumerate(tokens) if t.tag_ == "POS"), default=0)
    if cut < len(tokens):
        tokens = tokens[cut:]
    while tokens and (tokens[-1].tag_ == "POS" or tokens[-1].is_punct):
        tokens.pop()
    while len(tokens) > 1 and ((tokens[0].is_stop and not tokens[0].text.isupper()) or tokens[0].tag_ not in PROPER or
                               tokens[0].lower_.strip(".") in TITLES):
        tokens.pop(0)
    if not tokens:
        return ""
    return re.sub(r"\s+", " ", ent.doc.text[tokens[0].idx : tokens[-1].idx + len(tokens[-1].text)].strip())


class Mentions:
    """The people, organisations and descriptions of an article's parsed text, and what each subject names."""

    def __init__(self, text: str, units: Sequence[tuple[int, Doc]], inside: Callable[[int], bool]) -> None:
        """`units`: (offset in text, parsed Doc) of the parsed stretches, in order; `inside(pos)`: within quotes."""
        self.text, self.inside = text, inside
        self._incorporated: dict[str, str | None] = {}  # name -> its company's full name, searched once per name
        self.names = Names(text, (entity_text(e) for off, doc in units for e in doc.ents
                                  if e.label_ == "PERSON" and not inside(off + e.start_char)))
        self.offset = {id(doc): off for off, doc in units}
        self.tokens = [t for _, doc in units for t in doc]
        self.starts = [off + t.idx for off, doc in units for t in doc]
        self.entity: dict[tuple[int, int], Span] = {}  # (doc, token index) -> the entity it belongs to
        for _, doc in units:
            for ent in doc.ents:
                for i in range(ent.start, ent.end):
                    self.entity[id(doc), i] = ent
        self._memo: dict[tuple[int, int], object] = {}
        self.memory = Memory()

    def pos(self, t: Token) -> int:
        """The token's offset in the article."""
        return self.offset[id(t.doc)] + t.idx

    def named(self, ent: Span, pos: int) -> None:
        """Note a named person with the words of their titles, or an organisation with its acronym."""
        head = ent.root
        if ent.label_ == "PERSON":
            person = self._person(head, ent)
            if person is not None and person.kind == PERSON:
                self.memory.named_person(pos, person, self._titles(head, ent))
            return
        org = self._organization(head, ent)
        if org is None:
            return
        after = ent.doc[ent.end : ent.end + 3]
        acronym = after[1].text if len(after) == 3 and after[0].text in "(," and after[2].text in ")," and \
            after[1].text.isupper() and len(after[1].text) >= 2 else None  # `the Organisation ..., OECD,`
        quoting = head.dep_ == "pobj" and head.head.lower_ == "by" and head.head.head.lower_ == "quoted"
        self.memory.named_org(pos, org, acronym, publisher=quoting)  # `quoted by the China Daily as saying`

    def speaker_of(self, head: Token) -> Speaker | None:
        """The speaker a subject token names (memoized), None when it is unclear who or what that is."""
        key = (id(head.doc), head.i)
        if key not in self._memo:
            self._memo[key] = self._resolve(head, self.pos(head))
        return self._memo[key]  # type: ignore[return-value]

    def _resolve(self, head: Token, at: int) -> Speaker | None:
        low = head.lower_
        if low in ("one", "another") and head.tag_ in ("CD", "DT", "NN", "PRP") and not any(
                c.dep_ == "prep" for c in head.children):
            return self.memory.one_of(at)
        if head.tag_ == "PRP" or low in ("he", "she", "it", "they", "we", "i", "you"):
            if low in ("he", "she"):
                return self.memory.last_person(at)
            return self.memory.last_thing(at) if low == "it" else None
        if head.tag_ not in NOUN:
            return None
        ent = self.entity.get((id(head.doc), head.i))
        if head.lower_ in _EPITHETS:
            return self._epithet(head, at)
        if head.tag_ == "NN" and ent is None and head.text[:1].isupper() and self.names.known(head.text):
            name = self.names.fullest(head.text)  # `Laxalt` tagged as a common noun
            return Speaker(name, self.names.role(name), PERSON)
        if head.tag_ in ("NN", "NNS") and ent is None:
            named = next((c for c in head.children if c.dep_ in ("appos", "conj") and c.tag_ in PROPER), None)
            if named is not None:  # `the spokesman, Tom Jones,`, `oil minister and OPEC president Rilwanu Lukman`
                found = self._resolve(named, at)
                if found is not None and found.kind == PERSON and named.dep_ == "appos" and not found.role:
                    return Speaker(found.name, self._role_of(head), PERSON)  # `chief economist Allen Sinai`
                if found is not None and found.kind != DESCRIPTION:
                    return found
            named = self._titled_org(head)
            if named is not None:
                return named
            found = self._description(head)
            return self.memory.definite(head.lower_, found, at) if found is not None else None
        if ent is not None and ent.label_ == "PERSON":
            return self._person(head, ent)
        if ent is not None and ent.label_ in _ORG_LABELS:
            written = entity_text(ent)
            if is_person_name(written) and self.names.known(written.split()[-1]):
                return self._person(head, ent)  # `Monsod` taken for an organisation by the recognizer
            if ent.label_ == "NORP":
                return self._epithet(head, at)
            return self._organization(head, ent)
        if head.tag_ in ("NN", "NNS") or (PERSON_NOUN.fullmatch(head.text) and any(
                c.dep_ == "det" for c in head.children)):  # `a senior U.S. Official`
            found = self._description(head)
            return self.memory.definite(head.lower_, found, at) if found is not None else None
        return self._proper(head)

    def _titles(self, head: Token, ent: Span) -> str:
        """The title words the article gives a named person here: `Oil Minister`, `, director of CERA,`."""
        left = [t for t in head.subtree if t.i < ent.start and t.dep_ in ("compound", "amod", "nmod") and
                t.head.dep_ != "poss"]
        inside = [t for t in ent if t.lower_.strip(".") in TITLES]
        appos = [t for c in head.children if c.dep_ == "appos" for t in c.subtree if not t.is_punct]
        parent = [t for t in head.head.subtree if t.i < ent.start and not t.is_punct] if head.dep_ == "appos" else []
        return " ".join(t.text for t in left + inside + appos + parent)

    @staticmethod
    def _role_of(head: Token) -> str | None:
        """A title as written before a name, without determiner or possessor: `First Chicago's chief
        economist` -> `chief economist`."""
        owners = {t.i for c in head.children if c.dep_ == "poss" for t in c.subtree}
        words = [t for t in head.subtree if t.i <= head.i and t.i not in owners and t.dep_ not in ("det", "punct")]
        return " ".join(t.text for t in words) or None

    def _person(self, head: Token, ent: Span) -> Speaker | None:
        name = entity_text(ent)
        if not name or not is_person_name(name):
            return self._proper(head)
        company = [o for o in self.memory.orgs_with(name) if o.name.startswith(name + " ") and CORPORATE.search(o.name)]
        if company:  # `Pacific Western` (Airlines Corp) taken for a person
            return company[0]
        if name.islower():  # a story typed in lower case
            name = " ".join(w[:1].upper() + w[1:] for w in name.split())
        name = self.names.fullest(name)
        incorporated = self.incorporated(name)
        if incorporated:  # `Crazy Eddie` of `Crazy Eddie Inc`, `Merrill Lynch` of `Merrill Lynch and Co Inc`
            return Speaker(incorporated, None, ORGANIZATION)
        role = " ".join(t.text for t in head.subtree if t.i < ent.start and t.dep_ in ("compound", "amod") and
                        t.head.dep_ != "poss" and not t.is_punct) or None
        return Speaker(name, role or self.names.role(name), PERSON)

    def incorporated(self, name: str) -> str | None:
        """The company the article names after `name` (`Crazy Eddie Inc`), if any; one search of the text per name."""
        if name not in self._incorporated:
            found = re.search(r"\b" + re.escape(name) + r"(?:,? (?:and|&) Co)?,? " + CORPORATE.pattern, self.text)
            self._incorporated[name] = untick(found.group(0)) if found else None
        return self._incorporated[name]

    def _organization(self, head: Token, ent: Span) -> Speaker | None:
        name = entity_text(ent)
        if not name:
            return None
        rest = ent.doc[ent.end : ent.end + 6]
        if name and len(rest) > 2 and rest[0].lower_ == "of":  # `Consolidated Edison Co of New York Inc`
            end = next((k for k, t in enumerate(rest) if k > 1 and CORPORATE.fullmatch(t.text)), None)
            if end is not None and all(t.tag_ in PROPER for t in rest[1:end]):
                name = f"{name} {ent.doc.text[rest[0].idx : rest[end].idx + len(rest[end].text)]}"
        if name in self.memory.aliases:
            return Speaker(self.memory.aliases[name], None, ORGANIZATION)
        fuller = [o.name for o in self.memory.orgs_with(name) if len(o.name) > len(name) and (
            o.name.startswith(name + " ") or o.name.endswith(" " + name))]
        return Speaker(untick(max(fuller, key=len) if fuller else self.names.spelled(name)), None, ORGANIZATION)

    def _proper(self, head: Token) -> Speaker | None:
        """A proper noun the recognizer left out: a person only if the article names one so, an organisation by
        its words (`Board`, `Ministry`); otherwise unclear."""
        first = head
        while first.i > first.sent.start and first.nbor(-1).tag_ in PROPER and \
                first.nbor(-1).dep_ in ("compound", "flat") and head.i >= first.nbor(-1).head.i >= first.i:
            first = first.nbor(-1)  # `Midland Montagu's Maude`: the compounds of the head, not its possessor
        phrase = self.text[self.pos(first) : self.pos(head) + len(head.text)]
        words = phrase.split()
        while len(words) > 1 and words[0].lower().strip(".") in TITLES:
            words.pop(0)
        if not words:
            return None
        name = " ".join(words)
        company = [o for o in self.memory.orgs_with(name) if o.name.startswith(name + " ")]
        if company:  # `WEDGE` of `WEDGE Group Inc`
            return company[0]
        if any(w.lower() in ORG_WORDS for w in words):
            return Speaker(self.names.spelled(re.sub(r"^(?:the|The)\s+", "", phrase)), None, ORGANIZATION)
        if is_person_name(name) and self.names.known(words[-1]):
            name = self.names.fullest(name)
            return Speaker(name, self.names.role(name), PERSON)
        return None

    def _description(self, head: Token) -> Speaker | None:
        """`one senior official at USDA's Foreign Agricultural Service`: determiner, modifiers, head noun and
        one prepositional phrase, as written."""
        key = (id(head.doc), -100_000 - head.i)
        if key in self._memo:
            return self._memo[key]  # type: ignore[return-value]
        left = [t for t in head.subtree if t.i <= head.i]
        first = next((k for k, t in enumerate(left) if not t.is_punct and t.dep_ not in ("cc", "punct")), None)
        found = None
        if first is not None:
            tokens = left[first:]
            for c in head.rights:
                if c.dep_ == "prep" and c.lower_ in _PREPS and c.i == tokens[-1].i + 1:
                    clauses = [t for x in c.subtree if x.dep_ in ("relcl", "acl", "appos") for t in x.subtree]
                    sub = [t for t in c.subtree if t not in clauses]
                    while sub and (sub[-1].is_punct or sub[-1].dep_ == "cc"):
                        sub.pop()
                    if sub and sub[-1].i - sub[0].i + 1 != len(sub):
                        break
                    if not any(t.is_punct and t.text not in ("'s", "-", "&", ".") for t in sub) and len(sub) <= 10:
                        tokens.extend(sub)
                break
            if not any(self.inside(self.pos(t)) for t in tokens) and len(tokens) <= 14:
                found = Speaker(describe(tokens), None, DESCRIPTION)
        self._memo[key] = found
        return found

    # -- references -------------------------------------------------------------------------------------------

    def _titled_org(self, head: Token) -> Speaker | None:
        """`the Sunday Mail newspaper`, `the Soviet news agency Tass`: an organisation named beside the noun
        that says what it is."""
        if head.lower_ not in ORG_NOUNS:
            return None
        named = [c for c in head.children if c.dep_ == "appos" and c.tag_ in PROPER]
        if named:
            ent = self.entity.get((id(head.doc), named[0].i))
            return self._organization(named[0], ent) if ent is not None and ent.label_ == "ORG" else None
        first = head
        while first.i > first.sent.start and first.nbor(-1).tag_ in PROPER and first.nbor(-1).dep_ == "compound":
            first = first.nbor(-1)
        run = list(head.doc[first.i : head.i])
        if not run:
            return None
        ent = self.entity.get((id(head.doc), run[-1].i))
        if ent is not None:
            return self._organization(ent.root, ent) if ent.label_ == "ORG" else None
        if any(t.ent_type_ in ("GPE", "NORP", "LOC") for t in run):
            return None  # `the U.S. company`
        name = untick(self.text[self.pos(run[0]) : self.pos(run[-1]) + len(run[-1].text)])
        return Speaker(self.names.spelled(name), None, ORGANIZATION) if name else None

    def _epithet(self, head: Token, at: int) -> Speaker | None:
        """`the Illinois Democrat`, `the Kansas senator`: news names the person it just spoke of so; anything
        else with a party or a nationality at its head (`one Republican`) is unclear."""
        det = [c.lower_ for c in head.children if c.dep_ == "det"]
        place = [c for c in head.children if c.dep_ == "compound" and c.tag_ in PROPER]
        if det == ["the"] and place and head.lower_ in _EPITHETS:
            return self.memory.last_person(at)
        return None
