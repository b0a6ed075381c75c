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


# -- quotations ------------------------------------------------------------------------------------------------

ASSAD_QUOTE = "Even though Russia now is also conducting the special operation, its position has remained unchanged"


def quote_search(engine: SearchEngine, q: str, **options) -> list:
    return list(engine.search(SearchRequest(q=q, type="quotes", **options)).hits)


def test_a_question_naming_putin_ranks_his_quotations_first(seeds: SearchEngine) -> None:
    result = seeds.search(SearchRequest(q="What did Putin say about Syria?", type="quotes"))
    assert result.type == "quotes"
    speakers = [h.quotation.speaker for h in result.hits]
    assert speakers[:3] == ["Vladimir Putin"] * 3 and "Vladimir Putin" not in speakers[3:]
    assert all(h.speaker_named for h in result.hits[:3]) and not any(h.speaker_named for h in result.hits[3:])
    assert PUTIN_QUOTE in [h.quotation.text for h in result.hits[:3]]
    first = result.hits[0]
    assert first.quotation.role == "President" and first.source == "DW" and first.date == "2015-06-29"
    assert dict(result.speakers)["Vladimir Putin"] == 3 and "Walid al-Moallem" in dict(result.speakers)
    assert all(h.quotation.kind != "term" for h in result.hits)


def test_a_possessive_names_assad_and_his_words_come_first(seeds: SearchEngine) -> None:
    hits = quote_search(seeds, "Assad's words on Russia's support")
    assert hits[0].quotation.speaker == "Assad" and hits[0].quotation.text == ASSAD_QUOTE
    assert hits[0].speaker_named and hits[0].title == "Putin and Assad hold talks on anniversary of Syria uprising"


def test_the_first_name_in_a_question_leads(seeds: SearchEngine) -> None:
    hits = quote_search(seeds, "What did Putin promise Assad?")
    assert [h.quotation.speaker for h in hits[:4]] == ["Vladimir Putin"] * 3 + ["Assad"]


def test_speaker_filter_keeps_the_facet_of_all_speakers(seeds: SearchEngine) -> None:
    result = seeds.search(SearchRequest(q="Russia's support for Syria", type="quotes", speaker="putin"))
    # two of his three quotations pass the gate ("pull their efforts together" does not): the facet shown before
    # the click said 2, and the speakers facet keeps every speaker of the unfiltered question
    assert {h.quotation.speaker for h in result.hits} == {"Vladimir Putin"} and len(result.hits) == 2
    assert dict(result.speakers)["Vladimir Putin"] == 2 and {"Vladimir Putin", "Assad"} <= set(dict(result.speakers))
    moallem = quote_search(seeds, "Russia's support for Syria", speaker="Walid al-Moallem")
    assert [h.quotation.speaker for h in moallem] == ["Walid al-Moallem"]
    assert "works miracles" in moallem[0].quotation.text
    assert seeds.search(SearchRequest(q="Syria", type="quotes", speaker="Nobody Atall")).hits == ()


def test_scare_quotes_are_never_anyones_words(seeds: SearchEngine) -> None:
    for q in ("special operation", "Islamic State", "counterterrorism efforts", "unchanged"):
        for mode in ("bm25", "hybrid"):
            hits = quote_search(seeds, q, mode=mode, k=20)
            assert all(h.quotation.kind in ("full", "partial") for h in hits), (q, mode)
            assert "Islamic State" not in [h.quotation.text.rstrip(".") for h in hits]
    assert [h.quotation.text for h in quote_search(seeds, '"special operation"')] == [ASSAD_QUOTE]


def test_quote_filters_and_modes(seeds: SearchEngine) -> None:
    late = quote_search(seeds, "Russia support", date_from=dt.date(2023, 1, 1), k=20)
    assert late and {h.date for h in late} == {"2023-03-15"}
    assert quote_search(seeds, "Russia support", sources=("Nowhere",)) == []
    for mode in ("bm25", "dense"):
        hits = quote_search(seeds, "Syrian people victorious", mode=mode)
        assert hits[0].quotation.text == PUTIN_QUOTE, mode
    hits = quote_search(seeds, "Syrian people victorious", mode="bm25")
    assert hits[0].scores.bm25 is not None and hits[0].scores.dense is None
    q = hits[0].quotation
    assert hits[0].highlights and all(any(a <= s.start < s.end <= b for a, b in q.parts) for s in hits[0].highlights)


def test_one_article_does_not_fill_the_page(seeds: SearchEngine) -> None:
    """Within a tier (speakers the question names, then the rest), no article shows a third quotation while
    another article of the tier with quotations left has shown fewer than two."""
    for q in ("Russia's support for Syria", "support for Syria remained unchanged", "Moscow's support for Damascus",
              "Syria Russia"):
        hits = quote_search(seeds, q, k=20)
        assert hits, q
        for named in (True, False):
            tier = [h.quotation.article_id for h in hits if h.speaker_named == named]
            for i, article in enumerate(tier):
                if tier[:i].count(article) >= 2:
                    left = set(tier[i:]) - {article}
                    assert all(tier[:i].count(other) >= 2 for other in left), (q, tier)
    assert len({h.quotation.article_id for h in quote_search(seeds, "Russia's support for Syria", k=20)}) == 2


def test_quotes_sorted_by_date(seeds: SearchEngine) -> None:
    hits = quote_search(seeds, "Syria Russia support", sort="date", k=20)
    dates = [h.date for h in hits]
    assert dates == sorted(dates, reverse=True) and dates[0] == "2023-03-15" and dates[-1] == "2015-06-29"


def test_quote_paging(seeds: SearchEngine) -> None:
    everything = quote_search(seeds, "Syria Russia", k=20)
    page2 = seeds.search(SearchRequest(q="Syria Russia", type="quotes", k=3, page=2))
    assert [h.quotation for h in page2.hits] == [h.quotation for h in everything[3:6]]
    assert page2.hits[0].rank == 4 and page2.total >= len(everything)


def test_article_hits_carry_their_matching_quotations(seeds: SearchEngine) -> None:
    result = seeds.search(SearchRequest(q="What did Putin say about the Syrian people?"))
    first = result.hits[0]
    assert first.title == "Russia pledges to support Syrian government"
    assert PUTIN_QUOTE in [q.text for q in first.quotations] and len(first.quotations) <= 3
    assert all(q.article_id == first.article_id and q.kind != "term" for q in first.quotations)
    filtered = seeds.search(SearchRequest(q="Syria", speaker="al-Moallem"))
    assert [h.title for h in filtered.hits] == ["Russia pledges to support Syrian government"]
    assert [q.speaker for q in filtered.hits[0].quotations] == ["Walid al-Moallem"]


def test_speakers_and_article_quotations(seeds: SearchEngine) -> None:
    assert seeds.speakers("") == [("Vladimir Putin", 3), ("Assad", 1), ("Russia", 1), ("Walid al-Moallem", 1)]
    assert seeds.speakers("wal") == [("Walid al-Moallem", 1)] and seeds.speakers("zz") == []
    hit = seeds.search(SearchRequest(q="Assad anniversary visit")).hits[0]
    article = seeds.article(hit.article_id)
    quotes = seeds.article_quotations(hit.article_id)
    assert {q.kind for q in quotes} == {"full", "partial", "term"}
    for q in quotes:
        assert 0 <= q.start <= q.end <= len(article.text)
        assert q.parts[0][0] == q.start and q.parts[-1][1] == q.end
        assert " ".join(article.text[q.start:q.end].split()).startswith(q.text.split(",")[0])


def test_bad_quote_requests_are_typed_errors(seeds: SearchEngine) -> None:
    with pytest.raises(BadQuery) as caught:
        seeds.search(SearchRequest(q="x", type="sayings"))
    assert caught.value.param == "type"
    with pytest.raises(BadQuery) as caught:
        seeds.search(SearchRequest(q="x", type="quotes", speaker="x" * 201))
    assert caught.value.param == "speaker"
