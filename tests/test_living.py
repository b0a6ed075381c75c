"""The living archive: adds, replacements and deletes as commits, equal to a rebuild of what is live."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import reuters_stories, write_jsonl
from indexer.build import BuildConfig, build_index
from indexer.cli import main
from indexer.living import ArchiveWriter, apply_journaled, writer_lock
from indexer.sources import read_articles
from search.engine import SearchEngine
from search.models import SearchRequest

QUESTIONS = ["oil prices", "What did the central bank say about interest rates?", "wheat exports",
             "coffee quotas", "company profit rose", "Brazil debt"]
PLANTED = "The quartermaster of Vetluga counted eleven amber walruses on the pier"
PLANTED_TITLE = "Amber walruses seen at Vetluga pier"


def _articles(tmp_path: Path, stories: list[dict], name: str) -> list:
    path = write_jsonl(tmp_path / f"{name}.jsonl", stories)
    return [a for a in read_articles([path]) if not hasattr(a, "reason")]


@pytest.fixture(scope="module")
def stories() -> list[dict]:
    return reuters_stories(60)


def _write(index: Path, embedder, adds=(), deletes=()):
    with writer_lock(index):
        return ArchiveWriter(index, BuildConfig(index_dir=index, progress=False), embedder).apply(adds, deletes)


def _top(engine: SearchEngine, mode: str, q: str, **kw) -> list[tuple[str, int]]:
    hits = engine.search(SearchRequest(q=q, mode=mode, k=10, **kw)).hits
    return [(h.article_id, h.passage.ordinal) for h in hits]


@pytest.mark.slow
def test_grown_in_place_equals_a_rebuild_of_what_is_live(tmp_path: Path, stories: list[dict], embedder) -> None:
    index = tmp_path / "living"
    base, more, later = stories[:30], stories[30:45], stories[45:60]
    build_index(BuildConfig(sources=(write_jsonl(tmp_path / "base.jsonl", base),), index_dir=index,
                            progress=False), embedder=embedder)
    report = _write(index, embedder, adds=_articles(tmp_path, more, "more"))
    assert len(report.added) == 15 and report.segments == 2
    changed = [dict(s, body=s["body"] + "\nThe figures were revised on Friday.") for s in stories[40:43]]
    report = _write(index, embedder, adds=_articles(tmp_path, later + changed, "later"))
    assert len(report.added) == 15 and len(report.replaced) == 3 and report.segments == 3
    gone = [str(s["id"]) for s in stories[5:9]]
    report = _write(index, embedder, deletes=[*gone, "no-such-id"])
    assert report.deleted == gone and report.missing == ["no-such-id"]
    again = _write(index, embedder, adds=_articles(tmp_path, stories[50:52], "again"))
    assert len(again.unchanged) == 2 and not again.added and not again.replaced

    # the same live articles in the same order (segment by segment), rebuilt in one piece
    live_ids = [str(s["id"]) for s in base if str(s["id"]) not in gone] + \
        [str(s["id"]) for s in more if s not in stories[40:43]] + [str(s["id"]) for s in later] + \
        [str(s["id"]) for s in stories[40:43]]
    by_id = {str(s["id"]): s for s in stories} | {str(s["id"]): s for s in changed}
    rebuilt = tmp_path / "rebuilt"
    build_index(BuildConfig(sources=(write_jsonl(tmp_path / "live.jsonl", [by_id[i] for i in live_ids]),),
                            index_dir=rebuilt, progress=False), embedder=embedder)
    grown, fresh = SearchEngine.open(index, embedder=embedder), SearchEngine.open(rebuilt, embedder=embedder)
    assert grown.summary()["articles"] == fresh.summary()["articles"] == len(live_ids)
    assert grown.summary()["passages"] == fresh.summary()["passages"]
    for q in QUESTIONS:
        for mode in ("bm25", "dense", "hybrid"):
            assert _top(grown, mode, q) == _top(fresh, mode, q), (q, mode)
        assert _top(grown, "hybrid", q, fusion="rrf") == _top(fresh, "hybrid", q, fusion="rrf"), q
        a = grown.search(SearchRequest(q=q, mode="bm25", k=10)).hits
        b = fresh.search(SearchRequest(q=q, mode="bm25", k=10)).hits
        assert [h.scores.bm25 for h in a] == pytest.approx([h.scores.bm25 for h in b], abs=1e-9)
        ga, fa = grown.search(SearchRequest(q=q)), fresh.search(SearchRequest(q=q))
        assert (ga.total, ga.facets.sources) == (fa.total, fa.facets.sources), q
    for article_id in gone:
        assert grown.article(article_id) is None
    revised = grown.article(str(stories[41]["id"]))
    assert revised is not None and revised.text.endswith("The figures were revised on Friday.")


@pytest.mark.slow
def test_a_takedown_leaves_no_copy_of_the_text(tmp_path: Path, stories: list[dict], embedder) -> None:
    index = tmp_path / "index"
    build_index(BuildConfig(sources=(write_jsonl(tmp_path / "base.jsonl", stories[:10]),), index_dir=index,
                            progress=False), embedder=embedder)
    planted = {"id": "planted-1", "title": PLANTED_TITLE, "date": "2026-12-01", "source": "Testwire",
               "body": f'{PLANTED}.\n\n"We have never counted so many," said Olga Petrova, the harbour master.'}
    # one planted article in the base's own segment too: its rows are purged in place, not only dropped
    apply_journaled(index, adds=_articles(tmp_path, [planted], "planted"),
                    config=BuildConfig(index_dir=index, progress=False))
    engine = SearchEngine.open(index, embedder=embedder)
    assert engine.search(SearchRequest(q="amber walruses Vetluga")).hits[0].article_id == "planted-1"
    assert ("Olga Petrova", 1) in engine.speakers("")
    apply_journaled(index, deletes=["planted-1", str(stories[3]["id"])],
                    config=BuildConfig(index_dir=index, progress=False))
    engine = SearchEngine.open(index, embedder=embedder)
    assert engine.search(SearchRequest(q="amber walruses Vetluga")).hits == ()
    assert engine.article("planted-1") is None and engine.article_quotations("planted-1") == []
    assert "Olga Petrova" not in dict(engine.speakers(""))
    assert engine.search(SearchRequest(q="Olga Petrova harbour master", type="quotes")).hits == ()
    for path in index.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in (PLANTED, PLANTED_TITLE, "Olga Petrova, the harbour master"):
                assert needle.encode() not in data, (needle, path)
    base_title = stories[3].get("title") or ""
    if len(base_title) > 20:
        assert not any(base_title.encode() in p.read_bytes() for p in (index / "builds").rglob("store.sqlite"))


@pytest.mark.slow
def test_cli_add_delete_and_stats(tmp_path: Path, stories: list[dict], embedder) -> None:
    index = tmp_path / "index"
    build_index(BuildConfig(sources=(write_jsonl(tmp_path / "base.jsonl", stories[:5]),), index_dir=index,
                            progress=False), embedder=embedder)
    runner = CliRunner()
    lines = "\n".join(json.dumps(s) for s in stories[5:8]) + "\n{not json\n"
    out = runner.invoke(main, ["add", "--index", str(index), "--source", "-", "--json"], input=lines)
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["added"] == 3 and report["problems"][0]["origin"] == "<stdin>:4"
    ids = tmp_path / "ids.txt"
    ids.write_text(f"{stories[0]['id']}\n{stories[6]['id']}\n", encoding="utf-8")
    out = runner.invoke(main, ["delete", "--index", str(index), "--ids-file", str(ids), "--json"])
    assert out.exit_code == 0 and json.loads(out.stdout)["deleted"] == 2
    out = runner.invoke(main, ["stats", "--index", str(index), "--json"])
    assert out.exit_code == 0, (out.output, out.exception)
    stats = json.loads(out.stdout)
    assert stats["articles"] == 6 and stats["deleted_articles"] == 2 and stats["segments"] == 2
    assert stats["generation"] == 2 and stats["journal_pending"] == 0 and stats["committed_at"]
    assert stats["deleted_passages"] >= 1
    text = runner.invoke(main, ["stats", "--index", str(index)]).stdout
    # a rebuild starts over at commit 0 with the journal's numbers higher: adds still work after it
    build_index(BuildConfig(sources=(write_jsonl(tmp_path / "base.jsonl", stories[:5]),), index_dir=index,
                            progress=False), embedder=embedder)
    out = runner.invoke(main, ["add", "--index", str(index), "--source", "-", "--json"], input=json.dumps(stories[9]))
    assert out.exit_code == 0 and json.loads(out.stdout)["added"] == 1, out.output
    assert "segments" in text and "deleted" in text
    assert runner.invoke(main, ["delete", "--index", str(index)]).exit_code == 3
    empty = runner.invoke(main, ["add", "--index", str(index), "--source", "-"], input="{}\n")
    assert empty.exit_code == 3 and "no articles" in empty.stderr


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    from search.journal import WriterBusy

    with writer_lock(tmp_path):
        began = time.monotonic()
        with pytest.raises(WriterBusy, match="another process"):
            with writer_lock(tmp_path, timeout=0.2):
                pass
        assert time.monotonic() - began >= 0.2


@pytest.mark.slow
def test_delete_expunge_leaves_not_even_a_rare_word(tmp_path: Path, stories: list[dict], embedder) -> None:
    index = tmp_path / "index"
    build_index(BuildConfig(sources=(write_jsonl(tmp_path / "base.jsonl", stories[:6]),), index_dir=index,
                            progress=False), embedder=embedder)
    planted = {"id": "planted-2", "title": PLANTED_TITLE, "body": PLANTED + "."}
    runner = CliRunner()
    assert runner.invoke(main, ["add", "--index", str(index), "--source", "-"], input=json.dumps(planted)).exit_code == 0
    assert runner.invoke(main, ["add", "--index", str(index), "--source", "-"],
                         input=json.dumps(stories[7])).exit_code == 0
    out = runner.invoke(main, ["delete", "--index", str(index), "--id", "planted-2", "--id", str(stories[1]["id"]),
                               "--expunge", "--json"])
    assert out.exit_code == 0, out.output
    for path in index.rglob("*"):
        if path.is_file() and "cache" not in path.parts:
            assert b"vetluga" not in path.read_bytes().lower(), path  # the rare word, stemmed or not
    engine = SearchEngine.open(index, embedder=embedder)
    assert engine.summary()["deleted_articles"] == 0 and engine.summary()["articles"] == 6
    assert engine.search(SearchRequest(q="amber walruses Vetluga", mode="bm25")).hits == ()
