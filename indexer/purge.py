"""Purging deleted articles' text from a segment's store in place: a takedown leaves no copy behind.

SQLite keeps deleted rows' bytes in free pages unless `secure_delete` is on; with it on, the pages are zeroed, and
the rollback journal that held the old pages is removed when the transaction ends (journal_mode DELETE), so
after `purge_articles` returns no file under the index holds the article's title or text (tested by grepping).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from search.layout import STORE


def purge_articles(segment_dir: Path, article_rows: Sequence[int]) -> int:
    """Delete the articles' rows, their passages and quotations from the segment's store; returns rows removed."""
    rows = sorted({int(r) for r in article_rows})
    if not rows:
        return 0
    con = sqlite3.connect(segment_dir / STORE, timeout=60, isolation_level=None)
    try:
        con.execute("PRAGMA secure_delete=ON")
        con.execute("PRAGMA journal_mode=DELETE")
        con.execute("BEGIN IMMEDIATE")
        removed = 0
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            marks = ",".join("?" * len(chunk))
            con.execute(f"DELETE FROM passages WHERE article_row IN ({marks})", chunk)
            con.execute(f"DELETE FROM quotes WHERE article_row IN ({marks})", chunk)
            removed += con.execute(f"DELETE FROM articles WHERE row IN ({marks})", chunk).rowcount
        con.execute("COMMIT")
        return removed
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()
