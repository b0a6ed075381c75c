"""The quotation extractor scored against a labelled set: spans, speakers, misattributions, speaker kinds."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from search.models import Article

from .quotes import Found, extract_batch
from .sources import read_file


def normalized_speaker(name: str | None) -> str | None:
    """Case, a leading article and punctuation do not make two speakers different."""
    if name is None:
        return None
    name = re.sub(r"^(the|a|an|one)\s+", "", name.casefold().replace("\u2019", "'"))
    return re.sub(r"[^\w' -]", "", name).strip()


def same_speaker(gold: str | None, found: str | None, strict: bool = False) -> bool:
    """Equal once normalized; unless strict, a longer or shorter form of the same name (same last word) too."""
    g, p = normalized_speaker(gold), normalized_speaker(found)
    if g == p or strict:
        return g == p
    return bool(g and p and (g in p or p in g) and g.split()[-1] == p.split()[-1])


def load_labelled(labels_path: Path, reuters: Path, scratch: Path) -> tuple[dict[str, Any], dict[str, Article]]:
    """The labels and their stories, read by the project's own JSONL reader (offsets are into its text)."""
    labels = json.loads(labels_path.read_text(encoding="utf-8"))
    wanted = {s["id"] for s in labels["stories"]}
    subset = scratch / "labelled-stories.jsonl"
    with gzip.open(reuters, "rt", encoding="utf-8") as src, subset.open("w", encoding="utf-8") as out:
        for line in src:
            if json.loads(line)["id"] in wanted:
                out.write(line)
    articles = {a.id: a for a in read_file(subset, "jsonl") if isinstance(a, Article)}
    return labels, articles


def score(labels: Mapping[str, Any], articles: Mapping[str, Article],
          extract: Callable[[list[str]], list[list[Found]]] = extract_batch) -> dict[str, Any]:
    """Span precision/recall/F1 over quotations of a speaker (terms left out) and the speakers of the matches.

    A span matches when start and end are both exact. Speaker accuracy counts the matched spans whose speaker is
    right (`same_speaker`; `speaker_accuracy_strict`, the exact-name accuracy, wants the same normalized name).
    Every other matched span is either `misattributed` (a speaker given where the labels have another, or none)
    or `unattributed` (no speaker where the labels have one); both are shares of the matched spans. Recall is
    also given per gold kind, `kind_accuracy` is the share of matched spans whose full/partial kind is right and
    `speaker_kind_accuracy` the share whose person/organization/description kind (None: unattributed) is right.
    """
    tp = fp = fn = right = strict = kind_right = wrong = missing = sk_right = sk_total = 0
    by_kind: dict[str, list[int]] = {}
    stories = list(labels["stories"])
    found = extract([articles[story["id"]].text for story in stories])
    for story, quotations in zip(stories, found):
        gold = {(q["start"], q["end"]): q for q in story["quotes"] if q["kind"] != "term"}
        pred: dict[tuple[int, int], Found] = {(f.start, f.end): f for f in quotations if f.kind != "term"}
        matched = gold.keys() & pred.keys()
        tp += len(matched)
        fp += len(pred.keys() - gold.keys())
        fn += len(gold.keys() - pred.keys())
        for key, q in gold.items():
            found_kind = by_kind.setdefault(q["kind"], [0, 0])
            found_kind[1] += 1
            found_kind[0] += key in matched
        for key in matched:
            g, p = gold[key], pred[key]
            ok = same_speaker(g["speaker"], p.speaker)
            right += ok
            strict += same_speaker(g["speaker"], p.speaker, strict=True)
            wrong += not ok and p.speaker is not None
            missing += not ok and p.speaker is None
            kind_right += g["kind"] == p.kind
            if "speaker_kind" in g:
                sk_total += 1
                sk_right += g["speaker_kind"] == p.speaker_kind
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {
        "stories": len(stories), "quotations": tp + fn, "found": tp + fp, "matched": tp,
        "precision": precision, "recall": recall, "f1": 2 * precision * recall / max(precision + recall, 1e-9),
        "speaker_accuracy": right / max(tp, 1), "speaker_accuracy_strict": strict / max(tp, 1),
        "misattributed": wrong / max(tp, 1), "unattributed": missing / max(tp, 1),
        "speaker_kind_accuracy": sk_right / max(sk_total, 1), "speaker_kinds_labelled": sk_total,
        "kind_accuracy": kind_right / max(tp, 1),
        "recall_by_kind": {k: found / max(n, 1) for k, (found, n) in sorted(by_kind.items())},
    }
