"""The spaCy pipeline: loaded once, only the components attribution reads, offsets kept for any text."""

from __future__ import annotations

import pytest

from indexer import nlp


def test_loaded_once_with_only_what_attribution_reads() -> None:
    pipe = nlp.pipeline()
    assert pipe is nlp.pipeline() and tuple(pipe.pipe_names) == nlp.PARSE
    assert "lemmatizer" not in pipe.component_names and "attribute_ruler" not in pipe.component_names
    with pytest.raises(ValueError):
        nlp.pipeline(("tok2vec", "coref"))


def test_docs_come_back_in_order_with_the_texts_offsets() -> None:
    texts = ["Anna Berg of Acme Corp said no.", "", "x\ud800y Putin said.", "A" * 10]
    docs = list(nlp.parse(texts, batch_size=2))
    assert [len(d.text) for d in docs] == [len(t) for t in texts]
    assert {(e.text, e.label_) for e in docs[0].ents} >= {("Anna Berg", "PERSON")}


def test_the_recognizer_reads_only_the_texts_asked() -> None:
    texts = ["Anna Berg said no.", "Anna Berg left."]
    docs = list(nlp.parse(texts, entities=lambda text: "said" in text))
    assert docs[0].ents and not docs[1].ents
    assert [t.dep_ for t in docs[1]] == [t.dep_ for t in next(nlp.parse(texts[1:]))]  # parsed all the same
