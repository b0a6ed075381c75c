"""Relevance evaluation on BEIR-layout folders: load queries and qrels, run every mode, score with ir-measures."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ir_measures
from ir_measures import Qrel, ScoredDoc

from search.errors import IndexMismatch, IndexNotFound, IndexCorrupt, NewsclipError
from search.layout import current_build, read_manifest, sha256_file
from search.models import MAX_K, MAX_QUERY_CHARS, SearchRequest
from search.text import ANALYZER_SETTINGS

CORPUS_NAMES = ("corpus.jsonl.gz", "corpus.jsonl")
QUERIES = "queries.jsonl"
DEPTH = MAX_K  # one page of k=100 articles: exactly what Recall@100 needs
METRICS = ("nDCG@10", "R@100", "MRR@10")
MODE_NAMES = ("bm25", "dense", "hybrid-rrf", "hybrid-linear")
MAX_GRADE = 10  # gains 2^rel - 1 are listed for grades 0..MAX_GRADE (the classic sets go to 4)


class DatasetError(NewsclipError):
    """A BEIR folder that is missing or malformed; the message names the file at fault."""


@dataclass(frozen=True)
class BeirSet:
    """One test collection: where its corpus is, its questions and its judgements."""

    name: str
    root: Path
    corpus: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> grade (0 = judged not relevant)

    @property
    def judged(self) -> list[str]:
        """Queries with at least one judgement and a text: the ones every average runs over."""
        return [q for q in self.queries if q in self.qrels]


def _read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not JSON: {exc}") from None


def read_queries(path: Path) -> dict[str, str]:
    """BEIR queries.jsonl: {"_id", "text"} per line, ids kept as strings."""
    queries = {}
    for obj in _read_jsonl(path):
        if "_id" not in obj or not isinstance(obj.get("text"), str):
            raise DatasetError(f"{path}: a query without _id or text: {str(obj)[:80]}")
        queries[str(obj["_id"])] = obj["text"]
    return queries


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """BEIR qrels TSV (query-id, corpus-id, score) with or without its header line."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip():
                continue
            if len(parts) != 3:
                raise DatasetError(f"{path}:{number}: expected query-id, corpus-id, score separated by tabs")
            try:
                grade = int(float(parts[2]))
            except ValueError:
                if number == 1:
                    continue  # the header
                raise DatasetError(f"{path}:{number}: score {parts[2]!r} is not a number") from None
            qrels.setdefault(parts[0], {})[parts[1]] = grade
    return qrels


def load_beir(root: Path, split: str = "test") -> BeirSet:
    """Read a BEIR folder (corpus.jsonl[.gz], queries.jsonl, qrels/<split>.tsv); DatasetError names what is missing."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist (expected corpus.jsonl[.gz], queries.jsonl, qrels/)")
    corpus = next((root / n for n in CORPUS_NAMES if (root / n).is_file()), None)
    if corpus is None:
        raise DatasetError(f"{root} has no {' or '.join(CORPUS_NAMES)}")
    for needed in (root / QUERIES, root / "qrels" / f"{split}.tsv"):
        if not needed.is_file():
            raise DatasetError(f"{root} has no {needed.relative_to(root)}")
    queries = read_queries(root / QUERIES)
    qrels = read_qrels(root / "qrels" / f"{split}.tsv")
    if not any(q in qrels for q in queries):
        raise DatasetError(f"{root}: no query of {QUERIES} has a judgement in qrels/{split}.tsv")
    return BeirSet(root.resolve().name, root, corpus, queries, qrels)


_QUOTES = re.compile(r'["“”„«»]')
_MINUS = re.compile(r"(?:^|(?<=\s))-+")


def as_question(text: str) -> str:
    """A test query as plain words: no quote marks or leading minus, which the engine reads as operators."""
    plain = " ".join(_MINUS.sub(" ", _QUOTES.sub(" ", text)).split())
    if len(plain) > MAX_QUERY_CHARS:  # a few CISI queries are whole paragraphs; cut at a word boundary
        plain = plain[: MAX_QUERY_CHARS + 1].rsplit(" ", 1)[0]
    return plain


def mode_request(mode: str, question: str, alpha: float) -> SearchRequest:
    """The request one evaluation mode sends: 100 articles, grouped, best first."""
    if mode == "bm25" or mode == "dense":
        return SearchRequest(question, mode=mode, k=DEPTH, group="article")
    if mode == "hybrid-rrf":
        return SearchRequest(question, mode="hybrid", fusion="rrf", k=DEPTH, group="article")
    if mode == "hybrid-linear":
        return SearchRequest(question, mode="hybrid", fusion="linear", alpha=alpha, k=DEPTH, group="article")
    raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODE_NAMES)}")


Search = Callable[[SearchRequest], Any]  # SearchEngine.search: anything returning .hits with .article_id


def run_mode(search: Search, queries: Mapping[str, str], mode: str, alpha: float = 0.5) -> dict[str, list[str]]:
    """Ranked article ids per query (at most DEPTH); a query with nothing to search for ranks nothing."""
    runs: dict[str, list[str]] = {}
    for qid, text in queries.items():
        question = as_question(text)
        if not question:
            runs[qid] = []
            continue
        result = search(mode_request(mode, question, alpha))
        runs[qid] = [hit.article_id for hit in result.hits]
    return runs


def exponential_gains(max_grade: int = MAX_GRADE) -> dict[int, int]:
    """Gain 2^rel - 1 per grade, as the README baselines use (trec_eval's own nDCG gain is rel)."""
    return {grade: 2**grade - 1 for grade in range(max_grade + 1)}


def measures(max_grade: int = MAX_GRADE) -> dict[str, Any]:
    """Our metric names -> ir-measures measures; relevant means grade >= 1."""
    return {
        "nDCG@10": ir_measures.nDCG(cutoff=10, gains=exponential_gains(max_grade)),
        "R@100": ir_measures.R(cutoff=100),
        "MRR@10": ir_measures.RR(cutoff=10),
    }


def score(qrels: Mapping[str, Mapping[str, int]], runs: Mapping[str, list[str]], judged: Iterable[str]) -> dict[str, Any]:
    """Per-query and mean metrics over `judged` queries; a judged query with no result or no relevant doc scores 0."""
    judged = list(judged)
    top = max((g for q in judged for g in qrels.get(q, {}).values()), default=1)
    named = measures(max(1, top))
    qrel_rows = [Qrel(q, d, g) for q in judged for d, g in qrels.get(q, {}).items()]
    # scores from ranks: trec_eval sorts by score and breaks ties by doc id, which would reorder equal scores
    run_rows = [ScoredDoc(q, d, float(DEPTH - i)) for q in judged for i, d in enumerate(runs.get(q, [])[:DEPTH])]
    per_query: dict[str, dict[str, float]] = {q: {m: 0.0 for m in named} for q in judged}
    by_measure = {measure: name for name, measure in named.items()}
    for metric in ir_measures.iter_calc(list(named.values()), qrel_rows, run_rows):
        if metric.query_id in per_query:
            per_query[metric.query_id][by_measure[metric.measure]] = float(metric.value)
    n = len(judged)
    mean = {m: (sum(v[m] for v in per_query.values()) / n if n else 0.0) for m in named}
    return {"queries": n, "mean": mean, "per_query": per_query}


@dataclass(frozen=True)
class IndexSettings:
    """What an evaluation index is built with: a reused index must match every field."""

    passage_words: int
    overlap: int
    k1: float
    b: float
    epsilon: float
    model: str
    variant: str = "torch-fp32"


def index_matches(index_dir: Path, corpus: Path, settings: IndexSettings) -> tuple[bool, str]:
    """Whether the published index was built from this corpus file (sha256) with these settings, and why not."""
    try:
        manifest = read_manifest(current_build(Path(index_dir)))
    except (IndexNotFound, IndexCorrupt, IndexMismatch) as exc:
        return False, str(exc)
    sources = manifest.get("sources", [])
    if [s.get("sha256") for s in sources] != [sha256_file(corpus)]:
        return False, "the corpus file changed"
    chunking, bm25, model = manifest.get("chunking", {}), manifest.get("bm25", {}), manifest.get("model", {})
    found = IndexSettings(
        passage_words=chunking.get("target_words"), overlap=chunking.get("overlap_sentences"),
        k1=bm25.get("k1"), b=bm25.get("b"), epsilon=bm25.get("epsilon"), model=model.get("name"),
        variant=model.get("variant", "torch-fp32"),
    )
    if found != settings:
        return False, f"built with {found}, wanted {settings}"
    if manifest.get("analyzer") != ANALYZER_SETTINGS:
        return False, "the analyzer changed"
    return True, "same corpus and settings"


@dataclass
class Evaluation:
    """The figures of one dataset: per mode, the mean metrics and each query's."""

    dataset: str
    queries: int
    modes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def table(self) -> dict[str, dict[str, float]]:
        """Mode -> metric -> mean, rounded for printing and JSON."""
        return {mode: {m: round(v, 4) for m, v in got["mean"].items()} for mode, got in self.modes.items()}


def evaluate(search: Search, dataset: BeirSet, modes: Iterable[str] = MODE_NAMES, alpha: float = 0.5) -> Evaluation:
    """Run every judged query of the dataset in each mode and score the runs."""
    judged = dataset.judged
    questions = {q: dataset.queries[q] for q in judged}
    out = Evaluation(dataset.name, len(judged))
    for mode in modes:
        runs = run_mode(search, questions, mode, alpha)
        out.modes[mode] = score(dataset.qrels, runs, judged)
    return out
