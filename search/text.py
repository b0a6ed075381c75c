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
    # Offsets in the folded text are offsets in the text (one pass) when NFKC leaves the text alone and case folding
    # keeps its length (it never maps a character to nothing); "ﬁx e\u0301te" keeps its length but shifts.
    if len(folded) == len(chunk) and (chunk.isascii() or unicodedata.is_normalized("NFKC", chunk)):
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


# pysbd's time grows with the square of a paragraph's sentences (3.5 s for 50,000 characters, over half an hour
# for 1 MB), so a stretch longer than _WHOLE is segmented in windows of _WINDOW characters. The longest paragraph
# of the corpora in ../shared (TIME) has 30,549 characters: every real paragraph is still segmented whole, as
# pysbd's quotation handling needs (windows would change 21 of the 75 paragraphs over 5,000 characters there).
_WHOLE = 50_000
_WINDOW = 5000
_SPACE = re.compile(r"\s+")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans of text[start:end], trimmed of white space, in order, covering every word."""
    end = len(text) if end is None else end
    if end - start <= _WHOLE:
        return _split(text, start, end)
    spans: list[tuple[int, int]] = []
    while end - start > _WINDOW:
        window = _split(text, start, start + _WINDOW)
        if len(window) >= 2 and window[-1][0] - start >= _WINDOW // 4:
            spans.extend(window[:-1])  # the last sentence may run past the window: the next window starts with it
            start = window[-1][0]
            continue
        # no sentence ends in the window (or only near its start): cut it at its last white space
        cut = start + _WINDOW
        for space in _SPACE.finditer(text, start + _WINDOW // 2, start + _WINDOW):
            cut = space.start()
        spans.extend((a, min(b, cut)) for a, b in window if a < cut)
        start = cut
    spans.extend(_split(text, start, end))
    return _merged(text, spans)


def _split(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """split_sentences on one stretch, through pysbd."""
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
        "would should will shall may might must about say says said tell told".split()  # "what did X say ...":
        # the question's form; in news "said" is in nearly every passage and names no topic
    )
)
