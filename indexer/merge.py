"""Merging adjacent segments into one, from what they store: nothing re-chunked, re-embedded or re-extracted.

`merge_segments` writes the live articles of segments first..last of a commit, in order, as one new segment
folder `segments/seg-<generation>-m` with the files and manifest of indexer/segment.py's `write_segment`:

- store.sqlite: the live article, passage and quotation rows copied by SQLite itself (ATTACH, INSERT ...
  SELECT through row maps, 20,000 rows a transaction, so a writer purging a source waits one step at most),
  renumbered from 0 in (segment, row) order; deleted rows are not copied (a fresh file: no free page holds
  them either).
- bm25/: search.livebm25.merge of the segments' postings over their live rows (raw tf and lengths copied, so a
  LiveBM25 over the new commit scores exactly as over the old one).
- dense.faiss: the live passages' vectors read back from the segments' FAISS indexes (reconstruct: exact for
  flat fp32 and HNSW fp32, and for HNSW fp16, whose decoded values encode to the same fp16 codes again), then
  `build_dense` (flat up to its limit, HNSW beyond). When the result is HNSW and the first segment is an HNSW
  graph of the same settings with nothing deleted and at least as many vectors as any other, the others are
  added into a heap copy of that graph instead of building one from scratch (about 8x cheaper, same recall:
  ../shared/design/living-archive.md). An HNSW graph cannot drop rows, so a segment with deletes is rebuilt.
  The one rounding: fp32 vectors of a flat segment merged into an fp16 graph (past the flat limit) are
  rounded to fp16 once, as a rebuild stores them (cosines move by ~1e-5; ranks seen unchanged).
- columns/: the live articles' rows of every array, the sentence rows and their fp16 vectors (read with the
  columns' RowFile, in chunks), sources renamed into one sorted list.
- quotes/: the quotation arrays of the live articles, speakers remapped into one sorted name list (each
  name's kind as the first segment that has it recorded it), quote BM25 by merge, quote vectors by reconstruct.

The folder is filled under a temporary name, every file fsynced, the manifest (sha256 of every file) written
last, then renamed into place: complete or absent.

`apply_merge` then publishes a commit whose segments list has the merged one in place of first..last, keeping
the journal position and the commit's extra figures (the live corpus is unchanged, so are its BM25 statistics),
and collects garbage keeping the new and the previous commit, as the writer does. A kill -9 before the commit's
HEAD is replaced leaves the old commit whole (the new folder is garbage for the next collection); after it, the
new commit is whole.

Merging in the background, beside a writer: pass `lock` (e.g. `lambda: writer_lock(index_dir)`); the segment
is then written without it, under `merging/` (a folder no collection looks into), and only renaming it into
`segments/` and publishing happen under the lock. Deletes that reached first..last meanwhile are carried over:
their rows in the merged segment get a delete file and their text is purged from its store before the commit
that names it is published (as `ArchiveWriter.apply` deletes). A merge whose segments left the commit meanwhile
is abandoned (`MergeConflict`). One merge at a time per build (`MergeBusy`).

Rewriting the base (the build's own files, segment "."): after a merge that includes it, the base's index files
(store, BM25, FAISS, columns, quotes) are listed as `mutable` in the commit and under `extra["base_retired"]`
(the build manifest's checksums no longer describe what is served: a verifier skips them), and `release_base`
removes them once no kept commit names the base, so no copy of an article's text outlives its delete there
either. The build folder keeps its manifest and model.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from search.bm25 import BM25Index
from search.commit import BASE, SEGMENTS, Commit, SegmentRef, load_deleted, read_commit, segment_dir
from search.dense import DenseConfig, build_dense, save_dense, stored_vectors
from search.errors import BuildError, IndexCorrupt
from search.layout import BM25_DIR, COLUMNS, DENSE, FORMAT_VERSION, MANIFEST, QUOTES, STORE, fsync_dir, read_manifest
from search.livebm25 import merge as merge_bm25
from search.models import QUOTE_KINDS
from search.quotes import SPEAKERS_FILE, is_named
from search.segments import SegmentReader
from search.store import SCHEMA

from .build import BuildConfig
from .commits import collect_garbage, publish_commit, write_deleted
from .publish import checksums
from .purge import purge_articles

MERGED_SUFFIX = "-m"
STAGING = "merging"  # background merges write here: collect_garbage never looks into it
MERGE_LOCK = ".merge.lock"
BASE_FILES = (STORE, BM25_DIR, DENSE, COLUMNS, QUOTES)  # the base's index files; its manifest and model stay
CHUNK = 65_536  # rows read back at a time (vectors: 100 MB of fp32 at 384 dims)
STORE_STEP = 20_000  # store rows copied per transaction
SENTENCE_VECTORS = "sentence_vectors.npy"
SOURCES_FILE = "sources.json"
SPILL = "passage_vectors.f32.part"
BASE_RETIRED = "base_retired"  # commit.extra: the base's files a merge retired (a verifier skips them)


class MergeConflict(BuildError):
    """The merged segments are no longer adjacent in the newest commit (a writer dropped one meanwhile)."""


class MergeBusy(BuildError):
    """Another merge of this build is running."""


@dataclass
class _Source:
    """One input segment, opened read-only, with its live rows at the merge's commit."""

    ref: SegmentRef
    path: Path
    manifest: dict[str, Any]
    reader: SegmentReader
    live_articles: np.ndarray  # bool [articles]
    live_passages: np.ndarray  # bool [passages]
    live_quotes: np.ndarray  # bool [quotes]
    new_article: np.ndarray  # int64 [articles]: row in the merged segment, -1 when deleted


def merged_name(generation: int) -> str:
    return f"seg-{generation:08d}{MERGED_SUFFIX}"


def _store_rel(ref: SegmentRef) -> str:
    return STORE if ref.path == BASE else f"{ref.path}/{STORE}"


def _open_sources(build_dir: Path, commit: Commit, first: int, last: int) -> list[_Source]:
    if not 0 <= first <= last < len(commit.segments):
        raise ValueError(f"segments {first}..{last} are not in a commit of {len(commit.segments)}")
    build_manifest = read_manifest(build_dir)
    dimension = int(build_manifest["model"]["dimension"])
    fingerprint = build_manifest["model"].get("fingerprint")
    sources, offset = [], 0
    for ref in commit.segments[first : last + 1]:
        path = segment_dir(build_dir, ref)
        manifest = build_manifest if ref.path == BASE else read_manifest(path)
        if manifest.get("model", {}).get("fingerprint") != fingerprint:
            raise IndexCorrupt(f"{path} was embedded with another model than its build: not merged")
        reader = SegmentReader(path, manifest, dimension)
        live = np.ones(reader.n_articles, dtype=bool)
        dead = load_deleted(build_dir, ref)
        if dead.size and (int(dead.min()) < 0 or int(dead.max()) >= reader.n_articles):
            raise IndexCorrupt(f"{ref.deleted} names article rows outside {path}")
        live[dead] = False
        new = np.full(reader.n_articles, -1, dtype=np.int64)
        new[live] = np.arange(offset, offset + int(live.sum()), dtype=np.int64)
        offset += int(live.sum())
        quote_article = np.asarray(reader.quotes.article, dtype=np.int64)
        sources.append(_Source(ref, path, manifest, reader, live,
                               live[np.asarray(reader.columns.passage_article, dtype=np.int64)],
                               live[quote_article] if quote_article.size else np.zeros(0, dtype=bool), new))
    return sources


# -- the store ------------------------------------------------------------------------------------------------

_ARTICLE_COLS = 'id, title, text, date, day, source, url, agencies, headings, origin, dateline'
_PASSAGE_COLS = 'ordinal, start, "end", heading, text'
_QUOTE_COLS = 'start, "end", parts, speaker, role, kind, text, speaker_kind'


def _map_table(con: sqlite3.Connection, name: str, old: np.ndarray, new_start: int) -> int:
    con.execute(f"DROP TABLE IF EXISTS temp.{name}")
    con.execute(f"CREATE TEMP TABLE {name} (new INTEGER PRIMARY KEY, old INTEGER NOT NULL UNIQUE)")
    con.executemany(f"INSERT INTO temp.{name} VALUES (?, ?)",
                    zip(range(new_start, new_start + int(old.size)), old.tolist()))
    return int(old.size)


def _uri(path: Path, mode: str = "") -> str:
    return "file:" + urllib.parse.quote(str(Path(path).resolve())) + (f"?mode={mode}" if mode else "")


def _write_store(path: Path, sources: Sequence[_Source]) -> tuple[dict[str, int], np.ndarray]:
    """The live rows of every source store, renumbered in order, copied STORE_STEP rows per transaction (a
    writer purging a source meanwhile waits for one step at most, never for the whole copy).

    Returns the counts of rows numbered and the merged rows of live articles whose rows a source store no
    longer held whole (purged by a delete committed since the merge began: publishing checks that each was
    deleted meanwhile, masks them and purges what was copied of them)."""
    con = sqlite3.connect(_uri(path), uri=True, timeout=60)
    counts = {"articles": 0, "passages": 0, "quotes": 0}
    missing: list[np.ndarray] = []
    try:
        con.executescript(SCHEMA)
        for src in sources:
            con.execute("ATTACH DATABASE ? AS src", (_uri(src.path / STORE, "ro"),))
            try:
                maps = {"amap": np.flatnonzero(src.live_articles), "pmap": np.flatnonzero(src.live_passages),
                        "qmap": np.flatnonzero(src.live_quotes)}
                starts = {"amap": counts["articles"], "pmap": counts["passages"], "qmap": counts["quotes"]}
                for name, old in maps.items():
                    _map_table(con, name, old, starts[name])
                con.commit()
                copies = (
                    ("amap", f"INSERT INTO main.articles (row, {_ARTICLE_COLS}) "
                             f"SELECT m.new, {_prefixed('a', _ARTICLE_COLS)} FROM temp.amap m "
                             "JOIN src.articles a ON a.row = m.old WHERE m.new >= ? AND m.new < ? ORDER BY m.new"),
                    ("pmap", f"INSERT INTO main.passages (row, article_row, {_PASSAGE_COLS}) "
                             f"SELECT pm.new, m.new, {_prefixed('p', _PASSAGE_COLS)} FROM temp.pmap pm "
                             "JOIN src.passages p ON p.row = pm.old JOIN temp.amap m ON m.old = p.article_row "
                             "WHERE pm.new >= ? AND pm.new < ? ORDER BY pm.new"),
                    ("qmap", f"INSERT INTO main.quotes (row, article_row, {_QUOTE_COLS}) "
                             f"SELECT qm.new, m.new, {_prefixed('q', _QUOTE_COLS)} FROM temp.qmap qm "
                             "JOIN src.quotes q ON q.row = qm.old JOIN temp.amap m ON m.old = q.article_row "
                             "WHERE qm.new >= ? AND qm.new < ? ORDER BY qm.new"),
                )
                for name, sql in copies:
                    lo, hi = starts[name], starts[name] + int(maps[name].size)
                    for at in range(lo, hi, STORE_STEP):
                        con.execute(sql, (at, min(at + STORE_STEP, hi)))
                        con.commit()
                # rows not copied, and so the articles they belong to
                table = {"amap": "articles", "pmap": "passages", "qmap": "quotes"}
                lost = {name: np.array([r for (r,) in con.execute(
                    f"SELECT x.new FROM temp.{name} x WHERE NOT EXISTS "
                    f"(SELECT 1 FROM main.{table[name]} y WHERE y.row = x.new)")], dtype=np.int64)
                    for name in maps}
                if any(v.size for v in lost.values()):
                    owner_p = src.new_article[np.asarray(src.reader.columns.passage_article, dtype=np.int64)]
                    owner_q = src.new_article[np.asarray(src.reader.quotes.article, dtype=np.int64)]
                    missing.append(np.concatenate([
                        lost["amap"],
                        owner_p[maps["pmap"][lost["pmap"] - starts["pmap"]]],
                        owner_q[maps["qmap"][lost["qmap"] - starts["qmap"]]]]))
                counts = {"articles": counts["articles"] + int(maps["amap"].size),
                          "passages": counts["passages"] + int(maps["pmap"].size),
                          "quotes": counts["quotes"] + int(maps["qmap"].size)}
            finally:
                if con.in_transaction:
                    con.rollback()
                con.execute("DETACH DATABASE src")
        for name in ("amap", "pmap", "qmap"):
            con.execute(f"DROP TABLE IF EXISTS temp.{name}")
        con.commit()
        con.execute("PRAGMA journal_mode=DELETE")
    finally:
        con.close()
    return counts, (np.unique(np.concatenate(missing)) if missing else np.zeros(0, dtype=np.int64))


def _prefixed(alias: str, cols: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in cols.split(","))


# -- vectors --------------------------------------------------------------------------------------------------

def _live_vectors(index: Any, live: np.ndarray) -> Iterator[np.ndarray]:
    """The stored vectors of the live rows, in row order, CHUNK at a time (fp32, as FAISS decodes them)."""
    rows = np.flatnonzero(live).astype(np.int64)
    for i in range(0, rows.size, CHUNK):
        yield np.ascontiguousarray(stored_vectors(index, rows[i : i + CHUNK]), dtype=np.float32)


def _hnsw_settings(index: Any) -> tuple[str, int] | None:
    """(storage, M) of an HNSW index as merge_dense can grow it, None for any other kind."""
    if isinstance(index, faiss.IndexHNSWSQ):
        storage = "fp16" if index.storage is not None and \
            faiss.downcast_index(index.storage).sq.qtype == faiss.ScalarQuantizer.QT_fp16 else None
    elif isinstance(index, faiss.IndexHNSWFlat):
        storage = "fp32"
    else:
        return None
    return (storage, int(index.hnsw.nb_neighbors(1))) if storage else None


def _can_grow(first: Any, first_live: np.ndarray, others: Sequence[Any], config: DenseConfig, total: int) -> bool:
    """Whether the first input's graph can take the others' vectors: see the module docstring."""
    return (config.resolve(total) == "hnsw" and bool(first_live.all())
            and _hnsw_settings(first) == (config.hnsw_storage, config.hnsw_m)
            and all(first.ntotal >= o.ntotal for o in others))


def merge_dense(parts: Sequence[Any], paths: Sequence[Path], live: Sequence[np.ndarray], config: DenseConfig,
                spill: Path) -> tuple[faiss.Index, dict[str, Any]]:
    """One FAISS index of the live rows of `parts` (opened indexes, their files and live masks), in order, from
    their stored vectors; `spill` is a scratch file for them (removed)."""
    dim = int(parts[0].d)
    total = int(sum(int(np.count_nonzero(m)) for m in live))
    if _can_grow(parts[0], live[0], parts[1:], config, total):
        index = faiss.read_index(str(paths[0]))  # a writable heap copy: a mapped index must never be added to
        index.hnsw.efConstruction = config.ef_construction
        for part, mask in zip(parts[1:], live[1:]):
            for block in _live_vectors(part, mask):
                index.add(block)
        info = {"type": "hnsw", "storage": config.hnsw_storage, "m": config.hnsw_m,
                "ef_construction": config.ef_construction, "ef_search": config.ef_search,
                "vectors": int(index.ntotal), "dimension": dim, "settings": asdict(config), "grown_from": str(paths[0])}
        return index, info
    with open(spill, "wb") as out:
        for part, mask in zip(parts, live):
            for block in _live_vectors(part, mask):
                out.write(block.tobytes())
    try:
        vectors = np.memmap(spill, dtype=np.float32, mode="r", shape=(total, dim)) if total \
            else np.zeros((0, dim), dtype=np.float32)
        index, info = build_dense(vectors, config)
        del vectors
    finally:
        spill.unlink(missing_ok=True)
    return index, info


# -- columns --------------------------------------------------------------------------------------------------

def _write_columns(folder: Path, sources: Sequence[_Source], dimension: int) -> int:
    """The live rows of every array, sources renamed into one sorted list; returns the sentences written."""
    folder.mkdir()
    cols = [s.reader.columns for s in sources]
    names = sorted({c.source_names[code] for c, s in zip(cols, sources)
                    for code in np.unique(np.asarray(c.article_source)[s.live_articles]).tolist() if code >= 0})
    code_of = {n: i for i, n in enumerate(names)}
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("passage_article", "article_day", "article_source",
                                                          "article_time", "counts", "sentence_start", "sentence_end")}
    live_sentences = []
    for c, s in zip(cols, sources):
        la = s.live_articles
        parts["passage_article"].append(s.new_article[np.asarray(c.passage_article, dtype=np.int64)[s.live_passages]])
        parts["article_day"].append(np.asarray(c.article_day)[la])
        remap = np.array([code_of.get(n, -1) for n in c.source_names] + [-1], dtype=np.int32)  # [-1]: no source
        parts["article_source"].append(remap[np.asarray(c.article_source)[la]])
        parts["article_time"].append(np.asarray(c.article_time)[la])
        counts = np.diff(np.asarray(c.sentence_ptr, dtype=np.int64))
        parts["counts"].append(counts[la])
        keep = np.repeat(la, counts)
        live_sentences.append(keep)
        parts["sentence_start"].append(np.asarray(c.sentence_start)[keep])
        parts["sentence_end"].append(np.asarray(c.sentence_end)[keep])
    counts = np.concatenate(parts.pop("counts"))
    arrays = {
        "passage_article": np.concatenate(parts["passage_article"]).astype(np.int32),
        "article_day": np.concatenate(parts["article_day"]).astype(np.int32),
        "article_source": np.concatenate(parts["article_source"]).astype(np.int32),
        "article_time": np.concatenate(parts["article_time"]).astype(np.int64),
        "sentence_ptr": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        "sentence_start": np.concatenate(parts["sentence_start"]).astype(np.int32),
        "sentence_end": np.concatenate(parts["sentence_end"]).astype(np.int32),
    }
    for name, values in arrays.items():
        np.save(folder / f"{name}.npy", values, allow_pickle=False)
    n = int(arrays["sentence_start"].shape[0])
    if not n:  # no live sentence (never: an article has one); a memory map cannot be empty
        np.save(folder / SENTENCE_VECTORS, np.zeros((0, dimension), dtype=np.float16), allow_pickle=False)
        (folder / SOURCES_FILE).write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")
        return 0
    out = np.lib.format.open_memmap(folder / SENTENCE_VECTORS, mode="w+", dtype=np.float16, shape=(n, dimension))
    at = 0
    for c, keep in zip(cols, live_sentences):
        vectors = c.sentence_vectors
        for lo in range(0, keep.size, CHUNK):
            mask = keep[lo : lo + CHUNK]
            if not mask.any():
                continue
            block = vectors.rows(lo, lo + mask.size)[mask]
            out[at : at + len(block)] = block
            at += len(block)
    if at != n:
        raise IndexCorrupt(f"read {at} sentence vectors of the {n} live sentences: not merged")
    out.flush()
    del out
    (folder / SOURCES_FILE).write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")
    return n


# -- quotations -----------------------------------------------------------------------------------------------

def _write_quotes(folder: Path, sources: Sequence[_Source], config: BuildConfig) -> dict[str, Any]:
    """The quotation index of the live articles; returns its manifest entry (as QuoteIndexBuilder.finish)."""
    folder.mkdir()
    names_of, kind_of = [], {}
    for s in sources:  # speakers.json, not the loaded index: it has each name's kind
        listed = json.loads((s.path / QUOTES / SPEAKERS_FILE).read_text(encoding="utf-8"))
        names_of.append([str(x["name"]) for x in listed])
        for x in listed:
            kind_of.setdefault(str(x["name"]), x.get("kind"))
    used = set()
    for s, names in zip(sources, names_of):
        codes = np.asarray(s.reader.quotes.speaker)[s.live_quotes]
        used.update(names[c] for c in np.unique(codes[codes >= 0]).tolist())
    names = sorted(used)
    code_of = {n: i for i, n in enumerate(names)}
    article, speaker, kind = [], [], []
    for s, own in zip(sources, names_of):
        q = s.reader.quotes
        remap = np.array([code_of.get(n, -1) for n in own] + [-1], dtype=np.int32)
        article.append(s.new_article[np.asarray(q.article, dtype=np.int64)[s.live_quotes]])
        speaker.append(remap[np.asarray(q.speaker)[s.live_quotes]])
        kind.append(np.asarray(q.kind)[s.live_quotes])
    arrays = {"article": np.concatenate(article).astype(np.int32), "speaker": np.concatenate(speaker).astype(np.int32),
              "kind": np.concatenate(kind).astype(np.int8)}
    for name, values in arrays.items():
        np.save(folder / f"{name}.npy", values, allow_pickle=False)
    bm25 = merge_bm25([s.reader.quotes.bm25 for s in sources], [s.live_quotes for s in sources])
    bm25.save(folder / BM25_DIR)
    index, info = merge_dense([s.reader.quotes.dense for s in sources], [s.path / QUOTES / DENSE for s in sources],
                              [s.live_quotes for s in sources], config.dense, folder / "vectors.f32.part")
    save_dense(index, folder / DENSE)
    del index
    speakers = [{"name": n, "kind": kind_of.get(n)} for n in names]
    (folder / SPEAKERS_FILE).write_text(json.dumps(speakers, ensure_ascii=False), encoding="utf-8")
    kinds = np.bincount(arrays["kind"], minlength=len(QUOTE_KINDS))
    named = sum(is_named(n, kind_of.get(n)) for n in names)
    return {"quotes": int(arrays["article"].shape[0]), "speakers": named, "unnamed_sources": len(names) - named,
            "dense": info["type"], "kinds": {k: int(n) for k, n in zip(QUOTE_KINDS, kinds)}}


# -- the segment ----------------------------------------------------------------------------------------------

def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        elif path.is_dir():
            fsync_dir(path)


def _write_merged(build_dir: Path, commit: Commit, first: int, last: int, name: str, config: BuildConfig,
                  root: Path) -> tuple[Path, dict[str, Any], list[_Source]]:
    """The merged segment, finished, at root/name (root: segments/ or the staging folder)."""
    began = time.perf_counter()
    timings: dict[str, float] = {}
    sources = _open_sources(build_dir, commit, first, last)
    if not any(s.live_articles.any() for s in sources):
        raise BuildError(f"segments {first}..{last} hold no live article: nothing to merge")
    root.mkdir(exist_ok=True)
    tmp = root / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        t = time.perf_counter()
        counts, missing = _write_store(tmp / STORE, sources)
        timings["store"] = time.perf_counter() - t
        t = time.perf_counter()
        bm25: BM25Index = merge_bm25([s.reader.bm25 for s in sources], [s.live_passages for s in sources])
        bm25.save(tmp / BM25_DIR)
        timings["bm25"] = time.perf_counter() - t
        if bm25.n_docs != counts["passages"]:
            raise IndexCorrupt(f"merged BM25 holds {bm25.n_docs} passages, the store {counts['passages']}")
        t = time.perf_counter()
        dense, dense_info = merge_dense([s.reader.dense for s in sources], [s.path / DENSE for s in sources],
                                        [s.live_passages for s in sources], config.dense, tmp / SPILL)
        if dense.ntotal != counts["passages"]:
            raise IndexCorrupt(f"merged FAISS index holds {dense.ntotal} vectors, the store {counts['passages']}")
        save_dense(dense, tmp / DENSE)
        del dense
        timings["faiss"] = time.perf_counter() - t
        t = time.perf_counter()
        dimension = int(sources[0].manifest["model"]["dimension"])
        sentences = _write_columns(tmp / COLUMNS, sources, dimension)
        timings["columns"] = time.perf_counter() - t
        t = time.perf_counter()
        quote_info = _write_quotes(tmp / QUOTES, sources, config)
        timings["quotes"] = time.perf_counter() - t
        if quote_info["quotes"] != counts["quotes"]:
            raise IndexCorrupt(f"merged quotation index holds {quote_info['quotes']}, the store {counts['quotes']}")
        head = sources[0].manifest
        params = bm25.params
        manifest = {
            "format_version": FORMAT_VERSION,
            "build_id": name,
            "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "model": head["model"],
            "analyzer": head.get("analyzer"),
            "chunking": head.get("chunking"),
            "bm25": {**asdict(params), **bm25.stats()},
            "dense": dense_info,
            "counts": {"articles": counts["articles"], "passages": counts["passages"], "sentences": sentences,
                       "quotes": counts["quotes"], "skipped": 0, "problems": 0},
            "quotes": quote_info,
            "missing_articles": missing.tolist(),  # purged from their store since the merge began
            "merged_from": [{"path": s.ref.path, "deleted": s.ref.deleted, "articles": int(s.live_articles.size),
                             "live_articles": int(s.live_articles.sum()), "passages": int(s.live_passages.size),
                             "live_passages": int(s.live_passages.sum())} for s in sources],
            "timings": {**{k: round(v, 3) for k, v in timings.items()},
                        "total": round(time.perf_counter() - began, 3)},
            "files": checksums(tmp),
        }
        _fsync_tree(tmp)
        with open(tmp / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        fsync_dir(tmp)
        final = root / name
        if final.exists():  # a leftover of a merge killed before it published: nothing names it
            shutil.rmtree(final)
        os.replace(tmp, final)
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        for s in sources:
            s.reader.close()
    return final, manifest, sources


def merge_segments(build_dir: Path, commit: Commit, first: int, last: int, generation: int,
                   config: BuildConfig) -> tuple[SegmentRef, dict[str, Any]]:
    """Write the live articles of commit's segments first..last (in order) as `segments/seg-<generation>-m`;
    returns its SegmentRef (nothing deleted) and manifest. Publishes nothing: see apply_merge."""
    build_dir = Path(build_dir)
    name = merged_name(generation)
    _refuse_named(build_dir, name)
    final, manifest, _ = _write_merged(build_dir, commit, first, last, name, config, build_dir / SEGMENTS)
    if manifest["missing_articles"]:  # only a delete committed meanwhile purges a store: apply_merge handles it
        shutil.rmtree(final, ignore_errors=True)
        raise IndexCorrupt(f"live articles missing from their store: rows {manifest['missing_articles'][:10]}")
    n = int(manifest["counts"]["articles"])
    return SegmentRef(f"{SEGMENTS}/{final.name}", None, n, n), manifest


def _refuse_named(build_dir: Path, name: str) -> None:
    """Never overwrite a segment the newest commit names (a leftover nothing names is replaced)."""
    head = read_commit(build_dir, 0)
    if any(Path(ref.path).name == name for ref in head.segments):
        raise BuildError(f"segment {name} is in the current commit already")


# -- publishing -----------------------------------------------------------------------------------------------

@contextmanager
def _merge_lock(build_dir: Path) -> Iterator[None]:
    with open(build_dir / MERGE_LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MergeBusy(f"another merge of {build_dir} is running") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def base_files(build_dir: Path) -> list[str]:
    """The base's index files as its manifest lists them (what a merge of the base retires)."""
    files = read_manifest(build_dir).get("files", {})
    return sorted(rel for rel in files if rel == STORE or rel == DENSE or rel.split("/", 1)[0] in BASE_FILES)


def release_base(build_dir: Path, keep: Sequence[Commit]) -> list[str]:
    """Remove the base's index files once no commit in `keep` names the base (it was merged away); returns what
    was removed. The writer calls it after collect_garbage, with the same `keep`."""
    if not keep or any(ref.path == BASE for c in keep for ref in c.segments):
        return []
    removed = []
    for name in BASE_FILES:
        path = build_dir / name
        for extra in (path.with_name(path.name + "-journal"), path.with_name(path.name + "-wal")):
            extra.unlink(missing_ok=True)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
        elif path.exists():
            path.unlink()
            removed.append(name)
    if removed:
        fsync_dir(build_dir)
    return removed


def _locate(current: Commit, merged: list[str]) -> int:
    """Where the merged segments sit, in order and adjacent, in the current commit."""
    paths = [ref.path for ref in current.segments]
    at = next((j for j in range(len(paths) - len(merged) + 1) if paths[j : j + len(merged)] == merged), None)
    if at is None:
        raise MergeConflict(f"segments {merged} are no longer adjacent in commit {current.generation}")
    return at


def _publish(build_dir: Path, commit: Commit, first: int, last: int, folder: Path, manifest: dict[str, Any],
             sources: Sequence[_Source]) -> tuple[Commit, Commit]:
    """The commit naming the merged segment in place of first..last, on top of the newest commit (deletes made
    meanwhile carried over). Returns (new commit, the commit it replaced)."""
    current = read_commit(build_dir, int(read_manifest(build_dir)["counts"]["articles"]))
    merged = [ref.path for ref in commit.segments[first : last + 1]]
    at = _locate(current, merged)
    generation = current.generation + 1
    late = []  # rows of the merged segment whose articles were deleted since the merge began
    for src, ref in zip(sources, current.segments[at : at + len(merged)]):
        if ref.deleted != src.ref.deleted:
            rows = np.setdiff1d(load_deleted(build_dir, ref), np.flatnonzero(~src.live_articles))
            late.append(src.new_article[rows])
    late_rows = np.unique(np.concatenate(late)).astype(np.int64) if late else np.zeros(0, dtype=np.int64)
    if late_rows.size and int(late_rows.min()) < 0:
        raise IndexCorrupt("a delete names an article row the merge did not see")
    purged = np.asarray(manifest.get("missing_articles", []), dtype=np.int64)
    if np.setdiff1d(purged, late_rows).size:
        raise IndexCorrupt(f"live articles missing from their store, not deleted: rows {purged.tolist()[:10]}")
    n = int(manifest["counts"]["articles"])
    rel = f"{SEGMENTS}/{folder.name}"
    mutable = set(current.mutable) - {_store_rel(ref) for ref in commit.segments[first : last + 1] if ref.path != BASE}
    extra = dict(current.extra)
    if any(ref.path == BASE for ref in commit.segments[first : last + 1]):
        retired = base_files(build_dir)  # no longer what the build manifest says: retired, removed by release_base
        mutable |= set(retired)
        extra[BASE_RETIRED] = retired  # extra survives the writer's commits; `mutable` keeps only live stores
    refs = list(current.segments[:at])
    if late_rows.size < n:
        deleted = None
        if late_rows.size:
            purge_articles(folder, late_rows.tolist())  # not yet named by any commit: purged before it is
            deleted = write_deleted(build_dir, folder.name, generation, late_rows.astype(np.int32))
            mutable.add(f"{rel}/{STORE}")
        refs.append(SegmentRef(rel, deleted, n, n - int(late_rows.size)))
    refs.extend(current.segments[at + len(merged) :])
    if not refs:
        raise MergeConflict("every merged article was deleted meanwhile and nothing else is live")
    new = Commit(generation, tuple(refs), current.journal_seq, None, tuple(sorted(mutable)), extra)
    return publish_commit(build_dir, new), current


def apply_merge(build_dir: Path, commit: Commit, first: int, last: int, config: BuildConfig,
                lock: Callable[[], AbstractContextManager[Any]] | None = None) -> Commit:
    """Merge segments first..last of `commit` and publish the commit that serves the merged segment instead.

    Without `lock` the caller holds the writer lock (or is the only writer) for the whole merge; with it, the
    segment is written outside it and published inside it (see the module docstring). Returns the new commit.
    """
    build_dir = Path(build_dir)
    with _merge_lock(build_dir):
        staging = build_dir / STAGING
        shutil.rmtree(staging, ignore_errors=True)  # leftovers of a killed merge: only a merge writes there
        head = read_commit(build_dir, 0)
        _locate(head, [ref.path for ref in commit.segments[first : last + 1]])  # gone already: MergeConflict
        name = merged_name(max(commit.generation, head.generation) + 1)  # the commit it hopes to publish
        if lock is None:
            _refuse_named(build_dir, name)
            folder, manifest, sources = _write_merged(build_dir, commit, first, last, name, config,
                                                      build_dir / SEGMENTS)
            return _finish(build_dir, commit, first, last, folder, manifest, sources)
        try:
            staged, manifest, sources = _write_merged(build_dir, commit, first, last, name, config, staging)
            with lock():
                _refuse_named(build_dir, name)
                folder = build_dir / SEGMENTS / name
                if folder.exists():
                    shutil.rmtree(folder)
                (build_dir / SEGMENTS).mkdir(exist_ok=True)
                os.replace(staged, folder)
                fsync_dir(folder.parent)
                return _finish(build_dir, commit, first, last, folder, manifest, sources)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _finish(build_dir: Path, commit: Commit, first: int, last: int, folder: Path, manifest: dict[str, Any],
            sources: Sequence[_Source]) -> Commit:
    try:
        new, replaced = _publish(build_dir, commit, first, last, folder, manifest, sources)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # never named by a commit
        raise
    collect_garbage(build_dir, [new, replaced])
    release_base(build_dir, [new, replaced])
    return new


# -- what the policy reads ------------------------------------------------------------------------------------

def segment_sizes(build_dir: Path, commit: Commit) -> tuple[list[int], list[float]]:
    """Live passages and deleted share of passages of each segment of the commit, for mergepolicy.plan_merges."""
    build_dir = Path(build_dir)
    build_manifest = read_manifest(build_dir)
    sizes, shares = [], []
    for ref in commit.segments:
        folder = segment_dir(build_dir, ref)
        manifest = build_manifest if ref.path == BASE else read_manifest(folder)
        passages = int(manifest["counts"]["passages"])
        dead = load_deleted(build_dir, ref)
        gone = 0
        if dead.size:
            owner = np.load(folder / COLUMNS / "passage_article.npy", mmap_mode="r", allow_pickle=False)
            gone = int(np.isin(np.asarray(owner), dead).sum())
        sizes.append(passages - gone)
        shares.append(gone / passages if passages else 0.0)
    return sizes, shares


def merge_all(build_dir: Path, config: BuildConfig, policy: Any = None,
              lock: Callable[[], AbstractContextManager[Any]] | None = None, max_merges: int = 100) -> list[Commit]:
    """Plan, merge, plan again until the policy is content (what a background merger runs after each commit);
    returns the commits published. Ranges of one plan are applied from the last, so the others' indexes hold."""
    from .mergepolicy import MergePolicy, plan_merges  # noqa: PLC0415 - the policy is optional to the merge itself

    policy = policy or MergePolicy()
    build_dir = Path(build_dir)
    articles = int(read_manifest(build_dir)["counts"]["articles"])
    done: list[Commit] = []
    while len(done) < max_merges:
        commit = read_commit(build_dir, articles)
        sizes, shares = segment_sizes(build_dir, commit)
        ranges = plan_merges(sizes, shares, policy, has_base=commit.segments[0].path == BASE)
        if not ranges:
            break
        first, last = ranges[-1]
        done.append(apply_merge(build_dir, commit, first, last, config, lock))
    return done
