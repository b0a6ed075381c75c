"""The quotation index: quote texts in BM25 and FAISS (row i is store quote row i), speakers as a field."""

from __future__ import annotations

import json
import re
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .bm25 import BM25Builder, BM25Index, BM25Params
from .dense import DenseConfig, build_dense, load_dense, save_dense, stored_vectors
from .errors import IndexCorrupt
from .models import QUOTE_KINDS, SPEAKER_NAMED, Quotation
from .text import QUESTION_WORDS, normalize, tokenize

BM25_DIR = "bm25"
DENSE = "dense.faiss"
SPEAKERS_FILE = "speakers.json"
VECTORS_SPILL = "vectors.f32.part"
ARRAYS = ("article", "speaker", "kind")
SEARCHABLE = ("full", "partial")  # a term (scare quotes) is nobody's words: never a hit
_NAME_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def name_words(name: str) -> list[str]:
    """A name as comparable words: case-folded, accents kept, split at spaces and hyphens ("al-Assad")."""
    words = [w.casefold() for w in _NAME_WORD.findall(normalize(name))]
    return [w[:-2] if w.endswith(("'s", "’s")) else w for w in words]


def is_named(speaker: str, kind: str | None = None) -> bool:
    """A person or organisation named ("Vladimir Putin"), not a description ("a ministry spokesman"): the
    extractor's speaker kind says so; without one, a name is written with a capital and a description is not."""
    if kind is not None:
        return kind in SPEAKER_NAMED
    return bool(speaker) and speaker[0].isupper() and not speaker.split()[0].lower() in _DETERMINERS


_DETERMINERS = frozenset("a an the one another two three several its his her their some".split())


def speaker_matches(value: str, speaker: str) -> bool:
    """The filter's rule: the full name, or its last words ("Putin", "al-Moallem"), case and accents as written."""
    return _ends_with(name_words(speaker), name_words(value))


def _ends_with(have: list[str], want: list[str]) -> bool:
    return bool(want) and len(want) <= len(have) and have[len(have) - len(want):] == want


def quote_text(article_text: str, parts: Sequence[tuple[int, int]]) -> str:
    """The spoken words of a quotation: its parts without marks or attribution, white space folded.

    Where a part ends a sentence (. ? !) its punctuation stays; a comma handing over to the attribution goes, and
    the next part follows with a space when it goes on with the sentence (lower case) or after " … " when it opens
    a new one, so the words never run together ("programme We will").
    """
    out = ""
    for a, b in parts:
        piece = " ".join(article_text[a:b].split())
        if not out:
            out = piece
        elif out.endswith((".", "?", "!")):
            out = f"{out} {piece}"
        else:
            out = out.rstrip(",;: ")
            out = f"{out} {piece}" if piece[:1].islower() else f"{out} … {piece}"
    return out.rstrip(",;: ")


@dataclass(frozen=True)
class SpeakerLookup:
    """Speakers by the words of their names, to notice a name in a question without a filter being set."""

    by_last: dict[str, list[int]]
    words: list[list[str]]
    by_suffix: dict[tuple[str, ...], list[int]]  # every run of last words of a name -> the codes it ends

    @classmethod
    def build(cls, names: Sequence[str], kinds: Sequence[str | None] | None = None) -> SpeakerLookup:
        by_last: dict[str, list[int]] = {}
        words = [name_words(n) for n in names]
        kinds = kinds if kinds is not None else [None] * len(names)
        for code, (name, kind, w) in enumerate(zip(names, kinds, words)):
            if is_named(name, kind) and w and len(w[-1]) >= 3 and w[-1] not in QUESTION_WORDS:
                by_last.setdefault(w[-1], []).append(code)
        by_suffix: dict[tuple[str, ...], list[int]] = {}
        for code, w in enumerate(words):
            for i in range(len(w)):
                by_suffix.setdefault(tuple(w[i:]), []).append(code)
        return cls(by_last, words, by_suffix)

    def named_in(self, question: str) -> list[list[int]]:
        """Speakers the question names by surname, one group per name in the order named ("What did Putin
        promise Assad?": Putin's group, then Assad's); where a fuller name is given, only the speakers it fits."""
        asked = name_words(question)
        have = set(asked)
        groups: list[list[int]] = []
        for word in dict.fromkeys(asked):
            found = self.by_last.get(word, [])
            fuller = [c for c in found if len(self.words[c]) > 1 and set(self.words[c]) <= have]
            if fuller or found:
                groups.append(fuller or list(found))
        return groups



class QuoteIndexBuilder:
    """Quotations added article by article as a rebuild streams: tokens counted, vectors spilled to disk."""

    def __init__(self, directory: Path, dimension: int, params: BM25Params) -> None:
        self.directory, self.dimension = directory, dimension
        directory.mkdir(parents=True, exist_ok=True)
        self.bm25 = BM25Builder(params)
        self._spill_path = directory / VECTORS_SPILL
        self._spill = self._spill_path.open("wb")
        self.article, self.speaker, self.kind = array("i"), array("i"), array("b")
        self.speakers: dict[str, int] = {}
        self.kinds: dict[str, str | None] = {}  # the speaker kind first given for each name
        self.count = 0

    def add(self, article_row: int, quotes: Sequence[Quotation], vectors: np.ndarray) -> None:
        """One article's quotations and their unit vectors, in store row order."""
        if len(vectors) != len(quotes):
            raise ValueError(f"{len(quotes)} quotations but {len(vectors)} vectors")
        for q in quotes:
            self.bm25.add(tokenize(q.text) if q.kind in SEARCHABLE else [])
            self.article.append(article_row)
            self.speaker.append(self.speakers.setdefault(q.speaker, len(self.speakers)) if q.speaker else -1)
            if q.speaker:
                self.kinds.setdefault(q.speaker, q.speaker_kind)
            self.kind.append(QUOTE_KINDS.index(q.kind))
        self._spill.write(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension).tobytes())
        self.count += len(quotes)

    def finish(self, dense: DenseConfig) -> dict[str, Any]:
        """Write BM25, FAISS, the row-aligned arrays and the speaker names (sorted; no pickle); the manifest entry."""
        self._spill.close()
        bm25 = self.bm25.finish()
        bm25.save(self.directory / BM25_DIR)
        vectors = np.fromfile(self._spill_path, dtype=np.float32).reshape(-1, self.dimension)
        index, info = build_dense(vectors, dense)
        save_dense(index, self.directory / DENSE)
        del index, vectors
        self._spill_path.unlink()
        names = sorted(self.speakers)
        remap = np.full(len(names) + 1, -1, dtype=np.int32)
        order = {n: i for i, n in enumerate(names)}
        for name, code in self.speakers.items():
            remap[code] = order[name]
        arrays = {
            "article": np.frombuffer(self.article, dtype=np.int32),
            "speaker": remap[np.frombuffer(self.speaker, dtype=np.int32)],
            "kind": np.frombuffer(self.kind, dtype=np.int8),
        }
        for name, values in arrays.items():
            np.save(self.directory / f"{name}.npy", values, allow_pickle=False)
        speakers = [{"name": n, "kind": self.kinds.get(n)} for n in names]
        (self.directory / SPEAKERS_FILE).write_text(json.dumps(speakers, ensure_ascii=False), encoding="utf-8")
        kinds = np.bincount(arrays["kind"], minlength=len(QUOTE_KINDS))
        named = sum(is_named(n, self.kinds.get(n)) for n in names)
        return {"quotes": self.count, "speakers": named, "unnamed_sources": len(names) - named, "dense": info["type"],
                "kinds": {k: int(n) for k, n in zip(QUOTE_KINDS, kinds)}}

    def abort(self) -> None:
        self._spill.close()


@dataclass(frozen=True)
class QuoteIndex:
    """A published quotation index, loaded once per build."""

    bm25: BM25Index
    dense: faiss.Index
    article: np.ndarray  # int32 [quotes]: the article row
    speaker: np.ndarray  # int32 [quotes]: code into speaker_names, -1 when nobody is named
    kind: np.ndarray  # int8 [quotes]: index into QUOTE_KINDS
    speaker_names: list[str]
    speaker_counts: np.ndarray  # searchable quotations per speaker code
    lookup: SpeakerLookup
    searchable: np.ndarray  # bool [quotes]: full and partial quotations may be hits, terms never
    named: np.ndarray  # bool [speaker codes]: a named person or organisation, not a description

    @property
    def count(self) -> int:
        return int(self.article.shape[0])

    def rows_of_article(self, article_row: int) -> np.ndarray:
        """Quotation rows of one article (rows are in article order)."""
        lo, hi = np.searchsorted(self.article, [article_row, article_row + 1], side="left")
        return np.arange(lo, hi)

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored unit vectors of some quotations, to compare with the question."""
        if len(rows) == 0:
            return np.zeros((0, self.dense.d), dtype=np.float32)
        return stored_vectors(self.dense, np.asarray(rows, dtype=np.int64))

    def codes_matching(self, value: str) -> list[int]:
        """Speaker codes the speaker filter `value` selects."""
        return list(self.lookup.by_suffix.get(tuple(name_words(value)), ()))

    def speakers(self, prefix: str = "", limit: int = 20) -> list[tuple[str, int]]:
        """Speakers whose name or one of its words starts with `prefix`, most quotations first."""
        want = " ".join(name_words(prefix))
        found = []
        for code, name in enumerate(self.speaker_names):
            count = int(self.speaker_counts[code])
            if not count or not self.named[code]:
                continue
            words = self.lookup.words[code]
            if not want or " ".join(words).startswith(want) or any(
                    " ".join(words[i:]).startswith(want) for i in range(1, len(words))):
                found.append((name, count))
        found.sort(key=lambda p: (-p[1], p[0].casefold()))
        return found[:limit]

    def facet(self, rows: Iterable[int], limit: int = 20) -> list[tuple[str, int]]:
        """Named speakers of the given quotation rows, each with the number of those rows the speaker filter of
        that name would keep (full name or last words: what a click on it returns), most first."""
        codes = self.speaker[np.fromiter(rows, dtype=np.int64)]
        codes = codes[codes >= 0]
        counts = np.bincount(codes, minlength=len(self.speaker_names))
        present = [int(c) for c in np.flatnonzero(counts) if self.named[c]]
        pairs = []
        for c in present:
            matching = [m for m in self.codes_matching(self.speaker_names[c]) if counts[m]]
            pairs.append((self.speaker_names[c], int(counts[matching].sum())))
        pairs.sort(key=lambda p: (-p[1], p[0].casefold()))
        return pairs[:limit]

    def unnamed(self, rows: Iterable[int]) -> int:
        """How many of the given quotation rows come from an unnamed source ("a ministry spokesman")."""
        codes = self.speaker[np.fromiter(rows, dtype=np.int64)]
        codes = codes[codes >= 0]
        return int(np.count_nonzero(~self.named[codes])) if codes.size else 0


def load_quote_index(directory: Path, count: int, dimension: int) -> QuoteIndex:
    """Load and check against the manifest's count of quotations."""
    try:
        arrays = {name: np.load(directory / f"{name}.npy", allow_pickle=False) for name in ARRAYS}
        speakers = json.loads((directory / SPEAKERS_FILE).read_text(encoding="utf-8"))
        names = [str(s["name"]) for s in speakers]
        kinds = [s.get("kind") for s in speakers]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise IndexCorrupt(f"{directory}: unreadable quotation index: {exc}") from exc
    for name, values in arrays.items():
        if values.shape != (count,):
            raise IndexCorrupt(f"{directory}/{name}.npy has shape {values.shape}, expected ({count},)")
    if count and (int(arrays["speaker"].max()) >= len(names) or int(arrays["kind"].max()) >= len(QUOTE_KINDS)):
        raise IndexCorrupt(f"{directory}: speaker or kind codes out of range")
    bm25 = BM25Index.load(directory / BM25_DIR)
    if bm25.n_docs != count:
        raise IndexCorrupt(f"{directory}: BM25 holds {bm25.n_docs} quotations, the manifest {count}")
    dense = load_dense(directory / DENSE, dimension, count)
    searchable = np.isin(arrays["kind"], [QUOTE_KINDS.index(k) for k in SEARCHABLE])
    speaker = arrays["speaker"]
    counts = np.bincount(speaker[(speaker >= 0) & searchable], minlength=len(names))
    named = np.array([is_named(n, k) for n, k in zip(names, kinds)], dtype=bool)
    return QuoteIndex(bm25, dense, arrays["article"], speaker, arrays["kind"], names, counts,
                      SpeakerLookup.build(names, kinds), searchable, named)
