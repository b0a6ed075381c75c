"""Chunking invariants: offsets map back, nothing empty, every sentence lands in a passage."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.chunking import ChunkConfig, chunk_article, sections
from indexer.sources import parse_pagetext
from search.models import Article, Heading

SEEDS = sorted((Path(__file__).resolve().parents[1] / "seeds").glob("*.txt"))


def check_invariants(article: Article, passages, config: ChunkConfig) -> None:
    """The properties every chunking must keep, whatever the text."""
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    for p in passages:
        assert p.article_id == article.id
        assert 0 <= p.start < p.end <= len(article.text)
        assert article.text[p.start : p.end] == p.text
        assert p.text.strip() == p.text and p.text
    covered = [False] * len(article.text)
    for p in passages:
        for i in range(p.start, p.end):
            covered[i] = True
    for section in sections(article):
        for a, b in section.sentences:
            missed = [i for i in range(a, b) if not covered[i] and not article.text[i].isspace()]
            assert not missed, f"sentence {article.text[a:b]!r} is not wholly in passages"


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name)
def test_seed_passages_keep_invariants(seed: Path) -> None:
    article = parse_pagetext(seed.read_text(encoding="utf-8"), str(seed))
    config = ChunkConfig(target_words=60, overlap_sentences=1)
    passages = chunk_article(article, config)
    assert len(passages) >= 3
    check_invariants(article, passages, config)
    headings = {h.text for h in article.headings}
    for p in passages:
        assert p.heading is None or p.heading in headings
        assert all(h not in p.text for h in headings), "a heading was chunked as a body sentence"
        assert "Image:" not in p.text


def test_passages_are_whole_sentences_with_overlap() -> None:
    sentences = [f"Sentence number {i} says something about topic {i} today." for i in range(12)]
    text = " ".join(sentences)
    article = Article("a", "Title", text)
    passages = chunk_article(article, ChunkConfig(target_words=20, overlap_sentences=1))
    for p in passages:
        assert p.text.startswith("Sentence number") and p.text.endswith(".")
        assert len(p.text.split()) <= 20
    for left, right in zip(passages, passages[1:]):
        assert right.start < left.end, "consecutive passages share one sentence"
        assert right.start > left.start


def test_no_overlap_setting() -> None:
    text = " ".join(f"Short sentence {i} here." for i in range(30))
    passages = chunk_article(Article("a", "", text), ChunkConfig(target_words=16, overlap_sentences=0))
    for left, right in zip(passages, passages[1:]):
        assert right.start > left.end


def test_long_sentence_is_split_at_word_boundaries() -> None:
    text = "Start. " + " ".join(f"w{i}" for i in range(500)) + " end."
    passages = chunk_article(Article("a", "", text), ChunkConfig(target_words=100))
    assert all(len(p.text.split()) <= 100 for p in passages)
    words = {w for p in passages for w in p.text.split()}
    assert {f"w{i}" for i in range(500)} <= words


def test_heading_starts_a_new_passage() -> None:
    text = "Lead sentence one. Lead sentence two.\n\nThe heading\n\nBody sentence one. Body sentence two."
    at = text.index("The heading")
    article = Article("a", "T", text, headings=(Heading(at, at + len("The heading"), "The heading"),))
    passages = chunk_article(article, ChunkConfig(target_words=100))
    assert [p.heading for p in passages] == [None, "The heading"]
    assert passages[0].text == "Lead sentence one. Lead sentence two."
    assert passages[1].text == "Body sentence one. Body sentence two."


def test_token_limit_shrinks_passages() -> None:
    text = " ".join(f"Sentence {i} has exactly six words here." for i in range(40))
    count = lambda texts: [len(t.split()) for t in texts]  # one "token" per word: easy to check
    passages = chunk_article(Article("a", "Title here", text), ChunkConfig(target_words=200, max_tokens=20),
                             count_tokens=count, prefix="Title here\n")
    assert passages
    assert all(len(("Title here\n" + p.text).split()) <= 20 for p in passages)
    check_invariants(Article("a", "Title here", text), passages, ChunkConfig())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=0, max_size=2000), st.integers(min_value=1, max_value=60), st.integers(0, 3))
def test_arbitrary_unicode_keeps_invariants(text: str, words: int, overlap: int) -> None:
    config = ChunkConfig(target_words=words, overlap_sentences=overlap)
    article = Article("x", "", text)
    passages = chunk_article(article, config)
    check_invariants(article, passages, config)
    if text.strip():
        assert passages
