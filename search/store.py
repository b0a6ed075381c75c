"""SQLite store of articles and passages: passage row i is BM25 document i and FAISS vector i."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import IndexCorrupt
from .models import Article, Heading, Passage, Quotation

SCHEMA = """
CREATE TABLE articles (
    row INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    date TEXT,
    day TEXT,
    source TEXT,
    url TEXT,
    agencies TEXT NOT NULL,
    headings TEXT NOT NULL,
    origin TEXT NOT NULL,
    dateline TEXT
);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY,
    article_row INTEGER NOT NULL REFERENCES articles(row),
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    heading TEXT,
    text TEXT NOT NULL
);
CREATE TABLE quotes (
    row INTEGER PRIMARY KEY,
    article_row INTEGER NOT NULL REFERENCES articles(row),
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    parts TEXT NOT NULL,
    speaker TEXT,
    role TEXT,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    speaker_kind TEXT
);
CREATE INDEX articles_day ON articles(day);
CREATE INDEX quotes_article ON quotes(article_row, start);
CREATE INDEX articles_source ON articles(source);
CREATE INDEX passages_article ON passages(article_row, ordinal);
"""


class StoreWriter:
    """A new store filled article by article, so a rebuild never holds the corpus; close() makes it whole."""

    def __init__(self, path: Path) -> None:
        if path.exists():
            raise FileExistsError(path)
        self._con = sqlite3.connect(path)
        self._con.executescript(SCHEMA)
        self.articles = 0
        self.passages = 0
        self.quotes = 0

    def add(self, article: Article, passages: Sequence[Passage], quotes: Sequence[Quotation] = ()) -> None:
        """The next article row, its passages and its quotations, which take the next passage and quote rows."""
        a = article
        self._con.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                self.articles, a.id, a.title, a.text, a.date, a.date[:10] if a.date else None, a.source, a.url,
                json.dumps(list(a.agencies)), json.dumps([[h.start, h.end, h.text] for h in a.headings]), a.origin,
                a.dateline,
            ),
        )
        self._con.executemany(
            "INSERT INTO passages VALUES (?,?,?,?,?,?,?)",
            ((self.passages + i, self.articles, p.ordinal, p.start, p.end, p.heading, p.text)
             for i, p in enumerate(passages)),
        )
        self._con.executemany(
            "INSERT INTO quotes VALUES (?,?,?,?,?,?,?,?,?,?)",
            ((self.quotes + i, self.articles, q.start, q.end, json.dumps([list(p) for p in q.parts]), q.speaker,
              q.role, q.kind, q.text, q.speaker_kind) for i, q in enumerate(quotes)),
        )
        self.articles += 1
        self.passages += len(passages)
        self.quotes += len(quotes)

    def close(self) -> None:
        """Commit everything in one transaction and leave no journal beside the file."""
        try:
            self._con.commit()
            self._con.execute("PRAGMA journal_mode=DELETE")
        finally:
            self._con.close()

    def abort(self) -> None:
        """Drop what was written (the caller removes the file with its temporary build)."""
        self._con.close()


def write_store(path: Path, articles: Sequence[Article], passages: Iterable[Passage],
                quotes: Iterable[Quotation] = ()) -> None:
    """Write a new store file; passages come in row order, article by article, as the other indexes have them."""
    by_article: dict[str, list[Passage]] = {a.id: [] for a in articles}
    order = {a.id: i for i, a in enumerate(articles)}
    last = 0
    for p in passages:
        if order.get(p.article_id, -1) < last:
            raise ValueError(f"passage {p.article_id}#{p.ordinal} is out of article order or of no article")
        last = order[p.article_id]
        by_article[p.article_id].append(p)
    quotes_of: dict[str, list[Quotation]] = {a.id: [] for a in articles}
    for q in quotes:
        quotes_of[q.article_id].append(q)
    writer = StoreWriter(path)
    try:
        for article in articles:
            writer.add(article, by_article[article.id], quotes_of[article.id])
    except BaseException:
        writer.abort()
        raise
    writer.close()


def _quotation(row: sqlite3.Row, article_id: str) -> Quotation:
    return Quotation(
        article_id=article_id, start=row["start"], end=row["end"],
        parts=tuple((a, b) for a, b in json.loads(row["parts"])), text=row["text"], speaker=row["speaker"],
        role=row["role"], kind=row["kind"], speaker_kind=row["speaker_kind"],
    )


def _article(row: sqlite3.Row) -> Article:
    return Article(
        id=row["id"], title=row["title"], text=row["text"], date=row["date"], source=row["source"],
        url=row["url"], agencies=tuple(json.loads(row["agencies"])),
        headings=tuple(Heading(a, b, t) for a, b, t in json.loads(row["headings"])), origin=row["origin"],
        dateline=row["dateline"],
    )


class Store:
    """Read-only access to a published store; one connection per thread (SQLite's rule)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise IndexCorrupt(f"{path} is missing")
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @property
    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            # read-only, not immutable: a delete purges rows of a live segment's store in place (a living archive)
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, timeout=30)
            con.row_factory = sqlite3.Row
            self._local.con = con
            with self._lock:
                self._all.append(con)
        return con

    def close(self) -> None:
        with self._lock:
            for con in self._all:
                con.close()
            self._all.clear()
        self._local = threading.local()

    def counts(self) -> dict[str, int]:
        """How many articles and passages the store holds."""
        articles = self._con.execute("SELECT count(*) FROM articles").fetchone()[0]
        passages = self._con.execute("SELECT count(*) FROM passages").fetchone()[0]
        quotes = self._con.execute("SELECT count(*) FROM quotes").fetchone()[0]
        return {"articles": articles, "passages": passages, "quotes": quotes}

    def article(self, article_id: str) -> Article | None:
        """One article by its id, or None."""
        row = self._con.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        return _article(row) if row else None

    def articles(self) -> list[Article]:
        """Every article in row order (small corpora, tests and stats)."""
        return [_article(r) for r in self._con.execute("SELECT * FROM articles ORDER BY row")]

    def article_row(self, article_id: str) -> int | None:
        """The row of an article by id, or None."""
        row = self._con.execute("SELECT row FROM articles WHERE id = ?", (article_id,)).fetchone()
        return None if row is None else int(row[0])

    def articles_at(self, rows: Sequence[int]) -> dict[int, Article]:
        """Articles by row, for the hits of one page."""
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        query = f"SELECT * FROM articles WHERE row IN ({marks})"
        return {r["row"]: _article(r) for r in self._con.execute(query, [int(x) for x in rows])}

    def passages(self, rows: Sequence[int]) -> list[Passage]:
        """Passages by row, in the order asked."""
        found = self.passages_at(rows)
        return [found[int(r)] for r in rows if int(r) in found]

    def passages_at(self, rows: Sequence[int]) -> dict[int, Passage]:
        """Passages by row (a row purged since is missing)."""
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        return {
            r["row"]: Passage(r["id"], r["ordinal"], r["start"], r["end"], r["text"], r["heading"])
            for r in self._con.execute(
                f'SELECT p.row, a.id, p.ordinal, p.start, p."end", p.text, p.heading '
                f"FROM passages p JOIN articles a ON a.row = p.article_row WHERE p.row IN ({marks})",
                [int(r) for r in rows],
            )
        }

    def article_passages(self, article_id: str) -> list[Passage]:
        """All passages of one article in reading order."""
        return [
            Passage(article_id, r["ordinal"], r["start"], r["end"], r["text"], r["heading"])
            for r in self._con.execute(
                'SELECT p.ordinal, p.start, p."end", p.text, p.heading FROM passages p '
                "JOIN articles a ON a.row = p.article_row WHERE a.id = ? ORDER BY p.ordinal",
                (article_id,),
            )
        ]

    def quotations(self, rows: Sequence[int]) -> list[Quotation]:
        """Quotations by row, in the order asked."""
        found = self.quotations_at(rows)
        return [found[int(r)] for r in rows if int(r) in found]

    def quotations_at(self, rows: Sequence[int]) -> dict[int, Quotation]:
        """Quotations by row (a row purged since is missing)."""
        if not rows:
            return {}
        marks = ",".join("?" * len(rows))
        return {
            r["row"]: _quotation(r, r["id"])
            for r in self._con.execute(
                f'SELECT q.*, a.id FROM quotes q JOIN articles a ON a.row = q.article_row WHERE q.row IN ({marks})',
                [int(r) for r in rows],
            )
        }

    def article_quotations(self, article_id: str) -> list[Quotation]:
        """Every quotation of one article (terms included, marked so), in reading order."""
        return [
            _quotation(r, article_id)
            for r in self._con.execute(
                "SELECT q.* FROM quotes q JOIN articles a ON a.row = q.article_row WHERE a.id = ? ORDER BY q.start",
                (article_id,),
            )
        ]
