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

    @property
    def day(self) -> dt.date | None:
        """The calendar day, which filters and date sorting work on."""
        return dt.date.fromisoformat(self.date[:10]) if self.date else None


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
    text: str  # the spoken words: the parts joined by a space
    speaker: str | None
    role: str | None
    kind: str


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


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of hits and how many articles (or passages) matched in all."""

    query: str
    mode: str
    took_ms: float
    total: int
    page: int
    k: int
    hits: tuple[Hit | QuoteHit, ...]
    type: str = "articles"
    speakers: tuple[tuple[str, int], ...] = ()  # type=quotes: speakers of the matching quotations, with counts
