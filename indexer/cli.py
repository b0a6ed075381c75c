"""`indexer` command line: rebuild an index, print its stats. Configuration lives here, not in the core."""

from __future__ import annotations

import json
import sqlite3
import os
import sys
from pathlib import Path

import click

from search.bm25 import BM25Params
from search.dense import DenseConfig
from search.embed import DEFAULT_MODEL, VARIANTS
from search.errors import NewsclipError
from search.layout import current_build, read_manifest, summary
from search.engine import EngineSettings, SearchEngine
from search.relevance import UNGATED, Gate
from search.models import SearchRequest

from .build import BuildConfig, BuildReport, StrictProblems, build_index
from .ray_options import RAY_CPUS_OPTION, RAY_EMBEDDERS_OPTION, RAY_OPTION, cluster_config
from .chunking import ChunkConfig
from .onnx_export import resolve_variant
from .evaluate import METRICS, MODE_NAMES, DatasetError, IndexSettings, evaluate, index_matches, load_beir
from .sources import FORMATS, MAX_ARTICLE_BYTES, Problem

EXIT_BUILD_FAILED = 1
EXIT_BAD_INPUT = 3
EXIT_BAD_DATASET = 2
MB = 1024 * 1024


def user_model_cache() -> Path:
    """Exported models are kept once per user and machine: $XDG_CACHE_HOME/newsclip/models, else ~/.cache/..."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "newsclip" / "models"


MODEL_CACHE_HELP = ("Folder of exported ONNX models, shared by every index built with it (an export is made once "
                    "per model and variant)  [default: $XDG_CACHE_HOME/newsclip/models, else ~/.cache/newsclip/models]")


def _problem_lines(problems: list[Problem]) -> list[str]:
    return [f"  {'skipped' if p.skipped else 'warning'}: {p.origin}: {p.reason}" for p in problems]


def _print_report(report: BuildReport) -> None:
    click.echo(f"published {report.build_id} -> {report.build_dir}")
    click.echo(f"articles: {report.articles}  passages: {report.passages}  skipped: {report.skipped}")
    e = report.embeddings
    click.echo(f"embeddings: {e.get('embedded', 0)} new, {e.get('cached', 0)} cached, {e.get('duplicates', 0)} duplicate")
    click.echo("seconds: " + "  ".join(f"{k} {v:.2f}" for k, v in report.timings.items()))
    if report.cluster:
        c = report.cluster
        click.echo(f"cluster: {c['address']}: {c['nodes']} node(s) prepared {c['batches']} batches with "
                   f"{c['embedders']} embedders ({c['cpus']:g} CPUs)")
    if report.problems:
        click.echo(f"problems ({len(report.problems)}):")
        for line in _problem_lines(report.problems):
            click.echo(line)


@click.group()
def main() -> None:
    """Build and inspect Newsclip indexes."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are local; never reach for a hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@main.command()
@click.option("--source", "sources", multiple=True, type=click.Path(path_type=Path),
              help="File or folder of articles (repeatable); default: seeds/")
@click.option("--index", "index_dir", default="var/index", show_default=True, type=click.Path(path_type=Path),
              envvar="NEWSCLIP_INDEX", help="Index directory to publish into")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Force one input format")
@click.option("--model", default=DEFAULT_MODEL, show_default=True, envvar="NEWSCLIP_MODEL",
              help="Embedding model: the packaged name or a local sentence-transformers folder")
@click.option("--passage-words", default=ChunkConfig().target_words, show_default=True, type=click.IntRange(10, 400),
              help="Target passage size in words")
@click.option("--overlap", default=ChunkConfig().overlap_sentences, show_default=True, type=click.IntRange(0, 10),
              help="Sentences shared by consecutive passages")
@click.option("--k1", default=BM25Params().k1, show_default=True, type=float)
@click.option("--b", "b", default=BM25Params().b, show_default=True, type=float)
@click.option("--dense", "dense_kind", type=click.Choice(["auto", "flat", "hnsw"]), default="auto", show_default=True,
              help="FAISS index: exact while the collection is small (auto: up to 20,000 passages), HNSW beyond")
@click.option("--embedder", "embedder", type=click.Choice(["auto", *VARIANTS]), default="auto", show_default=True,
              help="Model variant: auto is ONNX int8 with VNNI, int8-rr with AVX2 only, else fp32; or torch fp32")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 1024))
@click.option("--model-cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="NEWSCLIP_MODEL_CACHE", help=MODEL_CACHE_HELP)
@click.option("--max-article-mb", default=MAX_ARTICLE_BYTES / MB, show_default=True,
              type=click.FloatRange(min=0, min_open=True),
              help="Size limit of one article in MB (2^20 bytes) of raw, decompressed input: a page or HTML file, "
                   "a JSONL line. A bigger one is skipped and reported, never read whole into memory")
@click.option("--strict", is_flag=True, help="Any input problem fails the build before anything is written")
@click.option("--quiet", is_flag=True, help="No progress bars")
@RAY_OPTION
@RAY_EMBEDDERS_OPTION
@RAY_CPUS_OPTION
def rebuild(sources: tuple[Path, ...], index_dir: Path, fmt: str | None, model: str, passage_words: int,
            overlap: int, k1: float, b: float, dense_kind: str, embedder: str, batch_size: int,
            model_cache: Path | None, max_article_mb: float, strict: bool, quiet: bool, ray: str | None,
            ray_embedders: int | None, ray_cpus_per_embedder: float) -> None:
    """Build a new index from SOURCES and publish it atomically."""
    config = BuildConfig(
        sources=sources or (Path("seeds"),),
        index_dir=index_dir,
        fmt=fmt,
        model=model,
        embedder=embedder,
        chunking=ChunkConfig(passage_words, overlap),
        bm25=BM25Params(k1=k1, b=b),
        dense=DenseConfig(kind=dense_kind),
        batch_size=batch_size,
        model_cache=model_cache or user_model_cache(),
        strict=strict,
        progress=not quiet,
        max_article_bytes=max(1, int(max_article_mb * MB)),
        ray=cluster_config(ray, ray_embedders, ray_cpus_per_embedder),
    )
    try:
        report = build_index(config)
    except StrictProblems as exc:
        click.echo(f"error: {exc}", err=True)
        for line in _problem_lines(exc.problems):
            click.echo(line, err=True)
        sys.exit(EXIT_BAD_INPUT)
    except (NewsclipError, OSError, sqlite3.Error) as exc:  # sqlite3 says "database or disk is full" its own way
        click.echo(f"error: rebuild failed, the previous index stays current: {exc}", err=True)
        sys.exit(EXIT_BUILD_FAILED)
    _print_report(report)


@main.command()
@click.option("--index", "index_dir", default="var/index", show_default=True, type=click.Path(path_type=Path),
              envvar="NEWSCLIP_INDEX")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output")
def stats(index_dir: Path, as_json: bool) -> None:
    """Print the current build's summary with its live commit: segments, live and deleted passages, the journal."""
    from search.segments import commit_summary  # noqa: PLC0415

    try:
        build = current_build(index_dir)
        manifest = read_manifest(build)
        info = {**summary(manifest, build), **commit_summary(build, manifest)}
    except NewsclipError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BUILD_FAILED)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    segments = info.pop("segment_list", [])
    for key, value in info.items():
        click.echo(f"{key:>17}: {value}")
    for row in segments:
        click.echo(f"  {row['segment']:<16} {row['articles']:>8} articles {row['passages']:>9} passages "
                   f"({row['deleted_articles']} articles, {row['deleted_passages']} passages deleted)")


@main.command("eval")
@click.option("--dataset", "dataset_dir", required=True, type=click.Path(path_type=Path),
              help="BEIR-layout folder: corpus.jsonl[.gz], queries.jsonl, qrels/<split>.tsv")
@click.option("--split", default="test", show_default=True, help="Which qrels/<split>.tsv to score against")
@click.option("--index", "index_dir", default=None, type=click.Path(path_type=Path),
              help="Index directory, built or reused  [default: var/eval/<dataset name>]")
@click.option("--model", default=DEFAULT_MODEL, show_default=True, envvar="NEWSCLIP_MODEL")
@click.option("--passage-words", default=ChunkConfig().target_words, show_default=True, type=click.IntRange(10, 400))
@click.option("--overlap", default=ChunkConfig().overlap_sentences, show_default=True, type=click.IntRange(0, 10))
@click.option("--k1", default=BM25Params().k1, show_default=True, type=float)
@click.option("--b", "b", default=BM25Params().b, show_default=True, type=float)
@click.option("--window", default=EngineSettings().window, show_default=True, type=click.IntRange(1, 100000),
              help="Candidates per leg at least")
@click.option("--rrf-k", default=EngineSettings().rrf_k, show_default=True, type=click.IntRange(1, 100000))
@click.option("--alpha", default=SearchRequest("q").alpha, show_default=True, type=click.FloatRange(0, 1),
              help="Weight of the dense leg in hybrid-linear")
@click.option("--mode", "modes", multiple=True, type=click.Choice(MODE_NAMES),
              help="Evaluate only these modes (repeatable)  [default: all four]")
@click.option("--embedder", "embedder", type=click.Choice(["auto", *VARIANTS]), default="auto", show_default=True,
              help="Model variant: auto is ONNX int8 with VNNI, int8-rr with AVX2 only, else fp32; or torch fp32")
@click.option("--model-cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              envvar="NEWSCLIP_MODEL_CACHE", help=MODEL_CACHE_HELP)
@click.option("--gate/--no-gate", default=False, show_default=True,
              help="Apply the served relevance gate (hits below it are dropped); off: score the ranking alone")
@click.option("--rebuild", "force", is_flag=True, help="Rebuild the index even when it matches")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output")
@click.option("--per-query", is_flag=True, help="With --json: each query's figures too")
@click.option("--quiet", is_flag=True, help="No progress bars")
def eval_command(dataset_dir: Path, split: str, index_dir: Path | None, model: str, passage_words: int, overlap: int,
                 k1: float, b: float, window: int, rrf_k: int, alpha: float, modes: tuple[str, ...], embedder: str,
                 model_cache: Path | None, gate: bool, force: bool, as_json: bool, per_query: bool,
                 quiet: bool) -> None:
    """Score every mode on a BEIR test collection: nDCG@10, Recall@100 and MRR@10 per mode."""
    try:
        dataset = load_beir(dataset_dir, split)
    except DatasetError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_DATASET)
    index_dir = index_dir or Path("var/eval") / dataset.name
    bm25 = BM25Params(k1=k1, b=b)
    variant = resolve_variant(embedder)
    wanted = IndexSettings(passage_words, overlap, bm25.k1, bm25.b, bm25.epsilon, model, variant)
    reuse, why = (False, "--rebuild") if force else index_matches(index_dir, dataset.corpus, wanted)
    log = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    try:
        if reuse:
            log(f"reusing {index_dir}: {why}")
        else:
            log(f"building {index_dir}: {why}")
            config = BuildConfig(sources=(dataset.corpus,), index_dir=index_dir, fmt="jsonl", model=model,
                                 embedder=variant, chunking=ChunkConfig(passage_words, overlap), bm25=bm25,
                                 model_cache=model_cache or user_model_cache(), progress=not quiet)
            build_index(config)
        engine = SearchEngine.open(index_dir, model=model, settings=EngineSettings(
            window=window, rrf_k=rrf_k, gate=Gate() if gate else UNGATED))
    except (NewsclipError, OSError) as exc:
        click.echo(f"error: cannot build or open the index {index_dir}: {exc}", err=True)
        sys.exit(EXIT_BUILD_FAILED)
    try:
        result = evaluate(engine.search, dataset, modes or MODE_NAMES, alpha)
    finally:
        engine.close()
    settings = {"gate": gate, "passage_words": passage_words, "overlap": overlap, "k1": bm25.k1, "b": bm25.b,
                "epsilon": bm25.epsilon, "window": window, "rrf_k": rrf_k, "alpha": alpha, "model": model,
                "embedder": variant}
    if as_json:
        out = {"dataset": dataset.name, "path": str(dataset_dir), "split": split, "queries": result.queries,
               "index": str(index_dir), "reused": reuse, "settings": settings, "gain": "2^rel-1",
               "modes": result.table()}
        if per_query:
            out["per_query"] = {m: got["per_query"] for m, got in result.modes.items()}
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{dataset.name}: {result.queries} judged queries, index {index_dir}")
    click.echo("settings: " + "  ".join(f"{k}={v}" for k, v in settings.items()))
    click.echo(f"{'mode':<14}" + "".join(f"{m:>9}" for m in METRICS))
    for mode, row in result.table().items():
        click.echo(f"{mode:<14}" + "".join(f"{row[m]:>9.4f}" for m in METRICS))


from .archive_cli import add, delete, follow, merge  # noqa: E402 - the living archive's commands, own module

main.add_command(add)
main.add_command(delete)
main.add_command(follow)
main.add_command(merge)
