"""Saved HTML news pages: main text and metadata through trafilatura, not hand-written regexes."""

from __future__ import annotations

import logging

import trafilatura

from search.models import Article

from .base import ParseError, content_id, domain, parse_date, source_for_url, url_id
from .clean import assemble, clean_paragraphs, collapse, normalize

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # its "empty document" warnings become Problems here


def _parts(document: object, title: str) -> list[tuple[str, bool]]:
    """(paragraph, is_heading) from trafilatura's body tree; its <head> elements are the subheadings."""
    body = getattr(document, "body", None)
    if body is None or not len(body):
        return [(p, False) for p in clean_paragraphs(getattr(document, "text", None) or "", lines_are_paragraphs=True)]
    parts: list[tuple[str, bool]] = []
    for element in body:
        if element.tag == "list":
            pieces = ["".join(item.itertext()) for item in element]
        else:
            pieces = ["".join(element.itertext())]
        for piece in pieces:
            for paragraph in clean_paragraphs(piece, lines_are_paragraphs=True):
                parts.append((paragraph, element.tag == "head"))
    if parts and parts[0][1] and parts[0][0] == title:
        parts.pop(0)  # the page's own h1 repeats the title, which is not part of the text
    return parts


def parse_html(html: str, origin: str, key: str | None = None) -> Article:
    """One HTML page as an article; ParseError when trafilatura finds no main text."""
    try:
        document = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False)
    except Exception as exc:  # trafilatura and lxml raise many types on broken markup
        raise ParseError(f"HTML extraction failed: {type(exc).__name__}: {exc}"[:200]) from exc
    if document is None:
        raise ParseError("no text")
    title = collapse(normalize(getattr(document, "title", None) or ""))
    parts = _parts(document, title)
    while parts and parts[-1][1]:
        parts.pop()  # a heading with nothing under it is page furniture
    if not any(not heading for _, heading in parts):
        raise ParseError("no text")
    text, headings = assemble(parts)
    url = getattr(document, "url", None) or None
    source = getattr(document, "sitename", None) or source_for_url(url) or getattr(document, "hostname", None)
    return Article(
        id=url_id(url) if url else content_id(key or origin, html),
        title=title,
        text=text,
        date=parse_date(getattr(document, "date", None)),
        source=collapse(normalize(source)) if source else domain(url),
        url=url,
        headings=headings,
        origin=origin,
    )
