"""Text cleaning shared by every format: control characters, hard wraps, paragraphs and headings."""

from __future__ import annotations

import re
from collections.abc import Sequence

from search.models import Heading

_NEWLINES = re.compile(r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# control characters (newline and tab excepted), lone surrogates, byte order marks
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufeff]")
_SPACES = re.compile(r"[^\S\n]+")
_HEADING_MAX_WORDS = 12
_CLOSERS = "\"'”’»)]*"
_SENTENCE_END = ".!?…:;,"


def normalize(text: str) -> str:
    """One newline convention and no control characters, so later rules see plain lines."""
    return _CONTROLS.sub("", _NEWLINES.sub("\n", text))


def collapse(text: str) -> str:
    """Runs of spaces and tabs become one space; ends trimmed."""
    return _SPACES.sub(" ", text).strip()


def clean_paragraphs(raw: str, lines_are_paragraphs: bool = False) -> list[str]:
    """Paragraphs of a hard-wrapped body: a blank or indented line starts a new one, wrapped lines join."""
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        joined = collapse(" ".join(current))
        if joined:
            paragraphs.append(joined)
        current.clear()

    for line in normalize(raw).split("\n"):
        if not line.strip() or line[:1].isspace() or lines_are_paragraphs:
            flush()
        if line.strip():
            current.append(line)
    flush()
    return paragraphs


def clean_text(raw: str) -> str:
    """The cleaned body of a plain text: its paragraphs joined by one blank line."""
    return "\n\n".join(clean_paragraphs(raw))


def is_heading(paragraph: str) -> bool:
    """A subheading: short, has a letter, and does not end like a sentence."""
    words = paragraph.split()
    if not words or len(words) > _HEADING_MAX_WORDS or not any(c.isalpha() for c in paragraph):
        return False
    stripped = paragraph.rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] not in _SENTENCE_END


def assemble(parts: Sequence[tuple[str, bool]]) -> tuple[str, tuple[Heading, ...]]:
    """Join (paragraph, is_heading) parts with blank lines and record each heading's offsets."""
    chunks: list[str] = []
    headings: list[Heading] = []
    offset = 0
    for paragraph, heading in parts:
        if chunks:
            offset += 2
        if heading:
            headings.append(Heading(offset, offset + len(paragraph), paragraph))
        chunks.append(paragraph)
        offset += len(paragraph)
    return "\n\n".join(chunks), tuple(headings)
