"""Input readers: page text, JSONL and HTML files become Articles; bad input becomes Problems."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from search.models import Article

from .base import FORMATS, OUTLETS, ParseError, Problem, parse_date, printable_path, source_for_url
from .clean import clean_paragraphs, clean_text
from .decode import MAX_ARTICLE_BYTES, decode_bytes, read_capped
from .html import parse_html
from .jsonl import parse_record, read_jsonl
from .pagetext import parse_pagetext
from .walk import detect_format, iter_files, walk_sources

__all__ = [
    "FORMATS", "MAX_ARTICLE_BYTES", "OUTLETS", "ParseError", "Problem", "clean_paragraphs", "clean_text",
    "detect_format", "iter_files", "parse_date", "parse_html", "parse_pagetext", "parse_record", "printable_path",
    "read_articles", "read_file", "source_for_url",
]

_PAGE_PARSERS = {"pagetext": parse_pagetext, "html": parse_html}


def _key(path: Path, root: Path | None) -> str:
    """The file's name for content ids: relative to the walked folder, so moving the folder keeps ids."""
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.name


def read_file(path: Path, fmt: str, root: Path | None = None,
              max_bytes: int = MAX_ARTICLE_BYTES) -> Iterator[Article | Problem]:
    """The articles of one file and the problems met; no exception escapes for bad content or IO.

    An article over `max_bytes` raw (decompressed) bytes, a page file or one JSONL line, is skipped as a Problem;
    memory holds at most max_bytes + 2 bytes of it (the rest of a long line is skipped in 1 MB pieces)."""
    path = Path(path)
    key = printable_path(_key(path, Path(root) if root is not None else None))
    if fmt == "jsonl":
        yield from read_jsonl(path, key, max_bytes)
        return
    parse = _PAGE_PARSERS.get(fmt)
    if parse is None:
        yield Problem(str(path), f"unknown format {fmt!r}", True)
        return
    try:
        text, encoding = decode_bytes(read_capped(path, max_bytes))
        if encoding:
            yield Problem(str(path), f"decoded as {encoding}", False)
        yield parse(text, printable_path(path), key)
    except ParseError as exc:
        yield Problem(str(path), exc.reason, True)
    except (OSError, EOFError, zlib.error) as exc:
        yield Problem(str(path), f"cannot read: {exc}", True)


def read_articles(paths: Sequence[Path], fmt: str | None = None,
                  max_bytes: int = MAX_ARTICLE_BYTES) -> Iterator[Article | Problem]:
    """Every article under the given files and folders, problems interleaved where they occur."""
    for item in walk_sources(paths, fmt):
        if isinstance(item, Problem):
            yield item
        else:
            path, found, root = item
            yield from read_file(path, found, root, max_bytes)
