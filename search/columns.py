"""In-memory columns the query path needs without SQLite: passage->article, day, source, sentences."""

from __future__ import annotations

import datetime as dt
import json
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


@dataclass(frozen=True)
class Columns:
    """Row-aligned arrays: passage i, article a, sentence s (sentences sorted by article, then start)."""

    passage_article: np.ndarray  # int32 [passages]
    article_day: np.ndarray  # int32 [articles], NO_DAY when undated
    article_source: np.ndarray  # int32 [articles], -1 when no source
    source_names: list[str]
    sentence_ptr: np.ndarray  # int64 [articles + 1]: sentences of article a are [ptr[a], ptr[a+1])
    sentence_start: np.ndarray  # int32 [sentences]
    sentence_end: np.ndarray  # int32 [sentences]
    sentence_vectors: np.ndarray  # float16 [sentences, dim], unit length before rounding

    def sentences_in(self, article_row: int, start: int, end: int) -> np.ndarray:
        """Sentence rows of one article lying within [start, end)."""
        a, b = int(self.sentence_ptr[article_row]), int(self.sentence_ptr[article_row + 1])
        starts = self.sentence_start[a:b]
        lo = a + int(np.searchsorted(starts, start, side="left"))
        hi = a + int(np.searchsorted(starts, end, side="left"))
        rows = np.arange(lo, hi)
        return rows[self.sentence_end[lo:hi] <= end]


def write_columns(
    directory: Path,
    articles: Sequence[Article],
    passage_article: Sequence[int],
    sentences: Sequence[tuple[int, int, int]],
    sentence_vectors: np.ndarray,
) -> None:
    """Save the columns as .npy arrays and a JSON list of source names (no pickle)."""
    directory.mkdir(parents=True, exist_ok=True)
    names = sorted({a.source for a in articles if a.source})
    code = {n: i for i, n in enumerate(names)}
    counts = np.bincount(np.array([s[0] for s in sentences], dtype=np.int64), minlength=len(articles))
    arrays = {
        "passage_article": np.asarray(passage_article, dtype=np.int32),
        "article_day": np.array([day_number(a.day) if a.day else NO_DAY for a in articles], dtype=np.int32),
        "article_source": np.array([code.get(a.source, -1) if a.source else -1 for a in articles], dtype=np.int32),
        "sentence_ptr": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "sentence_start": np.array([s[1] for s in sentences], dtype=np.int32),
        "sentence_end": np.array([s[2] for s in sentences], dtype=np.int32),
        "sentence_vectors": np.asarray(sentence_vectors, dtype=np.float16),
    }
    for name, array in arrays.items():
        np.save(directory / f"{name}.npy", array, allow_pickle=False)
    (directory / SOURCES_FILE).write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")


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
        "sentence_ptr": (articles + 1,), "sentence_end": (n_sent,), "sentence_vectors": (n_sent, dimension),
    }
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise IndexCorrupt(f"{directory}/{name}.npy has shape {arrays[name].shape}, expected {shape}")
    return Columns(source_names=list(names), **{k: np.asarray(v) for k, v in arrays.items()})
