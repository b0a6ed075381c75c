"""The --ray options that `indexer rebuild` and `indexer add` share, and the setting they make."""

from __future__ import annotations

import click

from .cluster import ClusterConfig

RAY_OPTION = click.option(
    "--ray", default=None, metavar="ADDRESS|auto",
    help="Read, chunk and embed on a Ray cluster (its head's host:port); auto starts one of this machine, on "
         "loopback, and stops it after. The result equals a local build's")
RAY_EMBEDDERS_OPTION = click.option("--ray-embedders", type=click.IntRange(1, 10_000), default=None,
                                    help="Embedder actors (default: as many as the cluster's CPUs hold)")
RAY_CPUS_OPTION = click.option("--ray-cpus-per-embedder", type=click.FloatRange(0.1, 64), default=1.0,
                               show_default=True, help="CPUs each embedder takes (and its ONNX threads)")


def cluster_config(address: str | None, embedders: int | None, cpus: float) -> ClusterConfig | None:
    """The --ray options as the core's setting (None: a local build)."""
    return None if address is None else ClusterConfig(address, embedders, cpus)
