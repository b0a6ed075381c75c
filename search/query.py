"""The question as typed: quoted phrases, -excluded terms, free words; and the request's limits."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import BadQuery
from .models import (
    FUSIONS, GROUPS, MAX_DEPTH, MAX_K, MAX_QUERY_CHARS, MAX_SOURCES, MAX_SPEAKER_CHARS, MODES, SORTS, TYPES,
    SearchRequest,
)
from .text import QUESTION_WORDS, normalize, tokenize

_PHRASE = re.compile(r'(-?)["“”„«»]([^"“”„«»]*)["“”„«»]')
_EXCLUDE = re.compile(r"(?:^|(?<=\s))-(\w[\w'’.-]*)")


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """What each part of the engine needs from the question."""

    text: str  # what the dense leg embeds: the question without exclusions or quote marks
    tokens: tuple[str, ...]  # BM25 tokens of `text`
    phrases: tuple[str, ...]  # must appear verbatim (case-insensitive) in the hit
    excluded: tuple[str, ...]  # analyzer tokens whose articles are dropped
    excluded_phrases: tuple[str, ...]

    @property
    def marked_terms(self) -> tuple[str, ...]:
        """The stems a hit marks: the question's and its phrases', without question words ("what", "did")."""
        phrase_terms = [t for p in self.phrases for t in tokenize(p)]
        return tuple(t for t in dict.fromkeys([*self.tokens, *phrase_terms]) if t not in QUESTION_WORDS)


def parse_question(q: str) -> ParsedQuery:
    """Split "a question" with "quoted phrases" and -minus terms into its parts."""
    phrases: list[str] = []
    excluded_phrases: list[str] = []

    def take(match: re.Match[str]) -> str:
        words = " ".join(match.group(2).split())
        if words:
            (excluded_phrases if match.group(1) else phrases).append(words)
        return " " if match.group(1) else f" {words} "

    rest = _PHRASE.sub(take, q)
    excluded = [t for m in _EXCLUDE.finditer(rest) for t in tokenize(m.group(1))]
    text = " ".join(_EXCLUDE.sub(" ", rest).split())
    return ParsedQuery(
        text=text,
        tokens=tuple(tokenize(text)),
        phrases=tuple(phrases),
        excluded=tuple(dict.fromkeys(excluded)),
        excluded_phrases=tuple(excluded_phrases),
    )


def contains_phrase(haystack: str, phrase: str) -> bool:
    """Verbatim, case-insensitive, white space folded: how people expect quoted phrases to match."""
    return " ".join(phrase.split()).casefold() in " ".join(normalize(haystack).split())


def _choice(value: str, allowed: tuple[str, ...], param: str) -> None:
    if value not in allowed:
        raise BadQuery(f"{param} must be one of {', '.join(allowed)}; got {value!r}", param)


def validate(request: SearchRequest) -> SearchRequest:
    """Refuse what the engine cannot answer, naming the parameter at fault."""
    if not request.q or not request.q.strip():
        raise BadQuery("q is required: type a question", "q")
    if len(request.q) > MAX_QUERY_CHARS:
        raise BadQuery(f"q is {len(request.q)} characters; at most {MAX_QUERY_CHARS}", "q")
    _choice(request.mode, MODES, "mode")
    _choice(request.fusion, FUSIONS, "fusion")
    _choice(request.sort, SORTS, "sort")
    _choice(request.group, GROUPS, "group")
    _choice(request.type, TYPES, "type")
    if request.speaker is not None and not 0 < len(request.speaker.strip()) <= MAX_SPEAKER_CHARS:
        raise BadQuery(f"speaker must be a name of 1 to {MAX_SPEAKER_CHARS} characters", "speaker")
    if not 0.0 <= request.alpha <= 1.0:
        raise BadQuery(f"alpha must be between 0 and 1; got {request.alpha}", "alpha")
    if not 1 <= request.k <= MAX_K:
        raise BadQuery(f"k must be between 1 and {MAX_K}; got {request.k}", "k")
    if request.page < 1:
        raise BadQuery(f"page must be 1 or more; got {request.page}", "page")
    if request.page * request.k > MAX_DEPTH:
        raise BadQuery(f"page * k must be at most {MAX_DEPTH}; got {request.page * request.k}", "page")
    if request.date_from and request.date_to and request.date_from > request.date_to:
        raise BadQuery(f"date_from {request.date_from} is after date_to {request.date_to}", "date_from")
    if len(request.sources) > MAX_SOURCES:
        raise BadQuery(f"at most {MAX_SOURCES} source values; got {len(request.sources)}", "source")
    parsed = parse_question(request.q)
    if not parsed.text and not parsed.phrases:
        raise BadQuery("q has nothing to search for once -excluded terms are removed", "q")
    return request
