"""Bytes to text: UTF-8 first, else charset-normalizer's best guess, binary refused."""

from __future__ import annotations

import codecs
import gzip
import unicodedata
from pathlib import Path
from typing import BinaryIO

from charset_normalizer import from_bytes

from .base import ParseError

MAX_ARTICLE_BYTES = 5 * 1024 * 1024  # default limit on one article's raw bytes: a page or HTML file, a JSONL line
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_MAX_ODD_RATIO = 0.05


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, gunzipped on the fly when its name ends in .gz."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def over_limit(limit: int) -> str:
    """The reason an article over the size limit is skipped ("article over the 5 MB limit, skipped")."""
    return f"article over the {limit / (1024 * 1024):g} MB limit, skipped"


def read_capped(path: Path, limit: int = MAX_ARTICLE_BYTES) -> bytes:
    """A whole small file; a huge one (or a gzip bomb: the limit counts decompressed bytes) is refused after
    reading limit + 1 bytes, instead of filling memory."""
    with open_binary(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ParseError(over_limit(limit))
    return data


def _looks_binary(text: str) -> bool:
    """Many control or replacement characters: the bytes were not text in any encoding."""
    odd = sum(1 for c in text if c == "\ufffd" or (unicodedata.category(c) == "Cc" and c not in "\n\r\t"))
    return odd > _MAX_ODD_RATIO * max(len(text), 1)


def decode_bytes(data: bytes) -> tuple[str, str | None]:
    """The text and, when it was not UTF-8, the encoding guessed (for a non-skipping Problem)."""
    if not data.strip():
        raise ParseError("empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), None
            except UnicodeDecodeError:
                break
    if b"\x00" in data:
        raise ParseError("binary file (NUL bytes)")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise ParseError("undecodable bytes (not text in any known encoding)")
    text = str(best)
    if _looks_binary(text):
        raise ParseError(f"binary file (decoded as {best.encoding} it is not text)")
    return text, best.encoding
