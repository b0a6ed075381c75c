"""Columns: built article by article, saved as .npy, loaded memory-mapped and checked against the counts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from search.columns import NO_DAY, ColumnsBuilder, day_number, load_columns, write_columns
from search.errors import IndexCorrupt
from search.models import Article


def article(i: int, source: str | None, date: str | None) -> Article:
    return Article(f"a{i}", f"T{i}", "One. Two. Three.", date, source, None, (), (), "x.jsonl")


def unit(n: int, dim: int = 4, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_builder_round_trip(tmp_path: Path) -> None:
    arts = [article(0, "Reuters", "1987-02-26"), article(1, None, None), article(2, "AP", "2015-06-29T10:00:00")]
    vecs = unit(5)
    builder = ColumnsBuilder(tmp_path / "c", 4)
    builder.add(arts[0], 2, [(0, 4), (5, 9)], vecs[:2])
    builder.add(arts[1], 1, [], vecs[:0])
    builder.add(arts[2], 3, [(0, 4), (5, 9), (10, 16)], vecs[2:])
    builder.save()
    assert not list((tmp_path / "c").glob("*.part"))  # the spilled vectors were folded into the .npy
    cols = load_columns(tmp_path / "c", articles=3, passages=6, dimension=4)
    assert cols.passage_article.tolist() == [0, 0, 1, 2, 2, 2]
    assert cols.article_day.tolist() == [day_number(dt.date(1987, 2, 26)), NO_DAY, day_number(dt.date(2015, 6, 29))]
    assert cols.source_names == ["AP", "Reuters"]  # sorted by name, codes follow
    assert cols.article_source.tolist() == [1, -1, 0]
    assert cols.sentence_ptr.tolist() == [0, 2, 2, 5]
    assert cols.sentences_in(2, 5, 16).tolist() == [3, 4]
    assert cols.sentence_vectors.dtype == np.float16
    assert np.allclose(np.asarray(cols.sentence_vectors).astype(np.float32), vecs, atol=1e-3)
    assert np.array_equal(cols.sentence_vectors[np.array([3, 4])], np.asarray(cols.sentence_vectors)[3:5])
    assert cols.sentence_vectors[np.array([], dtype=np.int64)].shape == (0, 4)


def test_write_columns_equals_the_builder(tmp_path: Path) -> None:
    arts = [article(0, "DW", "2023-03-15"), article(1, "AFP", None)]
    vecs = unit(3, seed=1)
    write_columns(tmp_path / "w", arts, [0, 1, 1], [(0, 0, 4), (1, 0, 4), (1, 5, 9)], vecs)
    builder = ColumnsBuilder(tmp_path / "b", 4)
    builder.add(arts[0], 1, [(0, 4)], vecs[:1])
    builder.add(arts[1], 2, [(0, 4), (5, 9)], vecs[1:])
    builder.save()
    for name in ("passage_article", "article_day", "article_source", "sentence_ptr", "sentence_vectors"):
        assert np.array_equal(np.load(tmp_path / "w" / f"{name}.npy"), np.load(tmp_path / "b" / f"{name}.npy"))


def test_mismatches_are_refused(tmp_path: Path) -> None:
    builder = ColumnsBuilder(tmp_path / "c", 4)
    with pytest.raises(ValueError, match="vectors"):
        builder.add(article(0, None, None), 1, [(0, 4)], unit(2))
    builder.add(article(0, None, None), 1, [(0, 4)], unit(1))
    builder.save()
    with pytest.raises(IndexCorrupt, match="shape"):
        load_columns(tmp_path / "c", articles=1, passages=2, dimension=4)
