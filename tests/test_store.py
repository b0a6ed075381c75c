"""SQLite store: round trip of articles and passages, row order, read-only access."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.errors import IndexCorrupt
from search.models import Article, Heading, Passage, Quotation
from search.store import Store, StoreWriter, write_store


def test_round_trip(tmp_path: Path) -> None:
    text = "Lead sentence.\n\nA heading\n\nBody sentence."
    a = Article("a-1", "Title", text, "2015-06-29", "DW", "https://p.dw.com/p/1", ("AFP", "AP"),
                (Heading(16, 25, "A heading"),), "seeds/x.txt")
    b = Article("b-2", "Other", "Only text.", "1987-02-26T15:01:01", "Reuters", None, (), (), "r.jsonl:3")
    passages = [Passage("a-1", 0, 0, 14, "Lead sentence.", None),
                Passage("a-1", 1, 27, 41, "Body sentence.", "A heading"), Passage("b-2", 0, 0, 10, "Only text.", None)]
    quotes = [Quotation("a-1", 0, 13, ((0, 4), (5, 13)), "Lead sentence", "Vladimir Putin", "President", "full"),
              Quotation("b-2", 5, 9, ((5, 9),), "text", None, None, "term")]
    write_store(tmp_path / "s.sqlite", [a, b], passages, quotes)
    store = Store(tmp_path / "s.sqlite")
    assert store.article("a-1") == a and store.article("b-2") == b and store.article("zz") is None
    assert store.counts() == {"articles": 2, "passages": 3, "quotes": 2}
    assert store.quotations([1, 0, 7]) == [quotes[1], quotes[0]]  # parts, speaker, role and kind survive
    assert store.article_quotations("a-1") == [quotes[0]] and store.article_quotations("zz") == []
    assert store.passages([2, 0]) == [passages[2], passages[0]]
    assert store.article_passages("a-1") == [passages[0], passages[1]]
    assert store.articles() == [a, b]
    with pytest.raises(FileExistsError):
        write_store(tmp_path / "s.sqlite", [a], [])
    with pytest.raises(ValueError, match="out of article order"):  # rows must line up with BM25 and FAISS
        write_store(tmp_path / "t.sqlite", [a, b], [passages[2], passages[0]])


def test_writer_streams_article_by_article(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path / "s.sqlite")
    for i in range(3):
        art = Article(f"id-{i}", f"T{i}", f"Text {i}. More.", None, None, None, (), (), "x.jsonl")
        writer.add(art, [Passage(art.id, 0, 0, 8, f"Text {i}.", None), Passage(art.id, 1, 9, 14, "More.", None)])
    writer.close()
    store = Store(tmp_path / "s.sqlite")
    assert store.counts() == {"articles": 3, "passages": 6, "quotes": 0}
    assert [p.article_id for p in store.passages([0, 3, 5])] == ["id-0", "id-1", "id-2"]
    assert not (tmp_path / "s.sqlite-journal").exists()


def test_missing_store_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(IndexCorrupt):
        Store(tmp_path / "none.sqlite")
