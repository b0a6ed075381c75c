"""One article per JSON line (own format, Reuters-21578, BEIR corpora), streamed line by line."""

from __future__ import annotations

import json
import re
import string
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from search.models import Article

from .base import ParseError, Problem, content_id, parse_date, printable_path, source_for_url, url_id
from .clean import clean_paragraphs, collapse, normalize
from .decode import MAX_ARTICLE_BYTES, decode_bytes, open_binary, over_limit

ID_FIELDS = ("id", "_id")
TITLE_FIELDS = ("title", "headline")
TEXT_FIELDS = ("text", "body", "content")
DATE_FIELDS = ("date", "published", "published_at", "dateline")
URL_FIELDS = ("url", "link")
_SIGN_OFF = re.compile(r"\n[^\S\n]*reuter[^\S\n]*$", re.IGNORECASE)
_SNIFF_BYTES = 8192
_MAX_NUL_RATIO = 0.01
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")  # from a "\ud800" JSON escape
_SKIP_BYTES = 1024 * 1024  # the rest of a line over the limit is skipped in pieces of this size


def _first_str(obj: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    """The first of the alias fields that holds a non-blank string."""
    for name in fields:
        value = obj.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return None


_DATELINE = re.compile(r"\s*(.+?),\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2}\b.*$", re.DOTALL)


def dateline_place(dateline: str | None) -> str | None:
    """The place of a wire dateline ("SALVADOR, Feb 26" -> "Salvador"); the date part is read as a date elsewhere."""
    if not dateline:
        return None
    line = collapse(normalize(dateline))
    m = _DATELINE.match(line)
    place = (m.group(1) if m else line).strip(" ,-")
    if not place or any(ch.isdigit() for ch in place) or len(place) > 80:
        return None
    return string.capwords(place) if place.isupper() else place


def _body(raw: str) -> str:
    """Cleaned paragraphs of a wire body, without the "Reuter" sign-off."""
    return "\n\n".join(clean_paragraphs(_SIGN_OFF.sub("", "\n" + normalize(raw).rstrip())))


def parse_record(obj: dict[str, Any], origin: str, key: str | None = None) -> tuple[Article, list[Problem]]:
    """One JSON object as an article, with the non-skipping problems found; ParseError when it has no text."""
    problems: list[Problem] = []
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    title = collapse(normalize(_first_str(obj, TITLE_FIELDS) or ""))
    text = _body(_first_str(obj, TEXT_FIELDS) or "")
    if not text and not title:
        raise ParseError("no text")
    if not text:
        text = title  # a headline-only brief (Reuters' BRIEF): the headline is the news
    url = _first_str(obj, URL_FIELDS)
    url = normalize(url).strip() or None if url else None  # no lone surrogate may reach the store
    own_id = next((obj[f] for f in ID_FIELDS if isinstance(obj.get(f), (str, int)) and not isinstance(obj[f], bool)
                   and str(obj[f]).strip()), None)
    if own_id is not None:
        article_id = str(own_id)
        if _LONE_SURROGATE.search(article_id):  # kept exactly as given, so it cannot be cleaned: the line is skipped
            raise ParseError(f"id {article_id[:80]!r} is not valid Unicode (a lone surrogate)")
    elif url:
        article_id = url_id(url)
    else:
        article_id = content_id(key or origin, json.dumps(obj, sort_keys=True, ensure_ascii=True, default=str))
    raw_dates = [v for v in (*(obj.get(f) for f in DATE_FIELDS), meta.get("date")) if v not in (None, "")]
    date = next((d for d in map(parse_date, raw_dates) if d), None)
    if date is None and raw_dates:
        problems.append(Problem(origin, f"unparseable date {str(raw_dates[0])[:80]!r}", False))
    source = _first_str(obj, ("source",)) or _first_str(meta, ("source",)) or source_for_url(url)
    source = collapse(normalize(source)) or None if source else None
    agencies = obj.get("agencies")
    agencies = tuple(filter(None, (collapse(normalize(a)) for a in agencies if isinstance(a, str)))) \
        if isinstance(agencies, list) else ()
    article = Article(id=article_id, title=title, text=text, date=date, source=source,
                      url=url, agencies=agencies, origin=origin, dateline=dateline_place(_first_str(obj, ("dateline",))))
    return article, problems


def parse_line(line: bytes, origin: str, key: str) -> Iterator[Article | Problem]:
    """One JSONL line: decoded, parsed and checked; bad content becomes Problems."""
    try:
        text, encoding = decode_bytes(line)
    except ParseError as exc:
        yield Problem(origin, exc.reason.replace("file", "line"), True)
        return
    if encoding:
        yield Problem(origin, f"decoded as {encoding}", False)
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        yield Problem(origin, f"not JSON: {exc}"[:200], True)
        return
    if not isinstance(obj, dict):
        yield Problem(origin, f"not a JSON object (got {type(obj).__name__})", True)
        return
    try:
        article, problems = parse_record(obj, origin, key)
    except ParseError as exc:
        yield Problem(origin, exc.reason, True)
        return
    yield from problems
    yield article


def bounded_lines(handle: BinaryIO, limit: int) -> Iterator[bytes | None]:
    """Each line of a binary stream as read (with its LF or CRLF), or None for a line whose bytes without that
    end are over `limit`: it is cut after limit + 2 bytes and its rest skipped in 1 MB pieces, so memory never
    holds more than limit + 2 bytes of a line however long it is (a multi-GB line, a gzip bomb)."""
    while line := handle.readline(limit + 2):
        if line.endswith(b"\n"):
            size = len(line) - (2 if line.endswith(b"\r\n") else 1)
        else:
            size = len(line)  # the last line without its newline, or a line cut at limit + 2 bytes
            if size > limit:
                while (rest := handle.readline(_SKIP_BYTES)) and not rest.endswith(b"\n"):
                    pass
        yield line if size <= limit else None


def read_jsonl(path: Path, key: str, limit: int = MAX_ARTICLE_BYTES) -> Iterator[Article | Problem]:
    """Every line of a (possibly gzipped) JSONL file, streamed; never the whole file in memory, nor more than
    `limit` bytes of one line: a longer line is skipped as a Problem and reading goes on with the next one."""
    origin = printable_path(path)
    line_no = 0
    try:
        with open_binary(path) as handle:
            head = handle.read(_SNIFF_BYTES)
        if not head.strip():
            yield Problem(origin, "empty file", True)
            return
        if head.count(b"\x00") > _MAX_NUL_RATIO * len(head):  # a stray NUL is one bad line, not a binary file
            yield Problem(origin, "binary file (NUL bytes)", True)
            return
        with open_binary(path) as handle:
            for line_no, line in enumerate(bounded_lines(handle, limit), start=1):
                if line is None:
                    yield Problem(f"{origin}:{line_no}", over_limit(limit), True)
                elif not line.isspace():
                    yield from parse_line(line, f"{origin}:{line_no}", f"{key}:{line_no}")
    except (OSError, EOFError, zlib.error) as exc:
        where = f"{origin}:{line_no + 1}" if line_no else origin
        yield Problem(where, f"cannot read: {exc}", True)
