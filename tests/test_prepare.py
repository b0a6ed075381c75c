"""Preparing articles (chunk, embed, quotations, tokens) without writing: what a cluster's embedders run."""

from __future__ import annotations

import numpy as np

from conftest import reuters_stories
from indexer.chunking import ChunkConfig
from indexer.prepare import NoCache, PreparedArticle, chunk_article, prepare
from indexer.sources.jsonl import parse_record
from search.text import tokenize


def _articles(n: int):
    return [parse_record({**s, "id": f"p-{s['id']}"}, "test")[0] for s in reuters_stories(n)]


def test_each_article_gets_its_passages_vectors_sentences_and_tokens_in_order(embedder) -> None:
    articles = _articles(6)
    prepared = prepare(articles, embedder, ChunkConfig())
    assert [item.article.id for item in prepared.items] == [a.id for a in articles]
    for item in prepared.items:
        assert isinstance(item, PreparedArticle)
        passages, texts, sentences = chunk_article(item.article, ChunkConfig(), embedder)
        assert item.passages == passages and item.texts == texts and item.sentences == sentences
        assert item.tokens == [tokenize(t) for t in texts]
        assert item.passage_vectors.shape == (len(passages), embedder.dimension)
        assert np.allclose(item.passage_vectors, embedder.encode(texts), atol=1e-5)
        assert item.sentence_vectors.shape == (len(sentences), embedder.dimension)
        assert item.quote_vectors.shape == (len(item.quotations), embedder.dimension)
    assert prepared.stats["passages"].embedded == sum(len(i.passages) for i in prepared.items)
    assert {"chunk", "embed", "embed_sentences", "quotes", "bm25"} <= set(prepared.timings)


def test_a_batch_prepares_each_article_as_it_would_alone(embedder) -> None:
    articles = _articles(5)
    together = prepare(articles, embedder, ChunkConfig()).items
    alone = [prepare([a], embedder, ChunkConfig()).items[0] for a in articles]
    for x, y in zip(together, alone):
        assert x.tokens == y.tokens and x.quotations == y.quotations
        cosine = np.sum(x.passage_vectors * y.passage_vectors, axis=1)
        assert (cosine >= 0.9999).all()


def test_no_cache_holds_nothing() -> None:
    cache = NoCache()
    cache.put_many([b"k"], np.ones((1, 3), dtype=np.float32))
    assert cache.get_many([b"k"]) == {}


def test_an_empty_batch_prepares_nothing(embedder) -> None:
    prepared = prepare([], embedder, ChunkConfig())
    assert prepared.items == [] and prepared.stats["passages"].embedded == 0
