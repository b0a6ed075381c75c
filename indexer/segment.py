"""Writing one segment: a batch of articles chunked, embedded and indexed into a folder of a build's files.

The folder is filled under a temporary name, its manifest (with every file's checksum) written last and fsynced,
then renamed into place: a segment is complete or absent. It is embedded with the build's own shipped model, so
its vectors and the build's are comparable.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from search.commit import SEGMENTS
from search.embed import Embedder
from search.layout import CACHE, FORMAT_VERSION, MANIFEST, fsync_dir
from search.models import Article
from search.text import ANALYZER_SETTINGS

from .build import EMBED_CACHE, BuildConfig, _batches
from .sink import Sink, stage, write_events
from .cluster import connected, prepare_articles_on_cluster
from .embedcache import EmbeddingCache
from .publish import checksums


def write_segment(build_dir: Path, name: str, articles: list[Article], embedder: Embedder, config: BuildConfig,
                  index_dir: Path) -> tuple[str, dict[str, Any]]:
    """Index `articles` (non-empty) into `segments/<name>` of the build; returns its relative path and manifest."""
    root = build_dir / SEGMENTS
    root.mkdir(exist_ok=True)
    tmp = root / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    timings: dict[str, float] = {}
    problems: list = []
    cache = EmbeddingCache(index_dir / CACHE / EMBED_CACHE, embedder.dimension)
    sink = Sink(tmp, embedder, replace(config, progress=False))
    try:
        if config.ray is not None:  # `indexer add --ray`: prepared on the cluster, written here in order
            with stage(timings, "cluster"), connected(config.ray) as resources:
                events = prepare_articles_on_cluster(articles, embedder, config.chunking, config.batch_articles,
                                                     config.batch_size, config.ray, resources)
                write_events(events, sink, timings, problems)
        else:
            for batch in _batches(iter(articles), config.batch_articles):
                sink.add(batch, cache, timings, problems)
        bm25, dense_info = sink.finish(tmp, timings)
        manifest = {
            "format_version": FORMAT_VERSION,
            "build_id": name,
            "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "model": embedder.describe(),
            "analyzer": ANALYZER_SETTINGS,
            "chunking": {**asdict(config.chunking), "max_tokens": embedder.max_tokens, "title_in_passages": True},
            "bm25": {**asdict(config.bm25), **bm25.stats()},
            "dense": dense_info,
            "counts": {"articles": sink.articles, "passages": sink.passages, "sentences": sink.sentences,
                       "quotes": sink.quotes.count, "skipped": 0, "problems": len(problems)},
            "quotes": sink.quote_info,
            "timings": timings,
            "files": checksums(tmp),
        }
        with open(tmp / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        fsync_dir(tmp)
        os.replace(tmp, root / name)
        fsync_dir(root)
    except BaseException:
        sink.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        cache.close()
    return f"{SEGMENTS}/{name}", manifest
