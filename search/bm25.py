"""BM25 (rank_bm25.BM25Okapi's variant) over an inverted index scored with numpy; document i is passage row i."""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import IndexCorrupt
from .layout import advise_random

FORMAT = "newsclip-bm25"
FORMAT_VERSION = 2  # 2: raw tf beside sat, so segments can be rescored over another corpus (search.livebm25)
PARAMS_FILE = "params.json"
# name -> allowed dtypes; all written with np.save and read with allow_pickle=False
ARRAYS = {
    "term_ptr": ("<i8",),  # postings of term t are [term_ptr[t], term_ptr[t + 1])
    "doc_ids": ("<i4",),  # ascending within each term
    "sat": ("<f8",),  # tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)) of each posting, as rank_bm25 computes it
    # raw term frequency of each posting: sat depends on this corpus's avgdl, tf does not (search.livebm25 rescores
    # segments over the live corpus from it). uint32, not uint16: a passage's length is bounded in words, not in
    # analyzer tokens ("a-b-c-..." is one word and many tokens), the quotation index has no bound at all, and a
    # clipped tf would silently break equality with rank_bm25; 2 more bytes a posting (12 -> 16 with doc_ids+sat)
    "tf": ("<u4",),
    "idf": ("<f8",),  # after the epsilon floor, exactly as rank_bm25 computes it
    "doc_len": ("<i8",),
    "term_chars": ("|u1",),  # UTF-8 of all terms concatenated, in term-id order
    "term_offsets": ("<i8",),  # character (not byte) offsets of each term in the decoded text
}


@dataclass(frozen=True)
class BM25Params:
    """Okapi BM25 as rank_bm25.BM25Okapi scores it; k1 1.2 and b 0.5 were tuned on ir-classic (docs/evaluation.md)."""

    k1: float = 1.2
    b: float = 0.5
    epsilon: float = 0.25

    def __post_init__(self) -> None:
        """Refuse settings where BM25 (and rank_bm25) would divide 0 by 0 or reward longer documents."""
        if not (self.k1 > 0 and 0 <= self.b <= 1 and self.epsilon >= 0):
            raise ValueError(f"BM25 needs k1 > 0, 0 <= b <= 1 and epsilon >= 0, got {self}")


class BM25Index:
    """Postings (CSC by term) with precomputed saturated tf; a query touches only its terms' postings.

    An empty corpus builds an empty index that answers every query with no hits (rank_bm25 raises instead).
    """

    def __init__(self, arrays: dict[str, np.ndarray], params: BM25Params, avgdl: float) -> None:
        """Wrap arrays made by build() or load(); the term dictionary is the only thing derived."""
        self.params, self.avgdl = params, avgdl
        self._a = arrays
        self.n_docs = int(arrays["doc_len"].shape[0])
        text = arrays["term_chars"].tobytes().decode("utf-8", "surrogatepass")
        off = arrays["term_offsets"].tolist()
        self._vocab = {text[off[i] : off[i + 1]]: i for i in range(len(off) - 1)}
        self._max_idf: float | None = None

    @classmethod
    def build(cls, docs: Iterable[Sequence[str]], params: BM25Params = BM25Params()) -> BM25Index:
        """One pass over the documents; see BM25Builder."""
        builder = BM25Builder(params)
        for doc in docs:
            builder.add(doc)
        return builder.finish()

    @classmethod
    def from_postings(
        cls,
        term_ptr: np.ndarray,
        doc_ids: np.ndarray,
        tf: np.ndarray,
        doc_len: np.ndarray,
        terms: Sequence[str],
        params: BM25Params = BM25Params(),
    ) -> BM25Index:
        """An index from postings sorted by term (doc ids ascending within a term, terms in id order).

        Saturated tf and idf are computed here as rank_bm25 computes them; the builder and segment merges
        (search.livebm25.merge) both end here, so there is one definition of the arithmetic.
        """
        n_docs, n_terms = int(doc_len.shape[0]), len(terms)
        if n_docs >= 2**31:
            raise ValueError(f"{n_docs} documents do not fit int32 doc ids")
        ptr = np.asarray(term_ptr, dtype=np.int64)
        doc_ids = np.asarray(doc_ids, dtype=np.int32)
        tf = np.asarray(tf, dtype=np.uint32)
        dl = np.array(doc_len, dtype=np.int64)  # a copy: the caller's buffer may be reused
        avgdl = int(dl.sum()) / n_docs if n_docs else 0.0  # Python ints: exact total, one rounding, as rank_bm25
        k1, b = params.k1, params.b
        # rank_bm25's expression, same operations in the same order: scores come out bit-equal (8 bytes a posting
        # buys ~2.5x speed over computing it per query: measured 8 ms vs 20 ms at 1M passages)
        norm = k1 * (1 - b + b * dl / avgdl) if avgdl > 0 else np.zeros(n_docs)
        tf64 = tf.astype(np.float64)
        sat = tf64 * (k1 + 1) / (tf64 + norm[doc_ids.astype(np.intp)])  # int32 fancy indexing is ~3x slower
        del tf64, norm
        idf, total = [], 0.0
        for df in np.diff(ptr).tolist():  # math.log and a running sum in rank_bm25's order: bit-equal idf
            value = math.log(n_docs - df + 0.5) - math.log(df + 0.5)
            idf.append(value)
            total += value
        floor = params.epsilon * (total / n_terms) if n_terms else 0.0
        text = "".join(terms)
        arrays = {
            "term_ptr": ptr,
            "doc_ids": doc_ids,
            "sat": sat,
            "tf": tf,
            "idf": np.array([floor if v < 0 else v for v in idf], dtype=np.float64),
            "doc_len": dl,
            "term_chars": np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8).copy(),
            "term_offsets": np.concatenate([[0], np.cumsum([len(w) for w in terms], dtype=np.int64)]).astype("<i8"),
        }
        return cls(arrays, params, avgdl)

    @property
    def vocabulary_size(self) -> int:
        """Distinct terms; reported in stats and the manifest."""
        return len(self._vocab)

    def idf(self, term: str) -> float:
        """A term's idf (0 when unknown), to weigh query terms when choosing a quote."""
        t = self._vocab.get(term)
        return 0.0 if t is None else float(self._a["idf"][t])

    @property
    def doc_lengths(self) -> np.ndarray:
        """Each document's number of analyzer tokens."""
        return self._a["doc_len"]

    def knows(self, term: str) -> bool:
        """Whether any document has the term."""
        return term in self._vocab

    @property
    def max_idf(self) -> float:
        """The largest idf of the vocabulary: what an unknown word would weigh at least (0 for an empty index)."""
        if self._max_idf is None:
            idf = self._a["idf"]
            self._max_idf = float(idf.max()) if idf.size else 0.0
        return self._max_idf

    def postings(self, term: str) -> np.ndarray:
        """Documents containing the term, ascending; empty when unknown (exclusions and phrases)."""
        t = self._vocab.get(term)
        if t is None:
            return np.zeros(0, dtype=np.int32)
        ptr = self._a["term_ptr"]
        return np.asarray(self._a["doc_ids"][ptr[t] : ptr[t + 1]])

    def term_id(self, term: str) -> int | None:
        """The term's id (its postings are term_range(id)), None when no document has it."""
        return self._vocab.get(term)

    def term_range(self, t: int) -> tuple[int, int]:
        """[start, end) of term id t's postings in doc_ids and tf."""
        a, b = self._a["term_ptr"][t : t + 2].tolist()
        return a, b

    @property
    def term_ptr(self) -> np.ndarray:
        """Postings of term t are [term_ptr[t], term_ptr[t + 1]) of doc_ids and tf."""
        return self._a["term_ptr"]

    @property
    def doc_ids(self) -> np.ndarray:
        """Document of each posting, ascending within a term."""
        return self._a["doc_ids"]

    @property
    def tf(self) -> np.ndarray:
        """Raw term frequency (uint32) of each posting."""
        return self._a["tf"]

    @property
    def idfs(self) -> np.ndarray:
        """Stored idf of every term by term id (after this corpus's epsilon floor)."""
        return self._a["idf"]

    @property
    def doc_frequencies(self) -> np.ndarray:
        """df of every term, by term id (int64)."""
        return np.diff(self._a["term_ptr"])

    def terms(self) -> list[str]:
        """Every term, in term-id order."""
        return list(self._vocab)

    def stats(self) -> dict:
        """JSON-ready figures for the build manifest."""
        return {
            "n_docs": self.n_docs,
            "vocabulary": self.vocabulary_size,
            "postings": int(self._a["doc_ids"].shape[0]),
            "avgdl": self.avgdl,
            "params": asdict(self.params),
        }

    def save(self, directory: Path) -> list[Path]:
        """Arrays as .npy plus params.json (written last); returns every path so the caller can checksum them."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in ARRAYS:
            paths.append(directory / f"{name}.npy")
            np.save(paths[-1], np.ascontiguousarray(self._a[name]), allow_pickle=False)
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "params": asdict(self.params), **self.stats()}
        paths.append(directory / PARAMS_FILE)
        paths[-1].write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return paths

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> BM25Index:
        """Read and cross-check the files; anything missing, unreadable or inconsistent is IndexCorrupt."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / PARAMS_FILE).read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
                found = f"{meta.get('format')!r} v{meta.get('format_version')!r}"
                raise IndexCorrupt(f"{directory}: unknown BM25 format {found}, expected {FORMAT!r} v{FORMAT_VERSION}")
            params = BM25Params(**{k: float(v) for k, v in meta["params"].items()})
            avgdl, n_docs = float(meta["avgdl"]), int(meta["n_docs"])
            n_terms, n_post = int(meta["vocabulary"]), int(meta["postings"])
            mode = "r" if mmap else None
            arrays = {n: np.load(directory / f"{n}.npy", mmap_mode=mode, allow_pickle=False) for n in ARRAYS}
            for name in ("doc_ids", "sat", "tf"):  # postings are read term by term, far apart: no readahead
                advise_random(arrays[name])
        except IndexCorrupt:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError) as exc:
            raise IndexCorrupt(f"{directory}: unreadable BM25 index: {exc}") from exc
        shapes = {"term_ptr": n_terms + 1, "doc_ids": n_post, "sat": n_post, "tf": n_post, "idf": n_terms,
                  "doc_len": n_docs}
        shapes["term_offsets"] = n_terms + 1
        for name, a in arrays.items():
            if a.ndim != 1 or a.dtype.str not in ARRAYS[name] or a.shape[0] != shapes.get(name, a.shape[0]):
                found = f"dtype {a.dtype.str} and shape {a.shape}"
                raise IndexCorrupt(f"{directory}: {name}.npy has {found}, not what params.json describes")
        ptr = arrays["term_ptr"]
        if ptr[0] != 0 or ptr[-1] != n_post or np.any(np.diff(ptr) < 0):
            raise IndexCorrupt(f"{directory}: term_ptr.npy is not a valid postings pointer")
        ids = arrays["doc_ids"]  # a full scan would defeat mmap's lazy load; checksums cover that case
        if not mmap and ids.size and (ids.min() < 0 or ids.max() >= n_docs):
            raise IndexCorrupt(f"{directory}: doc_ids.npy points outside the {n_docs} documents")
        try:
            index = cls(arrays, params, avgdl)
        except (UnicodeDecodeError, ValueError) as exc:
            raise IndexCorrupt(f"{directory}: bad term dictionary: {exc}") from exc
        if len(index._vocab) != n_terms:
            raise IndexCorrupt(f"{directory}: {len(index._vocab)} distinct terms, expected {n_terms}")
        return index

    def _accumulate(self, query_tokens: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """Dense scores from the query terms' postings, added per occurrence in query order as rank_bm25 does."""
        scores = np.zeros(self.n_docs, dtype=np.float64)
        ptr, doc_ids, sat, idf = self._a["term_ptr"], self._a["doc_ids"], self._a["sat"], self._a["idf"]
        known = []
        for token in query_tokens:
            t = self._vocab.get(token)
            if t is None:
                continue  # rank_bm25 adds 0 for an unknown term
            a, b = ptr[t : t + 2].tolist()
            # doc ids are unique within a term; add.at keeps the per-document order of additions: bit-equal sums
            np.add.at(scores, doc_ids[a:b], float(idf[t]) * sat[a:b])
            known.append(t)
        return scores, known

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """Float64 score of every document, equal to BM25Okapi(corpus).get_scores(query_tokens)."""
        return self._accumulate(query_tokens)[0]

    def top_k(
        self, query_tokens: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best k docs with score > 0 (among `allowed` if given), best first, ties to the lower doc id."""
        rows, values, _ = self.search(query_tokens, k, allowed)
        return rows, values

    def search(
        self, query_tokens: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """top_k, plus the mask of every doc that matched (score > 0 and allowed) so callers can count them."""
        if allowed is not None and (allowed.dtype != np.bool_ or allowed.shape != (self.n_docs,)):
            raise ValueError(f"allowed must be a bool mask of {self.n_docs}, got {allowed.dtype} {allowed.shape}")
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        scores, known = self._accumulate(query_tokens)
        matched = scores > 0
        if allowed is not None:
            matched &= allowed
        if k <= 0 or not known:
            return (*empty, matched)
        # any k scored docs bound the k-th best from below: take them from the rarest term to skip most of the n docs
        ptr = self._a["term_ptr"]
        rare = min(known, key=lambda t: ptr[t + 1] - ptr[t])
        sample = np.asarray(self._a["doc_ids"][ptr[rare] : ptr[rare + 1]])
        if allowed is not None:
            sample = sample[allowed[sample]]
        floor = np.partition(scores[sample], sample.size - k)[sample.size - k] if sample.size >= k else 0.0
        keep = scores >= floor if floor > 0 else scores > 0
        if allowed is not None:
            keep &= allowed
        cand = np.flatnonzero(keep)
        values = scores[cand]
        if cand.size > k:
            kth = -np.partition(-values, k - 1)[k - 1]  # the k-th best score; ties at it go to lower doc ids
            above, at = np.flatnonzero(values > kth), np.flatnonzero(values == kth)
            pick = np.concatenate([above, at[: k - above.size]])
            cand, values = cand[pick], values[pick]
        order = np.lexsort((cand, -values))
        return cand[order], values[order], matched


class BM25Builder:
    """Documents added one at a time (a rebuild streams them), kept as flat integer arrays, never as text."""

    def __init__(self, params: BM25Params = BM25Params()) -> None:
        self.params = params
        self.vocab: dict[str, int] = {}
        self.term_ids, self.tfs, self.doc_len, self.uniq = array("i"), array("I"), array("q"), array("q")

    def add(self, doc: Sequence[str]) -> None:
        """Count one document's terms; term ids in first-seen order like rank_bm25's dict."""
        counts = Counter(doc)
        self.doc_len.append(len(doc))
        self.uniq.append(len(counts))
        vocab = self.vocab
        self.term_ids.extend([vocab.setdefault(t, len(vocab)) for t in counts])
        self.tfs.extend(counts.values())

    def finish(self) -> BM25Index:
        """Postings sorted by term, saturated tf and idf computed as rank_bm25 computes them."""
        vocab, params = self.vocab, self.params
        terms = list(vocab)
        term_ids, tfs, doc_len, uniq = self.term_ids, self.tfs, self.doc_len, self.uniq
        self.vocab, self.term_ids, self.tfs = {}, array("i"), array("I")  # a builder finishes once; free them
        n_docs, n_terms = len(doc_len), len(vocab)
        if n_docs >= 2**31:
            raise ValueError(f"{n_docs} documents do not fit int32 doc ids")
        t = np.frombuffer(term_ids, dtype=np.int32)
        ptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(t, minlength=n_terms), out=ptr[1:])
        order = np.argsort(t, kind="stable")  # stable: doc ids stay ascending within a term
        del t, term_ids, vocab
        doc_ids = np.repeat(np.arange(n_docs, dtype=np.int32), np.frombuffer(uniq, dtype=np.int64))[order]
        tf = np.frombuffer(tfs, dtype=np.uint32)[order]
        del order, tfs
        return BM25Index.from_postings(ptr, doc_ids, tf, np.frombuffer(doc_len, dtype=np.int64), terms, params)
