"""News pages saved as plain text: strip menus, captions and credits; keep title, date, URL, body."""

from __future__ import annotations

import re

from search.models import Article

from .base import ParseError, content_id, parse_date, source_for_url, url_id
from .clean import assemble, collapse, is_heading, normalize

_URL = re.compile(r"https?://\S+")
_MENU = re.compile(r"\d{1,2}\.\s+\S.*")
_SKIP = re.compile(r"(?:\d{1,2}\.\s+)?Skip to\b.*", re.IGNORECASE)
# a photo credit, at the start of a line or glued to the caption sentence before it
_CREDIT = re.compile(r"(?:^|(?<=[.!?\"'”’)\s]))(?:Image|Photo|Picture|Photograph|Credit)s?:\s*(\S.*)$")
_CREDIT_WORDS = 12
_CAPTION_LINES = 2  # caption lines before a credit that belong to it
# closing wire credit: editors' initials and the agencies, "kb,lo/msh (AP, AFP, dpa, Reuters)"
_AGENCIES = re.compile(r"(?:[a-z]{1,6}(?:\s*[,/]\s*[a-z]{1,6})*\s*)?\(([^()]{1,100})\)")
_MENU_WORDS = 8
_DATE_WORDS = 8
_DATE_BLOCKS = 3  # the date sits among the first blocks after the title


def _blocks(text: str) -> list[list[str]]:
    """Blank-line separated blocks of non-empty, space-collapsed lines."""
    blocks: list[list[str]] = [[]]
    for line in normalize(text).split("\n"):
        line = collapse(line)
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _is_menu(line: str) -> bool:
    """A numbered navigation entry ("1. Skip to content") or any "Skip to" link."""
    return len(line.split()) <= _MENU_WORDS and bool(_SKIP.fullmatch(line) or _MENU.fullmatch(line))


def _is_date(line: str) -> bool:
    """A short line that is a full calendar date."""
    return len(line.split()) <= _DATE_WORDS and any(c.isdigit() for c in line) and parse_date(line) is not None


def _drop_captions(lines: list[str]) -> list[str]:
    """Remove each photo credit line and the caption lines just before it."""
    kept: list[str] = []
    for line in lines:
        match = _CREDIT.search(line)
        if match and len(match.group(1).split()) <= _CREDIT_WORDS:
            del kept[max(0, len(kept) - _CAPTION_LINES):]
        else:
            kept.append(line)
    return kept


def _agencies(paragraph: str) -> tuple[str, ...] | None:
    """The agencies of a closing credit line, None when the paragraph is not one."""
    match = _AGENCIES.fullmatch(paragraph)
    if not match:
        return None
    names = tuple(n.strip() for n in match.group(1).split(","))
    if all(n and n[0].isalpha() and len(n.split()) <= 4 for n in names):
        return names
    return None


def parse_pagetext(text: str, origin: str, key: str | None = None) -> Article:
    """One page-text article; ParseError when it has no title or no body text."""
    blocks = _blocks(text)
    while blocks and all(_is_menu(line) for line in blocks[0]):
        blocks.pop(0)
    lines = [line for block in blocks for line in block]
    url: str | None = None
    title = None
    for i, line in enumerate(lines):
        if _URL.fullmatch(line):
            url = url or line
        elif not _is_menu(line):
            title = line
            blocks = _rest_after(blocks, i + 1)
            break
    if title is None:
        raise ParseError("no title")
    date = None
    paragraphs: list[tuple[str, bool]] = []  # (text, single line) per block
    for index, block in enumerate(blocks):
        segment: list[str] = []
        kept: list[str] = []
        for line in block:
            if _URL.fullmatch(line):
                url = url or line
                kept += _drop_captions(segment)  # captions never run across the URL line
                segment = []
            elif date is None and index < _DATE_BLOCKS and _is_date(line):
                date = parse_date(line)
            elif not (_SKIP.fullmatch(line) and _is_menu(line)):
                segment.append(line)
        kept += _drop_captions(segment)
        if kept:
            paragraphs.append((" ".join(kept), len(kept) == 1))
    agencies: tuple[str, ...] = ()
    if len(paragraphs) > 1 and paragraphs[-1][1]:
        found = _agencies(paragraphs[-1][0])
        if found is not None:
            agencies = found
            paragraphs.pop()
    if not paragraphs:
        raise ParseError("no body text")
    last = len(paragraphs) - 1
    parts = [(p, single and 0 < i < last and is_heading(p)) for i, (p, single) in enumerate(paragraphs)]
    if all(heading for _, heading in parts):
        raise ParseError("no body text")
    body, headings = assemble(parts)
    article_id = url_id(url) if url else content_id(key or origin, text)
    return Article(id=article_id, title=title, text=body, date=date, source=source_for_url(url), url=url,
                   agencies=agencies, headings=headings, origin=origin)


def _rest_after(blocks: list[list[str]], consumed: int) -> list[list[str]]:
    """The blocks left once the first `consumed` lines (up to the title) are taken."""
    rest: list[list[str]] = []
    for block in blocks:
        if consumed >= len(block):
            consumed -= len(block)
            continue
        rest.append(block[consumed:])
        consumed = 0
    return rest
