"""Writing a build: the sink that appends prepared articles to the store, BM25, the columns, the quotations and
the spilled vectors, in input order, and finishes them into index files; and the loop that writes what a
cluster prepared under the local build's rules."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from search.bm25 import BM25Builder, BM25Index
from search.columns import ColumnsBuilder
from search.dense import build_dense, save_dense
from search.embed import Embedder
from search.errors import BuildError
from search.layout import BM25_DIR, COLUMNS, DENSE, QUOTES, STORE
from search.models import Article
from search.quotes import QuoteIndexBuilder
from search.store import StoreWriter

from .cluster import BatchDone, FileRead
from .embedcache import EmbeddingCache, EmbedStats
from .prepare import Prepared, PreparedArticle, prepare
from .sources import Problem

if TYPE_CHECKING:
    from .build import BuildConfig

PASSAGE_VECTORS = "passage_vectors.f32.part"  # spilled during a build, removed before the manifest


class StrictProblems(BuildError):
    """--strict met bad input: nothing was published, and the temporary build is gone."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} input problem(s) with --strict; nothing was published")
        self.problems = problems


@contextmanager
def stage(timings: dict[str, float], name: str) -> Iterator[None]:
    """Time a stage; a streamed stage runs once per batch, so its times add up."""
    began = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - began, 3)


class Sink:
    """Where streamed batches go: the store, BM25 and columns builders, and the passage vectors spilled to disk."""

    def __init__(self, tmp: Path, embedder: Embedder, config: BuildConfig) -> None:
        self.embedder, self.config = embedder, config
        self.store = StoreWriter(tmp / STORE)
        self.bm25 = BM25Builder(config.bm25)
        self.columns = ColumnsBuilder(tmp / COLUMNS, embedder.dimension)
        self.quotes = QuoteIndexBuilder(tmp / QUOTES, embedder.dimension, config.bm25)
        self.vectors_path = tmp / PASSAGE_VECTORS
        self.vectors = self.vectors_path.open("wb")
        self.articles = self.passages = self.sentences = 0
        self.embed_stats = EmbedStats(0, 0, 0)
        self.sentence_stats = EmbedStats(0, 0, 0)
        self.quote_stats = EmbedStats(0, 0, 0)

    def add(self, batch: list[Article], cache: EmbeddingCache, timings: dict[str, float],
            problems: list[Problem]) -> None:
        """Prepare (chunk, embed through the cache, tokenize) and write one batch of articles."""
        self.write(prepare(batch, self.embedder, self.config.chunking, cache, self.config.batch_size), timings,
                   problems)

    def write(self, prepared: Prepared, timings: dict[str, float], problems: list[Problem]) -> None:
        """Write a prepared batch in its order; its problems are recorded, its stage times added to `timings`."""
        for name, seconds in prepared.timings.items():
            timings[name] = round(timings.get(name, 0.0) + seconds, 3)
        self.embed_stats = _add_stats(self.embed_stats, prepared.stats["passages"])
        self.sentence_stats = _add_stats(self.sentence_stats, prepared.stats["sentences"])
        self.quote_stats = _add_stats(self.quote_stats, prepared.stats["quotes"])
        with stage(timings, "store"):
            for item in prepared.items:
                if isinstance(item, Problem):
                    problems.append(item)
                else:
                    self.write_article(item)

    def write_article(self, item: PreparedArticle) -> None:
        """Append one prepared article to the store, BM25, the columns, the quotations and the spilled vectors."""
        row = self.articles
        for tokens in item.tokens:
            self.bm25.add(tokens)
        self.vectors.write(np.ascontiguousarray(item.passage_vectors, dtype=np.float32).tobytes())
        self.store.add(item.article, item.passages, item.quotations)
        self.quotes.add(row, item.quotations, item.quote_vectors)
        self.columns.add(item.article, len(item.passages), item.sentences, item.sentence_vectors)
        self.articles += 1
        self.passages += len(item.passages)
        self.sentences += len(item.sentences)

    def finish(self, tmp: Path, timings: dict[str, float]) -> tuple[BM25Index, dict[str, Any]]:
        """Write BM25, FAISS (from the spilled vectors, which are then removed), the store and the columns."""
        self.vectors.close()
        with stage(timings, "store"):
            self.store.close()
            self.columns.save()
        with stage(timings, "bm25"):
            bm25 = self.bm25.finish()
            bm25.save(tmp / BM25_DIR)
        with stage(timings, "faiss"):
            dim = self.embedder.dimension
            vectors = np.memmap(self.vectors_path, dtype=np.float32, mode="r", shape=(self.passages, dim)) \
                if self.passages else np.zeros((0, dim), dtype=np.float32)
            dense_index, dense_info = build_dense(vectors, self.config.dense)
            save_dense(dense_index, tmp / DENSE)
            del dense_index, vectors
            self.vectors_path.unlink()
        with stage(timings, "quotes"):
            self.quote_info = self.quotes.finish(self.config.dense)
        return bm25, dense_info

    def abort(self) -> None:
        """Close what is open; the caller removes the temporary build."""
        self.vectors.close()
        self.store.abort()
        self.quotes.abort()


def _add_stats(a: EmbedStats, b: EmbedStats) -> EmbedStats:
    return EmbedStats(a.cached + b.cached, a.embedded + b.embedded, a.duplicates + b.duplicates)


def write_events(events: Iterator[Any], sink: Sink, timings: dict[str, float], problems: list[Problem],
                 files: list[dict[str, Any]] | None = None, progress: Any = None,
                 strict: bool = False) -> dict[str, int]:
    """Write what a cluster read and prepared, in input order, with the local build's rules: each id once (the
    first wins), problems at their place, --strict stopping at the first. Returns the nodes and batches seen."""
    seen: set[str] = set()
    nodes: set[str] = set()
    batches = 0
    for event in events:
        done = 0
        if isinstance(event, FileRead):
            if files is not None:
                files.append(event.info)
        elif isinstance(event, BatchDone):
            sink.write(Prepared([], event.stats, event.timings), timings, problems)
            nodes.add(event.node)
            batches += 1
        elif isinstance(event, Problem):
            problems.append(event)
            done = 1 if event.skipped else 0
        else:
            if event.article_id in seen:
                problems.append(Problem(event.origin, f"duplicate article id {event.article_id!r}", True))
            elif isinstance(event.item, Problem):
                problems.append(event.item)
            else:
                with stage(timings, "store"):
                    sink.write_article(event.item)
            seen.add(event.article_id)
            done = 1
        if progress is not None:
            progress.advance(done)
        if strict and problems:
            raise StrictProblems(problems)
    return {"nodes": len(nodes), "batches": batches}
