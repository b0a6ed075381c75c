"""Which files to read: folders walked recursively in a fixed order, formats from extensions."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from .base import FORMATS, Problem

EXTENSIONS = {".txt": "pagetext", ".jsonl": "jsonl", ".ndjson": "jsonl", ".html": "html", ".htm": "html"}


def extension(path: Path) -> str:
    """The format-giving extension, after a trailing .gz is stripped ("a.jsonl.gz" -> ".jsonl")."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return os.path.splitext(name)[1]


def detect_format(path: Path) -> str | None:
    """The format a file's extension names, None when unknown."""
    return EXTENSIONS.get(extension(path))


def _classify(path: Path, fmt: str | None) -> tuple[Path, str] | Problem:
    """(file, format) or why it is not read."""
    found = fmt or detect_format(path)
    if found is None:
        return Problem(str(path), f"unknown format ({extension(path) or 'no extension'})", True)
    return path, found


def _walk(folder: Path, root: Path, fmt: str | None) -> Iterator[tuple[Path, str] | Problem]:
    """Files under a folder, sorted by name; hidden entries ignored, folder symlinks not followed."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        yield Problem(str(folder), f"cannot list folder: {exc.strerror or exc}", True)
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            target = path.resolve()
            if not target.exists():
                yield Problem(str(path), "broken symlink", True)
            elif target.is_dir():
                yield Problem(str(path), "symlink to a folder, not followed", True)
            elif not target.is_relative_to(root):
                yield Problem(str(path), "symlink points outside the source folder", True)
            else:
                yield _classify(path, fmt)
        elif entry.is_dir(follow_symlinks=False):
            yield from _walk(path, root, fmt)
        elif entry.is_file(follow_symlinks=False):
            yield _classify(path, fmt)


def walk_sources(paths: Sequence[Path], fmt: str | None = None) -> Iterator[tuple[Path, str, Path | None] | Problem]:
    """Like iter_files, with the walked folder each file came from (its root for ids)."""
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    for given in map(Path, paths):
        if given.is_dir():
            root = given.resolve()
            for item in _walk(given, root, fmt):
                yield item if isinstance(item, Problem) else (*item, given)
        elif given.is_file():
            item = _classify(given, fmt)
            yield item if isinstance(item, Problem) else (*item, None)
        elif given.is_symlink():
            yield Problem(str(given), "broken symlink", True)
        else:
            yield Problem(str(given), "no such file or folder", True)


def iter_files(paths: Sequence[Path], fmt: str | None = None) -> Iterator[tuple[Path, str] | Problem]:
    """Every file to read with its format, in a deterministic order; unreadable entries as Problems."""
    for item in walk_sources(paths, fmt):
        yield item if isinstance(item, Problem) else (item[0], item[1])
