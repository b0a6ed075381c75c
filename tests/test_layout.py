"""Reading the index directory: CURRENT, manifest, checksums, format version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from search.layout import FORMAT_VERSION, MANIFEST, current_build, read_manifest, summary, verify_build


def make_build(index_dir: Path, name: str = "b1", content: bytes = b"data") -> Path:
    from indexer.publish import checksums

    build = index_dir / "builds" / name
    build.mkdir(parents=True)
    (build / "file.bin").write_bytes(content)
    manifest = {"format_version": FORMAT_VERSION, "files": checksums(build), "counts": {"articles": 1, "passages": 2},
                "model": {"name": "m", "dimension": 3}, "built_at": "2026-01-01T00:00:00+00:00"}
    (build / MANIFEST).write_text(json.dumps(manifest))
    (index_dir / "CURRENT").write_text(name + "\n")
    return build


def test_current_build_and_verify(tmp_path: Path) -> None:
    build = make_build(tmp_path)
    assert current_build(tmp_path) == build
    manifest = verify_build(build)
    info = summary(manifest, build)
    assert (info["articles"], info["passages"], info["model"], info["dimension"]) == (1, 2, "m", 3)


def test_missing_index_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match="indexer rebuild"):
        current_build(tmp_path)


@pytest.mark.parametrize("pointer", ["nope", "../etc", ".tmp-x", ""])
def test_current_naming_no_build_is_corrupt(tmp_path: Path, pointer: str) -> None:
    (tmp_path / "builds").mkdir()
    (tmp_path / "CURRENT").write_text(pointer)
    with pytest.raises(IndexCorrupt):
        current_build(tmp_path)


def test_modified_file_fails_checksum(tmp_path: Path) -> None:
    build = make_build(tmp_path)
    (build / "file.bin").write_bytes(b"dat4")
    with pytest.raises(IndexCorrupt, match="checksum"):
        verify_build(build)
    (build / "file.bin").unlink()
    with pytest.raises(IndexCorrupt, match="missing"):
        verify_build(build)


def test_other_format_version_is_refused_naming_both(tmp_path: Path) -> None:
    build = make_build(tmp_path)
    manifest = json.loads((build / MANIFEST).read_text())
    manifest["format_version"] = 999
    (build / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match=rf"999.*format {FORMAT_VERSION}"):
        read_manifest(build)


def test_unfinished_build_has_no_manifest(tmp_path: Path) -> None:
    build = make_build(tmp_path)
    (build / MANIFEST).unlink()
    with pytest.raises(IndexCorrupt, match="never finished"):
        read_manifest(build)
    (build / MANIFEST).write_text("{truncated")
    with pytest.raises(IndexCorrupt, match="unreadable"):
        read_manifest(build)


def test_advise_random_accepts_mapped_and_plain_arrays(tmp_path: Path) -> None:
    import numpy as np

    from search.layout import advise_random

    np.save(tmp_path / "a.npy", np.arange(100_000, dtype=np.int32))
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    assert advise_random(mapped) is mapped and int(mapped[99_999]) == 99_999  # still readable after the advice
    plain = np.zeros(3)
    assert advise_random(plain) is plain
