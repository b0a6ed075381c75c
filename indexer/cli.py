"""`indexer` command line: rebuild an index, print its stats. Configuration lives here, not in the core."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from search.bm25 import BM25Params
from search.dense import DenseConfig
from search.embed import DEFAULT_MODEL
from search.errors import NewsclipError
from search.layout import current_build, read_manifest, summary

from .build import BuildConfig, BuildReport, StrictProblems, build_index
from .chunking import ChunkConfig
from .sources import FORMATS, Problem

EXIT_BUILD_FAILED = 1
EXIT_BAD_INPUT = 3


def _problem_lines(problems: list[Problem]) -> list[str]:
    return [f"  {'skipped' if p.skipped else 'warning'}: {p.origin}: {p.reason}" for p in problems]


def _print_report(report: BuildReport) -> None:
    click.echo(f"published {report.build_id} -> {report.build_dir}")
    click.echo(f"articles: {report.articles}  passages: {report.passages}  skipped: {report.skipped}")
    e = report.embeddings
    click.echo(f"embeddings: {e.get('embedded', 0)} new, {e.get('cached', 0)} cached, {e.get('duplicates', 0)} duplicate")
    click.echo("seconds: " + "  ".join(f"{k} {v:.2f}" for k, v in report.timings.items()))
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
              help="FAISS index: exact while the collection is small (auto: up to 200,000 passages), HNSW beyond")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 1024))
@click.option("--strict", is_flag=True, help="Any input problem fails the build before anything is written")
@click.option("--quiet", is_flag=True, help="No progress bars")
def rebuild(sources: tuple[Path, ...], index_dir: Path, fmt: str | None, model: str, passage_words: int,
            overlap: int, k1: float, b: float, dense_kind: str, batch_size: int, strict: bool, quiet: bool) -> None:
    """Build a new index from SOURCES and publish it atomically."""
    config = BuildConfig(
        sources=sources or (Path("seeds"),),
        index_dir=index_dir,
        fmt=fmt,
        model=model,
        chunking=ChunkConfig(passage_words, overlap),
        bm25=BM25Params(k1=k1, b=b),
        dense=DenseConfig(kind=dense_kind),
        batch_size=batch_size,
        strict=strict,
        progress=not quiet,
    )
    try:
        report = build_index(config)
    except StrictProblems as exc:
        click.echo(f"error: {exc}", err=True)
        for line in _problem_lines(exc.problems):
            click.echo(line, err=True)
        sys.exit(EXIT_BAD_INPUT)
    except (NewsclipError, OSError) as exc:
        click.echo(f"error: rebuild failed, the previous index stays current: {exc}", err=True)
        sys.exit(EXIT_BUILD_FAILED)
    _print_report(report)


@main.command()
@click.option("--index", "index_dir", default="var/index", show_default=True, type=click.Path(path_type=Path),
              envvar="NEWSCLIP_INDEX")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output")
def stats(index_dir: Path, as_json: bool) -> None:
    """Print the current build's manifest summary."""
    try:
        build = current_build(index_dir)
        info = summary(read_manifest(build), build)
    except NewsclipError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BUILD_FAILED)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for key, value in info.items():
        click.echo(f"{key:>14}: {value}")
