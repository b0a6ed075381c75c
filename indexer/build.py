"""build_index(): read -> chunk -> embed -> BM25 + FAISS + SQLite -> manifest -> publish."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from search.bm25 import BM25Builder, BM25Index, BM25Params
from search.dense import DenseConfig, build_dense, save_dense
from search.embed import DEFAULT_MODEL, MODEL_DIR, TORCH_FP32, Embedder, OnnxEmbedder, SentenceTransformerEmbedder
from search.errors import BuildError
from search.columns import ColumnsBuilder
from search.layout import BM25_DIR, CACHE, COLUMNS, DENSE, FORMAT_VERSION, QUOTES, STORE, sha256_file
from search.models import Article, Passage, Quotation
from search.quotes import SEARCHABLE, QuoteIndexBuilder, quote_text
from search.store import StoreWriter
from search.text import ANALYZER_SETTINGS, tokenize

from .chunking import ChunkConfig, split_article
from .embedcache import EmbeddingCache, EmbedStats, embed_all
from .quotes import extract_quotations
from .onnx_export import exported_model, resolve_variant
from .publish import checksums, clean_leftovers, new_build_id, publish, rebuild_lock, start_build
from .sources import MAX_ARTICLE_BYTES, Problem, printable_path, read_file
from .sources.decode import open_binary
from .sources.walk import walk_sources

EMBED_CACHE = "embeddings.sqlite"
MODELS = "models"  # exported ONNX models, under the index's cache folder
PASSAGE_VECTORS = "passage_vectors.f32.part"  # spilled during a build, removed before the manifest
MAX_LISTED_PROBLEMS = 1000
COUNT_PIECE = 1024 * 1024  # bytes read at a time when counting JSONL lines for the progress total


@dataclass(frozen=True)
class BuildConfig:
    """Every setting of a rebuild; the CLI fills it from its options."""

    sources: tuple[Path, ...] = (Path("seeds"),)
    index_dir: Path = Path("var/index")
    fmt: str | None = None
    model: str = DEFAULT_MODEL
    embedder: str = "auto"  # auto | onnx-int8 | onnx-fp32 | torch-fp32 (auto: int8 where the CPU has VNNI)
    embed_threads: int = 2  # a build has the machine to itself: both cores
    chunking: ChunkConfig = ChunkConfig()
    bm25: BM25Params = BM25Params()
    dense: DenseConfig = DenseConfig()
    batch_size: int = 32
    batch_articles: int = 8  # articles read, chunked, embedded and written together: the progress bar's step
    # (seconds even on a slow CPU) and a bound on a rebuild's memory; 8 costs no more CPU than 500 (measured)
    model_cache: Path | None = None  # exported ONNX models; None: the index's own cache/models (the CLI passes the
    # user's cache, --model-cache), so a new index folder does not export the model again
    strict: bool = False
    progress: bool = True
    max_article_bytes: int = MAX_ARTICLE_BYTES  # one article's raw bytes (a page file, a JSONL line); over: skipped


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
    """--strict met bad input: nothing was published, and the temporary build is gone."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} input problem(s) with --strict; nothing was published")
        self.problems = problems


@contextmanager
def _stage(timings: dict[str, float], name: str) -> Iterator[None]:
    """Time a stage; a streamed stage runs once per batch, so its times add up."""
    began = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - began, 3)


def iter_articles(
    listed: list, problems: list[Problem], files: list[dict[str, Any]], timings: dict[str, float],
    max_bytes: int = MAX_ARTICLE_BYTES, on_skip: Callable[[int], None] | None = None,
) -> Iterator[Article]:
    """Articles of the listed sources one at a time, each id once; problems and files recorded as they come, and
    each input record skipped (a bad line or file, a duplicate) told to on_skip, so progress counts it as done."""
    seen: set[str] = set()
    for item in listed:
        if isinstance(item, Problem):
            problems.append(item)
            continue
        path, fmt, root = item
        try:
            with _stage(timings, "read"):
                files.append({"path": printable_path(path), "format": fmt, "sha256": sha256_file(path),
                              "bytes": path.stat().st_size})
        except OSError as exc:
            problems.append(Problem(str(path), f"cannot read: {exc}", True))
            if on_skip is not None:
                on_skip(1)
            continue
        articles = iter(read_file(path, fmt, root=root, max_bytes=max_bytes))
        while True:
            with _stage(timings, "read"):
                got = next(articles, None)
            if got is None:
                break
            if isinstance(got, Problem):
                problems.append(got)
                if got.skipped and on_skip is not None:
                    on_skip(1)
            elif got.id in seen:
                problems.append(Problem(got.origin, f"duplicate article id {got.id!r}", True))
                if on_skip is not None:
                    on_skip(1)
            else:
                seen.add(got.id)
                yield got


def count_articles(listed: list) -> int:
    """The progress bar's total: one article per page or HTML file, one per JSONL line (a .gz is inflated once
    more for it, in 1 MB pieces: about 4 s per GB, never a line in memory). Blank lines count too; the bar's
    total is corrected to what was done when the build ends."""
    total = 0
    for item in listed:
        if not isinstance(item, Problem):
            path, fmt, _root = item
            total += _count_lines(path) if fmt == "jsonl" else 1
    return total


def _count_lines(path: Path) -> int:
    """Lines of a (possibly gzipped) file, the last one counted without its newline; 1 when unreadable (the
    read reports it)."""
    lines, last = 0, b"\n"
    try:
        with open_binary(path) as handle:
            while piece := handle.read(COUNT_PIECE):
                lines += piece.count(b"\n")
                last = piece[-1:]
    except (OSError, EOFError, zlib.error):
        return max(lines, 1)
    return lines + (last != b"\n")


class _Progress:
    """The build's one bar: articles done (indexed or skipped) of those counted in the input, with rate and ETA."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = tqdm(total=total, desc="index", unit="article", disable=not enabled, smoothing=0.1)

    def advance(self, n: int) -> None:
        if n <= 0:
            return
        if self.bar.total is not None and self.bar.n + n > self.bar.total:
            self.bar.total = self.bar.n + n  # more records than counted (a count is never read twice)
        self.bar.update(n)

    def close(self, finished: bool) -> None:
        if finished and self.bar.total != self.bar.n:
            self.bar.total = self.bar.n  # blank lines were counted and never come: the bar ends full
            self.bar.refresh()
        self.bar.close()


def read_sources(config: BuildConfig) -> tuple[list[Article], list[Problem], list[dict[str, Any]]]:
    """All articles of the sources in a list (for benchmarks and tests; a rebuild streams them instead)."""
    problems: list[Problem] = []
    files: list[dict[str, Any]] = []
    listed = list(walk_sources(list(config.sources), config.fmt))
    articles = list(iter_articles(listed, problems, files, {}, config.max_article_bytes))
    return articles, problems, files


def embed_text(article: Article, passage: Passage) -> str:
    """What is embedded and BM25-indexed for a passage: the title makes every passage findable by it (a
    headline-only brief is its title already: counted once)."""
    return f"{article.title}\n{passage.text}" if article.title and article.text != article.title else passage.text


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
        prefix = f"{article.title}\n" if article.title and article.text != article.title else ""
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


def article_quotations(article: Article) -> list[Quotation]:
    """The article's quotations as stored: offsets into its text, the spoken words, speaker, role and kind."""
    return [
        Quotation(article.id, f.start, f.end, f.parts, quote_text(article.text, f.parts), f.speaker, f.role, f.kind,
                  getattr(f, "speaker_kind", None))
        for f in extract_quotations(article.text)
    ]


def check_lengths(texts: list[str], embedder: Embedder, first: int = 0) -> None:
    """Never let the model truncate a passage silently (`first`: the row of texts[0], for the message)."""
    for i in range(0, len(texts), 1024):
        for j, n in enumerate(embedder.count_tokens(texts[i : i + 1024])):
            if n > embedder.max_tokens:
                raise BuildError(f"passage {first + i + j} has {n} word pieces, over the model's {embedder.max_tokens}")


def _versions() -> dict[str, str]:
    names = ("newsclip", "faiss-cpu", "onnxruntime", "onnx", "sentence-transformers", "torch", "numpy", "rank-bm25",
             "PyStemmer", "pysbd")
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


class _Sink:
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
        """Chunk, embed (through the cache), tokenize and write one batch of articles."""
        with _stage(timings, "chunk"):
            chunked = chunk_all(batch, self.embedder, replace(self.config, progress=False), problems)
            check_lengths(chunked.texts, self.embedder, first=self.passages)
        with _stage(timings, "embed"):
            vectors, stats = embed_all(chunked.texts, self.embedder, cache, self.config.batch_size, False)
            self.embed_stats = _add_stats(self.embed_stats, stats)
        with _stage(timings, "embed_sentences"):  # the quote choice compares sentences to the question
            sentence_vectors, stats = embed_all(chunked.sentence_texts, self.embedder, cache,
                                                self.config.batch_size * 2, False)
            self.sentence_stats = _add_stats(self.sentence_stats, stats)
        with _stage(timings, "quotes"):  # quotations are searched by their words: embedded like passages
            quotes = [article_quotations(a) for a in chunked.articles]
            spoken = [q for qs in quotes for q in qs if q.kind in SEARCHABLE]
            spoken_vectors, stats = embed_all([q.text for q in spoken], self.embedder, cache,
                                              self.config.batch_size, False)
            self.quote_stats = _add_stats(self.quote_stats, stats)
            vector_of = {id(q): v for q, v in zip(spoken, spoken_vectors)}
            blank = np.zeros(self.embedder.dimension, dtype=np.float32)  # terms are never searched
        with _stage(timings, "bm25"):
            for text in chunked.texts:
                self.bm25.add(tokenize(text))
        with _stage(timings, "store"):
            self.vectors.write(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
            by_article = np.bincount(np.asarray(chunked.passage_article, dtype=np.int64),
                                     minlength=len(chunked.articles))
            first_passage = np.concatenate([[0], np.cumsum(by_article)]).tolist()
            spans: list[list[tuple[int, int]]] = [[] for _ in chunked.articles]
            for row, a, b in chunked.sentences:
                spans[row].append((a, b))
            s = 0
            for row, article in enumerate(chunked.articles):
                self.store.add(article, chunked.passages[first_passage[row] : first_passage[row + 1]], quotes[row])
                self.quotes.add(self.articles + row, quotes[row],
                                np.array([vector_of.get(id(q), blank) for q in quotes[row]], dtype=np.float32))
                self.columns.add(article, int(by_article[row]), spans[row], sentence_vectors[s : s + len(spans[row])])
                s += len(spans[row])
        self.articles += len(chunked.articles)
        self.passages += len(chunked.passages)
        self.sentences += len(chunked.sentences)

    def finish(self, tmp: Path, timings: dict[str, float]) -> tuple[BM25Index, dict[str, Any]]:
        """Write BM25, FAISS (from the spilled vectors, which are then removed), the store and the columns."""
        self.vectors.close()
        with _stage(timings, "store"):
            self.store.close()
            self.columns.save()
        with _stage(timings, "bm25"):
            bm25 = self.bm25.finish()
            bm25.save(tmp / BM25_DIR)
        with _stage(timings, "faiss"):
            dim = self.embedder.dimension
            vectors = np.memmap(self.vectors_path, dtype=np.float32, mode="r", shape=(self.passages, dim)) \
                if self.passages else np.zeros((0, dim), dtype=np.float32)
            dense_index, dense_info = build_dense(vectors, self.config.dense)
            save_dense(dense_index, tmp / DENSE)
            del dense_index, vectors
            self.vectors_path.unlink()
        with _stage(timings, "quotes"):
            self.quote_info = self.quotes.finish(self.config.dense)
        return bm25, dense_info

    def abort(self) -> None:
        """Close what is open; the caller removes the temporary build."""
        self.vectors.close()
        self.store.abort()
        self.quotes.abort()


def _add_stats(a: EmbedStats, b: EmbedStats) -> EmbedStats:
    return EmbedStats(a.cached + b.cached, a.embedded + b.embedded, a.duplicates + b.duplicates)


def _batches(articles: Iterator[Article], size: int) -> Iterator[list[Article]]:
    batch: list[Article] = []
    for article in articles:
        batch.append(article)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_embedder(config: BuildConfig) -> Embedder:
    """The model variant of the setting: torch, or the ONNX export, made once per model cache and reused by every
    index built with that cache (config.model_cache; else the index's own cache folder)."""
    variant = resolve_variant(config.embedder)
    if variant == TORCH_FP32:
        return SentenceTransformerEmbedder(config.model, threads=config.embed_threads)
    cache = Path(config.model_cache) if config.model_cache is not None else Path(config.index_dir) / CACHE / MODELS

    def announce(folder: Path) -> None:
        if config.progress:  # the export takes half a minute or more: say why nothing moves
            tqdm.write(f"exporting {config.model} to ONNX ({variant}), once for this model cache: {folder}",
                       file=sys.stderr)

    folder = exported_model(config.model, variant, cache, on_export=announce)
    return OnnxEmbedder(folder, threads=config.embed_threads)


def _ship_model(embedder: Embedder, tmp: Path) -> None:
    """Put the exported model into the build, so the server embeds questions with exactly what embedded passages."""
    folder = getattr(embedder, "folder", None)
    if folder is None:
        return

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)  # the cache and the build share a filesystem: no 23 MB copy per build
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(folder, tmp / MODEL_DIR, copy_function=link_or_copy)


def build_index(config: BuildConfig, embedder: Embedder | None = None) -> BuildReport:
    """Stream the articles into a temporary build and publish it atomically; on any failure the previous one stays.

    Memory holds one batch of articles at a time plus the index's own compact arrays (BM25 term ids, the FAISS
    index), never the corpus text: vectors are spilled to the temporary build and read back memory-mapped.
    """
    timings: dict[str, float] = {}
    problems: list[Problem] = []
    files: list[dict[str, Any]] = []
    listed = list(walk_sources(list(config.sources), config.fmt))
    if config.strict and any(isinstance(item, Problem) for item in listed):
        raise StrictProblems([item for item in listed if isinstance(item, Problem)])
    if not any(not isinstance(item, Problem) for item in listed):
        problems = [item for item in listed if isinstance(item, Problem)]
        raise BuildError("no articles to index: " + (f"{len(problems)} problem(s)" if problems else "no input files"))
    with _stage(timings, "model"):
        embedder = embedder or load_embedder(config)
    index_dir = Path(config.index_dir)
    with rebuild_lock(index_dir):
        clean_leftovers(index_dir)
        build_id = new_build_id()
        tmp = start_build(index_dir, build_id)
        cache = sink = None
        try:
            cache = EmbeddingCache(index_dir / CACHE / EMBED_CACHE, embedder.dimension)
            sink = _Sink(tmp, embedder, config)
            _ship_model(embedder, tmp)
            with _stage(timings, "count"):
                total = count_articles(listed)
            progress = _Progress(total, config.progress)
            finished = False
            try:
                articles = iter_articles(listed, problems, files, timings, config.max_article_bytes, progress.advance)
                for batch in _batches(articles, config.batch_articles):
                    if config.strict and problems:
                        raise StrictProblems(problems)
                    sink.add(batch, cache, timings, problems)
                    progress.advance(len(batch))
                finished = True
            finally:
                progress.close(finished)
            if config.strict and problems:
                raise StrictProblems(problems)
            if not sink.articles:
                raise BuildError("no articles to index: " + (f"{len(problems)} problem(s)" if problems
                                                             else "no input files"))
            bm25, dense_info = sink.finish(tmp, timings)
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
                    "articles": sink.articles,
                    "passages": sink.passages,
                    "sentences": sink.sentences,
                    "quotes": sink.quotes.count,
                    "skipped": sum(p.skipped for p in problems),
                    "problems": len(problems),
                },
                "sources": files,
                "limits": {"max_article_bytes": config.max_article_bytes},
                "problems": [asdict(p) for p in problems[:MAX_LISTED_PROBLEMS]],
                "embeddings": asdict(sink.embed_stats),
                "sentence_embeddings": asdict(sink.sentence_stats),
                "quotes": {**sink.quote_info, "embeddings": asdict(sink.quote_stats)},
                "timings": timings,
                "libraries": _versions(),
                "files": checksums(tmp),
            }
            final = publish(index_dir, tmp, build_id, manifest)
        except BaseException:
            if sink is not None:
                sink.abort()
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            if cache is not None:
                cache.close()
    return BuildReport(
        build_id, final, sink.articles, sink.passages, problems, timings, asdict(sink.embed_stats),
        asdict(sink.sentence_stats),
    )
