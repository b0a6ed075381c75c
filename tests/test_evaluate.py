"""Relevance evaluation: BEIR loading, metrics against hand computation and ir-measures, the `indexer eval` command."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import ir_measures
import pytest
from click.testing import CliRunner

from indexer.cli import EXIT_BAD_DATASET, main
from indexer.evaluate import (
    METRICS, MODE_NAMES, DatasetError, IndexSettings, as_question, evaluate, index_matches, load_beir, mode_request,
    score,
)
from search.models import MAX_QUERY_CHARS

from conftest import ROOT, SHARED_DATA, require

TINY = ROOT / "tests" / "data" / "beir-tiny"
IR_CLASSIC = SHARED_DATA / "ir-classic"

# A fixed run over the tiny set's judgements (q1: d1=2, d2=1, d3=0; q2: d3=2, d4=1; q3: d5=1, d6=1)
RUN = {"q1": ["d2", "d3", "d1"], "q2": ["d5", "d4"], "q3": []}


def _hand_ndcg(ranked: list[str], grades: dict[str, int]) -> float:
    """nDCG@10 with gain 2^rel - 1, written out from its definition."""
    dcg = sum((2 ** grades.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(grades.values(), reverse=True)[:10]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def test_load_beir_tiny_keeps_only_judged_queries():
    data = load_beir(TINY)
    assert data.name == "beir-tiny"
    assert data.corpus.name == "corpus.jsonl"
    assert set(data.queries) == {"q1", "q2", "q3", "q4"}
    assert data.judged == ["q1", "q2", "q3"]  # q4 has no qrel
    assert data.qrels["q1"] == {"d1": 2, "d2": 1, "d3": 0}  # header skipped, grade 0 kept as judged


def test_metrics_match_hand_computation():
    data = load_beir(TINY)
    got = score(data.qrels, RUN, data.judged)
    q1 = got["per_query"]["q1"]
    assert q1["nDCG@10"] == pytest.approx((1 + 3 / 2) / (3 + 1 / math.log2(3)))
    assert q1["R@100"] == 1.0 and q1["MRR@10"] == 1.0  # d3 (grade 0) is not relevant
    q2 = got["per_query"]["q2"]
    assert q2["nDCG@10"] == pytest.approx((1 / math.log2(3)) / (3 + 1 / math.log2(3)))
    assert q2["R@100"] == 0.5 and q2["MRR@10"] == 0.5
    assert got["per_query"]["q3"] == {"nDCG@10": 0.0, "R@100": 0.0, "MRR@10": 0.0}  # nothing found still counts
    for qid, ranked in RUN.items():
        assert got["per_query"][qid]["nDCG@10"] == pytest.approx(_hand_ndcg(ranked, data.qrels[qid]))
    assert got["queries"] == 3
    assert got["mean"]["R@100"] == pytest.approx(0.5)
    assert got["mean"]["MRR@10"] == pytest.approx(0.5)
    assert got["mean"]["nDCG@10"] == pytest.approx(sum(_hand_ndcg(RUN[q], data.qrels[q]) for q in RUN) / 3)


def test_metrics_match_ir_measures_directly_and_gain_is_exponential():
    data = load_beir(TINY)
    qrels = [ir_measures.Qrel(q, d, g) for q in data.judged for d, g in data.qrels[q].items()]
    run = [ir_measures.ScoredDoc(q, d, 10.0 - i) for q, ranked in RUN.items() for i, d in enumerate(ranked)]
    ref = ir_measures.calc_aggregate([ir_measures.R @ 100, ir_measures.RR @ 10], qrels, run)
    got = score(data.qrels, RUN, data.judged)["mean"]
    assert got["R@100"] == pytest.approx(ref[ir_measures.R @ 100])  # q3 (nothing ranked) counts as 0 in both
    assert got["MRR@10"] == pytest.approx(ref[ir_measures.RR @ 10])
    linear = ir_measures.calc_aggregate([ir_measures.nDCG @ 10], qrels, run)[ir_measures.nDCG @ 10]
    assert got["nDCG@10"] < linear  # 2^rel - 1 weighs the grade-2 doc found at rank 3 less than gain = rel does


def test_rank_order_decides_not_doc_ids():
    """Equal scores would let trec_eval reorder by doc id; the run's own order must count."""
    qrels = {"q": {"a": 1}}
    assert score(qrels, {"q": ["b", "a"]}, ["q"])["mean"]["MRR@10"] == 0.5
    assert score(qrels, {"q": ["a", "b"]}, ["q"])["mean"]["MRR@10"] == 1.0


def test_questions_are_plain_words_within_the_limit():
    assert as_question('"central bank" raises -rates well-known') == "central bank raises rates well-known"
    long = " ".join(["word"] * 400)
    cut = as_question(long)
    assert len(cut) <= MAX_QUERY_CHARS and cut.endswith("word")


def test_mode_requests_ask_for_one_page_of_100_articles():
    for mode in MODE_NAMES:
        request = mode_request(mode, "q", 0.3)
        assert (request.k, request.page, request.group) == (100, 1, "article")
    assert mode_request("hybrid-linear", "q", 0.3).fusion == "linear"
    assert mode_request("hybrid-linear", "q", 0.3).alpha == 0.3
    assert mode_request("hybrid-rrf", "q", 0.3).fusion == "rrf"


def test_evaluate_sends_each_judged_query_in_each_mode():
    data = load_beir(TINY)
    seen = []

    def fake_search(request):
        seen.append((request.mode, request.fusion, request.q))
        ranked = RUN[next(q for q, t in data.queries.items() if as_question(t) == request.q)]
        return SimpleNamespace(hits=[SimpleNamespace(article_id=d) for d in ranked])

    result = evaluate(fake_search, data)
    assert len(seen) == 4 * 3
    assert set(result.modes) == set(MODE_NAMES)
    assert result.table()["bm25"]["R@100"] == 0.5


@pytest.mark.parametrize("broken", ["missing", "no-corpus", "no-qrels"])
def test_bad_dataset_folders_are_named(tmp_path: Path, broken: str):
    root = tmp_path / "set"
    if broken != "missing":
        root.mkdir()
        (root / "queries.jsonl").write_text('{"_id": "1", "text": "x"}\n')
        if broken == "no-qrels":
            (root / "corpus.jsonl").write_text('{"_id": "1", "text": "x"}\n')
    with pytest.raises(DatasetError, match=str(root)):
        load_beir(root)


def test_cli_eval_missing_dataset_fails_clearly(tmp_path: Path):
    result = CliRunner().invoke(main, ["eval", "--dataset", str(tmp_path / "nowhere"), "--json"])
    assert result.exit_code == EXIT_BAD_DATASET != 0
    assert "does not exist" in result.stderr and "nowhere" in result.stderr
    assert result.stdout == ""


@pytest.mark.slow
def test_cli_eval_json_on_tiny_set_with_real_model(tmp_path: Path):
    index = tmp_path / "index"
    args = ["eval", "--dataset", str(TINY), "--index", str(index), "--json", "--quiet"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["queries"] == 3 and out["reused"] is False and out["gain"] == "2^rel-1"
    assert set(out["modes"]) == set(MODE_NAMES)
    for row in out["modes"].values():
        assert set(row) == set(METRICS)
        assert all(0.0 <= v <= 1.0 for v in row.values())
    assert out["modes"]["bm25"]["MRR@10"] == 1.0  # each question's words name a relevant article outright
    assert out["modes"]["hybrid-rrf"]["R@100"] == 1.0  # six articles: every relevant one is in the 100
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0 and json.loads(second.stdout)["reused"] is True
    assert json.loads(second.stdout)["modes"] == out["modes"]
    matches, why = index_matches(index, TINY / "corpus.jsonl", IndexSettings(50, 0, 1.5, 0.75, 0.25, "all-MiniLM-L6-v2"))
    assert not matches and "built with" in why


@pytest.mark.shared
@pytest.mark.parametrize("name,judged,qrels", [
    ("time", 79, 253), ("cisi", 76, 3114), ("cranfield", 225, 1837), ("medline", 30, 696), ("npl", 93, 2083),
    ("adi", 35, 170),
])
def test_shared_ir_classic_sets_load_with_their_readme_counts(name: str, judged: int, qrels: int):
    data = load_beir(require(IR_CLASSIC / name))
    assert len(data.judged) == judged
    assert sum(len(v) for v in data.qrels.values()) == qrels


def _bm25s_run(data, k1: float = 0.9, b: float = 0.4) -> dict[str, list[str]]:
    """The README's baseline recipe: bm25s, Lucene stopwords, Snowball stemmer, title + text, whole documents."""
    import gzip

    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    with gzip.open(data.corpus, "rt", encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle]
    ids = [d["_id"] for d in docs]
    retriever = bm25s.BM25(k1=k1, b=b)
    texts = [f"{d.get('title') or ''} {d['text']}" for d in docs]
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    runs = {}
    for qid in data.judged:
        tokens = bm25s.tokenize([data.queries[qid]], stopwords="en", stemmer=stemmer, show_progress=False)
        rows, scores = retriever.retrieve(tokens, k=min(100, len(ids)), show_progress=False)
        runs[qid] = [ids[r] for r, s in zip(rows[0], scores[0]) if s > 0]
    return runs


@pytest.mark.shared
@pytest.mark.parametrize("name,ndcg,recall", [("adi", 0.480, None), ("medline", 0.671, 0.772), ("cranfield", 0.342, 0.726)])
def test_scorer_reproduces_the_readme_bm25_baselines(name: str, ndcg: float, recall: float | None):
    """The README's figures come from another script: our scorer on the same recipe must give them (graded Cranfield too)."""
    data = load_beir(require(IR_CLASSIC / name))
    got = score(data.qrels, _bm25s_run(data), data.judged)["mean"]
    assert got["nDCG@10"] == pytest.approx(ndcg, abs=5e-4)
    if recall is not None:  # ADI's 1.000 counts zero-score documents, which no BM25 run here returns
        assert got["R@100"] == pytest.approx(recall, abs=5e-4)
