"""The index directory: file names, format version, manifest, and which build is current."""

from __future__ import annotations

import fcntl
import hashlib
import json
import mmap
import os
import shutil
from pathlib import Path
from typing import Any

from .errors import IndexCorrupt, IndexMismatch, IndexNotFound

FORMAT_VERSION = 5  # 2: columns/ (row-aligned arrays, sentence vectors for the quote); 3: quotes/ and quotations;
# 4: datelines, speaker kinds, article times; 5: raw term frequencies (BM25 over segments), commits and segments
CURRENT = "CURRENT"  # holds the live build's name; replaced atomically, the only publishing step
BUILDS = "builds"
CACHE = "cache"
TMP_PREFIX = ".tmp-"
MANIFEST = "manifest.json"
STORE = "store.sqlite"
BM25_DIR = "bm25"
DENSE = "dense.faiss"
COLUMNS = "columns"
QUOTES = "quotes"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Checksum of one file, streamed so large indexes don't fill memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def current_build(index_dir: Path) -> Path:
    """The directory of the published build that CURRENT names."""
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexNotFound(f"no index at {index_dir}: run `indexer rebuild --index {index_dir}`") from None
    except OSError as exc:
        raise IndexNotFound(f"cannot read {pointer}: {exc}") from exc
    build = index_dir / BUILDS / name
    if not name or "/" in name or name.startswith(".") or not build.is_dir():
        raise IndexCorrupt(f"{pointer} names a build that does not exist: {name!r}")
    return build


def read_manifest(build_dir: Path) -> dict[str, Any]:
    """The manifest of one build; an unknown format version is refused by name."""
    path = build_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorrupt(f"{build_dir} has no {MANIFEST}: the build was never finished") from None
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{path} is unreadable: {exc}") from exc
    if not isinstance(manifest, dict):
        raise IndexCorrupt(f"{path} is not a JSON object")
    found = manifest.get("format_version")
    if found != FORMAT_VERSION:
        raise IndexMismatch(
            f"index format {found!r} at {build_dir}, but this Newsclip reads format {FORMAT_VERSION}: rebuild the index"
        )
    return manifest


def verify_build(build_dir: Path, manifest: dict[str, Any] | None = None,
                 skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Check every index file against the manifest's checksums (but `skip`: stores a delete has purged since, named
    by the commit); returns the manifest."""
    manifest = manifest if manifest is not None else read_manifest(build_dir)
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise IndexCorrupt(f"{build_dir}/{MANIFEST} lists no files")
    for rel, expected in files.items():
        if rel in skip:
            continue
        path = build_dir / rel
        if not path.is_file():
            raise IndexCorrupt(f"{path} is missing")
        if path.stat().st_size != expected["bytes"] or sha256_file(path) != expected["sha256"]:
            raise IndexCorrupt(f"{path} does not match its checksum in the manifest")
    return manifest


def hold_build(build_dir: Path) -> int:
    """A reader's lease on a published build: a shared lock on its manifest, so no rebuild deletes it meanwhile.

    Returns the descriptor that holds the lock (`release_build` lets go; so does the process dying). Raises
    IndexCorrupt when the build was removed before the lock was taken.
    """
    path = build_dir / MANIFEST
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise IndexCorrupt(f"{build_dir} cannot be opened: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a prune holds it exclusively
        if not path.exists() or os.stat(path).st_ino != os.fstat(fd).st_ino:
            raise IndexCorrupt(f"{build_dir} was removed while being opened")
    except BaseException:
        os.close(fd)
        raise
    return fd


def release_build(fd: int) -> None:
    """End a lease taken with hold_build."""
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def remove_unheld_build(build_dir: Path) -> bool:
    """Delete a published build unless a reader holds it; True when it is gone.

    The exclusive lock is held while deleting, so a reader that comes in meanwhile finds the build gone and never
    half of it. A build without a manifest (never finished) is deleted outright.
    """
    path = build_dir / MANIFEST
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        shutil.rmtree(build_dir, ignore_errors=True)
        return not build_dir.exists()
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a server still answers from it; whoever lets go last removes it
        os.unlink(path)  # first: a reader opening it now fails cleanly instead of loading half a build
        shutil.rmtree(build_dir, ignore_errors=True)
        return not build_dir.exists()
    finally:
        os.close(fd)


def advise_random(array: Any) -> Any:
    """Tell the kernel a memory-mapped array is read at random: no readahead, so resident memory grows by the pages
    a query really touches (a 768-byte sentence vector otherwise pulled in up to 128 KB around it)."""
    handle = getattr(array, "_mmap", None)
    if handle is not None and hasattr(handle, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        try:
            handle.madvise(mmap.MADV_RANDOM)
        except OSError:  # advice only: an OS that refuses it loses nothing
            pass
    return array


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def summary(manifest: dict[str, Any], build_dir: Path | None = None) -> dict[str, Any]:
    """The manifest's headline figures: what `indexer stats --json` and `/api/index` both return."""
    counts = manifest.get("counts", {})
    model = manifest.get("model", {})
    out = {
        "build_id": manifest.get("build_id"),
        "format_version": manifest.get("format_version"),
        "built_at": manifest.get("built_at"),
        "articles": counts.get("articles"),
        "passages": counts.get("passages"),
        "skipped": counts.get("skipped"),
        "quotes": counts.get("quotes"),
        "speakers": manifest.get("quotes", {}).get("speakers"),
        "model": model.get("name"),
        "dimension": model.get("dimension"),
        "dense_index": manifest.get("dense", {}).get("type"),
        "sources": len(manifest.get("sources", [])),
        "bytes": sum(f.get("bytes", 0) for f in manifest.get("files", {}).values()),
    }
    if build_dir is not None:
        out["path"] = str(build_dir)
    return out
