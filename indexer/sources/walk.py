"""Which files to read: folders walked recursively in a fixed order, formats from extensions."""

from __future__ import annotations

import errno
import os
import stat
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


_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


def _not_regular(mode: int) -> str | None:
    """Why a file of this mode is not read (a FIFO would block the build, a device never ends); None: regular."""
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), "special file")
    return f"not a regular file ({kind})"


def _resolve(path: Path) -> tuple[Path, int] | Problem:
    """Where a symlink ends and the mode of what is there (stat only, nothing opened), or why it ends nowhere."""
    try:
        target = path.resolve(strict=True)
        return target, target.stat().st_mode
    except FileNotFoundError:
        return Problem(str(path), "broken symlink", True)
    except RuntimeError:  # Python 3.11 reports a symlink loop so; 3.13 as OSError ELOOP
        return Problem(str(path), "symlink loop", True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Problem(str(path), "symlink loop", True)
        return Problem(str(path), f"cannot follow symlink: {exc.strerror or exc}", True)


def _follow(path: Path, root: Path, fmt: str | None) -> tuple[Path, str] | Problem:
    """A symlink met in a walked folder: read only when it ends at a regular file inside the folder; never opened
    otherwise (outside, loop, broken, folder or special file)."""
    resolved = _resolve(path)
    if isinstance(resolved, Problem):
        return resolved
    target, mode = resolved
    if stat.S_ISDIR(mode):
        return Problem(str(path), "symlink to a folder, not followed", True)
    if not target.is_relative_to(root):
        return Problem(str(path), "symlink points outside the source folder", True)
    reason = _not_regular(mode)
    if reason:
        return Problem(str(path), reason, True)
    return _classify(path, fmt)


def _listing(folder: Path) -> Iterator[os.DirEntry[str] | Problem]:
    """A folder's entries sorted by name, or the Problem of listing it."""
    try:
        with os.scandir(folder) as entries:
            return iter(sorted(entries, key=lambda e: e.name))
    except OSError as exc:
        return iter([Problem(str(folder), f"cannot list folder: {exc.strerror or exc}", True)])


def _walk(folder: Path, root: Path, fmt: str | None) -> Iterator[tuple[Path, str] | Problem]:
    """Files under a folder, sorted by name, depth first; hidden entries ignored, folder symlinks not followed,
    file symlinks followed only to regular files inside `root` (the resolved folder), special files refused.
    Iterative: a hostile nesting depth cannot exhaust the recursion limit."""
    stack = [_listing(folder)]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
        elif isinstance(entry, Problem):
            yield entry
        elif not entry.name.startswith("."):
            path = Path(entry.path)
            try:
                if entry.is_symlink():
                    yield _follow(path, root, fmt)
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(_listing(path))
                else:
                    reason = _not_regular(entry.stat(follow_symlinks=False).st_mode)
                    yield Problem(str(path), reason, True) if reason else _classify(path, fmt)
            except OSError as exc:
                yield Problem(str(path), f"cannot read: {exc.strerror or exc}", True)


def walk_sources(paths: Sequence[Path], fmt: str | None = None) -> Iterator[tuple[Path, str, Path | None] | Problem]:
    """Like iter_files, with the walked folder each file came from (its root for ids).

    A path given here is the user's explicit choice: followed even when it is a symlink (to a folder: that folder
    is walked, and is the "inside" its own symlinks are checked against)."""
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
        elif given.exists():
            yield Problem(str(given), _not_regular(given.stat().st_mode) or "not a regular file", True)
        elif given.is_symlink():
            resolved = _resolve(given)
            yield resolved if isinstance(resolved, Problem) else Problem(str(given), "cannot follow symlink", True)
        else:
            yield Problem(str(given), "no such file or folder", True)


def iter_files(paths: Sequence[Path], fmt: str | None = None) -> Iterator[tuple[Path, str] | Problem]:
    """Every file to read with its format, in a deterministic order; unreadable entries as Problems."""
    for item in walk_sources(paths, fmt):
        yield item if isinstance(item, Problem) else (item[0], item[1])
