"""Atomic publishing: build in a temp dir, manifest last, rename, swap CURRENT, prune."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from search.errors import BuildError
from search.layout import BUILDS, CURRENT, MANIFEST, TMP_PREFIX, fsync_dir, remove_unheld_build, sha256_file

LOCK = ".rebuild.lock"  # search.journal.WriterLock takes the same file: one writer at a time


@contextmanager
def rebuild_lock(index_dir: Path) -> Iterator[None]:
    """One rebuild at a time per index dir; a killed holder releases it with its process."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(f"another rebuild of {index_dir} is running") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def clean_leftovers(index_dir: Path) -> list[str]:
    """Remove temp builds of runs that died; only called while holding the lock."""
    builds = index_dir / BUILDS
    removed = []
    if builds.is_dir():
        for entry in builds.iterdir():
            if entry.name.startswith(TMP_PREFIX):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
    current = (index_dir / CURRENT).read_text(encoding="utf-8").strip() if (index_dir / CURRENT).is_file() else None
    if current and builds.is_dir():  # old builds a server held at the last publish, now let go
        removed.extend(prune(index_dir, keep=current))
    return removed


def new_build_id() -> str:
    """Sortable by time, unique across concurrent machines."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def start_build(index_dir: Path, build_id: str) -> Path:
    """The temp directory a build writes into; invisible to readers until published."""
    tmp = index_dir / BUILDS / f"{TMP_PREFIX}{build_id}"
    tmp.mkdir(parents=True)
    return tmp


def checksums(build_dir: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file of a build, for the manifest."""
    return {
        str(p.relative_to(build_dir)): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in sorted(build_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def _write_durably(path: Path, data: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def publish(index_dir: Path, tmp: Path, build_id: str, manifest: dict[str, Any]) -> Path:
    """fsync files, write the manifest last, rename into place, replace CURRENT, prune old builds."""
    for path in tmp.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        if path.is_dir():
            fsync_dir(path)
    _write_durably(tmp / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    fsync_dir(tmp)
    final = index_dir / BUILDS / build_id
    os.rename(tmp, final)
    fsync_dir(final.parent)
    pointer_tmp = index_dir / f"{CURRENT}.{build_id}.tmp"
    _write_durably(pointer_tmp, build_id + "\n")
    os.replace(pointer_tmp, index_dir / CURRENT)  # the publishing step
    fsync_dir(index_dir)
    prune(index_dir, keep=build_id)
    return final


def prune(index_dir: Path, keep: str) -> list[str]:
    """Delete published builds other than `keep` that no server holds (a held one goes when its reader lets go,
    or at the next rebuild)."""
    removed = []
    for entry in (index_dir / BUILDS).iterdir():
        if entry.name != keep and not entry.name.startswith(TMP_PREFIX) and entry.is_dir():
            if remove_unheld_build(entry):
                removed.append(entry.name)
    for stray in index_dir.glob(f"{CURRENT}.*.tmp"):
        stray.unlink(missing_ok=True)
    return removed
