"""Commit points: written whole, HEAD moved last, every path kept inside the build."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer.commits import collect_garbage, publish_commit, write_deleted
from search.commit import BASE, Commit, SegmentRef, head_name, load_deleted, read_commit, segment_dir
from search.errors import IndexCorrupt


def test_without_head_the_build_alone_is_generation_zero(tmp_path: Path) -> None:
    commit = read_commit(tmp_path, 7)
    assert commit.generation == 0 and commit.segments == (SegmentRef(BASE, None, 7, 7),)
    assert head_name(tmp_path) is None and load_deleted(tmp_path, commit.segments[0]).size == 0


def test_a_published_commit_round_trips_and_head_moves_last(tmp_path: Path) -> None:
    rel = write_deleted(tmp_path, "base", 1, np.array([5, 2, 2, 9]))
    assert load_deleted(tmp_path, SegmentRef(BASE, rel)).tolist() == [2, 5, 9]
    (tmp_path / "segments" / "seg-00000001").mkdir(parents=True)
    commit = publish_commit(tmp_path, Commit(1, (SegmentRef(BASE, rel, 10, 7),
                                                 SegmentRef("segments/seg-00000001", None, 3, 3)), 12,
                                             mutable=("store.sqlite",), extra={"df_histograms": {}}))
    again = read_commit(tmp_path, 10)
    assert again == commit and again.committed_at and head_name(tmp_path) == "commit-00000001.json"
    assert segment_dir(tmp_path, again.segments[1]) == (tmp_path / "segments" / "seg-00000001").resolve()
    assert not list(tmp_path.rglob(".tmp-*"))  # nothing half-written left beside them
    second = publish_commit(tmp_path, Commit(2, commit.segments[1:], 13))
    removed = collect_garbage(tmp_path, [second])
    assert set(removed) == {"commits/commit-00000001.json", rel} and read_commit(tmp_path, 10) == second


@pytest.mark.parametrize("content, why", [
    ("../../etc/passwd\n", "names no commit"),
    ("commit-00000009.json\n", "unreadable"),
])
def test_a_bad_head_is_refused_by_name(tmp_path: Path, content: str, why: str) -> None:
    (tmp_path / "HEAD").write_text(content, encoding="utf-8")
    with pytest.raises(IndexCorrupt, match=why):
        read_commit(tmp_path, 1)


def test_a_commit_cannot_point_outside_its_build(tmp_path: Path) -> None:
    (tmp_path / "commits").mkdir()
    data = {"format": 1, "generation": 1, "segments": [{"path": "../elsewhere"}]}
    (tmp_path / "commits" / "commit-00000001.json").write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "HEAD").write_text("commit-00000001.json", encoding="utf-8")
    commit = read_commit(tmp_path, 1)
    with pytest.raises(IndexCorrupt, match="outside the build"):
        segment_dir(tmp_path, commit.segments[0])
    (tmp_path / "commits" / "commit-00000001.json").write_text('{"format": 1, "generation": 1, "segments": []}')
    with pytest.raises(IndexCorrupt, match="no segments"):
        read_commit(tmp_path, 1)
