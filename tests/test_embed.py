"""The packaged model loads offline, embeds to unit vectors, and counts word pieces."""

from __future__ import annotations

import numpy as np
import pytest

from search.embed import ModelNotFound, resolve_model


def test_model_setting_resolves_packaged_name_or_folder(tmp_path) -> None:
    assert (resolve_model("all-MiniLM-L6-v2") / "modules.json").is_file()
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == resolve_model("all-MiniLM-L6-v2")
    with pytest.raises(ModelNotFound, match="not found"):
        resolve_model(str(tmp_path / "no-model"))


def test_embeddings_are_unit_length_and_meaningful(embedder) -> None:
    vectors = embedder.encode(["Putin pledged support to Syria", "Russia promised to back Damascus", "cocoa harvest"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert embedder.encode([]).shape == (0, 384)


def test_token_count_sees_past_the_limit(embedder) -> None:
    long = "word " * 400
    assert embedder.count_tokens([long])[0] > embedder.max_tokens == 256
    assert embedder.count_tokens(["Hello world"])[0] == 4  # [CLS] hello world [SEP]
    assert embedder.describe()["dimension"] == 384 and len(embedder.fingerprint) == 16
