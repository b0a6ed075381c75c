"""Writing commit points: delete files, the commit file, then HEAD, each fsynced before the next step.

A crash between steps leaves either the old HEAD (the new files are garbage, removed later) or the new one whole.
Readers poll HEAD; `collect_garbage` removes what neither the newest nor the previous commit names, so a reader
that read HEAD just before a commit still finds its files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import numpy as np

from search.commit import COMMITS, DELETES, HEAD, SEGMENTS, Commit, commit_name, read_commit
from search.layout import fsync_dir


def _write_durably(path: Path, data: bytes) -> None:
    """Write a file whole under a temporary name, fsync it, rename it into place, fsync the folder."""
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_deleted(build_dir: Path, segment: str, generation: int, rows: np.ndarray) -> str:
    """A segment's deleted article rows for this generation (copy on write: older files stay for old readers)."""
    folder = build_dir / DELETES
    folder.mkdir(exist_ok=True)
    name = f"{segment}-{generation:08d}.npy"
    tmp = folder / f".tmp-{name}"
    with open(tmp, "wb") as handle:
        np.save(handle, np.unique(np.asarray(rows, dtype=np.int32)), allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, folder / name)
    fsync_dir(folder)
    return f"{DELETES}/{name}"


def publish_commit(build_dir: Path, commit: Commit) -> Commit:
    """Write the commit file, then point HEAD at it; returns the commit with its time set."""
    commit = Commit(commit.generation, commit.segments, commit.journal_seq,
                    dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"), commit.mutable, commit.extra)
    folder = build_dir / COMMITS
    folder.mkdir(exist_ok=True)
    name = commit_name(commit.generation)
    _write_durably(folder / name, (json.dumps(commit.to_json(), indent=1) + "\n").encode("utf-8"))
    _write_durably(build_dir / HEAD, (name + "\n").encode("utf-8"))
    return commit


def current_commit(build_dir: Path, articles: int) -> Commit:
    return read_commit(build_dir, articles)


def collect_garbage(build_dir: Path, keep: list[Commit]) -> list[str]:
    """Remove commit files, delete files and segments that none of `keep` names (and leftovers of dead writers)."""
    names = {commit_name(c.generation) for c in keep}
    used = {ref.path for c in keep for ref in c.segments} | {ref.deleted for c in keep for ref in c.segments}
    removed = []
    for folder in (COMMITS, DELETES, SEGMENTS):
        root = build_dir / folder
        if not root.is_dir():
            continue
        for entry in root.iterdir():
            rel = f"{folder}/{entry.name}"
            if entry.name in names or rel in used:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(rel)
    return removed
