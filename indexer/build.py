"""build_index(): read -> chunk -> embed -> BM25 + FAISS + SQLite -> manifest -> publish."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tqdm import tqdm

from search.bm25 import BM25Params
from search.dense import DenseConfig
from search.embed import DEFAULT_MODEL, MODEL_DIR, TORCH_FP32, Embedder, OnnxEmbedder, SentenceTransformerEmbedder
from search.errors import BuildError
from search.layout import CACHE, FORMAT_VERSION
from search.models import Article, Passage
from search.text import ANALYZER_SETTINGS

from .chunking import ChunkConfig
from .cluster import ClusterConfig, connected, pool_size, prepare_on_cluster
from .embedcache import EmbeddingCache
from .prepare import NO_SENTENCES, chunk_article
from .sink import Sink, StrictProblems, stage, write_events  # noqa: F401 - StrictProblems: the build's error
from .onnx_export import exported_model, resolve_variant
from .publish import checksums, clean_leftovers, new_build_id, publish, rebuild_lock, start_build
from .sources import MAX_ARTICLE_BYTES, Problem, read_file
from .sources.base import file_info
from .sources.decode import open_binary
from .sources.walk import walk_sources

EMBED_CACHE = "embeddings.sqlite"
MODELS = "models"  # exported ONNX models, under the index's cache folder
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
    ray: ClusterConfig | None = None  # read, chunk and embed on a Ray cluster; the driver writes (indexer.cluster)


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
    cluster: dict[str, Any] | None = None  # with --ray: nodes, embedders and batches

    @property
    def skipped(self) -> int:
        return sum(p.skipped for p in self.problems)


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
            with stage(timings, "read"):
                files.append(file_info(path, fmt))
        except OSError as exc:
            problems.append(Problem(str(path), f"cannot read: {exc}", True))
            if on_skip is not None:
                on_skip(1)
            continue
        articles = iter(read_file(path, fmt, root=root, max_bytes=max_bytes))
        while True:
            with stage(timings, "read"):
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
    out = Chunked()
    for article in tqdm(articles, desc="chunk", unit="article", disable=not config.progress):
        passages, texts, sentences = chunk_article(article, config.chunking, embedder)
        if not passages:
            problems.append(Problem(article.origin, NO_SENTENCES, True))
            continue
        row = len(out.articles)
        out.articles.append(article)
        out.passages.extend(passages)
        out.texts.extend(texts)
        out.passage_article.extend([row] * len(passages))
        out.sentences.extend((row, a, b) for a, b in sentences)
        out.sentence_texts.extend(article.text[a:b] for a, b in sentences)
    return out


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


def _write_from_cluster(listed: list, config: BuildConfig, embedder: Embedder, sink: Sink, problems: list[Problem],
                        files: list[dict[str, Any]], timings: dict[str, float], progress: _Progress) -> dict[str, Any]:
    """Read and prepare the listed sources on the cluster and write them; returns what the cluster did."""
    with stage(timings, "cluster"), connected(config.ray) as resources:
        events = prepare_on_cluster(listed, embedder, config.chunking, config.batch_articles, config.batch_size,
                                    config.max_article_bytes, config.ray, resources)
        done = write_events(events, sink, timings, problems, files, progress, config.strict)
        return {"address": config.ray.address, **done, "cpus": float(resources.get("CPU", 0)),
                "embedders": pool_size(config.ray, resources)[0]}


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
    with stage(timings, "model"):
        embedder = embedder or load_embedder(config)
    index_dir = Path(config.index_dir)
    with rebuild_lock(index_dir):
        clean_leftovers(index_dir)
        build_id = new_build_id()
        tmp = start_build(index_dir, build_id)
        cache = sink = None
        try:
            cache = EmbeddingCache(index_dir / CACHE / EMBED_CACHE, embedder.dimension)
            sink = Sink(tmp, embedder, config)
            _ship_model(embedder, tmp)
            with stage(timings, "count"):
                total = count_articles(listed)
            progress = _Progress(total, config.progress)
            finished, cluster = False, None
            try:
                if config.ray is not None:
                    cluster = _write_from_cluster(listed, config, embedder, sink, problems, files, timings, progress)
                else:
                    articles = iter_articles(listed, problems, files, timings, config.max_article_bytes,
                                             progress.advance)
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
                **({"cluster": cluster} if cluster else {}),
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
        asdict(sink.sentence_stats), cluster,
    )
