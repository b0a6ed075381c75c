"""Who said a quotation: the subject of its own verb of saying, read off spaCy's dependency parse.

For each quotation the verb of saying is looked for where news puts it (right after the closing mark, between
the parts of a split quotation, before the opening mark, further on in the sentence, then the sentence before
in the same paragraph), and the speaker is that verb's subject: a named person or organisation (from the entity
recognizer), a description as written ("a ministry spokesman"), or a pronoun. References are resolved the way a
reader does: `he` and `she` to the person who was last the subject of a main clause, `it` to the organisation or
document that last said something, `the report` to the fullest description of the report before it, `the
minister` to the person the article titled so, `the company` to the company that last spoke, and a name to its
fullest form in the article. Whenever the parse leaves it unclear who speaks, the quotation stays unattributed:
a wrong speaker is worse than none.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .lexicon import ORG_WORDS, SAYING_SET, TITLES, TRANSITIVE
from .names import Names, is_person_name

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

PERSON, ORGANIZATION, DESCRIPTION = "person", "organization", "description"
_ORG_LABELS = frozenset(("ORG", "GPE", "FAC", "NORP"))
_NOUN = ("NN", "NNS", "NNP", "NNPS")
_PROPER = ("NNP", "NNPS")
_RELATIVE = frozenset(("who", "which", "that", "whom"))
_PREPS = frozenset(("of", "at", "for", "to", "with", "in", "from", "on", "by"))
_NEAR = 300  # characters after a closing mark read for its verb of saying (16 words are fewer)
_ANTECEDENT = 1000  # characters back from a pronoun within which its antecedent must be (484 at most, labelled)
_STOP = frozenset((".", ";", "?", "!"))
_REACH = 16  # tokens after a closing mark in which its verb of saying stands (`," said the Illinois Democrat`)
_PERSON_NOUN = re.compile(
    r"(?:spokes\w*|official|aide|lobbyist|analyst|diplomat|dealer|trader|banker|economist|source|executive|"
    r"director|minister|chairman|chairwoman|president|representative|delegate|negotiator|strategist|"
    r"secretary|officer|leader|manager|expert|lawmaker|legislator|senator|governor|ambassador|observer|"
    r"member|broker|farmer|producer|worker|buyer|seller|consultant|underwriter|arbitrageur|envoy|aide|"
    r"man|woman|person|people|\w+ist|\w+man|\w+woman)s?$", re.IGNORECASE)
# Nouns that name an organisation or a publication: `the company said` is the company the article is about.
_ORG_NOUNS = frozenset((
    "company firm concern group bank trust corporation newspaper paper daily weekly magazine agency board "
    "commission committee ministry department union association federation council institute utility airline "
    "carrier insurer retailer brewer"
).split())
_PUBLICATIONS = frozenset("newspaper paper daily weekly magazine".split())
# Things that say things: `it said` and a quotation with no verb of its own go back to one of these.
_SPEAKING = _ORG_NOUNS | frozenset((
    "statement report editorial study survey letter communique document radio television government embassy "
    "review analysis forecast bulletin announcement memo"
).split())
_QUANTIFIERS = frozenset("the some many several other most few two three four both all their its".split())
_EPITHETS = frozenset("democrat republican senator congressman congresswoman lawmaker governor".split())
_COMPANIES = frozenset("company firm concern utility airline carrier insurer retailer brewer".split())
_CORPORATE = re.compile(r"\b(?:Inc|Corp|Corporation|Co|Ltd|Plc|PLC|Group|Bank|Trust|Cos|Partners|AG|SA|NV)\b\.?")


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
        return _PERSON_NOUN.search(_head_words(self.name)) is not None


@dataclass(frozen=True, slots=True)
class Quoted:
    """A quotation as attribution sees it: its parts, its sentence and its paragraph (article offsets)."""

    parts: tuple[tuple[int, int], ...]
    sentence: tuple[int, int]
    paragraph: tuple[int, int]

    @property
    def start(self) -> int:
        return self.parts[0][0]

    @property
    def end(self) -> int:
        return self.parts[-1][1]


class _NoSubject:
    """No subject was found for a verb (unlike a subject judged unclear, which is None)."""


NO_SUBJECT = _NoSubject()


def _head_words(description: str) -> str:
    """The words before a description's prepositional phrase: `an aide to X` -> `an aide`."""
    return re.split(r"\s(?:of|at|for|to|with|in|from|on|by|who)\s", description, maxsplit=1)[0]


def _words(phrase: str) -> set[str]:
    return {w for w in re.findall(r"[\w'.-]+", phrase.casefold()) if w not in ("the", "a", "an", "one", "'s")}


def _untick(name: str) -> str:
    """A name without the Reuters ticker in it (`United Auto Workers <UAW>` -> `United Auto Workers`)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^<>]*>|[<>]", " ", name)).strip()


def _plural(speaker: Speaker) -> bool:
    """A description of several people (`industry sources`, `two analysts`)."""
    if speaker.kind != DESCRIPTION:
        return False
    word = _head_words(speaker.name).split()[-1].lower()
    return word in ("people", "staff") or (word.endswith("s") and not word.endswith(("ss", "us", "is")))


def _named_words(description: str) -> int:
    """How many capitalised words a description has after its first word (`the Tower Commission report`: 2)."""
    return sum(1 for w in description.split()[1:] if w[:1].isupper())


def describe_words(words: Sequence[str]) -> str:
    """Words of a description made here (`one delegate`), the first in lower case unless a proper noun."""
    first = words[0] if words[0].isupper() and len(words[0]) > 1 else words[0][:1].lower() + words[0][1:]
    return " ".join([first, *words[1:]])


def describe(tokens: Sequence[Token]) -> str:
    """A description as written, the leading determiner in lower case: `The report` and `the report` are one."""
    first = tokens[0]
    text = first.doc.text[first.idx : tokens[-1].idx + len(tokens[-1].text)]
    if (first.tag_ in ("DT", "PRP$", "CD") or (first.tag_ not in _PROPER and not first.ent_type_)) and \
            text[:1].isupper() and not (len(first.text) > 1 and first.text.isupper()):
        text = text[:1].lower() + text[1:]
    return _untick(text)


def _entity_text(ent: Span) -> str:
    """An entity's name as written, without a leading `the`, a possessor (`Midland Montagu's Maude` -> `Maude`),
    a title or a conjunction the recognizer took in (`Although Jonathan Wolff`)."""
    tokens = [t for t in ent if "<" not in t.text and ">" not in t.text]  # `<UAW>`: a Reuters ticker
    cut = max((k + 1 for k, t in enumerate(tokens) if t.tag_ == "POS"), default=0)
    if cut < len(tokens):
        tokens = tokens[cut:]
    while tokens and (tokens[-1].tag_ == "POS" or tokens[-1].is_punct):
        tokens.pop()
    while len(tokens) > 1 and ((tokens[0].is_stop and not tokens[0].text.isupper()) or tokens[0].tag_ not in _PROPER or
                               tokens[0].lower_.strip(".") in TITLES):
        tokens.pop(0)
    if not tokens:
        return ""
    return re.sub(r"\s+", " ", ent.doc.text[tokens[0].idx : tokens[-1].idx + len(tokens[-1].text)].strip())


class Attribution:
    """The speakers of an article's quotations, from the parse of its text."""

    def __init__(self, text: str, units: Sequence[tuple[int, Doc]], inside: Callable[[int], bool]) -> None:
        """`units`: (offset in text, parsed Doc) of the parsed stretches, in order; `inside(pos)`: within quotes."""
        self.text, self.inside = text, inside
        self.names = Names(text, (_entity_text(e) for off, doc in units for e in doc.ents
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
        # What a reader keeps in mind, in reading order (position, who):
        self.people: list[tuple[int, Speaker]] = []  # people who were the subject of a main clause or said something
        self.sayers: list[tuple[int, Speaker]] = []  # whoever said something
        self.org_sayers: list[tuple[int, Speaker]] = []  # organisations that said something
        self.described: dict[str, list[tuple[int, Speaker]]] = {}  # head noun -> described noun phrases
        self.titled: list[tuple[int, Speaker]] = []  # named people
        self.titles: dict[str, list[tuple[int, frozenset[str], Speaker]]] = {}  # title word -> people so titled
        self.orgs: list[tuple[int, Speaker]] = []  # organisations named
        self.org_words: dict[str, list[tuple[int, Speaker]]] = {}  # any word of an organisation's name -> it
        self.first: dict[str, int] = {}  # word -> where the article first uses it (outside quotes)
        self.things: list[tuple[int, Speaker]] = []  # organisations and documents that spoke or were subjects
        self.publishers: list[tuple[int, Speaker]] = []  # organisations that quoted someone
        self.aliases: dict[str, str] = {}  # `OECD` -> `Organisation for Economic Cooperation and Development`
        outside = [(t, pos) for t, pos in zip(self.tokens, self.starts) if not inside(pos)]
        for t, pos in outside:
            self.first.setdefault(t.lower_, pos)
        for label in ("ORG", "PERSON"):  # who the article names, before reading who says what
            for t, pos in outside:
                ent = self.entity.get((id(t.doc), t.i))
                if ent is not None and t.i == ent.start and ent.label_ == label:
                    self._named(ent, pos)
        for t, pos in outside:
            self._read(t, pos)

    # -- reading ----------------------------------------------------------------------------------------------

    def _named(self, ent: Span, pos: int) -> None:
        """Note a named person with the words of their titles, or an organisation with its acronym."""
        head = ent.root
        if ent.label_ == "PERSON":
            person = self._person(head, ent)
            if person is not None and person.kind == PERSON:
                title = frozenset(_words(self._titles(head, ent)))
                self.titled.append((pos, person))
                for word in title:
                    self.titles.setdefault(word, []).append((pos, title, person))
            return
        org = self._organization(head, ent)
        if org is None:
            return
        self.orgs.append((pos, org))
        for word in set(org.name.casefold().split()):
            self.org_words.setdefault(word, []).append((pos, org))
        after = ent.doc[ent.end : ent.end + 3]
        if len(after) == 3 and after[0].text in "(," and after[2].text in "),":
            if after[1].text.isupper() and len(after[1].text) >= 2:  # `the Organisation ..., OECD,`
                self.aliases.setdefault(after[1].text, org.name)
        if head.dep_ == "pobj" and head.head.lower_ == "by" and head.head.head.lower_ == "quoted":
            self.publishers.append((pos, org))  # `was quoted by the China Daily as saying`

    def _read(self, t: Token, pos: int) -> None:
        """Note what token t tells a reader: a description, the subject of a main clause, a sayer."""
        ent = self.entity.get((id(t.doc), t.i))
        if t.tag_ in ("NN", "NNS") and ent is None and any(c.dep_ in ("det", "nummod", "amod", "compound", "poss")
                                                           for c in t.children):
            found = self._description(t)
            if found is not None:
                self.described.setdefault(t.lower_, []).append((pos, found))
        if t.dep_ in ("nsubj", "nsubjpass") and (t.head.dep_ == "ROOT" or (
                t.head.dep_ == "conj" and t.head.head.dep_ == "ROOT")):
            who = self.speaker_of(t)
            if isinstance(who, Speaker):
                self._keep(pos, who)
        if self._is_saying(t):
            who = self.verb_speaker(t)
            if isinstance(who, Speaker):
                self.sayers.append((pos, who))
                if who.kind == ORGANIZATION:
                    self.org_sayers.append((pos, who))
                self._keep(pos, who)

    def _keep(self, pos: int, who: Speaker) -> None:
        """Keep a subject in mind as what `he`, `she` or `it` may stand for next."""
        if who.is_person:
            self.people.append((pos, who))
        elif who.kind == ORGANIZATION or _head_words(who.name).split()[-1].casefold() in _SPEAKING:
            self.things.append((pos, who))

    # -- positions --------------------------------------------------------------------------------------------

    def pos(self, t: Token) -> int:
        """The token's offset in the article."""
        return self.offset[id(t.doc)] + t.idx

    def between(self, a: int, b: int) -> list[Token]:
        """Tokens starting in [a, b), outside every quotation."""
        lo, hi = bisect_left(self.starts, a), bisect_left(self.starts, b)
        return [t for t, p in zip(self.tokens[lo:hi], self.starts[lo:hi]) if not self.inside(p)]

    @staticmethod
    def _is_saying(t: Token) -> bool:
        return (t.lower_ in SAYING_SET and t.tag_.startswith("VB")) or (t.lower_ == "according" and any(
            c.lower_ == "to" for c in t.children))

    # -- the quotation's verb ---------------------------------------------------------------------------------

    def speaker(self, q: Quoted) -> Speaker | None:
        """The speaker of one quotation, None when no verb of saying names one for certain."""
        for verb, governed in self._verbs(q):
            if governed and not self._governs(verb, q):
                continue
            found = self.verb_speaker(verb)
            if found is not NO_SUBJECT:
                return found if isinstance(found, Speaker) else None
        return self._said_before(q)

    def _verbs(self, q: Quoted) -> list[tuple[Token, bool]]:
        """Verbs of saying that may introduce q, in the order news places them; True: must govern the quote."""
        lo, hi = q.sentence
        close = q.end + 1 if q.end < len(self.text) and self.text[q.end] in "\"\u201d" else q.end
        out: list[tuple[Token, bool]] = []
        ended = self.text[q.start : q.end].rstrip().endswith(".") and re.match(r"\s+[A-Z]", self.text[close:])
        near = [] if ended else self.between(close, min(q.paragraph[1], close + _NEAR))  # knows `Sen.`
        for k, t in enumerate(near):
            if k >= _REACH or t.text in _STOP or self._starts_quote(t) or t.tag_ == "CC" or t.dep_ == "mark":
                break  # `," X said` -- not `... "colossal blunders" and said`
            if self._is_saying(t) and t.dep_ not in ("relcl", "acl", "amod", "xcomp", "pcomp"):
                out.append((t, False))
                break
        for (_, a), (b, _) in zip(q.parts, q.parts[1:]):  # a split quotation: the verb between its parts
            out.extend((t, False) for t in self.between(a, b) if self._is_saying(t))
        before = self.between(lo, max(lo, q.start - 1))
        inner = self._tokens_in(q.start, q.end)
        sentence = inner[0].sent if inner else None
        out.extend((t, True) for t in reversed(before) if self._is_saying(t) and not self._relative(t) and (
            t.sent == sentence or self._adjacent(t, q)))
        out.extend((t, True) for t in self.between(close, hi) if self._is_saying(t) and (t, False) not in out)
        return out

    def has_verb(self, q: Quoted) -> bool:
        """Whether a verb of saying stands where it could introduce q (even one whose subject is unclear)."""
        return bool(self._verbs(q))

    def _said_before(self, q: Quoted) -> Speaker | None:
        """A quotation that opens its sentence with no verb of saying in it: `Sullivan predicted the Fed will
        ease. "People aren't talking recession"` is said by whoever spoke in the sentence before, in the same
        paragraph, or else by that sentence's subject if it is a person or a thing that speaks (`the report`)."""
        lo, _ = q.sentence
        if self.text[lo : q.start - 1].strip() or lo <= q.paragraph[0]:
            return None
        before = self.between(max(q.paragraph[0], lo - _NEAR * 4), lo)
        if not before:
            return None
        sentence = [t for t in before if t.sent == before[-1].sent]
        for t in reversed(sentence):
            if self._is_saying(t):
                found = self.verb_speaker(t)
                if isinstance(found, Speaker):
                    return found
        root = before[-1].sent.root
        subject = next((c for c in root.children if c.dep_ == "nsubj" and not self.inside(self.pos(c))), None)
        found = self.speaker_of(subject) if subject is not None else None
        if found is not None and (found.is_person or found.kind == ORGANIZATION or
                                  _head_words(found.name).split()[-1].casefold() in _SPEAKING):
            return found
        return None

    @staticmethod
    def _relative(verb: Token) -> bool:
        """A verb of a relative clause whose subject is not the relative pronoun (`a reserve, which Pakistan will
        maintain, and a "target"`): it says nothing of the quotation; `X, who said "..."` does."""
        return verb.dep_ == "relcl" and not any(c.dep_ == "nsubj" and c.lower_ in _RELATIVE for c in verb.children)

    def _starts_quote(self, t: Token) -> bool:
        return t.text in ("\"", "\u201c", "``") and self.inside(self.pos(t) + 1)

    def _governs(self, verb: Token, q: Quoted) -> bool:
        """Whether the quotation belongs to the verb's clause: a quoted word is the verb's descendant (or the
        quotation stands right after `said:`), so `X said ... and the "term"` of another clause is not X's."""
        if verb.lower_ == "according":
            return True
        inner = [t for t in self._tokens_in(q.start, q.end) if not t.is_punct]
        return any(verb in t.ancestors for t in inner[:3]) or self._adjacent(verb, q)

    def _adjacent(self, verb: Token, q: Quoted) -> bool:
        """Whether the quotation opens right after the verb (`said at a news conference: "`)."""
        gap = self.text[self.pos(verb) + len(verb.text) : q.start - 1]
        return len(gap) <= 40 and not re.search(r"[.;!?]", gap)

    def _tokens_in(self, a: int, b: int) -> list[Token]:
        lo, hi = bisect_left(self.starts, a), bisect_left(self.starts, b)
        return self.tokens[lo:hi]

    # -- the verb's subject -----------------------------------------------------------------------------------

    def verb_speaker(self, verb: Token) -> Speaker | None | _NoSubject:
        """The resolved subject of a verb of saying (memoized): a Speaker, None (unclear) or NO_SUBJECT."""
        key = (id(verb.doc), -1 - verb.i)
        if key not in self._memo:
            subject = self._subject(verb)
            if subject is None or self.inside(self.pos(subject)):
                self._memo[key] = NO_SUBJECT
            else:
                self._memo[key] = self.speaker_of(subject)
        return self._memo[key]  # type: ignore[return-value]

    def _subject(self, verb: Token) -> Token | None:
        """The token that names who speaks: nsubj (through `and said`, `went on to say`, `which says`), the
        object of `quoted ... as saying`, the object of `according to`, or the inverted subject of `said X`."""
        low = verb.lower_
        if low == "according":
            to = next((c for c in verb.children if c.lower_ == "to"), None)
            return next((c for c in to.children if c.dep_ == "pobj"), None) if to is not None else None
        if low in ("saying", "say") and verb.head.lower_ == "as" and verb.head.head.lower_ == "quoted":
            verb = verb.head.head
        if verb.lower_ == "quoted":  # `PAP quoted Baka as saying`, `Baka was quoted as saying`
            return next((c for c in verb.children if c.dep_ in ("dobj", "nsubjpass")), None)
        v = verb
        for _ in range(4):
            subjects = [c for c in v.children if c.dep_ in ("nsubj", "csubj") and not self.inside(self.pos(c))]
            subject = min(subjects, key=lambda c: abs(c.i - v.i)) if subjects else None
            if subject is not None:
                if subject.lower_ in _RELATIVE:  # `the report, which says`
                    return v.head if v.dep_ == "relcl" and v.head.tag_ in _NOUN else None
                return subject
            if any(c.dep_ in ("nsubjpass", "auxpass") for c in v.children) or v.dep_ in ("acl", "amod", "relcl"):
                return None  # `was told`, `a statement saying`: nobody the parse names
            if v.dep_ in ("conj", "xcomp", "advcl", "pcomp"):
                v = v.head  # `declined ... but said`, `went on to say`, `he said, adding`, `except to say`
                if v.dep_ == "prep" and v.head.tag_.startswith("VB"):
                    v = v.head
                continue
            break
        if low not in TRANSITIVE:  # `," said the strategist` parsed with the strategist as object
            for c in verb.rights:
                if c.dep_ in ("dobj", "attr", "npadvmod", "oprd") and c.tag_ in _NOUN:
                    return c
        return self._apposed_subject(verb)

    def _apposed_subject(self, verb: Token) -> Token | None:
        """`Board chairman John Tower, a longtime Reagan supporter, told ...` when the parser lost the subject:
        the noun phrase before the appositives that end in a comma right before the verb."""
        sent = list(verb.sent)
        k = verb.i - sent[0].i
        if k < 2 or sent[k - 1].text != ",":
            return None
        segments: list[list[Token]] = [[]]
        for t in sent[: k - 1]:
            if self.inside(self.pos(t)) or t.tag_ in ("``", "''"):
                continue
            if t.text == ",":
                segments.append([])
            else:
                segments[-1].append(t)
        for segment in reversed(segments):
            if not segment:
                return None
            if segment[0].tag_ in ("DT", "WP", "WDT", "PRP$", "VBG", "VBN") or \
                    segment[0].lower_ in ("former", "who", "which"):
                continue  # an appositive, a relative clause, `reporting a loss`
            heads = [t for t in segment if t.head not in segment or t.head is t]
            if len(heads) == 1 and heads[0].tag_ in _PROPER and segment[0].tag_ != "IN":
                return heads[0]
            return None
        return None

    # -- the subject as a speaker -----------------------------------------------------------------------------

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
            return self._one_of(at)
        if head.tag_ == "PRP" or low in ("he", "she", "it", "they", "we", "i", "you"):
            if low in ("he", "she"):
                return self._last_person(at)
            return self._last_thing(at) if low == "it" else None
        if head.tag_ not in _NOUN:
            return None
        ent = self.entity.get((id(head.doc), head.i))
        if head.lower_ in _EPITHETS:
            return self._epithet(head, at)
        if head.tag_ == "NN" and ent is None and head.text[:1].isupper() and self.names.known(head.text):
            name = self.names.fullest(head.text)  # `Laxalt` tagged as a common noun
            return Speaker(name, self.names.role(name), PERSON)
        if head.tag_ in ("NN", "NNS") and ent is None:
            named = next((c for c in head.children if c.dep_ in ("appos", "conj") and c.tag_ in _PROPER), None)
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
            return self._definite(head, found, at) if found is not None else None
        if ent is not None and ent.label_ == "PERSON":
            return self._person(head, ent)
        if ent is not None and ent.label_ in _ORG_LABELS:
            written = _entity_text(ent)
            if is_person_name(written) and self.names.known(written.split()[-1]):
                return self._person(head, ent)  # `Monsod` taken for an organisation by the recognizer
            if ent.label_ == "NORP":
                return self._epithet(head, at)
            return self._organization(head, ent)
        if head.tag_ in ("NN", "NNS") or (_PERSON_NOUN.fullmatch(head.text) and any(
                c.dep_ == "det" for c in head.children)):  # `a senior U.S. Official`
            found = self._description(head)
            return self._definite(head, found, at) if found is not None else None
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
        name = _entity_text(ent)
        if not name or not is_person_name(name):
            return self._proper(head)
        company = [o for o in self._orgs_with(name) if o.name.startswith(name + " ") and _CORPORATE.search(o.name)]
        if company:  # `Pacific Western` (Airlines Corp) taken for a person
            return company[0]
        rest, suffix = ent.doc[ent.end : ent.end + 3], None
        for k, t in enumerate(rest):
            if not (t.lower_ in ("and", "&") or _CORPORATE.fullmatch(t.text)):
                break
            suffix = k if _CORPORATE.fullmatch(t.text) else suffix
        if suffix is not None:
            end = rest[suffix]  # `Merrill Lynch and Co Inc` taken for a person
            return Speaker(name + self.text[self.pos(ent[-1]) + len(ent[-1].text) : self.pos(end) + len(end.text)],
                           None, ORGANIZATION)
        if name.islower():  # a story typed in lower case
            name = " ".join(w[:1].upper() + w[1:] for w in name.split())
        name = self.names.fullest(name)
        role = " ".join(t.text for t in head.subtree if t.i < ent.start and t.dep_ in ("compound", "amod") and
                        t.head.dep_ != "poss" and not t.is_punct) or None
        return Speaker(name, role or self.names.role(name), PERSON)

    def _orgs_with(self, name: str) -> list[Speaker]:
        """The distinct organisations with the first or last word of `name` in their names, first named first."""
        words = name.casefold().split()
        if not words:
            return []
        named = self.org_words.get(words[0], []) + self.org_words.get(words[-1], [])
        return list({o.name: o for _, o in sorted(named, key=lambda x: x[0])}.values())

    def _organization(self, head: Token, ent: Span) -> Speaker | None:
        name = _entity_text(ent)
        if not name:
            return None
        rest = ent.doc[ent.end : ent.end + 6]
        if name and len(rest) > 2 and rest[0].lower_ == "of":  # `Consolidated Edison Co of New York Inc`
            end = next((k for k, t in enumerate(rest) if k > 1 and _CORPORATE.fullmatch(t.text)), None)
            if end is not None and all(t.tag_ in _PROPER for t in rest[1:end]):
                name = f"{name} {ent.doc.text[rest[0].idx : rest[end].idx + len(rest[end].text)]}"
        if name in self.aliases:
            return Speaker(self.aliases[name], None, ORGANIZATION)
        fuller = [o.name for o in self._orgs_with(name) if len(o.name) > len(name) and (
            o.name.startswith(name + " ") or o.name.endswith(" " + name))]
        return Speaker(_untick(max(fuller, key=len) if fuller else self.names.spelled(name)), None, ORGANIZATION)

    def _proper(self, head: Token) -> Speaker | None:
        """A proper noun the recognizer left out: a person only if the article names one so, an organisation by
        its words (`Board`, `Ministry`); otherwise unclear."""
        first = head
        while first.i > first.sent.start and first.nbor(-1).tag_ in _PROPER and \
                first.nbor(-1).dep_ in ("compound", "flat") and head.i >= first.nbor(-1).head.i >= first.i:
            first = first.nbor(-1)  # `Midland Montagu's Maude`: the compounds of the head, not its possessor
        phrase = self.text[self.pos(first) : self.pos(head) + len(head.text)]
        words = phrase.split()
        while len(words) > 1 and words[0].lower().strip(".") in TITLES:
            words.pop(0)
        if not words:
            return None
        name = " ".join(words)
        company = [o for o in self._orgs_with(name) if o.name.startswith(name + " ")]
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

    def _definite(self, head: Token, found: Speaker, at: int) -> Speaker:
        """`the report` -> the fullest description of the report before it; `the minister` -> the person titled
        so; `the company` -> the company that last spoke. Otherwise the description as written."""
        if not re.match(r"(?:the|this|that)\s", found.name, re.IGNORECASE):
            return found
        words = _words(_head_words(found.name))
        noun = head.lower_
        fuller = [(_named_words(d.name), len(_words(d.name)), pos, d) for pos, d in self.described.get(noun, ())
                  if pos < at and words <= _words(d.name) and _words(d.name) != words
                  and not re.match(r"(?:its|his|her|their|our|my|your)\s", d.name, re.IGNORECASE)]
        if fuller:  # the fullest earlier description, a named one (`the Tower Commission report`) first
            return max(fuller, key=lambda x: x[:3])[3]
        if _PERSON_NOUN.search(noun):  # `the chairman of Goodyear`: the one person the article titles so
            first = self.first.get(noun, at) >= at  # the first mention may name someone named later on
            titled = {p for pos, title, p in self.titles.get(noun, ()) if words <= title and (first or pos < at)}
            return titled.pop() if len(titled) == 1 else found
        if noun in _ORG_NOUNS and len(words) == 1:
            generic = noun in _COMPANIES or noun in _PUBLICATIONS
            said = (o for pos, o in reversed(self.org_sayers)
                    if pos < at and (generic or noun in o.name.casefold().split()))
            named = (o for pos, o in reversed(self.orgs if noun in _COMPANIES else self.org_words.get(noun, []))
                     if pos < at and (noun in o.name.casefold().split() or _CORPORATE.search(o.name)))
            published = (o for pos, o in reversed(self.publishers) if pos < at and noun in _PUBLICATIONS)
            known = next(said, None) or next(named, None) or next(published, None)
            if known is not None:
                return known
        return found

    def _titled_org(self, head: Token) -> Speaker | None:
        """`the Sunday Mail newspaper`, `the Soviet news agency Tass`: an organisation named beside the noun
        that says what it is."""
        if head.lower_ not in _ORG_NOUNS:
            return None
        named = [c for c in head.children if c.dep_ == "appos" and c.tag_ in _PROPER]
        if named:
            ent = self.entity.get((id(head.doc), named[0].i))
            return self._organization(named[0], ent) if ent is not None and ent.label_ == "ORG" else None
        first = head
        while first.i > first.sent.start and first.nbor(-1).tag_ in _PROPER and first.nbor(-1).dep_ == "compound":
            first = first.nbor(-1)
        run = list(head.doc[first.i : head.i])
        if not run:
            return None
        ent = self.entity.get((id(head.doc), run[-1].i))
        if ent is not None:
            return self._organization(ent.root, ent) if ent.label_ == "ORG" else None
        if any(t.ent_type_ in ("GPE", "NORP", "LOC") for t in run):
            return None  # `the U.S. company`
        name = _untick(self.text[self.pos(run[0]) : self.pos(run[-1]) + len(run[-1].text)])
        return Speaker(self.names.spelled(name), None, ORGANIZATION) if name else None

    def _one_of(self, at: int) -> Speaker | None:
        """`Delegates would not speculate. "Anything is possible," one said`: one of the people last the
        subject, if they were many (`one delegate`)."""
        k = bisect_left(self.people, (at,), key=lambda s: (s[0],))
        if not k or self.people[k - 1][1].kind != DESCRIPTION:
            return None
        words = _head_words(self.people[k - 1][1].name).split()
        while words and words[0].lower() in _QUANTIFIERS:
            words.pop(0)
        if not words or not re.search(r"[^s]s$", words[-1]) or words[-1].lower() in ("analysis", "sources's"):
            return None  # not a plural
        words[-1] = words[-1][:-1]
        return Speaker(describe_words(["one", *words]), None, DESCRIPTION)

    def _epithet(self, head: Token, at: int) -> Speaker | None:
        """`the Illinois Democrat`, `the Kansas senator`: news names the person it just spoke of so; anything
        else with a party or a nationality at its head (`one Republican`) is unclear."""
        det = [c.lower_ for c in head.children if c.dep_ == "det"]
        place = [c for c in head.children if c.dep_ == "compound" and c.tag_ in _PROPER]
        if det == ["the"] and place and head.lower_ in _EPITHETS:
            return self._last_person(at)
        return None

    def _last_person(self, at: int) -> Speaker | None:
        """The antecedent of `he` or `she`: the person last the subject of a main clause (or who last said
        something), else the person last named."""
        k = bisect_left(self.people, (at,), key=lambda s: (s[0],))
        pos, who = next(((p, w) for p, w in reversed(self.people[:k]) if not _plural(w)), (-1, None))
        if who is None:
            k = bisect_left(self.titled, (at,), key=lambda s: (s[0],))
            pos, who = self.titled[k - 1] if k else (-1, None)
        return who if at - pos <= _ANTECEDENT else None  # `he` a few paragraphs on is anybody's guess

    def _last_thing(self, at: int) -> Speaker | None:
        """The antecedent of `it`: the organisation or document last the subject of a main clause or of a verb
        of saying (`The report raised a question ... it said`)."""
        k = bisect_left(self.things, (at,), key=lambda s: (s[0],))
        return self.things[k - 1][1] if k else None
