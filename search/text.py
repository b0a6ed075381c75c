"""The analyzer and the sentence splitter: one definition shared by build time and query time."""

from __future__ import annotations

import functools
import re
import unicodedata

import pysbd
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

ANALYZER_VERSION = "1"
ANALYZER_SETTINGS = {
    "version": ANALYZER_VERSION,
    "normalize": "NFKC+casefold",
    "token_pattern": r"(?u)\b\w\w+\b",
    "stopwords": "bm25s STOPWORDS_EN (Lucene English)",
    "stemmer": "PyStemmer snowball english",
}

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_STOPWORDS = frozenset(STOPWORDS_EN)


@functools.lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    """One Snowball stemmer per process; PyStemmer keeps its own word cache."""
    return Stemmer.Stemmer("english")


def normalize(text: str) -> str:
    """Fold compatibility forms and case so "Ｐｕｔｉｎ" and "PUTIN" meet "putin"."""
    return unicodedata.normalize("NFKC", text).casefold()


def terms(text: str) -> list[str]:
    """Word tokens of two or more characters, before stopwords and stemming."""
    return _TOKEN.findall(normalize(text))


def tokenize(text: str) -> list[str]:
    """The BM25 analyzer: normalize, split into words, drop stopwords, stem."""
    return _stemmer().stemWords([t for t in terms(text) if t not in _STOPWORDS])


def term_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int, str]]:
    """Each analyzed token of text[start:end] with its offsets in `text`, for highlighting matches."""
    end = len(text) if end is None else end
    chunk = text[start:end]
    folded = chunk.lower() if chunk.isascii() else normalize(chunk)
    if len(folded) == len(chunk):  # offsets in the folded text are offsets in the text: one pass
        found = [m for m in _TOKEN.finditer(folded) if m.group() not in _STOPWORDS]
        stems = _stemmer().stemWords([m.group() for m in found])
        return [(start + m.start(), start + m.end(), stem) for m, stem in zip(found, stems)]
    words, spans = [], []  # folding changed lengths (ß -> ss, ligatures): fold word by word
    for m in _TOKEN.finditer(text, start, end):
        word = normalize(m.group())
        if word in _STOPWORDS or not _TOKEN.fullmatch(word):
            continue
        words.append(word)
        spans.append(m.span())
    return [(a, b, stem) for (a, b), stem in zip(spans, _stemmer().stemWords(words))]


@functools.lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    """pysbd knows abbreviations ("Mr.", "U.S.") and quotes better than a punctuation rule."""
    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans of text[start:end], trimmed of white space, in order, covering every word."""
    end = len(text) if end is None else end
    chunk = text[start:end]
    if not chunk.strip():
        return []
    try:
        pieces = _segmenter().segment(chunk)
    except Exception:  # pysbd has regex corner cases on odd Unicode; one sentence is a safe answer
        pieces = [chunk]
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        at = chunk.find(piece, cursor)
        if at < 0:  # pysbd changed the text: stop trusting it and keep the rest whole
            break
        if at > cursor and chunk[cursor:at].strip():  # words pysbd dropped join the previous sentence
            if spans:
                spans[-1] = (spans[-1][0], at + start)
            else:
                at = cursor + (len(chunk[cursor:at]) - len(chunk[cursor:at].lstrip()))
        spans.append((at + start, at + len(piece) + start))
        cursor = at + len(piece)
    rest = chunk[cursor:]
    if rest.strip():
        lead = len(rest) - len(rest.lstrip())
        spans.append((cursor + lead + start, len(chunk.rstrip()) + start))
    return _merged(text, spans)


def _merged(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop overlaps and empty spans that a recovery step above may leave."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and a < out[-1][1]:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        elif b > a and text[a:b].strip():
            out.append((a, b))
    return out


# Question words carry no topic: highlighting skips them (BM25 still scores them, as rank-bm25 would).
QUESTION_WORDS = frozenset(
    _stemmer().stemWords(
        "what who whom whose when where which why how did does do doe was were is am been has have had can could "
        "would should will shall may might must about".split()
    )
)
