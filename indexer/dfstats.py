"""The live document-frequency histograms a commit carries, so that no server computes them on reload.

LiveBM25 needs {df: number of terms} over the live passages (and quotations) for rank_bm25's epsilon floor.
Computed from scratch it is a pass over every posting of every segment with deletes (0.4-1.3 s at 1M passages,
once per server process and commit). The writer keeps it in `commit.extra["df_histograms"]` instead, updated
from what the commit changed: only the terms of the added segment and of the deleted articles can change their
live df, so only they are counted (before and after: a segment with few deletes subtracts its deleted rows found
in the term's postings by binary search), and each moves one term from one bucket to another. A merge leaves
the live corpus and so the histograms as they were.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from search.bm25 import BM25Index
from search.commit import DF_HISTOGRAMS, Commit, load_deleted, segment_dir
from search.layout import BM25_DIR, COLUMNS, QUOTES
from search.livebm25 import live_df_histogram, segment_df
from search.text import tokenize

KINDS = ("passages", "quotes")
Histogram = dict[int, int]


class Postings:
    """What one segment's live df needs, per kind: its BM25 postings and the article of each row."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.bm25 = {"passages": BM25Index.load(folder / BM25_DIR), "quotes": BM25Index.load(folder / QUOTES / BM25_DIR)}
        self.article = {"passages": np.load(folder / COLUMNS / "passage_article.npy", mmap_mode="r"),
                        "quotes": np.load(folder / QUOTES / "article.npy", mmap_mode="r")}


class SegmentDf:
    """Live df of one segment's terms under one set of deleted articles, per kind, counted once per term (a
    segment two commits share with the same deletes is counted once for both)."""

    def __init__(self, part: Postings, deleted: np.ndarray) -> None:
        self.part = part
        self.live: dict[str, np.ndarray | None] = {}
        self.dead: dict[str, np.ndarray | None] = {}
        self._known: dict[tuple[str, str], int] = {}
        for kind in KINDS:
            if not len(deleted):
                self.live[kind] = self.dead[kind] = None
                continue
            live = ~np.isin(np.asarray(part.article[kind], dtype=np.int64), np.asarray(deleted, dtype=np.int64))
            self.live[kind], self.dead[kind] = live, np.flatnonzero(~live).astype(np.int32)

    def df(self, kind: str, term: str) -> int:
        key = (kind, term)
        found = self._known.get(key)
        if found is None:
            seg = self.part.bm25[kind]
            t = seg.term_id(term)
            found = 0 if t is None else segment_df(seg, *seg.term_range(t), self.live[kind], self.dead[kind])
            self._known[key] = found
        return found


def histogram_from_scratch(segments: Sequence[SegmentDf], kind: str) -> Histogram:
    """Every posting of the segments with deletes read (a commit made before histograms were kept, or a check)."""
    return live_df_histogram([s.part.bm25[kind] for s in segments], [s.live[kind] for s in segments])


def moved(histogram: Histogram, changes: Iterable[tuple[int, int]]) -> Histogram:
    """The histogram after some terms' live df changed from `before` to `after` (0: not live)."""
    out = dict(histogram)
    for before, after in changes:
        if before == after:
            continue
        if before:
            left = out.get(before, 0) - 1
            if left < 0:
                raise ValueError(f"df histogram has no term at df {before} to move")
            if left:
                out[before] = left
            else:
                del out[before]
        if after:
            out[after] = out.get(after, 0) + 1
    return out


def stored(commit: Commit) -> dict[str, Histogram] | None:
    """The histograms a commit carries, keys as ints; None when it carries none."""
    found = commit.extra.get(DF_HISTOGRAMS)
    if not isinstance(found, dict) or any(k not in found for k in KINDS):
        return None
    return {kind: {int(df): int(n) for df, n in found[kind].items()} for kind in KINDS}


def as_extra(histograms: dict[str, Histogram]) -> dict[str, dict[str, int]]:
    """JSON-ready (string keys, sorted)."""
    return {kind: {str(df): n for df, n in sorted(histograms[kind].items())} for kind in KINDS}


def commit_histograms(build_dir: Path, old: Commit, new: Commit, changed_terms: set[str]) -> dict[str, Histogram]:
    """The new commit's histograms: the old commit's, with every term that may have changed moved to its new live
    df. `changed_terms` must hold every analyzer token of the deleted articles (a superset is fine); the added
    segments' own vocabularies are added here."""
    postings: dict[Path, Postings] = {}
    counted: dict[tuple[Path, str | None], SegmentDf] = {}

    def segments(commit: Commit) -> list[SegmentDf]:
        out = []
        for ref in commit.segments:
            folder = segment_dir(build_dir, ref)
            if (folder, ref.deleted) not in counted:
                if folder not in postings:
                    postings[folder] = Postings(folder)
                counted[(folder, ref.deleted)] = SegmentDf(postings[folder], load_deleted(build_dir, ref))
            out.append(counted[(folder, ref.deleted)])
        return out

    before, after = segments(old), segments(new)
    old_folders = {s.part.folder for s in before}
    base = stored(old)
    out: dict[str, Histogram] = {}
    for kind in KINDS:
        terms = set(changed_terms)
        for seg in after:
            if seg.part.folder not in old_folders:  # an added segment: any of its terms may be new or more frequent
                terms.update(seg.part.bm25[kind].terms())
        start = base[kind] if base is not None else histogram_from_scratch(before, kind)
        out[kind] = moved(start, ((sum(s.df(kind, t) for s in before), sum(s.df(kind, t) for s in after))
                                  for t in terms))
    return out


def article_terms(texts: Iterable[str]) -> set[str]:
    """Every analyzer token of some texts (an article's headline, passages and quotations)."""
    out: set[str] = set()
    for text in texts:
        out.update(tokenize(text))
    return out
