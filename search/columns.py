"""In-memory columns the query path needs without SQLite: passage->article, day, source, sentences."""

from __future__ import annotations

import datetime as dt
import json
import os
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import IndexCorrupt
from .models import Article

NO_DAY = np.iinfo(np.int32).min
SOURCES_FILE = "sources.json"
_EPOCH = dt.date(1970, 1, 1)


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01, so date filters are integer comparisons."""
    return (day - _EPOCH).days


NO_TIME = np.iinfo(np.int64).min


def timestamp(date: str | None) -> int:
    """Seconds since 1970-01-01 of an ISO date or date-time, for sorting newest first: a time without a zone
    counts as UTC (as Elasticsearch reads it), a date alone as its first second; NO_TIME when undated."""
    if not date:
        return NO_TIME
    try:
        when = dt.datetime.fromisoformat(date)
    except ValueError:
        try:
            when = dt.datetime.combine(dt.date.fromisoformat(date[:10]), dt.time())
        except ValueError:
            return NO_TIME
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return int(when.timestamp())


class RowFile:
    """Rows of a 2-D .npy read with pread, not mapped: a query reads a few sentence vectors per hit, and mapped
    pages of a multi-GB file would count in the server's resident memory (fault-around maps 64 KB a read)."""

    def __init__(self, path: Path) -> None:
        header = np.load(path, mmap_mode="r", allow_pickle=False)  # parses and checks the header only
        if header.ndim != 2 or not header.flags.c_contiguous:
            raise IndexCorrupt(f"{path}: expected a C-ordered matrix, found shape {header.shape}")
        self.path, self.shape, self.dtype, self.offset = path, header.shape, header.dtype, int(header.offset)
        self._row_bytes = self.shape[1] * self.dtype.itemsize
        del header
        self._fd = os.open(path, os.O_RDONLY)

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows [lo, hi) in one read."""
        lo, hi = max(int(lo), 0), min(int(hi), self.shape[0])
        if hi <= lo:
            return np.zeros((0, self.shape[1]), dtype=self.dtype)
        data = os.pread(self._fd, (hi - lo) * self._row_bytes, self.offset + lo * self._row_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape(hi - lo, self.shape[1])

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        """The given rows (a passage's sentences are a short contiguous run: one read covers them)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return np.zeros((0, self.shape[1]), dtype=self.dtype)
        lo = int(rows.min())
        return self.rows(lo, int(rows.max()) + 1)[rows - lo]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:  # noqa: ANN001 - numpy's protocol
        out = self.rows(0, self.shape[0])
        return out if dtype is None else out.astype(dtype)

    def __len__(self) -> int:
        return self.shape[0]

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


@dataclass(frozen=True)
class Columns:
    """Row-aligned arrays: passage i, article a, sentence s (sentences sorted by article, then start)."""

    passage_article: np.ndarray  # int32 [passages]
    article_day: np.ndarray  # int32 [articles], NO_DAY when undated
    article_source: np.ndarray  # int32 [articles], -1 when no source
    article_time: np.ndarray  # int64 [articles]: seconds since 1970 (a date alone: its first second), NO_TIME undated
    source_names: list[str]
    sentence_ptr: np.ndarray  # int64 [articles + 1]: sentences of article a are [ptr[a], ptr[a+1])
    sentence_start: np.ndarray  # int32 [sentences]
    sentence_end: np.ndarray  # int32 [sentences]
    sentence_vectors: RowFile  # float16 [sentences, dim], unit length before rounding; read by rows

    def sentences_in(self, article_row: int, start: int, end: int) -> np.ndarray:
        """Sentence rows of one article lying within [start, end)."""
        a, b = int(self.sentence_ptr[article_row]), int(self.sentence_ptr[article_row + 1])
        starts = self.sentence_start[a:b]
        lo = a + int(np.searchsorted(starts, start, side="left"))
        hi = a + int(np.searchsorted(starts, end, side="left"))
        rows = np.arange(lo, hi)
        return rows[self.sentence_end[lo:hi] <= end]


class ColumnsBuilder:
    """The columns filled article by article (a rebuild streams): compact arrays, sentence vectors spilled to disk."""

    def __init__(self, directory: Path, dimension: int) -> None:
        self.directory = directory
        self.dimension = dimension
        directory.mkdir(parents=True, exist_ok=True)
        self._spill_path = directory / "sentence_vectors.f16.part"
        self._spill = self._spill_path.open("wb")
        self._sentences = 0
        self.passage_article = array("i")
        self.article_day = array("i")
        self.article_source = array("i")  # codes in first-seen order; sorted by name on save
        self.article_time = array("q")
        self.sources: dict[str, int] = {}
        self.sentence_counts = array("q")
        self.sentence_start = array("i")
        self.sentence_end = array("i")

    def add(self, article: Article, passages: int, sentences: Sequence[tuple[int, int]], vectors: np.ndarray) -> None:
        """One article: how many passage rows it owns, its sentence spans and their unit vectors."""
        if len(vectors) != len(sentences):
            raise ValueError(f"{len(sentences)} sentences but {len(vectors)} vectors")
        row = len(self.article_day)
        self.passage_article.extend([row] * passages)
        self.article_day.append(day_number(article.day) if article.day else NO_DAY)
        code = self.sources.setdefault(article.source, len(self.sources)) if article.source else -1
        self.article_source.append(code)
        self.article_time.append(timestamp(article.date))
        self.sentence_counts.append(len(sentences))
        self.sentence_start.extend(a for a, _ in sentences)
        self.sentence_end.extend(b for _, b in sentences)
        self._spill.write(np.ascontiguousarray(vectors, dtype=np.float16).reshape(-1, self.dimension).tobytes())
        self._sentences += len(sentences)

    def save(self) -> None:
        """The .npy arrays and a JSON list of source names (no pickle); vectors copied from the spill in chunks."""
        directory = self.directory
        self._spill.close()
        names = sorted(self.sources)
        remap = np.full(len(self.sources) + 1, -1, dtype=np.int32)  # index -1 (no source) stays -1
        order = {name: i for i, name in enumerate(names)}
        for name, code in self.sources.items():
            remap[code] = order[name]
        counts = np.frombuffer(self.sentence_counts, dtype=np.int64)
        arrays = {
            "passage_article": np.frombuffer(self.passage_article, dtype=np.int32),
            "article_day": np.frombuffer(self.article_day, dtype=np.int32),
            "article_source": remap[np.frombuffer(self.article_source, dtype=np.int32)],
            "article_time": np.frombuffer(self.article_time, dtype=np.int64),
            "sentence_ptr": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            "sentence_start": np.frombuffer(self.sentence_start, dtype=np.int32),
            "sentence_end": np.frombuffer(self.sentence_end, dtype=np.int32),
        }
        for name, values in arrays.items():
            np.save(directory / f"{name}.npy", values, allow_pickle=False)
        shape = (self._sentences, self.dimension)
        out = np.lib.format.open_memmap(directory / "sentence_vectors.npy", mode="w+", dtype=np.float16, shape=shape)
        step = 65_536
        with self._spill_path.open("rb") as spill:
            for i in range(0, shape[0], step):
                part = np.fromfile(spill, dtype=np.float16, count=min(step, shape[0] - i) * self.dimension)
                out[i : i + len(part) // max(self.dimension, 1)] = part.reshape(-1, self.dimension)
        out.flush()
        del out
        self._spill_path.unlink()
        (directory / SOURCES_FILE).write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")


def write_columns(
    directory: Path,
    articles: Sequence[Article],
    passage_article: Sequence[int],
    sentences: Sequence[tuple[int, int, int]],
    sentence_vectors: np.ndarray,
) -> None:
    """Save the columns of a whole corpus at once (sentences as (article row, start, end), sorted by article)."""
    vectors = np.asarray(sentence_vectors)
    dimension = vectors.shape[1] if vectors.ndim == 2 else 0
    builder = ColumnsBuilder(directory, dimension)
    owned = np.bincount(np.asarray(passage_article, dtype=np.int64), minlength=len(articles))
    by_article: list[list[tuple[int, int]]] = [[] for _ in articles]
    rows: list[list[int]] = [[] for _ in articles]
    for i, (row, a, b) in enumerate(sentences):
        by_article[row].append((a, b))
        rows[row].append(i)
    for row, article in enumerate(articles):
        builder.add(article, int(owned[row]), by_article[row], vectors[rows[row]])
    builder.save()


def load_columns(directory: Path, articles: int, passages: int, dimension: int) -> Columns:
    """Load (memory-mapped) and check the shapes against the manifest's counts."""
    try:
        arrays = {
            name: np.load(directory / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            for name in Columns.__dataclass_fields__
            if name != "source_names"
        }
        names = json.loads((directory / SOURCES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{directory}: unreadable columns: {exc}") from exc
    n_sent = arrays["sentence_start"].shape[0]
    expected = {
        "passage_article": (passages,), "article_day": (articles,), "article_source": (articles,),
        "article_time": (articles,),
        "sentence_ptr": (articles + 1,), "sentence_end": (n_sent,), "sentence_vectors": (n_sent, dimension),
    }
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise IndexCorrupt(f"{directory}/{name}.npy has shape {arrays[name].shape}, expected {shape}")
    vectors = RowFile(directory / "sentence_vectors.npy")
    del arrays["sentence_vectors"]
    return Columns(source_names=list(names), sentence_vectors=vectors, **{k: np.asarray(v) for k, v in arrays.items()})
