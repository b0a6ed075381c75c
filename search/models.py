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
