"""A rebuild that meets a full disk or a read-only index folder: a clear error, a non-zero exit, and the previous
index still current and whole. Real file systems: a small tmpfs mounted for the test (needs root, as in CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS, reuters_stories, write_jsonl
from search.layout import BUILDS, CACHE, TMP_PREFIX, current_build, verify_build


@contextmanager
def tmpfs(path: Path, size_mb: int) -> Iterator[Path]:
    """A fresh tmpfs of `size_mb` at `path`; skips the test where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def rebuild(index: Path, *sources: Path) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "indexer", "rebuild", "--index", str(index), "--quiet"]
    for source in sources:
        args += ["--source", str(source)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def seeded_index(index: Path, model_cache: Path, embedder) -> str:
    """The seeds published in `index`, with the session's ONNX export copied in (no second export)."""
    shutil.copytree(model_cache / CACHE, index / CACHE, dirs_exist_ok=True)
    done = rebuild(index, SEEDS)
    assert done.returncode == 0, done.stderr
    return current_build(index).name


def assert_previous_current(index: Path, name: str) -> None:
    assert current_build(index).name == name
    verify_build(current_build(index))  # every file matches its checksum


def test_a_full_disk_fails_the_rebuild_and_keeps_the_index(tmp_path: Path, model_cache: Path, embedder) -> None:
    more = write_jsonl(tmp_path / "more.jsonl", reuters_stories(60))
    with tmpfs(tmp_path / "small", 128) as index:  # two builds with their model copies (33 MB each for int8-rr)
        before = seeded_index(index, model_cache, embedder)
        free = shutil.disk_usage(index).free
        with (index / "filler").open("wb") as filler:  # leave 64 KB
            filler.truncate(0)
            chunk = b"\0" * (1 << 20)
            remaining = free - 64 * 1024
            while remaining > 0:
                remaining -= filler.write(chunk[: min(len(chunk), remaining)])
        done = rebuild(index, SEEDS, more)
        assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
        message = done.stderr.lower()
        assert "rebuild failed, the previous index stays current" in message
        assert "no space left on device" in message or "disk is full" in message, done.stderr
        assert "traceback" not in message
        assert_previous_current(index, before)
        assert not [p for p in (index / BUILDS).iterdir() if p.name.startswith(TMP_PREFIX)]  # cleaned up
        (index / "filler").unlink()
        again = rebuild(index, SEEDS, more)
        assert again.returncode == 0, again.stderr
        assert current_build(index).name != before


def test_a_read_only_index_folder_fails_the_rebuild_and_keeps_the_index(tmp_path: Path, model_cache: Path,
                                                                        embedder) -> None:
    with tmpfs(tmp_path / "ro", 80) as index:
        before = seeded_index(index, model_cache, embedder)
        subprocess.run(["mount", "-o", "remount,ro", str(index)], check=True)
        try:
            done = rebuild(index, SEEDS)
            assert done.returncode == 1, (done.returncode, done.stderr)
            assert "rebuild failed, the previous index stays current" in done.stderr
            assert "read-only file system" in done.stderr.lower() and "traceback" not in done.stderr.lower()
            assert_previous_current(index, before)
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(index)], check=True)
