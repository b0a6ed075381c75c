"""Preparing articles for an index: chunk, embed, extract quotations and tokenize, with nothing written.

This is the costly and independent part of a build (about 60-70 core-ms a story, most of it embedding), so it runs
wherever there is CPU: in the build's own process, or in the embedders of a Ray cluster (`indexer.cluster`). What it
returns is written in input order by the build's sink, so both give the same index.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from search.embed import Embedder
from search.errors import BuildError
from search.models import Article, Passage, Quotation
from search.quotes import SEARCHABLE, quote_text
from search.text import tokenize

from .chunking import ChunkConfig, split_article
from .embedcache import EmbedStats, embed_all
from .quotes import extract_quotations
from .sources import Problem

NO_SENTENCES = "no sentences in the text"


@dataclass
class PreparedArticle:
    """One article ready to write: its passages with their texts, tokens and vectors, sentences, quotations."""

    article: Article
    passages: list[Passage]
    texts: list[str]  # what is embedded and BM25-indexed per passage (title first)
    tokens: list[list[str]]  # the BM25 analyzer's tokens of each text
    passage_vectors: np.ndarray  # float32 [passages, dim]
    sentences: list[tuple[int, int]]  # character spans in the article's text
    sentence_vectors: np.ndarray  # float32 [sentences, dim]
    quotations: list[Quotation]
    quote_vectors: np.ndarray  # float32 [quotations, dim]; zeros for a quotation that is never searched


@dataclass
class Prepared:
    """What one batch of articles became, in input order: an article ready to write or why it was skipped."""

    items: list[PreparedArticle | Problem]
    stats: dict[str, EmbedStats]  # "passages", "sentences", "quotes"
    timings: dict[str, float] = field(default_factory=dict)


class NoCache:
    """An embedding cache that holds nothing: a cluster's embedders have no shared disk with the build."""

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        return {}

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        return None


def embed_text(article: Article, passage: Passage) -> str:
    """What is embedded and BM25-indexed for a passage: the title makes every passage findable by it (a
    headline-only brief is its title already: counted once)."""
    return f"{article.title}\n{passage.text}" if article.title and article.text != article.title else passage.text


def article_quotations(article: Article) -> list[Quotation]:
    """The article's quotations as stored: offsets into its text, the spoken words, speaker, role and kind."""
    return [
        Quotation(article.id, f.start, f.end, f.parts, quote_text(article.text, f.parts), f.speaker, f.role, f.kind,
                  getattr(f, "speaker_kind", None))
        for f in extract_quotations(article.text)
    ]


def check_lengths(texts: list[str], embedder: Embedder, article: Article) -> None:
    """Never let the model truncate a passage silently."""
    for j, n in enumerate(embedder.count_tokens(texts)):
        if n > embedder.max_tokens:
            raise BuildError(f"{article.origin}: passage {j} of article {article.id!r} has {n} word pieces, over "
                             f"the model's {embedder.max_tokens}")


def chunk_article(article: Article, chunking: ChunkConfig,
                  embedder: Embedder) -> tuple[list[Passage], list[str], list[tuple[int, int]]]:
    """The article's passages, their embedded texts and its sentence spans; no passages when it has no sentence."""
    config = ChunkConfig(chunking.target_words, chunking.overlap_sentences, embedder.max_tokens)
    prefix = f"{article.title}\n" if article.title and article.text != article.title else ""
    passages, sentences = split_article(article, config, embedder.count_tokens, prefix)
    texts = [embed_text(article, p) for p in passages]
    check_lengths(texts, embedder, article)
    return passages, texts, sentences


def _split(vectors: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    return np.split(vectors, np.cumsum(sizes)[:-1]) if sizes else []


def prepare(articles: Sequence[Article], embedder: Embedder, chunking: ChunkConfig, cache=None,
            batch_size: int = 32) -> Prepared:
    """Chunk, embed (through `cache` when given), extract quotations and tokenize one batch of articles."""
    cache = NoCache() if cache is None else cache
    timings: dict[str, float] = {}
    began = time.perf_counter()
    kept: list[tuple[Article, list[Passage], list[str], list[tuple[int, int]]]] = []
    items: list[PreparedArticle | Problem | None] = []
    for article in articles:
        passages, texts, sentences = chunk_article(article, chunking, embedder)
        if not passages:
            items.append(Problem(article.origin, NO_SENTENCES, True))
            continue
        kept.append((article, passages, texts, sentences))
        items.append(None)
    timings["chunk"] = time.perf_counter() - began
    began = time.perf_counter()
    texts = [t for _, _, ts, _ in kept for t in ts]
    vectors, passage_stats = embed_all(texts, embedder, cache, batch_size, False)
    timings["embed"] = time.perf_counter() - began
    began = time.perf_counter()  # the quote choice compares sentences to the question
    sentence_texts = [a.text[s:e] for a, _, _, spans in kept for s, e in spans]
    sentence_vectors, sentence_stats = embed_all(sentence_texts, embedder, cache, batch_size * 2, False)
    timings["embed_sentences"] = time.perf_counter() - began
    began = time.perf_counter()  # quotations are searched by their words: embedded like passages
    quotations = [article_quotations(a) for a, _, _, _ in kept]
    spoken = [q for qs in quotations for q in qs if q.kind in SEARCHABLE]
    spoken_vectors, quote_stats = embed_all([q.text for q in spoken], embedder, cache, batch_size, False)
    vector_of = {id(q): v for q, v in zip(spoken, spoken_vectors)}
    blank = np.zeros(embedder.dimension, dtype=np.float32)  # terms are never searched
    timings["quotes"] = time.perf_counter() - began
    began = time.perf_counter()
    tokens = [tokenize(t) for t in texts]
    timings["bm25"] = time.perf_counter() - began
    by_passages = _split(vectors, [len(p) for _, p, _, _ in kept])
    by_sentences = _split(sentence_vectors, [len(s) for _, _, _, s in kept])
    first = np.cumsum([0] + [len(p) for _, p, _, _ in kept]).tolist()
    ready = iter(
        PreparedArticle(article, passages, ts, tokens[first[i]:first[i + 1]], by_passages[i], spans,
                        by_sentences[i], quotations[i],
                        np.array([vector_of.get(id(q), blank) for q in quotations[i]], dtype=np.float32)
                        .reshape(len(quotations[i]), embedder.dimension))
        for i, (article, passages, ts, spans) in enumerate(kept)
    )
    return Prepared([item if item is not None else next(ready) for item in items],
                    {"passages": passage_stats, "sentences": sentence_stats, "quotes": quote_stats}, timings)
