"""Shared fixtures: the real packaged model, the seeds index, and the shared data sets."""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is packaged; a hub lookup must fail loudly, not hang
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # test clusters name their nodes 127.0.0.1: loopback only

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"
REUTERS = SHARED_DATA / "reuters21578" / "reuters21578.jsonl.gz"


def require(path: Path) -> Path:
    """Skip, saying what is missing, when a test needs ../shared/data and it is not beside the project."""
    if not path.exists():
        pytest.skip(f"{path} is missing: put the shared data folder beside the project as ../shared")
    return path


def reuters_stories(n: int) -> list[dict]:
    """The first n Reuters stories that have a body."""
    stories = []
    with gzip.open(require(REUTERS), "rt", encoding="utf-8") as handle:
        for line in handle:
            story = json.loads(line)
            if (story.get("body") or "").strip():
                stories.append(story)
                if len(stories) == n:
                    break
    return stories


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """A JSONL corpus file for a test."""
    with (gzip.open(path, "wt", encoding="utf-8") if path.suffix == ".gz" else path.open("w", encoding="utf-8")) as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
    return path


@contextmanager
def two_node_cluster() -> Iterator[Any]:
    """Two Ray nodes on this machine, 1 CPU each, on loopback, this process connected; shut down after (Serve
    included, when a test started it): a module's own cluster, never anyone else's."""
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    local = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1",
                                                           "include_dashboard": False})
    try:
        local.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        ray.init(address=local.address, include_dashboard=False, log_to_driver=False)
        yield local
    finally:
        try:
            if "ray.serve" in sys.modules:
                sys.modules["ray.serve"].shutdown()
        finally:
            ray.shutdown()
            local.shutdown()


def living_index(folder: Path, embedder) -> Path:
    """A living index of several segments with replacements and deletes: the seeds and 120 Reuters stories."""
    from indexer.build import BuildConfig, build_index
    from indexer.living import ArchiveWriter, writer_lock
    from indexer.sources import read_articles

    def write(adds=(), deletes=()) -> None:
        with writer_lock(index):
            ArchiveWriter(index, BuildConfig(index_dir=index, progress=False), embedder).apply(adds, deletes)

    def articles(name: str, records: list[dict]) -> list:
        return [a for a in read_articles([write_jsonl(folder / name, records)]) if not hasattr(a, "reason")]

    stories = reuters_stories(120)
    index = folder / "index"
    build_index(BuildConfig(sources=(write_jsonl(folder / "base.jsonl", stories[:60]), SEEDS), index_dir=index,
                            progress=False), embedder=embedder)
    write(adds=articles("more.jsonl", stories[60:84]))
    changed = [dict(s, body=s["body"] + "\nThe figures were revised on Friday.") for s in stories[70:73]]
    write(adds=articles("later.jsonl", stories[84:104] + changed))
    write(deletes=[str(s["id"]) for s in stories[3:6]])
    write(adds=articles("last.jsonl", stories[104:120]))
    return index


@pytest.fixture(scope="session")
def living(tmp_path_factory, embedder) -> Path:
    """The living index of `living_index`, built once a session; a test that writes to it copies it first."""
    return living_index(tmp_path_factory.mktemp("living"), embedder)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """Where the session exports the packaged model to ONNX, once."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder(model_cache: Path):
    """The production embedder: all-MiniLM-L6-v2 exported to ONNX in the variant `auto` picks on this CPU."""
    from indexer.build import BuildConfig, load_embedder

    return load_embedder(BuildConfig(index_dir=model_cache))


@pytest.fixture(scope="session")
def torch_embedder():
    """The reference: the packaged model through sentence-transformers and torch fp32."""
    from search.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory, embedder) -> Path:
    """An index of the two seed articles, built once."""
    from indexer.build import BuildConfig, build_index

    index_dir = tmp_path_factory.mktemp("seeds-index")
    build_index(BuildConfig(sources=(SEEDS,), index_dir=index_dir, progress=False), embedder=embedder)
    return index_dir


@pytest.fixture(scope="module")
def app(seeds_index: Path, embedder):
    """The Flask app over the seeds index, sharing the session's model (the Flask tutorial's fixture)."""
    from web import create_app

    app = create_app({"INDEX": seeds_index, "TESTING": True, "EMBEDDER": embedder})
    yield app
    app.extensions["newsclip"].close()


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()
