"""Data types shared by the indexer, the search library and the web app."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Heading:
    """A subheading inside an article's text, kept apart so it is never a body sentence."""

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Article:
    """One cleaned article: `text` holds paragraphs split by blank lines, headings among them."""

    id: str
    title: str
    text: str
    date: str | None = None  # ISO 8601: "2015-06-29" or "1987-02-26T15:01:01"
    source: str | None = None  # outlet or agency that published it ("DW", "Reuters")
    url: str | None = None
    agencies: tuple[str, ...] = ()  # wire agencies credited at the end ("AFP", "AP")
    headings: tuple[Heading, ...] = ()
    origin: str = ""  # where it was read from: "path" or "path:line"
    dateline: str | None = None  # the wire's place line ("SALVADOR"), kept apart from the date

    @property
    def day(self) -> dt.date | None:
        """The calendar day, which filters work on."""
        return dt.date.fromisoformat(self.date[:10]) if self.date else None

    @property
    def has_time(self) -> bool:
        """Whether the source gave a time of day, not only the day."""
        return bool(self.date and len(self.date) > 10)

    @property
    def headline(self) -> str:
        """The title, or for an article without one its first sentence (cut to HEADLINE_WORDS words)."""
        return self.title or first_sentence(self.text)


HEADLINE_WORDS = 20


def first_sentence(text: str, words: int = HEADLINE_WORDS) -> str:
    """The opening sentence of a text (to its first . ? or ! followed by a space), at most `words` words, "…" if cut."""
    head = " ".join(text.split("\n\n", 1)[0].split())
    for i, ch in enumerate(head):
        if ch in ".?!" and (i + 1 == len(head) or head[i + 1] == " ") and i > 20:
            head = head[: i + 1]
            break
    cut = head.split()
    return " ".join(cut[:words]) + ("…" if len(cut) > words else "")


@dataclass(frozen=True, slots=True)
class Passage:
    """A run of whole sentences of one article: `article.text[start:end] == text`."""

    article_id: str
    ordinal: int
    start: int
    end: int
    text: str
    heading: str | None = None


MODES = ("hybrid", "bm25", "dense")
FUSIONS = ("rrf", "linear")
SORTS = ("relevance", "date")
GROUPS = ("article", "passage")
TYPES = ("articles", "quotes")  # what a hit is: an article (with its best passage) or one quotation
QUOTE_KINDS = ("full", "partial", "term")
SPEAKER_KINDS = ("person", "organization", "description")
SPEAKER_NAMED = ("person", "organization")
TOTAL_RELATIONS = ("eq", "gte")  # total is exact, or a lower bound (Elasticsearch's hits.total.relation)
MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_DEPTH = 1000  # page * k: deeper pages cost more than any reader will page through
MAX_SOURCES = 20
MAX_SPEAKER_CHARS = 200


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One question and its options, already parsed; `validate()` checks the limits."""

    q: str
    mode: str = "hybrid"
    fusion: str = "linear"  # beat RRF on 5 of the 6 ir-classic sets and on TIME (docs/evaluation.md)
    alpha: float = 0.7  # weight of the dense leg with fusion="linear"
    k: int = 10
    page: int = 1
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sources: tuple[str, ...] = ()
    sort: str = "relevance"
    group: str = "article"
    type: str = "articles"
    speaker: str | None = None  # only quotations of this speaker (full name, or its last words: "Putin")
    offset: int | None = None  # hits skipped before this page; None: (page - 1) * k

    @property
    def start(self) -> int:
        """How many hits of the ranking come before this page."""
        return self.offset if self.offset is not None else (self.page - 1) * self.k


@dataclass(frozen=True, slots=True)
class Span:
    """A marked range of the article text: `lexical` for a matched term, `semantic` for the chosen sentence."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class Quote:
    """The sentence (or the quotation inside it) that best answers the question; offsets in the article."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Quotation:
    """Words an article quotes: `parts` are the quoted runs without their marks, in article offsets.

    `start`/`end` cover all parts (`article.text[start:end]` is the quoted text; a quotation split around its
    attribution keeps the attribution between its parts). `kind` is full (direct speech), partial (a phrase
    quoted inside the reporter's sentence) or term (scare quotes, never shown as anyone's words).
    """

    article_id: str
    start: int
    end: int
    parts: tuple[tuple[int, int], ...]
    text: str  # the spoken words: the parts joined, " … " where the attribution stood between them
    speaker: str | None  # a name ("Vladimir Putin") or a description as written ("a ministry spokesman")
    role: str | None
    kind: str
    speaker_kind: str | None = None  # person | organization | description (an unnamed source); None: unattributed

    @property
    def named(self) -> bool:
        """Said by a named person or organisation: only those are speakers in facets and /api/speakers."""
        return self.speaker is not None and self.speaker_kind in SPEAKER_NAMED


@dataclass(frozen=True, slots=True)
class Scores:
    """Why a hit ranks where it does: each leg's score and rank for its best passage, and the fused score."""

    bm25: float | None
    bm25_rank: int | None
    dense: float | None
    dense_rank: int | None
    fused: float


@dataclass(frozen=True, slots=True)
class Hit:
    """One result: an article with its best passage (or one passage with group="passage")."""

    rank: int
    article_id: str
    title: str
    source: str | None
    url: str | None
    date: str | None
    score: float
    scores: Scores
    passage: Passage
    quote: Quote | None
    highlights: tuple[Span, ...]
    more_passages: tuple[Passage, ...] = ()
    quotations: tuple[Quotation, ...] = ()  # the article's quotations that match the question
    more_highlights: tuple[tuple[Span, ...], ...] = ()  # the matched words of each of more_passages, article offsets
    dateline: str | None = None


@dataclass(frozen=True, slots=True)
class QuoteHit:
    """One result of type=quotes: a quotation with its article's title, source and date."""

    rank: int
    quotation: Quotation
    title: str
    source: str | None
    url: str | None
    date: str | None
    score: float
    scores: Scores
    highlights: tuple[Span, ...]  # lexical matches inside the quotation, article offsets
    speaker_named: bool = False  # the question named this speaker, which ranked it first
    dateline: str | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the reader should know about the answer: `code` for programs, `message` for people."""

    code: str  # not_english | no_match | weak_only
    message: str


@dataclass(frozen=True, slots=True)
class Facets:
    """Counts over every match of the question (not only the page): what a click on the value would return."""

    sources: tuple[tuple[str, int], ...] = ()
    speakers: tuple[tuple[str, int], ...] = ()  # named people and organisations only
    unnamed: int = 0  # matches quoting only unnamed sources ("a ministry spokesman")


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of hits and how many articles (or passages, or quotations) matched in all."""

    query: str
    mode: str
    took_ms: float
    total: int
    page: int
    k: int
    hits: tuple[Hit | QuoteHit, ...]
    type: str = "articles"
    total_relation: str = "eq"  # eq: total is exact; gte: at least total
    facets: Facets = Facets()
    notices: tuple[Notice, ...] = ()
    near_misses: tuple[Hit | QuoteHit, ...] = ()  # weak matches, shown apart, when nothing matched well
    offset: int = 0  # hits of the ranking before this page

    @property
    def speakers(self) -> tuple[tuple[str, int], ...]:
        """The speaker facet (kept under its first name for the page)."""
        return self.facets.speakers
