"""Shared pieces of the input readers: problems, errors, ids, outlets and dates."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dateutil import parser as date_parser

from search.layout import sha256_file

FORMATS = ("pagetext", "jsonl", "html")

# Known domains -> outlet names; any other domain is its own source name (without "www.").
OUTLETS = {
    "dw.com": "DW",
    "dw.de": "DW",
    "reuters.com": "Reuters",
    "bbc.co.uk": "BBC",
    "bbc.com": "BBC",
    "apnews.com": "AP",
    "nytimes.com": "The New York Times",
    "theguardian.com": "The Guardian",
    "guardian.co.uk": "The Guardian",
    "aljazeera.com": "Al Jazeera",
    "cnn.com": "CNN",
    "washingtonpost.com": "The Washington Post",
    "wsj.com": "The Wall Street Journal",
    "ft.com": "Financial Times",
    "bloomberg.com": "Bloomberg",
    "npr.org": "NPR",
    "france24.com": "France 24",
    "afp.com": "AFP",
    "euronews.com": "Euronews",
    "spiegel.de": "Der Spiegel",
    "lemonde.fr": "Le Monde",
}


@dataclass(frozen=True)
class Problem:
    """One bad input, reported instead of raised so a rebuild never stops on it."""

    origin: str  # "path" or "path:line"
    reason: str
    skipped: bool  # False: the article was kept (e.g. without its date)

    def __post_init__(self) -> None:
        object.__setattr__(self, "origin", printable_path(self.origin))


def printable_path(name: str | Path) -> str:
    """A file name as text that prints and stores anywhere: bytes that are not UTF-8 (kept by Python as lone
    surrogates) become backslash escapes, so "\xff-page.txt" cannot crash SQLite, JSON or the terminal."""
    return os.fsencode(str(name)).decode("utf-8", "backslashreplace")


def file_info(path: Path, fmt: str) -> dict[str, Any]:
    """What a build's manifest lists for a source file it read (OSError when the file cannot be read)."""
    return {"path": printable_path(path), "format": fmt, "sha256": sha256_file(path), "bytes": path.stat().st_size}


class ParseError(Exception):
    """Content that cannot become an article; the reader turns it into a skipped Problem."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _digest(text: str) -> str:
    """16 hex digits of SHA-1; surrogates pass so odd strings still hash the same every run."""
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def url_id(url: str) -> str:
    """Stable article id from its URL, so re-saving a page keeps its id."""
    return "u-" + _digest(url)


def content_id(key: str, content: str) -> str:
    """Stable article id from where it was read (relative path, line) and what it says."""
    return "h-" + _digest(f"{key}\0{content}")


def domain(url: str | None) -> str | None:
    """The host of a URL, lower case and without "www."; None when it has none."""
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def source_for_url(url: str | None) -> str | None:
    """The outlet name of a URL: a known outlet's name, else the bare domain."""
    host = domain(url)
    if host is None:
        return None
    for known, name in OUTLETS.items():
        if host == known or host.endswith("." + known):
            return name
    return host


_DEFAULT_A = dt.datetime(1, 1, 1, 0, 0, 0)
_DEFAULT_B = dt.datetime(2, 2, 2, 1, 1, 1)


def parse_date(raw: object) -> str | None:
    """ISO 8601 of a date string ("2015-06-29" or with its time), None when year, month or day is missing."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 80:
        return None
    text = raw.strip()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unknown time zone names: the time stays naive
            a = date_parser.parse(text, default=_DEFAULT_A)
            b = date_parser.parse(text, default=_DEFAULT_B)
    except Exception:  # dateutil raises several types (ValueError, OverflowError, ...) on odd input
        return None
    if (a.year, a.month, a.day) != (b.year, b.month, b.day):
        return None  # a part was filled from the default, e.g. a dateline without a year
    if a.hour != b.hour:
        return a.date().isoformat()
    try:
        return a.replace(microsecond=0).isoformat(timespec="seconds")
    except (ValueError, OverflowError):
        return None
