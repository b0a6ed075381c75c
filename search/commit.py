"""A commit point of a living build: which segments are live and which of their articles are deleted.

A published build (`builds/<name>/`, what CURRENT names) is the first segment. Adds, replacements, deletes and
merges since then are recorded, Lucene-style, as numbered commit files beside it; `HEAD` names the newest. A
commit is written whole and fsynced before `HEAD` is replaced (an atomic rename), so a reader sees one commit or
the next, never half of one. Without `HEAD` the build alone is the index (generation 0).

    builds/<name>/HEAD                          -> commit-00000012.json
    builds/<name>/commits/commit-00000012.json  {"generation", "segments": [{"path", "deleted"}], ...}
    builds/<name>/segments/seg-00000012/        a segment: the same files as a build, its own manifest
    builds/<name>/deletes/<segment>-00000012.npy  deleted article rows of one segment (int32, sorted)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexCorrupt

HEAD = "HEAD"
COMMITS = "commits"
SEGMENTS = "segments"
DELETES = "deletes"
COMMIT_FORMAT = 1
BASE = "."  # the build folder itself is the first segment
DF_HISTOGRAMS = "df_histograms"  # commit.extra: live df histograms {"passages": {df: terms}, "quotes": {...}}


@dataclass(frozen=True)
class SegmentRef:
    """One live segment of a commit: its folder (relative to the build) and its delete file, if any."""

    path: str
    deleted: str | None = None  # relative path of an .npy of deleted article rows
    articles: int = 0  # articles the segment holds (deleted ones included)
    live_articles: int = 0

    @property
    def name(self) -> str:
        return "base" if self.path == BASE else Path(self.path).name


@dataclass(frozen=True)
class Commit:
    """What readers open: the ordered segments (their order is the order of rows) and where the journal stood."""

    generation: int
    segments: tuple[SegmentRef, ...]
    journal_seq: int = 0  # every journal record up to this sequence number is in the segments
    committed_at: str | None = None
    mutable: tuple[str, ...] = ()  # files rewritten in place since their manifest was made (purged stores)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": COMMIT_FORMAT,
            "generation": self.generation,
            "segments": [{"path": s.path, "deleted": s.deleted, "articles": s.articles,
                          "live_articles": s.live_articles} for s in self.segments],
            "journal_seq": self.journal_seq,
            "committed_at": self.committed_at,
            "mutable": list(self.mutable),
            **({"extra": self.extra} if self.extra else {}),
        }


def commit_name(generation: int) -> str:
    return f"commit-{generation:08d}.json"


def base_commit(articles: int) -> Commit:
    """Generation 0: the published build alone, nothing deleted."""
    return Commit(0, (SegmentRef(BASE, None, articles, articles),))


def _safe(build_dir: Path, rel: str) -> Path:
    """A path named by a commit, refused if it leaves the build folder."""
    path = (build_dir / rel).resolve()
    if not path.is_relative_to(build_dir.resolve()):
        raise IndexCorrupt(f"{build_dir}: a commit names {rel!r}, outside the build")
    return path


def head_name(build_dir: Path) -> str | None:
    """The commit file HEAD names, or None (generation 0); a stat and a small read: cheap to poll."""
    try:
        name = (build_dir / HEAD).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IndexCorrupt(f"cannot read {build_dir / HEAD}: {exc}") from exc
    if not name or "/" in name or not name.startswith("commit-"):
        raise IndexCorrupt(f"{build_dir / HEAD} names no commit: {name!r}")
    return name


def parse_commit(data: dict[str, Any], where: str) -> Commit:
    """A commit from its JSON, every field checked."""
    try:
        if data.get("format") != COMMIT_FORMAT:
            raise IndexCorrupt(f"{where}: unknown commit format {data.get('format')!r}")
        segments = tuple(SegmentRef(str(s["path"]), s.get("deleted"), int(s.get("articles", 0)),
                                    int(s.get("live_articles", 0))) for s in data["segments"])
        if not segments:
            raise IndexCorrupt(f"{where}: a commit with no segments")
        return Commit(int(data["generation"]), segments, int(data.get("journal_seq", 0)), data.get("committed_at"),
                      tuple(str(m) for m in data.get("mutable", ())), dict(data.get("extra", {})))
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorrupt(f"{where}: malformed commit: {exc}") from exc


def read_commit(build_dir: Path, articles: int) -> Commit:
    """The commit HEAD names, or generation 0 (the build alone) when there is none."""
    name = head_name(build_dir)
    if name is None:
        return base_commit(articles)
    path = build_dir / COMMITS / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{path} is unreadable: {exc}") from exc
    return parse_commit(data, str(path))


def segment_dir(build_dir: Path, ref: SegmentRef) -> Path:
    return _safe(build_dir, ref.path)


def load_deleted(build_dir: Path, ref: SegmentRef) -> np.ndarray:
    """The deleted article rows of one segment (sorted int32; empty when none)."""
    if ref.deleted is None:
        return np.zeros(0, dtype=np.int32)
    path = _safe(build_dir, ref.deleted)
    try:
        rows = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{path} is unreadable: {exc}") from exc
    if rows.ndim != 1 or rows.dtype.kind not in "iu":
        raise IndexCorrupt(f"{path} is not a list of article rows")
    return rows.astype(np.int32)
