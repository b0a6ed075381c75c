"""Who said a quotation: the subject of its own verb of saying, read off spaCy's dependency parse.

For each quotation the verb of saying is looked for where news puts it (right after the closing mark, between
the parts of a split quotation, before the opening mark, further on in the sentence, then the sentence before
in the same paragraph), and its subject found through the parse (`and said`, `which says`, `quoted X as saying`,
`according to X`, `," said X`). What that subject names (a person, an organisation, a description, a reference)
is `mentions.py`'s business; the article is read once, in order, so that each reference finds what came before
it (`discourse.py`). Whenever it stays unclear who speaks, the quotation is unattributed: a wrong speaker is
worse than none.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .discourse import Speaker
from .lexicon import SAYING_SET, TRANSITIVE
from .mentions import NOUN, PROPER, Mentions

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

_RELATIVE = frozenset(("who", "which", "that", "whom"))
_NEAR = 300  # characters after a closing mark read for its verb of saying (16 words are fewer)
_STOP = frozenset((".", ";", "?", "!"))
_REACH = 16  # tokens after a closing mark in which its verb of saying stands (`," said the Illinois Democrat`)


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

class Attribution(Mentions):
    """The speakers of an article's quotations, from the parse of its text."""

    def __init__(self, text: str, units: Sequence[tuple[int, Doc]], inside: Callable[[int], bool]) -> None:
        """`units`: (offset in text, parsed Doc) of the parsed stretches, in order; `inside(pos)`: within quotes.
        Reads the article once, in order, so that every reference finds what came before it."""
        super().__init__(text, units, inside)
        outside = [(t, pos) for t, pos in zip(self.tokens, self.starts) if not inside(pos)]
        for t, pos in outside:
            self.memory.first.setdefault(t.lower_, pos)
        for label in ("ORG", "PERSON"):  # who the article names, before reading who says what
            for t, pos in outside:
                ent = self.entity.get((id(t.doc), t.i))
                if ent is not None and t.i == ent.start and ent.label_ == label:
                    self.named(ent, pos)
        for t, pos in outside:
            self._read(t, pos)

    # -- reading ----------------------------------------------------------------------------------------------

    def _read(self, t: Token, pos: int) -> None:
        """Note what token t tells a reader: a description, the subject of a main clause, a sayer."""
        ent = self.entity.get((id(t.doc), t.i))
        if t.tag_ in ("NN", "NNS") and ent is None and any(c.dep_ in ("det", "nummod", "amod", "compound", "poss")
                                                           for c in t.children):
            found = self._description(t)
            if found is not None:
                self.memory.described_at(pos, t.lower_, found)
        if t.dep_ in ("nsubj", "nsubjpass") and (t.head.dep_ == "ROOT" or (
                t.head.dep_ == "conj" and t.head.head.dep_ == "ROOT")):
            who = self.speaker_of(t)
            if isinstance(who, Speaker):
                self.memory.subject(pos, who)
        if self._is_saying(t):
            who = self.verb_speaker(t)
            if isinstance(who, Speaker):
                self.memory.said(pos, who)

    # -- positions --------------------------------------------------------------------------------------------

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
        if found is not None and (found.is_person or found.speaks):
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
                    return v.head if v.dep_ == "relcl" and v.head.tag_ in NOUN else None
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
                if c.dep_ in ("dobj", "attr", "npadvmod", "oprd") and c.tag_ in NOUN:
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
            if len(heads) == 1 and heads[0].tag_ in PROPER and segment[0].tag_ != "IN":
                return heads[0]
            return None
        return None
