"""The df histograms a commit carries: equal after every write to the ones counted from scratch."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import reuters_stories, write_jsonl
from indexer.build import BuildConfig, build_index
from indexer.dfstats import KINDS, Postings, SegmentDf, histogram_from_scratch, moved, stored
from indexer.living import ArchiveWriter, writer_lock
from indexer.merge import apply_merge
from indexer.sources import read_articles
from search.commit import DF_HISTOGRAMS, load_deleted, read_commit
from search.layout import current_build, read_manifest
from search.commit import segment_dir


def test_moved_shifts_one_term_per_change() -> None:
    assert moved({1: 3, 2: 1}, [(1, 2), (0, 1), (2, 0), (5, 5)]) == {1: 3, 2: 1}
    assert moved({1: 1}, [(1, 4)]) == {4: 1}
    with pytest.raises(ValueError):
        moved({1: 1}, [(3, 4)])


def _from_scratch(index: Path) -> tuple[dict, dict]:
    build = current_build(index)
    manifest = read_manifest(build)
    commit = read_commit(build, int(manifest["counts"]["articles"]))
    segments = [SegmentDf(Postings(segment_dir(build, ref)), load_deleted(build, ref)) for ref in commit.segments]
    return stored(commit), {kind: histogram_from_scratch(segments, kind) for kind in KINDS}


@pytest.mark.slow
def test_every_commit_carries_the_histograms_of_what_is_live(tmp_path: Path, embedder) -> None:
    stories = reuters_stories(40)
    index = tmp_path / "index"
    build_index(BuildConfig(sources=(write_jsonl(tmp_path / "base.jsonl", stories[:20]),), index_dir=index,
                            progress=False), embedder=embedder)

    def write(adds=(), deletes=()) -> None:
        with writer_lock(index):
            ArchiveWriter(index, BuildConfig(index_dir=index, progress=False), embedder).apply(adds, deletes)
        carried, scratch = _from_scratch(index)
        assert carried == scratch

    def articles(batch: list[dict], name: str) -> list:
        return [a for a in read_articles([write_jsonl(tmp_path / f"{name}.jsonl", batch)]) if not hasattr(a, "reason")]

    write(adds=articles(stories[20:30], "a"))  # the first commit counts the build from scratch
    write(deletes=[str(s["id"]) for s in stories[2:6]])
    changed = [dict(s, body=s["body"] + "\nZanzibar quotas were revised, \"sharply\" said an envoy.")
               for s in stories[22:24]]
    write(adds=articles(stories[30:40] + changed, "b"))  # new words, replacements
    write(deletes=[str(s["id"]) for s in stories[30:40]])  # a whole segment gone
    build = current_build(index)
    commit = read_commit(build, 20)
    assert len(commit.segments) == 3
    merged = apply_merge(build, commit, 0, 2, BuildConfig(index_dir=index, progress=False))  # all in one
    assert len(merged.segments) == 1 and merged.extra[DF_HISTOGRAMS]  # the live corpus, and so they, as they were
    carried, scratch = _from_scratch(index)
    assert carried == scratch
