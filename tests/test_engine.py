"""The engine over real indexes with the real model: questions, modes, filters, paging, quotes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from conftest import write_jsonl
from indexer.build import BuildConfig, build_index
from search.engine import SearchEngine
from search.errors import BadQuery, IndexMismatch
from search.models import SearchRequest

PUTIN_QUOTE = "We are convinced that in the end the Syrian people will be victorious"


@pytest.fixture(scope="module")
def seeds(seeds_index: Path, embedder) -> SearchEngine:
    return SearchEngine.open(seeds_index, embedder=embedder)


@pytest.fixture(scope="module")
def wire(tmp_path_factory, embedder) -> SearchEngine:
    """60 short dated stories from three outlets, all about harbour strikes, plus 10 about cocoa."""
    root = tmp_path_factory.mktemp("wire")
    records = []
    for i in range(60):
        day = dt.date(2020, 1, 1) + dt.timedelta(days=7 * i)
        records.append({
            "id": f"s{i}", "title": f"Dock workers strike at harbour {i}",
            "text": f"Dock workers at harbour number {i} walked out on Monday over pay. "
                    f"The union said the strike at the port would last {i % 5 + 1} days.",
            "date": day.isoformat(), "source": ["Reuters", "AP", "AFP"][i % 3],
        })
    for i in range(10):
        records.append({"id": f"c{i}", "title": "Cocoa harvest", "date": "2021-06-01", "source": "Reuters",
                        "text": f"Cocoa farmers in region {i} expect a smaller harvest after dry weather."})
    corpus = write_jsonl(root / "wire.jsonl", records)
    build_index(BuildConfig(sources=(corpus,), index_dir=root / "index", progress=False), embedder=embedder)
    return SearchEngine.open(root / "index", embedder=embedder)


def test_putin_question_finds_the_2015_article_and_its_quote(seeds: SearchEngine) -> None:
    result = seeds.search(SearchRequest("What did Putin say about the Syrian people?"))
    top = result.hits[0]
    assert top.title == "Russia pledges to support Syrian government"
    assert PUTIN_QUOTE in top.quote.text
    assert (top.source, top.date, top.url) == ("DW", "2015-06-29", "https://p.dw.com/p/1FozI")
    article = seeds.article(top.article_id)
    assert article.text[top.quote.start : top.quote.end] == top.quote.text
    assert article.text[top.passage.start : top.passage.end] == top.passage.text
    assert top.passage.start <= top.quote.start < top.quote.end <= top.passage.end
    lexical = [article.text[s.start : s.end] for s in top.highlights if s.kind == "lexical"]
    assert "Syrian" in lexical and "people" in lexical and "Putin" in lexical
    semantic = [s for s in top.highlights if s.kind == "semantic"]
    assert [(s.start, s.end) for s in semantic] == [(top.quote.start, top.quote.end)]
    assert top.scores.bm25 is not None and top.scores.dense is not None and top.scores.fused == top.score


def test_anniversary_question_finds_the_2023_article(seeds: SearchEngine) -> None:
    result = seeds.search(SearchRequest("Assad's visit to Moscow on the anniversary of the uprising"))
    assert result.hits[0].title == "Putin and Assad hold talks on anniversary of Syria uprising"
    assert result.hits[0].date == "2023-03-15"


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_every_mode_answers(seeds: SearchEngine, mode: str) -> None:
    result = seeds.search(SearchRequest("Assad visit Moscow anniversary", mode=mode))
    assert result.mode == mode and result.hits
    assert result.hits[0].title.startswith("Putin and Assad")
    scores = result.hits[0].scores
    assert (scores.bm25 is None) == (mode == "dense") and (scores.dense is None) == (mode == "bm25")


def test_linear_fusion_and_alpha(seeds: SearchEngine) -> None:
    dense_only = seeds.search(SearchRequest("What did Putin promise Assad?", fusion="linear", alpha=1.0))
    dense_mode = seeds.search(SearchRequest("What did Putin promise Assad?", mode="dense"))
    assert [h.article_id for h in dense_only.hits] == [h.article_id for h in dense_mode.hits]


def test_date_filter_drops_the_2015_article(seeds: SearchEngine) -> None:
    result = seeds.search(SearchRequest("What did Putin say about the Syrian people?", date_from=dt.date(2023, 1, 1)))
    assert [h.date for h in result.hits] == ["2023-03-15"] and result.total == 1


def test_phrase_and_exclusion(seeds: SearchEngine) -> None:
    phrase = seeds.search(SearchRequest('"special operation"'))
    assert [h.date for h in phrase.hits] == ["2023-03-15"]
    assert "special operation" in phrase.hits[0].passage.text.lower()
    assert not seeds.search(SearchRequest("Putin Assad -Turkey")).hits  # both seeds name Turkey
    assert [h.date for h in seeds.search(SearchRequest("Putin Assad -earthquake")).hits] == ["2015-06-29"]
    assert [h.date for h in seeds.search(SearchRequest('Putin Assad -"very big miracle"')).hits] == ["2023-03-15"]
    assert [h.date for h in seeds.search(SearchRequest('Putin "in the end"')).hits] == ["2015-06-29"]


def test_group_by_article_carries_more_passages(seeds: SearchEngine) -> None:
    articles = seeds.search(SearchRequest("Putin Syria Russia support", k=10))
    assert len({h.article_id for h in articles.hits}) == len(articles.hits) == 2
    assert any(h.more_passages for h in articles.hits)
    assert all(len(h.more_passages) <= 2 for h in articles.hits)
    passages = seeds.search(SearchRequest("Putin Syria Russia support", k=10, group="passage"))
    assert len(passages.hits) > 2 and all(not h.more_passages for h in passages.hits)
    lexical = seeds.search(SearchRequest("Putin Syria Russia support", k=100, group="passage", mode="bm25"))
    assert lexical.total == len(lexical.hits) > 2  # every passage naming a term counts once
    assert seeds.search(SearchRequest("Putin Syria Russia support", mode="bm25")).total == 2  # articles, not passages


def test_filters_still_fill_k(wire: SearchEngine) -> None:
    result = wire.search(SearchRequest("harbour strike pay", k=10, sources=("AFP",)))
    assert len(result.hits) == 10 and {h.source for h in result.hits} == {"AFP"}
    assert result.total == 20
    late = wire.search(SearchRequest("harbour strike pay", k=10, date_from=dt.date(2020, 12, 1), mode="dense"))
    assert len(late.hits) == 10 and all(h.date >= "2020-12-01" for h in late.hits)
    cocoa_in_ap = wire.search(SearchRequest("cocoa harvest", k=5, sources=("AP",), mode="bm25"))
    assert cocoa_in_ap.hits == () and cocoa_in_ap.total == 0


def test_pagination_and_total(wire: SearchEngine) -> None:
    first = wire.search(SearchRequest("dock workers strike", k=7, page=1, mode="bm25"))
    second = wire.search(SearchRequest("dock workers strike", k=7, page=2, mode="bm25"))
    assert first.total == second.total == 60
    assert [h.rank for h in second.hits] == list(range(8, 15))
    assert not {h.article_id for h in first.hits} & {h.article_id for h in second.hits}


def test_sort_by_date(wire: SearchEngine) -> None:
    result = wire.search(SearchRequest("dock workers strike", k=20, sort="date", mode="bm25"))
    dates = [h.date for h in result.hits]
    assert dates == sorted(dates, reverse=True) and dates[0] == "2021-02-17"


def test_bad_request_is_a_typed_error(seeds: SearchEngine) -> None:
    with pytest.raises(BadQuery) as caught:
        seeds.search(SearchRequest("x", k=500))
    assert caught.value.param == "k"


def test_sources_and_summary(wire: SearchEngine) -> None:
    assert wire.sources() == [("Reuters", 30), ("AFP", 20), ("AP", 20)]
    summary = wire.summary()
    assert summary["articles"] == 70 and summary["model"] == "all-MiniLM-L6-v2"


def test_index_of_another_model_is_refused_naming_both(seeds_index: Path, embedder) -> None:
    class Other:
        name, dimension, max_tokens, fingerprint = "other-model", 384, 256, "0000000000000000"

        def encode(self, texts, batch_size=32, progress=False):
            return embedder.encode(texts)

    with pytest.raises(IndexMismatch, match=r"all-MiniLM-L6-v2.*other-model"):
        SearchEngine.open(seeds_index, embedder=Other())


def test_an_hnsw_index_answers_like_the_flat_one(tmp_path: Path, embedder, seeds: SearchEngine) -> None:
    from search.dense import DenseConfig

    from conftest import SEEDS

    config = BuildConfig(sources=(SEEDS,), index_dir=tmp_path / "hnsw", dense=DenseConfig(kind="hnsw"), progress=False)
    build_index(config, embedder=embedder)
    engine = SearchEngine.open(tmp_path / "hnsw", embedder=embedder)
    assert engine.summary()["dense_index"] == "hnsw" and engine.manifest["dense"]["ef_search"] == 1024
    question = SearchRequest("What did Putin say about the Syrian people?", mode="dense", group="passage", k=8)
    assert [h.passage for h in engine.search(question).hits] == [h.passage for h in seeds.search(question).hits]
