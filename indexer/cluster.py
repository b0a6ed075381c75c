"""Preparing a build's articles on a Ray cluster: every node reads, chunks, embeds and tokenizes; the driver writes.

Ray Data reads the listed files with the project's own readers (one task per file, streaming), then an actor pool of
embedders prepares batches of articles (`indexer.prepare`), each actor loading once the model the driver exported
and shipped, so every node embeds with the same variant. The stream comes back in input order
(`preserve_order`), and the driver writes it exactly as a local build writes its own batches: same articles, rows,
BM25 and vectors (within what the CPU's arithmetic changes).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from search.embed import Embedder, OnnxEmbedder, SentenceTransformerEmbedder
from search.errors import BuildError
from search.models import Article

from .chunking import ChunkConfig
from .embedcache import EmbedStats
from .prepare import PreparedArticle, prepare
from .sources import Problem, read_file
from .sources.base import file_info

LOCAL = "auto"  # --ray auto: a cluster of this machine alone, started for the command and stopped after it


class ClusterError(BuildError):
    """The cluster could not be reached or started, or it failed the build."""


@dataclass(frozen=True)
class ClusterConfig:
    """Where the cluster is and how much of it the embedders take."""

    address: str = LOCAL
    embedders: int | None = None  # actors in the pool; None: one per `cpus_per_embedder` of the cluster's CPUs
    cpus_per_embedder: float = 1.0  # also its ONNX threads, rounded (at least 1)
    read_cpus: float = 0.25  # what reading tasks keep: two embedders at 1 CPU on 2 CPUs starve them (a hang)


@dataclass(frozen=True)
class Listed:
    """A file the walk listed, as a reading task gets it (an object, never turned into Arrow columns)."""

    path: Path
    fmt: str
    root: Path


@dataclass(frozen=True)
class FileRead:
    """A source file was opened: what the manifest lists for it."""

    info: dict[str, Any]


@dataclass(frozen=True)
class Ready:
    """One article read from the sources, prepared or skipped with its reason."""

    article_id: str
    origin: str
    item: PreparedArticle | Problem


@dataclass(frozen=True)
class BatchDone:
    """One embedder batch's counts and stage times, for the build's summary."""

    stats: dict[str, EmbedStats]
    timings: dict[str, float]
    node: str  # the Ray node that prepared it


Event = FileRead | Problem | Ready | BatchDone


LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray names every node 127.0.0.1 (read when ray is imported)


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on an address nothing answers at: Ray itself retries for minutes."""
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {address!r}: {exc}") from exc


@contextmanager
def connected(config: ClusterConfig) -> Iterator[dict[str, Any]]:
    """Connect to the cluster at config.address (host:port of its head), or start one of this machine (`auto`)
    that listens on loopback only, and stop it after."""
    if config.address == LOCAL and "ray" not in sys.modules:
        os.environ.setdefault(LOOPBACK_ONLY, "0")  # else Ray swaps 127.0.0.1 for the machine's own address
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is a dependency; a broken install says so
        raise ClusterError(f"--ray needs the ray package: {exc}") from exc
    if ray.is_initialized():  # a caller (a test, a notebook) is already connected: use it, leave it running
        yield dict(ray.cluster_resources())
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if config.address == LOCAL:
            # "local": always a new cluster, even when RAY_ADDRESS (set by a parent connected to one) names another
            ray.init(address="local", num_cpus=os.cpu_count() or 1, _node_ip_address="127.0.0.1", **kwargs)
        else:
            _reachable(config.address)
            ray.init(address=config.address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {config.address!r}: {exc}") from exc
    try:
        yield dict(ray.cluster_resources())
    finally:
        ray.shutdown()  # for `auto`, this stops the processes ray.init started, and only those


def model_payload(embedder: Embedder) -> dict[str, Any]:
    """What an embedder on another node needs to embed exactly as `embedder` does: the exported files themselves
    (the driver pins the variant: `auto` would pick int8 or fp32 per node and mix vectors), or the torch model's
    name."""
    folder = getattr(embedder, "folder", None)
    if folder is None:
        if isinstance(embedder, SentenceTransformerEmbedder):
            return {"torch": embedder.describe()["name"]}
        raise ClusterError(f"cannot ship {type(embedder).__name__} to a cluster")
    folder = Path(folder)
    files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    return {"files": files, "fingerprint": embedder.fingerprint}


def load_shipped(payload: dict[str, Any], threads: int) -> Embedder:
    """The shipped model, written once to this node's temporary folder and loaded."""
    if "torch" in payload:
        return SentenceTransformerEmbedder(payload["torch"], threads=threads)
    folder = Path(tempfile.mkdtemp(prefix="newsclip-model-"))
    for name, data in payload["files"].items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    embedder = OnnxEmbedder(folder, threads=threads)
    if embedder.fingerprint != payload["fingerprint"]:
        raise ClusterError(f"the shipped model arrived as {embedder.fingerprint}, not {payload['fingerprint']}")
    return embedder


READ_CHUNK = 32  # events a reading task hands on at a time: a file of any size streams, never whole in memory


def _column(events: list[Any]) -> dict[str, np.ndarray]:
    column = np.empty(len(events), dtype=object)
    column[:] = events
    return {"event": column}


def _file_events(item: Any, max_bytes: int) -> Iterator[Any]:
    """One listed item's events in order: a walk's problem as it is; for a file, the file, then its articles and
    problems."""
    if isinstance(item, Problem):
        yield item
        return
    path, fmt, root = item.path, item.fmt, item.root
    try:
        info = file_info(path, fmt)
    except OSError as exc:
        yield Problem(str(path), f"cannot read: {exc}", True)
        return
    yield FileRead(info)
    yield from read_file(path, fmt, root=root, max_bytes=max_bytes)


def read_events(batch: dict[str, np.ndarray], max_bytes: int) -> Iterator[dict[str, np.ndarray]]:
    """A Ray Data reading task: the listed items' events, READ_CHUNK at a time (a generator: Ray streams it)."""
    chunk: list[Any] = []
    for item in batch["item"]:
        for event in _file_events(item, max_bytes):
            chunk.append(event)
            if len(chunk) >= READ_CHUNK:
                yield _column(chunk)
                chunk = []
    if chunk:
        yield _column(chunk)


class Embedders:
    """A Ray Data actor: loads the shipped model once, then prepares each batch of events' articles."""

    def __init__(self, payload: list[Any], chunking: ChunkConfig, batch_size: int, threads: int) -> None:
        import ray

        self.embedder = load_shipped(ray.get(payload[0]), threads)
        self.chunking, self.batch_size = chunking, batch_size
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        events = list(batch["event"])
        articles = [e for e in events if isinstance(e, Article)]
        prepared = prepare(articles, self.embedder, self.chunking, None, self.batch_size)
        items = iter(prepared.items)
        out: list[Any] = [Ready(e.id, e.origin, next(items)) if isinstance(e, Article) else e for e in events]
        out.append(BatchDone(prepared.stats, prepared.timings, self.node))
        return _column(out)


BLOCK_BYTES = 64 * 1024  # a read file's articles go on in blocks of about this size (~30 stories): one big JSONL
# file is one read task, and Ray Data hands one block to one embedder, so its default 128 MiB blocks would leave all
# but one embedder idle


@contextmanager
def _ordered_quiet_data() -> Iterator[None]:
    """Ray Data keeps input order, cuts small blocks and prints no progress bars of its own while a build runs."""
    from ray.data import DataContext

    context = DataContext.get_current()
    saved = (context.execution_options.preserve_order, context.enable_progress_bars, context.target_max_block_size)
    context.execution_options.preserve_order, context.enable_progress_bars = True, False
    context.target_max_block_size = BLOCK_BYTES
    logger = logging.getLogger("ray.data")  # not its notes on pickling object columns: they are objects by design
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        (context.execution_options.preserve_order, context.enable_progress_bars,
         context.target_max_block_size) = saved
        logger.setLevel(level)


def pool_size(config: ClusterConfig, resources: dict[str, Any]) -> tuple[int, float]:
    """(embedders, the CPUs Ray reserves for each): as many as the cluster's CPUs hold, each reserving what it
    computes with less a reading task's share, so that a read fits on every node beside an embedder (Ray's CPUs
    are a scheduling count, not a cap; a node full of embedders would never read: the build would hang)."""
    cpus = float(resources.get("CPU", 1))
    pool = config.embedders or max(1, int(cpus // config.cpus_per_embedder))
    return pool, round(max(0.05, config.cpus_per_embedder - config.read_cpus), 3)


def prepare_on_cluster(listed: Sequence[Any], embedder: Embedder, chunking: ChunkConfig, batch_articles: int,
                       batch_size: int, max_bytes: int, config: ClusterConfig,
                       resources: dict[str, Any]) -> Iterator[Event]:
    """The events of the listed sources in input order, read and prepared on the cluster.

    `listed` is what walk_sources lists: the walk's own problems (unknown formats, broken links) keep their place
    among the files, as in a local build; the files are read by the cluster, one block each."""
    import ray.data

    if not listed:
        return iter(())
    with _ordered_quiet_data():
        items = [item if isinstance(item, Problem) else Listed(*item) for item in listed]
        ds = ray.data.from_items([{"item": item} for item in items], override_num_blocks=len(items))
        ds = ds.map_batches(read_events, batch_size=1, batch_format="numpy", fn_kwargs={"max_bytes": max_bytes},
                            num_cpus=config.read_cpus)
    return _prepared(ds, embedder, chunking, batch_articles, batch_size, config, resources)


def prepare_articles_on_cluster(articles: Sequence[Article], embedder: Embedder, chunking: ChunkConfig,
                                batch_articles: int, batch_size: int, config: ClusterConfig,
                                resources: dict[str, Any]) -> Iterator[Event]:
    """The events of articles already read (an add's, from its journal), prepared on the cluster in their order."""
    import ray.data

    if not articles:
        return iter(())
    blocks = max(1, min(len(articles) // max(batch_articles, 1), 4 * pool_size(config, resources)[0]))
    with _ordered_quiet_data():
        ds = ray.data.from_items([{"event": a} for a in articles], override_num_blocks=blocks)
    return _prepared(ds, embedder, chunking, batch_articles, batch_size, config, resources)


def _prepared(ds: Any, embedder: Embedder, chunking: ChunkConfig, batch_articles: int, batch_size: int,
              config: ClusterConfig, resources: dict[str, Any]) -> Iterator[Event]:
    """A dataset of events through the pool of embedders, streamed back in order."""
    import ray

    pool, reserved = pool_size(config, resources)
    threads = max(1, round(config.cpus_per_embedder))
    # the model goes into the object store once; the actors get a reference inside a list (left as a reference, and
    # kept alive by this generator while the pool may still restart an actor)
    payload = ray.put(model_payload(embedder))
    with _ordered_quiet_data():
        ds = ds.map_batches(
            Embedders, batch_size=batch_articles, batch_format="numpy", num_cpus=reserved,
            compute=ray.data.ActorPoolStrategy(size=pool), scheduling_strategy="SPREAD",  # over every node
            fn_constructor_kwargs={"payload": [payload], "chunking": chunking, "batch_size": batch_size,
                                   "threads": threads},
        )
        try:
            for row in ds.iter_rows():
                yield row["event"]
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"the cluster failed to prepare the articles: {exc}") from exc
