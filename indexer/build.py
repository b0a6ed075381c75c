"""build_index(): read -> chunk -> embed -> BM25 + FAISS + SQLite -> manifest -> publish."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tqdm import tqdm

from search.bm25 import BM25Index, BM25Params
from search.dense import DenseConfig, build_dense, save_dense
from search.embed import DEFAULT_MODEL, Embedder, SentenceTransformerEmbedder
from search.errors import BuildError
from search.columns import write_columns
from search.layout import BM25_DIR, CACHE, COLUMNS, DENSE, FORMAT_VERSION, STORE, sha256_file
from search.models import Article, Passage
from search.store import write_store
from search.text import ANALYZER_SETTINGS, tokenize

from .chunking import ChunkConfig, split_article
from .embedcache import EmbeddingCache, embed_all
from .publish import checksums, clean_leftovers, new_build_id, publish, rebuild_lock, start_build
from .sources import Problem, read_file
from .sources.walk import walk_sources

EMBED_CACHE = "embeddings.sqlite"
MAX_LISTED_PROBLEMS = 1000


@dataclass(frozen=True)
class BuildConfig:
    """Every setting of a rebuild; the CLI fills it from its options."""

    sources: tuple[Path, ...] = (Path("seeds"),)
    index_dir: Path = Path("var/index")
    fmt: str | None = None
    model: str = DEFAULT_MODEL
    chunking: ChunkConfig = ChunkConfig()
    bm25: BM25Params = BM25Params()
    dense: DenseConfig = DenseConfig()
    batch_size: int = 32
    strict: bool = False
    progress: bool = True


@dataclass
class BuildReport:
    """What a rebuild did, for the CLI summary and the tests."""

    build_id: str
    build_dir: Path
    articles: int
    passages: int
    problems: list[Problem]
    timings: dict[str, float] = field(default_factory=dict)
    embeddings: dict[str, int] = field(default_factory=dict)
    sentence_embeddings: dict[str, int] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return sum(p.skipped for p in self.problems)


class StrictProblems(BuildError):
    """--strict met bad input: nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} input problem(s) with --strict; nothing was written")
        self.problems = problems


@contextmanager
def _stage(timings: dict[str, float], name: str) -> Iterator[None]:
    began = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - began, 3)


def read_sources(config: BuildConfig) -> tuple[list[Article], list[Problem], list[dict[str, Any]]]:
    """All articles of the sources, each id once; problems listed, never raised."""
    articles: list[Article] = []
    problems: list[Problem] = []
    files: list[dict[str, Any]] = []
    seen: set[str] = set()
    listed = list(walk_sources(list(config.sources), config.fmt))
    for item in tqdm(listed, desc="read", unit="file", disable=not config.progress):
        if isinstance(item, Problem):
            problems.append(item)
            continue
        path, fmt, root = item
        try:
            files.append({"path": str(path), "format": fmt, "sha256": sha256_file(path), "bytes": path.stat().st_size})
        except OSError as exc:
            problems.append(Problem(str(path), f"cannot read: {exc}", True))
            continue
        for got in read_file(path, fmt, root=root):
            if isinstance(got, Problem):
                problems.append(got)
            elif got.id in seen:
                problems.append(Problem(got.origin, f"duplicate article id {got.id!r}", True))
            else:
                seen.add(got.id)
                articles.append(got)
    return articles, problems, files


def embed_text(article: Article, passage: Passage) -> str:
    """What is embedded and BM25-indexed for a passage: the title makes every passage findable by it."""
    return f"{article.title}\n{passage.text}" if article.title else passage.text


@dataclass
class Chunked:
    """Everything chunking yields, row-aligned: kept articles, passages, their embedded texts, sentences."""

    articles: list[Article] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    passage_article: list[int] = field(default_factory=list)
    sentences: list[tuple[int, int, int]] = field(default_factory=list)  # (article row, start, end)
    sentence_texts: list[str] = field(default_factory=list)


def chunk_all(articles: list[Article], embedder: Embedder, config: BuildConfig, problems: list[Problem]) -> Chunked:
    """Passages of every article that has a sentence; one that has none is skipped with its reason."""
    chunking = ChunkConfig(config.chunking.target_words, config.chunking.overlap_sentences, embedder.max_tokens)
    out = Chunked()
    for article in tqdm(articles, desc="chunk", unit="article", disable=not config.progress):
        prefix = f"{article.title}\n" if article.title else ""
        passages, sentences = split_article(article, chunking, embedder.count_tokens, prefix)
        if not passages:
            problems.append(Problem(article.origin, "no sentences in the text", True))
            continue
        row = len(out.articles)
        out.articles.append(article)
        out.passages.extend(passages)
        out.texts.extend(embed_text(article, p) for p in passages)
        out.passage_article.extend([row] * len(passages))
        out.sentences.extend((row, a, b) for a, b in sentences)
        out.sentence_texts.extend(article.text[a:b] for a, b in sentences)
    return out


def check_lengths(texts: list[str], embedder: Embedder) -> None:
    """Never let the model truncate a passage silently."""
    for i in range(0, len(texts), 1024):
        for j, n in enumerate(embedder.count_tokens(texts[i : i + 1024])):
            if n > embedder.max_tokens:
                raise BuildError(f"passage {i + j} has {n} word pieces, over the model's {embedder.max_tokens}")


def _versions() -> dict[str, str]:
    names = ("newsclip", "faiss-cpu", "sentence-transformers", "torch", "numpy", "rank-bm25", "PyStemmer", "pysbd")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def build_index(
    config: BuildConfig,
    embedder: Embedder | None = None,
    load_embedder: Callable[[str], Embedder] = SentenceTransformerEmbedder,
) -> BuildReport:
    """Build a complete index and publish it atomically; on any failure the previous one stays current."""
    timings: dict[str, float] = {}
    with _stage(timings, "read"):
        articles, problems, files = read_sources(config)
    if config.strict and problems:
        raise StrictProblems(problems)
    if not articles:
        raise BuildError("no articles to index: " + (f"{len(problems)} problem(s)" if problems else "no input files"))
    with _stage(timings, "model"):
        embedder = embedder or load_embedder(config.model)
    with _stage(timings, "chunk"):
        chunked = chunk_all(articles, embedder, config, problems)
        check_lengths(chunked.texts, embedder)
    if config.strict and problems:
        raise StrictProblems(problems)
    index_dir = Path(config.index_dir)
    with rebuild_lock(index_dir):
        clean_leftovers(index_dir)
        cache = EmbeddingCache(index_dir / CACHE / EMBED_CACHE, embedder.dimension)
        try:
            with _stage(timings, "embed"):
                vectors, embed_stats = embed_all(chunked.texts, embedder, cache, config.batch_size, config.progress)
            with _stage(timings, "embed_sentences"):  # the quote choice compares sentences to the question
                sentence_vectors, sentence_stats = embed_all(
                    chunked.sentence_texts, embedder, cache, config.batch_size * 2, config.progress
                )
        finally:
            cache.close()
        build_id = new_build_id()
        tmp = start_build(index_dir, build_id)
        try:
            with _stage(timings, "bm25"):
                docs = (tokenize(t) for t in tqdm(chunked.texts, desc="bm25", unit="passage", disable=not config.progress))
                bm25 = BM25Index.build(docs, config.bm25)
                bm25.save(tmp / BM25_DIR)
            with _stage(timings, "faiss"):
                dense_index, dense_info = build_dense(vectors, config.dense)
                save_dense(dense_index, tmp / DENSE)
                del dense_index
            with _stage(timings, "store"):
                write_store(tmp / STORE, chunked.articles, chunked.passages)
                write_columns(tmp / COLUMNS, chunked.articles, chunked.passage_article, chunked.sentences,
                              sentence_vectors)
            manifest = {
                "format_version": FORMAT_VERSION,
                "build_id": build_id,
                "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "model": embedder.describe(),
                "analyzer": ANALYZER_SETTINGS,
                "chunking": {**asdict(config.chunking), "max_tokens": embedder.max_tokens, "title_in_passages": True},
                "bm25": {**asdict(config.bm25), **bm25.stats()},
                "dense": dense_info,
                "counts": {
                    "articles": len(chunked.articles),
                    "passages": len(chunked.passages),
                    "sentences": len(chunked.sentences),
                    "skipped": sum(p.skipped for p in problems),
                    "problems": len(problems),
                },
                "sources": files,
                "problems": [asdict(p) for p in problems[:MAX_LISTED_PROBLEMS]],
                "embeddings": asdict(embed_stats),
                "sentence_embeddings": asdict(sentence_stats),
                "timings": timings,
                "libraries": _versions(),
                "files": checksums(tmp),
            }
            final = publish(index_dir, tmp, build_id, manifest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return BuildReport(
        build_id, final, len(chunked.articles), len(chunked.passages), problems, timings, asdict(embed_stats),
        asdict(sentence_stats),
    )
