"""`indexer add` and `indexer delete`: the living archive from the command line (exit 0 only once committed)."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import click

from search.errors import NewsclipError

from .build import BuildConfig, iter_articles
from .living import apply_journaled, merge_in_background, writer_lock
from .ray_options import RAY_CPUS_OPTION, RAY_EMBEDDERS_OPTION, RAY_OPTION, cluster_config
from .sources import FORMATS, MAX_ARTICLE_BYTES, Problem
from .sources.jsonl import bounded_lines, parse_line
from .sources.walk import walk_sources

EXIT_FAILED = 1
EXIT_BAD_INPUT = 3
MB = 1024 * 1024


def read_stdin(problems: list[Problem], max_bytes: int) -> list:
    """Articles from JSONL on standard input (`--source -`), one per line, under the same rules as a file."""
    articles, seen = [], set()
    for number, line in enumerate(bounded_lines(sys.stdin.buffer, max_bytes), start=1):
        origin = f"<stdin>:{number}"
        if line is None:
            problems.append(Problem(origin, f"line over the {max_bytes}-byte limit", True))
            continue
        if not line.strip():
            continue
        for got in parse_line(line, origin, f"stdin:{number}"):
            if isinstance(got, Problem):
                problems.append(got)
            elif got.id in seen:
                problems.append(Problem(origin, f"duplicate article id {got.id!r}", True))
            else:
                seen.add(got.id)
                articles.append(got)
    return articles


def read_inputs(sources: tuple[str, ...], fmt: str | None, max_bytes: int) -> tuple[list, list[Problem]]:
    problems: list[Problem] = []
    articles = []
    files = [Path(s) for s in sources if s != "-"]
    if files:
        listed = list(walk_sources(files, fmt))
        articles.extend(iter_articles(listed, problems, [], {}, max_bytes))
    if "-" in sources:
        articles.extend(read_stdin(problems, max_bytes))
    last = {a.id: a for a in articles}  # the same id twice across inputs: the last one read
    return list(last.values()), problems


def _report(report, problems: list[Problem], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({**report.to_json(), "problems": [p.__dict__ for p in problems[:1000]]}, indent=2))
        return
    click.echo(f"commit {report.generation}: {len(report.added)} added, {len(report.replaced)} replaced, "
               f"{len(report.unchanged)} unchanged, {len(report.deleted)} deleted; {report.segments} segments; "
               f"{report.seconds:.2f} s")
    if report.missing:
        click.echo(f"not found (nothing to delete): {', '.join(report.missing[:20])}")
    for p in problems:
        click.echo(f"  {'skipped' if p.skipped else 'warning'}: {p.origin}: {p.reason}", err=True)


@click.command()
@click.option("--source", "sources", multiple=True, required=True,
              help="File or folder of articles (repeatable), same formats and rules as rebuild; - reads JSONL from stdin")
@click.option("--index", "index_dir", default="var/index", show_default=True, type=click.Path(path_type=Path),
              envvar="NEWSCLIP_INDEX")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Force one input format")
@click.option("--max-article-mb", default=MAX_ARTICLE_BYTES / MB, show_default=True,
              type=click.FloatRange(min=0, min_open=True), help="Size limit of one article, as for rebuild")
@click.option("--strict", is_flag=True, help="Any input problem fails the add before anything is written")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output")
@RAY_OPTION
@RAY_EMBEDDERS_OPTION
@RAY_CPUS_OPTION
def add(sources: tuple[str, ...], index_dir: Path, fmt: str | None, max_article_mb: float, strict: bool,
        as_json: bool, ray: str | None, ray_embedders: int | None, ray_cpus_per_embedder: float) -> None:
    """Add articles to the live index: new ids are added, changed ones replaced, unchanged ones left alone."""
    max_bytes = max(1, int(max_article_mb * MB))
    articles, problems = read_inputs(sources, fmt, max_bytes)
    if strict and problems:
        for p in problems:
            click.echo(f"  {p.origin}: {p.reason}", err=True)
        click.echo("error: --strict: input problems, nothing added", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if not articles:
        for p in problems:
            click.echo(f"  skipped: {p.origin}: {p.reason}", err=True)
        click.echo("error: no articles to add", err=True)
        sys.exit(EXIT_BAD_INPUT)
    try:
        config = BuildConfig(index_dir=index_dir, progress=False,
                             ray=cluster_config(ray, ray_embedders, ray_cpus_per_embedder))
        report = apply_journaled(index_dir, adds=articles, config=config)
    except (NewsclipError, OSError, sqlite3.Error) as exc:
        click.echo(f"error: add failed, the index is unchanged: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    _report(report, problems, as_json)
    _merge_later(index_dir)


def _merge_later(index_dir: Path) -> None:
    """Segments merge in the background (the policy of indexer/mergepolicy.py): never delays the write."""
    try:
        merge_in_background(index_dir)
    except (NewsclipError, OSError) as exc:
        click.echo(f"warning: no background merge started: {exc}", err=True)


@click.command()
@click.option("--id", "ids", multiple=True, help="Article id to delete (repeatable)")
@click.option("--ids-file", type=click.File("r", encoding="utf-8"), default=None,
              help="File of article ids, one per line (- for stdin)")
@click.option("--index", "index_dir", default="var/index", show_default=True, type=click.Path(path_type=Path),
              envvar="NEWSCLIP_INDEX")
@click.option("--expunge", is_flag=True,
              help="Also rewrite the segments that held them at once, so not even a rare word of theirs remains")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output")
def delete(ids: tuple[str, ...], ids_file, index_dir: Path, expunge: bool, as_json: bool) -> None:  # noqa: ANN001
    """Delete articles: gone from every answer once this exits 0, their text purged from the index's files."""
    wanted = list(ids) + ([line.strip() for line in ids_file if line.strip()] if ids_file else [])
    if not wanted:
        click.echo("error: give --id or --ids-file", err=True)
        sys.exit(EXIT_BAD_INPUT)
    try:
        report = apply_journaled(index_dir, deletes=list(dict.fromkeys(wanted)))
        if expunge and report.deleted:
            report.generation, report.segments = expunge_deleted(index_dir)
    except (NewsclipError, OSError, sqlite3.Error) as exc:
        click.echo(f"error: delete failed, the index is unchanged: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    _report(report, [], as_json)
    if not expunge:
        _merge_later(index_dir)


def expunge_deleted(index_dir: Path) -> tuple[int, int]:
    """Rewrite every segment with deleted rows (alone), so its term dictionary forgets them; (generation, segments)."""
    from search.commit import read_commit
    from search.layout import current_build, read_manifest

    from .merge import apply_merge

    build = current_build(index_dir)
    articles = int(read_manifest(build)["counts"]["articles"])
    commit = read_commit(build, articles)
    for i in range(len(commit.segments) - 1, -1, -1):  # from the last: the earlier indexes hold
        commit = read_commit(build, articles)
        if commit.segments[i].deleted is not None:
            commit = apply_merge(build, commit, i, i, BuildConfig(index_dir=index_dir, progress=False),
                                 lock=lambda: writer_lock(index_dir))
    return commit.generation, len(commit.segments)


@click.command()
@click.option("--index", "index_dir", default="var/index", show_default=True, type=click.Path(path_type=Path),
              envvar="NEWSCLIP_INDEX")
@click.option("--quiet", is_flag=True, help="Say nothing when there is nothing to merge or a merge is running")
def merge(index_dir: Path, quiet: bool) -> None:
    """Merge segments as the merge policy says (indexer/mergepolicy.py) until it is content; searches go on."""
    from search.layout import current_build

    from .merge import MergeBusy, MergeConflict, merge_all

    try:
        done = merge_all(current_build(index_dir), BuildConfig(index_dir=index_dir, progress=False),
                         lock=lambda: writer_lock(index_dir))
    except (MergeBusy, MergeConflict) as exc:  # another merge runs, or a writer moved on: the next one will do
        if not quiet:
            click.echo(f"no merge: {exc}", err=True)
        return
    except (NewsclipError, OSError, sqlite3.Error) as exc:
        click.echo(f"error: merge failed, the index is unchanged: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    if done and not quiet:
        click.echo(f"{len(done)} merge(s): commit {done[-1].generation}, {len(done[-1].segments)} segments")


@click.command()
@click.option("--index", "index_dir", default="var/index", show_default=True, type=click.Path(path_type=Path),
              envvar="NEWSCLIP_INDEX")
@click.option("--interval", default=0.1, show_default=True, type=click.FloatRange(0.01, 60),
              help="Seconds between looks at the journal (a read of its newest file)")
def follow(index_dir: Path, interval: float) -> None:
    """Commit what others journal (the web server's ingest API), until SIGTERM or SIGINT; the model stays loaded."""
    from search.commit import read_commit
    from search.journal import pending_records
    from search.layout import current_build, read_manifest

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    embedder = None
    click.echo(f"following the journal of {index_dir}", err=True)
    while not stop.wait(interval):
        try:
            build = current_build(index_dir)
            commit = read_commit(build, int(read_manifest(build)["counts"]["articles"]))
            if not pending_records(index_dir, commit.journal_seq):
                continue
            began = time.perf_counter()
            report = apply_journaled(index_dir, config=BuildConfig(index_dir=index_dir, progress=False),
                                     embedder=embedder)
            embedder = report.embedder or embedder
            click.echo(f"commit {report.generation}: {len(report.added)} added, {len(report.replaced)} replaced, "
                       f"{len(report.deleted)} deleted in {time.perf_counter() - began:.2f} s", err=True)
            for problem in report.problems:
                click.echo(f"  skipped: {problem}", err=True)
            _merge_later(index_dir)
        except (NewsclipError, OSError, sqlite3.Error) as exc:  # logged and tried again: the journal keeps them
            click.echo(f"error: {exc}", err=True)
