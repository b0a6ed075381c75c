"""Direct quotations in news text and who said them.

A quotation is the text between quotation marks (straight or curly double quotes), possibly in several parts:
split around its attribution (`"We are convinced," Putin said, "that ..."`) or running over paragraphs (an
opening mark repeated at the start of the next paragraph, the previous one left open). Each gets a kind:
`full` (direct speech: at the start of a sentence, after a colon, or introduced by a verb of saying),
`partial` (a phrase quoted inside the reporter's sentence) or `term` (scare quotes: a single word, a title,
or a short phrase with nobody saying it). Marks, spans and kinds are rules over the text (this module); the
speaker is the subject of the quotation's verb of saying in spaCy's parse of the article up to its last
quotation (`speakers.py`, `mentions.py`, `discourse.py`), in the fullest form the article gives (`names.py`),
with its kind: person, organization or description (an unnamed source, kept as written).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING

from . import nlp
from .lexicon import ABBREVIATIONS, CONNECTORS, EXPRESSING, SAYING_SET
from .speakers import Attribution, Quoted, Speaker

if TYPE_CHECKING:
    from spacy.tokens import Doc

OPENING = "\u201c"
CLOSING = "\u201d"
STRAIGHT = '"'

# Characters of the reporter's sentence read either side of a quotation: the work per quotation stays bounded,
# so a 1 MB paragraph full of quotations takes seconds, not hours. No news sentence is longer.
_CONTEXT = 1000
_SENTENCE_END = re.compile(r"[.?!][\"\u201d]?\s+(?=[\"\u201c]?[A-Z])")
# What is parsed: each paragraph holding a quotation, or only the quotation's sentence when the paragraph is
# longer than _PARAGRAPH characters; at most _PARSED characters of an article (the rest stays unattributed).
_PARAGRAPH = 5_000
_PARSED = 100_000


@dataclass(frozen=True, slots=True)
class Found:
    """A quotation as extracted: parts are (start, end) of the quoted text without its marks."""

    start: int
    end: int
    parts: tuple[tuple[int, int], ...]
    kind: str  # full | partial | term
    speaker: str | None
    role: str | None
    speaker_kind: str | None = None  # person | organization | description; None when speaker is None


@dataclass(frozen=True, slots=True)
class Spot:
    """Where a quotation sits: its parts, the reporter's sentence around it and the paragraphs it spans."""

    parts: tuple[tuple[int, int], ...]
    sentence: tuple[int, int]
    paragraphs: tuple[int, int]  # first and last paragraph index
    head: str  # the reporter's words before the opening mark, in its sentence


# -- marks ---------------------------------------------------------------------------------------------------


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """Spans of paragraphs (text between blank lines, or lines when there are no blank lines)."""
    spans, start = [], 0
    for match in re.finditer(r"\n\s*\n|\n", text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _is_opening(text: str, i: int, lo: int) -> bool:
    """Whether a straight double quote at i opens: at the paragraph start, or after a space or bracket and before
    a non-space."""
    before = text[i - 1] if i > lo else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    if after.isspace():
        return False
    return before.isspace() or before in "([{\u2014-:/" or i == lo


def _raw_quotes(text: str) -> list[list[tuple[int, int]]]:
    """Quotations as lists of parts (inner spans), pairing marks paragraph by paragraph."""
    out: list[list[tuple[int, int]]] = []
    paragraphs = _paragraphs(text)
    open_parts: list[tuple[int, int]] | None = None  # a quotation left open at a paragraph's end
    for p, (lo, hi) in enumerate(paragraphs):
        start: int | None = None
        i = lo
        if open_parts is not None:  # continues only if this paragraph opens with a quotation mark
            if text[lo] in (STRAIGHT, OPENING):
                start, i = lo + 1, lo + 1
            else:
                out.append(open_parts)
                open_parts = None
        while i < hi:
            ch = text[i]
            if ch in (STRAIGHT, OPENING, CLOSING):
                if start is None:
                    if ch == OPENING or (ch == STRAIGHT and _is_opening(text, i, lo)):
                        start = i + 1
                else:
                    if ch == CLOSING or ch == STRAIGHT:
                        if i > start:
                            parts = (open_parts or []) + [(start, i)]
                            out.append(parts)
                        open_parts = None
                        start = None
            i += 1
        if start is not None:  # left open: closes at the paragraph end unless the next paragraph reopens
            end = hi
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                open_parts = (open_parts or []) + [(start, end)]
            if p == len(paragraphs) - 1:
                out.append(open_parts or [])
                open_parts = None
        elif open_parts is not None:
            out.append(open_parts)
            open_parts = None
    if open_parts:
        out.append(open_parts)
    return [q for q in out if q]


# -- sentences ----------------------------------------------------------------------------------------------


def _sentence_bounds(text: str, start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
    """The reporter's sentence around [start, end) within a paragraph [lo, hi): ends at . ? ! outside quotes;
    at most _CONTEXT characters either side of the quotation."""
    lo, hi = max(lo, start - _CONTEXT), min(hi, end + _CONTEXT)
    left = lo
    for m in _SENTENCE_END.finditer(text, lo, min(hi, start + 1)):
        # the word before the mark (an abbreviation is at most a few characters: 64 are plenty to tell)
        word = re.search(r"\S*$", text[max(lo, m.start() - 63) : m.start() + 1]).group(0).lower()
        if word in ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)+", word):
            continue  # `U.N. Charter`, `Sen. Alan Cranston`: not a sentence end
        left = m.end()
    right = hi
    m = re.search(r"[.?!](?=\s+[\"\u201c]?[A-Z]|\s*$)", text[end + 1 : hi])
    if m:
        right = end + 1 + m.end()
    return left, right


def _words(fragment: str) -> list[str]:
    return re.findall(r"[\w'\u2019.-]+", fragment)


def _may_say(fragment: str) -> bool:
    """False only when no run of letters is a verb of saying: spares the word-by-word look at long text."""
    return not SAYING_SET.isdisjoint(re.findall(r"[a-z]+", fragment.lower()))


def _has_saying(fragment: str) -> bool:
    return _may_say(fragment) and any(w.lower().strip(".") in SAYING_SET for w in _words(fragment))


def _kind(text: str, parts: list[tuple[int, int]], sentence_start: int, sentence: str, head: str,
          has_speaker: bool) -> str:
    """full, partial or term, from where the quotation sits in its sentence and what it holds."""
    inner = " ".join(text[a:b] for a, b in parts)
    words = _words(inner)
    head_stripped = head.rstrip()
    last_word = head_stripped.split()[-1].lower().strip(",:") if head_stripped.split() else ""
    initial = not head_stripped or head_stripped.endswith((".", "?", "!", ":"))
    direct = (last_word in SAYING_SET and last_word not in EXPRESSING) or initial  # `expressed "grave concern"`
    if len(words) <= 1 and not direct:
        return "term"
    before = head_stripped.split()[-1] if head_stripped.split() else ""
    if before.lower() == "so-called":
        return "term"  # `so-called "countervailing duties"`: a name for a thing
    if len(words) <= 3 and before[:1].isupper() and before.endswith(("'s", "\u2019s")):
        return "term"  # `Russia's "special operation"`: someone's label for a thing, not a speaker's words
    titled = len(words) <= 6 and all(w[:1].isupper() or w.lower() in CONNECTORS for w in words) and not initial
    if titled and not (last_word in SAYING_SET):
        return "term"
    if direct:
        return "full"
    if inner[:1].isupper() and _has_saying(head):
        return "full"
    if not has_speaker and not _has_saying(sentence):
        return "term"
    return "partial"


def _inside(spans: list[tuple[int, int]]) -> Callable[[int], bool]:
    """A test of whether a position lies in one of the spans, by bisection."""
    spans = sorted(spans)
    starts = [a for a, _ in spans]
    reach: list[int] = []  # the furthest end of the spans up to each one
    for _, b in spans:
        reach.append(max(b, reach[-1]) if reach else b)

    def inside(pos: int) -> bool:
        k = bisect_right(starts, pos)
        return k > 0 and pos < reach[k - 1]

    return inside


# -- the whole article -------------------------------------------------------------------------------------


def locate(text: str) -> list[Spot]:
    """Every quotation of the text by its marks, a split one (`"We are," Putin said, "sure."`) as one."""
    paragraphs = _paragraphs(text)
    merged: list[list[tuple[int, int]]] = []
    for parts in _raw_quotes(text):
        if merged:
            prev = merged[-1]
            gap = text[prev[-1][1] : parts[0][0]]
            if (text[prev[-1][0] : prev[-1][1]].rstrip().endswith(",") and len(gap) <= 90 and "\n" not in gap
                    and _has_saying(gap) and re.search(r",\s*[\"\u201c]$", gap)):
                merged[-1] = prev + parts
                continue
        merged.append(list(parts))
    starts = [lo for lo, _ in paragraphs]

    def paragraph_of(pos: int, default: int) -> int:
        k = bisect_right(starts, pos) - 1
        return k if k >= 0 and pos <= paragraphs[k][1] else default

    spots = []
    for parts in merged:
        start, end = parts[0][0], parts[-1][1]
        p_first = paragraph_of(start, 0)
        p_last = paragraph_of(end, p_first)
        s_lo, s_hi = _sentence_bounds(text, start, end, paragraphs[p_first][0], paragraphs[p_last][1])
        spots.append(Spot(tuple(parts), (s_lo, s_hi), (p_first, p_last), text[s_lo : max(s_lo, start - 1)]))
    return spots


def to_parse(text: str, spots: Sequence[Spot], before: int | None = None) -> list[tuple[int, int]]:
    """The stretches of text to parse: the paragraphs up to the last one that holds a quotation (`before`: only
    that many paragraphs before each such paragraph; None: all of them), at most _PARSED characters in all; a
    paragraph over _PARAGRAPH characters is cut to the sentences around its quotations."""
    if not spots:
        return []
    paragraphs = _paragraphs(text)
    quoted = sorted({p for s in spots for p in range(s.paragraphs[0], s.paragraphs[1] + 1)})
    wanted = set(range(quoted[-1] + 1)) if before is None else {
        k for p in quoted for k in range(max(0, p - before), p + 1)}
    sentences = sorted(s.sentence for s in spots)
    out: list[tuple[int, int]] = []
    total = 0
    for k in sorted(wanted):
        lo, hi = paragraphs[k]
        if hi - lo > _PARAGRAPH:
            pieces = [(max(lo, a), min(hi, b)) for a, b in sentences if a < hi and b > lo]
        else:
            pieces = [(lo, hi)]
        for a, b in pieces:
            if out and a <= out[-1][1]:
                a = out[-1][1]
            if b <= a:
                continue
            if total + b - a > _PARSED:
                return out
            out.append((a, b))
            total += b - a
    return out


def _found(text: str, spots: Sequence[Spot], units: Sequence[tuple[int, Doc]]) -> list[Found]:
    """The quotations with kinds and speakers, from their spots and the parse of their paragraphs."""
    quoted = [(a - 1, b + 1) for s in spots for a, b in s.parts]  # the marks with the words between
    inside = _inside(quoted)
    attribution = Attribution(text, units, inside)
    paragraphs = _paragraphs(text)
    found: list[Found] = []
    last: tuple[Speaker | None, int] = (None, -10)
    for spot in spots:
        where = (paragraphs[spot.paragraphs[0]][0], paragraphs[spot.paragraphs[1]][1])
        quoted = Quoted(spot.parts, spot.sentence, where)
        speaker = attribution.speaker(quoted)
        s_lo, s_hi = spot.sentence
        kind = _kind(text, list(spot.parts), s_lo, text[s_lo:s_hi], spot.head, speaker is not None)
        if kind != "term" and speaker is None and last[0] and spot.paragraphs[0] - last[1] <= 1 \
                and spot.sentence[0] == where[0] and not attribution.has_verb(quoted):
            speaker = last[0]  # an unattributed quotation right after an attributed one continues it
        if kind == "term":
            speaker = None
        elif speaker:
            last = (speaker, spot.paragraphs[1])
        found.append(Found(spot.parts[0][0], spot.parts[-1][1], spot.parts, kind,
                           speaker.name if speaker else None, speaker.role if speaker else None,
                           speaker.kind if speaker else None))
    return found


def _names_someone(paragraph: str) -> bool:
    """Whether the entity recognizer should read a paragraph: one with a quotation mark or a verb of saying
    (the others, a fifth of the text parsed, change no speaker on the labelled set)."""
    return STRAIGHT in paragraph or OPENING in paragraph or _may_say(paragraph)


def iter_batch(texts: Iterable[str], batch_size: int = nlp.BATCH) -> Iterator[list[Found]]:
    """The quotations of each text, in order, parsing the paragraphs of all texts in one stream of batches."""
    plans = [(text, spots) for text in texts for spots in (locate(text),)]
    jobs = [(k, lo, hi) for k, (text, spots) in enumerate(plans) for lo, hi in to_parse(text, spots)]
    docs = nlp.parse((plans[k][0][lo:hi] for k, lo, hi in jobs), batch_size=batch_size, entities=_names_someone) \
        if jobs else iter(())
    parsed = groupby(zip(jobs, docs), key=lambda job_doc: job_doc[0][0])
    pending = next(parsed, None)
    for k, (text, spots) in enumerate(plans):
        units: list[tuple[int, Doc]] = []
        if pending is not None and pending[0] == k:
            units = [(lo, doc) for (_, lo, _), doc in pending[1]]
            pending = next(parsed, None)
        yield _found(text, spots, units) if spots else []


def extract_batch(texts: Sequence[str], batch_size: int = nlp.BATCH) -> list[list[Found]]:
    """The quotations of many articles: one parse stream over all of them (what a build should call)."""
    return list(iter_batch(texts, batch_size))


def extract_quotations(text: str) -> list[Found]:
    """Every quotation of the text, in order, with its kind, speaker, role and speaker kind (None: unattributed)."""
    return extract_batch([text])[0]
