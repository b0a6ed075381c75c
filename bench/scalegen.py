"""Scaled corpus: the first 17,000 Reuters stories replicated (lightly varied, real vocabulary) up to N passages.

Replicated passages REUSE the cached embeddings of the real Reuters passages, each perturbed with Gaussian
noise and renormalized (cosine ~0.97 to its original): embedding a million passages would take ~14 hours here.
The result is a real index directory (the project's own writers, manifest, publish) that `SearchEngine.open`
and `python -m web` serve unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from bench.common import BASE_STORIES

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
BASE_DIR = ROOT / "var" / "scale-base"  # the base stories' embedding cache and the exported model
SOURCES = ("Reuters", "AP", "AFP", "Bloomberg", "DW")
SIGMA = 0.0128  # per-dimension noise on unit 384-dim vectors: cos(original, replica) ~ 1/sqrt(1 + 384 sigma^2) ~ 0.97


@dataclass
class Base:
    """The real base stories, chunked by the real chunker, with their vectors."""

    articles: list  # Article
    passages: list  # per article: list of (start, end, heading, ordinal)
    sentences: list  # per article: list of (start, end)
    passage_vectors: list  # per article: float32 [p, d]
    sentence_vectors: list  # per article: float32 [s, d]
    model: dict
    max_tokens: int
    model_folder: Path | None = None  # the exported model, shipped in every scaled build


def load_base(stories: int = BASE_STORIES, base_dir: Path = BASE_DIR, progress: bool = True) -> Base:
    """Chunk the first `stories` Reuters stories with the real chunker and embed them with the production
    embedder through an embedding cache in `base_dir` (about 15 minutes the first time, seconds after)."""
    from indexer.build import BuildConfig, chunk_all, load_embedder
    from indexer.embedcache import EmbeddingCache, embed_all
    from indexer.sources import read_file
    from search.models import Article

    from .build import subset

    base_dir.mkdir(parents=True, exist_ok=True)
    config = BuildConfig(index_dir=base_dir, progress=progress)
    embedder = load_embedder(config)
    work = Path(tempfile.mkdtemp(prefix="newsclip-scale-"))
    try:
        corpus = work / "reuters.jsonl.gz"
        subset(corpus, stories)
        articles = [a for a in read_file(corpus, "jsonl") if isinstance(a, Article)]
        chunked = chunk_all(articles, embedder, config, [])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cache = EmbeddingCache(base_dir / "cache" / "embeddings.sqlite", embedder.dimension)
    try:
        pv, pstats = embed_all(chunked.texts, embedder, cache, 32, progress)
        sv, sstats = embed_all(chunked.sentence_texts, embedder, cache, 64, progress)
    finally:
        cache.close()
    print(f"base: {len(chunked.articles)} articles, {len(chunked.passages)} passages, "
          f"{len(chunked.sentences)} sentences; passages {asdict(pstats)}, sentences {asdict(sstats)}", flush=True)
    n = len(chunked.articles)
    per_p = [[] for _ in range(n)]
    per_pv = [[] for _ in range(n)]
    for i, (row, p) in enumerate(zip(chunked.passage_article, chunked.passages)):
        per_p[row].append((p.start, p.end, p.heading, p.ordinal))
        per_pv[row].append(i)
    per_s = [[] for _ in range(n)]
    per_sv = [[] for _ in range(n)]
    for i, (row, a, b) in enumerate(chunked.sentences):
        per_s[row].append((a, b))
        per_sv[row].append(i)
    base = Base(
        articles=chunked.articles, passages=per_p, sentences=per_s,
        passage_vectors=[pv[ix] for ix in per_pv], sentence_vectors=[sv[ix] for ix in per_sv],
        model=embedder.describe(), max_tokens=embedder.max_tokens, model_folder=getattr(embedder, "folder", None),
    )
    return base


def _shift(span_start: int, span_end: int, s: int, e: int, delta: int) -> tuple[int, int]:
    """A span of whole sentences after the sentence [s, e) was replaced by one `delta` chars longer."""
    if span_end <= s:
        return span_start, span_end
    if span_start >= e:
        return span_start + delta, span_end + delta
    return span_start, span_end + delta  # contains the replaced sentence


def _replica_date(date: str | None, r: int, rng: np.random.Generator) -> str | None:
    if r == 0 or not date:
        return date
    day = dt.date.fromisoformat(date[:10])
    shifted = day.replace(year=1987 + (r % 38)) if not (day.month == 2 and day.day == 29) else day.replace(day=28, year=1987 + (r % 38))
    shifted += dt.timedelta(days=int(rng.integers(-120, 120)))
    return shifted.isoformat() + date[10:]


@dataclass
class Scaled:
    articles: list
    passages: list
    passage_article: list
    sentences: list  # (article row, start, end)
    passage_vectors: np.ndarray  # float32
    sentence_vectors: np.ndarray  # float16
    texts: list  # embedded texts (title + passage)


def _noisy(vectors: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    out = vectors + rng.standard_normal(vectors.shape, dtype=np.float32) * np.float32(sigma)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def generate(base: Base, target: int, seed: int = 0, sigma: float = SIGMA) -> Scaled:
    """Replica 0 of every story is the real story; replica r > 0 gets a new id, a date in 1987-2024, one of a few
    sources, and one sentence swapped for a sentence of another real story (offsets rebuilt from its own text)."""
    from search.models import Passage

    rng = np.random.default_rng(seed)
    n_base = len(base.articles)
    total_p = sum(len(p) for p in base.passages)
    total_s = sum(len(s) for s in base.sentences)
    replicas = -(-target // total_p)
    dim = base.passage_vectors[0].shape[1]
    pvec = np.empty((target + 64, dim), dtype=np.float32)
    svec = np.empty((int(total_s * replicas * 1.02) + 1024, dim), dtype=np.float16)
    out = Scaled([], [], [], [], pvec, svec, [])
    n_p = n_s = 0
    donors = [(a, s) for a in range(n_base) for s in range(len(base.sentences[a]))]
    for r in range(replicas):
        for a in range(n_base):
            if n_p >= target:
                break
            art = base.articles[a]
            spans = base.passages[a]
            sents = base.sentences[a]
            pv, sv = base.passage_vectors[a], base.sentence_vectors[a]
            text = art.text
            s_vecs = sv
            if r == 0:
                new_article = art
                p_spans = [(s, e) for s, e, _, _ in spans]
                s_spans = list(sents)
                p_vecs = pv
            else:
                k = int(rng.integers(len(sents)))
                s, e = sents[k]
                da, ds = donors[int(rng.integers(len(donors)))]
                d0, d1 = base.sentences[da][ds]
                donor = base.articles[da].text[d0:d1]
                delta = len(donor) - (e - s)
                text = text[:s] + donor + text[e:]
                p_spans = [_shift(ps, pe, s, e, delta) for ps, pe, _, _ in spans]
                s_spans = [_shift(x, y, s, e, delta) for x, y in sents]
                headings = tuple(replace(h, start=_shift(h.start, h.end, s, e, delta)[0],
                                         end=_shift(h.start, h.end, s, e, delta)[1]) for h in art.headings)
                new_article = replace(
                    art, id=f"{art.id}-r{r}", text=text, date=_replica_date(art.date, r, rng),
                    source=SOURCES[(a + r) % len(SOURCES)], url=None, headings=headings, origin=f"scale:{art.id}:{r}",
                )
                p_vecs = _noisy(pv, rng, sigma)
                s_vecs = sv.copy()
                s_vecs[k] = base.sentence_vectors[da][ds]
                s_vecs = _noisy(s_vecs, rng, sigma)
            row = len(out.articles)
            out.articles.append(new_article)
            prefix = f"{new_article.title}\n" if new_article.title else ""
            for (ps, pe), (_, _, heading, ordinal) in zip(p_spans, spans):
                body = text[ps:pe]
                out.passages.append(Passage(new_article.id, ordinal, ps, pe, body, heading))
                out.texts.append(prefix + body)
                out.passage_article.append(row)
            out.sentences.extend((row, x, y) for x, y in s_spans)
            pvec[n_p : n_p + len(p_spans)] = p_vecs
            svec[n_s : n_s + len(s_spans)] = s_vecs
            n_p += len(p_spans)
            n_s += len(s_spans)
    out.passage_vectors = pvec[:n_p]
    out.sentence_vectors = svec[:n_s]
    return out


def write_index(scaled: Scaled, index_dir: Path, model: dict, max_tokens: int, timings: dict,
                sigma: float, faiss_threads: int = 2, model_folder: Path | None = None, base_stories: int = 0) -> Path:
    """The project's own writers and publish, with a manifest like build_index's."""
    import faiss
    from indexer.build import _versions
    from indexer.publish import checksums, clean_leftovers, new_build_id, publish, rebuild_lock, start_build
    from search.bm25 import BM25Index, BM25Params
    from search.columns import write_columns
    from search.dense import DenseConfig, build_dense, save_dense
    from search.embed import MODEL_DIR
    from search.layout import BM25_DIR, COLUMNS, DENSE, FORMAT_VERSION, QUOTES, STORE
    from search.quotes import QuoteIndexBuilder
    from search.store import write_store
    from search.text import ANALYZER_SETTINGS, tokenize
    from indexer.chunking import ChunkConfig

    def stage(name, began):
        timings[name] = round(time.perf_counter() - began, 2)
        print(f"  {name}: {timings[name]} s", flush=True)

    faiss.omp_set_num_threads(faiss_threads)
    index_dir = Path(index_dir)
    with rebuild_lock(index_dir):
        clean_leftovers(index_dir)
        build_id = new_build_id()
        tmp = start_build(index_dir, build_id)
        try:
            t = time.perf_counter()
            bm25 = BM25Index.build((tokenize(x) for x in scaled.texts), BM25Params())
            bm25.save(tmp / BM25_DIR)
            stats = bm25.stats()
            del bm25
            stage("tokenize_bm25", t)
            t = time.perf_counter()
            config = DenseConfig()
            dense, dense_info = build_dense(scaled.passage_vectors, config)
            save_dense(dense, tmp / DENSE)
            del dense
            stage("faiss", t)
            t = time.perf_counter()
            write_store(tmp / STORE, scaled.articles, scaled.passages)
            stage("sqlite", t)
            t = time.perf_counter()
            write_columns(tmp / COLUMNS, scaled.articles, scaled.passage_article, scaled.sentences,
                          scaled.sentence_vectors)
            stage("columns", t)
            t = time.perf_counter()
            quotes = QuoteIndexBuilder(tmp / QUOTES, int(model["dimension"]), BM25Params()).finish(config)
            if model_folder is not None:
                shutil.copytree(model_folder, tmp / MODEL_DIR)
            manifest = {
                "format_version": FORMAT_VERSION,
                "build_id": build_id,
                "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "model": model,
                "analyzer": ANALYZER_SETTINGS,
                "chunking": {**asdict(ChunkConfig()), "max_tokens": max_tokens, "title_in_passages": True},
                "bm25": {**asdict(BM25Params()), **stats},
                "dense": dense_info,
                "quotes": quotes,
                "counts": {
                    "articles": len(scaled.articles),
                    "passages": len(scaled.passages),
                    "sentences": len(scaled.sentences),
                    "quotes": 0,
                    "skipped": 0,
                    "problems": 0,
                },
                "sources": [{"path": f"bench.scalegen: first {base_stories:,} Reuters-21578 stories with a body, replicated",
                             "format": "scale"}],
                "problems": [],
                "embeddings": {"cached": 0, "embedded": 0, "duplicates": 0,
                               "synthetic": "replicated passages reuse the cached embeddings of the real Reuters "
                                            f"passages plus Gaussian noise (sigma {sigma}), renormalized"},
                "sentence_embeddings": {"cached": 0, "embedded": 0, "duplicates": 0},
                "timings": timings,
                "libraries": _versions(),
                "files": checksums(tmp),
                "scale": {"synthetic": True, "sigma": sigma, "base_stories": base_stories},
            }
            final = publish(index_dir, tmp, build_id, manifest)
            stage("publish", t)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return final


def add_empty_quotes(build: Path) -> bool:
    """Indexes generated before the generator wrote a quotation index lack one and the engine needs one: an
    empty one, written with the project's own builder into the build, its files added to the manifest."""
    from indexer.publish import checksums
    from search.bm25 import BM25Params
    from search.dense import DenseConfig
    from search.layout import MANIFEST, QUOTES
    from search.quotes import QuoteIndexBuilder

    manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    if "quotes" in manifest["counts"]:
        return False
    builder = QuoteIndexBuilder(build / QUOTES, int(manifest["model"]["dimension"]), BM25Params())
    manifest["quotes"] = builder.finish(DenseConfig())
    manifest["counts"]["quotes"] = 0
    files = {f"{QUOTES}/{k}": v for k, v in checksums(build / QUOTES).items()}
    manifest["files"].update(files)
    (build / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return True
