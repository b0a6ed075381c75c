"""The living archive's writer: adds, replacements and deletes applied to the published build as one new commit.

One writer at a time across processes (the index's lock, shared with `indexer rebuild`); searches go on
meanwhile, since readers only ever open whole commits. An add whose id is live is a replacement when its
content changed (the old rows are deleted) and nothing when it did not. New articles become one new segment,
embedded with the build's own model. Deleted rows are masked by the commit, then their text is purged from their
segment's store; a segment left with no live article is dropped from the commit and its folder removed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from search.commit import BASE, DF_HISTOGRAMS, Commit, SegmentRef, load_deleted, read_commit, segment_dir
from search.embed import Embedder, load_index_embedder
from search.errors import BuildError
from search.journal import WriterLock
from search.layout import STORE, current_build, read_manifest
from search.models import Article
from search.store import Store

from .build import BuildConfig
from .commits import collect_garbage, publish_commit, write_deleted
from .dfstats import article_terms, as_extra, commit_histograms
from .merge import release_base
from .purge import purge_articles
from .segment import write_segment
from .sources.base import ParseError

COMPARED = ("title", "text", "date", "source", "url", "dateline")  # a refile that changes none of these is a no-op


@contextmanager
def writer_lock(index_dir: Path, timeout: float = 120.0) -> Iterator[None]:
    """The index's one-writer lock (the rebuild's too), waited for up to `timeout` seconds; WriterBusy after."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with WriterLock(index_dir, timeout=timeout):
        yield


@dataclass
class WriteReport:
    """What one commit did."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # deletes of ids that are not live
    generation: int = 0
    segments: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    embedder: Any = field(default=None, repr=False)  # the model the commit loaded, for the next one
    problems: list[str] = field(default_factory=list)  # journaled adds that could not be read

    def to_json(self) -> dict[str, Any]:
        return {"added": len(self.added), "replaced": len(self.replaced), "unchanged": len(self.unchanged),
                "deleted": len(self.deleted), "missing": self.missing[:100], "generation": self.generation,
                "segments": self.segments, "seconds": round(self.seconds, 3),
                "timings": {k: round(v, 3) for k, v in self.timings.items()}}


def _same(old: Article, new: Article) -> bool:
    return all(getattr(old, f, None) == getattr(new, f, None) for f in COMPARED)


class ArchiveWriter:
    """Applies writes to the index's current build; use inside `writer_lock` (the CLI and the API do)."""

    def __init__(self, index_dir: Path, config: BuildConfig | None = None, embedder: Embedder | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.build_dir = current_build(self.index_dir)
        self.manifest = read_manifest(self.build_dir)
        self.config = config or BuildConfig(index_dir=self.index_dir, progress=False)
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:  # the build's shipped model: new vectors comparable with the old
            self._embedder = load_index_embedder(self.build_dir, self.manifest.get("model", {}), None,
                                                 self.config.embed_threads)
        return self._embedder

    def commit(self) -> Commit:
        return read_commit(self.build_dir, int(self.manifest["counts"]["articles"]))

    def _locate(self, commit: Commit, ids: Iterable[str]) -> dict[str, tuple[int, int]]:
        """Live ids -> (segment index in the commit, article row in the segment)."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, tuple[int, int]] = {}
        for s in range(len(commit.segments) - 1, -1, -1):
            ref = commit.segments[s]
            dead = set(load_deleted(self.build_dir, ref).tolist())
            store = Store(segment_dir(self.build_dir, ref) / STORE)
            try:
                for article_id in wanted:
                    if article_id in found:
                        continue
                    row = store.article_row(article_id)
                    if row is not None and row not in dead:
                        found[article_id] = (s, row)
            finally:
                store.close()
        return found

    def _stored(self, commit: Commit, where: tuple[int, int], article_id: str) -> Article | None:
        store = Store(segment_dir(self.build_dir, commit.segments[where[0]]) / STORE)
        try:
            return store.article(article_id)
        finally:
            store.close()

    def _terms_of(self, commit: Commit, where: dict[str, tuple[int, int]], ids: Iterable[str]) -> set[str]:
        """Every analyzer token of some live articles (headline, passages, quotations), read before their purge."""
        texts: list[str] = []
        by_segment: dict[int, list[str]] = {}
        for article_id in ids:
            by_segment.setdefault(where[article_id][0], []).append(article_id)
        for s, found in by_segment.items():
            store = Store(segment_dir(self.build_dir, commit.segments[s]) / STORE)
            try:
                for article_id in found:
                    article = store.article(article_id)
                    texts.append(article.headline if article else "")
                    texts.extend(p.text for p in store.article_passages(article_id))
                    texts.extend(q.text for q in store.article_quotations(article_id))
            finally:
                store.close()
        return article_terms(texts)

    def apply(self, adds: Sequence[Article] = (), deletes: Sequence[str] = (), journal_seq: int | None = None,
              ) -> WriteReport:
        """One commit of these writes (adds: last wins per id; a delete after an add of the same id in one call
        deletes it). Returns what happened; raises before publishing anything on failure."""
        began = time.perf_counter()
        report = WriteReport()
        commit = self.commit()
        latest: dict[str, Article] = {}
        for article in adds:
            latest[article.id] = article
        for article_id in deletes:
            latest.pop(article_id, None)
        where = self._locate(commit, [*latest, *deletes])
        kill: dict[int, set[int]] = {}
        fresh: list[Article] = []
        for article_id, article in latest.items():
            at = where.get(article_id)
            if at is not None:
                old = self._stored(commit, at, article_id)
                if old is not None and _same(old, article):
                    report.unchanged.append(article_id)
                    continue
                kill.setdefault(at[0], set()).add(at[1])
                report.replaced.append(article_id)
            else:
                report.added.append(article_id)
            fresh.append(article)
        for article_id in dict.fromkeys(deletes):
            at = where.get(article_id)
            if at is None:
                report.missing.append(article_id)
                continue
            kill.setdefault(at[0], set()).add(at[1])
            report.deleted.append(article_id)
        if not fresh and not kill:
            if journal_seq is not None and journal_seq > commit.journal_seq:  # the journal may drop them now
                commit = publish_commit(self.build_dir, replace(commit, generation=commit.generation + 1,
                                                                journal_seq=journal_seq))
            report.generation, report.segments = commit.generation, len(commit.segments)
            report.seconds = time.perf_counter() - began
            return report
        generation = commit.generation + 1
        refs: list[SegmentRef] = []
        mutable = set(commit.mutable)
        t = time.perf_counter()
        for s, ref in enumerate(commit.segments):
            if s not in kill:
                refs.append(ref)
                continue
            dead = np.union1d(load_deleted(self.build_dir, ref), np.fromiter(kill[s], dtype=np.int32))
            live = ref.articles - int(dead.size)
            if live <= 0 and ref.path != BASE:
                continue  # nothing live: out of the commit, its folder removed by a later collection
            rel = write_deleted(self.build_dir, ref.name, generation, dead)
            refs.append(replace(ref, deleted=rel, live_articles=live))
            mutable.add(f"{ref.path}/{STORE}" if ref.path != BASE else STORE)
        report.timings["deletes"] = time.perf_counter() - t
        if fresh:
            t = time.perf_counter()
            rel, seg_manifest = write_segment(self.build_dir, f"seg-{generation:08d}", fresh, self.embedder,
                                              self.config, self.index_dir)
            n = int(seg_manifest["counts"]["articles"])
            refs.append(SegmentRef(rel, None, n, n))
            report.timings["segment"] = time.perf_counter() - t
        if not refs:  # every article deleted: the base stays, masked whole
            raise BuildError("cannot delete every article of the archive; rebuild instead")
        kept = {f"{r.path}/{STORE}" if r.path != BASE else STORE for r in refs}
        new = Commit(generation, tuple(refs), commit.journal_seq if journal_seq is None else journal_seq,
                     None, tuple(sorted(mutable & kept)), commit.extra)
        t = time.perf_counter()  # the live df histograms, once here rather than in every server on reload
        changed = self._terms_of(commit, where, [*report.replaced, *report.deleted])
        histograms = commit_histograms(self.build_dir, commit, new, changed)
        new = replace(new, extra={**commit.extra, DF_HISTOGRAMS: as_extra(histograms)})
        report.timings["histograms"] = time.perf_counter() - t
        t = time.perf_counter()
        new = publish_commit(self.build_dir, new)
        report.timings["commit"] = time.perf_counter() - t
        t = time.perf_counter()
        for s, rows in kill.items():  # the text goes once the commit no longer serves it
            purge_articles(segment_dir(self.build_dir, commit.segments[s]), sorted(rows))
        collect_garbage(self.build_dir, [new, commit])
        release_base(self.build_dir, [new, commit])  # a base merged away: its files (and deleted text) go
        report.timings["purge"] = time.perf_counter() - t
        report.generation, report.segments = new.generation, len(new.segments)
        report.seconds = time.perf_counter() - began
        return report


def article_record(article: Article) -> dict[str, Any]:
    """An article as the journal keeps it: the parsed fields, JSON-ready (replayed without parsing again)."""
    return {"id": article.id, "title": article.title, "text": article.text, "date": article.date,
            "source": article.source, "url": article.url, "agencies": list(article.agencies),
            "headings": [[h.start, h.end, h.text] for h in article.headings], "origin": article.origin,
            "dateline": article.dateline}


def record_article(data: dict[str, Any]) -> Article:
    """The article of a journal record: parsed fields (the CLI's), or `raw`, an object as the ingest API received
    it, read by the JSONL rules (ParseError when it has no text)."""
    from search.models import Heading

    from .sources.jsonl import parse_record

    if "raw" in data:
        return parse_record(dict(data["raw"]), f"api:{data['id']}")[0]

    return Article(str(data["id"]), str(data["title"]), str(data["text"]), data.get("date"), data.get("source"),
                   data.get("url"), tuple(data.get("agencies") or ()),
                   tuple(Heading(int(a), int(b), str(t)) for a, b, t in data.get("headings") or ()),
                   str(data.get("origin") or ""), data.get("dateline"))


def apply_journaled(index_dir: Path, adds: Sequence[Article] = (), deletes: Sequence[str] = (),
                    config: BuildConfig | None = None, lock_timeout: float = 120.0,
                    embedder: Embedder | None = None) -> WriteReport:
    """The CLI's write: under the writer lock, the writes go to the journal (fsynced), then into one commit that
    records the journal position, then the journal drops them. A crash at any point loses nothing: the next
    writer replays what the last commit does not hold."""
    from search.journal import Add, Delete, Journal, JournalLock

    index_dir = Path(index_dir)
    with writer_lock(index_dir, lock_timeout):
        writer = ArchiveWriter(index_dir, config)
        if embedder is not None and embedder.fingerprint == writer.manifest.get("model", {}).get("fingerprint"):
            writer._embedder = embedder  # a follower keeps its model loaded between commits
        commit = writer.commit()
        records = [Add(article_record(a)) for a in adds] + [Delete(i) for i in deletes]
        with JournalLock(index_dir, timeout=lock_timeout):  # the journal only: ingest requests append meanwhile
            with Journal(index_dir, committed_seq=commit.journal_seq) as journal:
                # writes acknowledged but not committed (a killed writer's, the ingest API's); a rebuild starts its
                # commits at journal position 0, after records the previous build's commits held and dropped
                pending = list(journal.replay(max(commit.journal_seq, journal.last_seq - journal.pending())))
                seqs = journal.append(records) if records else []
        upto = max([commit.journal_seq, *seqs, *(s for s, _ in pending)])
        report = WriteReport()
        final: dict[str, Article | None] = {}  # each id's last write wins, in journal order
        for _, record in [*pending, *zip(seqs, records)]:
            if isinstance(record, Add):
                try:
                    article = record_article(record.article)
                except ParseError as exc:  # validated by the API, so rare: logged by the follower, dropped
                    report.problems.append(f"{record.article_id}: {exc}")
                    continue
                final.pop(article.id, None)
                final[article.id] = article
            else:
                final.pop(record.article_id, None)
                final[record.article_id] = None
        problems = report.problems
        report = writer.apply([a for a in final.values() if a is not None],
                              [i for i, a in final.items() if a is None], journal_seq=upto)
        report.problems = problems
        with JournalLock(index_dir, timeout=lock_timeout):
            with Journal(index_dir, committed_seq=upto):  # opening at the new commit's position drops what it holds
                pass
        report.embedder = writer._embedder
        return report


def merge_in_background(index_dir: Path) -> int | None:
    """Start `indexer merge` as a detached process when the merge policy has work, so the writer that just
    committed returns at once; its pid, or None when nothing is to merge. One merge runs at a time per build."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from .merge import segment_sizes  # noqa: PLC0415
    from .mergepolicy import MergePolicy, plan_merges  # noqa: PLC0415

    build = current_build(Path(index_dir))
    commit = read_commit(build, int(read_manifest(build)["counts"]["articles"]))
    sizes, shares = segment_sizes(build, commit)
    if not plan_merges(sizes, shares, MergePolicy(), has_base=commit.segments[0].path == BASE):
        return None
    child = subprocess.Popen([sys.executable, "-m", "indexer", "merge", "--index", str(index_dir), "--quiet"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    return child.pid
