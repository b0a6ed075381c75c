"""Publishing: manifest last, atomic pointer swap, pruning, leftovers, one rebuild at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.publish import clean_leftovers, new_build_id, publish, rebuild_lock, start_build
from search.errors import BuildError
from search.layout import CURRENT, FORMAT_VERSION, MANIFEST, current_build, verify_build


def publish_one(index_dir: Path, payload: bytes) -> str:
    from indexer.publish import checksums

    build_id = new_build_id()
    tmp = start_build(index_dir, build_id)
    (tmp / "sub").mkdir()
    (tmp / "sub" / "data.npy").write_bytes(payload)
    publish(index_dir, tmp, build_id, {"format_version": FORMAT_VERSION, "files": checksums(tmp)})
    return build_id


def test_publish_swaps_current_and_prunes(tmp_path: Path) -> None:
    first = publish_one(tmp_path, b"one")
    assert current_build(tmp_path).name == first
    second = publish_one(tmp_path, b"two")
    assert current_build(tmp_path).name == second
    assert [p.name for p in (tmp_path / "builds").iterdir()] == [second]
    manifest = verify_build(current_build(tmp_path))
    assert list(manifest["files"]) == ["sub/data.npy"]
    assert (tmp_path / CURRENT).read_text().strip() == second
    assert not list(tmp_path.glob("CURRENT.*"))


def test_unpublished_temp_build_is_invisible_then_cleaned(tmp_path: Path) -> None:
    live = publish_one(tmp_path, b"live")
    tmp = start_build(tmp_path, new_build_id())
    (tmp / "half.bin").write_bytes(b"x")
    assert current_build(tmp_path).name == live
    assert not (tmp / MANIFEST).exists()
    assert clean_leftovers(tmp_path) == [tmp.name]
    assert not tmp.exists() and current_build(tmp_path).name == live


def test_build_ids_sort_by_time_and_differ() -> None:
    ids = [new_build_id() for _ in range(20)]
    assert len(set(ids)) == 20
    assert all(i[:16] <= j[:16] for i, j in zip(ids, ids[1:]))


def test_second_rebuild_is_refused_while_one_runs(tmp_path: Path) -> None:
    with rebuild_lock(tmp_path):
        with pytest.raises(BuildError, match="another rebuild"):
            with rebuild_lock(tmp_path):
                pass
    with rebuild_lock(tmp_path):  # released again
        pass


def test_manifest_is_json_written_with_the_build(tmp_path: Path) -> None:
    build_id = publish_one(tmp_path, b"x")
    manifest = json.loads((tmp_path / "builds" / build_id / MANIFEST).read_text())
    assert manifest["files"]["sub/data.npy"]["bytes"] == 1
